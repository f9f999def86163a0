//! Removing expired entries. They are invisible from the moment they expire; this only gives
//! their rows back. Every replica may run the sweep: the deletes are idempotent, and they skip
//! rows another transaction holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so a sweep never
//! waits on a writer and can never be part of a lock cycle.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::kv_entry;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::Result;
use crate::time::now;

/// Rows one sweep statement removes at most.
const BATCH: u64 = 1000;

/// Deletes up to `limit` entries expired at `now` (of `owner` only, when given) that no other
/// transaction holds; how many went.
pub(super) async fn delete_expired(
    db: &impl ConnectionTrait,
    owner: Option<&str>,
    now: DateTime<Utc>,
    limit: Option<u64>,
) -> Result<u64> {
    use kv_entry::Column;
    let mut expired = Query::select();
    expired
        .columns([Column::OwnerId, Column::Namespace, Column::Key])
        .from(kv_entry::Entity)
        .and_where(Expr::col(Column::ExpiresAt).lte(now))
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    if let Some(owner) = owner {
        expired.and_where(Expr::col(Column::OwnerId).eq(owner));
    }
    if let Some(limit) = limit {
        expired.limit(limit);
    }
    let done = kv_entry::Entity::delete_many()
        .filter(
            Expr::tuple([
                Expr::col(Column::OwnerId),
                Expr::col(Column::Namespace),
                Expr::col(Column::Key),
            ])
            .in_subquery(expired),
        )
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// Deletes every expired entry, in batches; how many went.
pub async fn sweep_expired(db: &DatabaseConnection) -> Result<u64> {
    let now = now();
    let mut removed = 0;
    loop {
        let batch = delete_expired(db, None, now, Some(BATCH)).await?;
        removed += batch;
        if batch < BATCH {
            return Ok(removed);
        }
    }
}

/// Sweeps expired entries every `every`, for the life of the server.
pub fn spawn_sweeper(db: DatabaseConnection, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match sweep_expired(&db).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "removed expired key-value entries"),
                Err(err) => {
                    tracing::warn!(error = ?err, "could not remove expired key-value entries")
                }
            }
        }
    });
}
