//! Canvases, nodes and edges in GraphQL: types, inputs, and their thin resolvers.

use async_graphql::{
    ComplexObject, Context, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject,
};
use chrono::{DateTime, Utc};
use entity::canvas as canvas_row;
use serde_json::Value;

use super::asset::Asset;
use super::connection::{PageInfo, paged};
use super::generation::GenerationConnection;
use super::graph::{EdgeList, NodeList};
use super::loaders::Loaders;
use super::user::User;
use super::{page_size, request};
use crate::canvas::events::EventLog;
use crate::canvas::{
    self as domain, CanvasChanges, CanvasFilter as DomainFilter, CanvasMetaInput, CanvasSnapshot,
    EdgeAttrs, EdgeInput, JsonText, NodeAttrs, NodeInput, Patch,
};
use crate::error::Error;
use crate::pagination::Cursor;

type Result<T> = async_graphql::Result<T>;

/// A canvas: a graph of nodes and edges that one user owns.
pub struct Canvas(pub canvas_row::Model);

#[Object]
impl Canvas {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// An image URL (or data URL) shown in canvas lists.
    async fn thumbnail(&self) -> Option<&str> {
        self.0.thumbnail.as_deref()
    }

    /// Templates are readable by everyone and copied with `duplicateCanvas`.
    async fn is_template(&self) -> bool {
        self.0.is_template
    }

    /// Public canvases are readable by everyone, signed in or not.
    async fn is_public(&self) -> bool {
        self.0.is_public
    }

    /// The pan and zoom the editor last saved.
    async fn viewport(&self) -> Option<Viewport> {
        self.0
            .viewport
            .as_ref()
            .and_then(|v| serde_json::from_value::<domain::Viewport>(v.clone()).ok())
            .map(Viewport::from)
    }

    /// Bumped by every write; send it back as `expectedVersion` to refuse lost updates.
    async fn version(&self) -> i64 {
        self.0.version
    }

