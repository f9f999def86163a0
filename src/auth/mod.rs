//! Who is asking. In self-hosted mode every request acts as the one local user; in hosted mode
//! a verified JWT names the user, and a request without one is anonymous.

pub mod jwt;

use jwt::{Claims, JwtConfig, TokenRejected, Verifier};

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use crate::config::ConfigError;
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

/// Tells who a request comes from.
#[derive(Debug)]
pub enum Authenticator {
    /// Self-hosted: every request is the local user.
    Local,
    /// Hosted: a bearer token names the user; no token, an anonymous caller.
    Jwt(Verifier),
}

impl Authenticator {
    /// The authenticator of a configuration: hosted when a JWT configuration is given.
    pub fn new(jwt: Option<&JwtConfig>) -> Result<Self, ConfigError> {
        match jwt {
            None => Ok(Authenticator::Local),
            Some(config) => Ok(Authenticator::Jwt(Verifier::new(config)?)),
        }
    }

    /// Whether this is the hosted, multi-user mode.
    pub fn is_hosted(&self) -> bool {
        matches!(self, Authenticator::Jwt(_))
    }

    /// The caller of a request with this `Authorization` header (and the token's claims). An
    /// invalid token is refused, never taken as anonymous.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<(Actor, Option<Claims>), TokenRejected> {
        let verifier = match self {
            Authenticator::Local => return Ok((Actor::local(), None)),
            Authenticator::Jwt(verifier) => verifier,
        };
        let Some(header) = authorization else {
            return Ok((Actor::Anonymous, None));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenRejected::Malformed)?;
        let claims = verifier.verify(token)?;
        Ok((Actor::User(claims.sub.clone()), Some(claims)))
    }
}

/// Creates the user of a token on first sight and refreshes `email`, `name` and `picture` when
/// the token says otherwise. An email another user already has is left out rather than failing
/// the request.
pub async fn sync_user(db: &impl ConnectionTrait, claims: &Claims) -> Result<()> {
    use entity::user;
    let stored = user::Entity::find_by_id(claims.sub.clone()).one(db).await?;
    let wanted = |email: Option<String>| user::Model {
        id: claims.sub.clone(),
        email,
        name: claims.name.clone(),
        avatar_url: claims.picture.clone(),
        created_at: stored.as_ref().map_or_else(now, |u| u.created_at),
    };
    let row = wanted(claims.email.clone());
    if stored.as_ref() == Some(&row) {
        return Ok(());
    }
    let write = |row: user::Model| async move {
        let active = user::ActiveModel::from(row);
        user::Entity::insert(active)
            .on_conflict(
                OnConflict::column(user::Column::Id)
                    .update_columns([
                        user::Column::Email,
                        user::Column::Name,
                        user::Column::AvatarUrl,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await
    };
    if write(row).await.is_err() {
        // Most likely the email belongs to another user (the column is unique).
        write(wanted(None)).await?;
    }
    Ok(())
}
