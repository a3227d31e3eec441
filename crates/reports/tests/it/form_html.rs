//! The print HTML of the checklist form: escaped, self-contained, every item, marks circled.

use crate::sample;
use mamori_reports::checklist::html;

#[test]
fn html_escapes_script_in_remarks() {
    let page = html(&sample::form());
    assert!(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(!page.contains("<script"), "no script element may appear");
    let mut form = sample::form();
    form.facility = "A&B \"</style><script>x</script>".into();
    let page = html(&form);
    assert!(!page.contains("<script"), "{page}");
    assert!(
        !page.contains("</style><"),
        "the @page strings cannot close the style"
    );
    assert!(page.contains("A&amp;B &quot;&lt;/style&gt;"));
}

#[test]
fn html_is_a_self_contained_a4_document() {
    let page = html(&sample::form());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.trim_end().ends_with("</html>"));
    assert!(page.contains("<html lang=\"ja\">"));
    assert!(page.contains("size: A4 portrait"));
    for external in ["http://", "https://", " src=", "<link", "@import", "url("] {
        assert!(!page.contains(external), "external resource: {external}");
    }
    // Hash and fingerprint in the page margins and in the document.
    let form = sample::form();
    assert!(page.contains("@bottom-left"));
    assert_eq!(page.matches(form.content_hash.as_str()).count(), 2);
    assert_eq!(page.matches(form.key_fingerprint.as_str()).count(), 2);
    assert!(page.contains("counter(page)") && page.contains("counter(pages)"));
    // The appendix starts on a new page.
    assert!(page.contains("<section class=\"appendix\">"));
    assert!(page.contains(".appendix { break-before: page;"));
}

#[test]
fn html_has_every_item_and_the_circled_mark() {
    let form = sample::form();
    let page = html(&form);
    for row in &form.rows {
        assert!(
            page.contains(&format!("id=\"item-{}\"", row.id)),
            "{}",
            row.id
        );
        assert!(
            page.contains(&format!("id=\"evidence-{}\"", row.id)),
            "{}",
            row.id
        );
    }
    assert!(page.contains("医療法人社団みどり会 さくら内科クリニック"));
    for head in ["チェック項目", "確認日", "目標日", "備考"] {
        assert!(page.contains(&format!(">{head}</th>")), "{head}");
    }
    // One heading row where the section changes.
    let changes = 1 + form
        .rows
        .windows(2)
        .filter(|w| w[0].section != w[1].section)
        .count();
    assert!(changes >= 4, "{changes}");
    let sections = page.matches("<tr class=\"section\">").count();
    assert_eq!(sections, changes);
    let row = |id: &str| {
        let start = page.find(&format!("id=\"item-{id}\"")).expect("row");
        let end = page[start..].find("</tr>").expect("row end");
        page[start..start + end].to_string()
    };
    let yes = row("1-①");
    assert!(
        yes.contains("<span class=\"mark chosen\">はい</span>"),
        "{yes}"
    );
    assert!(yes.contains("<span class=\"mark\">いいえ</span>"), "{yes}");
    assert!(yes.contains("令和7年10月1日"));
    let no = row("2-⑥");
    assert!(no.contains("<span class=\"mark\">はい</span>"), "{no}");
    assert!(
        no.contains("<span class=\"mark chosen\">いいえ</span>"),
        "{no}"
    );
    assert!(no.contains("令和8年3月31日"));
    let na = row("2-②");
    assert!(na.contains("記入不要") && !na.contains("chosen"), "{na}");
    let blank = row("2-⑭");
    assert!(!blank.contains("chosen"), "{blank}");
    let bad = row("2-⑤");
    assert!(page.contains("<tr class=\"item contradicted\" id=\"item-2-⑤\">"));
    assert!(bad.contains("回答と証拠が矛盾"), "{bad}");
    assert_eq!(page.matches("class=\"item contradicted\"").count(), 1);
    // The appendix: verdict label and facts as a list.
    assert!(page.contains("確認結果: 不適合"));
    assert!(page.contains("<li>90日以上使われていないアカウント 1件: 検査システム kensa-tmp</li>"));
}

#[test]
fn html_in_english_and_for_a_vendor() {
    let mut form = sample::form();
    form.subject = "株式会社メディシステム / 電子カルテ MX-7".into();
    for l in [
        &mut form.labels.item,
        &mut form.labels.confirmed_on,
        &mut form.labels.yes,
        &mut form.labels.no,
    ] {
        *l = "x".into();
    }
    let page = html(&form);
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("株式会社メディシステム / 電子カルテ MX-7"));
    assert!(page.contains("事業者名・システム名"));
}
