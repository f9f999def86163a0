//! `applyCanvasChanges`: edits to some nodes and edges that read and write only the rows they
//! touch, so that moving one node of a 10,000-node canvas costs a handful of small statements.

use std::collections::{HashMap, HashSet};

use entity::canvas;
use sea_orm::DatabaseConnection;

use super::events::{self, Change, EventLog};
use super::order::GAP;
use super::stored::{self, StoredEdge, StoredNode};
use super::validate::{check_edge, check_node};
use super::write::{Row, RowChanges, bump, check_version, lock_own_canvas, write_rows};
use super::{EdgeInput, NodeInput};
use crate::auth::Actor;
use crate::config::Limits;
use crate::db::begin_write;
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

/// Applies changes to some nodes and edges. New nodes and edges come after the existing ones;
/// deleting a node deletes its edges. Only the rows named by the changes (and the nodes they
/// point at) are read, and only those that differ are written.
pub async fn apply_canvas_changes(
    db: &DatabaseConnection,
    actor: &Actor,
    canvas_id: &str,
    changes: CanvasChanges,
    expected_version: Option<i64>,
    limits: &Limits,
    log: &EventLog<'_>,
) -> Result<canvas::Model> {
    actor.user_id()?;
    for (i, node) in changes.upsert_nodes.iter().enumerate() {
        check_node(&format!("changes.upsertNodes[{i}]"), node, limits)?;
    }
    for (i, edge) in changes.upsert_edges.iter().enumerate() {
        check_edge(&format!("changes.upsertEdges[{i}]"), edge, limits)?;
    }
    let named = Named::check(&changes)?;

    let txn = begin_write(db).await?;
    let mut stored = lock_own_canvas(&txn, actor, canvas_id).await?;
    check_version(&stored, expected_version)?;

    // Every node the changes name or point at, and every edge they name.
    let mut node_ids: Vec<String> = named.nodes.keys().map(|id| (*id).to_owned()).collect();
    node_ids.extend(changes.delete_node_ids.iter().cloned());
    for node in &changes.upsert_nodes {
        node_ids.extend(node.parent_id.iter().cloned());
    }
    for edge in &changes.upsert_edges {
        node_ids.extend([edge.source.clone(), edge.target.clone()]);
    }
    node_ids.sort_unstable();
    node_ids.dedup();
    let known_nodes: HashMap<String, StoredNode> = stored::nodes_by_id(&txn, canvas_id, &node_ids)
        .await?
        .into_iter()
        .map(|n| (n.id.clone(), n))
        .collect();
    let mut edge_ids: Vec<String> = named.edges.keys().map(|id| (*id).to_owned()).collect();
    edge_ids.extend(changes.delete_edge_ids.iter().cloned());
    let known_edges: HashMap<String, StoredEdge> = stored::edges_by_id(&txn, canvas_id, &edge_ids)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();

    for (i, id) in changes.delete_node_ids.iter().enumerate() {
        if !known_nodes.contains_key(id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.deleteNodeIds[{i}]"),
                format!("'{id}' is not a node of this canvas"),
            ));
        }
    }
    for (i, id) in changes.delete_edge_ids.iter().enumerate() {
        if !known_edges.contains_key(id.as_str()) {
            return Err(Error::bad_input(
                format!("changes.deleteEdgeIds[{i}]"),
                format!("'{id}' is not an edge of this canvas"),
            ));
        }
    }
    let deleted_nodes = &named.deleted_nodes;
    let exists = |id: &str| {
        named.nodes.contains_key(id)
            || (known_nodes.contains_key(id) && !deleted_nodes.contains(id))
    };

    // Parents: they exist afterwards, and no changed link closes a loop.
    let mut relinked = Vec::new();
    for (i, node) in changes.upsert_nodes.iter().enumerate() {
        let Some(parent) = node.parent_id.as_deref() else {
            continue;
        };
        if !exists(parent) {
            return Err(Error::bad_input(
                format!("changes.upsertNodes[{i}].parentId"),
                format!("'{parent}' is not a node of this canvas"),
            ));
        }
        let before = known_nodes.get(node.id.as_str());
        if before.is_none_or(|n| n.parent_id.as_deref() != Some(parent)) {
            relinked.push(i);
        }
    }
    if !relinked.is_empty() {
        let mut parents: HashMap<String, String> = stored::parent_links(&txn, canvas_id)
            .await?
            .into_iter()
            .filter(|(id, _)| !deleted_nodes.contains(id.as_str()))
            .collect();
        for node in &changes.upsert_nodes {
            match &node.parent_id {
                Some(parent) => parents.insert(node.id.clone(), parent.clone()),
                None => parents.remove(&node.id),
            };
        }
        for i in relinked {
            let node = &changes.upsert_nodes[i];
            let mut current = node.parent_id.as_deref();
            let mut steps = 0;
            while let Some(id) = current {
                if id == node.id || steps > parents.len() {
                    return Err(Error::bad_input(
                        format!("changes.upsertNodes[{i}].parentId"),
                        format!("node '{}' would be its own ancestor", node.id),
                    ));
                }
                current = parents.get(id).map(String::as_str);
                steps += 1;
            }
        }
    }
    // A deleted node's children must go too, or move to another parent.
    if !deleted_nodes.is_empty() {
        for (child, parent) in
            stored::children_of(&txn, canvas_id, &changes.delete_node_ids).await?
        {
            let moved = named
                .nodes
                .get(child.as_str())
                .is_some_and(|(_, n)| n.parent_id.as_deref() != Some(parent.as_str()));
            if !deleted_nodes.contains(child.as_str()) && !moved {
                let i = changes
                    .delete_node_ids
                    .iter()
                    .position(|id| *id == parent)
                    .unwrap_or_default();
                return Err(Error::bad_input(
                    format!("changes.deleteNodeIds[{i}]"),
                    format!("node '{child}' sits in '{parent}'; delete or move it too"),
                ));
            }
        }
    }
    for (i, edge) in changes.upsert_edges.iter().enumerate() {
        for (end, id) in [("source", &edge.source), ("target", &edge.target)] {
            if !exists(id) {
                return Err(Error::bad_input(
                    format!("changes.upsertEdges[{i}].{end}"),
                    format!("'{id}' is not a node of this canvas"),
                ));
            }
        }
    }

    // Edges of deleted nodes go with them.
    let mut deleted_edges: Vec<String> = changes.delete_edge_ids.clone();
    deleted_edges.extend(stored::edges_touching(&txn, canvas_id, &changes.delete_node_ids).await?);
    deleted_edges.sort_unstable();
    deleted_edges.dedup();

    // Counts stay within the limits.
    let new_nodes = named
        .nodes
        .keys()
        .filter(|id| !known_nodes.contains_key(**id))
        .count();
    let new_edges = named
        .edges
        .keys()
        .filter(|id| !known_edges.contains_key(**id))
        .count();
    // Only additions can go over a limit, and only they need the last position.
    let mut last_node = 0;
    if new_nodes > 0 {
        let (count, last) = stored::node_extent(&txn, canvas_id).await?;
        last_node = last;
        let nodes_after = count + new_nodes - changes.delete_node_ids.len();
        if nodes_after > limits.max_nodes {
            return Err(Error::bad_input(
                "changes.upsertNodes",
                format!(
                    "{nodes_after} nodes is more than the limit of {} per canvas",
                    limits.max_nodes
                ),
            ));
        }
    }
    let mut last_edge = 0;
    if new_edges > 0 {
        let (count, last) = stored::edge_extent(&txn, canvas_id).await?;
        last_edge = last;
        let edges_after = count + new_edges - deleted_edges.len();
        if edges_after > limits.max_edges {
            return Err(Error::bad_input(
                "changes.upsertEdges",
                format!(
                    "{edges_after} edges is more than the limit of {} per canvas",
                    limits.max_edges
                ),
            ));
        }
    }

    // Rows that differ: changed ones in place, new ones after the last.
    let now = now();
    let mut next_node = last_node;
    let mut node_rows = Vec::new();
    for node in &changes.upsert_nodes {
        match known_nodes.get(node.id.as_str()) {
            Some(before) if before.same_as(node, before.sort_position) => {}
            Some(before) => node_rows.push(Row {
                item: node,
                sort_position: before.sort_position,
                created_at: before.created_at,
            }),
            None => {
                next_node += GAP;
                node_rows.push(Row {
                    item: node,
                    sort_position: next_node,
                    created_at: now,
                });
            }
        }
    }
    let mut next_edge = last_edge;
    let mut edge_rows = Vec::new();
    for edge in &changes.upsert_edges {
        match known_edges.get(edge.id.as_str()) {
            Some(before) if before.same_as(edge, before.sort_position) => {}
            Some(before) => edge_rows.push(Row {
                item: edge,
                sort_position: before.sort_position,
                created_at: before.created_at,
            }),
            None => {
                next_edge += GAP;
                edge_rows.push(Row {
                    item: edge,
                    sort_position: next_edge,
                    created_at: now,
                });
            }
        }
    }
    let rows = RowChanges {
        deleted_edges: &deleted_edges,
        deleted_nodes: &changes.delete_node_ids,
        nodes: &node_rows,
        edges: &edge_rows,
    };
    let written = write_rows(&txn, canvas_id, &rows, now).await?;
    let mut recorded = None;
    if written.any() {
        bump(&txn, &mut stored, now).await?;
        let change = Change {
            meta: false,
            rows: Some(rows),
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

/// The nodes and edges the changes upsert, by id, with their place in the input; ids given twice
/// or both upserted and deleted are refused.
struct Named<'a> {
    nodes: HashMap<&'a str, (usize, &'a NodeInput)>,
    edges: HashMap<&'a str, (usize, &'a EdgeInput)>,
    deleted_nodes: HashSet<&'a str>,
}

