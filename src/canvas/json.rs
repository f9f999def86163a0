//! Node and edge `data` kept as JSON text: checked once on the way in, stored and served as it
//! is, never rebuilt as a tree on the paths that move whole canvases.

use std::fmt;

use serde::de::IgnoredAny;
use serde_json::Value;

/// A JSON value held as its text.
///
/// Two texts can spell one value differently (PostgreSQL stores `jsonb` with its own spacing and
/// key order), so equality is [`JsonText::same_value`], not the text.
#[derive(Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// The text of `value`.
    pub fn from_value(value: &Value) -> Self {
        JsonText(value.to_string())
    }

    /// Checks that `text` is one JSON value.
    pub fn parse(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(JsonText(text))
    }

    /// Text known to be one JSON value: what the database gave back (it only ever holds what
    /// [`JsonText::parse`] accepted), or what a JSON serializer wrote.
    pub(crate) fn trusted(text: String) -> Self {
        JsonText(text)
    }

    /// The empty object, `{}`.
    pub fn empty_object() -> Self {
        JsonText("{}".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// Whether both texts hold the same value: equal text, or equal trees.
    pub fn same_value(&self, other: &JsonText) -> bool {
        if self.0 == other.0 {
            return true;
        }
        // Text that reads back as no tree (serde_json reserves one object key for its raw
        // values) is never taken for equal to something else.
        match (
            serde_json::from_str::<Value>(&self.0),
            serde_json::from_str::<Value>(&other.0),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelling_does_not_matter_for_the_value() {
        let ours = JsonText::parse(r#"{"b":[1,2],"a":{"x":null}}"#.to_owned()).unwrap();
        let postgres = JsonText::trusted(r#"{"a": {"x": null}, "b": [1, 2]}"#.to_owned());
        assert!(ours.same_value(&postgres));
        let other = JsonText::parse(r#"{"a":{"x":null},"b":[2,1]}"#.to_owned()).unwrap();
        assert!(!ours.same_value(&other));
    }

    #[test]
    fn texts_without_a_tree_are_not_equal() {
        let key = "$serde_json::private::RawValue";
        let a = JsonText::parse(format!(r#"{{"{key}":"x"}}"#)).unwrap();
        let b = JsonText::parse(format!(r#"{{"{key}":"y"}}"#)).unwrap();
        assert!(!a.same_value(&b));
        assert!(a.same_value(&a.clone()));
    }

    #[test]
    fn only_one_value_is_accepted() {
        assert!(JsonText::parse("{} {}".to_owned()).is_err());
        assert!(JsonText::parse("{".to_owned()).is_err());
        assert!(JsonText::parse(" [1, \"é\"] ".to_owned()).is_ok());
    }
}
