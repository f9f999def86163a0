//! Settings, API keys and usage in GraphQL. (Being built: see issue 4.)

use async_graphql::{Context, Object};

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// Placeholder until settings land.
    async fn settings_ready(&self, _ctx: &Context<'_>) -> bool {
        false
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Placeholder until settings land.
    async fn settings_noop(&self, _ctx: &Context<'_>) -> bool {
        false
    }
}
