//! The GraphQL layer: schema assembly, one module per area, thin resolvers that call the domain
//! and map its results to GraphQL objects, and the DataLoaders that keep lists free of N+1.

mod canvas;
mod loaders;
mod user;

use async_graphql::{Context, EmptySubscription, MergedObject, Schema};
use sea_orm::DatabaseConnection;

pub use loaders::Loaders;

use crate::auth::Actor;
use crate::config::Limits;

#[derive(MergedObject, Default)]
pub struct Query(user::UserQuery, canvas::CanvasQuery);

#[derive(MergedObject, Default)]
pub struct Mutation(canvas::CanvasMutation);

pub type EaselSchema = Schema<Query, Mutation, EmptySubscription>;

/// What every resolver may read from the schema: the database and the limits.
#[derive(Clone)]
pub struct Shared {
    pub db: DatabaseConnection,
    pub limits: Limits,
}

/// Builds the schema over a database.
pub fn build_schema(shared: Shared) -> EaselSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .data(shared)
        .finish()
}

/// The schema's SDL, as `easel schema` prints it and `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .finish()
        .sdl()
}

/// The per-request pieces a resolver needs.
pub(crate) struct Request<'a> {
    pub db: &'a DatabaseConnection,
    pub limits: &'a Limits,
    pub actor: &'a Actor,
}

pub(crate) fn request<'a>(ctx: &Context<'a>) -> Request<'a> {
    let shared = ctx.data_unchecked::<Shared>();
    Request {
        db: &shared.db,
        limits: &shared.limits,
        actor: ctx.data_unchecked::<Actor>(),
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
