//! Cursors of lists ordered by a timestamp, newest first, with the id breaking ties.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};

use crate::error::{Error, Result};

/// A position in a list: the timestamp it is ordered by and the id that breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    /// The opaque string clients pass back as `after`.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.at.timestamp_micros(), self.id))
    }

    /// Reads an `after` argument; `field` names it in the error.
    pub fn decode(field: &str, cursor: &str) -> Result<Self> {
        let invalid = || Error::bad_input(field, "is not a cursor this server gave out");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (micros, id) = text.split_once('|').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Cursor {
            at,
            id: id.to_owned(),
        })
    }

    /// An `after` argument, decoded when present.
    pub fn decode_after(after: Option<&str>) -> Result<Option<Self>> {
        after.map(|a| Self::decode("after", a)).transpose()
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone)]
pub struct Page<M> {
    pub items: Vec<M>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<M> Page<M> {
    /// A page with nothing on it.
    pub fn empty(has_previous_page: bool) -> Self {
        Page {
            items: Vec::new(),
            has_next_page: false,
            has_previous_page,
        }
    }
}

/// The page of `query` that follows `after`, ordered by the timestamp column `at` and then the
/// id column `id`, both descending: `first` rows, and one more read to tell whether a next page
/// exists.
pub async fn fetch_page<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    at: E::Column,
    id: E::Column,
    first: usize,
    after: Option<Cursor>,
) -> Result<Page<E::Model>> {
    let has_previous_page = after.is_some();
    let mut query = query;
    if let Some(after) = after {
        query = query.filter(
            Condition::any()
                .add(at.lt(after.at))
                .add(Condition::all().add(at.eq(after.at)).add(id.lt(after.id))),
        );
    }
    let mut items = query
        .order_by_desc(at)
        .order_by_desc(id)
        .limit(first as u64 + 1)
        .all(db)
        .await?;
    let has_next_page = items.len() > first;
    items.truncate(first);
    Ok(Page {
        items,
        has_next_page,
        has_previous_page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: "canvas|with|bars".into(),
        };
        assert_eq!(Cursor::decode("after", &cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("after", "not a cursor").is_err());
    }
}
