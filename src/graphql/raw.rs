//! Raw JSON in answers: text that is already JSON goes out as it is.
//!
//! async-graphql writes a value that holds serde_json's raw-value token as its text, but checks
//! the text by parsing it again first, since any client could send such an object in a `JSON`
//! argument. For a 10,000-node canvas that is a second parse of 10 MB. Over HTTP, the node and
//! edge lists are put aside in a per-request [`RawTexts`] instead, behind a marker that holds a
//! random per-request nonce, and [`GraphQLBody`] writes them in without the check. A client
//! cannot forge a marker: the nonce never leaves the server. Anything else that looks raw (and
//! every answer not written by [`GraphQLBody`], such as subscription events) takes
//! async-graphql's checked path.

use std::sync::{LazyLock, Mutex};

use async_graphql::{BatchResponse, Name, Response, Value};
use axum::body::Body;
use axum::http::{self, HeaderValue};
use axum::response::IntoResponse;
use indexmap::IndexMap;
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

const TOKEN: &str = async_graphql_value::RAW_VALUE_TOKEN;

/// The key serde_json gives a raw value; async-graphql writes such an object as the raw text.
static RAW: LazyLock<Name> = LazyLock::new(|| Name::new(TOKEN));

/// A value async-graphql writes out as this JSON text (after checking it).
pub fn raw(text: String) -> Value {
    Value::Object(IndexMap::from([(RAW.clone(), Value::String(text))]))
}

/// The text of a raw value.
fn raw_text(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => match map.get(TOKEN) {
            Some(Value::String(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// JSON text written as it is by serde_json's serializer, the way `RawValue` writes itself.
/// Only text known to be JSON goes in.
pub struct RawText<'a>(pub &'a str);

impl Serialize for RawText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(TOKEN, 1)?;
        raw.serialize_field(TOKEN, self.0)?;
        raw.end()
    }
}

/// JSON texts put aside while one HTTP request runs, to be written into its answer.
pub struct RawTexts {
    nonce: String,
    texts: Mutex<Vec<String>>,
}

impl Default for RawTexts {
    fn default() -> Self {
        RawTexts {
            nonce: format!("easel-raw-{}:", uuid::Uuid::new_v4().simple()),
            texts: Mutex::new(Vec::new()),
        }
    }
}

impl RawTexts {
    /// Keeps `text` (which must be JSON) and returns the value that stands for it.
    pub fn put(&self, text: String) -> Value {
        let mut texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        texts.push(text);
        raw(format!("{}{}", self.nonce, texts.len() - 1))
    }

    /// The text a marker stands for.
    fn text_of(&self, texts: &[String], marker: &str) -> Option<usize> {
        let index: usize = marker.strip_prefix(&self.nonce)?.parse().ok()?;
        (index < texts.len()).then_some(index)
    }
}

/// An answer value, with the texts its markers stand for.
struct Out<'a> {
    value: &'a Value,
    raw: &'a RawTexts,
    texts: &'a [String],
}

impl Serialize for Out<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(index) = raw_text(self.value).and_then(|m| self.raw.text_of(self.texts, m)) {
            return RawText(&self.texts[index]).serialize(serializer);
        }
        let nested = |value| Out {
            value,
            raw: self.raw,
            texts: self.texts,
        };
        match self.value {
            Value::Object(map) if raw_text(self.value).is_none() => {
                let mut object = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    object.serialize_entry(key.as_str(), &nested(value))?;
                }
                object.end()
            }
            Value::List(items) => {
                let mut list = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    list.serialize_element(&nested(item))?;
                }
                list.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// One response, as async-graphql's `Response` writes itself.
struct OutResponse<'a> {
    response: &'a Response,
    raw: &'a RawTexts,
    texts: &'a [String],
}

impl Serialize for OutResponse<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let response = self.response;
        let mut out = serializer.serialize_map(None)?;
        out.serialize_entry(
            "data",
            &Out {
                value: &response.data,
                raw: self.raw,
                texts: self.texts,
            },
        )?;
        if !response.extensions.is_empty() {
            out.serialize_entry("extensions", &response.extensions)?;
        }
        if !response.errors.is_empty() {
            out.serialize_entry("errors", &response.errors)?;
        }
        out.end()
    }
}

/// A GraphQL answer as HTTP: what async-graphql-axum's `GraphQLResponse` sends, with the texts
/// put aside in `raw` written in as they are.
pub struct GraphQLBody {
    pub response: BatchResponse,
    pub raw: std::sync::Arc<RawTexts>,
}

impl GraphQLBody {
    fn to_json(&self) -> serde_json::Result<String> {
        let texts = self.raw.texts.lock().unwrap_or_else(|e| e.into_inner());
        let one = |response| OutResponse {
            response,
            raw: &self.raw,
            texts: &texts,
        };
        match &self.response {
            BatchResponse::Single(response) => serde_json::to_string(&one(response)),
            BatchResponse::Batch(responses) => {
                let all: Vec<OutResponse<'_>> = responses.iter().map(one).collect();
                serde_json::to_string(&all)
            }
        }
    }
}

impl IntoResponse for GraphQLBody {
    fn into_response(self) -> axum::response::Response {
        let body = match self.to_json() {
            Ok(json) => Body::from(json),
            Err(err) => {
                tracing::error!(error = %err, "an answer could not be written as JSON");
                return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut answer = axum::response::Response::new(body);
        let headers = answer.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/graphql-response+json"),
        );
        if self.response.is_ok()
            && let Some(cache_control) = self.response.cache_control().value()
            && let Ok(value) = HeaderValue::from_str(&cache_control)
        {
            headers.insert(http::header::CACHE_CONTROL, value);
        }
        headers.extend(self.response.http_headers());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(response: Response, raw: std::sync::Arc<RawTexts>) -> String {
        GraphQLBody {
            response: BatchResponse::Single(response),
            raw,
        }
        .to_json()
        .unwrap()
    }

    #[test]
    fn texts_put_aside_are_written_as_they_are() {
        let raw = std::sync::Arc::new(RawTexts::default());
        let marker = raw.put(r#"[{"a": 1},{"b":"ü"}]"#.to_owned());
        let data = Value::Object(IndexMap::from([(Name::new("nodes"), marker)]));
        let json = written(Response::new(data), raw);
        assert_eq!(json, r#"{"data":{"nodes":[{"a": 1},{"b":"ü"}]}}"#);
    }

    #[test]
    fn a_forged_marker_is_not_trusted() {
        let raw = std::sync::Arc::new(RawTexts::default());
        raw.put("[1]".to_owned());
        // A client's JSON argument echoed back: the token, but no nonce, and broken JSON.
        let forged = super::raw("[1] , \"injected\": true".to_owned());
        let guess = super::raw("easel-raw-0:0".to_owned());
        let data = Value::Object(IndexMap::from([
            (Name::new("a"), forged),
            (Name::new("b"), guess),
        ]));
        let json = written(Response::new(data), raw);
        // Both go out as objects holding the string: checked, found wanting, kept harmless.
        assert_eq!(
            json,
            r#"{"data":{"a":{"$serde_json::private::RawValue":"[1] , \"injected\": true"},"b":{"$serde_json::private::RawValue":"easel-raw-0:0"}}}"#
        );
    }
}
