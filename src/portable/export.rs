//! `easel export [--canvas ID].. [--user SUB] -o FILE`: one portable archive (see
//! [`super::archive`]) written from one consistent read of the database, asset bytes streamed
//! from the store into it one object at a time.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    IsolationLevel, TransactionTrait, Value,
};
use tokio::runtime::Handle;

use super::archive::{self, ARCHIVED_TABLES, Exact, Manifest, Scope, TableColumns};
use super::tables::{self, Cell, Table};
use crate::assets::AssetStore;
use crate::config::{DatabaseArgs, StoreArgs};
use crate::db::DbStats;
use crate::progress::{Meter, throughput};

/// `easel export`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Only this canvas (and its nodes, edges, assets and runs); repeat for more.
    #[arg(long = "canvas")]
    pub canvases: Vec<String>,
    /// Only this user's data (a JWT `sub`, or `local`); everyone's by default.
    #[arg(long)]
    pub user: Option<String>,
    /// The archive to write (a gzip-compressed tar); `.tar.gz` by convention.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What went into the archive.
#[derive(Debug, Default)]
struct Written {
    rows: Vec<(&'static str, u64)>,
    blobs: u64,
    blob_bytes: u64,
}

/// Runs `easel export`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let db =
        super::db_copy::open_existing(&args.database.database_url, Arc::new(DbStats::default()))
            .await?;
    let store = AssetStore::open(&args.store.into_asset_config())?;
    let scope = Scope {
        user: args.user,
        canvases: args.canvases,
    };
    // Write next to the target and rename at the end, so a failed export leaves no half file.
    let partial = args.output.with_extension("partial");
    let handle = Handle::current();
    let output = args.output.clone();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let meter = Meter::new();
        let result = write_archive(&handle, &db, &store, &scope, &partial, &meter);
        meter.finish();
        handle.block_on(db.close()).ok();
        match result {
            Ok(written) => {
                std::fs::rename(&partial, &output)?;
                Ok(written)
            }
            Err(err) => {
                std::fs::remove_file(&partial).ok();
                Err(err)
            }
        }
    })
    .await?;
    let written = result?;
    let elapsed = started.elapsed();
    let rows: u64 = written.rows.iter().map(|(_, n)| n).sum();
    for (table, n) in &written.rows {
        println!("{table:<16} {n:>9} rows");
    }
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "exported {rows} rows and {} asset objects ({} bytes) to {} ({size} bytes) in {:.1}s, {}",
        written.blobs,
        written.blob_bytes,
        args.output.display(),
        elapsed.as_secs_f64(),
        throughput(written.blob_bytes, elapsed),
    );
    Ok(())
}

