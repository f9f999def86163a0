//! Nodes and edges in GraphQL, and the fast path that serves them.
//!
//! A 10,000-node canvas asks for some 400,000 leaf fields. Resolved the generic way, each is a
//! boxed future, a context and a pass through the extensions, which costs several times what
//! reading the rows costs. [`NodeList`] and [`EdgeList`] look at the selection once per list,
//! compile it into a plan (response key → field, fragments and aliases included), and build
//! every item's answer from the plan in a plain loop. `data` and the other JSON fields are
//! handed through as raw JSON text, never parsed into a tree.
//!
//! `CanvasNode` and `CanvasEdge` stay ordinary objects: they define the schema, and they answer
//! whenever a selection holds something the plan does not know (a test keeps that from
//! happening for any field of the schema). Per-field extension hooks do not run on the fast
//! path; the schema uses none.

use std::borrow::Cow;
use std::sync::Arc;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_list;
use async_graphql::{
    ContextSelectionSet, ID, InputType, InputValueResult, Json, Name, Object, OutputType,
    Positioned, SelectionField, ServerResult, SimpleObject, Value,
};
use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::raw::{RawText, RawTexts, raw};
use crate::canvas::{JsonText, StoredEdge, StoredNode};

/// One field's answer, borrowed from the row.
enum Cell<'a> {
    Null,
    Str(&'a str),
    Float(f64),
    Int(i32),
    Bool(bool),
    Raw(&'a str),
    Json(&'a serde_json::Value),
    Time(&'a DateTime<Utc>),
}

impl<'a> Cell<'a> {
    fn opt<T>(value: Option<T>, cell: impl FnOnce(T) -> Cell<'a>) -> Cell<'a> {
        value.map_or(Cell::Null, cell)
    }
}

fn text(s: &Option<String>) -> Cell<'_> {
    Cell::opt(s.as_deref(), Cell::Str)
}

fn json(v: &Option<serde_json::Value>) -> Cell<'_> {
    Cell::opt(v.as_ref(), Cell::Json)
}

impl Serialize for Cell<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Null => serializer.serialize_none(),
            Cell::Str(s) => serializer.serialize_str(s),
            // As async-graphql writes an `f64`: a number, or null when not finite.
            Cell::Float(x) if x.is_finite() => serializer.serialize_f64(*x),
            Cell::Float(_) => serializer.serialize_none(),
            Cell::Int(i) => serializer.serialize_i32(*i),
            Cell::Bool(b) => serializer.serialize_bool(*b),
            Cell::Raw(text) => RawText(text).serialize(serializer),
            Cell::Json(value) => value.serialize(serializer),
            Cell::Time(t) => serializer.serialize_str(&t.to_rfc3339()),
        }
    }
}

/// `JSON` input and output, kept as text: the same scalar as `Json<T>`.
impl InputType for JsonText {
    type RawValueType = JsonText;

    fn type_name() -> Cow<'static, str> {
        <Json<serde_json::Value> as InputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Json<serde_json::Value> as InputType>::create_type_info(registry)
    }

    fn parse(value: Option<Value>) -> InputValueResult<Self> {
        // serde_json writes one JSON value; nothing to check again.
        Ok(JsonText::trusted(serde_json::to_string(
            &value.unwrap_or_default(),
        )?))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.to_value()).unwrap_or_default()
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }
}

impl OutputType for JsonText {
    fn type_name() -> Cow<'static, str> {
        <Json<serde_json::Value> as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Json<serde_json::Value> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(raw(self.as_str().to_owned()))
    }
}

/// A point on the canvas plane.
#[derive(SimpleObject, Clone, Copy)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// A node of a canvas, with React Flow's persisted fields.
pub struct CanvasNode(StoredNode);

#[Object]
impl CanvasNode {
    /// The client's id, unique within the canvas.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The node type the editor renders (`default`, `image`, `prompt`, ...).
    #[graphql(name = "type")]
    async fn node_type(&self) -> &str {
        &self.0.node_type
    }

    async fn position(&self) -> Position {
        Position {
            x: self.0.x,
            y: self.0.y,
        }
    }

    async fn width(&self) -> Option<f64> {
        self.0.width
    }

    async fn height(&self) -> Option<f64> {
        self.0.height
    }

    async fn z_index(&self) -> i32 {
        self.0.z_index
    }

