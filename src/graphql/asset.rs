//! Assets in GraphQL: types, inputs, and their thin resolvers.

use async_graphql::{
    ComplexObject, Context, Enum, ID, InputObject, InputValueError, InputValueResult, Json,
    MaybeUndefined, Object, Scalar, ScalarType, SimpleObject, Upload, Value as GqlValue,
};
use chrono::{DateTime, Utc};
use entity::asset::{self as asset_row, AssetKind as RowKind, AssetStatus as RowStatus};
use serde_json::Value;

use super::connection::{PageInfo, paged};
use super::{page_size, request};
use crate::assets::{self as domain, AssetChanges, AssetFilter, ExternalAsset, NewAsset};
use crate::canvas::Patch;
use crate::error::Error;
use crate::pagination::Cursor;

type Result<T> = async_graphql::Result<T>;

/// A whole number up to 2^63 - 1, such as a size in bytes. Sent as a JSON number (exact in
/// JavaScript up to 2^53, 8 PiB); accepted as a number or a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BigInt(pub i64);

#[Scalar]
impl ScalarType for BigInt {
    fn parse(value: GqlValue) -> InputValueResult<Self> {
        match &value {
            GqlValue::Number(n) => n
                .as_i64()
                .map(BigInt)
                .ok_or_else(|| InputValueError::custom("expected a whole number")),
            GqlValue::String(s) => s
                .parse()
                .map(BigInt)
                .map_err(|_| InputValueError::custom("expected a string of digits")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> GqlValue {
        GqlValue::Number(self.0.into())
    }
}

/// What an asset holds.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AssetKind {
    Image,
    Video,
    Audio,
    File,
}

impl From<AssetKind> for RowKind {
    fn from(kind: AssetKind) -> Self {
        match kind {
            AssetKind::Image => RowKind::Image,
            AssetKind::Video => RowKind::Video,
            AssetKind::Audio => RowKind::Audio,
            AssetKind::File => RowKind::File,
        }
    }
}

impl From<RowKind> for AssetKind {
    fn from(kind: RowKind) -> Self {
        match kind {
            RowKind::Image => AssetKind::Image,
            RowKind::Video => AssetKind::Video,
            RowKind::Audio => AssetKind::Audio,
            RowKind::File => AssetKind::File,
        }
    }
}

/// Where an asset is in its life.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum AssetStatus {
    /// Waiting for its bytes and `completeAssetUpload`.
    Pending,
    /// Checked and downloadable.
    Ready,
    /// Refused at completion (wrong size or type); its bytes are gone.
    Failed,
}

impl From<RowStatus> for AssetStatus {
    fn from(status: RowStatus) -> Self {
        match status {
            RowStatus::Pending => AssetStatus::Pending,
            RowStatus::Ready => AssetStatus::Ready,
            RowStatus::Failed => AssetStatus::Failed,
        }
    }
}

/// A media file: generated, uploaded, or kept on a provider's CDN.
pub struct Asset(pub asset_row::Model);

#[Object]
impl Asset {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn canvas_id(&self) -> Option<ID> {
        self.0.canvas_id.clone().map(ID)
    }

    /// The node the asset belongs to, if any.
    async fn node_id(&self) -> Option<ID> {
        self.0.node_id.clone().map(ID)
    }

    async fn kind(&self) -> AssetKind {
        self.0.kind.into()
    }

    async fn status(&self) -> AssetStatus {
        self.0.status.into()
    }

    async fn filename(&self) -> Option<&str> {
        self.0.filename.as_deref()
    }

    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }

    /// Size in bytes (0 when an external asset did not say).
    async fn size_bytes(&self) -> BigInt {
        BigInt(self.0.size_bytes)
    }

