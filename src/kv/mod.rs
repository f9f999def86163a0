//! The key-value store: JSON values a user keeps under keys in namespaces, for small state that
//! is not a canvas (plugin state, counters, flags, drafts). Nothing here knows GraphQL.
//!
//! Every write is one transaction that first reads its entry locked (`FOR UPDATE` on
//! PostgreSQL; SQLite's `BEGIN IMMEDIATE` serializes writers), so compare-and-set and increments
//! stay exact however many replicas share the database. Creating an entry also locks the owner's
//! user row, so the per-user entry limit holds under concurrent creates; locks are always taken
//! user row first, then entries, so writers never wait on each other in a circle.
//!
//! An entry past its `expires_at` is absent to every read and write from that instant; the
//! background [`sweep`] removes its row later.

mod names;
mod sweep;

pub use names::{EntryKey, KeyCursor, Namespace, check_prefix, prefix_end};
pub use sweep::{spawn_sweeper, sweep_expired};

use chrono::{DateTime, Utc};
use entity::{kv_entry, user};
use sea_orm::sea_query::{Expr, Func, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;

use crate::auth::{Actor, ensure_user};
use crate::config::KvConfig;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::pagination::Page;
use crate::time::now;

/// Longest time to live, in seconds (about ten years).
pub const MAX_TTL_SECONDS: i64 = 10 * 366 * 24 * 60 * 60;

/// A write of `kvSet`.
#[derive(Debug, Clone)]
pub struct SetEntry {
    pub value: Value,
    pub metadata: Option<Value>,
    /// Seconds until the entry expires; `None`: never.
    pub ttl_seconds: Option<i64>,
    /// Write only when the entry is at this version (0: only when it does not exist).
    pub expected_version: Option<i64>,
}

/// One namespace of a user: how many live entries it holds and the bytes of their JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceUsage {
    pub name: String,
    pub entries: i64,
    pub bytes: i64,
}

/// Entries that have not expired at `now`.
fn live(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(kv_entry::Column::ExpiresAt.is_null())
        .add(kv_entry::Column::ExpiresAt.gt(now))
}

fn is_live(row: &kv_entry::Model, now: DateTime<Utc>) -> bool {
    row.expires_at.is_none_or(|at| at > now)
}

fn json_bytes(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

fn check_json_size(field: &str, value: &Value, config: &KvConfig) -> Result<usize> {
    let size = json_bytes(value);
    if size > config.max_value_bytes {
        return Err(Error::bad_input(
            field,
            format!(
                "is {size} bytes of JSON, more than the limit of {}",
                config.max_value_bytes
            ),
        ));
    }
    Ok(size)
}

fn entry_of(owner: &str, namespace: &Namespace) -> Condition {
    Condition::all()
        .add(kv_entry::Column::OwnerId.eq(owner))
        .add(kv_entry::Column::Namespace.eq(namespace.as_str()))
}

/// The live entry under `key`, or `None`.
pub async fn get(
    db: &impl ConnectionTrait,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
    key: &str,
) -> Result<Option<kv_entry::Model>> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let key = EntryKey::parse("key", key, config)?;
    let row = kv_entry::Entity::find()
        .filter(entry_of(owner, &namespace))
        .filter(kv_entry::Column::Key.eq(key.as_str()))
        .filter(live(now()))
        .one(db)
        .await?;
    Ok(row)
}

/// A page of a namespace's live entries in key order (by code point), those whose key starts
/// with `prefix` when given: `first` entries after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
    prefix: Option<&str>,
    first: usize,
    after: Option<KeyCursor>,
) -> Result<Page<kv_entry::Model>> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let mut query = kv_entry::Entity::find()
        .filter(entry_of(owner, &namespace))
        .filter(live(now()));
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        check_prefix("prefix", prefix, config)?;
        query = query.filter(kv_entry::Column::Key.gte(prefix));
        if let Some(end) = prefix_end(prefix) {
            query = query.filter(kv_entry::Column::Key.lt(end));
        }
    }
    let has_previous_page = after.is_some();
    if let Some(after) = after {
        query = query.filter(kv_entry::Column::Key.gt(after.0));
    }
    let mut items = query
        .order_by_asc(kv_entry::Column::Key)
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

