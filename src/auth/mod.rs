//! Who is asking. In self-hosted mode every request acts as the one local user; the hosted JWT
//! mode will produce other actors here.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::error::{Error, Result};
use crate::time::now;

/// The id of the implicit user of self-hosted mode.
pub const LOCAL_USER_ID: &str = "local";

/// The caller of a request, as the domain layer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A known user, by id (the JWT `sub`, or `local`).
    User(String),
    /// A caller without credentials: may read what is public, may not write.
    Anonymous,
}

impl Actor {
    /// The one user of self-hosted mode.
    pub fn local() -> Self {
        Actor::User(LOCAL_USER_ID.to_owned())
    }

    /// The user id, or `UNAUTHENTICATED` for an anonymous caller; for writes.
    pub fn user_id(&self) -> Result<&str> {
        match self {
            Actor::User(id) => Ok(id),
            Actor::Anonymous => Err(Error::Unauthenticated),
        }
    }

    /// Whether this actor is the user `owner_id`.
    pub fn is(&self, owner_id: &str) -> bool {
        matches!(self, Actor::User(id) if id == owner_id)
    }
}

/// Makes sure the user row exists; the first request of a user creates it.
pub async fn ensure_user(db: &impl ConnectionTrait, user_id: &str) -> Result<()> {
    let row = entity::user::ActiveModel {
        id: Set(user_id.to_owned()),
        email: Set(None),
        name: Set(None),
        avatar_url: Set(None),
        created_at: Set(now()),
    };
    entity::user::Entity::insert(row)
        .on_conflict(
            OnConflict::column(entity::user::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The actor's user row, created on first sight.
pub async fn current_user(db: &impl ConnectionTrait, actor: &Actor) -> Result<entity::user::Model> {
    let id = actor.user_id()?;
    if let Some(user) = entity::user::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
    {
        return Ok(user);
    }
    ensure_user(db, id).await?;
    entity::user::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("user", id))
}
