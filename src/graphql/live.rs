//! Live canvases in GraphQL: the `canvasEvents` subscription and its event types.

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription, Union};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::Shared;
use super::canvas::Canvas;
use super::graph::{EdgeList, NodeList};
use super::loaders::Loaders;
use crate::auth::Actor;
use crate::canvas::events::{self as domain, EventPart};

type Result<T> = async_graphql::Result<T>;

/// When the credentials of a WebSocket connection expire (the token's `exp`); its subscriptions
/// end then.
#[derive(Clone, Copy, Debug)]
pub struct SessionExpiry(pub DateTime<Utc>);

/// Something a write did to a canvas. One write can yield several events; they share its
/// `version` and come in this order: `CanvasUpdated`, `NodesUpserted`, `EdgesUpserted`,
/// `EdgesDeleted`, `NodesDeleted`, or `CanvasDeleted` alone.
#[derive(Union)]
pub enum CanvasEvent {
    CanvasUpdated(CanvasUpdated),
    NodesUpserted(NodesUpserted),
    EdgesUpserted(EdgesUpserted),
    EdgesDeleted(EdgesDeleted),
    NodesDeleted(NodesDeleted),
    CanvasDeleted(CanvasDeleted),
    Resync(Resync),
}

/// Nodes were created or changed; each is given whole, as `Canvas.nodes` would give it.
#[derive(SimpleObject)]
pub struct NodesUpserted {
    /// The canvas version the write produced.
    pub version: i64,
    /// The `clientMutationId` the write was sent with, so a client can skip its own echoes.
    pub client_mutation_id: Option<String>,
    pub nodes: NodeList,
}

/// Nodes were deleted (their edges are in an `EdgesDeleted` of the same version).
#[derive(SimpleObject)]
pub struct NodesDeleted {
    /// The canvas version the write produced.
    pub version: i64,
    /// The `clientMutationId` the write was sent with.
    pub client_mutation_id: Option<String>,
    pub ids: Vec<ID>,
}

/// Edges were created or changed; each is given whole.
#[derive(SimpleObject)]
pub struct EdgesUpserted {
    /// The canvas version the write produced.
    pub version: i64,
    /// The `clientMutationId` the write was sent with.
    pub client_mutation_id: Option<String>,
    pub edges: EdgeList,
}

/// Edges were deleted.
#[derive(SimpleObject)]
pub struct EdgesDeleted {
    /// The canvas version the write produced.
    pub version: i64,
    /// The `clientMutationId` the write was sent with.
    pub client_mutation_id: Option<String>,
    pub ids: Vec<ID>,
}

/// The canvas's metadata changed (or the canvas was created).
#[derive(SimpleObject)]
pub struct CanvasUpdated {
    /// The canvas version the write produced.
    pub version: i64,
    /// The `clientMutationId` the write was sent with.
    pub client_mutation_id: Option<String>,
    /// The canvas after the write.
    pub canvas: Canvas,
}

/// The canvas was deleted; the subscription ends after this event.
#[derive(SimpleObject)]
pub struct CanvasDeleted {
    /// One more than the canvas's last version.
    pub version: i64,
    /// The `clientMutationId` the deletion was sent with.
    pub client_mutation_id: Option<String>,
}

/// Refetch the canvas: changes up to `version` cannot be sent as events. Events after it
/// follow as usual; skip those at or below the version you refetch.
#[derive(SimpleObject)]
pub struct Resync {
    /// The version the changes you cannot see reach up to.
    pub version: i64,
    /// The `clientMutationId` of the write, for `LARGE_CHANGE`.
    pub client_mutation_id: Option<String>,
    pub reason: ResyncReason,
}

/// Why a subscriber must refetch.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ResyncReason {
    /// The write touched more nodes and edges than events carry.
    LargeChange,
    /// The events since your `sinceVersion` (or since you fell behind) are no longer kept.
    HistoryGone,
}

impl From<domain::ResyncReason> for ResyncReason {
    fn from(reason: domain::ResyncReason) -> Self {
        match reason {
            domain::ResyncReason::LargeChange => ResyncReason::LargeChange,
            domain::ResyncReason::HistoryGone => ResyncReason::HistoryGone,
        }
    }
}

fn ids(ids: &[String]) -> Vec<ID> {
    ids.iter().cloned().map(ID).collect()
}

/// The GraphQL events of one write.
fn events_of(event: &domain::CanvasEvent) -> Vec<CanvasEvent> {
    let version = event.version;
    let client_mutation_id = || event.client_mutation_id.clone();
    event
        .parts
        .iter()
        .map(|part| match part {
            EventPart::CanvasUpdated(canvas) => CanvasEvent::CanvasUpdated(CanvasUpdated {
                version,
                client_mutation_id: client_mutation_id(),
                canvas: Canvas(canvas.as_ref().clone()),
            }),
            EventPart::NodesUpserted(nodes) => CanvasEvent::NodesUpserted(NodesUpserted {
                version,
                client_mutation_id: client_mutation_id(),
                nodes: NodeList(nodes.clone()),
            }),
            EventPart::EdgesUpserted(edges) => CanvasEvent::EdgesUpserted(EdgesUpserted {
                version,
                client_mutation_id: client_mutation_id(),
                edges: EdgeList(edges.clone()),
            }),
            EventPart::EdgesDeleted(deleted) => CanvasEvent::EdgesDeleted(EdgesDeleted {
                version,
                client_mutation_id: client_mutation_id(),
                ids: ids(deleted),
            }),
            EventPart::NodesDeleted(deleted) => CanvasEvent::NodesDeleted(NodesDeleted {
                version,
                client_mutation_id: client_mutation_id(),
                ids: ids(deleted),
            }),
            EventPart::CanvasDeleted => CanvasEvent::CanvasDeleted(CanvasDeleted {
                version,
                client_mutation_id: client_mutation_id(),
            }),
            EventPart::Resync(reason) => CanvasEvent::Resync(Resync {
                version,
                client_mutation_id: client_mutation_id(),
                reason: (*reason).into(),
            }),
        })
        .collect()
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Changes to a canvas you can read, as they are committed on any replica, in version
    /// order. With `sinceVersion`, the changes after that version come first (while they are
    /// kept; otherwise a `Resync`). Ends after `CanvasDeleted`, when you may no longer read the
    /// canvas (`NOT_FOUND`), and when your token expires (`UNAUTHENTICATED`).
    async fn canvas_events(
        &self,
        ctx: &Context<'_>,
        canvas_id: ID,
        since_version: Option<i64>,
    ) -> Result<impl Stream<Item = Result<CanvasEvent>>> {
        let shared = ctx.data_unchecked::<Shared>();
        let actor = ctx.data_opt::<Actor>().cloned().unwrap_or(Actor::Anonymous);
        let expires_at = ctx.data_opt::<SessionExpiry>().map(|e| e.0);
        let loaders = ctx.data_opt::<Loaders>().cloned();
        let events = shared
            .live
            .follow(actor, &canvas_id, since_version, expires_at)
            .await?;
        Ok(events.flat_map(move |item| {
            // What an event's canvas resolves (counts, nodes) is read fresh for each event.
            if let Some(loaders) = &loaders {
                loaders.clear();
            }
            let items: Vec<Result<CanvasEvent>> = match item {
                Ok(event) => events_of(&event).into_iter().map(Ok).collect(),
                Err(err) => vec![Err(err.into())],
            };
            futures::stream::iter(items)
        }))
    }
}
