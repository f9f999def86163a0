//! Canvases as an AI canvas editor saves them: prompt, generator, image, video and note nodes whose
//! `data` carries prompt text, model parameters and media references (about 250 bytes of JSON
//! each), group nodes with children, and edges wiring them. Deterministic: the same sizes give the
//! same canvas on every run.

use serde_json::{Map, Value, json};

/// Every field of a node and of an edge, in the order the GraphQL query selects them and the
/// floor writes them.
pub const NODE_FIELDS: &str = "id type position { x y } width height zIndex parentId data \
    hidden draggable selectable connectable deletable focusable extent expandParent \
    sourcePosition targetPosition dragHandle style className createdAt updatedAt";
pub const EDGE_FIELDS: &str = "id source sourceHandle target targetHandle type data animated \
    hidden deletable selectable label markerStart markerEnd zIndex style className createdAt \
    updatedAt";

/// `canvas(id) { nodes { ..every field.. } edges { ..every field.. } }`.
pub fn load_query() -> String {
    format!(
        "query($id: ID!) {{ canvas(id: $id) {{ nodes {{ {NODE_FIELDS} }} edges {{ {EDGE_FIELDS} }} }} }}"
    )
}

/// A small, fast, deterministic generator (xorshift64*); benchmarks need no better randomness.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "a",
    "watercolor",
    "portrait",
    "of",
    "an",
    "old",
    "lighthouse",
    "keeper",
    "at",
    "dusk",
    "cinematic",
    "lighting",
    "soft",
    "focus",
    "35mm",
    "film",
    "grain",
    "neon",
    "city",
    "rain",
    "reflections",
    "isometric",
    "forest",
    "cabin",
    "volumetric",
    "fog",
    "golden",
    "hour",
    "studio",
    "product",
    "shot",
    "ceramic",
    "mug",
    "minimal",
    "background",
    "highly",
    "detailed",
    "octane",
    "render",
    "pastel",
    "colors",
];

const IMAGE_MODELS: &[&str] = &["flux-pro-1.1", "flux-dev", "sdxl-turbo", "ideogram-v2"];
const VIDEO_MODELS: &[&str] = &["kling-v1.6", "runway-gen3", "luma-ray2"];

/// Between `min` and `min + spread - 1` words.
fn sentence(rng: &mut Rng, min: u64, spread: u64) -> String {
    let words = min + rng.below(spread);
    (0..words)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A UUID v7 look-alike, as media references carry.
fn asset_id(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "0193{:04x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        a & 0xffff,
        (a >> 16) & 0xffff,
        (a >> 32) & 0xfff,
        b & 0xfff,
        (b >> 12) & 0xffff_ffff_ffff
    )
}

/// One node as the editor holds it.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub node_type: String,
    pub x: f64,
    pub y: f64,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub z_index: i32,
    pub parent_id: Option<String>,
    pub data: Value,
    /// React Flow's other persisted fields, by their GraphQL names; empty for most nodes.
    pub attrs: Map<String, Value>,
}

/// One edge as the editor holds it.
#[derive(Debug, Clone)]
pub struct Edge {
    pub id: String,
    pub source: String,
    pub source_handle: Option<String>,
    pub target: String,
    pub target_handle: Option<String>,
    pub edge_type: String,
    pub data: Option<Value>,
    pub attrs: Map<String, Value>,
}

/// A whole canvas.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Every 100th node is a group; the five after it sit inside it.
const GROUP_EVERY: usize = 100;
const GROUP_CHILDREN: usize = 5;

