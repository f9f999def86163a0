//! File operations on existing assets: describing them anew, copying them (a new row and a new
//! object with the same bytes) and moving them to another canvas of their owner.

use entity::asset::{self, AssetStatus};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};
use serde_json::Value;

use super::{Assets, check_description, check_own_canvas, find_own, find_readable};
use crate::auth::Actor;
use crate::canvas::Patch;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::time::now;

/// Changes to an asset's description; what is `Keep` stays.
#[derive(Debug, Clone, Default)]
pub struct AssetChanges {
    pub filename: Patch<String>,
    pub metadata: Patch<Value>,
    pub node_id: Patch<String>,
}

/// The value a patch sets, to check it.
fn set_value<T>(patch: &Patch<T>) -> Option<&T> {
    match patch {
        Patch::Set(value) => Some(value),
        Patch::Keep | Patch::Clear => None,
    }
}

/// Renames an asset, replaces its metadata or ties it to another node of its canvas. Its bytes,
/// key and URLs stay as they are.
pub async fn update_asset(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    changes: AssetChanges,
) -> Result<asset::Model> {
    check_description(
        set_value(&changes.node_id).map(String::as_str),
        set_value(&changes.filename).map(String::as_str),
        set_value(&changes.metadata),
    )?;
    let txn = begin_write(db).await?;
    let current = find_own(&txn, actor, id).await?;
    let updated = asset::Model {
        filename: changes.filename.apply(current.filename.clone()),
        metadata: changes.metadata.apply(current.metadata.clone()),
        node_id: changes.node_id.apply(current.node_id.clone()),
        ..current.clone()
    };
    if updated != current {
        let mut row = current.into_active_model();
        row.filename = Set(updated.filename.clone());
        row.metadata = Set(updated.metadata.clone());
        row.node_id = Set(updated.node_id.clone());
        row.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// Copies a READY asset the actor can read (their own, or one of a public canvas or template)
/// into a canvas of theirs: a new asset with its own object holding the same bytes, so that
/// deleting either leaves the other whole. The copy keeps the filename, metadata and node id.
pub async fn copy_asset(
    db: &DatabaseConnection,
    assets: &Assets,
    actor: &Actor,
    id: &str,
    canvas_id: &str,
) -> Result<asset::Model> {
    let owner = actor.user_id()?.to_owned();
    let source = find_readable(db, actor, id)
        .await?
        .ok_or_else(|| Error::not_found("asset", id))?;
    if source.status != AssetStatus::Ready {
        return Err(Error::bad_input(
            "id",
            "only a READY asset can be copied; complete its upload first",
        ));
    }
    check_own_canvas(db, &owner, canvas_id).await?;
    let copy_id = uuid::Uuid::now_v7().to_string();
    let key = match &source.object_key {
        Some(from) => {
            let to = assets.store.key(&owner, Some(canvas_id), &copy_id);
            assets
                .store
                .inner()
                .copy(&Path::from(from.as_str()), &to)
                .await
                .map_err(Error::internal)?;
            Some(to)
        }
        None => None,
    };
    let copy = asset::Model {
        id: copy_id,
        owner_id: owner,
        canvas_id: Some(canvas_id.to_owned()),
        object_key: key.as_ref().map(ToString::to_string),
        created_at: now(),
        ..source
    };
    let inserted = async {
        let txn = begin_write(db).await?;
        check_own_canvas(&txn, &copy.owner_id, canvas_id).await?;
        asset::Entity::insert(copy.clone().into_active_model())
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(err) = inserted {
        // No row names the new object: take it back (`easel assets gc` finds it otherwise).
        if let Some(key) = &key
            && let Err(removal) = assets.store.delete(key).await
        {
            tracing::warn!(%key, error = %removal, "could not remove the object of a failed copy");
        }
        return Err(err);
    }
    Ok(copy)
}

/// Moves an asset of the actor to another canvas of theirs. The object stays under its key, so
/// its bytes and every download URL already handed out keep working.
pub async fn move_asset(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    canvas_id: &str,
) -> Result<asset::Model> {
    let txn = begin_write(db).await?;
    let current = find_own(&txn, actor, id).await?;
    check_own_canvas(&txn, &current.owner_id, canvas_id).await?;
    if current.canvas_id.as_deref() == Some(canvas_id) {
        return Ok(current);
    }
    let moved = asset::Model {
        canvas_id: Some(canvas_id.to_owned()),
        ..current.clone()
    };
    let mut row = current.into_active_model();
    row.canvas_id = Set(moved.canvas_id.clone());
    row.update(&txn).await?;
    txn.commit().await?;
    Ok(moved)
}
