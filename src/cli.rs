//! The command line: `serve` (the default), `migrate`, `schema`, `assets gc`, `assets migrate`,
//! `keys rotate`, `import`, `export`, `restore`, `db copy`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use crate::assets::AssetStore;
use crate::assets::cleanup::{self, GcOptions};
use crate::config::{DatabaseArgs, SecretArgs, ServeArgs, StoreArgs};
use crate::db::{self, DbStats};
use crate::import::cli::ImportArgs;
use crate::secret::{SecretSource, ServerSecrets};
use crate::settings::{self, Keyring};

/// Easel: the GraphQL backend of node-based canvas apps.
#[derive(Debug, Parser)]
#[command(name = "easel", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the GraphQL API (the default when no command is given).
    Serve(Box<ServeArgs>),
    /// Apply, undo or inspect database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Look after the asset store.
    Assets {
        #[command(subcommand)]
        action: AssetsAction,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Mint an HS256 token with EASEL_JWT_SECRET, for development and GraphiQL.
    Token(TokenArgs),
    /// Import canvases (and settings) a canvas app kept in the browser, from a JSON file.
    Import(Box<ImportArgs>),
    /// Write canvases, nodes, edges, runs, settings (without API keys), key-value entries and
    /// asset bytes to one portable archive.
    Export(Box<crate::portable::export::ExportArgs>),
    /// Load an archive of `easel export` into this instance (any database, any store).
    Restore(Box<crate::portable::restore::RestoreArgs>),
    /// Move a whole database to another one.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Look after the server secrets that seal users' API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        secrets: SecretArgs,
    },
}

/// `easel token`'s flags.
#[derive(Clone, clap::Args)]
struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long)]
    sub: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// How long the token is valid.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: std::time::Duration,
    /// The HMAC secret the server verifies with.
    #[arg(long, env = "EASEL_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// The `iss` the server requires, if any.
    #[arg(long, env = "EASEL_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// The `aud` the server requires, if any.
    #[arg(long, env = "EASEL_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
}

