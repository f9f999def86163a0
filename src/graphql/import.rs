//! Importing from the browser in GraphQL: the `importCanvases` mutation and its report.

use async_graphql::{Context, Enum, ID, Json, Object, SimpleObject};
use serde_json::Value;

use super::canvas::Canvas;
use super::{Shared, request};
use crate::canvas::events::EventLog;
use crate::import::{self as domain, ImportOptions, Importer, Quiet};

type Result<T> = async_graphql::Result<T>;

/// What to do with an imported canvas whose id is already taken.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportConflict {
    /// Keep your stored canvas and import nothing of this one: running the same import again
    /// imports nothing the second time.
    Skip,
    /// Replace your stored canvas (same id, version bumped). An id taken by another user's
    /// canvas fails instead.
    Overwrite,
    /// Import every canvas under a new id, taken or not.
    Copy,
}

impl From<ImportConflict> for domain::OnConflict {
    fn from(value: ImportConflict) -> Self {
        match value {
            ImportConflict::Skip => domain::OnConflict::Skip,
            ImportConflict::Overwrite => domain::OnConflict::Overwrite,
            ImportConflict::Copy => domain::OnConflict::Copy,
        }
    }
}

/// What became of one part of the input.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ImportStatus {
    Imported,
    /// Left out on purpose; `reason` says why.
    Skipped,
    /// Could not be imported and left nothing behind; `reason` says why.
    Failed,
}

impl From<domain::ImportStatus> for ImportStatus {
    fn from(value: domain::ImportStatus) -> Self {
        match value {
            domain::ImportStatus::Imported => ImportStatus::Imported,
            domain::ImportStatus::Skipped => ImportStatus::Skipped,
            domain::ImportStatus::Failed => ImportStatus::Failed,
        }
    }
}

/// Media an imported node only points at, which could not be brought along: a `cached:<nodeId>`
/// placeholder, a `blob:` URL (alive only in the browser tab that made it) or an empty media
/// field. The value stays in the node's data as it was.
#[derive(SimpleObject)]
pub struct MissingMedia {
    pub node_id: ID,
    /// Where it is in the node's `data`, as a JSON pointer (`/imageUrl`, `/images/0`).
    pub path: String,
    /// What the input holds there.
    pub value: String,
}

/// What became of one canvas of the input.
#[derive(SimpleObject)]
pub struct CanvasImport {
    /// Where it is in the input: `spaces-canvases[2]`, `input[0]`, `input.canvas-1`,
    /// `spaces-canvas-storage`.
    pub source: String,
    /// Its id in the input, if it has one.
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub status: ImportStatus,
    /// The stored canvas's id: the imported canvas (new with COPY), or the one that made it
    /// skip.
    pub canvas_id: Option<ID>,
    /// The canvas as imported.
    pub canvas: Option<Canvas>,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    pub missing_media: Vec<MissingMedia>,
    /// Assets made from the `data:` URLs of its nodes; each URL in the node's data was replaced
    /// by `asset:<id>`.
    pub asset_ids: Vec<ID>,
    /// What was left out or left as it was, each with why (an edge to a node that is not
    /// there, a `data:` URL that stays inline).
    pub warnings: Vec<String>,
}

impl From<domain::CanvasImport> for CanvasImport {
    fn from(c: domain::CanvasImport) -> Self {
        CanvasImport {
            source: c.source,
            source_id: c.source_id,
            name: c.name,
            status: c.status.into(),
            canvas_id: c.canvas_id.map(ID),
            canvas: c.canvas.map(Canvas),
            reason: c.reason,
            missing_media: c
                .missing_media
                .into_iter()
                .map(|m| MissingMedia {
                    node_id: ID(m.node_id),
                    path: m.pointer,
                    value: m.value,
                })
                .collect(),
            asset_ids: c.asset_ids.into_iter().map(ID).collect(),
            warnings: c.warnings,
        }
    }
}

/// What became of one API key of the input. The key itself is never shown.
#[derive(SimpleObject)]
pub struct ApiKeyImport {
    /// Easel's name of the provider (`falAi` in the app becomes `fal`, `openAi` `openai`).
    pub provider: String,
    pub status: ImportStatus,
    pub reason: Option<String>,
}