/// The actor's namespaces that hold live entries, by name, with their counts and bytes.
pub async fn namespaces(db: &impl ConnectionTrait, actor: &Actor) -> Result<Vec<NamespaceUsage>> {
    let owner = actor.user_id()?;
    let rows: Vec<(String, i64, i64)> = kv_entry::Entity::find()
        .select_only()
        .column(kv_entry::Column::Namespace)
        .column_as(
            Expr::from(Func::cast_as(
                Func::count(Expr::col(kv_entry::Column::Key)),
                "bigint",
            )),
            "entries",
        )
        .column_as(
            Expr::from(Func::cast_as(
                Func::sum(Expr::col(kv_entry::Column::SizeBytes)),
                "bigint",
            )),
            "bytes",
        )
        .filter(kv_entry::Column::OwnerId.eq(owner))
        .filter(live(now()))
        .group_by(kv_entry::Column::Namespace)
        .order_by_asc(kv_entry::Column::Namespace)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(name, entries, bytes)| NamespaceUsage {
            name,
            entries,
            bytes,
        })
        .collect())
}

/// Stores a value under a key, creating the entry or replacing it (its version goes up by one;
/// a new entry starts at 1). Without `ttl_seconds` the entry never expires.
pub async fn set(
    db: &DatabaseConnection,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
    key: &str,
    input: SetEntry,
) -> Result<kv_entry::Model> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let key = EntryKey::parse("key", key, config)?;
    check_json_size("value", &input.value, config)?;
    if let Some(metadata) = &input.metadata {
        check_json_size("metadata", metadata, config)?;
    }
    let now = now();
    let expires_at = match input.ttl_seconds {
        None => None,
        Some(ttl) if !(1..=MAX_TTL_SECONDS).contains(&ttl) => {
            return Err(Error::bad_input(
                "ttlSeconds",
                format!("must be 1 to {MAX_TTL_SECONDS} seconds (leave it out for no expiry)"),
            ));
        }
        Some(ttl) => Some(now + chrono::Duration::seconds(ttl)),
    };
    let target = Target {
        owner,
        namespace: &namespace,
        key: &key,
    };
    write(db, config, target, now, |live| {
        if let Some(expected) = input.expected_version {
            let current = live.map_or(0, |row| row.version);
            if expected != current {
                return Err(Error::EntryConflict { expected, current });
            }
        }
        Ok(Next {
            value: input.value,
            metadata: input.metadata,
            expires_at,
        })
    })
    .await
}

/// Adds `by` to the whole number stored under a key, atomically; a missing key starts at 0 (and
/// never expires), an existing one keeps its metadata and expiry.
pub async fn increment(
    db: &DatabaseConnection,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
    key: &str,
    by: i64,
) -> Result<kv_entry::Model> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let key = EntryKey::parse("key", key, config)?;
    let target = Target {
        owner,
        namespace: &namespace,
        key: &key,
    };
    write(db, config, target, now(), |live| {
        let current = match live {
            None => 0,
            Some(row) => row.value.as_i64().ok_or_else(|| {
                Error::bad_input(
                    "key",
                    format!(
                        "holds {}, not a whole number from -2^63 to 2^63-1; only those can be incremented",
                        describe(&row.value)
                    ),
                )
            })?,
        };
        let next = current.checked_add(by).ok_or_else(|| {
            Error::bad_input(
                "by",
                format!("{current} + {by} does not fit in a 64-bit integer"),
            )
        })?;
        Ok(Next {
            value: Value::from(next),
            metadata: live.and_then(|row| row.metadata.clone()),
            expires_at: live.and_then(|row| row.expires_at),
        })
    })
    .await
}

/// What kind of JSON a value is, for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(_) => "a number beyond 64 bits",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deletes the entry under a key; whether a live one was there.
pub async fn delete(
    db: &DatabaseConnection,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
    key: &str,
) -> Result<bool> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let key = EntryKey::parse("key", key, config)?;
    let now = now();
    let this = || {
        kv_entry::Entity::delete_many()
            .filter(entry_of(owner, &namespace))
            .filter(kv_entry::Column::Key.eq(key.as_str()))
    };
    let removed = this().filter(live(now)).exec(db).await?.rows_affected;
    // An expired row goes too, without counting; only one that was expired already.
    this()
        .filter(kv_entry::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(removed > 0)
}

