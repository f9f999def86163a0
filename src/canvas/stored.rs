//! Nodes and edges as they are stored, read with their JSON columns as text so that loading a
//! canvas never builds (and later copies) a tree per node.

use chrono::{DateTime, Utc};
use entity::{canvas_edge, canvas_node};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::{EdgeAttrs, EdgeInput, JsonText, NodeAttrs, NodeInput, attrs_from_text};
use crate::error::Result;

/// A stored node.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredNode {
    pub canvas_id: String,
    pub id: String,
    pub node_type: String,
    pub x: f64,
    pub y: f64,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub z_index: i32,
    pub parent_id: Option<String>,
    pub data: JsonText,
    pub attrs: NodeAttrs,
    pub sort_position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A stored edge.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEdge {
    pub canvas_id: String,
    pub id: String,
    pub source: String,
    pub source_handle: Option<String>,
    pub target: String,
    pub target_handle: Option<String>,
    pub edge_type: String,
    pub data: Option<JsonText>,
    pub attrs: EdgeAttrs,
    pub sort_position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StoredNode {
    /// The node as a client would send it.
    pub fn to_input(&self) -> NodeInput {
        NodeInput {
            id: self.id.clone(),
            node_type: self.node_type.clone(),
            x: self.x,
            y: self.y,
            width: self.width,
            height: self.height,
            z_index: self.z_index,
            parent_id: self.parent_id.clone(),
            data: self.data.clone(),
            attrs: self.attrs.clone(),
        }
    }

    /// Equal in everything the client sees, and in place; timestamps aside.
    pub fn same_as(&self, node: &NodeInput, sort_position: i64) -> bool {
        self.sort_position == sort_position
            && self.node_type == node.node_type
            && self.x == node.x
            && self.y == node.y
            && self.width == node.width
            && self.height == node.height
            && self.z_index == node.z_index
            && self.parent_id == node.parent_id
            && self.attrs == node.attrs
            && self.data.same_value(&node.data)
    }
}

impl StoredEdge {
    /// The edge as a client would send it.
    pub fn to_input(&self) -> EdgeInput {
        EdgeInput {
            id: self.id.clone(),
            source: self.source.clone(),
            source_handle: self.source_handle.clone(),
            target: self.target.clone(),
            target_handle: self.target_handle.clone(),
            edge_type: self.edge_type.clone(),
            data: self.data.clone(),
            attrs: self.attrs.clone(),
        }
    }

    /// Equal in everything the client sees, and in place; timestamps aside.
    pub fn same_as(&self, edge: &EdgeInput, sort_position: i64) -> bool {
        self.sort_position == sort_position
            && self.source == edge.source
            && self.source_handle == edge.source_handle
            && self.target == edge.target
            && self.target_handle == edge.target_handle
            && self.edge_type == edge.edge_type
            && self.attrs == edge.attrs
            && match (&self.data, &edge.data) {
                (Some(a), Some(b)) => a.same_value(b),
                (None, None) => true,
                _ => false,
            }
    }
}

#[derive(FromQueryResult)]
struct NodeRow {
    canvas_id: String,
    id: String,
    node_type: String,
    position_x: f64,
    position_y: f64,
    width: Option<f64>,
    height: Option<f64>,
    z_index: i32,
    parent_id: Option<String>,
    data: String,
    attrs: Option<String>,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(FromQueryResult)]
struct EdgeRow {
    canvas_id: String,
    id: String,
    source: String,
    source_handle: Option<String>,
    target: String,
    target_handle: Option<String>,
    edge_type: String,
    data: Option<String>,
    attrs: Option<String>,
    sort_position: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Reads a JSON column as its text, on both databases.
pub(super) fn as_text(column: impl sea_orm::IntoSimpleExpr) -> Expr {
    Func::cast_as(column.into_simple_expr(), "text").into()
}

fn node_select() -> Select<canvas_node::Entity> {
    use canvas_node::Column as C;
    canvas_node::Entity::find()
        .select_only()
        .columns([C::CanvasId, C::Id])
        .column_as(C::NodeType, "node_type")
        .columns([
            C::PositionX,
            C::PositionY,
            C::Width,
            C::Height,
            C::ZIndex,
            C::ParentId,
        ])
        .expr_as(as_text(C::Data), "data")
        .expr_as(as_text(C::Attrs), "attrs")
        .columns([C::SortPosition, C::CreatedAt, C::UpdatedAt])
}

fn edge_select() -> Select<canvas_edge::Entity> {
    use canvas_edge::Column as C;
    canvas_edge::Entity::find()
        .select_only()
        .columns([
            C::CanvasId,
            C::Id,
            C::Source,
            C::SourceHandle,
            C::Target,
            C::TargetHandle,
        ])
        .column_as(C::EdgeType, "edge_type")
        .expr_as(as_text(C::Data), "data")
        .expr_as(as_text(C::Attrs), "attrs")
        .columns([C::SortPosition, C::CreatedAt, C::UpdatedAt])
}

async fn fetch_nodes(
    db: &impl ConnectionTrait,
    query: Select<canvas_node::Entity>,
) -> Result<Vec<StoredNode>> {
    let rows = query.into_model::<NodeRow>().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredNode {
            canvas_id: r.canvas_id,
            id: r.id,
            node_type: r.node_type,
            x: r.position_x,
            y: r.position_y,
            width: r.width,
            height: r.height,
            z_index: r.z_index,
            parent_id: r.parent_id,
            data: JsonText::trusted(r.data),
            attrs: attrs_from_text(r.attrs.as_deref()),
            sort_position: r.sort_position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

async fn fetch_edges(
    db: &impl ConnectionTrait,
    query: Select<canvas_edge::Entity>,
) -> Result<Vec<StoredEdge>> {
    let rows = query.into_model::<EdgeRow>().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredEdge {
            canvas_id: r.canvas_id,
            id: r.id,
            source: r.source,
            source_handle: r.source_handle,
            target: r.target,
            target_handle: r.target_handle,
            edge_type: r.edge_type,
            data: r.data.map(JsonText::trusted),
            attrs: attrs_from_text(r.attrs.as_deref()),
            sort_position: r.sort_position,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// The nodes of some canvases, grouped by canvas and in client order within each.
pub async fn nodes_of_canvases(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<Vec<StoredNode>> {
    use canvas_node::Column as C;
    let query = node_select()
        .filter(C::CanvasId.is_in(canvas_ids.iter().cloned()))
        .order_by_asc(C::CanvasId)
        .order_by_asc(C::SortPosition);
    fetch_nodes(db, query).await
}

/// The edges of some canvases, grouped by canvas and in client order within each.
pub async fn edges_of_canvases(
    db: &impl ConnectionTrait,
    canvas_ids: &[String],
) -> Result<Vec<StoredEdge>> {
    use canvas_edge::Column as C;
    let query = edge_select()
        .filter(C::CanvasId.is_in(canvas_ids.iter().cloned()))
        .order_by_asc(C::CanvasId)
        .order_by_asc(C::SortPosition);
    fetch_edges(db, query).await
}

/// Some nodes of one canvas, by id, in client order; ids that are not there are left out.
pub async fn nodes_by_id(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    ids: &[String],
) -> Result<Vec<StoredNode>> {
    use canvas_node::Column as C;
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(crate::db::IN_LIST_CHUNK) {
        let query = node_select()
            .filter(C::CanvasId.eq(canvas_id))
            .filter(C::Id.is_in(chunk.iter().cloned()));
        found.extend(fetch_nodes(db, query).await?);
    }
    found.sort_by_key(|n| n.sort_position);
    Ok(found)
}

/// Some edges of one canvas, by id, in client order; ids that are not there are left out.
pub async fn edges_by_id(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    ids: &[String],
) -> Result<Vec<StoredEdge>> {
    use canvas_edge::Column as C;
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(crate::db::IN_LIST_CHUNK) {
        let query = edge_select()
            .filter(C::CanvasId.eq(canvas_id))
            .filter(C::Id.is_in(chunk.iter().cloned()));
        found.extend(fetch_edges(db, query).await?);
    }
    found.sort_by_key(|e| e.sort_position);
    Ok(found)
}

#[derive(FromQueryResult)]
struct Link {
    id: String,
    parent_id: String,
}

/// Every (node, parent) link of a canvas.
pub async fn parent_links(
    db: &impl ConnectionTrait,
    canvas_id: &str,
) -> Result<Vec<(String, String)>> {
    use canvas_node::Column as C;
    let links = canvas_node::Entity::find()
        .select_only()
        .columns([C::Id, C::ParentId])
        .filter(C::CanvasId.eq(canvas_id))
        .filter(C::ParentId.is_not_null())
        .into_model::<Link>()
        .all(db)
        .await?;
    Ok(links.into_iter().map(|l| (l.id, l.parent_id)).collect())
}

/// The (child, parent) links of nodes whose parent is one of `parents`.
pub async fn children_of(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    parents: &[String],
) -> Result<Vec<(String, String)>> {
    use canvas_node::Column as C;
    let mut links = Vec::new();
    for chunk in parents.chunks(crate::db::IN_LIST_CHUNK) {
        let found = canvas_node::Entity::find()
            .select_only()
            .columns([C::Id, C::ParentId])
            .filter(C::CanvasId.eq(canvas_id))
            .filter(C::ParentId.is_in(chunk.iter().cloned()))
            .into_model::<Link>()
            .all(db)
            .await?;
        links.extend(found.into_iter().map(|l| (l.id, l.parent_id)));
    }
    Ok(links)
}

/// Ids of the edges that start or end at one of `nodes`.
pub async fn edges_touching(
    db: &impl ConnectionTrait,
    canvas_id: &str,
    nodes: &[String],
) -> Result<Vec<String>> {
    use canvas_edge::Column as C;
    let mut ids = Vec::new();
    for chunk in nodes.chunks(crate::db::IN_LIST_CHUNK / 2) {
        let found: Vec<String> = canvas_edge::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::CanvasId.eq(canvas_id))
            .filter(
                sea_orm::Condition::any()
                    .add(C::Source.is_in(chunk.iter().cloned()))
                    .add(C::Target.is_in(chunk.iter().cloned())),
            )
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(found);
    }
    Ok(ids)
}

/// How many nodes a canvas has, and the last sort position (0 when none).
pub async fn node_extent(db: &impl ConnectionTrait, canvas_id: &str) -> Result<(usize, i64)> {
    let (count, last): (i64, Option<i64>) = canvas_node::Entity::find()
        .select_only()
        .column_as(canvas_node::Column::Id.count(), "count")
        .column_as(canvas_node::Column::SortPosition.max(), "last")
        .filter(canvas_node::Column::CanvasId.eq(canvas_id))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or_default();
    Ok((count as usize, last.unwrap_or(0)))
}

/// How many edges a canvas has, and the last sort position (0 when none).
pub async fn edge_extent(db: &impl ConnectionTrait, canvas_id: &str) -> Result<(usize, i64)> {
    let (count, last): (i64, Option<i64>) = canvas_edge::Entity::find()
        .select_only()
        .column_as(canvas_edge::Column::Id.count(), "count")
        .column_as(canvas_edge::Column::SortPosition.max(), "last")
        .filter(canvas_edge::Column::CanvasId.eq(canvas_id))
        .into_tuple()
        .one(db)
        .await?
        .unwrap_or_default();
    Ok((count as usize, last.unwrap_or(0)))
}
