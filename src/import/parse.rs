//! Reading what a browser kept into canvases and settings. The accepted shapes are told apart by
//! their content, not by a flag: a list of stored canvases, a map of them keyed by id, one React
//! Flow `toObject()` (or one stored canvas), a zustand envelope (`{"state": {...}, "version"}`),
//! a settings object, and a whole `localStorage` dump (key → string holding JSON) of any of
//! these. Pure: no database, no store.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::canvas::{EdgeAttrs, EdgeInput, JsonText, NodeAttrs, NodeInput, Viewport};

/// Everything found in an import's input.
#[derive(Debug, Default)]
pub struct Parsed {
    pub canvases: Vec<FoundCanvas>,
    pub settings: Option<FoundSettings>,
    /// Parts of the input that are not imported, each with why.
    pub ignored: Vec<String>,
}

/// One canvas of the input, read or not.
#[derive(Debug)]
pub struct FoundCanvas {
    /// Where it is in the input: `spaces-canvases[2]`, `input.canvas-1`, `input`.
    pub source: String,
    /// The id the input gives it, if any.
    pub source_id: Option<String>,
    /// The name the input gives it, if any.
    pub name: Option<String>,
    /// The canvas, or why it cannot be read.
    pub content: Result<SourceCanvas, String>,
    /// Another canvas of the same input with the same nodes and edges (the open canvas of an
    /// app that also keeps it in its list): not imported twice.
    pub duplicate_of: Option<String>,
}

/// A canvas as read from the input, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCanvas {
    /// The input's id, or one derived from the content when the input has none (so that a
    /// second import of the same input finds it).
    pub id: String,
    /// Whether `id` was derived rather than given.
    pub derived_id: bool,
    pub name: String,
    pub thumbnail: Option<String>,
    pub viewport: Option<Viewport>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub nodes: Vec<NodeInput>,
    pub edges: Vec<EdgeInput>,
    /// What was left out while reading, for the report.
    pub warnings: Vec<String>,
}

/// A provider API key in plaintext, as a browser kept it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainKey(pub String);

impl std::fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainKey(..)")
    }
}

/// The settings of a canvas app, as read from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundSettings {
    pub source: String,
    pub theme: Option<String>,
    /// What else the app kept (its preferences), API keys and history aside.
    pub preferences: Map<String, Value>,
    /// Non-empty keys by provider name (as Easel names providers: `fal`, `openai`).
    pub api_keys: Vec<(String, PlainKey)>,
    /// Parts of the settings not imported, each with why.
    pub dropped: Vec<String>,
}

/// Settings fields that are not preferences.
const NOT_PREFERENCES: [&str; 5] = [
    "theme",
    "apiKeys",
    "generationHistory",
    "exportedAt",
    "version",
];
/// Fields that tell a settings object.
const SETTINGS_FIELDS: [&str; 4] = ["apiKeys", "theme", "canvasPreferences", "defaultSettings"];

/// Reads the input of an import; why not, when nothing in it is a canvas or settings.
pub fn parse(input: &Value) -> Result<Parsed, String> {
    // The dump pasted as one string: `JSON.stringify(localStorage)` itself.
    if let Value::String(text) = input {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("is a string that does not hold JSON: {e}"))?;
        return parse(&value);
    }
    let mut parsed = Parsed::default();
    match shape(input) {
        Shape::Dump(map) => read_dump(map, &mut parsed),
        Shape::Unknown => {
            return Err(
                "is not a list or map of canvases, a React Flow object, a zustand envelope, \
                 settings, or a localStorage dump"
                    .to_owned(),
            );
        }
        other => read_shape(other, "input", &mut parsed),
    }
    mark_duplicates(&mut parsed.canvases);
    if parsed.canvases.is_empty() && parsed.settings.is_none() && !parsed.ignored.is_empty() {
        return Err(format!(
            "holds no canvas and no settings ({})",
            parsed.ignored.join("; ")
        ));
    }
    Ok(parsed)
}

