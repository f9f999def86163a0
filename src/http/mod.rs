//! The plain HTTP routes: GraphQL and GraphiQL, health, readiness and metrics.

use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;
use crate::auth::Actor;
use crate::db;
use crate::error::{Error, REQUEST_ID};
use crate::graphql::Loaders;

/// Longest client-sent request id kept; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN)
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// A GraphQL-shaped error response for failures before the query runs.
fn error_response(status: StatusCode, err: Error) -> Response {
    let err = async_graphql::Error::from(err);
    let body = serde_json::json!({
        "data": null,
        "errors": [{ "message": err.message, "extensions": err.extensions }],
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    let request_id = request_id(request.headers());
    let limit = state.config.limits.max_body_bytes;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                Error::PayloadTooLarge {
                    what: "the request body".into(),
                    limit,
                },
            );
        }
    };
    let gql_request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                Error::bad_input("body", format!("not a GraphQL request in JSON: {err}")),
            );
        }
    };
    let gql_request = gql_request
        .data(Actor::local())
        .data(Loaders::new(&state.db));
    let response = REQUEST_ID
        .scope(request_id, state.schema.execute(gql_request))
        .await;
    async_graphql_axum::GraphQLResponse::from(response).into_response()
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), db::ping(&state.db)).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database timed out").into_response(),
    }
}

/// Counters in the Prometheus text format.
async fn metrics(State(state): State<AppState>) -> Response {
    let body = format!(
        "# HELP easel_db_statements_total SQL statements run since start.\n\
         # TYPE easel_db_statements_total counter\n\
         easel_db_statements_total {}\n\
         # HELP easel_db_statements_failed_total SQL statements that failed since start.\n\
         # TYPE easel_db_statements_failed_total counter\n\
         easel_db_statements_failed_total {}\n",
        state.stats.statements(),
        state.stats.failed(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        Body::from(body),
    )
        .into_response()
}