    /// A download URL that expires (`EASEL_DOWNLOAD_URL_TTL`); the provider's URL for an
    /// external asset; null unless READY.
    async fn url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let req = request(ctx);
        Ok(domain::download_url(req.assets, &self.0, req.base_url).await?)
    }

    /// The provider's URL of an external asset.
    async fn external_url(&self) -> Option<&str> {
        self.0.external_url.as_deref()
    }

    async fn metadata(&self) -> Option<Json<&Value>> {
        self.0.metadata.as_ref().map(Json)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A request header, for the client to send as given.
#[derive(SimpleObject)]
pub struct HttpHeader {
    pub name: String,
    pub value: String,
}

/// Where to send an asset's bytes: PUT them to `uploadUrl` with `headers`, then call
/// `completeAssetUpload`.
#[derive(SimpleObject)]
pub struct AssetUpload {
    pub asset: Asset,
    pub upload_url: String,
    pub method: String,
    pub headers: Vec<HttpHeader>,
    pub expires_at: DateTime<Utc>,
}

/// An asset to upload.
#[derive(InputObject)]
pub struct CreateAssetUploadInput {
    /// A canvas of yours the asset belongs to.
    pub canvas_id: Option<ID>,
    pub node_id: Option<ID>,
    pub kind: AssetKind,
    pub filename: Option<String>,
    /// One of the types accepted for the kind; the bytes are checked against it.
    pub mime_type: String,
    /// The exact size; completion checks it.
    pub size_bytes: BigInt,
    pub metadata: Option<Json<Value>>,
}

/// A small file sent inline, as a GraphQL multipart request.
#[derive(InputObject)]
pub struct UploadAssetInput {
    pub canvas_id: Option<ID>,
    pub node_id: Option<ID>,
    pub kind: AssetKind,
    /// Defaults to the uploaded file's name.
    pub filename: Option<String>,
    /// Defaults to the uploaded file's content type.
    pub mime_type: Option<String>,
    pub metadata: Option<Json<Value>>,
}

/// Media that stays on a provider's CDN.
#[derive(InputObject)]
pub struct RegisterExternalAssetInput {
    pub canvas_id: Option<ID>,
    pub node_id: Option<ID>,
    pub kind: AssetKind,
    /// An http or https URL.
    pub url: String,
    pub filename: Option<String>,
    pub mime_type: String,
    pub size_bytes: Option<BigInt>,
    pub metadata: Option<Json<Value>>,
}

/// Changes to an asset's description; fields left out keep their value, null clears them.
#[derive(InputObject)]
pub struct UpdateAssetInput {
    /// At most 255 characters, no control characters.
    pub filename: MaybeUndefined<String>,
    /// Replaces the metadata whole; at most 64 KiB of JSON.
    pub metadata: MaybeUndefined<Json<Value>>,
    /// The node of its canvas the asset belongs to.
    pub node_id: MaybeUndefined<ID>,
}

fn patch<T, U>(value: MaybeUndefined<T>, into: impl FnOnce(T) -> U) -> Patch<U> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(into(v)),
    }
}

/// An asset in a list, with the cursor to page on from it.
#[derive(SimpleObject)]
pub struct AssetEdge {
    pub cursor: String,
    pub node: Asset,
}

/// A page of assets, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AssetConnection {
    pub edges: Vec<AssetEdge>,
    pub nodes: Vec<Asset>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: AssetFilter,
}

#[ComplexObject]
impl AssetConnection {
    /// Assets in the whole list, not only this page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let req = request(ctx);
        Ok(domain::count_assets(req.db, req.actor, &self.filter).await?)
    }
}

#[derive(Default)]
pub struct AssetQuery;

#[Object]
impl AssetQuery {
    /// An asset you can read, or null.
    async fn asset(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Asset>> {
        let req = request(ctx);
        Ok(domain::find_readable(req.db, req.actor, &id)
            .await?
            .map(Asset))
    }

    /// Your assets, or those of a canvas you can read; newest first.
    async fn assets(
        &self,
        ctx: &Context<'_>,
        canvas_id: Option<ID>,
        kind: Option<AssetKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<AssetConnection> {
        let req = request(ctx);
        let first = page_size(first, req.limits)?;
        let filter = AssetFilter {
            canvas_id: canvas_id.map(|id| id.0),
            kind: kind.map(Into::into),
        };
        let after = Cursor::decode_after(after.as_deref())?;
        let page = domain::list_assets(req.db, req.actor, &filter, first, after).await?;
        let page = paged(page, domain::cursor_of, Asset);
        Ok(AssetConnection {
            page_info: page.page_info,
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, node)| AssetEdge { cursor, node })
                .collect(),
            nodes: page.nodes,
            filter,
        })
    }
}

#[derive(Default)]
pub struct AssetMutation;

