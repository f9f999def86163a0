//! The server's configuration: one plain [`Config`], built from flags and `EASEL_*` variables by
//! [`ServeArgs`] (or directly in code, as the tests do), and checked before anything starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::auth::jwt::{JwtConfig, KeySource};

/// Limits on what one request may store; beyond them a clear error and nothing written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most nodes a canvas may hold.
    pub max_nodes: usize,
    /// Most edges a canvas may hold.
    pub max_edges: usize,
    /// Largest `data` of one node or edge, as serialized JSON.
    pub max_node_data_bytes: usize,
    /// Largest HTTP request body.
    pub max_body_bytes: usize,
    /// Largest page a list query may ask for.
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: 20_000,
            max_edges: 40_000,
            max_node_data_bytes: 256 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
            max_page_size: 500,
        }
    }
}

/// Limits of the key-value store; beyond them a clear error and nothing written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvConfig {
    /// Longest namespace, in characters (`A-Z a-z 0-9 _ - . :`).
    pub max_namespace_chars: usize,
    /// Longest key, in characters (any but control characters).
    pub max_key_chars: usize,
    /// Largest value, and largest metadata, as serialized JSON.
    pub max_value_bytes: usize,
    /// Most entries one user may keep, over all namespaces.
    pub max_entries_per_user: usize,
    /// How often expired entries are removed (they are invisible from the moment they expire).
    pub sweep_every: Duration,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            max_namespace_chars: 64,
            max_key_chars: 512,
            max_value_bytes: 64 * 1024,
            max_entries_per_user: 10_000,
            sweep_every: Duration::from_secs(60),
        }
    }
}

/// Where asset bytes live and how long the URLs to them last.
#[derive(Clone)]
pub struct AssetConfig {
    /// `file://PATH`, `memory://`, `s3://BUCKET`, `gs://BUCKET` or `az://CONTAINER`.
    pub store_url: String,
    /// Options for the store's builder (`aws_endpoint`, `aws_access_key_id`, ...), as
    /// `object_store` names them; `easel serve` takes them from `AWS_*`, `GOOGLE_*` and
    /// `AZURE_*` variables.
    pub store_options: Vec<(String, String)>,
    /// A folder inside the store that every key goes under.
    pub prefix: Option<String>,
    /// How long an upload URL works.
    pub upload_url_ttl: Duration,
    /// How long a download URL works.
    pub download_url_ttl: Duration,
    /// Largest asset accepted.
    pub max_upload_bytes: u64,
}

impl Default for AssetConfig {
    fn default() -> Self {
        AssetConfig {
            store_url: "file://./data/assets".to_owned(),
            store_options: Vec::new(),
            prefix: None,
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(60 * 60),
            max_upload_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for AssetConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Store options carry credentials: show their names only.
        let option_names: Vec<&str> = self.store_options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("AssetConfig")
            .field("store_url", &self.store_url)
            .field("store_options", &option_names)
            .field("prefix", &self.prefix)
            .field("upload_url_ttl", &self.upload_url_ttl)
            .field("download_url_ttl", &self.download_url_ttl)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .finish()
    }
}

/// Limits that keep one caller from starving the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbuseLimits {
    /// Deepest nesting of a query.
    pub max_depth: usize,
    /// Highest complexity of a query (each field selected counts one).
    pub max_complexity: usize,
    /// Most fields written in one document.
    pub max_fields: usize,
    /// Most aliases in one document.
    pub max_aliases: usize,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Requests per minute per user (or per client address when anonymous); 0 turns it off.
    pub rate_per_minute: u32,
    /// Requests a caller may make at once before the rate applies.
    pub rate_burst: u32,
    /// Longest a GraphQL request may run.
    pub request_timeout: Duration,
    /// Schema introspection (and GraphiQL); `None`: on in local mode, off in hosted mode.
    pub introspection: Option<bool>,
    /// Origins allowed by CORS; empty: no cross-origin access; `*`: any.
    pub cors_origins: Vec<String>,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        AbuseLimits {
            max_depth: 16,
            max_complexity: 1000,
            max_fields: 500,
            max_aliases: 30,
            max_batch: 10,
            rate_per_minute: 600,
            rate_burst: 60,
            request_timeout: Duration::from_secs(30),
            introspection: None,
            cors_origins: Vec::new(),
        }
    }
}

