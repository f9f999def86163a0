//! What each write to a canvas did, recorded in the write's own transaction as one row of
//! `canvas_events` per version (so no event is lost, and none exists for a rolled-back write),
//! and read back for live subscribers and for replay.
//!
//! On PostgreSQL the transaction also sends `NOTIFY easel_canvas_events, '<version>:<canvas id>'`,
//! which PostgreSQL delivers at commit to every replica; on SQLite the write wakes this process's
//! hub after the commit. Either way subscribers read the row, never the notification.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{canvas, canvas_event};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::write::{Row, RowChanges, json_param};
use super::{EdgeAttrs, EdgeInput, JsonText, NodeAttrs, NodeInput, StoredEdge, StoredNode};
use crate::config::LiveConfig;
use crate::error::{Error, Result};
use crate::live::Live;

/// The PostgreSQL channel events are announced on.
pub const CHANNEL: &str = "easel_canvas_events";

/// Longest `clientMutationId` accepted.
pub const MAX_CLIENT_MUTATION_ID_CHARS: usize = 128;

/// How a write records its event: the live configuration, the hub to wake after the commit (on
/// SQLite; PostgreSQL's `NOTIFY` needs none), and the id the client gave the mutation, echoed in
/// its events.
#[derive(Clone, Copy)]
pub struct EventLog<'a> {
    config: &'a LiveConfig,
    live: Option<&'a Live>,
    client_mutation_id: Option<&'a str>,
}

impl<'a> EventLog<'a> {
    /// Checks the client's mutation id.
    pub fn new(live: &'a Live, client_mutation_id: Option<&'a str>) -> Result<Self> {
        if client_mutation_id.is_some_and(|id| id.chars().count() > MAX_CLIENT_MUTATION_ID_CHARS) {
            return Err(Error::bad_input(
                "clientMutationId",
                format!("must be at most {MAX_CLIENT_MUTATION_ID_CHARS} characters"),
            ));
        }
        Ok(EventLog {
            config: live.config(),
            live: Some(live),
            client_mutation_id,
        })
    }

    /// For writes made outside a server (commands, tests): events are recorded, and PostgreSQL
    /// still announces them to every server; a server on SQLite hears of them at its next write.
    pub fn detached(config: &'a LiveConfig) -> Self {
        EventLog {
            config,
            live: None,
            client_mutation_id: None,
        }
    }

    /// Tells this process's subscribers about a committed event (PostgreSQL's `NOTIFY` does it
    /// for every process there).
    pub fn committed(&self, recorded: Recorded) {
        if let Some(live) = self.live {
            live.committed(recorded.canvas_id, recorded.version);
        }
    }
}

/// An event written in a transaction, to announce once it commits.
#[must_use = "announce the event after the commit"]
pub struct Recorded {
    canvas_id: String,
    version: i64,
}

/// What one write did.
#[derive(Default)]
pub(super) struct Change<'a> {
    /// The metadata changed, or the canvas is new: subscribers get the canvas row.
    pub meta: bool,
    pub rows: Option<RowChanges<'a>>,
    /// The canvas is gone.
    pub deleted: bool,
}

