//! What a client may know about the server it talks to: the version, which engines and modes it
//! runs, and the limits it enforces. Nothing secret: no URLs with credentials, no paths, no keys.

use std::time::Duration;

use crate::assets::{AssetStore, StoreKind};
use crate::auth::Actor;
use crate::config::{AssetConfig, AuthMode, Config, DatabaseKind, KvConfig, Limits, database_kind};
use crate::error::Result;

/// The facts `serverInfo` shows, gathered once at start.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Easel's version, from Cargo.
    pub version: &'static str,
    pub database: DatabaseKind,
    pub store: StoreKind,
    /// The bucket (or Azure container) of a cloud store.
    pub bucket: Option<String>,
    /// Whether upload and download URLs go to the store directly (presigned).
    pub presigned_urls: bool,
    pub auth: AuthMode,
    pub limits: Limits,
    pub kv: KvConfig,
    pub max_upload_bytes: u64,
    pub upload_url_ttl: Duration,
    pub download_url_ttl: Duration,
}

impl ServerInfo {
    /// The facts of a checked configuration and the store it opened.
    pub fn new(config: &Config, store: &AssetStore) -> Self {
        let AssetConfig {
            max_upload_bytes,
            upload_url_ttl,
            download_url_ttl,
            ..
        } = config.assets;
        ServerInfo {
            version: env!("CARGO_PKG_VERSION"),
            database: database_kind(&config.database_url).unwrap_or(DatabaseKind::Sqlite),
            store: store.kind(),
            bucket: store.bucket().map(str::to_owned),
            presigned_urls: store.presigns(),
            auth: if config.jwt.is_some() {
                AuthMode::Jwt
            } else {
                AuthMode::Local
            },
            limits: config.limits.clone(),
            kv: config.kv.clone(),
            max_upload_bytes,
            upload_url_ttl,
            download_url_ttl,
        }
    }
}

/// The server's facts, for a signed-in caller (anyone in self-hosted mode, where every caller is
/// the local user); `UNAUTHENTICATED` for an anonymous one.
pub fn server_info<'a>(info: &'a ServerInfo, actor: &Actor) -> Result<&'a ServerInfo> {
    actor.user_id()?;
    Ok(info)
}
