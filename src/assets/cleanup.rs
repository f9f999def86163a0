//! Removing objects from the store once their rows are gone, and collecting what was left
//! behind. Keys to remove are written to `blob_deletions` in the transaction that deletes their
//! rows; after the commit they are removed, and a key whose removal fails stays there to be
//! retried, so no object is forgotten.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use entity::asset::{self, AssetStatus};
use entity::blob_deletion;
use futures::TryStreamExt;
use object_store::path::Path;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
};

use super::AssetStore;
use crate::error::{ErrorChain, Result};
use crate::time::now;

/// The object keys of assets (their objects and any upload still waiting to be checked).
pub fn keys_of(assets: &[asset::Model]) -> Vec<String> {
    assets
        .iter()
        .filter_map(|a| a.object_key.as_ref())
        .flat_map(|key| [key.clone(), AssetStore::staging_key(key).to_string()])
        .collect()
}

/// Every object key of a canvas's assets.
pub async fn keys_of_canvas(db: &impl ConnectionTrait, canvas_id: &str) -> Result<Vec<String>> {
    let assets = asset::Entity::find()
        .filter(asset::Column::CanvasId.eq(canvas_id))
        .filter(asset::Column::ObjectKey.is_not_null())
        .all(db)
        .await?;
    Ok(keys_of(&assets))
}

/// Records keys to remove; call inside the transaction that deletes their rows.
pub async fn schedule(db: &impl ConnectionTrait, keys: &[String]) -> Result<()> {
    let now = now();
    for chunk in keys.chunks(1000) {
        let rows = chunk.iter().map(|key| blob_deletion::ActiveModel {
            object_key: Set(key.clone()),
            attempts: Set(0),
            last_error: Set(None),
            created_at: Set(now),
        });
        blob_deletion::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(blob_deletion::Column::ObjectKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Removes scheduled objects now; those that fail stay scheduled. Returns how many failed.
pub async fn remove(db: &DatabaseConnection, store: &AssetStore, keys: &[String]) -> usize {
    let mut failed = 0;
    for key in keys {
        match store.delete(&Path::from(key.as_str())).await {
            Ok(()) => {
                let done = blob_deletion::Entity::delete_by_id(key.clone())
                    .exec(db)
                    .await;
                if let Err(err) = done {
                    tracing::warn!(key, error = %err, "removed an object but could not unschedule it");
                }
            }
            Err(err) => {
                failed += 1;
                tracing::warn!(key, error = %ErrorChain(&err), "could not remove an object; will retry");
                let noted = blob_deletion::Entity::update_many()
                    .col_expr(
                        blob_deletion::Column::Attempts,
                        Expr::col(blob_deletion::Column::Attempts).add(1),
                    )
                    .col_expr(
                        blob_deletion::Column::LastError,
                        Expr::value(err.to_string()),
                    )
                    .filter(blob_deletion::Column::ObjectKey.eq(key.clone()))
                    .exec(db)
                    .await;
                if let Err(err) = noted {
                    tracing::warn!(key, error = %err, "could not record a failed removal");
                }
            }
        }
    }
    failed
}

/// Retries every scheduled removal; how many were removed and how many still fail.
pub async fn retry_scheduled(
    db: &DatabaseConnection,
    store: &AssetStore,
) -> Result<(usize, usize)> {
    let keys: Vec<String> = blob_deletion::Entity::find()
        .select_only()
        .column(blob_deletion::Column::ObjectKey)
        .into_tuple()
        .all(db)
        .await?;
    let failed = remove(db, store, &keys).await;
    Ok((keys.len() - failed, failed))
}

/// Retries scheduled removals every `every`, for the life of the server.
pub fn spawn_retry_loop(db: DatabaseConnection, store: AssetStore, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match retry_scheduled(&db, &store).await {
                Ok((0, 0)) => {}
                Ok((removed, failed)) => {
                    tracing::info!(removed, failed, "retried scheduled object removals");
                }
                Err(err) => tracing::warn!(error = ?err, "could not retry object removals"),
            }
        }
    });
}

/// What `easel assets gc` looks for.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Remove what is found; otherwise only report it.
    pub apply: bool,
    /// PENDING assets older than this are abandoned uploads.
    pub pending_older_than: Duration,
    /// Objects younger than this are left alone even when no row names them (an upload may be
    /// on its way).
    pub orphan_grace: Duration,
}

/// What `easel assets gc` found (and removed, when applied).
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Ids of PENDING assets older than the TTL.
    pub stale_pending: Vec<String>,
    /// Keys of objects no asset row names, with their sizes.
    pub orphans: Vec<(String, u64)>,
    /// Scheduled removals retried (removed, still failing).
    pub scheduled: (usize, usize),
    pub applied: bool,
}

/// Finds stale PENDING assets and orphan objects; removes them when `options.apply`.
pub async fn gc(
    db: &DatabaseConnection,
    store: &AssetStore,
    options: &GcOptions,
) -> Result<GcReport> {
    let mut report = GcReport {
        applied: options.apply,
        ..GcReport::default()
    };
    let cutoff = Utc::now()
        - chrono::Duration::from_std(options.pending_older_than).unwrap_or(chrono::Duration::MAX);
    let stale = asset::Entity::find()
        .filter(asset::Column::Status.eq(AssetStatus::Pending))
        .filter(asset::Column::CreatedAt.lt(cutoff))
        .all(db)
        .await?;
    report.stale_pending = stale.iter().map(|a| a.id.clone()).collect();

    // Every key a row still names, stale ones excluded.
    let stale_ids: HashSet<&str> = stale.iter().map(|a| a.id.as_str()).collect();
    let rows: Vec<(String, Option<String>)> = asset::Entity::find()
        .select_only()
        .column(asset::Column::Id)
        .column(asset::Column::ObjectKey)
        .into_tuple()
        .all(db)
        .await?;
    let referenced: HashSet<String> = rows
        .into_iter()
        .filter(|(id, _)| !stale_ids.contains(id.as_str()))
        .filter_map(|(_, key)| key)
        .flat_map(|key| {
            let staging = AssetStore::staging_key(&key).to_string();
            [key, staging]
        })
        .collect();
    let scheduled: HashSet<String> = blob_deletion::Entity::find()
        .select_only()
        .column(blob_deletion::Column::ObjectKey)
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();

    // The objects of stale assets are reported with them, not as orphans.
    let stale_keys: HashSet<String> = keys_of(&stale).into_iter().collect();
    let grace = Utc::now() - chrono::Duration::from_std(options.orphan_grace).unwrap_or_default();
    let prefix = store.prefix().clone();
    let listed: Vec<object_store::ObjectMeta> = store
        .inner()
        .list(if prefix.as_ref().is_empty() {
            None
        } else {
            Some(&prefix)
        })
        .try_collect()
        .await
        .map_err(crate::Error::internal)?;
    for object in listed {
        let key = object.location.to_string();
        let named =
            referenced.contains(&key) || scheduled.contains(&key) || stale_keys.contains(&key);
        if !named && object.last_modified < grace {
            report.orphans.push((key, object.size));
        }
    }

    if options.apply {
        let stale_keys = keys_of(&stale);
        schedule(db, &stale_keys).await?;
        if !stale.is_empty() {
            asset::Entity::delete_many()
                .filter(asset::Column::Id.is_in(report.stale_pending.clone()))
                .exec(db)
                .await?;
        }
        let orphan_keys: Vec<String> = report.orphans.iter().map(|(k, _)| k.clone()).collect();
        schedule(db, &orphan_keys).await?;
        report.scheduled = retry_scheduled(db, store).await?;
    }
    Ok(report)
}