enum Shape<'a> {
    List(&'a [Value]),
    Map(&'a Map<String, Value>),
    /// One canvas: a React Flow `toObject()` or one stored canvas.
    Flow(&'a Map<String, Value>),
    /// A zustand envelope whose state holds a canvas.
    Envelope(&'a Map<String, Value>),
    Settings(&'a Map<String, Value>),
    Dump(&'a Map<String, Value>),
    Unknown,
}

fn has_nodes(map: &Map<String, Value>) -> bool {
    map.get("nodes").is_some_and(Value::is_array)
}

fn is_settings(map: &Map<String, Value>) -> bool {
    !has_nodes(map) && SETTINGS_FIELDS.iter().any(|f| map.contains_key(*f))
}

fn shape(value: &Value) -> Shape<'_> {
    match value {
        Value::Array(items) => {
            let canvas_like = |v: &Value| v.as_object().is_some_and(has_nodes);
            if items.is_empty() || items.iter().any(canvas_like) {
                Shape::List(items)
            } else {
                Shape::Unknown
            }
        }
        Value::Object(map) => {
            if let Some(Value::Object(state)) = map.get("state") {
                if has_nodes(state) {
                    return Shape::Envelope(state);
                }
                if is_settings(state) {
                    return Shape::Settings(state);
                }
                return Shape::Unknown;
            }
            if has_nodes(map) {
                return Shape::Flow(map);
            }
            if map.is_empty() {
                return Shape::Unknown;
            }
            // Before settings: a dump may well have a `theme` key of its own.
            if map.values().all(Value::is_string) {
                return Shape::Dump(map);
            }
            if is_settings(map) {
                return Shape::Settings(map);
            }
            let canvas_like = |v: &Value| v.as_object().is_some_and(has_nodes);
            if map.values().any(canvas_like) {
                return Shape::Map(map);
            }
            Shape::Unknown
        }
        _ => Shape::Unknown,
    }
}

/// The keys of a dump in the order they are read: the list of canvases first, so that the open
/// canvas of the same app is recognised as a copy of one of them.
fn dump_order(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by_key(|k| (k.as_str() != "spaces-canvases", k.as_str()));
    keys
}

fn read_dump(map: &Map<String, Value>, parsed: &mut Parsed) {
    for key in dump_order(map) {
        let Some(text) = map[key].as_str() else {
            continue;
        };
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            parsed.ignored.push(format!("{key}: not JSON"));
            continue;
        };
        match shape(&value) {
            Shape::Unknown | Shape::Dump(_) => {
                parsed.ignored.push(format!(
                    "{key}: not a canvas, a list of canvases or settings"
                ));
            }
            other => read_shape(other, key, parsed),
        }
    }
}

fn read_shape(shape: Shape<'_>, source: &str, parsed: &mut Parsed) {
    match shape {
        Shape::List(items) => {
            for (i, item) in items.iter().enumerate() {
                parsed.canvases.push(found(
                    format!("{source}[{i}]"),
                    item,
                    None,
                    "Imported canvas",
                ));
            }
        }
        Shape::Map(map) => {
            for (key, item) in map {
                parsed.canvases.push(found(
                    format!("{source}.{key}"),
                    item,
                    Some(key),
                    "Imported canvas",
                ));
            }
        }
        Shape::Flow(map) => {
            let value = Value::Object(map.clone());
            parsed
                .canvases
                .push(found(source.to_owned(), &value, None, "Imported canvas"));
        }
        Shape::Envelope(state) => {
            let value = Value::Object(state.clone());
            parsed
                .canvases
                .push(found(source.to_owned(), &value, None, "Open canvas"));
        }
        Shape::Settings(map) => {
            if parsed.settings.is_some() {
                parsed
                    .ignored
                    .push(format!("{source}: a second settings object"));
            } else {
                parsed.settings = Some(read_settings(source, map));
            }
        }
        Shape::Dump(_) | Shape::Unknown => {}
    }
}

fn found(source: String, value: &Value, key: Option<&str>, default_name: &str) -> FoundCanvas {
    let object = value.as_object();
    let field = |name: &str| object.and_then(|o| o.get(name));
    FoundCanvas {
        source_id: field("id").and_then(id_text).or(key.map(str::to_owned)),
        name: field("name").and_then(Value::as_str).map(str::to_owned),
        content: match object {
            Some(object) => read_canvas(object, key, default_name),
            None => Err("is not an object".to_owned()),
        },
        source,
        duplicate_of: None,
    }
}

/// An id as the input spells it: a string, or a number written as one.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A time in milliseconds since 1970, or an RFC 3339 string.
fn read_time(field: &str, value: Option<&Value>) -> Result<Option<DateTime<Utc>>, String> {
    let bad = || format!("{field}: is not a time in milliseconds or an RFC 3339 string");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let ms = n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .ok_or_else(bad)?;
            DateTime::from_timestamp_millis(ms)
                .map(Some)
                .ok_or_else(bad)
        }
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn read_canvas(
    object: &Map<String, Value>,
    key: Option<&str>,
    default_name: &str,
) -> Result<SourceCanvas, String> {
    let mut nodes = Vec::new();
    match object.get("nodes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                nodes.push(read_node(&format!("nodes[{i}]"), item)?);
            }
        }
        Some(_) => return Err("nodes: is not a list".to_owned()),
    }
    let mut edges = Vec::new();
    match object.get("edges") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                edges.push(read_edge(&format!("edges[{i}]"), item)?);
            }
        }
        Some(_) => return Err("edges: is not a list".to_owned()),
    }
    let mut warnings = Vec::new();
    // React Flow draws nothing for an edge whose end is gone; Easel would refuse the canvas.
    let node_ids: std::collections::HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
    let (kept, dangling): (Vec<EdgeInput>, Vec<EdgeInput>) = edges.into_iter().partition(|e| {
        node_ids.contains(e.source.as_str()) && node_ids.contains(e.target.as_str())
    });
    for edge in &dangling {
        warnings.push(format!(
            "edge '{}' dropped: it joins '{}' to '{}', and one of them is not a node of the canvas",
            edge.id, edge.source, edge.target
        ));
    }
    let edges = kept;

    let given_id = object
        .get("id")
        .and_then(id_text)
        .or(key.map(str::to_owned));
    let derived_id = given_id.is_none();
    let id = given_id.unwrap_or_else(|| derive_id(object));
    let name = ["name", "spaceName", "title"]
        .iter()
        .filter_map(|f| object.get(*f).and_then(Value::as_str))
        .find(|n| !n.trim().is_empty())
        .unwrap_or(default_name)
        .to_owned();
    let thumbnail = object
        .get("thumbnail")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let viewport = match object.get("viewport") {
        None | Some(Value::Null) => None,
        Some(value) => {
            Some(Viewport::deserialize(value).map_err(|e| format!("viewport: {e} (x, y, zoom)"))?)
        }
    };
    Ok(SourceCanvas {
        id,
        derived_id,
        name,
        thumbnail,
        viewport,
        created_at: read_time("createdAt", object.get("createdAt"))?,
        updated_at: read_time("updatedAt", object.get("updatedAt"))?,
        nodes,
        edges,
        warnings,
    })
}

