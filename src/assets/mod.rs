//! Assets: media whose bytes live in an object store and whose rows live in `assets`. The
//! client asks for an upload URL, PUTs the bytes there and confirms; completion checks size and
//! type before the asset is READY. Nothing here knows GraphQL.

pub mod cleanup;
mod media;
mod ops;
mod store;
mod token;
pub(crate) mod upload;

pub use media::{SNIFF_BYTES, allowed_types, canonical, check_head, check_type};
pub use ops::{AssetChanges, copy_asset, move_asset, update_asset};
pub use store::{AssetStore, StoreKind};
pub use token::{Action, Grant, TokenError, TokenSigner};
pub use upload::{StreamError, write_exact};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::asset::{self, AssetKind, AssetStatus};
use entity::canvas;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select,
};
use serde_json::Value;

use crate::auth::{Actor, ensure_user};
use crate::canvas::check_item_id;
use crate::config::AssetConfig;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::pagination::{Cursor, Page, fetch_page};
use crate::time::now;

/// Longest filename kept, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;
/// Largest `metadata` of an asset, as JSON.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Longest external URL.
pub const MAX_URL_CHARS: usize = 4096;

/// What the asset functions need besides the database.
#[derive(Clone, Debug)]
pub struct Assets {
    pub store: AssetStore,
    pub tokens: TokenSigner,
    pub config: AssetConfig,
}

/// An asset to be uploaded.
#[derive(Debug, Clone)]
pub struct NewAsset {
    pub canvas_id: Option<String>,
    pub node_id: Option<String>,
    pub kind: AssetKind,
    pub filename: Option<String>,
    pub mime_type: String,
    pub size_bytes: i64,
    pub metadata: Option<Value>,
}

/// Media that stays on a provider's CDN.
#[derive(Debug, Clone)]
pub struct ExternalAsset {
    pub canvas_id: Option<String>,
    pub node_id: Option<String>,
    pub kind: AssetKind,
    pub url: String,
    pub filename: Option<String>,
    pub mime_type: String,
    pub size_bytes: Option<i64>,
    pub metadata: Option<Value>,
}

/// Where and how the client sends the bytes of an upload.
#[derive(Debug, Clone)]
pub struct UploadTarget {
    pub url: String,
    pub method: &'static str,
    /// Headers the client must send as given (the content type is part of the signature).
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

fn unix_after(ttl: std::time::Duration) -> (DateTime<Utc>, i64) {
    let at = now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1));
    (at, at.timestamp())
}

/// The fields every new asset is described by, checked alike for every way in.
struct Described<'a> {
    canvas_id: Option<&'a str>,
    node_id: Option<&'a str>,
    kind: AssetKind,
    filename: Option<&'a str>,
    mime_type: &'a str,
    metadata: Option<&'a Value>,
}

/// Checks what every new asset must satisfy; the canonical media type.
async fn check_new(
    db: &impl ConnectionTrait,
    actor: &Actor,
    described: Described<'_>,
) -> Result<String> {
    let Described {
        canvas_id,
        node_id,
        kind,
        filename,
        mime_type,
        metadata,
    } = described;
    let owner = actor.user_id()?;
    if let Some(canvas_id) = canvas_id {
        check_own_canvas(db, owner, canvas_id).await?;
    }
    check_description(node_id, filename, metadata)?;
    check_type(kind, mime_type).map_err(|why| Error::bad_input("input.mimeType", why))
}

/// `NOT_FOUND` unless `canvas_id` is a canvas of `owner`.
async fn check_own_canvas(db: &impl ConnectionTrait, owner: &str, canvas_id: &str) -> Result<()> {
    let own = canvas::Entity::find_by_id(canvas_id.to_owned())
        .one(db)
        .await?
        .is_some_and(|c| c.owner_id == owner);
    if !own {
        return Err(Error::not_found("canvas", canvas_id));
    }
    Ok(())
}

