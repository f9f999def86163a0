//! Connecting to the database (SQLite or PostgreSQL), migrating it, and beginning writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::config::{DatabaseKind, database_kind, sqlite_parent_dir};

/// How long a SQLite writer waits for the lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Statements slower than this are logged at WARN.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Counts of what the database was asked to do, for `/metrics` and for tests that prove a query
/// runs a constant number of statements.
#[derive(Debug, Default)]
pub struct DbStats {
    statements: AtomicU64,
    failed: AtomicU64,
}

impl DbStats {
    /// Statements run since start.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Statements that failed since start.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// Opens a pool on `url`. SQLite gets its folder created, foreign keys on (without them no
/// cascade happens), the WAL journal and a busy timeout.
pub async fn connect(
    url: &str,
    max_connections: u32,
    stats: Arc<DbStats>,
) -> Result<DatabaseConnection, DbErr> {
    let kind = database_kind(url).map_err(|e| DbErr::Custom(e.to_string()))?;
    if kind == DatabaseKind::Sqlite
        && let Some(dir) = sqlite_parent_dir(url)
    {
        std::fs::create_dir_all(&dir).map_err(|e| {
            DbErr::Custom(format!("cannot create the folder {}: {e}", dir.display()))
        })?;
    }

    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |info| {
        stats.statements.fetch_add(1, Ordering::Relaxed);
        if info.failed {
            stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        if info.elapsed > SLOW_STATEMENT {
            tracing::warn!(
                elapsed_ms = info.elapsed.as_millis() as u64,
                sql = %info.statement.sql,
                "slow statement"
            );
        }
    });
    Ok(db)
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`), so
/// that a transaction never upgrades from reader to writer halfway and fails with `SQLITE_BUSY`.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// The most bind parameters one statement may carry on this database.
pub fn max_bind_params(backend: DatabaseBackend) -> usize {
    match backend {
        DatabaseBackend::Sqlite => 32_766,
        _ => 65_535,
    }
}

/// Most values in one `IN (...)` list, leaving room for the statement's other parameters on
/// either database.
pub const IN_LIST_CHUNK: usize = 30_000;

/// Answers when the database answers; for `/readyz`.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}