    /// The group node this node sits in.
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.clone().map(ID)
    }

    /// The node's own data (prompt, parameters, media references), exactly as saved.
    async fn data(&self) -> &JsonText {
        &self.0.data
    }

    async fn hidden(&self) -> Option<bool> {
        self.0.attrs.hidden
    }

    async fn draggable(&self) -> Option<bool> {
        self.0.attrs.draggable
    }

    async fn selectable(&self) -> Option<bool> {
        self.0.attrs.selectable
    }

    async fn connectable(&self) -> Option<bool> {
        self.0.attrs.connectable
    }

    async fn deletable(&self) -> Option<bool> {
        self.0.attrs.deletable
    }

    async fn focusable(&self) -> Option<bool> {
        self.0.attrs.focusable
    }

    /// `"parent"` or `[[x0, y0], [x1, y1]]`.
    async fn extent(&self) -> Option<Json<&serde_json::Value>> {
        self.0.attrs.extent.as_ref().map(Json)
    }

    async fn expand_parent(&self) -> Option<bool> {
        self.0.attrs.expand_parent
    }

    /// `top`, `right`, `bottom` or `left`.
    async fn source_position(&self) -> Option<&str> {
        self.0.attrs.source_position.as_deref()
    }

    /// `top`, `right`, `bottom` or `left`.
    async fn target_position(&self) -> Option<&str> {
        self.0.attrs.target_position.as_deref()
    }

    /// A CSS selector of the part of the node that drags it.
    async fn drag_handle(&self) -> Option<&str> {
        self.0.attrs.drag_handle.as_deref()
    }

    /// CSS properties, as React's `style` object.
    async fn style(&self) -> Option<Json<&serde_json::Value>> {
        self.0.attrs.style.as_ref().map(Json)
    }

    async fn class_name(&self) -> Option<&str> {
        self.0.attrs.class_name.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When this node's row was last written; unchanged nodes keep it across saves.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An edge of a canvas: a connection from one node's handle to another's.
pub struct CanvasEdge(StoredEdge);

#[Object]
impl CanvasEdge {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// The node the edge starts at.
    async fn source(&self) -> ID {
        ID(self.0.source.clone())
    }

    async fn source_handle(&self) -> Option<&str> {
        self.0.source_handle.as_deref()
    }

    /// The node the edge ends at.
    async fn target(&self) -> ID {
        ID(self.0.target.clone())
    }

    async fn target_handle(&self) -> Option<&str> {
        self.0.target_handle.as_deref()
    }

    #[graphql(name = "type")]
    async fn edge_type(&self) -> &str {
        &self.0.edge_type
    }

    async fn data(&self) -> Option<&JsonText> {
        self.0.data.as_ref()
    }

    async fn animated(&self) -> Option<bool> {
        self.0.attrs.animated
    }

    async fn hidden(&self) -> Option<bool> {
        self.0.attrs.hidden
    }

    async fn deletable(&self) -> Option<bool> {
        self.0.attrs.deletable
    }

    async fn selectable(&self) -> Option<bool> {
        self.0.attrs.selectable
    }

    async fn label(&self) -> Option<&str> {
        self.0.attrs.label.as_deref()
    }

    /// A marker type name or `{type, color, width, height}`.
    async fn marker_start(&self) -> Option<Json<&serde_json::Value>> {
        self.0.attrs.marker_start.as_ref().map(Json)
    }

    /// A marker type name or `{type, color, width, height}`.
    async fn marker_end(&self) -> Option<Json<&serde_json::Value>> {
        self.0.attrs.marker_end.as_ref().map(Json)
    }

    async fn z_index(&self) -> Option<i32> {
        self.0.attrs.z_index
    }

    async fn style(&self) -> Option<Json<&serde_json::Value>> {
        self.0.attrs.style.as_ref().map(Json)
    }

    async fn class_name(&self) -> Option<&str> {
        self.0.attrs.class_name.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One entry of a compiled selection: a field, or an object field with its own selection.
enum Slot<F> {
    Leaf(F),
    Object(Plan<F>),
}

/// A compiled selection: response keys in order, each with what answers it.
type Plan<F> = Vec<(Name, Slot<F>)>;

/// Compiles a selection with `leaf(object, name)` naming each field, where `object` is the
/// enclosing object field (`position`) or `None` at the top. `None` when a field is unknown.
fn compile<'a, F: Copy>(
    selection: impl Iterator<Item = SelectionField<'a>>,
    object: Option<&str>,
    leaf: &impl Fn(Option<&str>, &str) -> Option<F>,
    is_object: &impl Fn(&str) -> bool,
) -> Option<Plan<F>> {
    let mut plan: Plan<F> = Vec::new();
    for field in selection {
        let key = field.alias().unwrap_or(field.name());
        let slot = if object.is_none() && is_object(field.name()) {
            Slot::Object(compile(
                field.selection_set(),
                Some(field.name()),
                leaf,
                is_object,
            )?)
        } else {
            Slot::Leaf(leaf(object, field.name())?)
        };
        match plan.iter_mut().find(|(k, _)| k.as_str() == key) {
            // The same key twice is the same field (validation sees to that); objects merge.
            Some((_, Slot::Object(existing))) => {
                if let Slot::Object(more) = slot {
                    for (key, slot) in more {
                        if !existing.iter().any(|(k, _)| *k == key) {
                            existing.push((key, slot));
                        }
                    }
                }
            }
            Some(_) => {}
            None => plan.push((Name::new(key), slot)),
        }
    }
    Some(plan)
}

/// One item answered by a plan, written as a JSON object.
struct Answer<'a, T, F, V> {
    plan: &'a Plan<F>,
    item: &'a T,
    value: &'a V,
}

impl<T, F: Copy, V: for<'r> Fn(&'r T, F) -> Cell<'r>> Serialize for Answer<'_, T, F, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_map(Some(self.plan.len()))?;
        for (key, slot) in self.plan {
            match slot {
                Slot::Leaf(field) => {
                    object.serialize_entry(key.as_str(), &(self.value)(self.item, *field))?
                }
                Slot::Object(plan) => object.serialize_entry(
                    key.as_str(),
                    &Answer {
                        plan,
                        item: self.item,
                        value: self.value,
                    },
                )?,
            }
        }
        object.end()
    }
}

