//! Users: who is signed in.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entity::user;

use super::request;

/// A person who owns canvases.
pub struct User(pub user::Model);

#[Object]
impl User {
    /// The user's id: the identity provider's subject, or `local` in self-hosted mode.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    /// Shown to the user themself only.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        let actor = request(ctx).actor;
        if actor.is(&self.0.id) {
            self.0.email.as_deref()
        } else {
            None
        }
    }

    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The user making the request.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let req = request(ctx);
        Ok(User(crate::auth::current_user(req.db, req.actor).await?))
    }
}