/// The canvas row as an event carries it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CanvasRecord {
    id: String,
    owner_id: String,
    name: String,
    description: Option<String>,
    thumbnail: Option<String>,
    is_template: bool,
    is_public: bool,
    viewport: Option<serde_json::Value>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&canvas::Model> for CanvasRecord {
    fn from(c: &canvas::Model) -> Self {
        CanvasRecord {
            id: c.id.clone(),
            owner_id: c.owner_id.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            thumbnail: c.thumbnail.clone(),
            is_template: c.is_template,
            is_public: c.is_public,
            viewport: c.viewport.clone(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl From<CanvasRecord> for canvas::Model {
    fn from(c: CanvasRecord) -> Self {
        canvas::Model {
            search_name: c.name.to_lowercase(),
            id: c.id,
            owner_id: c.owner_id,
            name: c.name,
            description: c.description,
            thumbnail: c.thumbnail,
            is_template: c.is_template,
            is_public: c.is_public,
            viewport: c.viewport,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A node as an event writes it: its row after the write.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    node_type: &'a str,
    x: f64,
    y: f64,
    width: Option<f64>,
    height: Option<f64>,
    z_index: i32,
    parent_id: Option<&'a str>,
    data: &'a RawValue,
    #[serde(skip_serializing_if = "is_default")]
    attrs: &'a NodeAttrs,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeIn {
    id: String,
    #[serde(rename = "type")]
    node_type: String,
    x: f64,
    y: f64,
    width: Option<f64>,
    height: Option<f64>,
    z_index: i32,
    parent_id: Option<String>,
    data: Box<RawValue>,
    #[serde(default)]
    attrs: NodeAttrs,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EdgeOut<'a> {
    id: &'a str,
    source: &'a str,
    source_handle: Option<&'a str>,
    target: &'a str,
    target_handle: Option<&'a str>,
    #[serde(rename = "type")]
    edge_type: &'a str,
    data: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "is_default")]
    attrs: &'a EdgeAttrs,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EdgeIn {
    id: String,
    source: String,
    source_handle: Option<String>,
    target: String,
    target_handle: Option<String>,
    #[serde(rename = "type")]
    edge_type: String,
    data: Option<Box<RawValue>>,
    #[serde(default)]
    attrs: EdgeAttrs,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn is_default<T: Default + PartialEq>(value: &&T) -> bool {
    **value == T::default()
}

fn no_ids(ids: &&[String]) -> bool {
    ids.is_empty()
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The `payload` column as written.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct PayloadOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    canvas: Option<CanvasRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<NodeOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    edges: Vec<EdgeOut<'a>>,
    #[serde(skip_serializing_if = "no_ids")]
    deleted_edge_ids: &'a [String],
    #[serde(skip_serializing_if = "no_ids")]
    deleted_node_ids: &'a [String],
    #[serde(skip_serializing_if = "is_false")]
    deleted: bool,
    /// Too large to carry: subscribers refetch.
    #[serde(skip_serializing_if = "is_false")]
    replaced: bool,
}

/// The `payload` column as read.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PayloadIn {
    canvas: Option<CanvasRecord>,
    nodes: Vec<NodeIn>,
    edges: Vec<EdgeIn>,
    deleted_edge_ids: Vec<String>,
    deleted_node_ids: Vec<String>,
    deleted: bool,
    replaced: bool,
}

/// The JSON text of a stored `data` value, as a raw value to embed. It was checked on the way
/// in, so this only fails on a bug; the event then says to refetch.
fn raw(text: &str) -> Option<&RawValue> {
    serde_json::from_str(text).ok()
}

fn node_out<'a>(row: &'a Row<'a, NodeInput>, now: DateTime<Utc>) -> Option<NodeOut<'a>> {
    let node = row.item;
    Some(NodeOut {
        id: &node.id,
        node_type: &node.node_type,
        x: node.x,
        y: node.y,
        width: node.width,
        height: node.height,
        z_index: node.z_index,
        parent_id: node.parent_id.as_deref(),
        data: raw(node.data.as_str())?,
        attrs: &node.attrs,
        sort_position: row.sort_position,
        created_at: row.created_at,
        updated_at: now,
    })
}

fn edge_out<'a>(row: &'a Row<'a, EdgeInput>, now: DateTime<Utc>) -> Option<EdgeOut<'a>> {
    let edge = row.item;
    let data = match &edge.data {
        Some(data) => Some(raw(data.as_str())?),
        None => None,
    };
    Some(EdgeOut {
        id: &edge.id,
        source: &edge.source,
        source_handle: edge.source_handle.as_deref(),
        target: &edge.target,
        target_handle: edge.target_handle.as_deref(),
        edge_type: &edge.edge_type,
        data,
        attrs: &edge.attrs,
        sort_position: row.sort_position,
        created_at: row.created_at,
        updated_at: now,
    })
}

/// The payload's JSON text: the change itself, or the "replaced" marker when it is over the
/// configured size.
fn payload_text(
    canvas: &canvas::Model,
    change: &Change<'_>,
    config: &LiveConfig,
    now: DateTime<Utc>,
) -> String {
    let replaced = || {
        serde_json::to_string(&PayloadOut {
            canvas: change.meta.then(|| CanvasRecord::from(canvas)),
            replaced: true,
            ..Default::default()
        })
        .unwrap_or_else(|_| r#"{"replaced":true}"#.to_owned())
    };
    let mut payload = PayloadOut {
        canvas: change.meta.then(|| CanvasRecord::from(canvas)),
        deleted: change.deleted,
        ..Default::default()
    };
    if let Some(rows) = &change.rows {
        let items = rows.nodes.len()
            + rows.edges.len()
            + rows.deleted_nodes.len()
            + rows.deleted_edges.len();
        if items > config.max_event_items {
            return replaced();
        }
        let nodes: Option<Vec<_>> = rows.nodes.iter().map(|r| node_out(r, now)).collect();
        let edges: Option<Vec<_>> = rows.edges.iter().map(|r| edge_out(r, now)).collect();
        let (Some(nodes), Some(edges)) = (nodes, edges) else {
            return replaced();
        };
        payload.nodes = nodes;
        payload.edges = edges;
        payload.deleted_node_ids = rows.deleted_nodes;
        payload.deleted_edge_ids = rows.deleted_edges;
    }
    match serde_json::to_string(&payload) {
        Ok(text) if text.len() <= config.max_event_bytes => text,
        _ => replaced(),
    }
}

/// Writes the event of a write to `canvas` (as it is after the write; for a deletion, as it was)
/// in the write's transaction. Announce the result with [`EventLog::committed`] after the commit.
pub(super) async fn record(
    txn: &DatabaseTransaction,
    log: &EventLog<'_>,
    canvas: &canvas::Model,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    use canvas_event::Column as C;
    let backend = txn.get_database_backend();
    // A deletion does not bump the row it removes; its event takes the next version.
    let version = canvas.version + i64::from(change.deleted);
    let payload = payload_text(canvas, &change, log.config, now);
    let mut insert = Query::insert();
    insert
        .into_table(canvas_event::Entity)
        .columns([
            C::CanvasId,
            C::Version,
            C::ClientMutationId,
            C::Payload,
            C::CreatedAt,
        ])
        .values_panic([
            Expr::val(canvas.id.as_str()),
            Expr::val(version),
            Expr::val(log.client_mutation_id),
            json_param(backend, Some(&payload)),
            Expr::val(now),
        ]);
    txn.execute(&insert).await?;
    if backend == DatabaseBackend::Postgres {
        // Sent when (and only if) the transaction commits, in commit order.
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), format!("{version}:{}", canvas.id).into()],
        ))
        .await?;
    }
    Ok(Recorded {
        canvas_id: canvas.id.clone(),
        version,
    })
}

/// Why a subscriber must refetch the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncReason {
    /// The write was too large to send as events.
    LargeChange,
    /// The events since the subscriber's version are no longer kept.
    HistoryGone,
}

