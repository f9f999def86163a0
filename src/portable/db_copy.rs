//! `easel db copy --from URL --to URL`: every table from one database to another (SQLite to
//! PostgreSQL or back) in one transaction on the target, checked row for row before it commits.

use std::sync::Arc;

use futures::StreamExt;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, IsolationLevel,
    TransactionTrait,
};

use super::tables::{self, Cell, Checksum, OnConflict, Row, TABLES, Table};
use crate::config::{DatabaseKind, database_kind};
use crate::db::{self, DbStats};
use crate::progress::Meter;

/// `easel db copy`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct CopyArgs {
    /// The database to copy from: `sqlite://PATH` or `postgres://...`. It is only read.
    #[arg(long)]
    pub from: String,
    /// The database to copy into; migrated first. It must hold no Easel rows, unless --force.
    #[arg(long)]
    pub to: String,
    /// Copy into a target that already holds rows: its Easel tables are emptied first, in the
    /// same transaction as the copy (so a failed copy leaves them as they were).
    #[arg(long)]
    pub force: bool,
}

/// What one table's copy did.
struct Copied {
    table: &'static str,
    rows: u64,
    checksum: String,
}

/// Runs `easel db copy`.
pub async fn run(args: CopyArgs) -> anyhow::Result<()> {
    database_kind(&args.to)?;
    if same_database(&args.from, &args.to) {
        anyhow::bail!("--from and --to name the same database");
    }
    let stats = Arc::new(DbStats::default());
    let source = open_existing(&args.from, stats.clone())
        .await
        .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let target = db::connect(&args.to, 2, stats).await?;
    db::migrate(&target).await?;

    let meter = Meter::new();
    let started = std::time::Instant::now();
    let copied = copy(&source, &target, args.force, &meter).await;
    meter.finish();
    let copied = copied?;
    source.close().await.ok();
    target.close().await.ok();

    let rows: u64 = copied.iter().map(|c| c.rows).sum();
    for c in &copied {
        println!(
            "{:<16} {:>9} rows  checksum {}",
            c.table, c.rows, c.checksum
        );
    }
    println!(
        "copied {rows} rows in {} tables in {:.1}s; row counts and checksums match on both sides",
        copied.len(),
        started.elapsed().as_secs_f64()
    );
    println!("now point DATABASE_URL at the new database");
    Ok(())
}

async fn copy(
    source: &DatabaseConnection,
    target: &DatabaseConnection,
    force: bool,
    meter: &Meter,
) -> anyhow::Result<Vec<Copied>> {
    // One snapshot of the source for every table, so rows written meanwhile cannot tear it.
    let read = match source.get_database_backend() {
        DatabaseBackend::Postgres => {
            source
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        }
        _ => source.begin().await?,
    };
    let write = db::begin_write(target).await?;

    let mut held = Vec::new();
    for table in TABLES {
        let n = tables::count(&write, table).await?;
        if n > 0 {
            held.push(format!("{} ({n} rows)", table.name));
        }
    }
    if !held.is_empty() {
        if !force {
            anyhow::bail!(
                "--to already holds data: {}; nothing was copied (use --force to replace it)",
                held.join(", ")
            );
        }
        meter.say(format!("--force: emptying {}", held.join(", ")));
        for table in TABLES.iter().rev() {
            sea_orm::ConnectionTrait::execute_unprepared(
                &write,
                &format!("DELETE FROM \"{}\"", table.name),
            )
            .await?;
        }
    }

    let mut copied = Vec::new();
    for table in TABLES {
        let total = tables::count(&read, table).await?;
        meter.phase(table.name, total);
        let sum = copy_table(&read, &write, table, meter).await?;
        let back = checksum(&write, table).await?;
        if back != sum {
            anyhow::bail!(
                "{}: read back {} rows (checksum {}) but copied {} (checksum {}); nothing was \
                 committed",
                table.name,
                back.rows,
                back.hex(),
                sum.rows,
                sum.hex()
            );
        }
        tables::reset_sequence(&write, table).await?;
        copied.push(Copied {
            table: table.name,
            rows: sum.rows,
            checksum: sum.hex(),
        });
    }
    write.commit().await?;
    read.rollback().await.ok();
    Ok(copied)
}

/// Copies one table in batches; the checksum of the rows read.
async fn copy_table(
    read: &sea_orm::DatabaseTransaction,
    write: &sea_orm::DatabaseTransaction,
    table: &'static Table,
    meter: &Meter,
) -> anyhow::Result<Checksum> {
    let batch = tables::batch_rows(write.get_database_backend(), table);
    let self_ref = table.self_reference.and_then(|c| table.index(c));
    let mut links = Vec::new();
    let mut sum = Checksum::default();
    let mut rows: Vec<Row> = Vec::with_capacity(batch);
    let mut stream = std::pin::pin!(tables::stream_rows(read, table, "", Vec::new()).await?);
    let mut done = 0u64;
    loop {
        let next = stream.next().await.transpose()?;
        let end = next.is_none();
        if let Some(mut row) = next {
            sum.add(&row);
            if let Some(i) = self_ref
                && let Cell::Text(points_to) = std::mem::replace(&mut row[i], Cell::Null)
                && let Cell::Text(key) = &row[0]
            {
                links.push((key.clone(), points_to));
            }
            rows.push(row);
        }
        if rows.len() >= batch || (end && !rows.is_empty()) {
            tables::insert(write, table, &rows, OnConflict::Fail)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", table.name))?;
            done += rows.len() as u64;
            meter.step(rows.len() as u64, || format!("{}: {done} rows", table.name));
            rows.clear();
        }
        if end {
            break;
        }
    }
    if let Some(column) = table.self_reference {
        tables::set_self_reference(write, table, column, &links).await?;
    }
    Ok(sum)
}

async fn checksum(
    db: &sea_orm::DatabaseTransaction,
    table: &'static Table,
) -> anyhow::Result<Checksum> {
    let mut sum = Checksum::default();
    let mut stream = std::pin::pin!(tables::stream_rows(db, table, "", Vec::new()).await?);
    while let Some(row) = stream.next().await {
        sum.add(&row?);
    }
    Ok(sum)
}

/// Connects to a database that must exist and be at the current schema: commands that read
/// one never create or migrate it.
pub(crate) async fn open_existing(
    url: &str,
    stats: Arc<DbStats>,
) -> anyhow::Result<DatabaseConnection> {
    if database_kind(url)? == DatabaseKind::Sqlite
        && let Some(path) = sqlite_file(url)
        && !std::path::Path::new(&path).exists()
    {
        anyhow::bail!("{path} does not exist");
    }
    let db = db::connect(url, 2, stats).await?;
    let pending = Migrator::get_pending_migrations(&db).await?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database is not at the current schema ({} migrations pending): run `easel \
             migrate up` on it first",
            pending.len()
        );
    }
    Ok(db)
}

fn sqlite_file(url: &str) -> Option<String> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

fn same_database(a: &str, b: &str) -> bool {
    match (sqlite_file(a), sqlite_file(b)) {
        (Some(a), Some(b)) => {
            let canon = |p: &str| std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
            canon(&a) == canon(&b)
        }
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    }
}
