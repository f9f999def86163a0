//! The GraphQL layer: schema assembly, one module per area, thin resolvers that call the domain
//! and map its results to GraphQL objects, and the DataLoaders that keep lists free of N+1.

mod asset;
mod canvas;
mod connection;
mod generation;
mod graph;
mod import;
mod kv;
mod limits;
mod live;
mod loaders;
mod raw;
mod server;
mod settings;
mod user;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema};
use sea_orm::DatabaseConnection;

pub use live::SessionExpiry;
pub use loaders::Loaders;
pub use raw::{GraphQLBody, RawTexts};

use crate::assets::Assets;
use crate::auth::Actor;
use crate::config::{AbuseLimits, KvConfig, Limits};
use crate::info::ServerInfo;
use crate::live::Live;
use crate::settings::Keyring;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    canvas::CanvasQuery,
    asset::AssetQuery,
    generation::GenerationQuery,
    settings::SettingsQuery,
    kv::KvQuery,
    server::ServerQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    canvas::CanvasMutation,
    asset::AssetMutation,
    generation::GenerationMutation,
    settings::SettingsMutation,
    kv::KvMutation,
    import::ImportMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(live::LiveSubscription);

pub type EaselSchema = Schema<Query, Mutation, Subscription>;

/// What every resolver may read from the schema: the database, the asset store, the limits, the
/// keyring that seals API keys, the facts `serverInfo` shows, and the live hub that canvas
/// events go through.
#[derive(Clone)]
pub struct Shared {
    pub db: DatabaseConnection,
    pub assets: Assets,
    pub limits: Limits,
    pub kv: KvConfig,
    pub keyring: Keyring,
    pub info: Arc<ServerInfo>,
    pub live: Live,
}

/// The URL this server is reached at, for the upload and download URLs it hands out; set per
/// request.
#[derive(Clone, Debug)]
pub struct BaseUrl(pub String);

/// Builds the schema over a database.
pub fn build_schema(shared: Shared, abuse: &AbuseLimits, introspection: bool) -> EaselSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(shared)
    .limit_depth(abuse.max_depth)
    .limit_complexity(abuse.max_complexity)
    .extension(limits::FieldLimit {
        max_fields: abuse.max_fields,
        max_aliases: abuse.max_aliases,
    });
    if !introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// The schema's SDL, as `easel schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

/// The per-request pieces a resolver needs.
pub(crate) struct Request<'a> {
    pub db: &'a DatabaseConnection,
    pub assets: &'a Assets,
    pub limits: &'a Limits,
    pub actor: &'a Actor,
    pub base_url: &'a str,
    pub live: &'a Live,
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> Request<'a> {
    let shared = ctx.data_unchecked::<Shared>();
    Request {
        db: &shared.db,
        assets: &shared.assets,
        limits: &shared.limits,
        actor: ctx.data_unchecked::<Actor>(),
        base_url: ctx.data_opt::<BaseUrl>().map_or("", |b| b.0.as_str()),
        live: &shared.live,
    }
}

/// Checks a page size against the limit; `first` defaults to 20.
pub(crate) fn page_size(first: Option<i32>, limits: &Limits) -> crate::Result<usize> {
    match first {
        None => Ok(20.min(limits.max_page_size)),
        Some(n) if n < 0 => Err(crate::Error::bad_input("first", "must not be negative")),
        Some(n) if n as usize > limits.max_page_size => Err(crate::Error::bad_input(
            "first",
            format!("must be at most {}", limits.max_page_size),
        )),
        Some(n) => Ok(n as usize),
    }
}