/// Checks the fields that describe an asset and may change later: its node, filename and
/// metadata.
fn check_description(
    node_id: Option<&str>,
    filename: Option<&str>,
    metadata: Option<&Value>,
) -> Result<()> {
    if let Some(node_id) = node_id {
        check_item_id("input.nodeId", node_id)?;
    }
    if let Some(filename) = filename {
        if filename.chars().count() > MAX_FILENAME_CHARS {
            return Err(Error::bad_input(
                "input.filename",
                format!("is longer than {MAX_FILENAME_CHARS} characters"),
            ));
        }
        if filename.chars().any(char::is_control) {
            return Err(Error::bad_input(
                "input.filename",
                "must not contain control characters",
            ));
        }
    }
    if let Some(metadata) = metadata {
        let size = serde_json::to_vec(metadata).map_or(usize::MAX, |b| b.len());
        if size > MAX_METADATA_BYTES {
            return Err(Error::bad_input(
                "input.metadata",
                format!("is {size} bytes of JSON, more than the limit of {MAX_METADATA_BYTES}"),
            ));
        }
    }
    Ok(())
}

/// Checks an upload against the limits before anything is stored; the canonical media type.
async fn check_upload(
    db: &impl ConnectionTrait,
    assets: &Assets,
    actor: &Actor,
    input: &NewAsset,
) -> Result<String> {
    check_size(input.size_bytes, assets.config.max_upload_bytes)?;
    check_new(
        db,
        actor,
        Described {
            canvas_id: input.canvas_id.as_deref(),
            node_id: input.node_id.as_deref(),
            kind: input.kind,
            filename: input.filename.as_deref(),
            mime_type: &input.mime_type,
            metadata: input.metadata.as_ref(),
        },
    )
    .await
}

fn check_size(size: i64, limit: u64) -> Result<()> {
    if size <= 0 {
        return Err(Error::bad_input(
            "input.sizeBytes",
            "must be greater than 0",
        ));
    }
    if size as u64 > limit {
        return Err(Error::PayloadTooLarge {
            what: format!("an asset of {size} bytes"),
            limit: limit as usize,
        });
    }
    Ok(())
}

async fn insert_pending(
    db: &DatabaseConnection,
    assets: &Assets,
    owner: &str,
    input: &NewAsset,
    mime_type: String,
) -> Result<asset::Model> {
    let id = uuid::Uuid::now_v7().to_string();
    let key = assets
        .store
        .key(owner, input.canvas_id.as_deref(), &id)
        .to_string();
    let model = asset::Model {
        id,
        owner_id: owner.to_owned(),
        canvas_id: input.canvas_id.clone(),
        node_id: input.node_id.clone(),
        kind: input.kind,
        status: AssetStatus::Pending,
        filename: input.filename.clone(),
        mime_type,
        size_bytes: input.size_bytes,
        object_key: Some(key),
        external_url: None,
        metadata: input.metadata.clone(),
        created_at: now(),
    };
    insert_row(db, model).await
}