impl<'a> Named<'a> {
    fn check(changes: &'a CanvasChanges) -> Result<Self> {
        let deleted_nodes: HashSet<&str> =
            changes.delete_node_ids.iter().map(String::as_str).collect();
        let deleted_edges: HashSet<&str> =
            changes.delete_edge_ids.iter().map(String::as_str).collect();
        let mut nodes = HashMap::with_capacity(changes.upsert_nodes.len());
        for (i, node) in changes.upsert_nodes.iter().enumerate() {
            if deleted_nodes.contains(node.id.as_str()) {
                return Err(Error::bad_input(
                    format!("changes.upsertNodes[{i}].id"),
                    format!("node '{}' is also in deleteNodeIds", node.id),
                ));
            }
            if nodes.insert(node.id.as_str(), (i, node)).is_some() {
                return Err(Error::bad_input(
                    format!("changes.upsertNodes[{i}].id"),
                    format!("node id '{}' appears more than once", node.id),
                ));
            }
        }
        let mut edges = HashMap::with_capacity(changes.upsert_edges.len());
        for (i, edge) in changes.upsert_edges.iter().enumerate() {
            if deleted_edges.contains(edge.id.as_str()) {
                return Err(Error::bad_input(
                    format!("changes.upsertEdges[{i}].id"),
                    format!("edge '{}' is also in deleteEdgeIds", edge.id),
                ));
            }
            if edges.insert(edge.id.as_str(), (i, edge)).is_some() {
                return Err(Error::bad_input(
                    format!("changes.upsertEdges[{i}].id"),
                    format!("edge id '{}' appears more than once", edge.id),
                ));
            }
        }
        once("changes.deleteNodeIds", &changes.delete_node_ids)?;
        once("changes.deleteEdgeIds", &changes.delete_edge_ids)?;
        Ok(Named {
            nodes,
            edges,
            deleted_nodes,
        })
    }
}

/// Refuses an id given twice in one list.
fn once(field: &str, ids: &[String]) -> Result<()> {
    let mut seen = HashSet::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(id.as_str()) {
            return Err(Error::bad_input(
                format!("{field}[{i}]"),
                format!("'{id}' appears more than once"),
            ));
        }
    }
    Ok(())
}