/// Every item answered by a plan, as one raw JSON array: no tree of values is built, and
/// async-graphql hands the text through.
fn answer_all<T, F: Copy, V: for<'r> Fn(&'r T, F) -> Cell<'r>>(
    ctx: &ContextSelectionSet<'_>,
    plan: &Plan<F>,
    items: &[T],
    value: &V,
) -> ServerResult<Value> {
    let answers: Vec<Answer<'_, T, F, V>> = items
        .iter()
        .map(|item| Answer { plan, item, value })
        .collect();
    let text = serde_json::to_string(&answers)
        .map_err(|e| async_graphql::ServerError::new(e.to_string(), None))?;
    // Over HTTP the text is written into the answer as it is; elsewhere async-graphql checks it.
    Ok(match ctx.data_opt::<Arc<RawTexts>>() {
        Some(texts) => texts.put(text),
        None => raw(text),
    })
}

#[cfg(test)]
static FALLBACKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn fell_back() {
    #[cfg(test)]
    FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

#[derive(Clone, Copy)]
enum NodeField {
    Typename,
    Id,
    Type,
    PositionTypename,
    X,
    Y,
    Width,
    Height,
    ZIndex,
    ParentId,
    Data,
    Hidden,
    Draggable,
    Selectable,
    Connectable,
    Deletable,
    Focusable,
    Extent,
    ExpandParent,
    SourcePosition,
    TargetPosition,
    DragHandle,
    Style,
    ClassName,
    CreatedAt,
    UpdatedAt,
}

fn node_field(object: Option<&str>, name: &str) -> Option<NodeField> {
    use NodeField as F;
    Some(match (object, name) {
        (Some("position"), "x") => F::X,
        (Some("position"), "y") => F::Y,
        (Some("position"), "__typename") => F::PositionTypename,
        (Some(_), _) => return None,
        (None, field) => match field {
            "__typename" => F::Typename,
            "id" => F::Id,
            "type" => F::Type,
            "width" => F::Width,
            "height" => F::Height,
            "zIndex" => F::ZIndex,
            "parentId" => F::ParentId,
            "data" => F::Data,
            "hidden" => F::Hidden,
            "draggable" => F::Draggable,
            "selectable" => F::Selectable,
            "connectable" => F::Connectable,
            "deletable" => F::Deletable,
            "focusable" => F::Focusable,
            "extent" => F::Extent,
            "expandParent" => F::ExpandParent,
            "sourcePosition" => F::SourcePosition,
            "targetPosition" => F::TargetPosition,
            "dragHandle" => F::DragHandle,
            "style" => F::Style,
            "className" => F::ClassName,
            "createdAt" => F::CreatedAt,
            "updatedAt" => F::UpdatedAt,
            _ => return None,
        },
    })
}

fn node_value(node: &StoredNode, field: NodeField) -> Cell<'_> {
    use NodeField as F;
    let attrs = &node.attrs;
    match field {
        F::Typename => Cell::Str("CanvasNode"),
        F::Id => Cell::Str(&node.id),
        F::Type => Cell::Str(&node.node_type),
        F::PositionTypename => Cell::Str("Position"),
        F::X => Cell::Float(node.x),
        F::Y => Cell::Float(node.y),
        F::Width => Cell::opt(node.width, Cell::Float),
        F::Height => Cell::opt(node.height, Cell::Float),
        F::ZIndex => Cell::Int(node.z_index),
        F::ParentId => text(&node.parent_id),
        F::Data => Cell::Raw(node.data.as_str()),
        F::Hidden => Cell::opt(attrs.hidden, Cell::Bool),
        F::Draggable => Cell::opt(attrs.draggable, Cell::Bool),
        F::Selectable => Cell::opt(attrs.selectable, Cell::Bool),
        F::Connectable => Cell::opt(attrs.connectable, Cell::Bool),
        F::Deletable => Cell::opt(attrs.deletable, Cell::Bool),
        F::Focusable => Cell::opt(attrs.focusable, Cell::Bool),
        F::Extent => json(&attrs.extent),
        F::ExpandParent => Cell::opt(attrs.expand_parent, Cell::Bool),
        F::SourcePosition => text(&attrs.source_position),
        F::TargetPosition => text(&attrs.target_position),
        F::DragHandle => text(&attrs.drag_handle),
        F::Style => json(&attrs.style),
        F::ClassName => text(&attrs.class_name),
        F::CreatedAt => Cell::Time(&node.created_at),
        F::UpdatedAt => Cell::Time(&node.updated_at),
    }
}

