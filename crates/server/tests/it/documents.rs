//! The file of a vendor document (MDS/SDS, contract …) or of a facility document (規程・計画・記録):
//! the server computes its SHA-256 and
//! writes it with the file name into the record (history + one audit event, same transaction),
//! keeps every version, and serves them as attachments only. A hash typed by hand that the file
//! does not match is reported; bad uploads are named at the field and write nothing.

use mamori_domain::ledger::VendorDocument;
use mamori_domain::role::Role;
use mamori_service::files::{MAX_FILE_BYTES, sha256_hex};
use mamori_testkit::{Client, Page, TestServer};

/// A server with an administrator's client, one vendor and one vendor document (`sha256`
/// typed in, or empty). Returns the document's id.
async fn with_document(sha256: &str) -> (TestServer, Client, i64) {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let id = add_document(&mut c, "電子カルテ MDS", sha256).await;
    (s, c, id)
}

async fn add_document(c: &mut Client, title: &str, sha256: &str) -> i64 {
    let p = c.get("/ledger/vendors/1").await;
    if p.status == 404 {
        let p = c
            .post(
                "/ledger/vendors",
                &[("name", "株式会社メディネクスト"), ("status", "active")],
            )
            .await;
        assert_eq!(p.status, 303, "{}", p.body);
    }
    let p = c
        .post(
            "/ledger/vendor_documents",
            &[
                ("vendor", "1"),
                ("doc_type", "mds"),
                ("title", title),
                ("version", "2.1"),
                ("sha256", sha256),
                ("current", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let to = p.location.unwrap();
    assert!(
        to.ends_with("?ok=record_saved_add_file#file"),
        "a new document continues at its upload: {to}"
    );
    to.trim_start_matches("/ledger/vendor_documents/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn upload(
    c: &mut Client,
    id: i64,
    name: &str,
    bytes: &[u8],
    fields: &[(&str, &str)],
) -> Page {
    c.post_multipart(
        &format!("/ledger/vendor_documents/{id}/files"),
        fields,
        Some(("file", name, bytes.to_vec())),
    )
    .await
}

/// What an upload may write: audit events, file rows, the record.
async fn written(s: &TestServer, id: i64) -> (i64, usize, VendorDocument) {
    (
        s.svc.store.audit_count().await.unwrap(),
        s.svc
            .store
            .files("vendor_document", id)
            .await
            .unwrap()
            .len(),
        s.svc
            .store
            .record::<VendorDocument>(id)
            .await
            .unwrap()
            .unwrap(),
    )
}

#[tokio::test]
async fn a_vendor_documents_file_is_hashed_versioned_and_downloaded() {
    let (s, mut c, id) = with_document("").await;
    let page = format!("/ledger/vendor_documents/{id}");
    let p = c.get(&page).await;
    assert!(
        p.has("ファイルはまだアップロードされていません"),
        "{}",
        p.body
    );
    assert!(p.has(&format!(
        "action=\"{page}/files\" enctype=\"multipart/form-data\""
    )));
    assert!(p.has("上限 20 MB"));
    let (audits, files, _) = written(&s, id).await;
    assert_eq!(files, 0);

    // Upload: the browser's path is dropped, the hash is the server's, the record gets both.
    let v1 = b"%PDF-1.4 MDS version 2.1".to_vec();
    let p = upload(&mut c, id, "C:\\fakepath\\MDS 第2.1版.pdf", &v1, &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some(&*format!("{page}?ok=file_uploaded#file"))
    );
    let (audits_after, files, doc) = written(&s, id).await;
    assert_eq!(audits_after, audits + 1, "one audit event");
    assert_eq!(files, 1);
    assert_eq!(doc.sha256, sha256_hex(&v1));
    assert_eq!(doc.file_name, "MDS 第2.1版.pdf");
    let event = &s.svc.store.audit_events(1, 0).await.unwrap()[0];
    assert_eq!(event.action, "ledger.file_uploaded");
    assert!(event.detail.contains(&sha256_hex(&v1)), "{}", event.detail);
    let history = s.svc.store.history("vendor_document", id).await.unwrap();
    assert_eq!(history[0].action, "file_uploaded");
    assert!(history[0].changes.contains(&sha256_hex(&v1)));
    let p = c.get(&format!("{page}?ok=file_uploaded")).await;
    assert!(
        p.has("ファイルを登録しました") && p.has(&sha256_hex(&v1)),
        "{}",
        p.body
    );
    assert!(p.has("記録のSHA-256") && p.has("ファイルのアップロード"));

    // Download: an attachment with the exact name in RFC 5987 form, never sniffed.
    let file_id = s.svc.store.files("vendor_document", id).await.unwrap()[0].id;
    let r = c
        .http
        .get(format!("{}{page}/files/{file_id}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let h = r.headers().clone();
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment; filename=\""), "{cd}");
    assert!(
        cd.contains("filename*=UTF-8''MDS%20%E7%AC%AC2.1%E7%89%88.pdf"),
        "{cd}"
    );
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(r.bytes().await.unwrap().to_vec(), v1);

    // A second version (HTML, as a hostile vendor might send) is kept beside the first and is
    // served as a download of bytes, sandboxed, never as a page.
    let v2 = b"<html><script>alert(1)</script></html>".to_vec();
    let p = upload(&mut c, id, "<b>mds v2</b>.html", &v2, &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let rows = s.svc.store.files("vendor_document", id).await.unwrap();
    assert_eq!(rows.len(), 2, "versions are kept");
    let r = c
        .http
        .get(format!("{}{page}/files/{}", c.base, rows[0].id))
        .send()
        .await
        .unwrap();
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), v2);
    let old = c
        .http
        .get(format!("{}{page}/files/{file_id}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.bytes().await.unwrap().to_vec(),
        v1,
        "the first version is still there"
    );
    let p = c.get(&page).await;
    assert!(p.has(&sha256_hex(&v1)) && p.has(&sha256_hex(&v2)));

    // The same bytes as the latest version again: said, nothing written.
    let before = written(&s, id).await;
    let p = upload(&mut c, id, "again.html", &v2, &[]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("LED0033") && p.has("最新の版と同じ"), "{}", p.body);
    assert_eq!(written(&s, id).await, before);

    // Files are reached only through their own record and registry.
    let other = add_document(&mut c, "保守契約書", "").await;
    for url in [
        format!("/ledger/vendor_documents/{other}/files/{file_id}"),
        format!("/ledger/assets/{id}/files/{file_id}"),
        format!("/ledger/vendor_documents/{id}/files/999999"),
    ] {
        assert_eq!(c.get(&url).await.status, 404, "{url}");
    }

    // An auditor downloads but cannot upload, and sees no upload form.
    let auditor = s.add_user("kansa", Role::Auditor).await;
    let mut a = s.login(&auditor).await;
    assert_eq!(a.get(&format!("{page}/files/{file_id}")).await.status, 200);
    let p = a.get(&page).await;
    assert!(p.has(&format!("{page}/files/{file_id}")) && !p.has("multipart/form-data"));
    let before = written(&s, id).await;
    assert_eq!(upload(&mut a, id, "x.pdf", b"x", &[]).await.status, 403);
    assert_eq!(written(&s, id).await, before);
}

#[tokio::test]
async fn a_typed_sha256_the_file_does_not_match_is_reported_before_anything_is_written() {
    let announced = sha256_hex(b"the file the vendor announced");
    let (s, mut c, id) = with_document(&announced).await;
    let before = written(&s, id).await;

    let other = b"a different file".to_vec();
    let p = upload(&mut c, id, "SDS.pdf", &other, &[]).await;
    assert_eq!(p.status, 400);
    assert!(p.has("LED0032") && p.has("一致しません"), "{}", p.body);
    assert!(
        p.has(&announced) && p.has(&sha256_hex(&other)),
        "both hashes are shown"
    );
    assert!(
        p.has("name=\"replace_hash\""),
        "the page offers to replace the typed hash"
    );
    assert_eq!(written(&s, id).await, before, "nothing written");

    // Confirmed: stored, and the replaced value stays in the history.
    let p = upload(&mut c, id, "SDS.pdf", &other, &[("replace_hash", "on")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.unwrap().contains("ok=file_uploaded_replaced"));
    let (_, files, doc) = written(&s, id).await;
    assert_eq!((files, doc.sha256.as_str()), (1, &*sha256_hex(&other)));
    let h = &s.svc.store.history("vendor_document", id).await.unwrap()[0];
    assert!(h.changes.contains(&announced) && h.changes.contains(&sha256_hex(&other)));
    let p = c
        .get(&format!(
            "/ledger/vendor_documents/{id}?ok=file_uploaded_replaced"
        ))
        .await;
    assert!(p.has("置き換えました"));

    // A later version replaces an uploaded hash without asking: only typed values are guarded.
    let p = upload(&mut c, id, "SDS-v2.pdf", b"version two", &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);

    // A typed hash the file matches is confirmed.
    let right = b"the file the vendor announced".to_vec();
    let id2 = add_document(&mut c, "SLA", &announced).await;
    let p = upload(&mut c, id2, "SLA.pdf", &right, &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.unwrap().contains("ok=file_uploaded_matched"));
    let p = c
        .get(&format!(
            "/ledger/vendor_documents/{id2}?ok=file_uploaded_matched"
        ))
        .await;
    assert!(p.has("入力済みのSHA-256と一致しました"));
}

#[tokio::test]
async fn bad_uploads_name_the_field_and_write_nothing() {
    let (s, mut c, id) = with_document("").await;
    let path = format!("/ledger/vendor_documents/{id}/files");
    let before = written(&s, id).await;

    // An empty file, no file at all, a file one byte over the cap: the page names the field.
    let p = upload(&mut c, id, "empty.pdf", b"", &[]).await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("ファイル: ファイルが空です") && p.has("LED0030"),
        "{}",
        p.body
    );
    let p = c.post_multipart(&path, &[("note", "x")], None).await;
    assert_eq!(p.status, 400);
    assert!(
        p.has("ファイル: ファイルを選んでください") && p.has("LED0034"),
        "{}",
        p.body
    );
    let big = vec![b'a'; MAX_FILE_BYTES + 1];
    let p = upload(&mut c, id, "big.pdf", &big, &[]).await;
    assert_eq!(p.status, 413);
    assert!(
        p.has("ファイル: ファイルが大きすぎます（上限 20 MB）") && p.has("LED0031"),
        "{}",
        p.body
    );

    // A body far over the route's limit: refused while reading (the client may see the
    // connection closed instead of the page).
    let huge = vec![b'a'; MAX_FILE_BYTES + 2 * 1024 * 1024];
    let form = reqwest::multipart::Form::new()
        .text("_csrf", c.csrf.clone().unwrap())
        .part(
            "file",
            reqwest::multipart::Part::bytes(huge).file_name("huge.pdf"),
        );
    if let Ok(r) = c
        .http
        .post(format!("{}{path}", c.base))
        .multipart(form)
        .send()
        .await
    {
        assert_eq!(r.status().as_u16(), 413);
        assert!(r.text().await.unwrap_or_default().contains("LED0031"));
    }

    // Not a multipart form; no CSRF token; another site: refused with their codes.
    let p = c.post(&path, &[("file", "x")]).await;
    assert_eq!(p.status, 415);
    assert!(p.has("REQ0002"));
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.pdf"),
    );
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("CSRF0001"));
    let form = reqwest::multipart::Form::new()
        .text("_csrf", c.csrf.clone().unwrap())
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.pdf"),
        );
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .header("origin", "https://evil.example")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("CSRF0002"));

    // Registries without files, and records that do not exist.
    assert_eq!(
        c.post_multipart(
            "/ledger/assets/1/files",
            &[],
            Some(("file", "x.pdf", b"x".to_vec()))
        )
        .await
        .status,
        404
    );
    assert_eq!(
        upload(&mut c, 999_999, "x.pdf", b"x", &[]).await.status,
        404
    );

    assert_eq!(written(&s, id).await, before, "nothing was written");
}