/// What became of the app's settings.
#[derive(SimpleObject)]
pub struct SettingsImport {
    /// Where they are in the input (`spaces-settings-storage`).
    pub source: String,
    /// Whether the theme and preferences were imported: when you have no settings yet, or with
    /// OVERWRITE.
    pub status: ImportStatus,
    pub reason: Option<String>,
    /// The theme imported.
    pub theme: Option<String>,
    /// The preference keys merged into yours.
    pub preferences: Vec<String>,
    /// Imported only with `importApiKeys: true`, then sealed like every key; otherwise each is
    /// SKIPPED.
    pub api_keys: Vec<ApiKeyImport>,
    /// Parts not imported, each with why (the app's generation history).
    pub dropped: Vec<String>,
}

impl From<domain::SettingsImport> for SettingsImport {
    fn from(s: domain::SettingsImport) -> Self {
        SettingsImport {
            source: s.source,
            status: s.status.into(),
            reason: s.reason,
            theme: s.theme,
            preferences: s.preferences,
            api_keys: s
                .api_keys
                .into_iter()
                .map(|k| ApiKeyImport {
                    provider: k.provider,
                    status: k.status.into(),
                    reason: k.reason,
                })
                .collect(),
            dropped: s.dropped,
        }
    }
}

/// What an import did, canvas by canvas.
#[derive(SimpleObject)]
pub struct ImportReport {
    /// Canvases IMPORTED.
    pub imported: i32,
    /// Canvases SKIPPED.
    pub skipped: i32,
    /// Canvases FAILED.
    pub failed: i32,
    /// Every canvas of the input, in the order read.
    pub canvases: Vec<CanvasImport>,
    /// The app's settings, when the input has them.
    pub settings: Option<SettingsImport>,
    /// Parts of the input not imported (localStorage keys that hold no canvas or settings),
    /// each with why.
    pub ignored: Vec<String>,
}

impl From<domain::ImportReport> for ImportReport {
    fn from(r: domain::ImportReport) -> Self {
        let count = |status| r.count(status) as i32;
        ImportReport {
            imported: count(domain::ImportStatus::Imported),
            skipped: count(domain::ImportStatus::Skipped),
            failed: count(domain::ImportStatus::Failed),
            canvases: r.canvases.into_iter().map(Into::into).collect(),
            settings: r.settings.map(Into::into),
            ignored: r.ignored,
        }
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports canvases (and settings) a canvas app kept in the browser. `data` is any of: a
    /// list of stored canvases (`{id, name, thumbnail, createdAt, updatedAt, nodes, edges}`), a
    /// map of them keyed by id, one React Flow `toObject()` (`{nodes, edges, viewport}`), a
    /// zustand envelope (`{"state": {...}, "version": 0}`), or a whole localStorage dump
    /// (`JSON.stringify(localStorage)`, as an object or as that string). Each canvas is imported
    /// on its own: one that fails leaves nothing and does not stop the others. Images in node
    /// data as `data:` URLs become assets, and the data says `asset:<id>` instead. Plaintext API
    /// keys in the app's settings are imported only with `importApiKeys: true`.
    async fn import_canvases(
        &self,
        ctx: &Context<'_>,
        data: Json<Value>,
        #[graphql(default_with = "Some(ImportConflict::Skip)")] on_conflict: Option<ImportConflict>,
        #[graphql(default_with = "Some(false)")] import_api_keys: Option<bool>,
    ) -> Result<ImportReport> {
        let req = request(ctx);
        let shared = ctx.data_unchecked::<Shared>();
        let log = EventLog::new(req.live, None)?;
        let importer = Importer {
            db: req.db,
            log: &log,
            assets: req.assets,
            keyring: &shared.keyring,
            limits: req.limits,
        };
        let options = ImportOptions {
            // Null means the default, as when the argument is left out.
            on_conflict: on_conflict.unwrap_or(ImportConflict::Skip).into(),
            import_api_keys: import_api_keys.unwrap_or(false),
        };
        Ok(importer
            .import(req.actor, &data.0, options, &Quiet)
            .await?
            .into())
    }
}
