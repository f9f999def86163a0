//! `easel restore FILE`: loads an archive of `easel export` into this instance, whatever its
//! database and store. Two passes over the file: the first checks the archive and which of its
//! canvases and assets exist here already, then uploads the asset bytes (to this store's keys);
//! the second writes every row in one transaction. When anything fails, the transaction rolls
//! back and the objects this run uploaded are removed, so a failed restore leaves nothing and
//! can simply be run again.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, Value};
use tokio::runtime::Handle;

use super::archive::{self, Manifest};
use super::tables::{self, Cell, OnConflict, Row, Table};
use crate::assets::AssetStore;
use crate::assets::upload::write_exact;
use crate::config::{DatabaseArgs, StoreArgs};
use crate::db::{self, DbStats};
use crate::progress::{Meter, throughput};

/// `easel restore`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The archive `easel export` wrote.
    pub file: PathBuf,
    /// Keep what already exists here (canvases with everything on them, assets, runs, settings,
    /// key-value entries) and add the rest; without it, an archive whose canvases or assets
    /// exist here is refused before anything is written.
    #[arg(long)]
    pub skip_existing: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// An asset of the archive: whose it is and where its bytes go here.
struct AssetPlan {
    owner: String,
    canvas: Option<String>,
    size: u64,
    has_bytes: bool,
    /// The key in this store, once its bytes are uploaded.
    key: Option<String>,
}

/// What the first pass learnt.
#[derive(Default)]
struct Plan {
    assets: HashMap<String, AssetPlan>,
    canvases: Vec<String>,
    /// Canvases and assets that exist here (kept with --skip-existing).
    existing_canvases: HashSet<String>,
    existing_assets: HashSet<String>,
    checked: bool,
    uploaded: Vec<String>,
    uploaded_bytes: u64,
}

/// Runs `easel restore`.
pub async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    crate::config::database_kind(&args.database.database_url)?;
    let db = db::connect(&args.database.database_url, 2, Arc::new(DbStats::default())).await?;
    db::migrate(&db).await?;
    let store = AssetStore::open(&args.store.into_asset_config())?;
    let handle = Handle::current();
    let started = std::time::Instant::now();
    let file = args.file.clone();
    let skip = args.skip_existing;
    let (result, plan) = tokio::task::spawn_blocking(move || {
        let meter = Meter::new();
        let mut plan = Plan::default();
        let result = restore(&handle, &db, &store, &file, skip, &mut plan, &meter);
        meter.finish();
        if result.is_err() && !plan.uploaded.is_empty() {
            // Nothing names these objects: the rows that would have were rolled back.
            for key in &plan.uploaded {
                if let Err(err) = handle.block_on(store.delete(&Path::from(key.as_str()))) {
                    eprintln!("could not remove uploaded object {key}: {err}");
                }
            }
            eprintln!(
                "removed the {} objects this run uploaded",
                plan.uploaded.len()
            );
        }
        handle.block_on(db.close()).ok();
        (result, plan)
    })
    .await?;
    let counts = result
        .map_err(|e| anyhow::anyhow!("{}: {e:#}; nothing was restored", args.file.display()))?;
    let elapsed = started.elapsed();
    for (table, n) in &counts {
        println!("{table:<16} {n:>9} rows restored");
    }
    let rows: u64 = counts.iter().map(|(_, n)| n).sum();
    println!(
        "restored {rows} rows and {} asset objects ({} bytes, {}) in {:.1}s; kept as they were: \
         {} canvases, {} assets",
        plan.uploaded.len(),
        plan.uploaded_bytes,
        throughput(plan.uploaded_bytes, elapsed),
        elapsed.as_secs_f64(),
        plan.existing_canvases.len(),
        plan.existing_assets.len(),
    );
    Ok(())
}

fn open(path: &FsPath) -> anyhow::Result<tar::Archive<flate2::read::GzDecoder<std::fs::File>>> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open: {e}"))?;
    Ok(tar::Archive::new(flate2::read::GzDecoder::new(file)))
}

