//! Importing what a canvas app kept in the browser: canvases (with `data:` URL media moved into
//! the asset store) and settings (API keys only when asked). Each canvas is one transaction, so
//! one bad canvas does not stop the others and a failed one leaves nothing behind, not even
//! objects in the store. Nothing here knows GraphQL.

pub mod cli;
mod media;
mod parse;
mod settings;

pub use media::{Missing, asset_reference};
pub use parse::provider_name;
pub use settings::{ApiKeyImport, SettingsImport};

use std::collections::HashMap;

use entity::asset::{self, AssetStatus};
use entity::canvas;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::assets::{Assets, cleanup};
use crate::auth::{Actor, ensure_user};
use crate::canvas::events::EventLog;
use crate::canvas::{
    CanvasId, CanvasMetaInput, CanvasSnapshot, CanvasTimes, JsonText, Patch, write_imported_canvas,
};
use crate::config::Limits;
use crate::db::begin_write;
use crate::error::{Error, ErrorChain, Result, current_request_id};
use crate::settings::Keyring;
use crate::time::now;

use parse::{FoundCanvas, SourceCanvas};

/// Objects written to the store at once while importing one canvas.
const UPLOADS_IN_FLIGHT: usize = 4;

/// What to do with a canvas whose id is already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Keep the stored canvas; import nothing of this one. Re-running an import is a no-op.
    #[default]
    Skip,
    /// Replace your stored canvas with the imported one. Another user's id is a failure.
    Overwrite,
    /// Import every canvas under a new id, taken or not.
    Copy,
}

/// How an import runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    pub on_conflict: OnConflict,
    /// Import the plaintext provider API keys a settings entry holds (sealed like every key);
    /// without it they are skipped and reported.
    pub import_api_keys: bool,
}

/// What became of one part of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    Imported,
    Skipped,
    Failed,
}

/// What became of one canvas of the input.
#[derive(Debug, Clone)]
pub struct CanvasImport {
    /// Where it is in the input (`spaces-canvases[2]`).
    pub source: String,
    /// Its id in the input, if it has one.
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub status: ImportStatus,
    /// The stored canvas: the imported one, or the one that made it skip.
    pub canvas_id: Option<String>,
    /// The canvas as written, when imported.
    pub canvas: Option<canvas::Model>,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// Media the input only points at (`cached:`, `blob:`, empty media fields).
    pub missing_media: Vec<Missing>,
    /// Assets made from `data:` URLs (or found again, on an overwrite).
    pub asset_ids: Vec<String>,
    /// What was left out or left as it was, each with why.
    pub warnings: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub canvases: Vec<CanvasImport>,
    pub settings: Option<SettingsImport>,
    /// Parts of the input that are not imported (unknown localStorage keys), each with why.
    pub ignored: Vec<String>,
}

impl ImportReport {
    /// How many canvases ended with `status`.
    pub fn count(&self, status: ImportStatus) -> usize {
        self.canvases.iter().filter(|c| c.status == status).count()
    }
}

/// Told about each canvas as it is done, for progress bars.
pub trait Progress: Sync {
    /// The number of canvases about to be imported.
    fn start(&self, _canvases: usize) {}
    /// One canvas is done.
    fn done(&self, _canvas: &CanvasImport) {}
}

/// Reports no progress.
pub struct Quiet;

impl Progress for Quiet {}

/// What importing needs besides the input.
pub struct Importer<'a> {
    pub db: &'a DatabaseConnection,
    /// Where imported canvases' events go, for live subscribers.
    pub log: &'a EventLog<'a>,
    pub assets: &'a Assets,
    pub keyring: &'a Keyring,
    pub limits: &'a Limits,
}

