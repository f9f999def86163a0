//! Generations in GraphQL: the record of model runs, their state machine and their figures.

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::generation::{self as generation_row, GenerationStatus as RowStatus};
use serde_json::Value;

use super::asset::Asset;
use super::connection::{PageInfo, paged};
use super::loaders::Loaders;
use super::{page_size, request};
use crate::generations::{self as domain, GenerationFilter, NewGeneration};
use crate::pagination::Cursor;

type Result<T> = async_graphql::Result<T>;

/// Where a run is: PENDING → PROCESSING → COMPLETED or FAILED; PENDING or PROCESSING →
/// CANCELLED.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum GenerationStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl From<RowStatus> for GenerationStatus {
    fn from(status: RowStatus) -> Self {
        match status {
            RowStatus::Pending => GenerationStatus::Pending,
            RowStatus::Processing => GenerationStatus::Processing,
            RowStatus::Completed => GenerationStatus::Completed,
            RowStatus::Failed => GenerationStatus::Failed,
            RowStatus::Cancelled => GenerationStatus::Cancelled,
        }
    }
}

impl From<GenerationStatus> for RowStatus {
    fn from(status: GenerationStatus) -> Self {
        match status {
            GenerationStatus::Pending => RowStatus::Pending,
            GenerationStatus::Processing => RowStatus::Processing,
            GenerationStatus::Completed => RowStatus::Completed,
            GenerationStatus::Failed => RowStatus::Failed,
            GenerationStatus::Cancelled => RowStatus::Cancelled,
        }
    }
}

/// One model run: what produced an image, with which inputs, and how it went.
pub struct Generation(pub generation_row::Model);

#[Object]
impl Generation {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn canvas_id(&self) -> ID {
        ID(self.0.canvas_id.clone())
    }

    async fn node_id(&self) -> Option<ID> {
        self.0.node_id.clone().map(ID)
    }

    /// The model run (`fal-ai/flux/dev`, `gpt-image-1`, ...).
    async fn model(&self) -> &str {
        &self.0.model
    }

    async fn prompt(&self) -> Option<&str> {
        self.0.prompt.as_deref()
    }

    async fn parameters(&self) -> Option<Json<&Value>> {
        self.0.parameters.as_ref().map(Json)
    }

    async fn status(&self) -> GenerationStatus {
        self.0.status.into()
    }

    /// The asset the run produced; null once that asset is deleted.
    async fn result_asset(&self, ctx: &Context<'_>) -> Result<Option<Asset>> {
        let Some(id) = self.0.result_asset_id.clone() else {
            return Ok(None);
        };
        let asset = ctx
            .data_unchecked::<Loaders>()
            .asset_by_id
            .load_one(id)
            .await?;
        Ok(asset.filter(|a| a.owner_id == self.0.owner_id).map(Asset))
    }

    async fn error_message(&self) -> Option<&str> {
        self.0.error_message.as_deref()
    }

    /// From start to finish, measured by the server; null for a run never started.
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }

    /// The run this one retries.
    async fn retry_of(&self, ctx: &Context<'_>) -> Result<Option<Generation>> {
        let Some(id) = self.0.retry_of.clone() else {
            return Ok(None);
        };
        let run = ctx
            .data_unchecked::<Loaders>()
            .generation_by_id
            .load_one(id)
            .await?;
        Ok(run
            .filter(|g| g.owner_id == self.0.owner_id)
            .map(Generation))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }

    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
}

/// A run to record.
#[derive(InputObject)]
pub struct CreateGenerationInput {
    /// A canvas of yours.
    pub canvas_id: ID,
    pub node_id: Option<ID>,
    pub model: String,
    pub prompt: Option<String>,
    pub parameters: Option<Json<Value>>,
    /// Send the same key again (after a network error, say) and get the same run back instead
    /// of a second one. Up to 128 characters, unique per user.
    pub idempotency_key: Option<String>,
}

/// A run in a list, with the cursor to page on from it.
#[derive(SimpleObject)]
pub struct GenerationEdge {
    pub cursor: String,
    pub node: Generation,
}

/// A page of runs, newest first.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct GenerationConnection {
    pub edges: Vec<GenerationEdge>,
    pub nodes: Vec<Generation>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    filter: GenerationFilter,
}

#[ComplexObject]
impl GenerationConnection {
    /// Runs in the whole list, not only this page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let req = request(ctx);
        Ok(domain::count_generations(req.db, req.actor, &self.filter).await?)
    }
}

/// How many runs had a status.
#[derive(SimpleObject)]
pub struct GenerationStatusCount {
    pub status: GenerationStatus,
    pub count: i64,
}

/// How many runs used a model.
#[derive(SimpleObject)]
pub struct GenerationModelCount {
    pub model: String,
    pub count: i64,
}

/// Figures over your runs.
#[derive(SimpleObject)]
pub struct GenerationStats {
    pub total: i64,
    /// Statuses with at least one run.
    pub by_status: Vec<GenerationStatusCount>,
    /// Models, most used first.
    pub by_model: Vec<GenerationModelCount>,
    /// Over COMPLETED runs that were started.
    pub average_duration_ms: Option<f64>,
    /// Nearest-rank 95th percentile over COMPLETED runs that were started.
    pub p95_duration_ms: Option<i64>,
}