#[tokio::test]
async fn a_facility_documents_file_is_kept_the_same_way() {
    let (s, admin) = TestServer::with_admin().await;
    let mut c = s.login(&admin).await;
    let mut doc = mamori_domain::ledger::FacilityDocument::blank(
        mamori_domain::ledger::DocKind::OperatingRules,
    );
    doc.title = "運用管理規程".into();
    let mut w = s.svc.store.write().await.unwrap();
    let id = mamori_storage::registry::insert(&mut w, &doc)
        .await
        .unwrap();
    w.commit().await.unwrap();
    let page = format!("/ledger/documents/{id}");
    let p = c.get(&page).await;
    assert!(p.has(&format!("action=\"{page}/files\"")), "upload form");
    let bytes = b"%PDF-1.7 operating rules".to_vec();
    let p = c
        .post_multipart(
            &format!("{page}/files"),
            &[],
            Some(("file", "運用管理規程_第3版.pdf", bytes.clone())),
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let stored: mamori_domain::ledger::FacilityDocument =
        s.svc.store.record(id).await.unwrap().unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    assert_eq!(stored.file_name, "運用管理規程_第3版.pdf");
    let files = s.svc.store.files("document", id).await.unwrap();
    assert_eq!(files.len(), 1);
    let r = c
        .http
        .get(format!("{}{page}/files/{}", c.base, files[0].id))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);
}
