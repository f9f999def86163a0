//! Every write to a canvas: one transaction each, version-checked, and diffed against the stored
//! rows so that a save costs what changed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{canvas, canvas_edge, canvas_node};
use sea_orm::sea_query::{Expr, Func, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use super::events::{self, Change, EventLog};
use super::order::assign_positions;
use super::stored::{self, StoredEdge, StoredNode};
use super::validate::{Labeled, check_edge, check_graph, check_meta, check_name, check_node};
use super::{
    CanvasId, CanvasMetaInput, CanvasSnapshot, EdgeInput, JsonText, NodeInput, attrs_text,
};
use crate::assets::{AssetStore, cleanup};
use crate::auth::{Actor, ensure_user};
use crate::config::Limits;
use crate::db::{IN_LIST_CHUNK, begin_write, max_bind_params};
use crate::error::{Error, Result};
use crate::time::now;

/// Creates an empty canvas owned by the actor.
pub async fn create_canvas(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Option<String>,
    meta: CanvasMetaInput,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<canvas::Model> {
    let owner = actor.user_id()?;
    let id = match id {
        Some(id) => CanvasId::parse("input.id", &id)?,
        None => CanvasId::generate(),
    };
    let name = meta
        .name
        .clone()
        .ok_or_else(|| Error::bad_input("input.name", "is required"))?;
    check_name("input.name", &name)?;
    check_meta("input", &meta, limits)?;

    let txn = begin_write(db).await?;
    ensure_user(&txn, owner).await?;
    let now = now();
    let model = new_canvas_row(id.into_string(), owner, &meta, now);
    insert_canvas_row(&txn, &model).await?;
    let change = Change {
        meta: true,
        ..Default::default()
    };
    let recorded = events::record(&txn, log, &model, change, now).await?;
    txn.commit().await?;
    log.committed(recorded);
    Ok(model)
}

/// Changes a canvas's metadata only.
pub async fn update_canvas(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    meta: CanvasMetaInput,
    expected_version: Option<i64>,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<canvas::Model> {
    actor.user_id()?;
    check_meta("input", &meta, limits)?;
    let txn = begin_write(db).await?;
    let mut stored = lock_own_canvas(&txn, actor, id).await?;
    check_version(&stored, expected_version)?;
    let mut recorded = None;
    if apply_meta(&mut stored, &meta) {
        let now = now();
        bump(&txn, &mut stored, now).await?;
        let change = Change {
            meta: true,
            ..Default::default()
        };
        recorded = Some(events::record(&txn, log, &stored, change, now).await?);
    }
    txn.commit().await?;
    if let Some(recorded) = recorded {
        log.committed(recorded);
    }
    Ok(stored)
}

/// Makes the stored canvas equal to `snapshot`, creating it when its id is new. Only rows that
/// differ are written; a save that changes nothing writes nothing and keeps the version.
pub async fn save_canvas(
    db: &DatabaseConnection,
    actor: &Actor,
    snapshot: CanvasSnapshot,
    expected_version: Option<i64>,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<canvas::Model> {
    let owner = actor.user_id()?.to_owned();
    let id = match &snapshot.id {
        Some(id) => CanvasId::parse("input.id", id)?,
        None => CanvasId::generate(),
    };
    check_snapshot(&snapshot, limits, &SAVED)?;

    let txn = begin_write(db).await?;
    let now = now();
    let (mut stored, current_nodes, current_edges) = match lock_canvas(&txn, id.as_str()).await? {
        Some(stored) if actor.is(&stored.owner_id) => {
            check_version(&stored, expected_version)?;
            let nodes = load_nodes(&txn, &stored.id).await?;
            let edges = load_edges(&txn, &stored.id).await?;
            (stored, nodes, edges)
        }
        Some(_) => return Err(Error::not_found("canvas", id.as_str())),
        None => {
            if matches!(expected_version, Some(v) if v != 0) {
                // The client edited a canvas that is gone; recreating it would resurrect it.
                return Err(Error::not_found("canvas", id.as_str()));
            }
            ensure_user(&txn, &owner).await?;
            // Inserted at version 1: the insert is the write, nothing is there to diff against.
            let model = new_canvas_row(id.into_string(), &owner, &snapshot.meta, now);
            insert_canvas_row(&txn, &model).await?;
            let (nodes, edges) = (&snapshot.nodes, &snapshot.edges);
            let diff = diff_and_write(&txn, &model.id, &[], &[], nodes, edges, now).await?;
            let change = Change {
                meta: true,
                rows: Some(diff.changes()),
                deleted: false,
            };
            let recorded = events::record(&txn, log, &model, change, now).await?;
            txn.commit().await?;
            log.committed(recorded);
            return Ok(model);
        }
    };
    let meta_changed = apply_meta(&mut stored, &snapshot.meta);
    let diff = diff_and_write(
        &txn,
        &stored.id,
        &current_nodes,
        &current_edges,
        &snapshot.nodes,
        &snapshot.edges,
        now,
    )
    .await?;
    let mut recorded = None;
    if meta_changed || diff.changes().any() {
        bump(&txn, &mut stored, now).await?;
        let change = Change {
            meta: meta_changed,
            rows: Some(diff.changes()),
            deleted: false,
        };
        recorded = Some(events::record(&txn, log, &stored, change, now).await?);
    }
    txn.commit().await?;
    if let Some(recorded) = recorded {
        log.committed(recorded);
    }
    Ok(stored)
}

/// Deletes a canvas; its nodes, edges, assets and generations go with it (foreign-key cascade),
/// and its assets' objects are removed from the store after the commit.
pub async fn delete_canvas(
    db: &DatabaseConnection,
    store: &AssetStore,
    actor: &Actor,
    id: &str,
    log: &EventLog<'_>,
) -> Result<()> {
    actor.user_id()?;
    let txn = begin_write(db).await?;
    let stored = lock_own_canvas(&txn, actor, id).await?;
    let change = Change {
        deleted: true,
        ..Default::default()
    };
    let recorded = events::record(&txn, log, &stored, change, now()).await?;
    let keys = cleanup::keys_of_canvas(&txn, id).await?;
    cleanup::schedule(&txn, &keys).await?;
    canvas::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    log.committed(recorded);
    cleanup::remove(db, store, &keys).await;
    Ok(())
}

/// Copies a canvas the actor can read, with its nodes and edges, into a new canvas of the actor's.
pub async fn duplicate_canvas(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    name: Option<String>,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<canvas::Model> {
    let owner = actor.user_id()?.to_owned();
    if let Some(name) = &name {
        check_name("name", name)?;
    }
    let txn = begin_write(db).await?;
    let source = super::find_readable(&txn, actor, id)
        .await?
        .ok_or_else(|| Error::not_found("canvas", id))?;
    let nodes = load_nodes(&txn, id).await?;
    let edges = load_edges(&txn, id).await?;
    let now = now();
    let meta = CanvasMetaInput {
        name: Some(name.unwrap_or_else(|| copy_name(&source.name))),
        description: source
            .description
            .clone()
            .map_or(super::Patch::Clear, super::Patch::Set),
        thumbnail: source
            .thumbnail
            .clone()
            .map_or(super::Patch::Clear, super::Patch::Set),
        is_template: Some(false),
        is_public: Some(false),
        viewport: source
            .viewport
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .map_or(super::Patch::Clear, super::Patch::Set),
    };
    check_meta("input", &meta, limits)?;
    ensure_user(&txn, &owner).await?;
    let copy = new_canvas_row(CanvasId::generate().into_string(), &owner, &meta, now);
    insert_canvas_row(&txn, &copy).await?;
    let node_inputs: Vec<NodeInput> = nodes.iter().map(StoredNode::to_input).collect();
    let edge_inputs: Vec<EdgeInput> = edges.iter().map(StoredEdge::to_input).collect();
    let (nodes, edges) = (&node_inputs, &edge_inputs);
    let diff = diff_and_write(&txn, &copy.id, &[], &[], nodes, edges, now).await?;
    let change = Change {
        meta: true,
        rows: Some(diff.changes()),
        deleted: false,
    };
    let recorded = events::record(&txn, log, &copy, change, now).await?;
    txn.commit().await?;
    log.committed(recorded);
    Ok(copy)
}

/// When a canvas brought in from elsewhere was made and last changed.
#[derive(Debug, Clone, Copy)]
pub struct CanvasTimes {
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Writes a whole canvas brought in from elsewhere (an import), inside the caller's transaction,
/// validated like a save. A new id makes a new canvas that keeps `created_at` and `updated_at`
/// as given. With `replace`, the actor's own canvas of that id is made equal to it instead
/// (version bumped when anything changed, times as given); without it, or when the canvas is
/// another user's, an id already taken is a `CONFLICT`. The snapshot must name its id.
pub async fn write_imported_canvas(
    txn: &DatabaseTransaction,
    actor: &Actor,
    snapshot: &CanvasSnapshot,
    times: CanvasTimes,
    replace: bool,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<(canvas::Model, Option<events::Recorded>)> {
    let CanvasTimes {
        created_at,
        updated_at,
    } = times;
    let owner = actor.user_id()?.to_owned();
    let id = CanvasId::parse("id", snapshot.id.as_deref().unwrap_or_default())?;
    check_snapshot(snapshot, limits, &IMPORTED)?;

    let now = now();
    match lock_canvas(txn, id.as_str()).await? {
        None => {
            ensure_user(txn, &owner).await?;
            let mut model = new_canvas_row(id.as_str().to_owned(), &owner, &snapshot.meta, now);
            model.created_at = created_at;
            model.updated_at = updated_at;
            insert_canvas_row(txn, &model).await?;
            let (nodes, edges) = (&snapshot.nodes, &snapshot.edges);
            let diff = diff_and_write(txn, &model.id, &[], &[], nodes, edges, now).await?;
            let change = Change {
                meta: true,
                rows: Some(diff.changes()),
                deleted: false,
            };
            let recorded = events::record(txn, log, &model, change, now).await?;
            Ok((model, Some(recorded)))
        }
        Some(stored) if replace && actor.is(&stored.owner_id) => {
            let mut stored = stored;
            let current_nodes = load_nodes(txn, &stored.id).await?;
            let current_edges = load_edges(txn, &stored.id).await?;
            let meta_changed = apply_meta(&mut stored, &snapshot.meta);
            let diff = diff_and_write(
                txn,
                &stored.id,
                &current_nodes,
                &current_edges,
                &snapshot.nodes,
                &snapshot.edges,
                now,
            )
            .await?;
            let mut recorded = None;
            if meta_changed || diff.changes().any() {
                bump(txn, &mut stored, updated_at).await?;
                let change = Change {
                    meta: meta_changed,
                    rows: Some(diff.changes()),
                    deleted: false,
                };
                recorded = Some(events::record(txn, log, &stored, change, now).await?);
                canvas::Entity::update_many()
                    .col_expr(
                        canvas::Column::CreatedAt,
                        sea_orm::sea_query::Expr::value(created_at),
                    )
                    .filter(canvas::Column::Id.eq(stored.id.clone()))
                    .exec(txn)
                    .await?;
                stored.created_at = created_at;
            }
            Ok((stored, recorded))
        }
        Some(_) => Err(Error::AlreadyExists {
            field: "id".into(),
            message: format!("a canvas with id '{}' already exists", id.as_str()),
        }),
    }
}

/// The name a copy gets when the caller gives none.
fn copy_name(name: &str) -> String {
    let copy = format!("{name} (copy)");
    if copy.chars().count() > super::validate::MAX_NAME_CHARS {
        name.to_owned()
    } else {
        copy
    }
}

/// Where a snapshot's parts sit in the input, for error messages.
struct SnapshotFields {
    name: &'static str,
    meta: &'static str,
    nodes: &'static str,
    edges: &'static str,
}

/// A `saveCanvas` argument.
const SAVED: SnapshotFields = SnapshotFields {
    name: "input.name",
    meta: "input",
    nodes: "input.nodes",
    edges: "input.edges",
};

/// A canvas of an import.
const IMPORTED: SnapshotFields = SnapshotFields {
    name: "name",
    meta: "canvas",
    nodes: "nodes",
    edges: "edges",
};

/// Checks a whole snapshot before anything is written: name, metadata, every node and edge,
/// and the graph they make.
fn check_snapshot(
    snapshot: &CanvasSnapshot,
    limits: &Limits,
    fields: &SnapshotFields,
) -> Result<()> {
    let name = snapshot
        .meta
        .name
        .as_deref()
        .ok_or_else(|| Error::bad_input(fields.name, "is required"))?;
    check_name(fields.name, name)?;
    check_meta(fields.meta, &snapshot.meta, limits)?;
    let nodes = label_all(fields.nodes, &snapshot.nodes);
    let edges = label_all(fields.edges, &snapshot.edges);
    for node in &nodes {
        check_node(&node.label, node.item, limits)?;
    }
    for edge in &edges {
        check_edge(&edge.label, edge.item, limits)?;
    }
    check_graph(&nodes, &edges, limits)
}

fn label_all<'a, T>(prefix: &str, items: &'a [T]) -> Vec<Labeled<'a, T>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Labeled {
            label: format!("{prefix}[{i}]"),
            item,
        })
        .collect()
}

fn new_canvas_row(
    id: String,
    owner: &str,
    meta: &CanvasMetaInput,
    now: DateTime<Utc>,
) -> canvas::Model {
    canvas::Model {
        id,
        owner_id: owner.to_owned(),
        name: meta.name.clone().unwrap_or_default(),
        search_name: meta.name.as_deref().unwrap_or_default().to_lowercase(),
        description: meta.description.apply(None),
        thumbnail: meta.thumbnail.apply(None),
        is_template: meta.is_template.unwrap_or(false),
        is_public: meta.is_public.unwrap_or(false),
        viewport: meta
            .viewport
            .apply(None)
            .and_then(|v| serde_json::to_value(v).ok()),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts a new canvas row; an id already taken is a `CONFLICT`.
async fn insert_canvas_row(txn: &DatabaseTransaction, model: &canvas::Model) -> Result<()> {
    let row = canvas::ActiveModel {
        id: Set(model.id.clone()),
        owner_id: Set(model.owner_id.clone()),
        name: Set(model.name.clone()),
        search_name: Set(model.search_name.clone()),
        description: Set(model.description.clone()),
        thumbnail: Set(model.thumbnail.clone()),
        is_template: Set(model.is_template),
        is_public: Set(model.is_public),
        viewport: Set(model.viewport.clone()),
        version: Set(model.version),
        created_at: Set(model.created_at),
        updated_at: Set(model.updated_at),
    };
    let inserted = canvas::Entity::insert(row)
        .on_conflict(
            OnConflict::column(canvas::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        return Err(Error::AlreadyExists {
            field: "input.id".into(),
            message: format!("a canvas with id '{}' already exists", model.id),
        });
    }
    Ok(())
}

/// Reads a canvas and, on PostgreSQL, locks its row until the transaction ends, so that
/// concurrent writers of one canvas take turns. (SQLite's `BEGIN IMMEDIATE` already serializes.)
pub(super) async fn lock_canvas(
    txn: &DatabaseTransaction,
    id: &str,
) -> Result<Option<canvas::Model>> {
    let mut query = canvas::Entity::find_by_id(id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(txn).await?)
}

/// Like [`lock_canvas`], for a canvas the actor owns; any other is `NOT_FOUND`.
pub(super) async fn lock_own_canvas(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: &str,
) -> Result<canvas::Model> {
    match lock_canvas(txn, id).await? {
        Some(canvas) if actor.is(&canvas.owner_id) => Ok(canvas),
        _ => Err(Error::not_found("canvas", id)),
    }
}

pub(super) fn check_version(stored: &canvas::Model, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(expected) if expected != stored.version => Err(Error::Conflict {
            expected,
            current: stored.version,
        }),
        _ => Ok(()),
    }
}

/// Applies a metadata change to the row in memory; tells whether anything changed.
fn apply_meta(stored: &mut canvas::Model, meta: &CanvasMetaInput) -> bool {
    let before = stored.clone();
    if let Some(name) = &meta.name {
        stored.name.clone_from(name);
        stored.search_name = name.to_lowercase();
    }
    stored.description = meta.description.apply(stored.description.take());
    stored.thumbnail = meta.thumbnail.apply(stored.thumbnail.take());
    if let Some(is_template) = meta.is_template {
        stored.is_template = is_template;
    }
    if let Some(is_public) = meta.is_public {
        stored.is_public = is_public;
    }
    match &meta.viewport {
        super::Patch::Keep => {}
        super::Patch::Clear => stored.viewport = None,
        super::Patch::Set(viewport) => stored.viewport = serde_json::to_value(viewport).ok(),
    }
    *stored != before
}

/// Writes the canvas row with its next version.
pub(super) async fn bump(
    txn: &DatabaseTransaction,
    stored: &mut canvas::Model,
    now: DateTime<Utc>,
) -> Result<()> {
    let previous = stored.version;
    stored.version += 1;
    stored.updated_at = now;
    let row = canvas::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(stored.id.clone()),
        name: Set(stored.name.clone()),
        search_name: Set(stored.search_name.clone()),
        description: Set(stored.description.clone()),
        thumbnail: Set(stored.thumbnail.clone()),
        is_template: Set(stored.is_template),
        is_public: Set(stored.is_public),
        viewport: Set(stored.viewport.clone()),
        version: Set(stored.version),
        updated_at: Set(now),
        ..Default::default()
    };
    let updated = canvas::Entity::update_many()
        .set(row)
        .filter(canvas::Column::Id.eq(stored.id.clone()))
        .filter(canvas::Column::Version.eq(previous))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        // Only reachable if another writer slipped past the row lock; refuse rather than merge.
        return Err(Error::Conflict {
            expected: previous,
            current: previous + 1,
        });
    }
    Ok(())
}

/// What a write touched, to tell a no-op from a change.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Written {
    nodes_upserted: usize,
    nodes_deleted: usize,
    edges_upserted: usize,
    edges_deleted: usize,
}

impl Written {
    pub(super) fn any(&self) -> bool {
        self.nodes_upserted + self.nodes_deleted + self.edges_upserted + self.edges_deleted > 0
    }
}

pub(super) async fn load_nodes(
    txn: &DatabaseTransaction,
    canvas_id: &str,
) -> Result<Vec<StoredNode>> {
    stored::nodes_of_canvases(txn, &[canvas_id.to_owned()]).await
}

pub(super) async fn load_edges(
    txn: &DatabaseTransaction,
    canvas_id: &str,
) -> Result<Vec<StoredEdge>> {
    stored::edges_of_canvases(txn, &[canvas_id.to_owned()]).await
}

/// The rows a save changes, as [`diff_and_write`] found and wrote them.
pub(super) struct Diff<'a> {
    deleted_edges: Vec<String>,
    deleted_nodes: Vec<String>,
    nodes: Vec<Row<'a, NodeInput>>,
    edges: Vec<Row<'a, EdgeInput>>,
}

impl Diff<'_> {
    pub(super) fn changes(&self) -> RowChanges<'_> {
        RowChanges {
            deleted_edges: &self.deleted_edges,
            deleted_nodes: &self.deleted_nodes,
            nodes: &self.nodes,
            edges: &self.edges,
        }
    }
}