/// The nodes of a canvas, as `[CanvasNode!]!`.
pub struct NodeList(pub Arc<Vec<StoredNode>>);

impl OutputType for NodeList {
    fn type_name() -> Cow<'static, str> {
        <Vec<CanvasNode> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<CanvasNode> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<CanvasNode> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let ctx_field = ctx.with_field(field);
        let selection = ctx_field.field();
        let is_object = |name: &str| name == "position";
        match compile(selection.selection_set(), None, &node_field, &is_object) {
            Some(plan) => answer_all(ctx, &plan, &self.0, &node_value),
            None => {
                fell_back();
                let nodes = self.0.iter().cloned().map(CanvasNode);
                resolve_list(ctx, field, nodes, Some(self.0.len())).await
            }
        }
    }
}

#[derive(Clone, Copy)]
enum EdgeField {
    Typename,
    Id,
    Source,
    SourceHandle,
    Target,
    TargetHandle,
    Type,
    Data,
    Animated,
    Hidden,
    Deletable,
    Selectable,
    Label,
    MarkerStart,
    MarkerEnd,
    ZIndex,
    Style,
    ClassName,
    CreatedAt,
    UpdatedAt,
}

fn edge_field(object: Option<&str>, name: &str) -> Option<EdgeField> {
    use EdgeField as F;
    if object.is_some() {
        return None;
    }
    Some(match name {
        "__typename" => F::Typename,
        "id" => F::Id,
        "source" => F::Source,
        "sourceHandle" => F::SourceHandle,
        "target" => F::Target,
        "targetHandle" => F::TargetHandle,
        "type" => F::Type,
        "data" => F::Data,
        "animated" => F::Animated,
        "hidden" => F::Hidden,
        "deletable" => F::Deletable,
        "selectable" => F::Selectable,
        "label" => F::Label,
        "markerStart" => F::MarkerStart,
        "markerEnd" => F::MarkerEnd,
        "zIndex" => F::ZIndex,
        "style" => F::Style,
        "className" => F::ClassName,
        "createdAt" => F::CreatedAt,
        "updatedAt" => F::UpdatedAt,
        _ => return None,
    })
}