/// An id for a canvas the input names none for: the same nodes and edges give the same id.
fn derive_id(object: &Map<String, Value>) -> String {
    let mut hash = Sha256::new();
    for field in ["nodes", "edges"] {
        let text = object.get(field).map(Value::to_string).unwrap_or_default();
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("imported-{hex}")
}

fn number(label: &str, value: Option<&Value>) -> Result<Option<f64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(format!("{label}: is not a number")),
    }
}

fn text(label: &str, value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{label}: is not a string")),
    }
}

fn required_id(label: &str, value: Option<&Value>) -> Result<String, String> {
    text(label, value)?.ok_or_else(|| format!("{label}: is required"))
}

/// One React Flow node. UI state (`selected`, `dragging`, `measured`, `resizing`,
/// `positionAbsolute`) is not read, so it is dropped.
fn read_node(label: &str, value: &Value) -> Result<NodeInput, String> {
    let node = value
        .as_object()
        .ok_or_else(|| format!("{label}: is not an object"))?;
    let id = required_id(&format!("{label}.id"), node.get("id"))?;
    let position = node
        .get("position")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{label}.position: is required ({{x, y}})"))?;
    let coordinate = |axis: &str| {
        number(&format!("{label}.position.{axis}"), position.get(axis))?
            .ok_or_else(|| format!("{label}.position.{axis}: is required"))
    };
    let z_index = number(&format!("{label}.zIndex"), node.get("zIndex"))?.map_or(0, |z| {
        z.round().clamp(i32::MIN as f64, i32::MAX as f64) as i32
    });
    // React Flow before v11.11 called it `parentNode`.
    let parent = node.get("parentId").or_else(|| node.get("parentNode"));
    Ok(NodeInput {
        node_type: text(&format!("{label}.type"), node.get("type"))?
            .unwrap_or_else(|| "default".to_owned()),
        x: coordinate("x")?,
        y: coordinate("y")?,
        width: number(&format!("{label}.width"), node.get("width"))?,
        height: number(&format!("{label}.height"), node.get("height"))?,
        z_index,
        parent_id: text(&format!("{label}.parentId"), parent)?,
        data: match node.get("data") {
            None | Some(Value::Null) => JsonText::empty_object(),
            Some(data) => JsonText::from_value(data),
        },
        attrs: NodeAttrs::deserialize(value).map_err(|e| format!("{label}: {e}"))?,
        id,
    })
}