fn write_archive(
    handle: &Handle,
    db: &DatabaseConnection,
    store: &AssetStore,
    scope: &Scope,
    path: &std::path::Path,
    meter: &Meter,
) -> anyhow::Result<Written> {
    let file = std::fs::File::create(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let gzip =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gzip);

    // One snapshot for every table, so the archive is consistent while the server runs.
    let read = handle.block_on(begin_read(db))?;
    let manifest = Manifest {
        format: archive::FORMAT.to_owned(),
        version: archive::VERSION,
        created_at: crate::time::now().to_rfc3339(),
        easel_version: env!("CARGO_PKG_VERSION").to_owned(),
        scope: scope.clone(),
        tables: archived_tables()
            .map(|t| TableColumns {
                name: t.name.to_owned(),
                columns: t.columns.iter().map(|c| c.name.to_owned()).collect(),
            })
            .collect(),
    };
    append(
        &mut tar,
        archive::MANIFEST,
        &serde_json::to_vec_pretty(&manifest)?,
    )?;

    let generation_ids: HashSet<String> =
        handle.block_on(ids(&read, "generations", filter(scope, "generations")))?;
    let mut asset_ids = HashSet::new();
    let mut blobs: Vec<(String, String, u64)> = Vec::new();
    let mut written = Written::default();
    for table in archived_tables() {
        let (sql, values) = filter(scope, table.name);
        if sql == NOTHING {
            written.rows.push((table.name, 0));
            continue;
        }
        meter.phase(
            table.name,
            handle.block_on(count(&read, table, &sql, values.clone()))?,
        );
        let mut rows = handle.block_on(tables::stream_rows(&read, table, &sql, values))?;
        let mut buffer = String::new();
        let mut part = 0u32;
        let mut n = 0u64;
        loop {
            let next = handle.block_on(rows.next()).transpose()?;
            let end = next.is_none();
            if let Some(mut row) = next {
                prepare(table, &mut row, &generation_ids, &asset_ids);
                if table.name == "assets" {
                    let id = text(&row, table, "id");
                    if let Some(key) = text_opt(&row, table, "object_key") {
                        let size = match &row[table.index("size_bytes").unwrap_or(0)] {
                            Cell::Int(n) => u64::try_from(*n).unwrap_or(0),
                            _ => 0,
                        };
                        blobs.push((id.clone(), key, size));
                    }
                    asset_ids.insert(id);
                }
                tables::row_to_json_line(table, &row, &mut buffer);
                n += 1;
                meter.tick(1);
            }
            if buffer.len() >= archive::PART_BYTES || (end && !buffer.is_empty()) {
                part += 1;
                append(
                    &mut tar,
                    &archive::part_path(table.name, part),
                    buffer.as_bytes(),
                )?;
                buffer.clear();
            }
            if end {
                break;
            }
        }
        meter.say(format!("{}: {n} rows", table.name));
        written.rows.push((table.name, n));
        if table.name == "canvases" && !scope.canvases.is_empty() && n < scope.canvases.len() as u64
        {
            anyhow::bail!(
                "some of the canvases asked for do not exist{}",
                scope
                    .user
                    .as_deref()
                    .map(|u| format!(" or are not {u}'s"))
                    .unwrap_or_default()
            );
        }
    }
    handle.block_on(read.rollback()).ok();

    meter.phase("asset objects", blobs.len() as u64);
    for (id, key, size) in blobs {
        let location = Path::from(key.as_str());
        let got = handle
            .block_on(store.inner().get(&location))
            .map_err(|e| anyhow::anyhow!("asset {id}: cannot read {key}: {e}"))?;
        let size_now = got.meta.size;
        if size_now != size {
            anyhow::bail!("asset {id}: {key} holds {size_now} bytes, the asset says {size}");
        }
        let stream = got
            .into_stream()
            .map_err(|e| std::io::Error::other(e.to_string()));
        let reader = tokio_util::io::SyncIoBridge::new_with_handle(
            tokio_util::io::StreamReader::new(stream),
            handle.clone(),
        );
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            archive::blob_path(&id),
            Exact::new(reader, size),
        )
        .map_err(|e| anyhow::anyhow!("asset {id}: {e}"))?;
        written.blobs += 1;
        written.blob_bytes += size;
        meter.step(1, || format!("asset {id}: {size} bytes"));
    }
    let gzip = tar.into_inner()?;
    let mut file = gzip.finish()?;
    file.flush()?;
    file.get_ref().sync_all()?;
    Ok(written)
}

fn archived_tables() -> impl Iterator<Item = &'static Table> {
    ARCHIVED_TABLES
        .iter()
        .filter_map(|name| tables::table(name))
}

/// Clears what must not leave the instance or would dangle in the archive.
fn prepare(
    table: &Table,
    row: &mut [Cell],
    generation_ids: &HashSet<String>,
    asset_ids: &HashSet<String>,
) {
    let mut clear = |column: &str, keep: &dyn Fn(&str) -> bool| {
        if let Some(i) = table.index(column)
            && let Cell::Text(value) = &row[i]
            && !keep(value)
        {
            row[i] = Cell::Null;
        }
    };
    match table.name {
        // Sealed API keys never leave: the target's secret could not open them anyway.
        "user_settings" => {
            if let Some(i) = table.index("api_keys_encrypted") {
                row[i] = Cell::Null;
            }
        }
        // A run keeps its result or its original only when they are in the archive too.
        "generations" => {
            clear("result_asset_id", &|id| asset_ids.contains(id));
            clear("retry_of", &|id| generation_ids.contains(id));
        }
        _ => {}
    }
}

