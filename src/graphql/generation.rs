//! Generations in GraphQL. (Being built: see issue 4.)

use async_graphql::{Context, Object};

#[derive(Default)]
pub struct GenerationQuery;

#[Object]
impl GenerationQuery {
    /// Placeholder until generations land.
    async fn generations_ready(&self, _ctx: &Context<'_>) -> bool {
        false
    }
}

#[derive(Default)]
pub struct GenerationMutation;

#[Object]
impl GenerationMutation {
    /// Placeholder until generations land.
    async fn generations_noop(&self, _ctx: &Context<'_>) -> bool {
        false
    }
}
