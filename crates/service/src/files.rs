//! Files attached to ledger records: the file of a vendor document (MDS/SDS, contract, SLA …)
//! and of a facility document (運用管理規程, BCP, a drill's or restore test's record …).
//! The server computes the SHA-256 and writes it with the file name into the record; every
//! uploaded version is kept (never deleted), with a history entry and one audit event committed
//! together with the file.

use crate::authz::{Cap, perm};
use crate::error::{ServiceError, ServiceResult};
use crate::ledger::changes_json;
use crate::{ClientInfo, Services};
use mamori_domain::ledger::{FacilityDocument, VendorDocument};
use mamori_domain::registry::{Record, RegistryKind, changes};
use mamori_storage::ledger::{self, FileRow};
use mamori_storage::registry as store_registry;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The largest file accepted: 20 MiB (an MDS/SDS or a contract as PDF is far smaller).
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// Whether records of `kind` take files.
pub fn takes_files(kind: RegistryKind) -> bool {
    matches!(kind, RegistryKind::VendorDocument | RegistryKind::Document)
}

/// A record that names its file: the file name and SHA-256 the server writes on upload.
trait Attachable: Record + Clone {
    fn set_file(&mut self, name: String, sha256: String);
    fn recorded_sha256(&self) -> &str;
}

impl Attachable for VendorDocument {
    fn set_file(&mut self, name: String, sha256: String) {
        self.file_name = name;
        self.sha256 = sha256;
    }
    fn recorded_sha256(&self) -> &str {
        &self.sha256
    }
}

impl Attachable for FacilityDocument {
    fn set_file(&mut self, name: String, sha256: String) {
        self.file_name = name;
        self.sha256 = sha256;
    }
    fn recorded_sha256(&self) -> &str {
        &self.sha256
    }
}

/// A file as uploaded.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The name the browser sent (may carry a path; it is cleaned).
    pub name: String,
    pub bytes: Vec<u8>,
    /// Replace a SHA-256 typed into the record by hand even though the file's differs.
    pub replace_typed_hash: bool,
}

/// How the uploaded file compares with the SHA-256 the record held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCheck {
    /// No hash was recorded, or it was the hash of an earlier upload (a new version).
    Recorded,
    /// The hash typed into the record matches the file.
    Matched,
    /// The typed hash differed; it was replaced because the user confirmed it.
    Replaced,
}

/// A stored upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub file_id: i64,
    pub sha256: String,
    pub check: HashCheck,
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The file name to keep: the last path component, without control characters or characters
/// Windows refuses, at most 200 characters; `file` when nothing is left.
pub fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '*' | ':' | '<' | '>' | '?' | '|'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned.to_string()
    }
}

/// The content type a file is served with, by its extension, from a short list of document
/// types; anything else (HTML, scripts, SVG …) is served as `application/octet-stream`.
pub fn content_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "doc" => "application/msword",
        "csv" => "text/csv; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

impl Services {
    /// Stores a new version of a vendor document's file and writes its name and SHA-256 into
    /// the record, with a history entry and one audit event, in one transaction.
    ///
    /// Refused (nothing written): an empty file (`LED0030`), a file over [`MAX_FILE_BYTES`]
    /// (`LED0031`), the same bytes as the latest version (`LED0033`), and — unless
    /// `replace_typed_hash` — a file whose SHA-256 differs from one typed into the record by
    /// hand (a recorded hash that is no earlier upload's): [`ServiceError::HashMismatch`].
    pub async fn attach_document_file(
        &self,
        cap: &Cap<perm::EditLedger>,
        kind: RegistryKind,
        id: i64,
        upload: Upload,
        client: &ClientInfo,
    ) -> ServiceResult<Attached> {
        match kind {
            RegistryKind::VendorDocument => {
                self.attach::<VendorDocument>(cap, id, upload, client).await
            }
            RegistryKind::Document => {
                self.attach::<FacilityDocument>(cap, id, upload, client)
                    .await
            }
            _ => Err(ServiceError::NotFound),
        }
    }

