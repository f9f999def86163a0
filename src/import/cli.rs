//! `easel import FILE`: the import as a command, with a progress bar on a terminal, one plain
//! line per canvas otherwise, and a summary at the end.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::{
    CanvasImport, ImportOptions, ImportReport, ImportStatus, Importer, OnConflict, Progress,
};
use crate::assets::{AssetStore, Assets, TokenSigner};
use crate::auth::Actor;
use crate::canvas::events::EventLog;
use crate::config::{DatabaseArgs, Limits, LiveConfig, SecretArgs, StoreArgs};
use crate::db::{self, DbStats};
use crate::secret::ServerSecrets;
use crate::settings::Keyring;

/// `easel import`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The JSON file: a list or map of stored canvases, a React Flow `toObject()`, a zustand
    /// envelope, or a whole `JSON.stringify(localStorage)` dump; `-` reads standard input.
    pub file: PathBuf,

    /// The user to import for (a JWT `sub`); the local user by default.
    #[arg(long)]
    pub user: Option<String>,

    /// What to do with a canvas whose id is already taken.
    #[arg(long, value_enum, default_value_t = ConflictArg::Skip)]
    pub on_conflict: ConflictArg,

    /// Also import the plaintext provider API keys of the app's settings (sealed like every
    /// key); without it they are skipped and reported.
    #[arg(long)]
    pub import_api_keys: bool,

    /// Most nodes one canvas may hold (as the server's EASEL_MAX_NODES).
    #[arg(long, env = "EASEL_MAX_NODES", default_value_t = Limits::default().max_nodes)]
    pub max_nodes: usize,

    /// Most edges one canvas may hold (as the server's EASEL_MAX_EDGES).
    #[arg(long, env = "EASEL_MAX_EDGES", default_value_t = Limits::default().max_edges)]
    pub max_edges: usize,

    /// Largest `data` of one node or edge, in bytes of JSON (as the server's setting).
    #[arg(long, env = "EASEL_MAX_NODE_DATA_BYTES", default_value_t = Limits::default().max_node_data_bytes)]
    pub max_node_data_bytes: usize,

    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub secrets: SecretArgs,
}

/// `--on-conflict`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConflictArg {
    /// Keep the stored canvas; re-running an import imports nothing new.
    Skip,
    /// Replace the user's stored canvas of the same id.
    Overwrite,
    /// Import every canvas under a new id.
    Copy,
}

impl From<ConflictArg> for OnConflict {
    fn from(value: ConflictArg) -> Self {
        match value {
            ConflictArg::Skip => OnConflict::Skip,
            ConflictArg::Overwrite => OnConflict::Overwrite,
            ConflictArg::Copy => OnConflict::Copy,
        }
    }
}

/// Runs `easel import`; fails when any canvas failed, after the summary.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let input = read_input(&args.file)?;
    crate::config::database_kind(&args.database.database_url)?;
    let stats = Arc::new(DbStats::default());
    let db = db::connect(&args.database.database_url, 2, stats).await?;
    db::migrate(&db).await?;
    let secrets = ServerSecrets::load(
        args.secrets.secret_key.as_deref(),
        &args.secrets.old_secret_keys,
        &args.secrets.data_dir,
    )?;
    let tokens = TokenSigner::new(&secrets.current);
    let keyring = Keyring::new(secrets)?;
    let config = args.store.clone().into_asset_config();
    let assets = Assets {
        store: AssetStore::open(&config)?,
        tokens,
        config,
    };
    let limits = Limits {
        max_nodes: args.max_nodes,
        max_edges: args.max_edges,
        max_node_data_bytes: args.max_node_data_bytes,
        ..Limits::default()
    };
    let actor = args.user.clone().map_or_else(Actor::local, Actor::User);
    // Events are recorded for servers' subscribers; their size caps are the defaults.
    let live = LiveConfig::default();
    let log = EventLog::detached(&live);
    let importer = Importer {
        db: &db,
        log: &log,
        assets: &assets,
        keyring: &keyring,
        limits: &limits,
    };
    let options = ImportOptions {
        on_conflict: args.on_conflict.into(),
        import_api_keys: args.import_api_keys,
    };
    let progress = Lines::new(std::io::stderr().is_terminal());
    let report = importer
        .import(&actor, &input, options, &progress)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    progress.finish();
    db.close().await.ok();
    print_summary(&report);
    let failed = report.count(ImportStatus::Failed);
    if failed > 0 {
        anyhow::bail!("{failed} canvases could not be imported (see above)");
    }
    Ok(())
}

