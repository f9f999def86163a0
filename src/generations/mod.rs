//! Generation history: every model run of a canvas, its inputs, its status and its result.
//! The status is a state machine (PENDING → PROCESSING → COMPLETED | FAILED; PENDING or
//! PROCESSING → CANCELLED); times and durations are set by the server.

mod stats;

pub use stats::{GenerationStats, generation_stats};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::asset::{self, AssetStatus};
use entity::canvas;
use entity::generation::{self, GenerationStatus};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, Select,
};
use serde_json::Value;

use crate::auth::{Actor, ensure_user};
use crate::canvas::check_item_id;
use crate::config::Limits;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::pagination::{Cursor, Page, fetch_page};
use crate::time::now;

/// Longest model name, in characters.
pub const MAX_MODEL_CHARS: usize = 128;
/// Longest prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// Longest error message kept, in characters.
pub const MAX_ERROR_CHARS: usize = 10_000;
/// Longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// A run to record.
#[derive(Debug, Clone)]
pub struct NewGeneration {
    pub canvas_id: String,
    pub node_id: Option<String>,
    pub model: String,
    pub prompt: Option<String>,
    pub parameters: Option<Value>,
    /// The same key twice returns the same run, so a client retrying after a network error
    /// makes no duplicate.
    pub idempotency_key: Option<String>,
}

/// The name clients see for a status.
pub fn status_name(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::Pending => "PENDING",
        GenerationStatus::Processing => "PROCESSING",
        GenerationStatus::Completed => "COMPLETED",
        GenerationStatus::Failed => "FAILED",
        GenerationStatus::Cancelled => "CANCELLED",
    }
}

/// Whether a run may go from `from` to `to`; the error names both states.
pub fn check_transition(from: GenerationStatus, to: GenerationStatus) -> Result<()> {
    use GenerationStatus::*;
    let allowed = matches!(
        (from, to),
        (Pending, Processing)
            | (Processing, Completed)
            | (Processing, Failed)
            | (Pending, Cancelled)
            | (Processing, Cancelled)
    );
    if allowed {
        Ok(())
    } else {
        Err(Error::bad_input(
            "id",
            format!(
                "a {} generation cannot become {}",
                status_name(from),
                status_name(to)
            ),
        ))
    }
}