fn edge_value(edge: &StoredEdge, field: EdgeField) -> Cell<'_> {
    use EdgeField as F;
    let attrs = &edge.attrs;
    match field {
        F::Typename => Cell::Str("CanvasEdge"),
        F::Id => Cell::Str(&edge.id),
        F::Source => Cell::Str(&edge.source),
        F::SourceHandle => text(&edge.source_handle),
        F::Target => Cell::Str(&edge.target),
        F::TargetHandle => text(&edge.target_handle),
        F::Type => Cell::Str(&edge.edge_type),
        F::Data => Cell::opt(edge.data.as_ref(), |d| Cell::Raw(d.as_str())),
        F::Animated => Cell::opt(attrs.animated, Cell::Bool),
        F::Hidden => Cell::opt(attrs.hidden, Cell::Bool),
        F::Deletable => Cell::opt(attrs.deletable, Cell::Bool),
        F::Selectable => Cell::opt(attrs.selectable, Cell::Bool),
        F::Label => text(&attrs.label),
        F::MarkerStart => json(&attrs.marker_start),
        F::MarkerEnd => json(&attrs.marker_end),
        F::ZIndex => Cell::opt(attrs.z_index, Cell::Int),
        F::Style => json(&attrs.style),
        F::ClassName => text(&attrs.class_name),
        F::CreatedAt => Cell::Time(&edge.created_at),
        F::UpdatedAt => Cell::Time(&edge.updated_at),
    }
}

/// The edges of a canvas, as `[CanvasEdge!]!`.
pub struct EdgeList(pub Arc<Vec<StoredEdge>>);

