//! The one error type of Easel and what each variant looks like to a client.
//!
//! Domain functions return [`Error`]; the GraphQL layer turns it into an error with a stable
//! `extensions.code`. Database and storage failures are logged once, with their cause, and the
//! client sees only a request id to quote.

use std::sync::Arc;

use async_graphql::ErrorExtensions;

/// Everything that can go wrong in a request, by what the client should do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// `BAD_USER_INPUT`: the input is wrong; `field` names the offending field or item
    /// (`nodes[3].parentId`), `message` says why. Nothing was written.
    #[error("{field}: {message}")]
    BadInput { field: String, message: String },

    /// `NOT_FOUND`: no such object, or one the caller may not see (the two are not told apart).
    #[error("{what} '{id}' not found")]
    NotFound { what: &'static str, id: String },

    /// `CONFLICT`: the write named a version other than the stored one; `current` is the stored
    /// version, so the client can refetch and retry. Nothing was written.
    #[error(
        "version conflict: expected version {expected}, but the canvas is at version {current}"
    )]
    Conflict { expected: i64, current: i64 },

    /// `CONFLICT`: a key-value write named a version other than the stored one (0 for a key that
    /// does not exist); `current` is the stored version. Nothing was written.
    #[error("version conflict: expected version {expected}, but the entry is at version {current}")]
    EntryConflict { expected: i64, current: i64 },

    /// `CONFLICT` for a write that collides with an existing object (an id already taken).
    #[error("{field}: {message}")]
    AlreadyExists { field: String, message: String },

    /// `UNAUTHENTICATED`: the caller must sign in (or sent a token that does not verify).
    #[error("authentication required")]
    Unauthenticated,

    /// `FORBIDDEN`: the caller is known but may not do this.
    #[error("forbidden")]
    Forbidden,

    /// `PAYLOAD_TOO_LARGE`: the request or an item of it is over a configured limit.
    #[error("{what} is larger than the limit of {limit} bytes")]
    PayloadTooLarge { what: String, limit: usize },

    /// `INTERNAL_SERVER_ERROR`: a failure of the database or the store. The cause is logged,
    /// never shown; the client sees a request id.
    #[error("internal error")]
    Internal(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A `BAD_USER_INPUT` error about `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A `NOT_FOUND` error for a kind of object and its id.
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            id: id.into(),
        }
    }

    /// An `INTERNAL_SERVER_ERROR` with its cause kept for the log.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Arc::new(cause))
    }

    /// The stable `extensions.code` clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadInput { .. } => "BAD_USER_INPUT",
            Error::NotFound { .. } => "NOT_FOUND",
            Error::Conflict { .. } | Error::EntryConflict { .. } | Error::AlreadyExists { .. } => {
                "CONFLICT"
            }
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::Forbidden => "FORBIDDEN",
            Error::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Error::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(err: sea_orm::DbErr) -> Self {
        Error::internal(err)
    }
}

impl From<sea_orm::TransactionError<Error>> for Error {
    fn from(err: sea_orm::TransactionError<Error>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(err) => err,
        }
    }
}

tokio::task_local! {
    /// The id of the HTTP request being served, for errors and logs.
    pub static REQUEST_ID: String;
}

/// The current request's id, or a fresh one outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| uuid::Uuid::now_v7().to_string())
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        match self {
            Error::Internal(cause) => {
                let request_id = current_request_id();
                tracing::error!(request_id, error = %ErrorChain(cause.as_ref()), "internal error");
                async_graphql::Error::new(format!(
                    "internal server error; quote request id {request_id} when reporting it"
                ))
                .extend_with(|_, e| {
                    e.set("code", code);
                    e.set("requestId", request_id.clone());
                })
            }
            Error::BadInput { field, .. } | Error::AlreadyExists { field, .. } => {
                async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("field", field.as_str());
                })
            }
            Error::Conflict { expected, current } | Error::EntryConflict { expected, current } => {
                async_graphql::Error::new(self.to_string()).extend_with(|_, e| {
                    e.set("code", code);
                    e.set("expectedVersion", *expected);
                    e.set("currentVersion", *current);
                })
            }
            _ => {
                async_graphql::Error::new(self.to_string()).extend_with(|_, e| e.set("code", code))
            }
        }
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        err.extend()
    }
}

/// Displays an error with its sources, `outer: inner: innermost`, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}