fn restore(
    handle: &Handle,
    db: &DatabaseConnection,
    store: &AssetStore,
    path: &FsPath,
    skip: bool,
    plan: &mut Plan,
    meter: &Meter,
) -> anyhow::Result<Vec<(&'static str, u64)>> {
    // Pass 1: the manifest, what exists here, then the bytes.
    let mut archive = open(path)?;
    let mut entries = archive.entries()?;
    let manifest = read_manifest(entries.next())?;
    meter.say(format!(
        "archive of {} by Easel {}",
        manifest.created_at, manifest.easel_version
    ));
    for entry in entries {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if let Some(table) = archive::table_of_part(&name) {
            if table == "canvases" || table == "assets" {
                let table = known(table)?;
                for line in lines(&mut entry)? {
                    let row = tables::row_from_json_line(table, &line)
                        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
                    learn(table, &row, plan);
                }
            }
        } else if let Some(id) = archive::asset_of_blob(&name) {
            check_existing(handle, db, skip, plan)?;
            let id = id.to_owned();
            upload(handle, store, &id, &mut entry, plan, meter)?;
        }
    }
    check_existing(handle, db, skip, plan)?;
    if let Some((id, _)) = plan
        .assets
        .iter()
        .find(|(id, a)| a.has_bytes && a.key.is_none() && !kept(plan, id, a))
    {
        anyhow::bail!("the archive lacks the bytes of asset {id}");
    }

    // Pass 2: every row, in one transaction.
    let txn = handle.block_on(db::begin_write(db))?;
    let mut counts = Vec::new();
    let mut links = Vec::new();
    let mut archive = open(path)?;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(table) = archive::table_of_part(&name) else {
            continue;
        };
        let table = known(table)?;
        let mut rows = Vec::new();
        for line in lines(&mut entry)? {
            let mut row = tables::row_from_json_line(table, &line)
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
            if keep(table, &mut row, plan) {
                rows.push(row);
            }
        }
        let n = insert(handle, &txn, table, rows, skip, &mut links)?;
        match counts.iter_mut().find(|(t, _)| *t == table.name) {
            Some((_, total)) => *total += n,
            None => counts.push((table.name, n)),
        }
        meter.say(format!("{name}: {n} rows"));
    }
    // Runs that retry another point at it once every run is in, whichever part it came in.
    if let Some(table) = tables::table("generations")
        && let Some(column) = table.self_reference
    {
        handle.block_on(tables::set_self_reference(&txn, table, column, &links))?;
    }
    handle.block_on(txn.commit())?;
    Ok(counts)
}

fn read_manifest<R: std::io::Read>(
    entry: Option<std::io::Result<tar::Entry<'_, R>>>,
) -> anyhow::Result<Manifest> {
    let mut entry = entry.ok_or_else(|| anyhow::anyhow!("the archive is empty"))??;
    if entry.path()?.to_string_lossy() != archive::MANIFEST {
        anyhow::bail!(
            "not an Easel archive: it does not start with {}",
            archive::MANIFEST
        );
    }
    let mut text = String::new();
    entry.read_to_string(&mut text)?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", archive::MANIFEST))?;
    if manifest.format != archive::FORMAT {
        anyhow::bail!("not an Easel archive (format '{}')", manifest.format);
    }
    if manifest.version > archive::VERSION {
        anyhow::bail!(
            "archive version {} is newer than this Easel reads ({}): upgrade Easel",
            manifest.version,
            archive::VERSION
        );
    }
    Ok(manifest)
}

fn known(table: &str) -> anyhow::Result<&'static Table> {
    archive::ARCHIVED_TABLES
        .contains(&table)
        .then(|| tables::table(table))
        .flatten()
        .ok_or_else(|| anyhow::anyhow!("the archive holds an unknown table {table}"))
}