fn node_data(rng: &mut Rng, kind: &str, i: usize) -> Value {
    match kind {
        "prompt" => json!({
            "label": format!("Prompt {i}"),
            "text": sentence(rng, 18, 8),
            "negative": "blurry, low quality, watermark",
            "locked": rng.below(4) == 0,
        }),
        "imageGenerator" => json!({
            "label": format!("Image {i}"),
            "model": rng.pick(IMAGE_MODELS),
            "params": {
                "width": 1024, "height": 768, "steps": 20 + rng.below(20),
                "guidance": 3.5, "seed": rng.below(1 << 31),
            },
            "status": "completed",
            "outputs": [{ "assetId": asset_id(rng), "mimeType": "image/png" }],
        }),
        "videoGenerator" => json!({
            "label": format!("Video {i}"),
            "model": rng.pick(VIDEO_MODELS),
            "params": { "duration": 5, "fps": 24, "aspectRatio": "16:9", "seed": rng.below(1 << 31) },
            "status": "completed",
            "source": { "assetId": asset_id(rng) },
            "outputs": [{ "assetId": asset_id(rng), "mimeType": "video/mp4" }],
        }),
        "image" => json!({
            "label": format!("Reference {i}"),
            "assetId": asset_id(rng),
            "url": format!("https://cdn.example.com/u/local/{}.webp", asset_id(rng)),
            "width": 1536, "height": 1024, "alt": sentence(rng, 4, 1),
        }),
        "group" => json!({ "label": format!("Group {i}"), "color": "#2a2a3a", "collapsed": false }),
        _ => json!({
            "label": format!("Note {i}"),
            "text": sentence(rng, 24, 10),
            "color": "yellow",
        }),
    }
}

/// A canvas of `nodes` nodes and `edges` edges, the same for the same sizes and seed.
pub fn canvas(nodes: usize, edges: usize, seed: u64) -> Canvas {
    let mut rng = Rng::new(seed);
    let mut list = Vec::with_capacity(nodes);
    let mut group: Option<(usize, String)> = None;
    for i in 0..nodes {
        let id = format!("n-{i}");
        let in_group = group
            .as_ref()
            .filter(|(start, _)| i > *start && i <= start + GROUP_CHILDREN)
            .map(|(_, id)| id.clone());
        let kind = if i % GROUP_EVERY == 0 {
            "group"
        } else {
            match rng.below(10) {
                0..=2 => "prompt",
                3..=5 => "imageGenerator",
                6 => "videoGenerator",
                7 | 8 => "image",
                _ => "note",
            }
        };
        let mut attrs = Map::new();
        let (x, y, width, height, z_index);
        if kind == "group" {
            group = Some((i, id.clone()));
            (x, y) = (((i / 100) % 10) as f64 * 4000.0, (i / 1000) as f64 * 3000.0);
            (width, height, z_index) = (Some(1800.0), Some(400.0), -1);
            attrs.insert("style".into(), json!({ "background": "#2a2a3a" }));
        } else if in_group.is_some() {
            (x, y) = ((i % GROUP_EVERY) as f64 * 300.0 + 40.0, 60.0);
            (width, height, z_index) = (Some(260.0), Some(200.0), 0);
            attrs.insert("extent".into(), json!("parent"));
        } else {
            (x, y) = (
                (i % 100) as f64 * 320.0 + rng.below(40) as f64,
                (i / 100) as f64 * 260.0 + rng.below(40) as f64,
            );
            let sized = kind != "note";
            (width, height, z_index) = (sized.then_some(280.0), sized.then_some(220.0), 0);
            if rng.below(5) == 0 {
                attrs.insert("sourcePosition".into(), json!("right"));
                attrs.insert("targetPosition".into(), json!("left"));
            }
            if rng.below(10) == 0 {
                attrs.insert("className".into(), json!("node--pinned"));
                attrs.insert("draggable".into(), json!(false));
            }
        }
        let data = node_data(&mut rng, kind, i);
        list.push(Node {
            id,
            node_type: kind.to_owned(),
            x,
            y,
            width,
            height,
            z_index,
            parent_id: in_group,
            data,
            attrs,
        });
    }

    let mut edge_list = Vec::with_capacity(edges);
    for i in 0..edges {
        let source = i % nodes.max(1);
        let mut target = (source + 1 + rng.below(7) as usize) % nodes.max(1);
        if target == source {
            target = (target + 1) % nodes.max(1);
        }
        let mut attrs = Map::new();
        if i % 4 == 0 {
            attrs.insert("animated".into(), json!(true));
        }
        if i % 3 == 0 {
            attrs.insert(
                "markerEnd".into(),
                json!({ "type": "arrowclosed", "color": "#888" }),
            );
        }
        edge_list.push(Edge {
            id: format!("e-{i}"),
            source: format!("n-{source}"),
            source_handle: Some(if i % 2 == 0 { "out" } else { "image" }.to_owned()),
            target: format!("n-{target}"),
            target_handle: Some("in".to_owned()),
            edge_type: if i % 5 == 0 { "smoothstep" } else { "default" }.to_owned(),
            data: (i % 5 == 0).then(|| json!({ "label": format!("link {i}") })),
            attrs,
        });
    }
    Canvas {
        nodes: list,
        edges: edge_list,
    }
}