    async fn node_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let count = ctx
            .data_unchecked::<Loaders>()
            .node_counts
            .load_one(self.0.id.clone())
            .await?;
        Ok(count.unwrap_or(0))
    }

    async fn edge_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let count = ctx
            .data_unchecked::<Loaders>()
            .edge_counts
            .load_one(self.0.id.clone())
            .await?;
        Ok(count.unwrap_or(0))
    }

    /// The nodes in the order they were saved: parents before their children.
    async fn nodes(&self, ctx: &Context<'_>) -> Result<NodeList> {
        let nodes = ctx
            .data_unchecked::<Loaders>()
            .nodes
            .load_one(self.0.id.clone())
            .await?;
        Ok(NodeList(nodes.unwrap_or_default()))
    }

    /// The edges in the order they were saved.
    async fn edges(&self, ctx: &Context<'_>) -> Result<EdgeList> {
        let edges = ctx
            .data_unchecked::<Loaders>()
            .edges
            .load_one(self.0.id.clone())
            .await?;
        Ok(EdgeList(edges.unwrap_or_default()))
    }

    /// Your runs on this canvas, newest first.
    async fn generations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<GenerationConnection> {
        let filter = crate::generations::GenerationFilter {
            canvas_id: Some(self.0.id.clone()),
            ..Default::default()
        };
        super::generation::connection(ctx, filter, first, after).await
    }

    /// The canvas's assets, newest first; others see only READY ones.
    async fn assets(&self, ctx: &Context<'_>) -> Result<Vec<Asset>> {
        let req = request(ctx);
        let assets = ctx
            .data_unchecked::<Loaders>()
            .assets
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default();
        let owner = req.actor.is(&self.0.owner_id);
        Ok(assets
            .iter()
            .filter(|a| owner || a.status == entity::asset::AssetStatus::Ready)
            .cloned()
            .map(Asset)
            .collect())
    }

    async fn owner(&self, ctx: &Context<'_>) -> Result<User> {
        let owner = ctx
            .data_unchecked::<Loaders>()
            .users
            .load_one(self.0.owner_id.clone())
            .await?;
        owner
            .map(User)
            .ok_or_else(|| Error::not_found("user", self.0.owner_id.clone()).into())
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A point on the canvas plane.
#[derive(InputObject, Clone, Copy)]
pub struct PositionInput {
    pub x: f64,
    pub y: f64,
}

/// The visible part of the plane: pan and zoom.
#[derive(SimpleObject, Clone, Copy)]
pub struct Viewport {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

impl From<domain::Viewport> for Viewport {
    fn from(v: domain::Viewport) -> Self {
        Viewport {
            x: v.x,
            y: v.y,
            zoom: v.zoom,
        }
    }
}

/// The visible part of the plane: pan and zoom.
#[derive(InputObject, Clone, Copy)]
pub struct ViewportInput {
    pub x: f64,
    pub y: f64,
    pub zoom: f64,
}

impl From<ViewportInput> for domain::Viewport {
    fn from(v: ViewportInput) -> Self {
        domain::Viewport {
            x: v.x,
            y: v.y,
            zoom: v.zoom,
        }
    }
}

/// A node as the editor sends it; the fields mirror `CanvasNode`.
#[derive(InputObject, Clone)]
pub struct CanvasNodeInput {
    pub id: ID,
    /// Defaults to `default`.
    #[graphql(name = "type")]
    pub node_type: Option<String>,
    pub position: PositionInput,
    pub width: Option<f64>,
    pub height: Option<f64>,
    /// Defaults to 0.
    pub z_index: Option<i32>,
    pub parent_id: Option<ID>,
    /// Defaults to `{}`.
    pub data: Option<JsonText>,
    pub hidden: Option<bool>,
    pub draggable: Option<bool>,
    pub selectable: Option<bool>,
    pub connectable: Option<bool>,
    pub deletable: Option<bool>,
    pub focusable: Option<bool>,
    pub extent: Option<Json<Value>>,
    pub expand_parent: Option<bool>,
    pub source_position: Option<String>,
    pub target_position: Option<String>,
    pub drag_handle: Option<String>,
    pub style: Option<Json<Value>>,
    pub class_name: Option<String>,
}

impl From<CanvasNodeInput> for NodeInput {
    fn from(input: CanvasNodeInput) -> Self {
        NodeInput {
            id: input.id.0,
            node_type: input.node_type.unwrap_or_else(|| "default".to_owned()),
            x: input.position.x,
            y: input.position.y,
            width: input.width,
            height: input.height,
            z_index: input.z_index.unwrap_or(0),
            parent_id: input.parent_id.map(|id| id.0),
            data: input.data.unwrap_or_else(JsonText::empty_object),
            attrs: NodeAttrs {
                hidden: input.hidden,
                draggable: input.draggable,
                selectable: input.selectable,
                connectable: input.connectable,
                deletable: input.deletable,
                focusable: input.focusable,
                extent: input.extent.map(|v| v.0),
                expand_parent: input.expand_parent,
                source_position: input.source_position,
                target_position: input.target_position,
                drag_handle: input.drag_handle,
                style: input.style.map(|v| v.0),
                class_name: input.class_name,
            },
        }
    }
}

/// An edge as the editor sends it; the fields mirror `CanvasEdge`.
#[derive(InputObject, Clone)]
pub struct CanvasEdgeInput {
    pub id: ID,
    pub source: ID,
    pub source_handle: Option<String>,
    pub target: ID,
    pub target_handle: Option<String>,
    /// Defaults to `default`.
    #[graphql(name = "type")]
    pub edge_type: Option<String>,
    pub data: Option<JsonText>,
    pub animated: Option<bool>,
    pub hidden: Option<bool>,
    pub deletable: Option<bool>,
    pub selectable: Option<bool>,
    pub label: Option<String>,
    pub marker_start: Option<Json<Value>>,
    pub marker_end: Option<Json<Value>>,
    pub z_index: Option<i32>,
    pub style: Option<Json<Value>>,
    pub class_name: Option<String>,
}

impl From<CanvasEdgeInput> for EdgeInput {
    fn from(input: CanvasEdgeInput) -> Self {
        EdgeInput {
            id: input.id.0,
            source: input.source.0,
            source_handle: input.source_handle,
            target: input.target.0,
            target_handle: input.target_handle,
            edge_type: input.edge_type.unwrap_or_else(|| "default".to_owned()),
            data: input.data,
            attrs: EdgeAttrs {
                animated: input.animated,
                hidden: input.hidden,
                deletable: input.deletable,
                selectable: input.selectable,
                label: input.label,
                marker_start: input.marker_start.map(|v| v.0),
                marker_end: input.marker_end.map(|v| v.0),
                z_index: input.z_index,
                style: input.style.map(|v| v.0),
                class_name: input.class_name,
            },
        }
    }
}

fn patch<T, U: From<T>>(value: MaybeUndefined<T>) -> Patch<U> {
    match value {
        MaybeUndefined::Undefined => Patch::Keep,
        MaybeUndefined::Null => Patch::Clear,
        MaybeUndefined::Value(v) => Patch::Set(v.into()),
    }
}

/// A new, empty canvas.
#[derive(InputObject)]
pub struct CreateCanvasInput {
    /// Up to 128 characters; a UUID v7 is made when absent.
    pub id: Option<ID>,
    pub name: String,
    pub description: Option<String>,
    pub thumbnail: Option<String>,
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    pub viewport: Option<ViewportInput>,
}

/// Metadata changes; a field left out stays as it is, a field set to null is cleared.
#[derive(InputObject)]
pub struct UpdateCanvasInput {
    pub name: Option<String>,
    pub description: MaybeUndefined<String>,
    pub thumbnail: MaybeUndefined<String>,
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    pub viewport: MaybeUndefined<ViewportInput>,
}

/// A whole canvas as the editor holds it. Metadata fields left out keep their stored value;
/// `nodes` and `edges` replace the stored ones.
#[derive(InputObject)]
pub struct CanvasSnapshotInput {
    /// The canvas to save; created when new. A UUID v7 is made when absent.
    pub id: Option<ID>,
    pub name: String,
    pub description: MaybeUndefined<String>,
    pub thumbnail: MaybeUndefined<String>,
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    pub viewport: MaybeUndefined<ViewportInput>,
    /// In the editor's order: parents before their children.
    pub nodes: Vec<CanvasNodeInput>,
    pub edges: Vec<CanvasEdgeInput>,
}

/// Changes to some nodes and edges; the others stay as they are.
#[derive(InputObject, Default)]
pub struct CanvasChangesInput {
    /// New nodes go after the existing ones; existing ones are replaced in place.
    pub upsert_nodes: Option<Vec<CanvasNodeInput>>,
    /// Their edges are deleted with them.
    pub delete_node_ids: Option<Vec<ID>>,
    pub upsert_edges: Option<Vec<CanvasEdgeInput>>,
    pub delete_edge_ids: Option<Vec<ID>>,
}

/// Which of your canvases to list.
#[derive(InputObject, Default)]
pub struct CanvasFilter {
    pub is_template: Option<bool>,
    pub is_public: Option<bool>,
    /// The name contains this text, ignoring case.
    pub search: Option<String>,
}

impl From<CanvasFilter> for DomainFilter {
    fn from(f: CanvasFilter) -> Self {
        DomainFilter {
            is_template: f.is_template,
            is_public: f.is_public,
            search: f.search,
        }
    }
}

/// A canvas in a list, with the cursor to page on from it.
#[derive(SimpleObject)]
pub struct CanvasConnectionEdge {
    pub cursor: String,
    pub node: Canvas,
}

/// What a list's `totalCount` counts, when asked.
enum Total {
    Owned(DomainFilter),
    Templates,
}

/// A page of canvases, newest change first (Relay cursor connection).
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CanvasConnection {
    pub edges: Vec<CanvasConnectionEdge>,
    pub nodes: Vec<Canvas>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    total: Total,
}

#[ComplexObject]
impl CanvasConnection {
    /// Canvases in the whole list, not only this page.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let req = request(ctx);
        match &self.total {
            Total::Templates => Ok(domain::count_templates(req.db).await?),
            Total::Owned(filter) => Ok(domain::count_canvases(req.db, req.actor, filter).await?),
        }
    }
}

impl CanvasConnection {
    fn new(page: domain::CanvasPage, total: Total) -> Self {
        let page = paged(page, domain::cursor_of, Canvas);
        CanvasConnection {
            page_info: page.page_info,
            edges: page
                .edges
                .into_iter()
                .map(|(cursor, node)| CanvasConnectionEdge { cursor, node })
                .collect(),
            nodes: page.nodes,
            total,
        }
    }
}

/// Loads what the query asks of every canvas of a page in one batch per field, before the
/// canvases resolve one by one (and hit the loaders' cache). Left to the loaders' batch delay
/// alone, a slow poll could split a page into several batches.
async fn prime_page(ctx: &Context<'_>, canvases: &[canvas_row::Model]) -> Result<()> {
    let look = ctx.look_ahead();
    let wants = |field: &str| {
        look.field("nodes").field(field).exists()
            || look.field("edges").field("node").field(field).exists()
    };
    let ids: Vec<String> = canvases.iter().map(|c| c.id.clone()).collect();
    let mut owners: Vec<String> = canvases.iter().map(|c| c.owner_id.clone()).collect();
    owners.sort_unstable();
    owners.dedup();
    let loaders = ctx.data_unchecked::<Loaders>();
    futures::try_join!(
        async {
            if wants("nodeCount") {
                loaders.node_counts.load_many(ids.clone()).await?;
            }
            Ok::<(), Error>(())
        },
        async {
            if wants("edgeCount") {
                loaders.edge_counts.load_many(ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if wants("nodes") {
                loaders.nodes.load_many(ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if wants("edges") {
                loaders.edges.load_many(ids.clone()).await?;
            }
            Ok(())
        },
        async {
            if wants("owner") {
                loaders.users.load_many(owners.clone()).await?;
            }
            Ok(())
        },
        async {
            if wants("assets") {
                loaders.assets.load_many(ids.clone()).await?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

#[derive(Default)]
pub struct CanvasQuery;

#[Object]
impl CanvasQuery {
    /// Your canvases, newest change first.
    async fn canvases(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<CanvasFilter>,
    ) -> Result<CanvasConnection> {
        let req = request(ctx);
        let first = page_size(first, req.limits)?;
        let filter: DomainFilter = filter.unwrap_or_default().into();
        let page = domain::list_canvases(
            req.db,
            req.actor,
            &filter,
            first,
            Cursor::decode_after(after.as_deref())?,
        )
        .await?;
        prime_page(ctx, &page.items).await?;
        Ok(CanvasConnection::new(page, Total::Owned(filter)))
    }

    /// A canvas you can read, or null when there is none.
    async fn canvas(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Canvas>> {
        let req = request(ctx);
        Ok(domain::find_readable(req.db, req.actor, &id)
            .await?
            .map(Canvas))
    }

    /// Whether a canvas you can read has this id.
    async fn canvas_exists(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let req = request(ctx);
        Ok(domain::find_readable(req.db, req.actor, &id)
            .await?
            .is_some())
    }

    /// Every template, newest change first.
    async fn templates(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CanvasConnection> {
        let req = request(ctx);
        let first = page_size(first, req.limits)?;
        let page =
            domain::list_templates(req.db, first, Cursor::decode_after(after.as_deref())?).await?;
        prime_page(ctx, &page.items).await?;
        Ok(CanvasConnection::new(page, Total::Templates))
    }
}

#[derive(Default)]
pub struct CanvasMutation;

#[Object]
impl CanvasMutation {
    /// Creates an empty canvas.
    async fn create_canvas(&self, ctx: &Context<'_>, input: CreateCanvasInput) -> Result<Canvas> {
        let req = request(ctx);
        let meta = CanvasMetaInput {
            name: Some(input.name),
            description: input.description.map_or(Patch::Keep, Patch::Set),
            thumbnail: input.thumbnail.map_or(Patch::Keep, Patch::Set),
            is_template: input.is_template,
            is_public: input.is_public,
            viewport: input.viewport.map_or(Patch::Keep, |v| Patch::Set(v.into())),
        };
        let id = input.id.map(|id| id.0);
        let log = EventLog::new(req.live, None)?;
        Ok(Canvas(
            domain::create_canvas(req.db, req.actor, id, meta, req.limits, &log).await?,
        ))
    }

    /// Changes a canvas's metadata; nodes and edges stay as they are.
    async fn update_canvas(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCanvasInput,
        expected_version: Option<i64>,
        #[graphql(desc = "Echoed in the events of this write, so a client can skip its own.")]
        client_mutation_id: Option<String>,
    ) -> Result<Canvas> {
        let req = request(ctx);
        let meta = CanvasMetaInput {
            name: input.name,
            description: patch(input.description),
            thumbnail: patch(input.thumbnail),
            is_template: input.is_template,
            is_public: input.is_public,
            viewport: patch(input.viewport),
        };
        let log = EventLog::new(req.live, client_mutation_id.as_deref())?;
        Ok(Canvas(
            domain::update_canvas(
                req.db,
                req.actor,
                &id,
                meta,
                expected_version,
                req.limits,
                &log,
            )
            .await?,
        ))
    }

    /// Saves a whole canvas, creating it when its id is new. Only what changed is written; a
    /// save that changes nothing keeps the version.
    async fn save_canvas(
        &self,
        ctx: &Context<'_>,
        input: CanvasSnapshotInput,
        expected_version: Option<i64>,
        #[graphql(desc = "Echoed in the events of this write, so a client can skip its own.")]
        client_mutation_id: Option<String>,
    ) -> Result<Canvas> {
        let req = request(ctx);
        let snapshot = CanvasSnapshot {
            id: input.id.map(|id| id.0),
            meta: CanvasMetaInput {
                name: Some(input.name),
                description: patch(input.description),
                thumbnail: patch(input.thumbnail),
                is_template: input.is_template,
                is_public: input.is_public,
                viewport: patch(input.viewport),
            },
            nodes: input.nodes.into_iter().map(Into::into).collect(),
            edges: input.edges.into_iter().map(Into::into).collect(),
        };
        let log = EventLog::new(req.live, client_mutation_id.as_deref())?;
        Ok(Canvas(
            domain::save_canvas(
                req.db,
                req.actor,
                snapshot,
                expected_version,
                req.limits,
                &log,
            )
            .await?,
        ))
    }

    /// Upserts and deletes some nodes and edges; the rest of the canvas stays as it is.
    async fn apply_canvas_changes(
        &self,
        ctx: &Context<'_>,
        canvas_id: ID,
        changes: CanvasChangesInput,
        expected_version: Option<i64>,
        #[graphql(desc = "Echoed in the events of this write, so a client can skip its own.")]
        client_mutation_id: Option<String>,
    ) -> Result<Canvas> {
        let req = request(ctx);
        let changes = CanvasChanges {
            upsert_nodes: changes
                .upsert_nodes
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            delete_node_ids: changes
                .delete_node_ids
                .unwrap_or_default()
                .into_iter()
                .map(|id| id.0)
                .collect(),
            upsert_edges: changes
                .upsert_edges
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            delete_edge_ids: changes
                .delete_edge_ids
                .unwrap_or_default()
                .into_iter()
                .map(|id| id.0)
                .collect(),
        };
        let log = EventLog::new(req.live, client_mutation_id.as_deref())?;
        Ok(Canvas(
            domain::apply_canvas_changes(
                req.db,
                req.actor,
                &canvas_id,
                changes,
                expected_version,
                req.limits,
                &log,
            )
            .await?,
        ))
    }

    /// Deletes a canvas with its nodes, edges, assets and generations.
    async fn delete_canvas(
        &self,
        ctx: &Context<'_>,
        id: ID,
        #[graphql(desc = "Echoed in the `CanvasDeleted` event.")] client_mutation_id: Option<
            String,
        >,
    ) -> Result<bool> {
        let req = request(ctx);
        let log = EventLog::new(req.live, client_mutation_id.as_deref())?;
        domain::delete_canvas(req.db, &req.assets.store, req.actor, &id, &log).await?;
        Ok(true)
    }

    /// Copies a canvas you can read (yours, a public one or a template) into a new canvas of
    /// yours, with its nodes and edges. This is how templates are used.
    async fn duplicate_canvas(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
    ) -> Result<Canvas> {
        let req = request(ctx);
        let log = EventLog::new(req.live, None)?;
        Ok(Canvas(
            domain::duplicate_canvas(req.db, req.actor, &id, name, req.limits, &log).await?,
        ))
    }
}
