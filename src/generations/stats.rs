//! Figures over a user's runs: counts by status and by model, average and p95 duration, each a
//! grouped query.

use entity::generation::{self, GenerationStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::auth::Actor;
use crate::error::Result;

/// Counts and durations of the actor's runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationStats {
    pub total: i64,
    pub by_status: Vec<(GenerationStatus, i64)>,
    pub by_model: Vec<(String, i64)>,
    /// Over COMPLETED runs that were started.
    pub average_duration_ms: Option<f64>,
    /// Nearest-rank 95th percentile over the same runs.
    pub p95_duration_ms: Option<i64>,
}

#[derive(FromQueryResult)]
struct StatusCount {
    status: GenerationStatus,
    count: i64,
}

#[derive(FromQueryResult)]
struct ModelCount {
    model: String,
    count: i64,
}

#[derive(FromQueryResult)]
struct Average {
    average: Option<f64>,
}

fn owned(actor: &Actor, canvas_id: Option<&str>) -> Result<Select<generation::Entity>> {
    let mut query =
        generation::Entity::find().filter(generation::Column::OwnerId.eq(actor.user_id()?));
    if let Some(canvas_id) = canvas_id {
        query = query.filter(generation::Column::CanvasId.eq(canvas_id));
    }
    Ok(query)
}

/// The actor's figures, over one canvas or all their runs.
pub async fn generation_stats(
    db: &impl ConnectionTrait,
    actor: &Actor,
    canvas_id: Option<&str>,
) -> Result<GenerationStats> {
    let by_status = owned(actor, canvas_id)?
        .select_only()
        .column(generation::Column::Status)
        .column_as(generation::Column::Id.count(), "count")
        .group_by(generation::Column::Status)
        .into_model::<StatusCount>()
        .all(db)
        .await?;
    let by_model = owned(actor, canvas_id)?
        .select_only()
        .column(generation::Column::Model)
        .column_as(generation::Column::Id.count(), "count")
        .group_by(generation::Column::Model)
        .order_by_desc(Expr::col("count"))
        .order_by_asc(generation::Column::Model)
        .into_model::<ModelCount>()
        .all(db)
        .await?;
    let timed = || -> Result<Select<generation::Entity>> {
        Ok(owned(actor, canvas_id)?
            .filter(generation::Column::Status.eq(GenerationStatus::Completed))
            .filter(generation::Column::DurationMs.is_not_null()))
    };
    // AVG of a bigint is numeric on PostgreSQL; cast so both databases answer a float.
    let average = timed()?
        .select_only()
        .column_as(
            Expr::cust("CAST(AVG(duration_ms) AS DOUBLE PRECISION)"),
            "average",
        )
        .into_model::<Average>()
        .one(db)
        .await?
        .and_then(|a| a.average);
    let timed_count = timed()?.count(db).await?;
    let p95 = if timed_count == 0 {
        None
    } else {
        let rank = (timed_count * 95).div_ceil(100).max(1) - 1;
        timed()?
            .select_only()
            .column(generation::Column::DurationMs)
            .order_by_asc(generation::Column::DurationMs)
            .offset(rank)
            .limit(1)
            .into_tuple::<Option<i64>>()
            .one(db)
            .await?
            .flatten()
    };
    let mut by_status: Vec<(GenerationStatus, i64)> =
        by_status.into_iter().map(|s| (s.status, s.count)).collect();
    by_status.sort_by_key(|(status, _)| *status as u8);
    Ok(GenerationStats {
        total: by_status.iter().map(|(_, n)| n).sum(),
        by_status,
        by_model: by_model.into_iter().map(|m| (m.model, m.count)).collect(),
        average_duration_ms: average,
        p95_duration_ms: p95,
    })
}
