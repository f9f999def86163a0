//! Media inside node data: `data:` URLs that become assets, and placeholders that point at media
//! the browser kept elsewhere (`cached:<nodeId>`, `blob:` URLs, empty media fields), which cannot
//! be brought along and are reported. Pure: finds and decodes, writes nothing.

use base64::Engine as _;
use entity::asset::AssetKind;
use serde_json::Value;

use crate::assets::{canonical, check_head, check_type};
use crate::canvas::NodeInput;

/// What a node's data says instead of a `data:` URL once its bytes are an asset.
pub fn asset_reference(asset_id: &str) -> String {
    format!("asset:{asset_id}")
}

/// A file embedded in node data as a `data:` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub node_id: String,
    /// Where the URL is in the node's data, as a JSON pointer (`/images/0`).
    pub pointer: String,
    pub kind: AssetKind,
    /// Canonical media type.
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

/// Media the input only points at, which cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub node_id: String,
    /// Where it is in the node's data, as a JSON pointer.
    pub pointer: String,
    /// What the input holds there (`cached:node-3`, `blob:https://...`, or empty).
    pub value: String,
}

/// What is in the data of some nodes.
#[derive(Debug, Default)]
pub struct Found {
    pub embedded: Vec<Embedded>,
    pub missing: Vec<Missing>,
    /// `data:` URLs left inline, each with why.
    pub warnings: Vec<String>,
}

/// Field names (lower case) whose empty string means media that is not there.
const MEDIA_SUFFIXES: [&str; 13] = [
    "url",
    "urls",
    "src",
    "image",
    "images",
    "video",
    "videos",
    "audio",
    "media",
    "thumbnail",
    "output",
    "outputs",
    "file",
];

fn is_media_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    MEDIA_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Finds embedded files and missing media in the data of `nodes`.
pub fn scan(nodes: &[NodeInput]) -> Found {
    let mut found = Found::default();
    for node in nodes {
        walk(
            &node.id,
            &node.data.to_value(),
            String::new(),
            None,
            &mut found,
        );
    }
    found
}

fn escape(part: &str) -> String {
    part.replace('~', "~0").replace('/', "~1")
}

fn walk(node_id: &str, value: &Value, pointer: String, field: Option<&str>, found: &mut Found) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                walk(
                    node_id,
                    child,
                    format!("{pointer}/{}", escape(key)),
                    Some(key),
                    found,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                // An item of `images` is an image as much as the field is.
                walk(node_id, child, format!("{pointer}/{i}"), field, found);
            }
        }
        Value::String(text) => {
            let cached = text
                .strip_prefix("cached:")
                .is_some_and(|id| !id.is_empty() && !id.contains(char::is_whitespace));
            let missing = cached
                || text.starts_with("blob:")
                || (text.is_empty() && field.is_some_and(is_media_field));
            if missing {
                found.missing.push(Missing {
                    node_id: node_id.to_owned(),
                    pointer,
                    value: text.clone(),
                });
            } else if text.starts_with("data:") {
                match decode(text) {
                    Ok((kind, mime_type, bytes)) => found.embedded.push(Embedded {
                        node_id: node_id.to_owned(),
                        pointer,
                        kind,
                        mime_type,
                        bytes,
                    }),
                    Err(why) => found.warnings.push(format!(
                        "node '{node_id}' {pointer}: a data: URL stays inline: {why}"
                    )),
                }
            }
        }
        _ => {}
    }
}

