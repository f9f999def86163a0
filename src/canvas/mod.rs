//! Canvases, their nodes and their edges: validation, snapshot diffing and the reads the API
//! needs. Plain async functions over a connection and an [`Actor`](crate::auth::Actor); nothing
//! here knows GraphQL.

mod changes;
pub mod events;
mod ids;
mod json;
mod order;
mod read;
mod stored;
mod validate;
mod write;

pub use changes::{CanvasChanges, apply_canvas_changes};
pub use ids::{CanvasId, MAX_ID_CHARS, check_item_id};
pub use json::JsonText;
pub use read::{
    CanvasFilter, CanvasPage, count_canvases, count_templates, cursor_of, edge_counts, edges_of,
    find_readable, list_canvases, list_templates, node_counts, nodes_of,
};
pub use stored::{StoredEdge, StoredNode};
pub use write::{
    CanvasTimes, create_canvas, delete_canvas, duplicate_canvas, save_canvas, update_canvas,
    write_imported_canvas,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The visible part of the plane: pan and zoom, as React Flow keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

/// A change to one optional field: leave it, clear it, or set it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T: Clone> Patch<T> {
    /// The value after the patch, given the value before.
    pub fn apply(&self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(value) => Some(value.clone()),
        }
    }
}

/// Canvas metadata as a write gives it; every field may be left as it is.
#[derive(Debug, Clone, Default)]
pub struct CanvasMetaInput {
    pub name: Option<String>,
    pub description: Patch<String>,
    pub thumbnail: Patch<String>,
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    pub viewport: Patch<Viewport>,
}

/// A whole canvas as the editor holds it; saving it makes the stored canvas equal to it.
#[derive(Debug, Clone)]
pub struct CanvasSnapshot {
    /// The canvas to write; a new one (UUID v7) when absent.
    pub id: Option<String>,
    pub meta: CanvasMetaInput,
    pub nodes: Vec<NodeInput>,
    pub edges: Vec<EdgeInput>,
}

/// One node as the client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInput {
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
}

/// One edge as the client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeInput {
    pub id: String,
    pub source: String,
    pub source_handle: Option<String>,
    pub target: String,
    pub target_handle: Option<String>,
    pub edge_type: String,
    pub data: Option<JsonText>,
    pub attrs: EdgeAttrs,
}

/// React Flow's persisted node fields beyond the core ones; stored together as one JSON value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeAttrs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draggable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focusable: Option<bool>,
    /// `"parent"` or `[[x0, y0], [x1, y1]]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extent: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expand_parent: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_position: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_position: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drag_handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
}

/// React Flow's persisted edge fields beyond the core ones; stored together as one JSON value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EdgeAttrs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// A marker type name or a marker object (`{type, color, width, height}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker_start: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker_end: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z_index: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub style: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
}

/// The `attrs` column's text: null when no attribute is set.
pub(crate) fn attrs_text<T: Serialize + Default + PartialEq>(attrs: &T) -> Option<String> {
    (*attrs != T::default())
        .then(|| serde_json::to_string(attrs).ok())
        .flatten()
}

/// Attributes from the `attrs` column's text; an unreadable value reads as no attributes.
pub(crate) fn attrs_from_text<T: for<'de> Deserialize<'de> + Default>(text: Option<&str>) -> T {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}