fn read_input(file: &PathBuf) -> anyhow::Result<Value> {
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?
    };
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))
}

/// A progress bar on a terminal; otherwise one line per canvas.
struct Lines {
    bar: Option<ProgressBar>,
}

impl Lines {
    fn new(terminal: bool) -> Self {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} canvases {elapsed} {msg}")
            {
                bar.set_style(style);
            }
            bar
        });
        Lines { bar }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Lines {
    fn start(&self, canvases: usize) {
        match &self.bar {
            Some(bar) => bar.set_length(canvases as u64),
            None => println!("importing {canvases} canvases"),
        }
    }

    fn done(&self, canvas: &CanvasImport) {
        self.say(describe(canvas));
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if let Some(name) = &canvas.name {
                bar.set_message(name.clone());
            }
        }
    }
}

/// One line (and its details) for one canvas.
fn describe(c: &CanvasImport) -> String {
    let name = c.name.as_deref().unwrap_or("");
    let mut line = match c.status {
        ImportStatus::Imported => format!(
            "imported {} \"{name}\" as {} ({} assets)",
            c.source,
            c.canvas_id.as_deref().unwrap_or(""),
            c.asset_ids.len()
        ),
        ImportStatus::Skipped => format!("skipped  {} \"{name}\": {}", c.source, reason(c)),
        ImportStatus::Failed => format!("failed   {} \"{name}\": {}", c.source, reason(c)),
    };
    for missing in &c.missing_media {
        line.push_str(&format!(
            "\n  missing media: node '{}' {} = \"{}\"",
            missing.node_id, missing.pointer, missing.value
        ));
    }
    for warning in &c.warnings {
        line.push_str(&format!("\n  note: {warning}"));
    }
    line
}

fn reason(c: &CanvasImport) -> &str {
    c.reason.as_deref().unwrap_or("")
}

fn print_summary(report: &ImportReport) {
    if let Some(settings) = &report.settings {
        let status = match settings.status {
            ImportStatus::Imported => "imported".to_owned(),
            ImportStatus::Skipped => {
                format!("skipped: {}", settings.reason.as_deref().unwrap_or(""))
            }
            ImportStatus::Failed => format!("failed: {}", settings.reason.as_deref().unwrap_or("")),
        };
        println!("settings from {}: {status}", settings.source);
        for key in &settings.api_keys {
            let status = match key.status {
                ImportStatus::Imported => "imported (sealed)",
                ImportStatus::Skipped => "skipped",
                ImportStatus::Failed => "failed",
            };
            let why = key
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            println!("  API key for {}: {status}{why}", key.provider);
        }
        for dropped in &settings.dropped {
            println!("  not imported: {dropped}");
        }
    }
    for ignored in &report.ignored {
        println!("ignored {ignored}");
    }
    let assets: usize = report.canvases.iter().map(|c| c.asset_ids.len()).sum();
    let missing: usize = report.canvases.iter().map(|c| c.missing_media.len()).sum();
    println!(
        "{} imported, {} skipped, {} failed; {assets} assets from data: URLs; {missing} media missing",
        report.count(ImportStatus::Imported),
        report.count(ImportStatus::Skipped),
        report.count(ImportStatus::Failed),
    );
}
