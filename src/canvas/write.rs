//! Every write to a canvas: one transaction each, version-checked, and diffed against the stored
//! rows so that a save costs what changed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{canvas, canvas_edge, canvas_node};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, Iterable, QueryFilter, QueryOrder, QuerySelect,
};

use super::order::assign_positions;
use super::validate::{Labeled, check_edge, check_graph, check_meta, check_name, check_node};
use super::{
    CanvasId, CanvasMetaInput, CanvasSnapshot, EdgeAttrs, EdgeInput, NodeAttrs, NodeInput,
    attrs_from_json,
};
use crate::assets::{AssetStore, cleanup};
use crate::auth::{Actor, ensure_user};
use crate::config::Limits;
use crate::db::{begin_write, max_bind_params};
use crate::error::{Error, Result};
use crate::time::now;

/// Changes to some nodes and edges of a canvas, leaving the others as they are.
#[derive(Debug, Clone, Default)]
pub struct CanvasChanges {
    /// New nodes (appended after the existing ones) and changed ones (kept in place).
    pub upsert_nodes: Vec<NodeInput>,
    /// Nodes to delete; their edges go with them.
    pub delete_node_ids: Vec<String>,
    pub upsert_edges: Vec<EdgeInput>,
    pub delete_edge_ids: Vec<String>,
}

/// Creates an empty canvas owned by the actor.
pub async fn create_canvas(
    db: &DatabaseConnection,
    actor: &Actor,
    id: Option<String>,
    meta: CanvasMetaInput,
    limits: &Limits,
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
    let model = new_canvas_row(id.into_string(), owner, &meta, now());
    insert_canvas_row(&txn, &model).await?;
    txn.commit().await?;
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
) -> Result<canvas::Model> {
    actor.user_id()?;
    check_meta("input", &meta, limits)?;
    let txn = begin_write(db).await?;
    let mut stored = lock_own_canvas(&txn, actor, id).await?;
    check_version(&stored, expected_version)?;
    if apply_meta(&mut stored, &meta) {
        bump(&txn, &mut stored, now()).await?;
    }
    txn.commit().await?;
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
) -> Result<canvas::Model> {
    let owner = actor.user_id()?.to_owned();
    let id = match &snapshot.id {
        Some(id) => CanvasId::parse("input.id", id)?,
        None => CanvasId::generate(),
    };
    let name = snapshot
        .meta
        .name
        .clone()
        .ok_or_else(|| Error::bad_input("input.name", "is required"))?;
    check_name("input.name", &name)?;
    check_meta("input", &snapshot.meta, limits)?;
    let nodes = label_all("input.nodes", &snapshot.nodes);
    let edges = label_all("input.edges", &snapshot.edges);
    for node in &nodes {
        check_node(&node.label, node.item, limits)?;
    }
    for edge in &edges {
        check_edge(&edge.label, edge.item, limits)?;
    }
    check_graph(&nodes, &edges, limits)?;

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
            diff_and_write(&txn, &model.id, Vec::new(), Vec::new(), nodes, edges, now).await?;
            txn.commit().await?;
            return Ok(model);
        }
    };
    let meta_changed = apply_meta(&mut stored, &snapshot.meta);
    let written = diff_and_write(
        &txn,
        &stored.id,
        current_nodes,
        current_edges,
        &snapshot.nodes,
        &snapshot.edges,
        now,
    )
    .await?;
    if meta_changed || written.any() {
        bump(&txn, &mut stored, now).await?;
    }
    txn.commit().await?;
    Ok(stored)
}