/// The kind, canonical type and bytes of a base64 `data:` URL of an accepted media type whose
/// bytes are what the type says.
pub fn decode(url: &str) -> Result<(AssetKind, String, Vec<u8>), String> {
    let rest = url.strip_prefix("data:").ok_or("not a data: URL")?;
    let (header, payload) = rest.split_once(',').ok_or("no ',' before the data")?;
    let mut params = header.split(';');
    let mime = canonical(params.next().unwrap_or_default());
    if !params.any(|p| p.eq_ignore_ascii_case("base64")) {
        return Err("not base64".to_owned());
    }
    let kind = match mime.split('/').next() {
        Some("image") => AssetKind::Image,
        Some("video") => AssetKind::Video,
        Some("audio") => AssetKind::Audio,
        _ => return Err(format!("'{mime}' is not an image, video or audio type")),
    };
    let mime = check_type(kind, &mime)?;
    let payload: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.as_bytes())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload.as_bytes()))
        .map_err(|e| format!("the base64 does not decode: {e}"))?;
    if bytes.is_empty() {
        return Err("it holds no bytes".to_owned());
    }
    let head = &bytes[..bytes.len().min(crate::assets::SNIFF_BYTES as usize)];
    check_head(&mime, head)?;
    Ok((kind, mime, bytes))
}

/// Puts `replacement` where `pointer` points in `data`; false when nothing is there.
pub fn replace(data: &mut Value, pointer: &str, replacement: &str) -> bool {
    match data.pointer_mut(pointer) {
        Some(slot) => {
            *slot = Value::String(replacement.to_owned());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A 1×1 transparent PNG.
    pub const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

    fn node(id: &str, data: Value) -> NodeInput {
        NodeInput {
            id: id.to_owned(),
            node_type: "image".to_owned(),
            x: 0.0,
            y: 0.0,
            width: None,
            height: None,
            z_index: 0,
            parent_id: None,
            data: crate::canvas::JsonText::from_value(&data),
            attrs: Default::default(),
        }
    }

    #[test]
    fn data_urls_are_found_and_decoded_where_they_are() {
        let url = format!("data:image/png;base64,{PNG_1X1}");
        let found = scan(&[node(
            "n1",
            json!({ "imageUrl": url, "history": [{ "a/b": url }], "prompt": "cat" }),
        )]);
        let mut pointers: Vec<&str> = found.embedded.iter().map(|e| e.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(pointers, ["/history/0/a~1b", "/imageUrl"]);
        assert_eq!(found.embedded[0].kind, AssetKind::Image);
        assert_eq!(found.embedded[0].mime_type, "image/png");
        assert_eq!(&found.embedded[0].bytes[1..4], b"PNG");
        assert!(found.missing.is_empty());
    }

    #[test]
    fn placeholders_are_missing_media_and_empty_text_elsewhere_is_not() {
        let found = scan(&[node(
            "n1",
            json!({
                "imageUrl": "cached:n1", "videoUrl": "blob:http://localhost:3000/ab-cd",
                "outputImage": "", "referenceImages": ["", "cached:n9"],
                "prompt": "", "label": "cached: a word", "count": 0,
            }),
        )]);
        let mut pointers: Vec<&str> = found.missing.iter().map(|m| m.pointer.as_str()).collect();
        pointers.sort_unstable();
        assert_eq!(
            pointers,
            [
                "/imageUrl",
                "/outputImage",
                "/referenceImages/0",
                "/referenceImages/1",
                "/videoUrl"
            ]
        );
        let image = found
            .missing
            .iter()
            .find(|m| m.pointer == "/imageUrl")
            .unwrap();
        assert_eq!(image.value, "cached:n1");
    }

    #[test]
    fn data_urls_that_cannot_be_assets_stay_inline_with_a_warning() {
        let svg = "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=";
        let lying = "data:image/jpeg;base64,".to_owned() + PNG_1X1;
        let text = "data:text/plain,hello";
        let found = scan(&[node("n1", json!({ "a": svg, "b": lying, "c": text }))]);
        assert!(found.embedded.is_empty());
        assert_eq!(found.warnings.len(), 3, "{:?}", found.warnings);
    }

    #[test]
    fn a_replaced_url_becomes_the_asset_reference() {
        let mut data = json!({ "images": ["x", "data:..."] });
        assert!(replace(&mut data, "/images/1", &asset_reference("a1")));
        assert_eq!(data, json!({ "images": ["x", "asset:a1"] }));
        assert!(!replace(&mut data, "/nope/0", "z"));
    }
}