/// Deletes every entry of a namespace; how many live ones there were.
pub async fn flush(
    db: &DatabaseConnection,
    actor: &Actor,
    config: &KvConfig,
    namespace: &str,
) -> Result<u64> {
    let owner = actor.user_id()?;
    let namespace = Namespace::parse("namespace", namespace, config)?;
    let now = now();
    let all = || kv_entry::Entity::delete_many().filter(entry_of(owner, &namespace));
    let removed = all().filter(live(now)).exec(db).await?.rows_affected;
    all()
        .filter(kv_entry::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(removed)
}

/// The entry a write is for.
struct Target<'a> {
    owner: &'a str,
    namespace: &'a Namespace,
    key: &'a EntryKey,
}

/// What a write makes of the live entry.
struct Next {
    value: Value,
    metadata: Option<Value>,
    expires_at: Option<DateTime<Utc>>,
}

/// The one write path: in a write transaction, read the entry locked, let `make` decide the new
/// value from the live entry (`None` when absent or expired), and store it. A refusal from
/// `make` leaves everything as it was.
async fn write(
    db: &DatabaseConnection,
    config: &KvConfig,
    target: Target<'_>,
    now: DateTime<Utc>,
    make: impl FnOnce(Option<&kv_entry::Model>) -> Result<Next>,
) -> Result<kv_entry::Model> {
    let txn = begin_write(db).await?;
    let mut found = lock_entry(&txn, &target).await?;
    if found.is_none() {
        // Creating: lock the owner first, then look again, since another writer may have
        // created the entry while this one waited.
        lock_owner(&txn, target.owner).await?;
        found = lock_entry(&txn, &target).await?;
    }
    let live_row = found.as_ref().filter(|row| is_live(row, now));
    let version = live_row.map_or(1, |row| row.version + 1);
    let next = make(live_row)?;
    let size = json_bytes(&next.value) + next.metadata.as_ref().map_or(0, json_bytes);
    let row = kv_entry::Model {
        owner_id: target.owner.to_owned(),
        namespace: target.namespace.as_str().to_owned(),
        key: target.key.as_str().to_owned(),
        value: next.value,
        metadata: next.metadata,
        size_bytes: size as i64,
        version,
        expires_at: next.expires_at,
        updated_at: now,
    };
    if found.is_some() {
        // An expired row is taken over in place: the entry count does not change.
        row.clone()
            .into_active_model()
            .reset_all()
            .update(&txn)
            .await?;
    } else {
        make_room(&txn, config, target.owner, now).await?;
        kv_entry::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(row)
}

/// Reads an entry (expired or not) and locks it until the transaction ends.
async fn lock_entry(
    db: &impl ConnectionTrait,
    target: &Target<'_>,
) -> Result<Option<kv_entry::Model>> {
    let row = kv_entry::Entity::find()
        .filter(entry_of(target.owner, target.namespace))
        .filter(kv_entry::Column::Key.eq(target.key.as_str()))
        .lock(LockType::Update)
        .one(db)
        .await?;
    Ok(row)
}

/// Locks the owner's user row (created on first sight), so that one user's creates take turns.
/// `NO KEY UPDATE` leaves foreign-key checks of other writes (new canvases, assets) unblocked.
async fn lock_owner(db: &impl ConnectionTrait, owner: &str) -> Result<()> {
    ensure_user(db, owner).await?;
    user::Entity::find_by_id(owner.to_owned())
        .lock(LockType::NoKeyUpdate)
        .one(db)
        .await?;
    Ok(())
}

/// Makes sure the owner may keep one more entry: their expired rows go first, then the rest
/// are counted against the limit. An expired row another writer holds is skipped, not waited
/// for, and counted: that writer is bringing it back.
async fn make_room(
    db: &impl ConnectionTrait,
    config: &KvConfig,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sweep::delete_expired(db, Some(owner), now, None).await?;
    let kept = kv_entry::Entity::find()
        .filter(kv_entry::Column::OwnerId.eq(owner))
        .count(db)
        .await?;
    if kept >= config.max_entries_per_user as u64 {
        return Err(Error::bad_input(
            "key",
            format!(
                "you keep {kept} entries, the most allowed per user; delete or flush some first"
            ),
        ));
    }
    Ok(())
}