/// Applies changes to some nodes and edges. New nodes and edges come after the existing ones;
/// deleting a node deletes its edges.
pub async fn apply_canvas_changes(
    db: &DatabaseConnection,
    actor: &Actor,
    canvas_id: &str,
    changes: CanvasChanges,
    expected_version: Option<i64>,
    limits: &Limits,
) -> Result<canvas::Model> {
    actor.user_id()?;
    for (i, node) in changes.upsert_nodes.iter().enumerate() {
        check_node(&format!("changes.upsertNodes[{i}]"), node, limits)?;
    }
    for (i, edge) in changes.upsert_edges.iter().enumerate() {
        check_edge(&format!("changes.upsertEdges[{i}]"), edge, limits)?;
    }

    let txn = begin_write(db).await?;
    let mut stored = lock_own_canvas(&txn, actor, canvas_id).await?;
    check_version(&stored, expected_version)?;
    let current_nodes = load_nodes(&txn, canvas_id).await?;
    let current_edges = load_edges(&txn, canvas_id).await?;
    let (nodes, edges) = merge_changes(&current_nodes, &current_edges, &changes)?;
    {
        let nodes: Vec<_> = nodes
            .iter()
            .map(|(label, item)| Labeled {
                label: label.clone(),
                item,
            })
            .collect();
        let edges: Vec<_> = edges
            .iter()
            .map(|(label, item)| Labeled {
                label: label.clone(),
                item,
            })
            .collect();
        check_graph(&nodes, &edges, limits)?;
    }
    let nodes: Vec<NodeInput> = nodes.into_iter().map(|(_, node)| node).collect();
    let edges: Vec<EdgeInput> = edges.into_iter().map(|(_, edge)| edge).collect();
    let now = now();
    let written = diff_and_write(
        &txn,
        canvas_id,
        current_nodes,
        current_edges,
        &nodes,
        &edges,
        now,
    )
    .await?;
    if written.any() {
        bump(&txn, &mut stored, now).await?;
    }
    txn.commit().await?;
    Ok(stored)
}