impl Node {
    /// The node as `CanvasNodeInput` JSON.
    pub fn input(&self) -> Value {
        let mut input = Map::new();
        input.insert("id".into(), json!(self.id));
        input.insert("type".into(), json!(self.node_type));
        input.insert("position".into(), json!({ "x": self.x, "y": self.y }));
        input.insert("width".into(), json!(self.width));
        input.insert("height".into(), json!(self.height));
        input.insert("zIndex".into(), json!(self.z_index));
        input.insert("parentId".into(), json!(self.parent_id));
        input.insert("data".into(), self.data.clone());
        for (key, value) in &self.attrs {
            input.insert(key.clone(), value.clone());
        }
        Value::Object(input)
    }
}

impl Edge {
    /// The edge as `CanvasEdgeInput` JSON.
    pub fn input(&self) -> Value {
        let mut input = Map::new();
        input.insert("id".into(), json!(self.id));
        input.insert("source".into(), json!(self.source));
        input.insert("sourceHandle".into(), json!(self.source_handle));
        input.insert("target".into(), json!(self.target));
        input.insert("targetHandle".into(), json!(self.target_handle));
        input.insert("type".into(), json!(self.edge_type));
        input.insert("data".into(), json!(self.data));
        for (key, value) in &self.attrs {
            input.insert(key.clone(), value.clone());
        }
        Value::Object(input)
    }
}

impl Canvas {
    /// The `input` of `saveCanvas` for this canvas under `id`.
    pub fn snapshot_input(&self, id: &str, name: &str) -> Value {
        json!({
            "id": id,
            "name": name,
            "viewport": { "x": 0.0, "y": 0.0, "zoom": 1.0 },
            "nodes": self.nodes.iter().map(Node::input).collect::<Vec<_>>(),
            "edges": self.edges.iter().map(Edge::input).collect::<Vec<_>>(),
        })
    }

    /// The average size of a node's `data`, as compact JSON.
    pub fn average_node_data_bytes(&self) -> usize {
        let total: usize = self
            .nodes
            .iter()
            .map(|n| serde_json::to_string(&n.data).map_or(0, |s| s.len()))
            .sum();
        total / self.nodes.len().max(1)
    }

    /// The index of a node that can be moved freely (not a group, not in one).
    pub fn movable_node(&self, nth: usize) -> usize {
        let movable: Vec<usize> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.parent_id.is_none() && n.node_type != "group")
            .map(|(i, _)| i)
            .collect();
        movable[(nth * 7919) % movable.len()]
    }
}

/// The attributes as the `attrs` column holds them: the serde names of Easel's `NodeAttrs` and
/// `EdgeAttrs` are the GraphQL names, so the map serializes as is; null when empty.
pub fn attrs_json(attrs: &Map<String, Value>) -> Option<String> {
    (!attrs.is_empty()).then(|| Value::Object(attrs.clone()).to_string())
}