/// Live canvases: how much history subscribers can replay and how big one event may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    /// How long events are kept for replay (`sinceVersion`) ...
    pub history: Duration,
    /// ... and how many of each canvas's latest events are kept however old they are.
    pub history_min_events: u64,
    /// A write touching more nodes and edges than this is recorded as a marker, and subscribers
    /// get `Resync` for it instead of the items.
    pub max_event_items: usize,
    /// The same for an event whose JSON would be larger than this many bytes.
    pub max_event_bytes: usize,
    /// How often old events are pruned.
    pub prune_every: Duration,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            history: Duration::from_secs(24 * 60 * 60),
            history_min_events: 1000,
            max_event_items: 500,
            max_event_bytes: 1024 * 1024,
            prune_every: Duration::from_secs(10 * 60),
        }
    }
}

/// Everything `easel serve` needs to run. `Debug` shows whether secrets are set, not them.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://path` or `postgres://...`.
    pub database_url: String,
    /// Where to listen when the caller does not hand over a bound listener.
    pub listen: SocketAddr,
    /// Run pending migrations before serving.
    pub migrate: bool,
    /// Most database connections in the pool.
    pub db_max_connections: u32,
    pub limits: Limits,
    pub kv: KvConfig,
    pub assets: AssetConfig,
    /// Where Easel keeps its own files (the generated secret key).
    pub data_dir: PathBuf,
    /// The server secret (32 bytes, base64) that signs upload and download tokens; generated
    /// into `data_dir/secret.key` when not given. Replicas must share it.
    pub secret_key: Option<String>,
    /// Older secrets (base64), kept to open API keys sealed before `secret_key` replaced them.
    pub old_secret_keys: Vec<String>,
    /// The URL clients reach this server at, for the upload and download URLs it hands out;
    /// taken from each request's `Host` when not set.
    pub public_url: Option<String>,
    /// Hosted mode: how bearer tokens are verified. `None` is self-hosted mode, where every
    /// request acts as the one local user.
    pub jwt: Option<JwtConfig>,
    pub abuse: AbuseLimits,
    pub live: LiveConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: default_database_url(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            migrate: true,
            db_max_connections: 10,
            limits: Limits::default(),
            kv: KvConfig::default(),
            assets: AssetConfig::default(),
            data_dir: PathBuf::from("./data"),
            secret_key: None,
            old_secret_keys: Vec::new(),
            public_url: None,
            jwt: None,
            abuse: AbuseLimits::default(),
            live: LiveConfig::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &crate::app::redact(&self.database_url))
            .field("listen", &self.listen)
            .field("migrate", &self.migrate)
            .field("db_max_connections", &self.db_max_connections)
            .field("limits", &self.limits)
            .field("kv", &self.kv)
            .field("assets", &self.assets)
            .field("data_dir", &self.data_dir)
            .field("secret_key", &self.secret_key.as_ref().map(|_| ".."))
            .field("old_secret_keys", &self.old_secret_keys.len())
            .field("public_url", &self.public_url)
            .field("jwt", &self.jwt)
            .field("abuse", &self.abuse)
            .field("live", &self.live)
            .finish()
    }
}

/// The embedded default: a SQLite file under `./data`.
pub fn default_database_url() -> String {
    "sqlite://./data/easel.db".to_owned()
}

