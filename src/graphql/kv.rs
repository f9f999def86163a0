//! The key-value store in GraphQL: entries, pages of them, namespaces, and their thin resolvers.

use async_graphql::{Context, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::kv_entry;
use serde_json::Value;

use super::asset::BigInt;
use super::connection::{PageInfo, paged_by};
use super::{Shared, page_size, request};
use crate::config::KvConfig;
use crate::error::Error;
use crate::kv::{self as domain, KeyCursor, SetEntry};

type Result<T> = async_graphql::Result<T>;

fn kv_config<'a>(ctx: &Context<'a>) -> &'a KvConfig {
    &ctx.data_unchecked::<Shared>().kv
}

/// A JSON value you keep under a key in one of your namespaces.
pub struct KvEntry(pub kv_entry::Model);

#[Object]
impl KvEntry {
    async fn namespace(&self) -> &str {
        &self.0.namespace
    }

    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The stored JSON, of any shape; null when the stored value is JSON `null`.
    async fn value(&self) -> Option<Json<&Value>> {
        (!self.0.value.is_null()).then_some(Json(&self.0.value))
    }

    /// Whatever the client keeps beside the value.
    async fn metadata(&self) -> Option<Json<&Value>> {
        self.0.metadata.as_ref().map(Json)
    }

    /// 1 when created, one more on every write; `kvSet(expectedVersion:)` compares with it.
    async fn version(&self) -> i64 {
        self.0.version
    }

    /// When the entry disappears; null: never.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An entry in a list, with the cursor to page on from it.
#[derive(SimpleObject)]
pub struct KvEntryEdge {
    pub cursor: String,
    pub node: KvEntry,
}

/// A page of entries, in key order.
#[derive(SimpleObject)]
pub struct KvEntryConnection {
    pub edges: Vec<KvEntryEdge>,
    pub nodes: Vec<KvEntry>,
    pub page_info: PageInfo,
}

/// One of your namespaces, with what it holds.
#[derive(SimpleObject)]
pub struct KvNamespace {
    pub name: String,
    /// Entries that have not expired.
    pub entry_count: i64,
    /// Bytes of JSON their values and metadata take.
    pub total_bytes: BigInt,
}

#[derive(Default)]
pub struct KvQuery;

#[Object]
impl KvQuery {
    /// The entry under `key` in your `namespace`, or null (also once it expired).
    async fn kv(
        &self,
        ctx: &Context<'_>,
        namespace: String,
        key: String,
    ) -> Result<Option<KvEntry>> {
        let req = request(ctx);
        Ok(
            domain::get(req.db, req.actor, kv_config(ctx), &namespace, &key)
                .await?
                .map(KvEntry),
        )
    }

    /// The entries of your `namespace` in key order (by Unicode code point), those whose key
    /// starts with `prefix` when given. The prefix is matched literally: `%` and `_` are
    /// ordinary characters.
    async fn kv_list(
        &self,
        ctx: &Context<'_>,
        namespace: String,
        prefix: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<KvEntryConnection> {
        let req = request(ctx);
        let first = page_size(first, req.limits)?;
        let after = KeyCursor::decode_after(after.as_deref())?;
        let page = domain::list(
            req.db,
            req.actor,
            kv_config(ctx),
            &namespace,
            prefix.as_deref(),
            first,
            after,
        )
        .await?;
        let page = paged_by(page, |row| KeyCursor(row.key.clone()).encode(), KvEntry);
        Ok(KvEntryConnection {
            page_info: page.page_info,
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, node)| KvEntryEdge { cursor, node })
                .collect(),
            nodes: page.nodes,
        })
    }

    /// Your namespaces that hold entries, by name.
    async fn kv_namespaces(&self, ctx: &Context<'_>) -> Result<Vec<KvNamespace>> {
        let req = request(ctx);
        Ok(domain::namespaces(req.db, req.actor)
            .await?
            .into_iter()
            .map(|ns| KvNamespace {
                name: ns.name,
                entry_count: ns.entries,
                total_bytes: BigInt(ns.bytes),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct KvMutation;

#[Object]
impl KvMutation {
    /// Stores `value` (any JSON; send null to store JSON `null`) under `key` in your
    /// `namespace`, creating or replacing the entry. `ttlSeconds`: the entry disappears that
    /// many seconds from now (left out: never). `expectedVersion`: write only if the entry is
    /// at that version (0: only if it does not exist), else `CONFLICT` and nothing written.
    #[allow(clippy::too_many_arguments)]
    async fn kv_set(
        &self,
        ctx: &Context<'_>,
        namespace: String,
        key: String,
        value: MaybeUndefined<Json<Value>>,
        metadata: Option<Json<Value>>,
        ttl_seconds: Option<i64>,
        expected_version: Option<i64>,
    ) -> Result<KvEntry> {
        let req = request(ctx);
        let value = match value {
            MaybeUndefined::Undefined => {
                return Err(Error::bad_input(
                    "value",
                    "is required (send null to store JSON null)",
                )
                .into());
            }
            MaybeUndefined::Null => Value::Null,
            MaybeUndefined::Value(json) => json.0,
        };
        let input = SetEntry {
            value,
            metadata: metadata.map(|m| m.0).filter(|m| !m.is_null()),
            ttl_seconds,
            expected_version,
        };
        Ok(KvEntry(
            domain::set(req.db, req.actor, kv_config(ctx), &namespace, &key, input).await?,
        ))
    }

    /// Deletes the entry under `key`; false when there was none.
    async fn kv_delete(&self, ctx: &Context<'_>, namespace: String, key: String) -> Result<bool> {
        let req = request(ctx);
        Ok(domain::delete(req.db, req.actor, kv_config(ctx), &namespace, &key).await?)
    }

    /// Adds `by` (negative to subtract; null counts as 1) to the whole number under `key`,
    /// atomically: a missing key starts at 0; any other value than a whole number is
    /// `BAD_USER_INPUT`.
    async fn kv_increment(
        &self,
        ctx: &Context<'_>,
        namespace: String,
        key: String,
        #[graphql(default_with = "Some(1)")] by: Option<i64>,
    ) -> Result<KvEntry> {
        let req = request(ctx);
        let by = by.unwrap_or(1);
        Ok(KvEntry(
            domain::increment(req.db, req.actor, kv_config(ctx), &namespace, &key, by).await?,
        ))
    }

    /// Deletes every entry of your `namespace`; how many there were.
    async fn kv_flush(&self, ctx: &Context<'_>, namespace: String) -> Result<u64> {
        let req = request(ctx);
        Ok(domain::flush(req.db, req.actor, kv_config(ctx), &namespace).await?)
    }
}
