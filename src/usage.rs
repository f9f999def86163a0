//! Usage figures of a user: what they store and run. Five grouped queries whatever the number of
//! canvases, run side by side.

use entity::asset::{self, AssetKind, AssetStatus};
use entity::generation::{self, GenerationStatus};
use entity::{canvas, canvas_edge, canvas_node};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, Iterable, PaginatorTrait,
    QueryFilter, QuerySelect,
};

use crate::auth::Actor;
use crate::error::Result;

/// What one user stores and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub canvases: i64,
    /// Nodes of all their canvases.
    pub nodes: i64,
    /// Edges of all their canvases.
    pub edges: i64,
    /// Every kind, in order, with zero where they have none.
    pub assets: Vec<AssetUsage>,
    /// Every status, in order, with zero where they have none.
    pub generations: Vec<(GenerationStatus, i64)>,
}

/// The assets of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetUsage {
    pub kind: AssetKind,
    /// Assets in any status: READY, PENDING uploads and FAILED ones.
    pub count: i64,
    /// Bytes in the object store: sizes of READY assets that have an object (not external).
    pub stored_bytes: i64,
}

impl Usage {
    pub fn assets_total(&self) -> i64 {
        self.assets.iter().map(|a| a.count).sum()
    }

    pub fn stored_bytes(&self) -> i64 {
        self.assets.iter().map(|a| a.stored_bytes).sum()
    }

    pub fn assets_of(&self, kind: AssetKind) -> i64 {
        self.assets
            .iter()
            .find(|a| a.kind == kind)
            .map_or(0, |a| a.count)
    }

    pub fn generations_total(&self) -> i64 {
        self.generations.iter().map(|(_, n)| n).sum()
    }

    pub fn generations_with(&self, status: GenerationStatus) -> i64 {
        self.generations
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}

#[derive(FromQueryResult)]
struct AssetRow {
    kind: AssetKind,
    count: i64,
    stored_bytes: Option<i64>,
}

#[derive(FromQueryResult)]
struct GenerationRow {
    status: GenerationStatus,
    count: i64,
}

/// The ids of the user's canvases, as a subquery.
fn canvases_of(user_id: &str) -> SelectStatement {
    Query::select()
        .column(canvas::Column::Id)
        .from(canvas::Entity)
        .and_where(Expr::col(canvas::Column::OwnerId).eq(user_id))
        .to_owned()
}

/// The actor's usage figures.
pub async fn usage(db: &impl ConnectionTrait, actor: &Actor) -> Result<Usage> {
    let user_id = actor.user_id()?;
    let canvases = canvas::Entity::find()
        .filter(canvas::Column::OwnerId.eq(user_id))
        .count(db);
    let nodes = canvas_node::Entity::find()
        .filter(canvas_node::Column::CanvasId.in_subquery(canvases_of(user_id)))
        .count(db);
    let edges = canvas_edge::Entity::find()
        .filter(canvas_edge::Column::CanvasId.in_subquery(canvases_of(user_id)))
        .count(db);
    // Bytes count only for READY assets with an object; the sum is cast because PostgreSQL
    // sums a bigint into a numeric.
    let stored = Expr::case(
        asset::Column::Status
            .eq(AssetStatus::Ready)
            .and(asset::Column::ObjectKey.is_not_null()),
        Expr::col(asset::Column::SizeBytes),
    )
    .finally(0);
    let assets = asset::Entity::find()
        .select_only()
        .column(asset::Column::Kind)
        .column_as(asset::Column::Id.count(), "count")
        .column_as(
            Func::sum(stored).cast_as(Alias::new("BIGINT")),
            "stored_bytes",
        )
        .filter(asset::Column::OwnerId.eq(user_id))
        .group_by(asset::Column::Kind)
        .into_model::<AssetRow>()
        .all(db);
    let generations = generation::Entity::find()
        .select_only()
        .column(generation::Column::Status)
        .column_as(generation::Column::Id.count(), "count")
        .filter(generation::Column::OwnerId.eq(user_id))
        .group_by(generation::Column::Status)
        .into_model::<GenerationRow>()
        .all(db);
    let (canvases, nodes, edges, assets, generations) =
        tokio::try_join!(canvases, nodes, edges, assets, generations)?;

    Ok(Usage {
        canvases: canvases as i64,
        nodes: nodes as i64,
        edges: edges as i64,
        assets: AssetKind::iter()
            .map(|kind| {
                let row = assets.iter().find(|r| r.kind == kind);
                AssetUsage {
                    kind,
                    count: row.map_or(0, |r| r.count),
                    stored_bytes: row.and_then(|r| r.stored_bytes).unwrap_or(0),
                }
            })
            .collect(),
        generations: GenerationStatus::iter()
            .map(|status| {
                let count = generations
                    .iter()
                    .find(|r| r.status == status)
                    .map_or(0, |r| r.count);
                (status, count)
            })
            .collect(),
    })
}
