//! Builds the application: database, schema and router, and serves it on a listener until told
//! to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::assets::{AssetStore, Assets, TokenSigner, cleanup};
use crate::auth::{Authenticator, LOCAL_USER_ID, ensure_user};
use crate::config::Config;
use crate::db::{self, DbStats};
use crate::graphql::{self, EaselSchema, Shared};
use crate::http::RateLimit;
use crate::info::ServerInfo;
use crate::kv;
use crate::live::Live;
use crate::secret::ServerSecrets;
use crate::settings::Keyring;

/// How often failed object removals are retried.
const CLEANUP_RETRY_EVERY: Duration = Duration::from_secs(5 * 60);

/// What every HTTP handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub assets: Assets,
    pub schema: EaselSchema,
    /// Canvas events for this process's subscribers.
    pub live: Live,
    pub stats: Arc<DbStats>,
    /// Who a request comes from.
    pub auth: Arc<Authenticator>,
    /// Requests per caller; `None` when turned off.
    pub rate_limiter: Option<Arc<RateLimit>>,
    /// Whether introspection (and so GraphiQL) is on.
    pub introspection: bool,
    pub config: Arc<Config>,
}

impl AppState {
    /// Connects to the database, migrates it unless told not to, and builds the schema.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        config.validate()?;
        let stats = Arc::new(DbStats::default());
        let db = db::connect(
            &config.database_url,
            config.db_max_connections,
            stats.clone(),
        )
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database_url)))?;
        if config.migrate {
            db::migrate(&db)
                .await
                .context("cannot migrate the database")?;
        }
        if config.jwt.is_none() {
            ensure_user(&db, LOCAL_USER_ID)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the local user: {e:?}"))?;
        }
        let secrets = ServerSecrets::load(
            config.secret_key.as_deref(),
            &config.old_secret_keys,
            &config.data_dir,
        )?;
        let secret = secrets.current.clone();
        let keyring = Keyring::new(secrets)?;
        tracing::info!(key_ids = ?keyring.key_ids(), "API keys are sealed under the first key id");
        let store = AssetStore::open(&config.assets)?;
        tracing::info!(store = %store.url, presigned = store.presigns(), "asset store opened");
        let assets = Assets {
            store,
            tokens: TokenSigner::new(&secret),
            config: config.assets.clone(),
        };
        let info = Arc::new(ServerInfo::new(&config, &assets.store));
        let auth = Authenticator::new(config.jwt.as_ref())?;
        let introspection = config.abuse.introspection.unwrap_or(!auth.is_hosted());
        let live = Live::start(db.clone(), &config.database_url, config.live.clone()).await?;
        let schema = graphql::build_schema(
            Shared {
                db: db.clone(),
                assets: assets.clone(),
                limits: config.limits.clone(),
                kv: config.kv.clone(),
                keyring,
                info,
                live: live.clone(),
            },
            &config.abuse,
            introspection,
        );
        // One local user has no one to be protected from; the rate applies in hosted mode.
        let rate_limiter = auth
            .is_hosted()
            .then(|| RateLimit::new(&config.abuse))
            .flatten()
            .map(Arc::new);
        tracing::info!(
            mode = if auth.is_hosted() { "jwt" } else { "local" },
            introspection,
            "authentication"
        );
        Ok(AppState {
            db,
            assets,
            schema,
            live,
            stats,
            auth: Arc::new(auth),
            rate_limiter,
            introspection,
            config: Arc::new(config),
        })
    }
}

/// Serves Easel on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::new(config).await?;
    let db = state.db.clone();
    let live = state.live.clone();
    cleanup::spawn_retry_loop(db.clone(), state.assets.store.clone(), CLEANUP_RETRY_EVERY);
    kv::spawn_sweeper(db.clone(), state.config.kv.sweep_every);
    let router = crate::http::router(state);
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "easel is listening: GraphQL and GraphiQL at http://{addr}/graphql");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown({
        let live = live.clone();
        async move {
            shutdown.await;
            // Upgraded WebSocket connections are not requests axum waits for: close them.
            live.stop();
        }
    })
    .await
    .context("server error")?;
    live.stop();
    db.close().await.ok();
    tracing::info!("easel stopped");
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(
            redact("postgres://easel:s3cret@db:5432/easel"),
            "postgres://easel:***@db:5432/easel"
        );
        assert_eq!(
            redact("sqlite://./data/easel.db"),
            "sqlite://./data/easel.db"
        );
    }
}