/// Compares the wanted lists with the stored rows and writes only the difference: deletes, then
/// multi-row upserts of new and changed rows, nodes before the edges that reference them.
async fn diff_and_write<'a>(
    txn: &DatabaseTransaction,
    canvas_id: &str,
    current_nodes: &[StoredNode],
    current_edges: &[StoredEdge],
    nodes: &'a [NodeInput],
    edges: &'a [EdgeInput],
    now: DateTime<Utc>,
) -> Result<Diff<'a>> {
    let stored_nodes: HashMap<&str, &StoredNode> =
        current_nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let node_positions = assign_positions(
        &nodes
            .iter()
            .map(|n| stored_nodes.get(n.id.as_str()).map(|s| s.sort_position))
            .collect::<Vec<_>>(),
    );
    let mut node_rows = Vec::new();
    for (node, sort_position) in nodes.iter().zip(node_positions) {
        let stored = stored_nodes.get(node.id.as_str()).copied();
        if stored.is_none_or(|s| !s.same_as(node, sort_position)) {
            node_rows.push(Row {
                item: node,
                sort_position,
                created_at: stored.map_or(now, |s| s.created_at),
            });
        }
    }
    let wanted_nodes: HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let deleted_nodes: Vec<String> = current_nodes
        .iter()
        .filter(|n| !wanted_nodes.contains(n.id.as_str()))
        .map(|n| n.id.clone())
        .collect();

    let stored_edges: HashMap<&str, &StoredEdge> =
        current_edges.iter().map(|e| (e.id.as_str(), e)).collect();
    let edge_positions = assign_positions(
        &edges
            .iter()
            .map(|e| stored_edges.get(e.id.as_str()).map(|s| s.sort_position))
            .collect::<Vec<_>>(),
    );
    let mut edge_rows = Vec::new();
    for (edge, sort_position) in edges.iter().zip(edge_positions) {
        let stored = stored_edges.get(edge.id.as_str()).copied();
        if stored.is_none_or(|s| !s.same_as(edge, sort_position)) {
            edge_rows.push(Row {
                item: edge,
                sort_position,
                created_at: stored.map_or(now, |s| s.created_at),
            });
        }
    }
    let wanted_edges: HashSet<&str> = edges.iter().map(|e| e.id.as_str()).collect();
    let deleted_edges: Vec<String> = current_edges
        .iter()
        .filter(|e| !wanted_edges.contains(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect();

    let diff = Diff {
        deleted_edges,
        deleted_nodes,
        nodes: node_rows,
        edges: edge_rows,
    };
    write_rows(txn, canvas_id, &diff.changes(), now).await?;
    Ok(diff)
}

/// A node or edge to write, where it goes, and when it was first written.
pub(super) struct Row<'a, T> {
    pub item: &'a T,
    pub sort_position: i64,
    pub created_at: DateTime<Utc>,
}