fn text(row: &[Cell], table: &Table, column: &str) -> String {
    text_opt(row, table, column).unwrap_or_default()
}

fn text_opt(row: &[Cell], table: &Table, column: &str) -> Option<String> {
    match table.index(column).map(|i| &row[i]) {
        Some(Cell::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A filter that matches nothing: the table is not part of this scope.
const NOTHING: &str = "1 = 0";

/// The rows of `table` in `scope`: SQL with `?` placeholders and their values.
fn filter(scope: &Scope, table: &str) -> (String, Vec<Value>) {
    let mut canvas_sql = Vec::new();
    let mut canvas_values: Vec<Value> = Vec::new();
    if let Some(user) = &scope.user {
        canvas_sql.push("owner_id = ?".to_owned());
        canvas_values.push(user.clone().into());
    }
    if !scope.canvases.is_empty() {
        let marks = vec!["?"; scope.canvases.len()].join(", ");
        canvas_sql.push(format!("id IN ({marks})"));
        canvas_values.extend(scope.canvases.iter().map(|c| Value::from(c.clone())));
    }
    let everything = canvas_sql.is_empty();
    let canvases = canvas_sql.join(" AND ");
    let in_canvases = format!("canvas_id IN (SELECT id FROM canvases WHERE {canvases})");
    let user_only = scope.canvases.is_empty();
    let user: Vec<Value> = scope.user.iter().map(|u| Value::from(u.clone())).collect();
    match table {
        "users" if everything => (String::new(), vec![]),
        "users" if user_only => ("id = ?".into(), user),
        "users" => (
            format!("id IN (SELECT owner_id FROM canvases WHERE {canvases})"),
            canvas_values,
        ),
        "canvases" => (canvases, canvas_values),
        "canvas_nodes" | "canvas_edges" | "generations" if everything => (String::new(), vec![]),
        "canvas_nodes" | "canvas_edges" | "generations" => (in_canvases, canvas_values),
        "assets" if everything => ("status = 'ready'".into(), vec![]),
        "assets" if user_only => {
            let mut values = user.clone();
            values.extend(canvas_values);
            (
                format!(
                    "status = 'ready' AND ((canvas_id IS NULL AND owner_id = ?) OR {in_canvases})"
                ),
                values,
            )
        }
        "assets" => (format!("status = 'ready' AND {in_canvases}"), canvas_values),
        "user_settings" | "kv_entries" if everything => (String::new(), vec![]),
        "user_settings" if user_only => ("user_id = ?".into(), user),
        "kv_entries" if user_only => ("owner_id = ?".into(), user),
        _ => (NOTHING.into(), vec![]),
    }
}

async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
        }
        _ => db.begin().await,
    }
}

async fn count(
    db: &DatabaseTransaction,
    table: &Table,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let filter = if sql.is_empty() {
        String::new()
    } else {
        format!(" WHERE {sql}")
    };
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        tables::placeholders(
            backend,
            &format!("SELECT COUNT(*) FROM \"{}\"{filter}", table.name),
        ),
        values,
    );
    let n = match db.query_one_raw(statement).await? {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

async fn ids(
    db: &DatabaseTransaction,
    table: &str,
    (sql, values): (String, Vec<Value>),
) -> Result<HashSet<String>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let filter = if sql.is_empty() {
        String::new()
    } else {
        format!(" WHERE {sql}")
    };
    let statement = sea_orm::Statement::from_sql_and_values(
        backend,
        tables::placeholders(backend, &format!("SELECT id FROM \"{table}\"{filter}")),
        values,
    );
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

fn append<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, bytes)
}