/// A setting that cannot be used, named as the operator wrote it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl Config {
    /// Checks the values that clap's parsers cannot check alone.
    pub fn validate(&self) -> Result<(), ConfigError> {
        database_kind(&self.database_url)?;
        let positive = [
            ("EASEL_MAX_NODES", self.limits.max_nodes),
            ("EASEL_MAX_EDGES", self.limits.max_edges),
            ("EASEL_MAX_NODE_DATA_BYTES", self.limits.max_node_data_bytes),
            ("EASEL_MAX_BODY_BYTES", self.limits.max_body_bytes),
            ("EASEL_MAX_PAGE_SIZE", self.limits.max_page_size),
            ("EASEL_DB_MAX_CONNECTIONS", self.db_max_connections as usize),
            ("EASEL_MAX_QUERY_DEPTH", self.abuse.max_depth),
            ("EASEL_MAX_QUERY_COMPLEXITY", self.abuse.max_complexity),
            ("EASEL_MAX_QUERY_FIELDS", self.abuse.max_fields),
            ("EASEL_MAX_BATCH", self.abuse.max_batch),
            ("EASEL_KV_MAX_NAMESPACE_CHARS", self.kv.max_namespace_chars),
            ("EASEL_KV_MAX_KEY_CHARS", self.kv.max_key_chars),
            ("EASEL_KV_MAX_VALUE_BYTES", self.kv.max_value_bytes),
            (
                "EASEL_KV_MAX_ENTRIES_PER_USER",
                self.kv.max_entries_per_user,
            ),
            (
                "EASEL_KV_SWEEP_EVERY",
                self.kv.sweep_every.as_millis() as usize,
            ),
            ("EASEL_LIVE_MAX_EVENT_BYTES", self.live.max_event_bytes),
        ];
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError {
                setting: "EASEL_PUBLIC_URL",
                message: format!("expected an http:// or https:// URL, got '{url}'"),
            });
        }
        if self.assets.max_upload_bytes == 0 {
            return Err(ConfigError {
                setting: "EASEL_MAX_UPLOAD_BYTES",
                message: "must be greater than 0".into(),
            });
        }
        for (setting, value) in positive {
            if value == 0 {
                return Err(ConfigError {
                    setting,
                    message: "must be greater than 0".into(),
                });
            }
        }
        Ok(())
    }
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// Tells the database from the URL's scheme, or says which schemes work.
pub fn database_kind(url: &str) -> Result<DatabaseKind, ConfigError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "sqlite" => Ok(DatabaseKind::Sqlite),
        "postgres" | "postgresql" => Ok(DatabaseKind::Postgres),
        _ => Err(ConfigError {
            setting: "DATABASE_URL",
            message: format!(
                "expected a sqlite:// or postgres:// URL, got scheme '{scheme}' \
                 (for example sqlite://./data/easel.db)"
            ),
        }),
    }
}

/// The database flags shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (folder created) or `postgres://USER@HOST/DB`.
    #[arg(long, global = true, env = "DATABASE_URL", default_value_t = default_database_url())]
    pub database_url: String,

    /// Most connections in the database pool.
    #[arg(
        long,
        global = true,
        env = "EASEL_DB_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub db_max_connections: u32,
}

/// The asset store flags shared by `serve` and `assets`.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where asset bytes live: file://PATH, memory://, s3://BUCKET, gs://BUCKET, az://CONTAINER.
    /// Credentials and endpoints come from the usual AWS_*, GOOGLE_* and AZURE_* variables.
    #[arg(
        long,
        global = true,
        env = "EASEL_ASSET_STORE",
        default_value = "file://./data/assets"
    )]
    pub asset_store: String,

    /// A folder inside the store that every asset key goes under.
    #[arg(long, global = true, env = "EASEL_ASSET_PREFIX")]
    pub asset_prefix: Option<String>,
}

impl StoreArgs {
    /// The store part of the asset configuration, other settings at their defaults.
    pub fn into_asset_config(self) -> AssetConfig {
        AssetConfig {
            store_url: self.asset_store,
            store_options: store_options_from_env(),
            prefix: self.asset_prefix,
            ..AssetConfig::default()
        }
    }
}

/// The server secret flags shared by `serve` and `keys`.
#[derive(Clone, Args)]
pub struct SecretArgs {
    /// Folder for Easel's own files (the generated secret key).
    #[arg(long, global = true, env = "EASEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// The secret that signs upload and download tokens and seals API keys: 32 bytes in base64.
    /// Generated into DATA_DIR/secret.key when not set; replicas must share one.
    #[arg(long, global = true, env = "EASEL_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// Older secrets, comma-separated base64, still used to open API keys sealed before the
    /// current secret replaced them (until `easel keys rotate` has re-sealed them).
    #[arg(
        long,
        global = true,
        env = "EASEL_OLD_SECRET_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub old_secret_keys: Vec<String>,
}

/// Shows which secrets are set, never their values.
impl std::fmt::Debug for SecretArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretArgs")
            .field("data_dir", &self.data_dir)
            .field("secret_key", &self.secret_key.as_ref().map(|_| ".."))
            .field("old_secret_keys", &self.old_secret_keys.len())
            .finish()
    }
}