fn check_chars(field: &str, value: &str, max: usize, allow_empty: bool) -> Result<()> {
    if !allow_empty && value.trim().is_empty() {
        return Err(Error::bad_input(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::bad_input(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn check_new(input: &NewGeneration, limits: &Limits) -> Result<()> {
    if let Some(node_id) = &input.node_id {
        check_item_id("input.nodeId", node_id)?;
    }
    check_chars("input.model", &input.model, MAX_MODEL_CHARS, false)?;
    if let Some(prompt) = &input.prompt {
        check_chars("input.prompt", prompt, MAX_PROMPT_CHARS, true)?;
    }
    if let Some(key) = &input.idempotency_key {
        check_chars(
            "input.idempotencyKey",
            key,
            MAX_IDEMPOTENCY_KEY_CHARS,
            false,
        )?;
    }
    if let Some(parameters) = &input.parameters {
        let size = serde_json::to_vec(parameters).map_or(usize::MAX, |b| b.len());
        if size > limits.max_node_data_bytes {
            return Err(Error::bad_input(
                "input.parameters",
                format!(
                    "is {size} bytes of JSON, more than the limit of {}",
                    limits.max_node_data_bytes
                ),
            ));
        }
    }
    Ok(())
}

/// Records a PENDING run on a canvas of the actor's. With an idempotency key already used for
/// the same request, the run made then is returned; used for another request, `CONFLICT`.
pub async fn create_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    input: NewGeneration,
    limits: &Limits,
) -> Result<generation::Model> {
    let owner = actor.user_id()?.to_owned();
    check_new(&input, limits)?;
    let txn = begin_write(db).await?;
    let own_canvas = canvas::Entity::find_by_id(input.canvas_id.clone())
        .one(&txn)
        .await?
        .is_some_and(|c| c.owner_id == owner);
    if !own_canvas {
        return Err(Error::not_found("canvas", &input.canvas_id));
    }
    if let Some(key) = &input.idempotency_key
        && let Some(existing) = by_idempotency_key(&txn, &owner, key).await?
    {
        return same_request(existing, &input);
    }
    ensure_user(&txn, &owner).await?;
    let model = generation::Model {
        id: uuid::Uuid::now_v7().to_string(),
        owner_id: owner.clone(),
        canvas_id: input.canvas_id.clone(),
        node_id: input.node_id.clone(),
        model: input.model.clone(),
        prompt: input.prompt.clone(),
        parameters: input.parameters.clone(),
        status: GenerationStatus::Pending,
        result_asset_id: None,
        error_message: None,
        duration_ms: None,
        retry_of: None,
        idempotency_key: input.idempotency_key.clone(),
        created_at: now(),
        started_at: None,
        finished_at: None,
    };
    let inserted = generation::Entity::insert(generation::ActiveModel::from(model.clone()))
        .on_conflict(
            OnConflict::columns([
                generation::Column::OwnerId,
                generation::Column::IdempotencyKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        // A concurrent request with the same key won the race; answer with its run.
        let key = input.idempotency_key.as_deref().unwrap_or_default();
        let existing = by_idempotency_key(&txn, &owner, key)
            .await?
            .ok_or_else(|| Error::not_found("generation", key))?;
        return same_request(existing, &input);
    }
    txn.commit().await?;
    Ok(model)
}

async fn by_idempotency_key(
    db: &impl ConnectionTrait,
    owner: &str,
    key: &str,
) -> Result<Option<generation::Model>> {
    Ok(generation::Entity::find()
        .filter(generation::Column::OwnerId.eq(owner))
        .filter(generation::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?)
}

/// The run an idempotency key made, if it was made by the same request.
fn same_request(existing: generation::Model, input: &NewGeneration) -> Result<generation::Model> {
    let same = existing.canvas_id == input.canvas_id
        && existing.node_id == input.node_id
        && existing.model == input.model
        && existing.prompt == input.prompt
        && existing.parameters == input.parameters;
    if same {
        Ok(existing)
    } else {
        Err(Error::AlreadyExists {
            field: "input.idempotencyKey".into(),
            message: "this idempotency key was used for a different generation".into(),
        })
    }
}

async fn find_own(db: &impl ConnectionTrait, actor: &Actor, id: &str) -> Result<generation::Model> {
    let owner = actor.user_id()?;
    generation::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|g| g.owner_id == owner)
        .ok_or_else(|| Error::not_found("generation", id))
}

/// The fields a transition sets besides the status.
#[derive(Default)]
struct Outcome {
    result_asset_id: Option<String>,
    error_message: Option<String>,
}

/// Moves a run to `to`, setting its times; refused (and nothing changed) when the state
/// machine does not allow it, including when another request moved it first.
async fn transition(
    txn: &DatabaseTransaction,
    run: generation::Model,
    to: GenerationStatus,
    outcome: Outcome,
) -> Result<generation::Model> {
    check_transition(run.status, to)?;
    let at = now();
    let mut next = run.clone();
    next.status = to;
    match to {
        GenerationStatus::Processing => next.started_at = Some(at),
        _ => {
            next.finished_at = Some(at);
            next.duration_ms = run.started_at.map(|started| duration_ms(started, at));
        }
    }
    if outcome.result_asset_id.is_some() {
        next.result_asset_id = outcome.result_asset_id;
    }
    if outcome.error_message.is_some() {
        next.error_message = outcome.error_message;
    }
    let updated = generation::Entity::update_many()
        .col_expr(generation::Column::Status, Expr::value(next.status))
        .col_expr(generation::Column::StartedAt, Expr::value(next.started_at))
        .col_expr(
            generation::Column::FinishedAt,
            Expr::value(next.finished_at),
        )
        .col_expr(
            generation::Column::DurationMs,
            Expr::value(next.duration_ms),
        )
        .col_expr(
            generation::Column::ResultAssetId,
            Expr::value(next.result_asset_id.clone()),
        )
        .col_expr(
            generation::Column::ErrorMessage,
            Expr::value(next.error_message.clone()),
        )
        .filter(generation::Column::Id.eq(run.id.clone()))
        .filter(generation::Column::Status.eq(run.status))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        let now_status = generation::Entity::find_by_id(run.id.clone())
            .one(txn)
            .await?
            .map_or(run.status, |g| g.status);
        check_transition(now_status, to)?;
        return Err(Error::bad_input(
            "id",
            "the generation changed meanwhile; try again",
        ));
    }
    Ok(next)
}

fn duration_ms(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds().max(0)
}

async fn move_to(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    to: GenerationStatus,
    outcome: Outcome,
) -> Result<generation::Model> {
    let txn = begin_write(db).await?;
    let run = find_own(&txn, actor, id).await?;
    let next = transition(&txn, run, to, outcome).await?;
    txn.commit().await?;
    Ok(next)
}

/// PENDING → PROCESSING.
pub async fn start_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> Result<generation::Model> {
    move_to(
        db,
        actor,
        id,
        GenerationStatus::Processing,
        Outcome::default(),
    )
    .await
}

/// PROCESSING → COMPLETED, with an optional result: a READY asset of the run's canvas.
pub async fn complete_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    result_asset_id: Option<String>,
) -> Result<generation::Model> {
    let txn = begin_write(db).await?;
    let run = find_own(&txn, actor, id).await?;
    if let Some(asset_id) = &result_asset_id {
        let asset = asset::Entity::find_by_id(asset_id.clone())
            .one(&txn)
            .await?
            .filter(|a| actor.is(&a.owner_id))
            .ok_or_else(|| Error::bad_input("resultAssetId", format!("no asset '{asset_id}'")))?;
        if asset.status != AssetStatus::Ready {
            return Err(Error::bad_input(
                "resultAssetId",
                format!("asset '{asset_id}' is not READY"),
            ));
        }
        if asset.canvas_id.as_deref() != Some(run.canvas_id.as_str()) {
            return Err(Error::bad_input(
                "resultAssetId",
                format!("asset '{asset_id}' belongs to another canvas"),
            ));
        }
    }
    let outcome = Outcome {
        result_asset_id,
        error_message: None,
    };
    let next = transition(&txn, run, GenerationStatus::Completed, outcome).await?;
    txn.commit().await?;
    Ok(next)
}

/// PROCESSING → FAILED, with what went wrong.
pub async fn fail_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
    error_message: String,
) -> Result<generation::Model> {
    check_chars("errorMessage", &error_message, MAX_ERROR_CHARS, false)?;
    let outcome = Outcome {
        result_asset_id: None,
        error_message: Some(error_message),
    };
    move_to(db, actor, id, GenerationStatus::Failed, outcome).await
}

/// PENDING or PROCESSING → CANCELLED.
pub async fn cancel_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> Result<generation::Model> {
    move_to(
        db,
        actor,
        id,
        GenerationStatus::Cancelled,
        Outcome::default(),
    )
    .await
}

/// A new PENDING run with the same canvas, node, model, prompt and parameters, linked to the
/// one it retries. A run still PENDING or PROCESSING is not retried: cancel it first.
pub async fn retry_generation(
    db: &DatabaseConnection,
    actor: &Actor,
    id: &str,
) -> Result<generation::Model> {
    let txn = begin_write(db).await?;
    let source = find_own(&txn, actor, id).await?;
    if matches!(
        source.status,
        GenerationStatus::Pending | GenerationStatus::Processing
    ) {
        return Err(Error::bad_input(
            "id",
            format!(
                "a {} generation is still running; cancel it before retrying",
                status_name(source.status)
            ),
        ));
    }
    let retry = generation::Model {
        id: uuid::Uuid::now_v7().to_string(),
        status: GenerationStatus::Pending,
        result_asset_id: None,
        error_message: None,
        duration_ms: None,
        retry_of: Some(source.id.clone()),
        idempotency_key: None,
        created_at: now(),
        started_at: None,
        finished_at: None,
        ..source
    };
    generation::Entity::insert(generation::ActiveModel::from(retry.clone()))
        .exec_without_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok(retry)
}

/// The run if it is the actor's.
pub async fn find_readable(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: &str,
) -> Result<Option<generation::Model>> {
    let Actor::User(owner) = actor else {
        return Ok(None);
    };
    Ok(generation::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .filter(|g| &g.owner_id == owner))
}

/// Runs by id, for loaders; the caller checks ownership.
pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<HashMap<String, generation::Model>> {
    let rows = generation::Entity::find()
        .filter(generation::Column::Id.is_in(ids.iter().cloned()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|g| (g.id.clone(), g)).collect())
}

/// Which runs a list shows; always the actor's own.
#[derive(Debug, Clone, Default)]
pub struct GenerationFilter {
    pub canvas_id: Option<String>,
    pub node_id: Option<String>,
    pub status: Option<GenerationStatus>,
    pub model: Option<String>,
}

/// One page of runs, newest first.
pub type GenerationPage = Page<generation::Model>;

fn listed(actor: &Actor, filter: &GenerationFilter) -> Result<Select<generation::Entity>> {
    let mut query =
        generation::Entity::find().filter(generation::Column::OwnerId.eq(actor.user_id()?));
    if let Some(canvas_id) = &filter.canvas_id {
        query = query.filter(generation::Column::CanvasId.eq(canvas_id));
    }
    if let Some(node_id) = &filter.node_id {
        query = query.filter(generation::Column::NodeId.eq(node_id));
    }
    if let Some(status) = filter.status {
        query = query.filter(generation::Column::Status.eq(status));
    }
    if let Some(model) = &filter.model {
        query = query.filter(generation::Column::Model.eq(model));
    }
    Ok(query)
}

/// A page of the actor's runs, newest first.
pub async fn list_generations(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &GenerationFilter,
    first: usize,
    after: Option<Cursor>,
) -> Result<GenerationPage> {
    if *actor == Actor::Anonymous {
        // Runs are private; an anonymous caller (reading a public canvas, say) has none.
        return Ok(Page::empty(after.is_some()));
    }
    let query = listed(actor, filter)?;
    let (at, id) = (generation::Column::CreatedAt, generation::Column::Id);
    fetch_page(db, query, at, id, first, after).await
}

/// How many runs a list holds.
pub async fn count_generations(
    db: &impl ConnectionTrait,
    actor: &Actor,
    filter: &GenerationFilter,
) -> Result<u64> {
    if *actor == Actor::Anonymous {
        return Ok(0);
    }
    Ok(listed(actor, filter)?.count(db).await?)
}

/// Where a run sits in a list.
pub fn cursor_of(run: &generation::Model) -> Cursor {
    Cursor {
        at: run.created_at,
        id: run.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use GenerationStatus::*;

    #[test]
    fn the_state_machine_allows_exactly_its_transitions() {
        let all = [Pending, Processing, Completed, Failed, Cancelled];
        let allowed = [
            (Pending, Processing),
            (Processing, Completed),
            (Processing, Failed),
            (Pending, Cancelled),
            (Processing, Cancelled),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    check_transition(from, to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn a_refused_transition_names_both_states() {
        let err = check_transition(Completed, Processing).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("COMPLETED") && text.contains("PROCESSING"),
            "{text}"
        );
    }
}