/// One part of what a write did; a write yields its parts in this order.
#[derive(Debug, Clone)]
pub enum EventPart {
    CanvasUpdated(Arc<canvas::Model>),
    NodesUpserted(Arc<Vec<StoredNode>>),
    EdgesUpserted(Arc<Vec<StoredEdge>>),
    EdgesDeleted(Arc<Vec<String>>),
    NodesDeleted(Arc<Vec<String>>),
    CanvasDeleted,
    Resync(ResyncReason),
}

/// One write to a canvas, as subscribers see it.
#[derive(Debug, Clone)]
pub struct CanvasEvent {
    pub canvas_id: String,
    /// The version the write produced.
    pub version: i64,
    pub client_mutation_id: Option<String>,
    pub parts: Vec<EventPart>,
}

impl CanvasEvent {
    /// The event that tells a subscriber to refetch the canvas at `version`.
    pub fn resync(canvas_id: &str, version: i64, reason: ResyncReason) -> Self {
        CanvasEvent {
            canvas_id: canvas_id.to_owned(),
            version,
            client_mutation_id: None,
            parts: vec![EventPart::Resync(reason)],
        }
    }

    /// Whether the canvas is gone after this event.
    pub fn deletes_canvas(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, EventPart::CanvasDeleted))
    }

    /// The canvas row after this event, when the event carries it.
    pub fn canvas(&self) -> Option<&canvas::Model> {
        self.parts.iter().find_map(|p| match p {
            EventPart::CanvasUpdated(c) => Some(c.as_ref()),
            _ => None,
        })
    }
}

#[derive(FromQueryResult)]
struct EventRow {
    canvas_id: String,
    version: i64,
    client_mutation_id: Option<String>,
    payload: String,
}

