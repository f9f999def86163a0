//! Namespaces, keys, prefixes and list cursors of the key-value store, checked once here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::KvConfig;
use crate::error::{Error, Result};

/// A namespace: 1 to `max_namespace_chars` characters of `A-Z a-z 0-9 _ - . :`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// Checks a namespace; a `BAD_USER_INPUT` about `field` when it is not one.
    pub fn parse(field: &str, text: &str, config: &KvConfig) -> Result<Self> {
        let max = config.max_namespace_chars;
        if text.is_empty() || text.chars().count() > max {
            return Err(Error::bad_input(
                field,
                format!("must be 1 to {max} characters"),
            ));
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        {
            return Err(Error::bad_input(
                field,
                "may hold only A-Z, a-z, 0-9, '_', '-', '.' and ':' (for example \"plugin.counter\")",
            ));
        }
        Ok(Namespace(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key: 1 to `max_key_chars` characters, any but control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryKey(String);

impl EntryKey {
    /// Checks a key; a `BAD_USER_INPUT` about `field` when it is not one.
    pub fn parse(field: &str, text: &str, config: &KvConfig) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::bad_input(field, "must not be empty"));
        }
        check_key_text(field, text, config)?;
        Ok(EntryKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a prefix of keys: what a key may hold, possibly empty.
pub fn check_prefix(field: &str, text: &str, config: &KvConfig) -> Result<()> {
    check_key_text(field, text, config)
}

fn check_key_text(field: &str, text: &str, config: &KvConfig) -> Result<()> {
    let max = config.max_key_chars;
    if text.chars().count() > max {
        return Err(Error::bad_input(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// The first string after every string that starts with `prefix`, in code point order (which is
/// UTF-8 byte order, the order keys are compared in): keys with the prefix are exactly those
/// `>= prefix` and `< prefix_end(prefix)`. `None` when no such string exists (no upper bound).
/// A range, unlike `LIKE`, has no wildcards to escape.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A position in a list of keys: the last key seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor(pub String);

impl KeyCursor {
    const TAG: &'static str = "kv|";

    /// The opaque string clients pass back as `after`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}{}", Self::TAG, self.0))
    }

    /// Reads an `after` argument, when present.
    pub fn decode_after(after: Option<&str>) -> Result<Option<Self>> {
        let Some(after) = after else {
            return Ok(None);
        };
        let invalid = || Error::bad_input("after", "is not a cursor this server gave out");
        let bytes = URL_SAFE_NO_PAD.decode(after).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let key = text.strip_prefix(Self::TAG).ok_or_else(invalid)?;
        Ok(Some(KeyCursor(key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_range_holds_exactly_the_keys_with_the_prefix() {
        assert_eq!(prefix_end("a_%"), Some("a_&".to_owned()));
        assert_eq!(prefix_end("ab\u{10FFFF}"), Some("ac".to_owned()));
        assert_eq!(prefix_end("\u{D7FF}"), Some("\u{E000}".to_owned()));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        let end = prefix_end("user_").unwrap();
        for key in ["user_", "user_1", "user_\u{10FFFF}zz"] {
            assert!(key >= "user_" && key < end.as_str(), "{key}");
        }
        for key in ["user", "userX", "user`", "users"] {
            assert!(!(key >= "user_" && key < end.as_str()), "{key}");
        }
    }

    #[test]
    fn names_are_checked_against_the_configured_limits() {
        let config = KvConfig::default();
        assert!(Namespace::parse("namespace", "plugin.state:v1", &config).is_ok());
        assert!(Namespace::parse("namespace", "with space", &config).is_err());
        assert!(Namespace::parse("namespace", "", &config).is_err());
        assert!(Namespace::parse("namespace", &"n".repeat(65), &config).is_err());
        assert!(EntryKey::parse("key", "50% of_all/ключ", &config).is_ok());
        assert!(EntryKey::parse("key", "a\nb", &config).is_err());
        assert!(EntryKey::parse("key", &"é".repeat(513), &config).is_err());
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let cursor = KeyCursor("a|b%_".into());
        assert_eq!(
            KeyCursor::decode_after(Some(&cursor.encode())).unwrap(),
            Some(cursor)
        );
        assert!(KeyCursor::decode_after(Some("garbage!")).is_err());
        assert!(KeyCursor::decode_after(Some(&URL_SAFE_NO_PAD.encode("123|id"))).is_err());
    }
}