#[Object]
impl AssetMutation {
    /// Creates a PENDING asset and the URL to PUT its bytes to.
    async fn create_asset_upload(
        &self,
        ctx: &Context<'_>,
        input: CreateAssetUploadInput,
    ) -> Result<AssetUpload> {
        let req = request(ctx);
        let new = NewAsset {
            canvas_id: input.canvas_id.map(|id| id.0),
            node_id: input.node_id.map(|id| id.0),
            kind: input.kind.into(),
            filename: input.filename,
            mime_type: input.mime_type,
            size_bytes: input.size_bytes.0,
            metadata: input.metadata.map(|m| m.0),
        };
        let (asset, target) =
            domain::create_upload(req.db, req.assets, req.actor, new, req.base_url).await?;
        Ok(AssetUpload {
            asset: Asset(asset),
            upload_url: target.url,
            method: target.method.to_owned(),
            headers: target
                .headers
                .into_iter()
                .map(|(name, value)| HttpHeader { name, value })
                .collect(),
            expires_at: target.expires_at,
        })
    }

    /// Checks the uploaded bytes (size and type) and makes the asset READY; a mismatch marks it
    /// FAILED, removes the bytes and says why.
    async fn complete_asset_upload(&self, ctx: &Context<'_>, id: ID) -> Result<Asset> {
        let req = request(ctx);
        Ok(Asset(
            domain::complete_upload(req.db, req.assets, req.actor, &id).await?,
        ))
    }

    /// Uploads a small file inline (GraphQL multipart request) and completes it at once.
    async fn upload_asset(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        input: UploadAssetInput,
    ) -> Result<Asset> {
        let req = request(ctx);
        let upload = file
            .value(ctx)
            .map_err(|_| Error::bad_input("file", "the upload is missing from the request"))?;
        let size = upload.content.metadata().map_err(Error::internal)?.len();
        let new = NewAsset {
            canvas_id: input.canvas_id.map(|id| id.0),
            node_id: input.node_id.map(|id| id.0),
            kind: input.kind.into(),
            filename: input.filename.or(Some(upload.filename.clone())),
            mime_type: input
                .mime_type
                .or(upload.content_type.clone())
                .unwrap_or_else(|| "application/octet-stream".to_owned()),
            size_bytes: size as i64,
            metadata: input.metadata.map(|m| m.0),
        };
        let file = tokio::fs::File::from_std(upload.content);
        let bytes = tokio_util::io::ReaderStream::new(file);
        Ok(Asset(
            domain::upload_inline(req.db, req.assets, req.actor, new, bytes).await?,
        ))
    }

    /// Records media that stays on a provider's CDN; READY at once.
    async fn register_external_asset(
        &self,
        ctx: &Context<'_>,
        input: RegisterExternalAssetInput,
    ) -> Result<Asset> {
        let req = request(ctx);
        let external = ExternalAsset {
            canvas_id: input.canvas_id.map(|id| id.0),
            node_id: input.node_id.map(|id| id.0),
            kind: input.kind.into(),
            url: input.url,
            filename: input.filename,
            mime_type: input.mime_type,
            size_bytes: input.size_bytes.map(|s| s.0),
            metadata: input.metadata.map(|m| m.0),
        };
        Ok(Asset(
            domain::register_external(req.db, req.actor, external).await?,
        ))
    }

    /// Renames an asset, replaces its metadata or ties it to another node. Its bytes and URLs
    /// stay as they are.
    async fn update_asset(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAssetInput,
    ) -> Result<Asset> {
        let req = request(ctx);
        let changes = AssetChanges {
            filename: patch(input.filename, |f| f),
            metadata: patch(input.metadata, |m| m.0),
            node_id: patch(input.node_id, |n| n.0),
        };
        Ok(Asset(
            domain::update_asset(req.db, req.actor, &id, changes).await?,
        ))
    }

    /// Copies a READY asset you can read into a canvas of yours: a new asset whose bytes are a
    /// copy of the original's, so deleting one leaves the other whole. The copy keeps the
    /// filename, metadata and node id.
    async fn copy_asset(&self, ctx: &Context<'_>, id: ID, canvas_id: ID) -> Result<Asset> {
        let req = request(ctx);
        Ok(Asset(
            domain::copy_asset(req.db, req.assets, req.actor, &id, &canvas_id).await?,
        ))
    }

    /// Moves an asset of yours to another canvas of yours. Its bytes stay where they are, so
    /// its download URLs keep working.
    async fn move_asset(&self, ctx: &Context<'_>, id: ID, canvas_id: ID) -> Result<Asset> {
        let req = request(ctx);
        Ok(Asset(
            domain::move_asset(req.db, req.actor, &id, &canvas_id).await?,
        ))
    }

    /// Deletes an asset and its bytes.
    async fn delete_asset(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let req = request(ctx);
        domain::delete_asset(req.db, req.assets, req.actor, &id).await?;
        Ok(true)
    }
}