fn lines(entry: &mut impl std::io::Read) -> anyhow::Result<Vec<String>> {
    let mut text = String::new();
    entry.read_to_string(&mut text)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

fn cell_text(table: &Table, row: &[Cell], column: &str) -> Option<String> {
    match table.index(column).map(|i| &row[i]) {
        Some(Cell::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Notes the canvases and assets of the archive.
fn learn(table: &Table, row: &[Cell], plan: &mut Plan) {
    let id = cell_text(table, row, "id").unwrap_or_default();
    if table.name == "canvases" {
        plan.canvases.push(id);
        return;
    }
    let size = match table.index("size_bytes").map(|i| &row[i]) {
        Some(Cell::Int(n)) => u64::try_from(*n).unwrap_or(0),
        _ => 0,
    };
    plan.assets.insert(
        id,
        AssetPlan {
            owner: cell_text(table, row, "owner_id").unwrap_or_default(),
            canvas: cell_text(table, row, "canvas_id"),
            size,
            has_bytes: cell_text(table, row, "object_key").is_some(),
            key: None,
        },
    );
}

/// Once: which of the archive's canvases and assets exist here. Without --skip-existing any is
/// a refusal, before a byte is uploaded.
fn check_existing(
    handle: &Handle,
    db: &DatabaseConnection,
    skip: bool,
    plan: &mut Plan,
) -> anyhow::Result<()> {
    if plan.checked {
        return Ok(());
    }
    plan.checked = true;
    plan.existing_canvases = handle.block_on(existing(db, "canvases", &plan.canvases))?;
    let assets: Vec<String> = plan.assets.keys().cloned().collect();
    plan.existing_assets = handle.block_on(existing(db, "assets", &assets))?;
    if !skip && (!plan.existing_canvases.is_empty() || !plan.existing_assets.is_empty()) {
        let mut some: Vec<&String> = plan
            .existing_canvases
            .iter()
            .chain(&plan.existing_assets)
            .collect();
        some.sort();
        some.truncate(5);
        anyhow::bail!(
            "{} canvases and {} assets of the archive exist here already (e.g. {}); pass \
             --skip-existing to keep them and restore the rest",
            plan.existing_canvases.len(),
            plan.existing_assets.len(),
            some.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

async fn existing(
    db: &DatabaseConnection,
    table: &str,
    ids: &[String],
) -> Result<HashSet<String>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let mut found = HashSet::new();
    for chunk in ids.chunks(db::IN_LIST_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = tables::placeholders(
            backend,
            &format!("SELECT id FROM \"{table}\" WHERE id IN ({marks})"),
        );
        let values: Vec<Value> = chunk.iter().map(|s| Value::from(s.clone())).collect();
        for row in db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            found.insert(row.try_get_by_index::<String>(0)?);
        }
    }
    Ok(found)
}

/// Whether an asset of the archive stays as it is here (it, or its canvas, exists).
fn kept(plan: &Plan, id: &str, asset: &AssetPlan) -> bool {
    plan.existing_assets.contains(id)
        || asset
            .canvas
            .as_ref()
            .is_some_and(|c| plan.existing_canvases.contains(c))
}

/// Streams one blob from the archive to this store's key for its asset.
fn upload(
    handle: &Handle,
    store: &AssetStore,
    id: &str,
    entry: &mut impl std::io::Read,
    plan: &mut Plan,
    meter: &Meter,
) -> anyhow::Result<()> {
    let Some(asset) = plan.assets.get(id) else {
        anyhow::bail!("blob {id} belongs to no asset of the archive");
    };
    if kept(plan, id, asset) {
        return Ok(());
    }
    let key = store.key(&asset.owner, asset.canvas.as_deref(), id);
    let size = asset.size;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let target = store.inner().clone();
    let location = key.clone();
    let writer = handle.spawn(async move {
        let body = tokio_stream_from(rx);
        write_exact(target.as_ref(), &location, body, size).await
    });
    let mut buffer = vec![0u8; 1024 * 1024];
    loop {
        let n = match entry.read(&mut buffer) {
            Ok(n) => n,
            Err(err) => {
                tx.blocking_send(Err(err)).ok();
                break;
            }
        };
        if n == 0 {
            break;
        }
        if tx
            .blocking_send(Ok(Bytes::copy_from_slice(&buffer[..n])))
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    handle
        .block_on(writer)?
        .map_err(|e| anyhow::anyhow!("asset {id}: {e}"))?;
    plan.uploaded.push(key.to_string());
    plan.uploaded_bytes += size;
    if let Some(asset) = plan.assets.get_mut(id) {
        asset.key = Some(key.to_string());
    }
    meter.say(format!("asset {id}: {size} bytes uploaded"));
    Ok(())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Whether a row goes in; points assets at their keys in this store.
fn keep(table: &Table, row: &mut Row, plan: &Plan) -> bool {
    let canvas = match table.name {
        "canvases" => cell_text(table, row, "id"),
        "canvas_nodes" | "canvas_edges" | "assets" | "generations" => {
            cell_text(table, row, "canvas_id")
        }
        _ => None,
    };
    if canvas.is_some_and(|c| plan.existing_canvases.contains(&c)) {
        return false;
    }
    if table.name == "assets" {
        let id = cell_text(table, row, "id").unwrap_or_default();
        if plan.existing_assets.contains(&id) {
            return false;
        }
        if let (Some(i), Some(asset)) = (table.index("object_key"), plan.assets.get(&id)) {
            row[i] = asset.key.clone().map_or(Cell::Null, Cell::Text);
        }
    }
    true
}

/// Inserts rows in batches; users already here are kept (they are who they are), everything
/// else fails on a taken key unless --skip-existing.
fn insert(
    handle: &Handle,
    txn: &DatabaseTransaction,
    table: &'static Table,
    mut rows: Vec<Row>,
    skip: bool,
    links: &mut Vec<(String, String)>,
) -> anyhow::Result<u64> {
    let on_conflict = if skip || table.name == "users" {
        OnConflict::Keep
    } else {
        OnConflict::Fail
    };
    if let Some(column) = table.self_reference
        && let Some(i) = table.index(column)
    {
        for row in &mut rows {
            if let (Cell::Text(points_to), Cell::Text(key)) =
                (std::mem::replace(&mut row[i], Cell::Null), &row[0])
            {
                links.push((key.clone(), points_to));
            }
        }
    }
    let batch = tables::batch_rows(txn.get_database_backend(), table);
    let mut n = 0;
    for chunk in rows.chunks(batch) {
        n += handle
            .block_on(tables::insert(txn, table, chunk, on_conflict))
            .map_err(|e| anyhow::anyhow!("{}: {e}", table.name))?;
    }
    Ok(n)
}