/// Inserts an asset row (and its owner's user row, on first sight) in one transaction.
async fn insert_row(db: &DatabaseConnection, model: asset::Model) -> Result<asset::Model> {
    let txn = begin_write(db).await?;
    ensure_user(&txn, &model.owner_id).await?;
    asset::Entity::insert(asset::ActiveModel::from(model.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(model)
}

/// Creates a PENDING asset and the URL its bytes go to. Limits are checked before anything is
/// stored.
pub async fn create_upload(
    db: &DatabaseConnection,
    assets: &Assets,
    actor: &Actor,
    input: NewAsset,
    base_url: &str,
) -> Result<(asset::Model, UploadTarget)> {
    let owner = actor.user_id()?.to_owned();
    let mime = check_upload(db, assets, actor, &input).await?;
    let asset = insert_pending(db, assets, &owner, &input, mime).await?;
    let target = upload_target(assets, &asset, base_url).await?;
    Ok((asset, target))
}

async fn upload_target(
    assets: &Assets,
    asset: &asset::Model,
    base_url: &str,
) -> Result<UploadTarget> {
    let key = asset.object_key.as_deref().unwrap_or_default();
    let staging = AssetStore::staging_key(key);
    let ttl = assets.config.upload_url_ttl;
    let (expires_at, expires_unix) = unix_after(ttl);
    let headers = vec![("Content-Type".to_owned(), asset.mime_type.clone())];
    let url = match assets
        .store
        .presign(http::Method::PUT, &staging, ttl, Some(&asset.mime_type))
        .await
    {
        Some(signed) => signed.map_err(Error::internal)?.to_string(),
        None => {
            let token = assets.tokens.sign(&Grant {
                action: Action::Upload,
                asset_id: asset.id.clone(),
                owner_id: asset.owner_id.clone(),
                key: key.to_owned(),
                content_type: asset.mime_type.clone(),
                size: asset.size_bytes as u64,
                filename: None,
                expires_at: expires_unix,
            });
            format!("{base_url}/uploads/{token}")
        }
    };
    Ok(UploadTarget {
        url,
        method: "PUT",
        headers,
        expires_at,
    })
}

async fn find_own(db: &impl ConnectionTrait, actor: &Actor, id: &str) -> Result<asset::Model> {
    let owner = actor.user_id()?;
    asset::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|a| a.owner_id == owner)
        .ok_or_else(|| Error::not_found("asset", id))
}

/// Checks an upload and makes the asset READY: the object must exist, have the declared size
/// and start with bytes of the declared type. A mismatch marks the asset FAILED, deletes the
/// object and says why.
pub async fn complete_upload(
    db: &DatabaseConnection,
    assets: &Assets,
    actor: &Actor,
    id: &str,
) -> Result<asset::Model> {
    let asset = find_own(db, actor, id).await?;
    match asset.status {
        AssetStatus::Ready => return Ok(asset),
        AssetStatus::Failed => {
            return Err(Error::bad_input(
                "id",
                "this asset failed its checks; create a new upload",
            ));
        }
        AssetStatus::Pending => {}
    }
    let Some(key) = asset.object_key.clone() else {
        return Err(Error::bad_input(
            "id",
            "an external asset has nothing to complete",
        ));
    };
    let staging = AssetStore::staging_key(&key);
    let store = assets.store.inner();
    let meta = match store.head(&staging).await {
        Ok(meta) => meta,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Error::bad_input(
                "id",
                "no bytes have been uploaded for this asset yet; PUT them to the upload URL first",
            ));
        }
        Err(err) => return Err(Error::internal(err)),
    };
    if meta.size != asset.size_bytes as u64 {
        let why = format!(
            "{} bytes were uploaded, but the asset was declared with {}",
            meta.size, asset.size_bytes
        );
        return Err(fail(db, assets, &asset, &staging, why).await);
    }
    let head = store
        .get_range(&staging, 0..meta.size.min(SNIFF_BYTES))
        .await
        .map_err(Error::internal)?;
    if let Err(why) = check_head(&asset.mime_type, &head) {
        return Err(fail(db, assets, &asset, &staging, why).await);
    }
    store
        .rename(&staging, &Path::from(key.as_str()))
        .await
        .map_err(Error::internal)?;
    set_status(db, &asset.id, AssetStatus::Ready).await?;
    Ok(asset::Model {
        status: AssetStatus::Ready,
        ..asset
    })
}