/// A page of runs for a filter; loads the result assets of the page in one batch when asked.
pub(crate) async fn connection(
    ctx: &Context<'_>,
    filter: GenerationFilter,
    first: Option<i32>,
    after: Option<String>,
) -> Result<GenerationConnection> {
    let req = request(ctx);
    let first = page_size(first, req.limits)?;
    let after = Cursor::decode_after(after.as_deref())?;
    let page = domain::list_generations(req.db, req.actor, &filter, first, after).await?;
    let look = ctx.look_ahead();
    let wants = |field: &str| {
        look.field("nodes").field(field).exists()
            || look.field("edges").field("node").field(field).exists()
    };
    let loaders = ctx.data_unchecked::<Loaders>();
    if wants("resultAsset") {
        let ids: Vec<String> = page
            .items
            .iter()
            .filter_map(|g| g.result_asset_id.clone())
            .collect();
        loaders.asset_by_id.load_many(ids).await?;
    }
    if wants("retryOf") {
        let ids: Vec<String> = page
            .items
            .iter()
            .filter_map(|g| g.retry_of.clone())
            .collect();
        loaders.generation_by_id.load_many(ids).await?;
    }
    let page = paged(page, domain::cursor_of, Generation);
    Ok(GenerationConnection {
        page_info: page.page_info,
        edges: page
            .edges
            .into_iter()
            .map(|(cursor, node)| GenerationEdge { cursor, node })
            .collect(),
        nodes: page.nodes,
        filter,
    })
}

#[derive(Default)]
pub struct GenerationQuery;

#[Object]
impl GenerationQuery {
    /// A run of yours, or null.
    async fn generation(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Generation>> {
        let req = request(ctx);
        Ok(domain::find_readable(req.db, req.actor, &id)
            .await?
            .map(Generation))
    }

    /// Your runs, newest first.
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per filter of the GraphQL field"
    )]
    async fn generations(
        &self,
        ctx: &Context<'_>,
        canvas_id: Option<ID>,
        node_id: Option<ID>,
        status: Option<GenerationStatus>,
        model: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<GenerationConnection> {
        let filter = GenerationFilter {
            canvas_id: canvas_id.map(|id| id.0),
            node_id: node_id.map(|id| id.0),
            status: status.map(Into::into),
            model,
        };
        connection(ctx, filter, first, after).await
    }

    /// Counts by status and by model, and durations, over one canvas or all your runs.
    async fn generation_stats(
        &self,
        ctx: &Context<'_>,
        canvas_id: Option<ID>,
    ) -> Result<GenerationStats> {
        let req = request(ctx);
        let stats =
            domain::generation_stats(req.db, req.actor, canvas_id.as_ref().map(|id| id.as_str()))
                .await?;
        Ok(GenerationStats {
            total: stats.total,
            by_status: stats
                .by_status
                .into_iter()
                .map(|(status, count)| GenerationStatusCount {
                    status: status.into(),
                    count,
                })
                .collect(),
            by_model: stats
                .by_model
                .into_iter()
                .map(|(model, count)| GenerationModelCount { model, count })
                .collect(),
            average_duration_ms: stats.average_duration_ms,
            p95_duration_ms: stats.p95_duration_ms,
        })
    }
}

#[derive(Default)]
pub struct GenerationMutation;

#[Object]
impl GenerationMutation {
    /// Records a PENDING run.
    async fn create_generation(
        &self,
        ctx: &Context<'_>,
        input: CreateGenerationInput,
    ) -> Result<Generation> {
        let req = request(ctx);
        let new = NewGeneration {
            canvas_id: input.canvas_id.0,
            node_id: input.node_id.map(|id| id.0),
            model: input.model,
            prompt: input.prompt,
            parameters: input.parameters.map(|p| p.0),
            idempotency_key: input.idempotency_key,
        };
        Ok(Generation(
            domain::create_generation(req.db, req.actor, new, req.limits).await?,
        ))
    }

    /// PENDING → PROCESSING; sets `startedAt`.
    async fn start_generation(&self, ctx: &Context<'_>, id: ID) -> Result<Generation> {
        let req = request(ctx);
        Ok(Generation(
            domain::start_generation(req.db, req.actor, &id).await?,
        ))
    }

    /// PROCESSING → COMPLETED, optionally with the READY asset of the same canvas it produced.
    async fn complete_generation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        result_asset_id: Option<ID>,
    ) -> Result<Generation> {
        let req = request(ctx);
        let asset = result_asset_id.map(|id| id.0);
        Ok(Generation(
            domain::complete_generation(req.db, req.actor, &id, asset).await?,
        ))
    }

    /// PROCESSING → FAILED, with what went wrong.
    async fn fail_generation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        error_message: String,
    ) -> Result<Generation> {
        let req = request(ctx);
        Ok(Generation(
            domain::fail_generation(req.db, req.actor, &id, error_message).await?,
        ))
    }

    /// PENDING or PROCESSING → CANCELLED.
    async fn cancel_generation(&self, ctx: &Context<'_>, id: ID) -> Result<Generation> {
        let req = request(ctx);
        Ok(Generation(
            domain::cancel_generation(req.db, req.actor, &id).await?,
        ))
    }

    /// A new PENDING run with the same model, prompt and parameters, linked by `retryOf`.
    async fn retry_generation(&self, ctx: &Context<'_>, id: ID) -> Result<Generation> {
        let req = request(ctx);
        Ok(Generation(
            domain::retry_generation(req.db, req.actor, &id).await?,
        ))
    }
}