impl Importer<'_> {
    /// Imports what `input` holds for `actor`. Only an input with nothing recognisable in it is
    /// an error (`BAD_USER_INPUT` about `data`); everything else is in the report.
    pub async fn import(
        &self,
        actor: &Actor,
        input: &Value,
        options: ImportOptions,
        progress: &dyn Progress,
    ) -> Result<ImportReport> {
        let owner = actor.user_id()?;
        let parsed = parse::parse(input).map_err(|why| Error::bad_input("data", why))?;
        ensure_user(self.db, owner).await?;
        progress.start(parsed.canvases.len());
        let mut report = ImportReport {
            ignored: parsed.ignored,
            ..ImportReport::default()
        };
        for found in parsed.canvases {
            let done = self.import_canvas(actor, found, options.on_conflict).await;
            progress.done(&done);
            report.canvases.push(done);
        }
        if let Some(found) = parsed.settings {
            report.settings =
                Some(settings::import(self.db, self.keyring, actor, found, options).await);
        }
        Ok(report)
    }

    async fn import_canvas(
        &self,
        actor: &Actor,
        found: FoundCanvas,
        on_conflict: OnConflict,
    ) -> CanvasImport {
        let mut outcome = CanvasImport {
            source: found.source,
            source_id: found.source_id,
            name: found.name,
            status: ImportStatus::Failed,
            canvas_id: None,
            canvas: None,
            reason: None,
            missing_media: Vec::new(),
            asset_ids: Vec::new(),
            warnings: Vec::new(),
        };
        let content = match found.content {
            Ok(content) => content,
            Err(why) => {
                outcome.reason = Some(why);
                return outcome;
            }
        };
        outcome.name = Some(content.name.clone());
        if let Some(twin) = found.duplicate_of {
            outcome.status = ImportStatus::Skipped;
            outcome.reason = Some(format!("the same nodes and edges as {twin}"));
            return outcome;
        }
        match self
            .write_canvas(actor, content, on_conflict, &mut outcome)
            .await
        {
            Ok(status) => outcome.status = status,
            Err(err) => {
                outcome.status = ImportStatus::Failed;
                outcome.canvas = None;
                outcome.asset_ids.clear();
                outcome.reason = Some(reason_of(&err));
            }
        }
        outcome
    }

    /// Writes one canvas with its media; on an error nothing of it is left.
    async fn write_canvas(
        &self,
        actor: &Actor,
        mut content: SourceCanvas,
        on_conflict: OnConflict,
        outcome: &mut CanvasImport,
    ) -> Result<ImportStatus> {
        let owner = actor.user_id()?.to_owned();
        let stored = canvas::Entity::find_by_id(content.id.clone())
            .one(self.db)
            .await?;
        let (id, replace) = match (on_conflict, stored) {
            (OnConflict::Copy, _) => (CanvasId::generate().into_string(), false),
            (_, None) => (content.id.clone(), false),
            (OnConflict::Skip, Some(stored)) if actor.is(&stored.owner_id) => {
                outcome.canvas_id = Some(stored.id);
                outcome.reason = Some(format!(
                    "you already have a canvas with id '{}' (import with OVERWRITE to replace it, or COPY to add another)",
                    content.id
                ));
                return Ok(ImportStatus::Skipped);
            }
            (OnConflict::Overwrite, Some(stored)) if actor.is(&stored.owner_id) => {
                (stored.id, true)
            }
            (_, Some(_)) => {
                return Err(Error::AlreadyExists {
                    field: "id".into(),
                    message: format!(
                        "the id '{}' is taken by a canvas that is not yours; import with COPY to give it a new id",
                        content.id
                    ),
                });
            }
        };

        outcome.warnings.append(&mut content.warnings);
        // A thumbnail is only a preview: one over the limit is dropped, not the canvas.
        if let Some(thumbnail) = &content.thumbnail
            && thumbnail.len() > self.limits.max_node_data_bytes
        {
            outcome.warnings.push(format!(
                "thumbnail dropped: {} bytes is more than the limit of {} (EASEL_MAX_NODE_DATA_BYTES)",
                thumbnail.len(),
                self.limits.max_node_data_bytes
            ));
            content.thumbnail = None;
        }
        let found = media::scan(&content.nodes);
        outcome.missing_media = found.missing;
        outcome.warnings.extend(found.warnings);

        // Media first, outside the transaction: the bytes go to the store, the data points at
        // their assets. An asset this canvas already has for the same node and bytes (an
        // earlier import, on an overwrite) is used again.
        let mut reusable = if replace {
            self.imported_assets_of(&id).await?
        } else {
            HashMap::new()
        };
        let mut new_assets = Vec::new();
        let mut uploads = Vec::new();
        for embedded in found.embedded {
            if embedded.bytes.len() as u64 > self.assets.config.max_upload_bytes {
                return Err(Error::bad_input(
                    format!("node '{}' {}", embedded.node_id, embedded.pointer),
                    format!(
                        "an embedded file of {} bytes is larger than the asset limit of {} (EASEL_MAX_UPLOAD_BYTES)",
                        embedded.bytes.len(),
                        self.assets.config.max_upload_bytes
                    ),
                ));
            }
            let digest = hex(&Sha256::digest(&embedded.bytes));
            let asset_id = match reusable.get(&(embedded.node_id.clone(), digest.clone())) {
                Some(existing) => existing.clone(),
                None => {
                    let asset_id = uuid::Uuid::now_v7().to_string();
                    let key = self.assets.store.key(&owner, Some(&id), &asset_id);
                    new_assets.push(asset::Model {
                        id: asset_id.clone(),
                        owner_id: owner.clone(),
                        canvas_id: Some(id.clone()),
                        node_id: Some(embedded.node_id.clone()),
                        kind: embedded.kind,
                        status: AssetStatus::Ready,
                        filename: None,
                        mime_type: embedded.mime_type.clone(),
                        size_bytes: embedded.bytes.len() as i64,
                        object_key: Some(key.to_string()),
                        external_url: None,
                        metadata: Some(json!({ "importedFrom": "dataUrl", "sha256": digest })),
                        created_at: now(),
                    });
                    uploads.push((key, embedded.bytes));
                    // The same file twice on one node is one asset.
                    reusable.insert((embedded.node_id.clone(), digest), asset_id.clone());
                    asset_id
                }
            };
            if let Some(node) = content.nodes.iter_mut().find(|n| n.id == embedded.node_id) {
                let mut data = node.data.to_value();
                media::replace(&mut data, &embedded.pointer, &asset_reference(&asset_id));
                node.data = JsonText::from_value(&data);
            }
            if !outcome.asset_ids.contains(&asset_id) {
                outcome.asset_ids.push(asset_id);
            }
        }
        let keys: Vec<String> = uploads.iter().map(|(key, _)| key.to_string()).collect();
        let written = self.upload(uploads).await;
        let result = match written {
            Ok(()) => {
                self.write_rows(actor, &content, &id, replace, &new_assets)
                    .await
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(model) => {
                outcome.canvas_id = Some(model.id.clone());
                outcome.canvas = Some(model);
                Ok(ImportStatus::Imported)
            }
            Err(err) => {
                self.forget(&keys).await;
                Err(err)
            }
        }
    }

    /// The canvas and its new assets, in one transaction.
    async fn write_rows(
        &self,
        actor: &Actor,
        content: &SourceCanvas,
        id: &str,
        replace: bool,
        new_assets: &[asset::Model],
    ) -> Result<canvas::Model> {
        let snapshot = CanvasSnapshot {
            id: Some(id.to_owned()),
            meta: CanvasMetaInput {
                name: Some(content.name.clone()),
                description: Patch::Keep,
                thumbnail: content.thumbnail.clone().map_or(Patch::Clear, Patch::Set),
                is_template: None,
                is_public: None,
                viewport: content.viewport.map_or(Patch::Clear, Patch::Set),
            },
            nodes: content.nodes.clone(),
            edges: content.edges.clone(),
        };
        let now = now();
        let created_at = content.created_at.unwrap_or(now);
        let updated_at = content.updated_at.unwrap_or(created_at);
        let txn = begin_write(self.db).await?;
        let (model, recorded) = write_imported_canvas(
            &txn,
            actor,
            &snapshot,
            CanvasTimes {
                created_at,
                updated_at,
            },
            replace,
            self.limits,
            self.log,
        )
        .await?;
        for chunk in new_assets.chunks(500) {
            asset::Entity::insert_many(chunk.iter().cloned().map(asset::ActiveModel::from))
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        if let Some(recorded) = recorded {
            self.log.committed(recorded);
        }
        Ok(model)
    }

    /// Assets of a canvas made by an earlier import, by node and SHA-256 of their bytes.
    async fn imported_assets_of(
        &self,
        canvas_id: &str,
    ) -> Result<HashMap<(String, String), String>> {
        let assets = asset::Entity::find()
            .filter(asset::Column::CanvasId.eq(canvas_id))
            .filter(asset::Column::Status.eq(AssetStatus::Ready))
            .all(self.db)
            .await?;
        Ok(assets
            .into_iter()
            .filter_map(|a| {
                let node = a.node_id?;
                let digest = a.metadata.as_ref()?.get("sha256")?.as_str()?.to_owned();
                Some(((node, digest), a.id))
            })
            .collect())
    }

    /// Writes objects to the store, a few at a time; the first failure stops the rest.
    async fn upload(&self, uploads: Vec<(Path, Vec<u8>)>) -> Result<()> {
        let store = self.assets.store.inner();
        futures::stream::iter(uploads)
            .map(|(key, bytes)| async move {
                store
                    .put(&key, PutPayload::from(bytes))
                    .await
                    .map(|_| ())
                    .map_err(Error::internal)
            })
            .buffer_unordered(UPLOADS_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// Removes the objects of a canvas that failed; a removal that fails stays in the
    /// `blob_deletions` outbox to be retried.
    async fn forget(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        if let Err(err) = cleanup::schedule(self.db, keys).await {
            tracing::error!(error = ?err, count = keys.len(), "could not schedule the removal of a failed import's objects");
        }
        cleanup::remove(self.db, &self.assets.store, keys).await;
    }
}

/// What the report says of an error: its message, or for an internal error a request id to
/// quote (the cause goes to the log).
fn reason_of(err: &Error) -> String {
    match err {
        Error::Internal(cause) => {
            let request_id = current_request_id();
            tracing::error!(request_id, error = %ErrorChain(cause.as_ref()), "import of a canvas failed");
            format!("internal server error; quote request id {request_id} when reporting it")
        }
        other => other.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