/// Flags and environment variables of `easel serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Address to listen on; port 0 picks a free port (the log says which).
    #[arg(long, env = "EASEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Do not run pending migrations at start (run `easel migrate up` yourself).
    #[arg(long, env = "EASEL_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,

    /// Most nodes one canvas may hold.
    #[arg(long, env = "EASEL_MAX_NODES", default_value_t = Limits::default().max_nodes)]
    pub max_nodes: usize,

    /// Most edges one canvas may hold.
    #[arg(long, env = "EASEL_MAX_EDGES", default_value_t = Limits::default().max_edges)]
    pub max_edges: usize,

    /// Largest `data` of one node or edge, in bytes of JSON.
    #[arg(long, env = "EASEL_MAX_NODE_DATA_BYTES", default_value_t = Limits::default().max_node_data_bytes)]
    pub max_node_data_bytes: usize,

    /// Largest request body, in bytes.
    #[arg(long, env = "EASEL_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,

    /// Largest page (`first`) a list query may ask for.
    #[arg(long, env = "EASEL_MAX_PAGE_SIZE", default_value_t = Limits::default().max_page_size)]
    pub max_page_size: usize,

    #[command(flatten)]
    pub kv: KvArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    /// How long an upload URL works (e.g. 15m, 1h).
    #[arg(long, env = "EASEL_UPLOAD_URL_TTL", default_value = "15m", value_parser = humantime::parse_duration)]
    pub upload_url_ttl: Duration,

    /// How long a download URL works (e.g. 1h).
    #[arg(long, env = "EASEL_DOWNLOAD_URL_TTL", default_value = "1h", value_parser = humantime::parse_duration)]
    pub download_url_ttl: Duration,

    /// Largest asset accepted, in bytes.
    #[arg(long, env = "EASEL_MAX_UPLOAD_BYTES", default_value_t = AssetConfig::default().max_upload_bytes)]
    pub max_upload_bytes: u64,

    #[command(flatten)]
    pub secrets: SecretArgs,

    /// The URL clients reach this server at (e.g. https://easel.example.com), for the upload and
    /// download URLs it hands out. Default: the Host of each request.
    #[arg(long, env = "EASEL_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub auth: AuthArgs,

    #[command(flatten)]
    pub abuse: AbuseArgs,

    #[command(flatten)]
    pub live: LiveArgs,
}

/// Live-canvas flags.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// How long canvas events are kept for replay with `sinceVersion` (e.g. 24h).
    #[arg(long, env = "EASEL_LIVE_HISTORY", default_value = "24h", value_parser = humantime::parse_duration)]
    pub live_history: Duration,
    /// How many of each canvas's latest events are kept however old they are.
    #[arg(long, env = "EASEL_LIVE_HISTORY_MIN_EVENTS", default_value_t = LiveConfig::default().history_min_events)]
    pub live_history_min_events: u64,
    /// Writes touching more nodes and edges than this reach subscribers as `Resync`.
    #[arg(long, env = "EASEL_LIVE_MAX_EVENT_ITEMS", default_value_t = LiveConfig::default().max_event_items)]
    pub live_max_event_items: usize,
    /// Events larger than this many bytes of JSON reach subscribers as `Resync`.
    #[arg(long, env = "EASEL_LIVE_MAX_EVENT_BYTES", default_value_t = LiveConfig::default().max_event_bytes)]
    pub live_max_event_bytes: usize,
    /// How often old events are pruned (e.g. 10m).
    #[arg(long, env = "EASEL_LIVE_PRUNE_EVERY", default_value = "10m", value_parser = humantime::parse_duration)]
    pub live_prune_every: Duration,
}

impl LiveArgs {
    pub fn into_config(self) -> LiveConfig {
        LiveConfig {
            history: self.live_history,
            history_min_events: self.live_history_min_events,
            max_event_items: self.live_max_event_items,
            max_event_bytes: self.live_max_event_bytes,
            prune_every: self.live_prune_every,
        }
    }
}

/// Key-value store flags.
#[derive(Debug, Clone, Args)]
pub struct KvArgs {
    /// Longest key-value namespace, in characters.
    #[arg(long, env = "EASEL_KV_MAX_NAMESPACE_CHARS", default_value_t = KvConfig::default().max_namespace_chars)]
    pub kv_max_namespace_chars: usize,

    /// Longest key-value key, in characters.
    #[arg(long, env = "EASEL_KV_MAX_KEY_CHARS", default_value_t = KvConfig::default().max_key_chars)]
    pub kv_max_key_chars: usize,

    /// Largest key-value value (and metadata), in bytes of JSON.
    #[arg(long, env = "EASEL_KV_MAX_VALUE_BYTES", default_value_t = KvConfig::default().max_value_bytes)]
    pub kv_max_value_bytes: usize,

    /// Most key-value entries per user.
    #[arg(long, env = "EASEL_KV_MAX_ENTRIES_PER_USER", default_value_t = KvConfig::default().max_entries_per_user)]
    pub kv_max_entries_per_user: usize,