/// The rows one write changes.
pub(super) struct RowChanges<'a> {
    pub deleted_edges: &'a [String],
    pub deleted_nodes: &'a [String],
    pub nodes: &'a [Row<'a, NodeInput>],
    pub edges: &'a [Row<'a, EdgeInput>],
}

impl RowChanges<'_> {
    /// Whether any row changes.
    pub(super) fn any(&self) -> bool {
        !(self.deleted_edges.is_empty()
            && self.deleted_nodes.is_empty()
            && self.nodes.is_empty()
            && self.edges.is_empty())
    }
}

/// Deletes, then upserts nodes before the edges that reference them, in statements sized to the
/// database's bind limit.
pub(super) async fn write_rows(
    txn: &DatabaseTransaction,
    canvas_id: &str,
    changes: &RowChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Written> {
    for chunk in changes.deleted_edges.chunks(IN_LIST_CHUNK) {
        canvas_edge::Entity::delete_many()
            .filter(canvas_edge::Column::CanvasId.eq(canvas_id))
            .filter(canvas_edge::Column::Id.is_in(chunk.iter().cloned()))
            .exec(txn)
            .await?;
    }
    for chunk in changes.deleted_nodes.chunks(IN_LIST_CHUNK) {
        canvas_node::Entity::delete_many()
            .filter(canvas_node::Column::CanvasId.eq(canvas_id))
            .filter(canvas_node::Column::Id.is_in(chunk.iter().cloned()))
            .exec(txn)
            .await?;
    }
    upsert_nodes(txn, canvas_id, changes.nodes, now).await?;
    upsert_edges(txn, canvas_id, changes.edges, now).await?;
    Ok(Written {
        nodes_upserted: changes.nodes.len(),
        nodes_deleted: changes.deleted_nodes.len(),
        edges_upserted: changes.edges.len(),
        edges_deleted: changes.deleted_edges.len(),
    })
}

/// A JSON column's value from its text; PostgreSQL is told the text is `jsonb`.
pub(super) fn json_param(backend: DatabaseBackend, text: Option<&str>) -> Expr {
    let value = Expr::val(text.map(str::to_owned));
    match backend {
        DatabaseBackend::Postgres => Func::cast_as(value, "jsonb").into(),
        _ => value,
    }
}

async fn upsert_nodes(
    txn: &DatabaseTransaction,
    canvas_id: &str,
    rows: &[Row<'_, NodeInput>],
    now: DateTime<Utc>,
) -> Result<()> {
    use canvas_node::Column as C;
    let backend = txn.get_database_backend();
    let columns = [
        C::CanvasId,
        C::Id,
        C::NodeType,
        C::PositionX,
        C::PositionY,
        C::Width,
        C::Height,
        C::ZIndex,
        C::ParentId,
        C::Data,
        C::Attrs,
        C::SortPosition,
        C::CreatedAt,
        C::UpdatedAt,
    ];
    let on_conflict = OnConflict::columns([C::CanvasId, C::Id])
        .update_columns(
            columns[2..]
                .iter()
                .copied()
                .filter(|c| !matches!(c, C::CreatedAt)),
        )
        .to_owned();
    for batch in rows.chunks(max_bind_params(backend) / columns.len()) {
        let mut insert = Query::insert();
        insert
            .into_table(canvas_node::Entity)
            .columns(columns)
            .on_conflict(on_conflict.clone());
        for row in batch {
            let node = row.item;
            insert.values_panic([
                Expr::val(canvas_id),
                Expr::val(node.id.as_str()),
                Expr::val(node.node_type.as_str()),
                Expr::val(node.x),
                Expr::val(node.y),
                Expr::val(node.width),
                Expr::val(node.height),
                Expr::val(node.z_index),
                Expr::val(node.parent_id.as_deref()),
                json_param(backend, Some(node.data.as_str())),
                json_param(backend, attrs_text(&node.attrs).as_deref()),
                Expr::val(row.sort_position),
                Expr::val(row.created_at),
                Expr::val(now),
            ]);
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}

async fn upsert_edges(
    txn: &DatabaseTransaction,
    canvas_id: &str,
    rows: &[Row<'_, EdgeInput>],
    now: DateTime<Utc>,
) -> Result<()> {
    use canvas_edge::Column as C;
    let backend = txn.get_database_backend();
    let columns = [
        C::CanvasId,
        C::Id,
        C::Source,
        C::SourceHandle,
        C::Target,
        C::TargetHandle,
        C::EdgeType,
        C::Data,
        C::Attrs,
        C::SortPosition,
        C::CreatedAt,
        C::UpdatedAt,
    ];
    let on_conflict = OnConflict::columns([C::CanvasId, C::Id])
        .update_columns(
            columns[2..]
                .iter()
                .copied()
                .filter(|c| !matches!(c, C::CreatedAt)),
        )
        .to_owned();
    for batch in rows.chunks(max_bind_params(backend) / columns.len()) {
        let mut insert = Query::insert();
        insert
            .into_table(canvas_edge::Entity)
            .columns(columns)
            .on_conflict(on_conflict.clone());
        for row in batch {
            let edge = row.item;
            insert.values_panic([
                Expr::val(canvas_id),
                Expr::val(edge.id.as_str()),
                Expr::val(edge.source.as_str()),
                Expr::val(edge.source_handle.as_deref()),
                Expr::val(edge.target.as_str()),
                Expr::val(edge.target_handle.as_deref()),
                Expr::val(edge.edge_type.as_str()),
                json_param(backend, edge.data.as_ref().map(JsonText::as_str)),
                json_param(backend, attrs_text(&edge.attrs).as_deref()),
                Expr::val(row.sort_position),
                Expr::val(row.created_at),
                Expr::val(now),
            ]);
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}
