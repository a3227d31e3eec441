//! Storage tests that need no server: opening, migrations, refusals.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mamori_storage::{Store, StoreError, network_filesystem};

#[tokio::test]
async fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    s.close().await;
    // Opening again applies nothing new and keeps the data.
    let s = Store::open_data_dir(dir.path()).await.unwrap();
    assert_eq!(s.count_users().await.unwrap(), 0);
    sqlx::query("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')")
        .execute(s.pool())
        .await
        .unwrap();
    s.close().await;
    match Store::open_data_dir(dir.path()).await {
        Err(StoreError::SchemaTooNew { found: 9999, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn local_disk_is_not_a_network_filesystem() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(network_filesystem(dir.path()), None);
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let e = Store::open_data_dir(&file.join("sub")).await.unwrap_err();
    assert!(matches!(e, StoreError::DataDir { .. }), "{e}");
    assert!(e.to_string().contains("not-a-dir"), "{e}");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    assert!(matches!(
        Store::open_url("mysql://x/y").await,
        Err(StoreError::UnsupportedUrl)
    ));
}
