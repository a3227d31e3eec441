//! The only SQL in mamori: schema, migrations and queries, on embedded SQLite (default) or
//! PostgreSQL, through one code path (`sqlx::Any`) with portable SQL and `$n` placeholders.
//!
//! Times are stored as unix milliseconds (`BIGINT`), calendar dates as `YYYY-MM-DD` text.
//! SQLite runs in WAL mode with `synchronous=FULL` and foreign keys on; a commit is durable
//! when it returns. Writers are serialised in-process on SQLite (one writer at a time is what
//! SQLite allows anyway) so read-then-write transactions never fail with `SQLITE_BUSY`.

pub mod account_import;
pub mod account_reviews;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod break_glass;
pub mod checklist;
pub mod csv_profiles;
pub mod detection;
pub mod directory;
pub mod events;
pub mod facility;
pub mod incidents;
pub mod ledger;
mod migrate;
pub mod registry;
pub mod seal;
pub mod sessions;
pub mod sources;
pub mod users;
pub mod webauthn;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use sqlx::Any;

/// A transaction on the store.
pub type Tx = sqlx::Transaction<'static, Any>;

/// Which database engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{path} is on a network file system ({fs}); SQLite needs a local disk")]
    NetworkFilesystem { path: PathBuf, fs: &'static str },
    #[error("cannot use data directory {path}: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("unsupported database URL (use postgres://… or sqlite://…)")]
    UnsupportedUrl,
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    #[error("the record already exists")]
    Conflict,
    #[error("the database schema is newer ({found}) than this program ({known}); upgrade mamori")]
    SchemaTooNew { found: i64, known: i64 },
}

impl StoreError {
    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Conflict => true,
            StoreError::Db(sqlx::Error::Database(d)) => d.is_unique_violation(),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Booleans are stored as 0/1.
pub(crate) fn flag(v: bool) -> i64 {
    i64::from(v)
}

/// Reads a 0/1 column.
pub(crate) fn get_flag(r: &sqlx::any::AnyRow, i: usize) -> Result<bool> {
    use sqlx::Row;
    Ok(r.try_get::<i64, _>(i)? != 0)
}

/// Reads a nullable 0/1 column.
pub(crate) fn get_opt_flag(r: &sqlx::any::AnyRow, i: usize) -> Result<Option<bool>> {
    use sqlx::Row;
    Ok(r.try_get::<Option<i64>, _>(i)?.map(|v| v != 0))
}

/// The database: a pool plus, on SQLite, the single-writer lock.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    writer: Arc<Mutex<()>>,
}

/// A write transaction; on SQLite it also holds the writer lock until commit or drop.
pub struct WriteTx {
    pub tx: Tx,
    backend: Backend,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// The engine this transaction runs on (for the few statements written per dialect).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

/// Magic numbers of network file systems (statfs f_type) on which SQLite locking is unsafe.
const NETWORK_FS: [(i64, &str); 7] = [
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x6573_5546, "FUSE"),
    (0x0102_1997, "9P"),
    (0x5346_414F, "AFS"),
];

/// Names the network file system `dir` is on, if any.
pub fn network_filesystem(dir: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(dir).ok()?;
    #[allow(clippy::unnecessary_cast)]
    let ty = st.f_type as i64;
    NETWORK_FS
        .iter()
        .find(|(magic, _)| *magic == ty)
        .map(|(_, name)| *name)
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database `mamori.db` in `data_dir`.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        if let Some(fs) = network_filesystem(data_dir) {
            return Err(StoreError::NetworkFilesystem {
                path: data_dir.to_path_buf(),
                fs,
            });
        }
        let file = data_dir.join("mamori.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Self::open_url(&url).await
    }

    /// Opens a database by URL: `postgres://…` or `sqlite://path?mode=rwc`.
    pub async fn open_url(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let opts = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        // 16 MiB of page cache per connection (SQLite's default is 2 MiB): the
                        // collected-log index takes thousands of rows a second into five
                        // B-trees, and misses cost more than the memory.
                        conn.execute("PRAGMA cache_size = -16384").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        let store = Store {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
        };
        migrate::run(&store).await?;
        audit::ensure_head(&store.pool).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a write transaction (serialised with other writers on SQLite).
    pub async fn write(&self) -> Result<WriteTx> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx {
            tx,
            backend: self.backend,
            _guard: guard,
        })
    }

    /// Closes the pool (checkpoints the SQLite WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