fn decode(row: EventRow) -> CanvasEvent {
    let payload: PayloadIn = match serde_json::from_str(&row.payload) {
        Ok(payload) => payload,
        Err(err) => {
            tracing::error!(canvas_id = %row.canvas_id, version = row.version, error = %err,
                "unreadable canvas event; subscribers are told to refetch");
            PayloadIn {
                replaced: true,
                ..Default::default()
            }
        }
    };
    let canvas_id = row.canvas_id;
    let mut parts = Vec::new();
    if let Some(canvas) = payload.canvas {
        parts.push(EventPart::CanvasUpdated(Arc::new(canvas.into())));
    }
    if payload.replaced {
        parts.push(EventPart::Resync(ResyncReason::LargeChange));
    }
    if !payload.nodes.is_empty() {
        let nodes = payload.nodes.into_iter().map(|n| StoredNode {
            canvas_id: canvas_id.clone(),
            id: n.id,
            node_type: n.node_type,
            x: n.x,
            y: n.y,
            width: n.width,
            height: n.height,
            z_index: n.z_index,
            parent_id: n.parent_id,
            data: JsonText::trusted(Box::<str>::from(n.data).into()),
            attrs: n.attrs,
            sort_position: n.sort_position,
            created_at: n.created_at,
            updated_at: n.updated_at,
        });
        parts.push(EventPart::NodesUpserted(Arc::new(nodes.collect())));
    }
    if !payload.edges.is_empty() {
        let edges = payload.edges.into_iter().map(|e| StoredEdge {
            canvas_id: canvas_id.clone(),
            id: e.id,
            source: e.source,
            source_handle: e.source_handle,
            target: e.target,
            target_handle: e.target_handle,
            edge_type: e.edge_type,
            data: e
                .data
                .map(|d| JsonText::trusted(Box::<str>::from(d).into())),
            attrs: e.attrs,
            sort_position: e.sort_position,
            created_at: e.created_at,
            updated_at: e.updated_at,
        });
        parts.push(EventPart::EdgesUpserted(Arc::new(edges.collect())));
    }
    if !payload.deleted_edge_ids.is_empty() {
        parts.push(EventPart::EdgesDeleted(Arc::new(payload.deleted_edge_ids)));
    }
    if !payload.deleted_node_ids.is_empty() {
        parts.push(EventPart::NodesDeleted(Arc::new(payload.deleted_node_ids)));
    }
    if payload.deleted {
        parts.push(EventPart::CanvasDeleted);
    }
    CanvasEvent {
        canvas_id,
        version: row.version,
        client_mutation_id: row.client_mutation_id,
        parts,
    }
}

fn select() -> sea_orm::Select<canvas_event::Entity> {
    use canvas_event::Column as C;
    canvas_event::Entity::find()
        .select_only()
        .columns([C::CanvasId, C::Version, C::ClientMutationId])
        .expr_as(super::stored::as_text(C::Payload), "payload")
}

/// The events of a canvas after `version`, oldest first, at most `limit`.
pub async fn events_after(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    version: i64,
    limit: u64,
) -> Result<Vec<CanvasEvent>> {
    use canvas_event::Column as C;
    let rows = select()
        .filter(C::CanvasId.eq(canvas_id))
        .filter(C::Version.gt(version))
        .order_by_asc(C::Version)
        .limit(limit)
        .into_model::<EventRow>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(decode).collect())
}

/// The event that produced `version` of a canvas, while it is kept.
pub async fn event_at(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    version: i64,
) -> Result<Option<CanvasEvent>> {
    use canvas_event::Column as C;
    let row = select()
        .filter(C::CanvasId.eq(canvas_id))
        .filter(C::Version.eq(version))
        .into_model::<EventRow>()
        .one(db)
        .await?;
    Ok(row.map(decode))
}

/// Deletes the events past retention: older than `config.history` and not among the last
/// `config.history_min_events` of their canvas (every version has one event, so those are the
/// versions above the canvas's current one minus that count); a deleted canvas's events go once
/// they are old. Returns how many went.
pub async fn prune(
    db: &impl ConnectionTrait,
    config: &LiveConfig,
    now: DateTime<Utc>,
) -> Result<u64> {
    let backend = db.get_database_backend();
    let cutoff =
        now - chrono::Duration::from_std(config.history).unwrap_or(chrono::Duration::MAX / 2);
    let (p1, p2) = match backend {
        DatabaseBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let sql = format!(
        "DELETE FROM canvas_events WHERE created_at < {p1} AND COALESCE(version <= \
         (SELECT c.version FROM canvases c WHERE c.id = canvas_events.canvas_id) - {p2}, TRUE)"
    );
    let min_events = i64::try_from(config.history_min_events).unwrap_or(i64::MAX);
    let result = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [cutoff.into(), min_events.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}