impl OutputType for EdgeList {
    fn type_name() -> Cow<'static, str> {
        <Vec<CanvasEdge> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<CanvasEdge> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<CanvasEdge> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let ctx_field = ctx.with_field(field);
        let selection = ctx_field.field();
        match compile(selection.selection_set(), None, &edge_field, &|_| false) {
            Some(plan) => answer_all(ctx, &plan, &self.0, &edge_value),
            None => {
                fell_back();
                let edges = self.0.iter().cloned().map(CanvasEdge);
                resolve_list(ctx, field, edges, Some(self.0.len())).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use async_graphql::{EmptyMutation, EmptySubscription, Schema};
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::canvas::{EdgeAttrs, NodeAttrs};

    fn nodes() -> Vec<StoredNode> {
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456);
        let plain = StoredNode {
            canvas_id: "c".into(),
            id: "n1".into(),
            node_type: "prompt".into(),
            x: 1.5,
            y: -2.0,
            width: None,
            height: Some(40.0),
            z_index: 3,
            parent_id: None,
            data: JsonText::parse(
                r#"{"prompt":"a cat ✨","seed":12345678901234,"w":0.1,"tags":[]}"#.into(),
            )
            .unwrap(),
            attrs: NodeAttrs::default(),
            sort_position: 1,
            created_at: at,
            updated_at: at,
        };
        let full = StoredNode {
            id: "n2".into(),
            parent_id: Some("n1".into()),
            data: JsonText::parse("[1,{\"z\":null}]".into()).unwrap(),
            attrs: NodeAttrs {
                hidden: Some(true),
                draggable: Some(false),
                selectable: Some(true),
                connectable: Some(false),
                deletable: Some(true),
                focusable: Some(false),
                extent: Some(json!([[0, 0], [100.5, 200]])),
                expand_parent: Some(true),
                source_position: Some("left".into()),
                target_position: Some("right".into()),
                drag_handle: Some(".handle".into()),
                style: Some(json!({ "background": "#fff", "opacity": 0.5 })),
                class_name: Some("big".into()),
            },
            ..plain.clone()
        };
        vec![plain, full]
    }

    fn edges() -> Vec<StoredEdge> {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let plain = StoredEdge {
            canvas_id: "c".into(),
            id: "e1".into(),
            source: "n1".into(),
            source_handle: None,
            target: "n2".into(),
            target_handle: Some("in".into()),
            edge_type: "default".into(),
            data: None,
            attrs: EdgeAttrs::default(),
            sort_position: 1,
            created_at: at,
            updated_at: at,
        };
        let full = StoredEdge {
            id: "e2".into(),
            data: Some(JsonText::parse(r#"{"weight":2}"#.into()).unwrap()),
            attrs: EdgeAttrs {
                animated: Some(true),
                hidden: Some(false),
                deletable: Some(true),
                selectable: Some(false),
                label: Some("uses".into()),
                marker_start: Some(json!("arrow")),
                marker_end: Some(json!({ "type": "arrowclosed", "width": 20 })),
                z_index: Some(-1),
                style: Some(json!({ "stroke": "red" })),
                class_name: Some("thin".into()),
            },
            ..plain.clone()
        };
        vec![plain, full]
    }

    struct Query;

    #[Object]
    impl Query {
        async fn fast_nodes(&self) -> NodeList {
            NodeList(Arc::new(nodes()))
        }
        async fn slow_nodes(&self) -> Vec<CanvasNode> {
            nodes().into_iter().map(CanvasNode).collect()
        }
        async fn fast_edges(&self) -> EdgeList {
            EdgeList(Arc::new(edges()))
        }
        async fn slow_edges(&self) -> Vec<CanvasEdge> {
            edges().into_iter().map(CanvasEdge).collect()
        }
    }

    type TestSchema = Schema<Query, EmptyMutation, EmptySubscription>;

    fn schema() -> TestSchema {
        Schema::new(Query, EmptyMutation, EmptySubscription)
    }

    /// Runs `{ list <selection> }` on the fast and the generic list and returns both answers.
    async fn both(
        schema: &TestSchema,
        kind: &str,
        selection: &str,
        fragments: &str,
    ) -> (String, String) {
        let run = |list: String| async move {
            let response = schema
                .execute(format!("{{ answer: {list} {selection} }} {fragments}"))
                .await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            serde_json::to_string(&response.data).unwrap()
        };
        (
            run(format!("fast{kind}")).await,
            run(format!("slow{kind}")).await,
        )
    }

    /// Every field the schema gives a type, with a selection for object fields.
    async fn every_field(schema: &TestSchema, type_name: &str) -> String {
        let query = format!(r#"{{ __type(name: "{type_name}") {{ fields {{ name }} }} }}"#);
        let data = schema.execute(query).await.data.into_json().unwrap();
        let fields: Vec<String> = data["__type"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .map(|name| match name.as_str() {
                "position" => "position { x y __typename }".to_owned(),
                _ => name,
            })
            .collect();
        assert!(fields.len() > 15, "{fields:?}");
        format!("{{ __typename {} }}", fields.join(" "))
    }

    #[tokio::test]
    async fn the_fast_lists_answer_every_field_as_the_generic_objects_do() {
        let schema = schema();
        let before = FALLBACKS.load(Ordering::Relaxed);
        for (kind, type_name) in [("Nodes", "CanvasNode"), ("Edges", "CanvasEdge")] {
            let selection = every_field(&schema, type_name).await;
            let (fast, slow) = both(&schema, kind, &selection, "").await;
            assert_eq!(fast, slow, "{type_name}");
            // Raw JSON is written as JSON, not as a string or a wrapper object.
            assert!(!fast.contains("RawValue"), "{fast}");
        }
        let (fast, _) = both(&schema, "Nodes", "{ data }", "").await;
        assert!(
            fast.contains(
                r#""data":{"prompt":"a cat ✨","seed":12345678901234,"w":0.1,"tags":[]}"#
            ),
            "{fast}"
        );
        assert_eq!(
            FALLBACKS.load(Ordering::Relaxed),
            before,
            "a field fell back to the generic path"
        );
    }

    #[tokio::test]
    async fn aliases_fragments_and_repeated_fields_are_answered_alike() {
        let schema = schema();
        let cases = [
            (
                "{ a: id b: id position { x } position { y } p: position { y x } }",
                "",
            ),
            (
                "{ ...F ... on CanvasNode { data id } id }",
                "fragment F on CanvasNode { type position { x } zIndex }",
            ),
            ("{ ... { __typename position { __typename } } }", ""),
            (
                "{ id @skip(if: true) type @include(if: false) hidden @include(if: true) }",
                "",
            ),
        ];
        for (selection, fragments) in cases {
            let (fast, slow) = both(&schema, "Nodes", selection, fragments).await;
            assert_eq!(fast, slow, "{selection} {fragments}");
        }
        let (fast, slow) = both(
            &schema,
            "Edges",
            "{ s: source t: target ...E }",
            "fragment E on CanvasEdge { s: source markerEnd }",
        )
        .await;
        assert_eq!(fast, slow);
    }
}