    /// How often expired key-value entries are removed (e.g. 1m).
    #[arg(long, env = "EASEL_KV_SWEEP_EVERY", default_value = "1m", value_parser = humantime::parse_duration)]
    pub kv_sweep_every: Duration,
}

impl KvArgs {
    pub fn into_config(self) -> KvConfig {
        KvConfig {
            max_namespace_chars: self.kv_max_namespace_chars,
            max_key_chars: self.kv_max_key_chars,
            max_value_bytes: self.kv_max_value_bytes,
            max_entries_per_user: self.kv_max_entries_per_user,
            sweep_every: self.kv_sweep_every,
        }
    }
}

/// Who may call: one local user, or users of an identity provider's JWTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Self-hosted: every request acts as the one local user.
    Local,
    /// Hosted: a bearer JWT names the user; requests without one are anonymous.
    Jwt,
}

/// Hosted-mode authentication flags.
#[derive(Clone, Args)]
pub struct AuthArgs {
    /// `local` (one implicit user) or `jwt` (hosted, multi-user).
    #[arg(long, env = "EASEL_AUTH", value_enum, default_value = "local")]
    pub auth: AuthMode,

    /// The same as `EASEL_AUTH=jwt` when true.
    #[arg(long, env = "HOSTED_MODE", default_value_t = false, action = clap::ArgAction::Set)]
    pub hosted_mode: bool,

    /// HMAC secret of HS256/384/512 tokens (at least 32 bytes).
    #[arg(long, env = "EASEL_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// PEM public key of RS*, PS*, ES* or EdDSA tokens.
    #[arg(long, env = "EASEL_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// JWKS document; the token's `kid` picks the key.
    #[arg(long, env = "EASEL_JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// Required `iss` claim.
    #[arg(long, env = "EASEL_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim.
    #[arg(long, env = "EASEL_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Clock difference forgiven on `exp` and `nbf`.
    #[arg(long, env = "EASEL_JWT_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub jwt_leeway: Duration,
}

impl std::fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthArgs")
            .field("auth", &self.auth)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| ".."))
            .field("jwt_public_key_file", &self.jwt_public_key_file)
            .field("jwt_jwks_file", &self.jwt_jwks_file)
            .finish_non_exhaustive()
    }
}

impl AuthArgs {
    /// The JWT configuration of hosted mode, `None` in local mode; hosted mode without exactly
    /// one key source refuses to start.
    pub fn into_jwt_config(self) -> Result<Option<JwtConfig>, ConfigError> {
        if self.auth == AuthMode::Local && !self.hosted_mode {
            return Ok(None);
        }
        let mut keys = Vec::new();
        if let Some(secret) = self.jwt_secret {
            keys.push(KeySource::Secret(secret));
        }
        if let Some(path) = self.jwt_public_key_file {
            keys.push(KeySource::PublicKeyFile(path));
        }
        if let Some(path) = self.jwt_jwks_file {
            keys.push(KeySource::JwksFile(path));
        }
        let key = match keys.len() {
            1 => keys.remove(0),
            0 => {
                return Err(ConfigError {
                    setting: "EASEL_AUTH",
                    message: "jwt mode needs a key: EASEL_JWT_SECRET, EASEL_JWT_PUBLIC_KEY_FILE or EASEL_JWT_JWKS_FILE".into(),
                });
            }
            _ => {
                return Err(ConfigError {
                    setting: "EASEL_AUTH",
                    message: "give one of EASEL_JWT_SECRET, EASEL_JWT_PUBLIC_KEY_FILE and EASEL_JWT_JWKS_FILE, not several".into(),
                });
            }
        };
        Ok(Some(JwtConfig {
            key,
            issuer: self.jwt_issuer,
            audience: self.jwt_audience,
            leeway_secs: self.jwt_leeway.as_secs(),
        }))
    }
}