/// One React Flow edge; `selected` is dropped.
fn read_edge(label: &str, value: &Value) -> Result<EdgeInput, String> {
    let edge = value
        .as_object()
        .ok_or_else(|| format!("{label}: is not an object"))?;
    Ok(EdgeInput {
        id: required_id(&format!("{label}.id"), edge.get("id"))?,
        source: required_id(&format!("{label}.source"), edge.get("source"))?,
        source_handle: text(&format!("{label}.sourceHandle"), edge.get("sourceHandle"))?,
        target: required_id(&format!("{label}.target"), edge.get("target"))?,
        target_handle: text(&format!("{label}.targetHandle"), edge.get("targetHandle"))?,
        edge_type: text(&format!("{label}.type"), edge.get("type"))?
            .unwrap_or_else(|| "default".to_owned()),
        data: edge
            .get("data")
            .filter(|d| !d.is_null())
            .map(JsonText::from_value),
        attrs: EdgeAttrs::deserialize(value).map_err(|e| format!("{label}: {e}"))?,
    })
}

/// Easel's name of a provider an app names in its own way (`falAi` → `fal`).
pub fn provider_name(app_name: &str) -> String {
    let lower = app_name.to_ascii_lowercase();
    match lower.as_str() {
        "falai" | "fal_ai" | "fal-ai" | "fal.ai" => "fal".to_owned(),
        "openai" | "open_ai" | "open-ai" => "openai".to_owned(),
        "googleai" | "google_ai" | "gemini" => "google".to_owned(),
        _ => lower,
    }
}

fn read_settings(source: &str, map: &Map<String, Value>) -> FoundSettings {
    let mut dropped = Vec::new();
    let mut api_keys = Vec::new();
    match map.get("apiKeys") {
        None | Some(Value::Null) => {}
        Some(Value::Object(keys)) => {
            for (name, key) in keys {
                match key {
                    Value::String(key) if key.is_empty() => {}
                    Value::String(key) => {
                        api_keys.push((provider_name(name), PlainKey(key.clone())))
                    }
                    Value::Null => {}
                    _ => dropped.push(format!("apiKeys.{name}: not a string")),
                }
            }
        }
        Some(_) => dropped.push("apiKeys: not an object of provider → key".to_owned()),
    }
    api_keys.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(Value::Array(history)) = map.get("generationHistory")
        && !history.is_empty()
    {
        dropped.push(format!(
            "generationHistory: {} entries of the app's own history are not imported",
            history.len()
        ));
    }
    let preferences = map
        .iter()
        .filter(|(k, _)| !NOT_PREFERENCES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    FoundSettings {
        source: source.to_owned(),
        theme: map
            .get("theme")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned),
        preferences,
        api_keys,
        dropped,
    }
}

