//! The plain HTTP routes: GraphQL and GraphiQL, uploads and downloads, health, readiness and
//! metrics.

mod files;
mod websocket;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::BatchRequest;
use async_graphql::http::MultipartOptions;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, Method};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter as GovernorRateLimiter};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use futures::StreamExt;
use tokio_util::compat::TokioAsyncReadCompatExt;

use async_graphql::http::GraphiQLSource;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, put};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::app::AppState;
use crate::auth::jwt::TokenRejected;
use crate::auth::{Actor, sync_user};
use crate::config::AbuseLimits;
use crate::db;
use crate::error::{Error, REQUEST_ID};
use crate::graphql::{BaseUrl, GraphQLBody, Loaders, RawTexts};

/// Most files one multipart request may carry.
const MAX_FILES_PER_REQUEST: usize = 10;

/// Longest client-sent request id kept; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let timeout = state.config.abuse.request_timeout;
    let cors = cors_layer(&state.config.abuse.cors_origins);
    let graphql_route =
        axum::routing::post(graphql)
            .get(graphql_get)
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                timeout,
            ));
    Router::new()
        .route("/graphql", graphql_route)
        .route("/uploads/{token}", put(files::upload))
        .route("/files/{token}", get(files::download))
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
        .layer(cors)
}

/// CORS for the configured origins: none, a list, or `*`.
fn cors_layer(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::RANGE,
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER]);
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

/// Requests per caller: a user by id, an anonymous caller by address.
pub struct RateLimit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl RateLimit {
    /// The limiter the configuration asks for; `None` when the rate is 0.
    pub fn new(abuse: &AbuseLimits) -> Option<Self> {
        let per_minute = NonZeroU32::new(abuse.rate_per_minute)?;
        let burst = NonZeroU32::new(abuse.rate_burst.max(1)).unwrap_or(per_minute);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Some(RateLimit {
            limiter: GovernorRateLimiter::keyed(quota),
        })
    }

    /// `Err(wait)` when `key` must wait before its next request.
    fn check(&self, key: &str) -> Result<(), Duration> {
        // Forget callers idle long enough to be back at a full burst, so memory stays bounded.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// `GET /graphql`: a WebSocket for subscriptions, or GraphiQL in a browser.
async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        websocket::upgrade(state, peer, request).await
    } else {
        graphiql(state).await
    }
}

async fn graphiql(state: AppState) -> Response {
    if !state.introspection {
        return (
            StatusCode::NOT_FOUND,
            "GraphiQL is off: introspection is disabled",
        )
            .into_response();
    }
    Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response()
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

/// The URL clients reach this server at: the configured one, or the request's `Host`.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.clone();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| state.config.listen.to_string(), str::to_owned);
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

fn too_large(limit: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        Error::PayloadTooLarge {
            what: "the request body".into(),
            limit,
        },
    )
}

/// Reads a GraphQL request: JSON, or a multipart request with files (spooled to temporary
/// files by async-graphql, never held in memory), within the body limit.
async fn read_request(state: &AppState, request: Request) -> Result<BatchRequest, Response> {
    let limit = state.config.limits.max_body_bytes;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("multipart/form-data"))
    {
        let over_limit = Arc::new(AtomicBool::new(false));
        let mut seen = 0_usize;
        let flag = over_limit.clone();
        let body = request.into_body().into_data_stream().map(move |chunk| {
            let chunk = chunk.map_err(std::io::Error::other)?;
            seen += chunk.len();
            if seen > limit {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("the request body is over the limit"));
            }
            Ok(chunk)
        });
        let reader = tokio_util::io::StreamReader::new(body).compat();
        let options = MultipartOptions::default()
            .max_file_size(limit.min(state.assets.config.max_upload_bytes as usize))
            .max_num_files(MAX_FILES_PER_REQUEST);
        return async_graphql::http::receive_batch_body(content_type, reader, options)
            .await
            .map_err(|err| {
                if over_limit.load(Ordering::Relaxed) {
                    too_large(limit)
                } else {
                    error_response(
                        StatusCode::BAD_REQUEST,
                        Error::bad_input("body", format!("not a GraphQL multipart request: {err}")),
                    )
                }
            });
    }
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))?;
    serde_json::from_slice(&body).map_err(|err| {
        error_response(
            StatusCode::BAD_REQUEST,
            Error::bad_input("body", format!("not a GraphQL request in JSON: {err}")),
        )
    })
}

/// 401 with the bearer challenge, for a token that does not verify.
fn unauthorized(rejected: &TokenRejected) -> Response {
    tracing::info!(reason = %rejected, "refused a bearer token");
    let mut response = error_response(StatusCode::UNAUTHORIZED, Error::Unauthenticated);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// 429 with `Retry-After`, for a caller over its rate.
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let body = serde_json::json!({
        "data": null,
        "errors": [{
            "message": format!("too many requests; retry in {seconds} s"),
            "extensions": { "code": "TOO_MANY_REQUESTS", "retryAfterSeconds": seconds },
        }],
    });
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Counts a request against the caller's rate; the 429 to answer when it is over.
fn over_rate(state: &AppState, actor: &Actor, peer: SocketAddr) -> Option<Response> {
    let limiter = state.rate_limiter.as_ref()?;
    let key = match actor {
        Actor::User(id) => format!("user:{id}"),
        Actor::Anonymous => format!("addr:{}", peer.ip()),
    };
    limiter.check(&key).err().map(too_many_requests)
}

async fn graphql(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let request_id = request_id(request.headers());
    let base_url = base_url(&state, request.headers());
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("invalid"));
    let (actor, claims) = match state.auth.authenticate(authorization) {
        Ok(found) => found,
        Err(rejected) => return unauthorized(&rejected),
    };
    if let Some(response) = over_rate(&state, &actor, peer) {
        return response;
    }
    if let Some(claims) = &claims
        && let Err(err) = REQUEST_ID
            .scope(request_id.clone(), sync_user(&state.db, claims))
            .await
    {
        return REQUEST_ID.sync_scope(request_id, || {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, err)
        });
    }
    let batch = match read_request(&state, request).await {
        Ok(batch) => batch,
        Err(response) => return response,
    };
    if let BatchRequest::Batch(requests) = &batch
        && requests.len() > state.config.abuse.max_batch
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            Error::bad_input(
                "body",
                format!(
                    "a batch of {} operations is more than the limit of {}",
                    requests.len(),
                    state.config.abuse.max_batch
                ),
            ),
        );
    }
    // Each operation gets its own loaders: their caches hold one operation's reads.
    let raw = Arc::new(RawTexts::default());
    let prepare = |request: async_graphql::Request| {
        request
            .data(actor.clone())
            .data(BaseUrl(base_url.clone()))
            .data(Loaders::new(&state.db))
            .data(raw.clone())
    };
    let batch = match batch {
        BatchRequest::Single(request) => BatchRequest::Single(prepare(request)),
        BatchRequest::Batch(requests) => {
            BatchRequest::Batch(requests.into_iter().map(prepare).collect())
        }
    };
    let response = REQUEST_ID
        .scope(request_id, state.schema.execute_batch(batch))
        .await;
    GraphQLBody { response, raw }.into_response()
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database and the asset store answer.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), db::ping(&state.db)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: database does not answer");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "database timed out").into_response(),
    }
    match tokio::time::timeout(Duration::from_secs(5), state.assets.store.check()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness check: asset store does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "asset store unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "asset store timed out").into_response(),
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