    async fn attach<R: Attachable>(
        &self,
        cap: &Cap<perm::EditLedger>,
        id: i64,
        upload: Upload,
        client: &ClientInfo,
    ) -> ServiceResult<Attached> {
        let invalid = |code| ServiceError::Invalid {
            code,
            field: "file",
        };
        if upload.bytes.is_empty() {
            return Err(invalid("LED0030"));
        }
        if upload.bytes.len() > MAX_FILE_BYTES {
            return Err(invalid("LED0031"));
        }
        let kind = R::KIND.as_str();
        let before = self
            .store
            .record::<R>(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let Upload {
            name,
            bytes,
            replace_typed_hash,
        } = upload;
        let (sha256, bytes) = tokio::task::spawn_blocking(move || (sha256_hex(&bytes), bytes))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let earlier = self.store.files(kind, id).await?;
        if earlier.first().is_some_and(|f| f.sha256 == sha256) {
            return Err(invalid("LED0033"));
        }
        let recorded = before.recorded_sha256().to_string();
        let typed = !recorded.is_empty() && !earlier.iter().any(|f| f.sha256 == recorded);
        let check = if recorded == sha256 {
            HashCheck::Matched
        } else if typed {
            if !replace_typed_hash {
                return Err(ServiceError::HashMismatch {
                    recorded,
                    uploaded: sha256,
                });
            }
            HashCheck::Replaced
        } else {
            HashCheck::Recorded
        };
        let name = clean_file_name(&name);
        let mut after = before.clone();
        after.set_file(name.clone(), sha256.clone());
        let changed = changes(&before, &after);
        let actor = cap.actor().label();
        let now = self.now_ms();
        let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let row = FileRow {
            id: 0,
            name: name.clone(),
            content_type: content_type_for(&name).to_string(),
            sha256: sha256.clone(),
            size,
            at_ms: now,
            actor: actor.clone(),
        };
        let mut w = self.store.write().await?;
        let file_id = ledger::insert_file(&mut w, kind, id, &row, bytes).await?;
        if !store_registry::update(&mut w, &after).await? {
            return Err(ServiceError::NotFound);
        }
        ledger::insert_history(
            &mut w,
            kind,
            id,
            now,
            &actor,
            "file_uploaded",
            &changes_json(&changed),
        )
        .await?;
        self.audit(
            &mut w,
            &actor,
            &client.source,
            "ledger.file_uploaded",
            &format!("{kind}:{id}"),
            json!({
                "file": file_id,
                "name": name,
                "size": size,
                "sha256": sha256,
                "version": earlier.len() + 1,
                "replaced_typed_hash": check == HashCheck::Replaced,
            }),
        )
        .await?;
        w.commit().await?;
        Ok(Attached {
            file_id,
            sha256,
            check,
        })
    }

    /// The files of a record, newest first (without their bytes).
    pub async fn record_files(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        kind: RegistryKind,
        id: i64,
    ) -> ServiceResult<Vec<FileRow>> {
        if !takes_files(kind) {
            return Ok(Vec::new());
        }
        Ok(self.store.files(kind.as_str(), id).await?)
    }

    /// One file of a record with its bytes.
    pub async fn record_file(
        &self,
        _cap: &Cap<perm::ViewLedger>,
        kind: RegistryKind,
        id: i64,
        file_id: i64,
    ) -> ServiceResult<(FileRow, Vec<u8>)> {
        if !takes_files(kind) {
            return Err(ServiceError::NotFound);
        }
        self.store
            .file(kind.as_str(), id, file_id)
            .await?
            .ok_or(ServiceError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_unsafe_characters() {
        assert_eq!(clean_file_name("C:\\fakepath\\MDS_v2.pdf"), "MDS_v2.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("a\"b\r\n.pdf"), "ab.pdf");
        assert_eq!(clean_file_name("..."), "file");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(
            clean_file_name("開示書（第2版）.pdf"),
            "開示書（第2版）.pdf"
        );
        assert_eq!(clean_file_name(&"あ".repeat(300)).chars().count(), 200);
    }

    #[test]
    fn only_document_types_keep_their_content_type() {
        assert_eq!(content_type_for("x.PDF"), "application/pdf");
        assert_eq!(content_type_for("x.html"), "application/octet-stream");
        assert_eq!(content_type_for("x.svg"), "application/octet-stream");
        assert_eq!(content_type_for("noext"), "application/octet-stream");
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