/// Marks canvases whose id was derived (the input named none) and whose nodes and edges equal
/// those of another canvas of the input.
fn mark_duplicates(canvases: &mut [FoundCanvas]) {
    for i in 0..canvases.len() {
        let Ok(content) = &canvases[i].content else {
            continue;
        };
        if !content.derived_id {
            continue;
        }
        let twin = canvases.iter().enumerate().find(|(j, other)| {
            *j != i
                && other.content.as_ref().is_ok_and(|o| {
                    !o.derived_id && o.nodes == content.nodes && o.edges == content.edges
                })
        });
        if let Some((_, twin)) = twin {
            canvases[i].duplicate_of = Some(twin.source.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canvas(id: &str) -> Value {
        json!({
            "id": id, "name": format!("Canvas {id}"), "thumbnail": "data:image/png;base64,AA",
            "createdAt": 1_700_000_000_123_i64, "updatedAt": 1_700_000_100_456_i64,
            "nodes": [
                { "id": "g", "type": "group", "position": { "x": 0, "y": 0 }, "width": 400,
                  "height": 300, "data": {}, "selected": true, "dragging": false,
                  "measured": { "width": 400, "height": 300 } },
                { "id": "t", "type": "text", "position": { "x": 10.5, "y": 20 }, "parentId": "g",
                  "zIndex": 2, "extent": "parent", "data": { "text": "hi" } },
            ],
            "edges": [
                { "id": "e", "source": "g", "target": "t", "sourceHandle": null,
                  "targetHandle": "in", "type": "smoothstep", "animated": true, "selected": true },
            ],
        })
    }

    fn ok(found: &FoundCanvas) -> &SourceCanvas {
        found.content.as_ref().unwrap()
    }

    #[test]
    fn a_list_of_stored_canvases_is_read_with_its_times_in_milliseconds() {
        let parsed = parse(&json!([canvas("c1"), canvas("c2")])).unwrap();
        assert_eq!(parsed.canvases.len(), 2);
        let c1 = ok(&parsed.canvases[0]);
        assert_eq!(parsed.canvases[0].source, "input[0]");
        assert_eq!(c1.id, "c1");
        assert!(!c1.derived_id);
        assert_eq!(c1.name, "Canvas c1");
        assert_eq!(c1.created_at.unwrap().timestamp_millis(), 1_700_000_000_123);
        assert_eq!(c1.updated_at.unwrap().timestamp_millis(), 1_700_000_100_456);
        assert_eq!(c1.thumbnail.as_deref(), Some("data:image/png;base64,AA"));
        assert_eq!(c1.nodes[1].parent_id.as_deref(), Some("g"));
        assert_eq!(c1.nodes[1].z_index, 2);
        assert_eq!(c1.nodes[1].attrs.extent, Some(json!("parent")));
        assert_eq!(c1.nodes[0].width, Some(400.0));
        assert_eq!(c1.edges[0].target_handle.as_deref(), Some("in"));
        assert_eq!(c1.edges[0].attrs.animated, Some(true));
    }

    #[test]
    fn ui_state_is_not_kept() {
        let parsed = parse(&json!([canvas("c1")])).unwrap();
        let node = &ok(&parsed.canvases[0]).nodes[0];
        // Nothing of `selected`, `dragging` or `measured` survives: not in data, not in attrs.
        assert_eq!(node.data.to_value(), json!({}));
        let attrs = serde_json::to_value(&node.attrs).unwrap();
        assert_eq!(attrs, json!({}));
    }

    #[test]
    fn a_map_keyed_by_id_gives_the_key_as_id_when_the_canvas_has_none() {
        let mut c = canvas("x");
        c.as_object_mut().unwrap().remove("id");
        let parsed = parse(&json!({ "k1": c, "k2": canvas("k2") })).unwrap();
        let ids: Vec<&str> = parsed.canvases.iter().map(|c| ok(c).id.as_str()).collect();
        assert_eq!(ids, ["k1", "k2"]);
        assert_eq!(parsed.canvases[0].source, "input.k1");
    }

    #[test]
    fn a_react_flow_object_is_one_canvas_with_a_stable_derived_id() {
        let flow = json!({
            "nodes": [{ "id": "a", "position": { "x": 1, "y": 2 }, "data": { "label": "A" } }],
            "edges": [], "viewport": { "x": 5, "y": 6, "zoom": 0.5 },
        });
        let first = parse(&flow).unwrap();
        let second = parse(&flow).unwrap();
        let c = ok(&first.canvases[0]);
        assert!(c.derived_id);
        assert!(c.id.starts_with("imported-"));
        assert_eq!(c.id, ok(&second.canvases[0]).id);
        assert_eq!(
            c.viewport,
            Some(Viewport {
                x: 5.0,
                y: 6.0,
                zoom: 0.5
            })
        );
        assert_eq!(c.nodes[0].node_type, "default");
        assert_eq!(c.name, "Imported canvas");
    }

    #[test]
    fn a_localstorage_dump_is_read_key_by_key() {
        let envelope = json!({ "state": { "nodes": [], "edges": [] }, "version": 0 });
        let settings = json!({ "state": {
            "theme": "light",
            "apiKeys": { "falAi": "fal-key-123456", "openAi": "", "anthropic": "sk-ant-1234567890" },
            "canvasPreferences": { "gridSnap": true },
            "generationHistory": [{ "id": "g1" }],
        }, "version": 0 });
        let dump = json!({
            "spaces-canvases": json!([canvas("c1")]).to_string(),
            "spaces-canvas-storage": envelope.to_string(),
            "spaces-settings-storage": settings.to_string(),
            "theme-cache": "dark",
            "other": "{\"a\": 1}",
        });
        let parsed = parse(&dump).unwrap();
        let sources: Vec<&str> = parsed.canvases.iter().map(|c| c.source.as_str()).collect();
        assert_eq!(sources, ["spaces-canvases[0]", "spaces-canvas-storage"]);
        assert_eq!(ok(&parsed.canvases[1]).name, "Open canvas");
        let s = parsed.settings.unwrap();
        assert_eq!(s.theme.as_deref(), Some("light"));
        let keys: Vec<&str> = s.api_keys.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(keys, ["anthropic", "fal"]);
        assert_eq!(
            s.preferences,
            *json!({ "canvasPreferences": { "gridSnap": true } })
                .as_object()
                .unwrap()
        );
        assert_eq!(s.dropped.len(), 1, "{:?}", s.dropped);
        assert_eq!(parsed.ignored.len(), 2, "{:?}", parsed.ignored);
        // The whole dump as one string, as JSON.stringify(localStorage) gives it.
        let again = parse(&Value::String(dump.to_string())).unwrap();
        assert_eq!(again.canvases.len(), 2);
    }

    #[test]
    fn keys_are_never_printed() {
        let settings = read_settings(
            "s",
            json!({ "apiKeys": { "openAi": "sk-secret-value" } })
                .as_object()
                .unwrap(),
        );
        assert!(!format!("{settings:?}").contains("sk-secret-value"));
    }

    #[test]
    fn the_open_canvas_of_a_dump_is_not_imported_twice() {
        let listed = canvas("c1");
        let envelope = json!({ "state": { "nodes": listed["nodes"], "edges": listed["edges"] } });
        let dump = json!({
            "spaces-canvas-storage": envelope.to_string(),
            "spaces-canvases": json!([listed]).to_string(),
        });
        let parsed = parse(&dump).unwrap();
        assert_eq!(
            parsed.canvases[1].duplicate_of.as_deref(),
            Some("spaces-canvases[0]")
        );
        assert_eq!(parsed.canvases[0].duplicate_of, None);
    }

    #[test]
    fn a_bad_canvas_is_reported_and_the_others_read() {
        let mut bad = canvas("bad");
        bad["nodes"][1]["position"] = json!("left");
        let parsed = parse(&json!([canvas("c1"), bad, 7, canvas("c3")])).unwrap();
        assert!(parsed.canvases[0].content.is_ok());
        assert_eq!(
            parsed.canvases[1].content.as_ref().unwrap_err(),
            "nodes[1].position: is required ({x, y})"
        );
        assert_eq!(parsed.canvases[1].source_id.as_deref(), Some("bad"));
        assert_eq!(
            parsed.canvases[2].content.as_ref().unwrap_err(),
            "is not an object"
        );
        assert!(parsed.canvases[3].content.is_ok());
    }

    #[test]
    fn edges_to_missing_nodes_are_dropped_with_a_warning() {
        let mut c = canvas("c1");
        c["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "id": "gone", "source": "g", "target": "zz" }));
        let parsed = parse(&json!([c])).unwrap();
        let c = ok(&parsed.canvases[0]);
        assert_eq!(c.edges.len(), 1);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("'gone'"));
    }

    #[test]
    fn times_may_be_rfc3339_and_bad_times_are_refused() {
        assert_eq!(
            read_time("t", Some(&json!("2024-01-02T03:04:05.678Z")))
                .unwrap()
                .unwrap()
                .timestamp_millis(),
            1_704_164_645_678
        );
        assert!(read_time("t", Some(&json!(true))).is_err());
        assert!(read_time("t", Some(&json!(1.5))).is_err());
    }

    #[test]
    fn unknown_input_is_refused() {
        assert!(parse(&json!(42)).is_err());
        assert!(parse(&json!({ "hello": 1 })).is_err());
        assert!(parse(&json!({ "a": "not json" })).is_err());
        assert!(parse(&json!("not json")).is_err());
    }

    #[test]
    fn providers_get_easel_names() {
        assert_eq!(provider_name("falAi"), "fal");
        assert_eq!(provider_name("openAi"), "openai");
        assert_eq!(provider_name("anthropic"), "anthropic");
    }
}