/// Deletes a canvas; its nodes, edges, assets and generations go with it (foreign-key cascade),
/// and its assets' objects are removed from the store after the commit.
pub async fn delete_canvas(
    db: &DatabaseConnection,
    store: &AssetStore,
    actor: &Actor,
    id: &str,
) -> Result<()> {
    actor.user_id()?;
    let txn = begin_write(db).await?;
    lock_own_canvas(&txn, actor, id).await?;
    let keys = cleanup::keys_of_canvas(&txn, id).await?;
    cleanup::schedule(&txn, &keys).await?;
    canvas::Entity::delete_by_id(id.to_owned())
        .exec(&txn)
        .await?;
    txn.commit().await?;
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
    let node_inputs: Vec<NodeInput> = nodes.iter().map(node_input_of).collect();
    let edge_inputs: Vec<EdgeInput> = edges.iter().map(edge_input_of).collect();
    let (nodes, edges) = (&node_inputs, &edge_inputs);
    diff_and_write(&txn, &copy.id, Vec::new(), Vec::new(), nodes, edges, now).await?;
    txn.commit().await?;
    Ok(copy)
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
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    replace: bool,
    limits: &Limits,
) -> Result<canvas::Model> {
    let owner = actor.user_id()?.to_owned();
    let id = CanvasId::parse("id", snapshot.id.as_deref().unwrap_or_default())?;
    let name = snapshot
        .meta
        .name
        .clone()
        .ok_or_else(|| Error::bad_input("name", "is required"))?;
    check_name("name", &name)?;
    check_meta("canvas", &snapshot.meta, limits)?;
    let nodes = label_all("nodes", &snapshot.nodes);
    let edges = label_all("edges", &snapshot.edges);
    for node in &nodes {
        check_node(&node.label, node.item, limits)?;
    }
    for edge in &edges {
        check_edge(&edge.label, edge.item, limits)?;
    }
    check_graph(&nodes, &edges, limits)?;

    let now = now();
    match lock_canvas(txn, id.as_str()).await? {
        None => {
            ensure_user(txn, &owner).await?;
            let mut model = new_canvas_row(id.as_str().to_owned(), &owner, &snapshot.meta, now);
            model.created_at = created_at;
            model.updated_at = updated_at;
            insert_canvas_row(txn, &model).await?;
            let (nodes, edges) = (&snapshot.nodes, &snapshot.edges);
            diff_and_write(txn, &model.id, Vec::new(), Vec::new(), nodes, edges, now).await?;
            Ok(model)
        }
        Some(stored) if replace && actor.is(&stored.owner_id) => {
            let mut stored = stored;
            let current_nodes = load_nodes(txn, &stored.id).await?;
            let current_edges = load_edges(txn, &stored.id).await?;
            let meta_changed = apply_meta(&mut stored, &snapshot.meta);
            let written = diff_and_write(
                txn,
                &stored.id,
                current_nodes,
                current_edges,
                &snapshot.nodes,
                &snapshot.edges,
                now,
            )
            .await?;
            if meta_changed || written.any() {
                bump(txn, &mut stored, updated_at).await?;
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
            Ok(stored)
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
async fn lock_canvas(txn: &DatabaseTransaction, id: &str) -> Result<Option<canvas::Model>> {
    let mut query = canvas::Entity::find_by_id(id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(txn).await?)
}

/// Like [`lock_canvas`], for a canvas the actor owns; any other is `NOT_FOUND`.
async fn lock_own_canvas(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: &str,
) -> Result<canvas::Model> {
    match lock_canvas(txn, id).await? {
        Some(canvas) if actor.is(&canvas.owner_id) => Ok(canvas),
        _ => Err(Error::not_found("canvas", id)),
    }
}

fn check_version(stored: &canvas::Model, expected: Option<i64>) -> Result<()> {
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
async fn bump(
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
struct Written {
    nodes_upserted: usize,
    nodes_deleted: usize,
    edges_upserted: usize,
    edges_deleted: usize,
}

impl Written {
    fn any(&self) -> bool {
        self.nodes_upserted + self.nodes_deleted + self.edges_upserted + self.edges_deleted > 0
    }
}

async fn load_nodes(txn: &DatabaseTransaction, canvas_id: &str) -> Result<Vec<canvas_node::Model>> {
    Ok(canvas_node::Entity::find()
        .filter(canvas_node::Column::CanvasId.eq(canvas_id))
        .order_by_asc(canvas_node::Column::SortPosition)
        .all(txn)
        .await?)
}

async fn load_edges(txn: &DatabaseTransaction, canvas_id: &str) -> Result<Vec<canvas_edge::Model>> {
    Ok(canvas_edge::Entity::find()
        .filter(canvas_edge::Column::CanvasId.eq(canvas_id))
        .order_by_asc(canvas_edge::Column::SortPosition)
        .all(txn)
        .await?)
}

/// Compares the wanted lists with the stored rows and writes only the difference: deletes, then
/// multi-row upserts of new and changed rows, nodes before the edges that reference them.
async fn diff_and_write(
    txn: &DatabaseTransaction,
    canvas_id: &str,
    current_nodes: Vec<canvas_node::Model>,
    current_edges: Vec<canvas_edge::Model>,
    nodes: &[NodeInput],
    edges: &[EdgeInput],
    now: DateTime<Utc>,
) -> Result<Written> {
    let stored_nodes: HashMap<&str, &canvas_node::Model> =
        current_nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let node_positions = assign_positions(
        &nodes
            .iter()
            .map(|n| stored_nodes.get(n.id.as_str()).map(|s| s.sort_position))
            .collect::<Vec<_>>(),
    );
    let mut node_rows = Vec::new();
    for (node, position) in nodes.iter().zip(node_positions) {
        let stored = stored_nodes.get(node.id.as_str()).copied();
        let row = node_row(
            canvas_id,
            node,
            position,
            stored.map_or(now, |s| s.created_at),
            now,
        );
        if stored.is_none_or(|s| !same_node(s, &row)) {
            node_rows.push(row);
        }
    }
    let wanted_nodes: HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let deleted_nodes: Vec<String> = current_nodes
        .iter()
        .filter(|n| !wanted_nodes.contains(n.id.as_str()))
        .map(|n| n.id.clone())
        .collect();

    let stored_edges: HashMap<&str, &canvas_edge::Model> =
        current_edges.iter().map(|e| (e.id.as_str(), e)).collect();
    let edge_positions = assign_positions(
        &edges
            .iter()
            .map(|e| stored_edges.get(e.id.as_str()).map(|s| s.sort_position))
            .collect::<Vec<_>>(),
    );
    let mut edge_rows = Vec::new();
    for (edge, position) in edges.iter().zip(edge_positions) {
        let stored = stored_edges.get(edge.id.as_str()).copied();
        let row = edge_row(
            canvas_id,
            edge,
            position,
            stored.map_or(now, |s| s.created_at),
            now,
        );
        if stored.is_none_or(|s| !same_edge(s, &row)) {
            edge_rows.push(row);
        }
    }
    let wanted_edges: HashSet<&str> = edges.iter().map(|e| e.id.as_str()).collect();
    let deleted_edges: Vec<String> = current_edges
        .iter()
        .filter(|e| !wanted_edges.contains(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect();

    let written = Written {
        nodes_upserted: node_rows.len(),
        nodes_deleted: deleted_nodes.len(),
        edges_upserted: edge_rows.len(),
        edges_deleted: deleted_edges.len(),
    };
    let limit = max_bind_params(txn.get_database_backend());

    for chunk in deleted_edges.chunks(limit - 1) {
        canvas_edge::Entity::delete_many()
            .filter(canvas_edge::Column::CanvasId.eq(canvas_id))
            .filter(canvas_edge::Column::Id.is_in(chunk.iter().cloned()))
            .exec(txn)
            .await?;
    }
    for chunk in deleted_nodes.chunks(limit - 1) {
        canvas_node::Entity::delete_many()
            .filter(canvas_node::Column::CanvasId.eq(canvas_id))
            .filter(canvas_node::Column::Id.is_in(chunk.iter().cloned()))
            .exec(txn)
            .await?;
    }
    upsert_nodes(txn, node_rows, limit).await?;
    upsert_edges(txn, edge_rows, limit).await?;
    Ok(written)
}

async fn upsert_nodes(
    txn: &DatabaseTransaction,
    rows: Vec<canvas_node::Model>,
    limit: usize,
) -> Result<()> {
    use canvas_node::Column as C;
    let per_statement = limit / canvas_node::Column::iter().count();
    let on_conflict = OnConflict::columns([C::CanvasId, C::Id])
        .update_columns([
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
            C::UpdatedAt,
        ])
        .to_owned();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<canvas_node::ActiveModel> =
            rows.by_ref().take(per_statement).map(Into::into).collect();
        canvas_node::Entity::insert_many(batch)
            .on_conflict(on_conflict.clone())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

async fn upsert_edges(
    txn: &DatabaseTransaction,
    rows: Vec<canvas_edge::Model>,
    limit: usize,
) -> Result<()> {
    use canvas_edge::Column as C;
    let per_statement = limit / canvas_edge::Column::iter().count();
    let on_conflict = OnConflict::columns([C::CanvasId, C::Id])
        .update_columns([
            C::Source,
            C::SourceHandle,
            C::Target,
            C::TargetHandle,
            C::EdgeType,
            C::Data,
            C::Attrs,
            C::SortPosition,
            C::UpdatedAt,
        ])
        .to_owned();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<canvas_edge::ActiveModel> =
            rows.by_ref().take(per_statement).map(Into::into).collect();
        canvas_edge::Entity::insert_many(batch)
            .on_conflict(on_conflict.clone())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

fn node_row(
    canvas_id: &str,
    node: &NodeInput,
    sort_position: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> canvas_node::Model {
    canvas_node::Model {
        canvas_id: canvas_id.to_owned(),
        id: node.id.clone(),
        node_type: node.node_type.clone(),
        position_x: node.x,
        position_y: node.y,
        width: node.width,
        height: node.height,
        z_index: node.z_index,
        parent_id: node.parent_id.clone(),
        data: node.data.clone(),
        attrs: node.attrs.to_json(),
        sort_position,
        created_at,
        updated_at: now,
    }
}

fn edge_row(
    canvas_id: &str,
    edge: &EdgeInput,
    sort_position: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> canvas_edge::Model {
    canvas_edge::Model {
        canvas_id: canvas_id.to_owned(),
        id: edge.id.clone(),
        source: edge.source.clone(),
        source_handle: edge.source_handle.clone(),
        target: edge.target.clone(),
        target_handle: edge.target_handle.clone(),
        edge_type: edge.edge_type.clone(),
        data: edge.data.clone(),
        attrs: edge.attrs.to_json(),
        sort_position,
        created_at,
        updated_at: now,
    }
}

/// Equal in everything the client sees and the order; timestamps aside.
fn same_node(a: &canvas_node::Model, b: &canvas_node::Model) -> bool {
    a.node_type == b.node_type
        && a.position_x == b.position_x
        && a.position_y == b.position_y
        && a.width == b.width
        && a.height == b.height
        && a.z_index == b.z_index
        && a.parent_id == b.parent_id
        && a.sort_position == b.sort_position
        && a.data == b.data
        && a.attrs == b.attrs
}

fn same_edge(a: &canvas_edge::Model, b: &canvas_edge::Model) -> bool {
    a.source == b.source
        && a.source_handle == b.source_handle
        && a.target == b.target
        && a.target_handle == b.target_handle
        && a.edge_type == b.edge_type
        && a.sort_position == b.sort_position
        && a.data == b.data
        && a.attrs == b.attrs
}

/// A stored node as an input, for copying and merging.
fn node_input_of(row: &canvas_node::Model) -> NodeInput {
    NodeInput {
        id: row.id.clone(),
        node_type: row.node_type.clone(),
        x: row.position_x,
        y: row.position_y,
        width: row.width,
        height: row.height,
        z_index: row.z_index,
        parent_id: row.parent_id.clone(),
        data: row.data.clone(),
        attrs: attrs_from_json::<NodeAttrs>(row.attrs.as_ref()),
    }
}

fn edge_input_of(row: &canvas_edge::Model) -> EdgeInput {
    EdgeInput {
        id: row.id.clone(),
        source: row.source.clone(),
        source_handle: row.source_handle.clone(),
        target: row.target.clone(),
        target_handle: row.target_handle.clone(),
        edge_type: row.edge_type.clone(),
        data: row.data.clone(),
        attrs: attrs_from_json::<EdgeAttrs>(row.attrs.as_ref()),
    }
}

type LabeledList<T> = Vec<(String, T)>;

/// The canvas after `changes`, each item labeled with where it came from for error messages.
fn merge_changes(
    current_nodes: &[canvas_node::Model],
    current_edges: &[canvas_edge::Model],
    changes: &CanvasChanges,
) -> Result<(LabeledList<NodeInput>, LabeledList<EdgeInput>)> {
    let node_ids: HashSet<&str> = current_nodes.iter().map(|n| n.id.as_str()).collect();
    let edge_ids: HashSet<&str> = current_edges.iter().map(|e| e.id.as_str()).collect();

    let mut deleted_nodes = HashSet::new();
    for (i, id) in changes.delete_node_ids.iter().enumerate() {
        if !node_ids.contains(id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.deleteNodeIds[{i}]"),
                format!("'{id}' is not a node of this canvas"),
            ));
        }
        deleted_nodes.insert(id.as_str());
    }
    let mut deleted_edges = HashSet::new();
    for (i, id) in changes.delete_edge_ids.iter().enumerate() {
        if !edge_ids.contains(id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.deleteEdgeIds[{i}]"),
                format!("'{id}' is not an edge of this canvas"),
            ));
        }
        deleted_edges.insert(id.as_str());
    }

    let mut upserted_nodes: HashMap<&str, (usize, &NodeInput)> = HashMap::new();
    for (i, node) in changes.upsert_nodes.iter().enumerate() {
        if deleted_nodes.contains(node.id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.upsertNodes[{i}].id"),
                format!("node '{}' is also in deleteNodeIds", node.id),
            ));
        }
        if upserted_nodes.insert(&node.id, (i, node)).is_some() {
            return Err(Error::bad_input(
                format!("changes.upsertNodes[{i}].id"),
                format!("node id '{}' appears more than once", node.id),
            ));
        }
    }
    let mut upserted_edges: HashMap<&str, (usize, &EdgeInput)> = HashMap::new();
    for (i, edge) in changes.upsert_edges.iter().enumerate() {
        if deleted_edges.contains(edge.id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.upsertEdges[{i}].id"),
                format!("edge '{}' is also in deleteEdgeIds", edge.id),
            ));
        }
        if upserted_edges.insert(&edge.id, (i, edge)).is_some() {
            return Err(Error::bad_input(
                format!("changes.upsertEdges[{i}].id"),
                format!("edge id '{}' appears more than once", edge.id),
            ));
        }
    }

    let mut nodes = Vec::with_capacity(current_nodes.len() + changes.upsert_nodes.len());
    for row in current_nodes {
        if deleted_nodes.contains(row.id.as_str()) {
            continue;
        }
        match upserted_nodes.get(row.id.as_str()) {
            Some((i, node)) => nodes.push((format!("changes.upsertNodes[{i}]"), (*node).clone())),
            None => nodes.push((format!("stored node '{}'", row.id), node_input_of(row))),
        }
    }
    for (i, node) in changes.upsert_nodes.iter().enumerate() {
        if !node_ids.contains(node.id.as_str()) {
            nodes.push((format!("changes.upsertNodes[{i}]"), node.clone()));
        }
    }

    let remaining: HashSet<&str> = nodes.iter().map(|(_, n)| n.id.as_str()).collect();
    let mut edges = Vec::with_capacity(current_edges.len() + changes.upsert_edges.len());
    for row in current_edges {
        if deleted_edges.contains(row.id.as_str()) {
            continue;
        }
        match upserted_edges.get(row.id.as_str()) {
            Some((i, edge)) => edges.push((format!("changes.upsertEdges[{i}]"), (*edge).clone())),
            // An edge of a deleted node goes with it.
            None if remaining.contains(row.source.as_str())
                && remaining.contains(row.target.as_str()) =>
            {
                edges.push((format!("stored edge '{}'", row.id), edge_input_of(row)));
            }
            None => {}
        }
    }
    for (i, edge) in changes.upsert_edges.iter().enumerate() {
        if !edge_ids.contains(edge.id.as_str()) {
            edges.push((format!("changes.upsertEdges[{i}]"), edge.clone()));
        }
    }
    Ok((nodes, edges))
}
