//! The rules a canvas must keep before anything is written: sizes, ids, and a graph whose edges
//! and parents point at nodes of the same canvas.

use std::collections::{HashMap, HashSet};

use super::{CanvasMetaInput, EdgeInput, JsonText, NodeInput, Patch, check_item_id};
use crate::config::Limits;
use crate::error::{Error, Result};

/// Longest canvas name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest canvas description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Longest node or edge type, handle or other short string, in characters.
pub const MAX_SHORT_CHARS: usize = 128;

/// An item of the canvas to be stored, with the name its errors give it (`nodes[3]`).
pub struct Labeled<'a, T> {
    pub label: String,
    pub item: &'a T,
}

/// Checks a name: not blank, not over-long.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::bad_input(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::bad_input(
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Checks canvas metadata; `prefix` is where it sits in the input (`input`).
pub fn check_meta(prefix: &str, meta: &CanvasMetaInput, limits: &Limits) -> Result<()> {
    if let Some(name) = &meta.name {
        check_name(&format!("{prefix}.name"), name)?;
    }
    if let Patch::Set(description) = &meta.description
        && description.chars().count() > MAX_DESCRIPTION_CHARS
    {
        return Err(Error::bad_input(
            format!("{prefix}.description"),
            format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if let Patch::Set(thumbnail) = &meta.thumbnail
        && thumbnail.len() > limits.max_node_data_bytes
    {
        return Err(Error::bad_input(
            format!("{prefix}.thumbnail"),
            format!(
                "is {} bytes, more than the limit of {}",
                thumbnail.len(),
                limits.max_node_data_bytes
            ),
        ));
    }
    if let Patch::Set(viewport) = &meta.viewport
        && !(viewport.x.is_finite() && viewport.y.is_finite() && viewport.zoom > 0.0)
    {
        return Err(Error::bad_input(
            format!("{prefix}.viewport"),
            "x and y must be finite and zoom greater than 0",
        ));
    }
    Ok(())
}

fn check_short(field: impl FnOnce() -> String, value: Option<&str>) -> Result<()> {
    match value {
        Some(v) if v.chars().count() > MAX_SHORT_CHARS => Err(Error::bad_input(
            field(),
            format!("is longer than {MAX_SHORT_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

fn check_data_size(label: &str, data: &JsonText, limits: &Limits) -> Result<()> {
    let size = data.len();
    if size > limits.max_node_data_bytes {
        return Err(Error::bad_input(
            format!("{label}.data"),
            format!(
                "is {size} bytes of JSON, more than the limit of {} (EASEL_MAX_NODE_DATA_BYTES)",
                limits.max_node_data_bytes
            ),
        ));
    }
    Ok(())
}

/// Checks one node on its own.
pub fn check_node(label: &str, node: &NodeInput, limits: &Limits) -> Result<()> {
    check_item_id(&format!("{label}.id"), &node.id)?;
    if node.node_type.is_empty() {
        return Err(Error::bad_input(
            format!("{label}.type"),
            "must not be empty",
        ));
    }
    check_short(|| format!("{label}.type"), Some(&node.node_type))?;
    if let Some(parent) = &node.parent_id {
        check_item_id(&format!("{label}.parentId"), parent)?;
    }
    let finite = [Some(node.x), Some(node.y), node.width, node.height]
        .into_iter()
        .flatten()
        .all(f64::is_finite);
    if !finite {
        return Err(Error::bad_input(
            format!("{label}.position"),
            "position and size must be finite numbers",
        ));
    }
    check_short(
        || format!("{label}.sourcePosition"),
        node.attrs.source_position.as_deref(),
    )?;
    check_short(
        || format!("{label}.targetPosition"),
        node.attrs.target_position.as_deref(),
    )?;
    check_data_size(label, &node.data, limits)
}

/// Checks one edge on its own.
pub fn check_edge(label: &str, edge: &EdgeInput, limits: &Limits) -> Result<()> {
    check_item_id(&format!("{label}.id"), &edge.id)?;
    check_item_id(&format!("{label}.source"), &edge.source)?;
    check_item_id(&format!("{label}.target"), &edge.target)?;
    if edge.edge_type.is_empty() {
        return Err(Error::bad_input(
            format!("{label}.type"),
            "must not be empty",
        ));
    }
    check_short(|| format!("{label}.type"), Some(&edge.edge_type))?;
    check_short(
        || format!("{label}.sourceHandle"),
        edge.source_handle.as_deref(),
    )?;
    check_short(
        || format!("{label}.targetHandle"),
        edge.target_handle.as_deref(),
    )?;
    match &edge.data {
        Some(data) => check_data_size(label, data, limits),
        None => Ok(()),
    }
}

/// Checks the canvas as it will be stored: counts, unique ids, and references that stay inside
/// the canvas (edge ends and parents are nodes of it; no node is its own ancestor).
pub fn check_graph(
    nodes: &[Labeled<'_, NodeInput>],
    edges: &[Labeled<'_, EdgeInput>],
    limits: &Limits,
) -> Result<()> {
    if nodes.len() > limits.max_nodes {
        return Err(Error::bad_input(
            "nodes",
            format!(
                "{} nodes is more than the limit of {} per canvas",
                nodes.len(),
                limits.max_nodes
            ),
        ));
    }
    if edges.len() > limits.max_edges {
        return Err(Error::bad_input(
            "edges",
            format!(
                "{} edges is more than the limit of {} per canvas",
                edges.len(),
                limits.max_edges
            ),
        ));
    }

    let mut parents: HashMap<&str, Option<&str>> = HashMap::with_capacity(nodes.len());
    for node in nodes {
        if parents
            .insert(&node.item.id, node.item.parent_id.as_deref())
            .is_some()
        {
            return Err(Error::bad_input(
                format!("{}.id", node.label),
                format!("node id '{}' appears more than once", node.item.id),
            ));
        }
    }
    for node in nodes {
        let Some(parent) = node.item.parent_id.as_deref() else {
            continue;
        };
        if !parents.contains_key(parent) {
            return Err(Error::bad_input(
                format!("{}.parentId", node.label),
                format!("'{parent}' is not a node of this canvas"),
            ));
        }
        // Walk up; more steps than nodes means a loop.
        let mut current = Some(parent);
        let mut steps = 0;
        while let Some(id) = current {
            if id == node.item.id || steps > nodes.len() {
                return Err(Error::bad_input(
                    format!("{}.parentId", node.label),
                    format!("node '{}' would be its own ancestor", node.item.id),
                ));
            }
            current = parents.get(id).copied().flatten();
            steps += 1;
        }
    }

    let mut edge_ids: HashSet<&str> = HashSet::with_capacity(edges.len());
    for edge in edges {
        if !edge_ids.insert(&edge.item.id) {
            return Err(Error::bad_input(
                format!("{}.id", edge.label),
                format!("edge id '{}' appears more than once", edge.item.id),
            ));
        }
        for (end, id) in [("source", &edge.item.source), ("target", &edge.item.target)] {
            if !parents.contains_key(id.as_str()) {
                return Err(Error::bad_input(
                    format!("{}.{end}", edge.label),
                    format!("'{id}' is not a node of this canvas"),
                ));
            }
        }
    }
    Ok(())
}
