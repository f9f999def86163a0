//! Validated ids: a canvas id and the client's node and edge ids.

use crate::error::{Error, Result};

/// Longest id accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// Checks an id: not empty, at most [`MAX_ID_CHARS`], no control characters.
fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::bad_input(field, "must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(Error::bad_input(
            field,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(Error::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// The id of a canvas: client-chosen or a server-made UUID v7.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CanvasId(String);

impl CanvasId {
    /// Checks a client's canvas id; `field` names it in the error.
    pub fn parse(field: &str, id: &str) -> Result<Self> {
        check_id(field, id)?;
        Ok(CanvasId(id.to_owned()))
    }

    /// A new id, ordered by creation time.
    pub fn generate() -> Self {
        CanvasId(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks the client's id of a node or an edge (`node-1`, unique within its canvas only);
/// `field` names it in the error.
pub fn check_item_id(field: &str, id: &str) -> Result<()> {
    check_id(field, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_over_128_characters_are_refused_with_the_field_named() {
        let long = "x".repeat(129);
        let err = CanvasId::parse("input.id", &long).unwrap_err();
        assert!(matches!(err, Error::BadInput { ref field, .. } if field == "input.id"));
        assert!(CanvasId::parse("input.id", &"é".repeat(128)).is_ok());
    }

    #[test]
    fn empty_and_control_character_ids_are_refused() {
        assert!(check_item_id("nodes[0].id", "").is_err());
        assert!(check_item_id("nodes[0].id", "a\nb").is_err());
        assert!(check_item_id("nodes[0].id", "node-1").is_ok());
    }
}
