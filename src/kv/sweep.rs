//! Removing expired entries in the background. They are invisible from the moment they expire;
//! this only gives their rows back. Every replica may run it: the deletes are idempotent.

use std::time::Duration;

use entity::kv_entry;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::error::Result;
use crate::time::now;

/// Deletes every expired entry; how many went.
pub async fn sweep_expired(db: &DatabaseConnection) -> Result<u64> {
    let done = kv_entry::Entity::delete_many()
        .filter(kv_entry::Column::ExpiresAt.lte(now()))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
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