async fn set_status(db: &impl ConnectionTrait, id: &str, status: AssetStatus) -> Result<()> {
    asset::Entity::update_many()
        .col_expr(
            asset::Column::Status,
            sea_orm::sea_query::Expr::value(status),
        )
        .filter(asset::Column::Id.eq(id))
        .filter(asset::Column::Status.eq(AssetStatus::Pending))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks an asset FAILED and removes its upload; the error that says why.
async fn fail(
    db: &DatabaseConnection,
    assets: &Assets,
    asset: &asset::Model,
    staging: &Path,
    why: String,
) -> Error {
    if let Err(err) = set_status(db, &asset.id, AssetStatus::Failed).await {
        return err;
    }
    if let Err(err) = assets.store.delete(staging).await {
        tracing::warn!(key = %staging, error = %err, "could not remove a refused upload");
    }
    Error::bad_input(
        "id",
        format!("upload refused: {why}; the asset is now FAILED"),
    )
}

/// Stores a small file sent inline (a GraphQL multipart upload) and completes it at once.
pub async fn upload_inline(
    db: &DatabaseConnection,
    assets: &Assets,
    actor: &Actor,
    input: NewAsset,
    bytes: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send,
) -> Result<asset::Model> {
    let owner = actor.user_id()?.to_owned();
    let mime = check_upload(db, assets, actor, &input).await?;
    let asset = insert_pending(db, assets, &owner, &input, mime).await?;
    let key = asset.object_key.as_deref().unwrap_or_default();
    let staging = AssetStore::staging_key(key);
    match write_exact(
        assets.store.inner().as_ref(),
        &staging,
        bytes,
        asset.size_bytes as u64,
    )
    .await
    {
        Ok(_) => {}
        Err(StreamError::Store(err)) => return Err(Error::internal(err)),
        Err(other) => return Err(Error::bad_input("file", other.to_string())),
    }
    complete_upload(db, assets, actor, &asset.id).await
}

/// Records media that stays on a provider's CDN; READY at once.
pub async fn register_external(
    db: &DatabaseConnection,
    actor: &Actor,
    input: ExternalAsset,
) -> Result<asset::Model> {
    let owner = actor.user_id()?.to_owned();
    let mime = check_new(
        db,
        actor,
        Described {
            canvas_id: input.canvas_id.as_deref(),
            node_id: input.node_id.as_deref(),
            kind: input.kind,
            filename: input.filename.as_deref(),
            mime_type: &input.mime_type,
            metadata: input.metadata.as_ref(),
        },
    )
    .await?;
    let parsed = url::Url::parse(&input.url)
        .map_err(|e| Error::bad_input("input.url", format!("is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || input.url.len() > MAX_URL_CHARS {
        return Err(Error::bad_input(
            "input.url",
            format!("must be an http or https URL of at most {MAX_URL_CHARS} characters"),
        ));
    }
    if let Some(size) = input.size_bytes
        && size < 0
    {
        return Err(Error::bad_input("input.sizeBytes", "must not be negative"));
    }
    let model = asset::Model {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.clone(),
        canvas_id: input.canvas_id,
        node_id: input.node_id,
        kind: input.kind,
        status: AssetStatus::Ready,
        filename: input.filename,
        mime_type: mime,
        size_bytes: input.size_bytes.unwrap_or(0),
        object_key: None,
        external_url: Some(input.url),
        metadata: input.metadata,
        created_at: now(),
    };
    insert_row(db, model).await
}

/// Deletes an asset; its object is removed after the commit (and retried until it is).
pub async fn delete_asset(
    db: &DatabaseConnection,
    assets: &Assets,
    actor: &Actor,
    id: &str,
) -> Result<()> {
    let txn = begin_write(db).await?;
    let asset = find_own(&txn, actor, id).await?;
    let keys = cleanup::keys_of(std::slice::from_ref(&asset));
    cleanup::schedule(&txn, &keys).await?;
    asset::Entity::delete_by_id(asset.id).exec(&txn).await?;
    txn.commit().await?;
    cleanup::remove(db, &assets.store, &keys).await;
    Ok(())
}

/// The asset if the actor may read it: their own, or a READY asset of a public canvas or a
/// template.
pub async fn find_readable(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: &str,
) -> Result<Option<asset::Model>> {
    let Some(asset) = asset::Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    if actor.is(&asset.owner_id) {
        return Ok(Some(asset));
    }
    if asset.status != AssetStatus::Ready {
        return Ok(None);
    }
    let Some(canvas_id) = asset.canvas_id.as_deref() else {
        return Ok(None);
    };
    let shared = crate::canvas::find_readable(db, actor, canvas_id)
        .await?
        .is_some();
    Ok(shared.then_some(asset))
}

/// Which assets a list shows.
#[derive(Debug, Clone, Default)]
pub struct AssetFilter {
    pub canvas_id: Option<String>,
    pub kind: Option<AssetKind>,
}

/// One page of assets, newest first.
pub type AssetPage = Page<asset::Model>;

/// The query behind a list: the actor's assets, or the READY assets of a canvas they may read.
async fn listed(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &AssetFilter,
) -> Result<Option<Select<asset::Entity>>> {
    let mut query = asset::Entity::find();
    match filter.canvas_id.as_deref() {
        Some(canvas_id) => {
            let Some(canvas) = crate::canvas::find_readable(db, actor, canvas_id).await? else {
                return Ok(None);
            };
            query = query.filter(asset::Column::CanvasId.eq(canvas_id));
            if !actor.is(&canvas.owner_id) {
                query = query.filter(asset::Column::Status.eq(AssetStatus::Ready));
            }
        }
        None => query = query.filter(asset::Column::OwnerId.eq(actor.user_id()?)),
    }
    if let Some(kind) = filter.kind {
        query = query.filter(asset::Column::Kind.eq(kind));
    }
    Ok(Some(query))
}

/// A page of assets, newest first.
pub async fn list_assets(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &AssetFilter,
    first: usize,
    after: Option<Cursor>,
) -> Result<AssetPage> {
    let Some(query) = listed(db, actor, filter).await? else {
        return Ok(Page::empty(after.is_some()));
    };
    fetch_page(
        db,
        query,
        asset::Column::CreatedAt,
        asset::Column::Id,
        first,
        after,
    )
    .await
}

/// How many assets a list holds.
pub async fn count_assets(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &AssetFilter,
) -> Result<u64> {
    match listed(db, actor, filter).await? {
        Some(query) => Ok(query.count(db).await?),
        None => Ok(0),
    }
}

/// Where an asset sits in a list.
pub fn cursor_of(asset: &asset::Model) -> Cursor {
    Cursor {
        at: asset.created_at,
        id: asset.id.clone(),
    }
}

/// The assets of several canvases in one query, newest first.
pub async fn assets_of_canvases(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<HashMap<String, Vec<asset::Model>>> {
    let rows = asset::Entity::find()
        .filter(asset::Column::CanvasId.is_in(canvas_ids.iter().cloned()))
        .order_by_desc(asset::Column::CreatedAt)
        .order_by_desc(asset::Column::Id)
        .all(db)
        .await?;
    let mut by_canvas: HashMap<String, Vec<asset::Model>> = HashMap::new();
    for row in rows {
        if let Some(canvas_id) = row.canvas_id.clone() {
            by_canvas.entry(canvas_id).or_default().push(row);
        }
    }
    Ok(by_canvas)
}

/// A URL the asset's bytes download from, valid for the configured time: the provider's URL of
/// an external asset, a presigned URL, or one to Easel's `/files`. `None` unless READY.
pub async fn download_url(
    assets: &Assets,
    asset: &asset::Model,
    base_url: &str,
) -> Result<Option<String>> {
    if asset.status != AssetStatus::Ready {
        return Ok(None);
    }
    if let Some(url) = &asset.external_url {
        return Ok(Some(url.clone()));
    }
    let Some(key) = asset.object_key.as_deref() else {
        return Ok(None);
    };
    let ttl = assets.config.download_url_ttl;
    let path = Path::from(key);
    if let Some(signed) = assets
        .store
        .presign(http::Method::GET, &path, ttl, None)
        .await
    {
        return Ok(Some(signed.map_err(Error::internal)?.to_string()));
    }
    let (_, expires_at) = unix_after(ttl);
    let token = assets.tokens.sign(&Grant {
        action: Action::Download,
        asset_id: asset.id.clone(),
        owner_id: asset.owner_id.clone(),
        key: key.to_owned(),
        content_type: asset.mime_type.clone(),
        size: asset.size_bytes as u64,
        filename: asset.filename.clone(),
        expires_at,
    });
    Ok(Some(format!("{base_url}/files/{token}")))
}

/// Writes a small object directly; for tests and imports.
pub async fn put_bytes(store: &AssetStore, key: &Path, bytes: bytes::Bytes) -> Result<()> {
    store
        .inner()
        .put(key, PutPayload::from(bytes))
        .await
        .map_err(Error::internal)?;
    Ok(())
}
