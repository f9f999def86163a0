//! Settings, sealed API keys and usage figures in GraphQL: types, inputs, and their thin
//! resolvers.

use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::asset::AssetKind;
use entity::generation::GenerationStatus;
use serde_json::Value;

use super::asset::BigInt;
use super::{Shared, request};
use crate::canvas::Patch;
use crate::settings::{self as domain, Keyring, SettingsUpdate};
use crate::usage as usage_domain;

type Result<T> = async_graphql::Result<T>;

fn keyring<'a>(ctx: &Context<'a>) -> &'a Keyring {
    &ctx.data_unchecked::<Shared>().keyring
}

/// Your settings; they follow you from device to device. Defaults until your first change.
#[derive(SimpleObject)]
pub struct Settings {
    /// The editor's theme; `dark` until you pick one.
    pub theme: String,
    /// The model new generator nodes start with.
    pub default_model: Option<String>,
    /// Whatever the client keeps per user: always a JSON object, `{}` at first.
    pub preferences: Json<Value>,
    /// The providers you stored an API key for, by name; the keys themselves are never shown
    /// here (ask `apiKey`).
    pub api_keys: Vec<ApiKeyInfo>,
    /// Your last change; null before the first.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<domain::Settings> for Settings {
    fn from(s: domain::Settings) -> Self {
        Settings {
            theme: s.theme,
            default_model: s.default_model,
            preferences: Json(s.preferences),
            api_keys: s.api_keys.into_iter().map(ApiKeyInfo::from).collect(),
            updated_at: s.updated_at,
        }
    }
}

/// A stored API key, as much as may be shown of it.
#[derive(SimpleObject)]
pub struct ApiKeyInfo {
    /// The provider's name, e.g. `openai`, `fal`, `replicate`.
    pub provider: String,
    /// The key's last four characters, to tell keys apart (fewer for keys under 16 characters:
    /// never more than a quarter of a key).
    pub last4: String,
    pub updated_at: DateTime<Utc>,
}

impl From<domain::ApiKeyInfo> for ApiKeyInfo {
    fn from(info: domain::ApiKeyInfo) -> Self {
        ApiKeyInfo {
            provider: info.provider,
            last4: info.last4,
            updated_at: info.updated_at,
        }
    }
}

/// Changes to your settings; fields left out (or null, for `theme`) keep their value.
#[derive(InputObject)]
pub struct UpdateSettingsInput {
    /// 1 to 64 characters.
    pub theme: Option<String>,
    /// Up to 128 characters; null clears it.
    pub default_model: MaybeUndefined<String>,
    /// A JSON merge patch (RFC 7396) for the stored preferences: an object whose keys replace
    /// the stored ones, nested objects merge, and a key set to null is removed. At most 64 KiB
    /// after the merge.
    pub preferences: Option<Json<Value>>,
}

/// Your assets by kind.
#[derive(SimpleObject)]
pub struct AssetUsage {
    /// Assets of every kind, in any status (PENDING uploads and FAILED ones too).
    pub total: i64,
    pub image: i64,
    pub video: i64,
    pub audio: i64,
    pub file: i64,
}

/// Your generation runs by status.
#[derive(SimpleObject)]
pub struct GenerationUsage {
    pub total: i64,
    pub pending: i64,
    pub processing: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// What you store and run.
#[derive(SimpleObject)]
pub struct Usage {
    /// Your canvases, templates included.
    pub canvases: i64,
    /// Nodes of all your canvases.
    pub nodes: i64,
    /// Edges of all your canvases.
    pub edges: i64,
    pub assets: AssetUsage,
    /// Bytes your READY assets take in the object store (external assets take none).
    pub stored_bytes: BigInt,
    pub generations: GenerationUsage,
}

impl From<usage_domain::Usage> for Usage {
    fn from(u: usage_domain::Usage) -> Self {
        Usage {
            canvases: u.canvases,
            nodes: u.nodes,
            edges: u.edges,
            assets: AssetUsage {
                total: u.assets_total(),
                image: u.assets_of(AssetKind::Image),
                video: u.assets_of(AssetKind::Video),
                audio: u.assets_of(AssetKind::Audio),
                file: u.assets_of(AssetKind::File),
            },
            stored_bytes: BigInt(u.stored_bytes()),
            generations: GenerationUsage {
                total: u.generations_total(),
                pending: u.generations_with(GenerationStatus::Pending),
                processing: u.generations_with(GenerationStatus::Processing),
                completed: u.generations_with(GenerationStatus::Completed),
                failed: u.generations_with(GenerationStatus::Failed),
                cancelled: u.generations_with(GenerationStatus::Cancelled),
            },
        }
    }
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// Your settings, with defaults for what you never set.
    async fn settings(&self, ctx: &Context<'_>) -> Result<Settings> {
        let req = request(ctx);
        Ok(domain::settings(req.db, req.actor).await?.into())
    }

    /// Your API key for `provider`, in plaintext (to you only); null when you stored none.
    async fn api_key(&self, ctx: &Context<'_>, provider: String) -> Result<Option<String>> {
        let req = request(ctx);
        Ok(domain::api_key(req.db, keyring(ctx), req.actor, &provider).await?)
    }

    /// What you store and run: counts of canvases, nodes, edges, assets and generations, and
    /// the bytes your assets take.
    async fn usage(&self, ctx: &Context<'_>) -> Result<Usage> {
        let req = request(ctx);
        Ok(usage_domain::usage(req.db, req.actor).await?.into())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Changes your theme, default model and preferences (merged, RFC 7396).
    async fn update_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateSettingsInput,
    ) -> Result<Settings> {
        let req = request(ctx);
        let update = SettingsUpdate {
            theme: input.theme,
            default_model: match input.default_model {
                MaybeUndefined::Undefined => Patch::Keep,
                MaybeUndefined::Null => Patch::Clear,
                MaybeUndefined::Value(model) => Patch::Set(model),
            },
            preferences: input.preferences.map(|p| p.0),
        };
        Ok(domain::update_settings(req.db, req.actor, update)
            .await?
            .into())
    }

    /// Stores your API key for `provider` (1 to 64 characters of a-z, 0-9, `_`, `.`, `-`),
    /// sealed, replacing any earlier one. The key: 1 to 4096 characters.
    async fn set_api_key(
        &self,
        ctx: &Context<'_>,
        provider: String,
        #[graphql(secret)] key: String,
    ) -> Result<ApiKeyInfo> {
        let req = request(ctx);
        Ok(
            domain::set_api_key(req.db, keyring(ctx), req.actor, &provider, &key)
                .await?
                .into(),
        )
    }

    /// Removes your API key for `provider`; false when there was none.
    async fn delete_api_key(&self, ctx: &Context<'_>, provider: String) -> Result<bool> {
        let req = request(ctx);
        Ok(domain::delete_api_key(req.db, req.actor, &provider).await?)
    }
}