/// Abuse-limit flags.
#[derive(Debug, Clone, Args)]
pub struct AbuseArgs {
    /// Deepest nesting of a query.
    #[arg(long, env = "EASEL_MAX_QUERY_DEPTH", default_value_t = AbuseLimits::default().max_depth)]
    pub max_query_depth: usize,
    /// Highest complexity of a query (each selected field counts one).
    #[arg(long, env = "EASEL_MAX_QUERY_COMPLEXITY", default_value_t = AbuseLimits::default().max_complexity)]
    pub max_query_complexity: usize,
    /// Most fields written in one query document.
    #[arg(long, env = "EASEL_MAX_QUERY_FIELDS", default_value_t = AbuseLimits::default().max_fields)]
    pub max_query_fields: usize,
    /// Most aliases in one query document.
    #[arg(long, env = "EASEL_MAX_QUERY_ALIASES", default_value_t = AbuseLimits::default().max_aliases)]
    pub max_query_aliases: usize,
    /// Most operations in one batched request.
    #[arg(long, env = "EASEL_MAX_BATCH", default_value_t = AbuseLimits::default().max_batch)]
    pub max_batch: usize,
    /// Requests per minute per user (per client address when anonymous); 0 turns it off.
    #[arg(long, env = "EASEL_RATE_LIMIT_PER_MINUTE", default_value_t = AbuseLimits::default().rate_per_minute)]
    pub rate_limit_per_minute: u32,
    /// Requests a caller may make at once before the rate applies.
    #[arg(long, env = "EASEL_RATE_LIMIT_BURST", default_value_t = AbuseLimits::default().rate_burst)]
    pub rate_limit_burst: u32,
    /// Longest a GraphQL request may run.
    #[arg(long, env = "EASEL_REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
    /// Schema introspection and GraphiQL: default on in local mode, off in jwt mode.
    #[arg(long, env = "EASEL_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,
    /// Origins allowed by CORS, comma-separated (`*` for any).
    #[arg(long, env = "EASEL_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

impl AbuseArgs {
    pub fn into_limits(self) -> AbuseLimits {
        AbuseLimits {
            max_depth: self.max_query_depth,
            max_complexity: self.max_query_complexity,
            max_fields: self.max_query_fields,
            max_aliases: self.max_query_aliases,
            max_batch: self.max_batch,
            rate_per_minute: self.rate_limit_per_minute,
            rate_burst: self.rate_limit_burst,
            request_timeout: self.request_timeout,
            introspection: self.introspection,
            cors_origins: self
                .cors_origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }
}

/// The object-store options in the environment: `AWS_*`, `GOOGLE_*` and `AZURE_*` variables,
/// lower-cased as `object_store` spells its configuration keys.
pub fn store_options_from_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| {
            key.starts_with("AWS_") || key.starts_with("GOOGLE_") || key.starts_with("AZURE_")
        })
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}

impl ServeArgs {
    /// The checked configuration these flags describe.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let config = Config {
            database_url: self.database.database_url,
            listen: self.listen,
            migrate: !self.skip_migrations,
            db_max_connections: self.database.db_max_connections,
            limits: Limits {
                max_nodes: self.max_nodes,
                max_edges: self.max_edges,
                max_node_data_bytes: self.max_node_data_bytes,
                max_body_bytes: self.max_body_bytes,
                max_page_size: self.max_page_size,
            },
            kv: self.kv.into_config(),
            assets: AssetConfig {
                upload_url_ttl: self.upload_url_ttl,
                download_url_ttl: self.download_url_ttl,
                max_upload_bytes: self.max_upload_bytes,
                ..self.store.into_asset_config()
            },
            data_dir: self.secrets.data_dir,
            secret_key: self.secrets.secret_key,
            old_secret_keys: self.secrets.old_secret_keys,
            public_url: self
                .public_url
                .map(|url| url.trim_end_matches('/').to_owned()),
            jwt: self.auth.into_jwt_config()?,
            abuse: self.abuse.into_limits(),
            live: self.live.into_config(),
        };
        config.validate()?;
        Ok(config)
    }
}

/// The folder a `sqlite://` URL's file lives in, to create before connecting.
pub fn sqlite_parent_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    PathBuf::from(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_database_scheme_names_the_setting() {
        let err = database_kind("mysql://localhost/db").unwrap_err();
        assert_eq!(err.setting, "DATABASE_URL");
        assert!(err.to_string().contains("mysql"), "{err}");
    }

    #[test]
    fn sqlite_parent_dir_is_found_for_relative_and_absolute_paths() {
        assert_eq!(
            sqlite_parent_dir("sqlite://./data/easel.db"),
            Some(PathBuf::from("./data"))
        );
        assert_eq!(
            sqlite_parent_dir("sqlite:///tmp/x/easel.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x"))
        );
        assert_eq!(sqlite_parent_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_parent_dir("sqlite://easel.db"), None);
    }

    #[test]
    fn zero_limits_are_refused() {
        let mut config = Config::default();
        config.limits.max_nodes = 0;
        assert_eq!(config.validate().unwrap_err().setting, "EASEL_MAX_NODES");
    }
}