impl std::fmt::Debug for TokenArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenArgs")
            .field("sub", &self.sub)
            .finish_non_exhaustive()
    }
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let exp = jsonwebtoken::get_current_timestamp() + args.ttl.as_secs();
    let claims = crate::auth::jwt::Claims {
        sub: args.sub,
        email: args.email,
        name: args.name,
        picture: None,
        exp,
        nbf: None,
        iss: args.jwt_issuer,
        aud: args.jwt_audience,
    };
    let token = crate::auth::jwt::mint_hs256(&args.jwt_secret, &claims)?;
    println!("{token}");
    eprintln!("In GraphiQL, add the header:  {{\"Authorization\": \"Bearer {token}\"}}");
    Ok(())
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Re-seal every stored API key under a new secret. With the generated DATA_DIR/secret.key:
    /// make a new secret its first line (the older ones stay below it), then re-seal. With
    /// EASEL_SECRET_KEY: re-seal what the secrets in EASEL_OLD_SECRET_KEYS sealed under it.
    Rotate {
        /// Do not make a new secret in DATA_DIR/secret.key; only re-seal what older secrets
        /// sealed under the current one (e.g. after a server wrote with an older secret).
        #[arg(long)]
        reseal_only: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DbAction {
    /// Copy every table from one database to another (SQLite to PostgreSQL or back), in one
    /// transaction, checking row counts and checksums before it commits.
    Copy(crate::portable::db_copy::CopyArgs),
}

#[derive(Debug, Subcommand)]
enum AssetsAction {
    /// Copy every asset object to another store (same keys), resuming where an earlier run
    /// stopped; prints the setting to change at the end.
    Migrate(crate::portable::store_move::MigrateArgs),
    /// Find PENDING assets older than a TTL and objects no asset names; remove them with --apply
    /// (a dry run by default). Also retries object removals that failed before.
    Gc {
        /// Remove what is found; without it, only report.
        #[arg(long)]
        apply: bool,
        /// PENDING assets older than this are abandoned uploads.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        pending_older_than: std::time::Duration,
        /// Leave objects younger than this alone, even when no asset names them.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        grace: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply pending migrations.
    Up {
        /// Apply only this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Undo applied migrations, newest first.
    Down {
        /// How many to undo.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table and apply all migrations again. Deletes all data.
    Fresh,
}

/// `serve`'s flags alone, for when no command is given.
#[derive(Debug, Parser)]
#[command(name = "easel")]
struct ServeOnly {
    #[command(flatten)]
    args: ServeArgs,
}

/// Runs the command line; the process's exit code.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Some(Command::Serve(args)) => serve(*args).await,
        None => serve(ServeOnly::parse_from(["easel"]).args).await,
        Some(Command::Migrate { action, database }) => migrate(action, database).await,
        Some(Command::Assets {
            action,
            database,
            store,
        }) => assets(action, database, store).await,
        Some(Command::Keys {
            action,
            database,
            secrets,
        }) => keys(action, database, secrets).await,
        Some(Command::Db {
            action: DbAction::Copy(args),
        }) => crate::portable::db_copy::run(args).await,
        Some(Command::Export(args)) => crate::portable::export::run(*args).await,
        Some(Command::Restore(args)) => crate::portable::restore::run(*args).await,
        Some(Command::Token(args)) => token(args),
        Some(Command::Import(args)) => crate::import::cli::run(*args).await,
        Some(Command::Schema) => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.into_config()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (EASEL_LISTEN): {e}", config.listen))?;
    crate::serve(config, listener, shutdown_signal()).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

async fn migrate(action: MigrateAction, database: DatabaseArgs) -> anyhow::Result<()> {
    crate::config::database_kind(&database.database_url)?;
    let stats = std::sync::Arc::new(DbStats::default());
    let db = db::connect(&database.database_url, 1, stats).await?;
    match action {
        MigrateAction::Up { steps } => Migrator::up(&db, steps).await?,
        MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
        MigrateAction::Fresh => Migrator::fresh(&db).await?,
        MigrateAction::Status => {}
    }
    for migration in Migrator::get_migration_with_status(&db).await? {
        println!("{:<8} {}", migration.status(), migration.name());
    }
    Ok(())
}

async fn assets(
    action: AssetsAction,
    database: DatabaseArgs,
    store: StoreArgs,
) -> anyhow::Result<()> {
    let (apply, pending_older_than, grace) = match action {
        AssetsAction::Migrate(args) => return crate::portable::store_move::run(args, store).await,
        AssetsAction::Gc {
            apply,
            pending_older_than,
            grace,
        } => (apply, pending_older_than, grace),
    };
    let store = AssetStore::open(&store.into_asset_config())?;
    let stats = std::sync::Arc::new(DbStats::default());
    let db = db::connect(&database.database_url, 2, stats).await?;
    let options = GcOptions {
        apply,
        pending_older_than,
        orphan_grace: grace,
    };
    let report = cleanup::gc(&db, &store, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let verb = if apply { "removed" } else { "would remove" };
    for id in &report.stale_pending {
        println!("{verb} stale PENDING asset {id}");
    }
    for (key, size) in &report.orphans {
        println!("{verb} orphan object {key} ({size} bytes)");
    }
    let orphan_bytes: u64 = report.orphans.iter().map(|(_, size)| size).sum();
    println!(
        "{} stale PENDING assets, {} orphan objects ({orphan_bytes} bytes){}",
        report.stale_pending.len(),
        report.orphans.len(),
        if apply {
            format!(
                "; removed; {} scheduled removals done, {} still failing",
                report.scheduled.0, report.scheduled.1
            )
        } else {
            "; dry run, nothing removed (pass --apply to remove)".to_owned()
        }
    );
    Ok(())
}

async fn keys(
    action: KeysAction,
    database: DatabaseArgs,
    secrets: SecretArgs,
) -> anyhow::Result<()> {
    let KeysAction::Rotate { reseal_only } = action;
    crate::config::database_kind(&database.database_url)?;
    let file = secrets.data_dir.join("secret.key");
    if secrets.secret_key.is_none() && !file.exists() {
        anyhow::bail!(
            "{} does not exist and EASEL_SECRET_KEY is not set: nothing was sealed with a \
             secret here (is --data-dir / EASEL_DATA_DIR the server's?)",
            file.display()
        );
    }
    let loaded = ServerSecrets::load(
        secrets.secret_key.as_deref(),
        &secrets.old_secret_keys,
        &secrets.data_dir,
    )?;
    let stats = std::sync::Arc::new(DbStats::default());
    let db = db::connect(&database.database_url, 2, stats).await?;

    let secrets = match &loaded.source {
        SecretSource::File(path) if !reseal_only => {
            let rotated = loaded.rotate_file()?;
            let keyring = Keyring::new(rotated.clone())?;
            println!(
                "made a new secret in {}: key id {}; {} older secrets kept below it",
                path.display(),
                keyring.current_key_id(),
                rotated.old.len()
            );
            rotated
        }
        _ => loaded,
    };
    let keyring = Keyring::new(secrets)?;
    let report = settings::reseal_all(&db, &keyring)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    db.close().await.ok();

    let current = keyring.current_key_id();
    for (old, count) in &report.resealed {
        println!("re-sealed {count} API keys from key id {old} under key id {current}");
    }
    let resealed: usize = report.resealed.values().sum();
    println!(
        "{} users with API keys: {resealed} re-sealed, {} already under key id {current}, {} \
         could not be opened",
        report.users,
        report.current,
        report.failed.len()
    );
    for failure in &report.failed {
        eprintln!("not re-sealed: {failure}");
    }
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} API keys could not be opened and were left as they were",
            report.failed.len()
        );
    }
    Ok(())
}
