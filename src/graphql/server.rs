//! `serverInfo`: the server's version, engines, modes and the limits a client must respect.

use async_graphql::{Context, Enum, Object, SimpleObject};

use super::asset::BigInt;
use super::{Shared, request};
use crate::assets::StoreKind;
use crate::config::{AuthMode as ConfigAuthMode, DatabaseKind as ConfigDatabaseKind};
use crate::info::{self as domain};

type Result<T> = async_graphql::Result<T>;

/// The database Easel keeps its rows in.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// Where asset bytes live.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AssetStoreKind {
    /// A folder on the server.
    File,
    /// The server's memory (gone at restart).
    Memory,
    /// S3 or an S3-compatible service.
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

/// Who may call.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AuthMode {
    /// Self-hosted: every request is the one local user.
    Local,
    /// Hosted: users sign in with an identity provider's JWTs.
    Jwt,
}

/// The asset store.
#[derive(SimpleObject)]
pub struct AssetStoreInfo {
    pub kind: AssetStoreKind,
    /// The bucket (or Azure container) of a cloud store; null for a folder or memory.
    pub bucket: Option<String>,
    /// Whether upload and download URLs point at the store itself (presigned) rather than at
    /// Easel.
    pub presigned_urls: bool,
}

/// The limits this server enforces; beyond them a request is refused and nothing is written.
#[derive(SimpleObject)]
pub struct ServerLimits {
    /// Most nodes a canvas may hold.
    pub max_nodes: u64,
    /// Most edges a canvas may hold.
    pub max_edges: u64,
    /// Largest `data` of one node or edge, in bytes of JSON.
    pub max_node_data_bytes: u64,
    /// Largest HTTP request body, in bytes.
    pub max_body_bytes: BigInt,
    /// Largest `first` of a list.
    pub max_page_size: u64,
    /// Largest asset, in bytes.
    pub max_upload_bytes: BigInt,
    /// How long an upload URL works, in seconds.
    pub upload_url_ttl_seconds: u64,
    /// How long a download URL works, in seconds.
    pub download_url_ttl_seconds: u64,
    /// Longest key-value namespace, in characters.
    pub kv_max_namespace_chars: u64,
    /// Longest key-value key, in characters.
    pub kv_max_key_chars: u64,
    /// Largest key-value value (and metadata), in bytes of JSON.
    pub kv_max_value_bytes: u64,
    /// Most key-value entries a user may keep.
    pub kv_max_entries_per_user: u64,
}

/// What a client may know about this server. Nothing secret.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// Easel's version.
    pub version: String,
    pub database: DatabaseKind,
    pub asset_store: AssetStoreInfo,
    pub auth_mode: AuthMode,
    pub limits: ServerLimits,
}

fn big(n: impl TryInto<i64>) -> BigInt {
    BigInt(n.try_into().unwrap_or(i64::MAX))
}

impl From<&domain::ServerInfo> for ServerInfo {
    fn from(info: &domain::ServerInfo) -> Self {
        ServerInfo {
            version: info.version.to_owned(),
            database: match info.database {
                ConfigDatabaseKind::Sqlite => DatabaseKind::Sqlite,
                ConfigDatabaseKind::Postgres => DatabaseKind::Postgres,
            },
            asset_store: AssetStoreInfo {
                kind: match info.store {
                    StoreKind::File => AssetStoreKind::File,
                    StoreKind::Memory => AssetStoreKind::Memory,
                    StoreKind::S3 => AssetStoreKind::S3,
                    StoreKind::Gcs => AssetStoreKind::Gcs,
                    StoreKind::Azure => AssetStoreKind::Azure,
                },
                bucket: info.bucket.clone(),
                presigned_urls: info.presigned_urls,
            },
            auth_mode: match info.auth {
                ConfigAuthMode::Local => AuthMode::Local,
                ConfigAuthMode::Jwt => AuthMode::Jwt,
            },
            limits: ServerLimits {
                max_nodes: info.limits.max_nodes as u64,
                max_edges: info.limits.max_edges as u64,
                max_node_data_bytes: info.limits.max_node_data_bytes as u64,
                max_body_bytes: big(info.limits.max_body_bytes),
                max_page_size: info.limits.max_page_size as u64,
                max_upload_bytes: big(info.max_upload_bytes),
                upload_url_ttl_seconds: info.upload_url_ttl.as_secs(),
                download_url_ttl_seconds: info.download_url_ttl.as_secs(),
                kv_max_namespace_chars: info.kv.max_namespace_chars as u64,
                kv_max_key_chars: info.kv.max_key_chars as u64,
                kv_max_value_bytes: info.kv.max_value_bytes as u64,
                kv_max_entries_per_user: info.kv.max_entries_per_user as u64,
            },
        }
    }
}

#[derive(Default)]
pub struct ServerQuery;

#[Object]
impl ServerQuery {
    /// This server's version, database, asset store, authentication mode and limits. In jwt
    /// mode for signed-in callers only.
    async fn server_info(&self, ctx: &Context<'_>) -> Result<ServerInfo> {
        let req = request(ctx);
        let info = &ctx.data_unchecked::<Shared>().info;
        Ok(domain::server_info(info, req.actor)?.into())
    }
}
