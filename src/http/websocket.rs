//! GraphQL over WebSocket at `GET /graphql`, for subscriptions: `graphql-transport-ws` and the
//! older `graphql-ws` (subscriptions-transport-ws), picked by `Sec-WebSocket-Protocol`.
//!
//! Who is asking: a token in the `connection_init` payload (`{"Authorization": "Bearer ..."}`
//! or `{"token": "..."}`) wins; otherwise the upgrade request's `Authorization` header; otherwise
//! anonymous (hosted mode) or the local user. A token that does not verify refuses the
//! connection. Subscriptions end when the token expires.

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{FromRequestParts, Request, WebSocketUpgrade};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::DateTime;
use futures::stream::BoxStream;
use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::{base_url, over_rate, unauthorized};
use crate::app::AppState;
use crate::auth::jwt::Claims;
use crate::auth::{Actor, Authenticator, sync_user};
use crate::error::Error;
use crate::graphql::{BaseUrl, EaselSchema, Loaders, SessionExpiry};

/// Upgrades `GET /graphql` to a GraphQL WebSocket.
pub(super) async fn upgrade(state: AppState, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (
                status,
                "expected Sec-WebSocket-Protocol: graphql-transport-ws or graphql-ws",
            )
                .into_response();
        }
    };
    let socket = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(socket) => socket,
        Err(rejection) => return rejection.into_response(),
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("invalid"));
    let (actor, claims) = match state.auth.authenticate(authorization) {
        Ok(found) => found,
        Err(rejected) => return unauthorized(&rejected),
    };
    if let Some(response) = over_rate(&state, &actor, peer) {
        return response;
    }
    let base_url = base_url(&state, &parts.headers);
    let executor = WebSocketExecutor {
        schema: state.schema.clone(),
        db: state.db.clone(),
    };
    let stopping = state.live.stopping();
    socket
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let serve = GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    connection_data(&state, actor, claims, &payload, base_url).await
                })
                .serve();
            tokio::select! {
                () = serve => {}
                () = stopping.cancelled() => {}
            }
        })
}

/// The token a `connection_init` payload carries, as an `Authorization` header value.
fn payload_authorization(payload: &Value) -> Option<String> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(key).and_then(Value::as_str));
    if let Some(header) = header {
        return Some(header.to_owned());
    }
    payload
        .get("token")
        .and_then(Value::as_str)
        .map(|token| format!("Bearer {token}"))
}

/// The data every operation of a connection sees: who is asking, until when, and where from.
async fn connection_data(
    state: &AppState,
    actor: Actor,
    claims: Option<Claims>,
    payload: &Value,
    base_url: String,
) -> async_graphql::Result<Data> {
    let (actor, claims) = match payload_authorization(payload) {
        Some(header) => authenticate(&state.auth, &header)?,
        None => (actor, claims),
    };
    let mut data = Data::default();
    if let Some(claims) = &claims {
        sync_user(&state.db, claims).await?;
        let expiry = i64::try_from(claims.exp)
            .ok()
            .and_then(|exp| DateTime::from_timestamp(exp, 0))
            .ok_or(Error::Unauthenticated)?;
        data.insert(SessionExpiry(expiry));
    }
    data.insert(actor);
    data.insert(BaseUrl(base_url));
    Ok(data)
}

fn authenticate(
    auth: &Authenticator,
    header: &str,
) -> Result<(Actor, Option<Claims>), async_graphql::Error> {
    auth.authenticate(Some(header)).map_err(|rejected| {
        tracing::info!(reason = %rejected, "refused a WebSocket token");
        Error::Unauthenticated.into()
    })
}

/// Runs a WebSocket's operations with their own DataLoaders, as HTTP requests get.
#[derive(Clone)]
struct WebSocketExecutor {
    schema: EaselSchema,
    db: DatabaseConnection,
}

impl Executor for WebSocketExecutor {
    fn execute(
        &self,
        request: async_graphql::Request,
    ) -> impl Future<Output = async_graphql::Response> + Send {
        let schema = self.schema.clone();
        let request = request.data(Loaders::new(&self.db));
        async move { schema.execute(request).await }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        self.schema.execute_stream_with_session_data(
            request.data(Loaders::new(&self.db)),
            session_data.unwrap_or_default(),
        )
    }
}
