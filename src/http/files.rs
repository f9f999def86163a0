//! Uploads and downloads through Easel itself, for stores that cannot presign URLs (a local
//! folder, memory): `PUT /uploads/{token}` and `GET /files/{token}`. Bodies stream in both
//! directions; nothing is held in memory whole.

use std::ops::Bound;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::TypedHeader;
use axum_extra::headers::Range;
use chrono::Utc;
use entity::asset::{self, AssetStatus};
use object_store::{GetOptions, GetRange, ObjectStore};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sea_orm::EntityTrait;

use crate::app::AppState;
use crate::assets::{Action, AssetStore, StreamError, TokenError, canonical, write_exact};
use crate::error::ErrorChain;

/// A JSON error body with the same codes as the GraphQL API.
fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse_token(err: TokenError) -> Response {
    refuse(StatusCode::FORBIDDEN, "FORBIDDEN", err.to_string())
}

/// `PUT /uploads/{token}`: streams the body into the store's staging key of the granted asset.
/// The body must have the granted content type and exactly the granted size.
pub async fn upload(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let grant = match state
        .assets
        .tokens
        .verify(&token, Action::Upload, Utc::now().timestamp())
    {
        Ok(grant) => grant,
        Err(err) => return refuse_token(err),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(canonical);
    if content_type.as_deref() != Some(grant.content_type.as_str()) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            format!("this upload takes Content-Type: {}", grant.content_type),
        );
    }
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared_length {
        if length > grant.size {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("this upload takes {} bytes, not {length}", grant.size),
            );
        }
        if length < grant.size {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                format!("this upload takes {} bytes, not {length}", grant.size),
            );
        }
    }
    match asset::Entity::find_by_id(grant.asset_id.clone())
        .one(&state.db)
        .await
    {
        Ok(Some(row))
            if row.status == AssetStatus::Pending
                && row.owner_id == grant.owner_id
                && row.object_key.as_deref() == Some(grant.key.as_str()) => {}
        Ok(Some(_)) => {
            return refuse(
                StatusCode::CONFLICT,
                "CONFLICT",
                "this asset is no longer waiting for an upload",
            );
        }
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "the asset is gone"),
        Err(err) => return internal(&err),
    }

    let staging = AssetStore::staging_key(&grant.key);
    let store: &dyn ObjectStore = state.assets.store.inner().as_ref();
    match write_exact(store, &staging, body.into_data_stream(), grant.size).await {
        Ok(size) => {
            let body = serde_json::json!({ "assetId": grant.asset_id, "sizeBytes": size });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(err @ StreamError::TooLong { .. }) => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            err.to_string(),
        ),
        Err(err @ (StreamError::TooShort { .. } | StreamError::Body(_))) => {
            refuse(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", err.to_string())
        }
        Err(StreamError::Store(err)) => internal(&err),
    }
}

fn internal(err: &(dyn std::error::Error + 'static)) -> Response {
    let request_id = crate::error::current_request_id();
    tracing::error!(request_id, error = %ErrorChain(err), "internal error");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        format!("internal server error; quote request id {request_id} when reporting it"),
    )
}

/// Characters escaped in `filename*` (RFC 5987 `attr-char` keeps the rest).
const FILENAME_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `inline` for media a browser shows, `attachment` for the rest; the filename both as plain
/// ASCII and, for any other characters, as RFC 5987 UTF-8.
fn content_disposition(content_type: &str, filename: Option<&str>) -> String {
    let disposition = if content_type.starts_with("image/")
        || content_type.starts_with("video/")
        || content_type.starts_with("audio/")
    {
        "inline"
    } else {
        "attachment"
    };
    let Some(name) = filename.filter(|n| !n.is_empty()) else {
        return disposition.to_owned();
    };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(name, FILENAME_ESCAPES);
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `GET /files/{token}`: streams the granted object with its type, length, ETag and filename;
/// a single `Range` gets 206 and exactly those bytes.
pub async fn download(
    State(state): State<AppState>,
    Path(token): Path<String>,
    range: Option<TypedHeader<Range>>,
) -> Response {
    let grant = match state
        .assets
        .tokens
        .verify(&token, Action::Download, Utc::now().timestamp())
    {
        Ok(grant) => grant,
        Err(err) => return refuse_token(err),
    };
    let size = grant.size;
    let mut wanted = None;
    if let Some(TypedHeader(range)) = range {
        let ranges: Vec<_> = range.satisfiable_ranges(size).collect();
        // One range is served as asked; several are answered with the whole object.
        if let [(start, end)] = ranges.as_slice() {
            let start = match start {
                Bound::Included(s) => *s,
                Bound::Excluded(s) => s + 1,
                Bound::Unbounded => 0,
            };
            let end = match end {
                Bound::Included(e) => (*e).min(size.saturating_sub(1)),
                Bound::Excluded(e) => e.saturating_sub(1).min(size.saturating_sub(1)),
                Bound::Unbounded => size.saturating_sub(1),
            };
            if start >= size || start > end {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response();
            }
            wanted = Some((start, end));
        }
    }
    let options = GetOptions {
        range: wanted.map(|(start, end)| GetRange::Bounded(start..end + 1)),
        ..GetOptions::default()
    };
    let key = object_store::path::Path::from(grant.key.as_str());
    let result = match state.assets.store.inner().get_opts(&key, options).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => {
            return refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "the asset is gone");
        }
        Err(err) => return internal(&err),
    };
    let total = result.meta.size;
    let served = result.range.clone();
    let mut headers = HeaderMap::new();
    let set = |headers: &mut HeaderMap, name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(
        &mut headers,
        header::CONTENT_TYPE,
        grant.content_type.clone(),
    );
    set(
        &mut headers,
        header::CONTENT_LENGTH,
        (served.end - served.start).to_string(),
    );
    set(&mut headers, header::ACCEPT_RANGES, "bytes".to_owned());
    set(
        &mut headers,
        header::CONTENT_DISPOSITION,
        content_disposition(&grant.content_type, grant.filename.as_deref()),
    );
    set(
        &mut headers,
        header::CACHE_CONTROL,
        "private, max-age=3600".to_owned(),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(etag) = &result.meta.e_tag {
        let quoted = if etag.starts_with('"') {
            etag.clone()
        } else {
            format!("\"{etag}\"")
        };
        set(&mut headers, header::ETAG, quoted);
    }
    let status = if wanted.is_some() {
        set(
            &mut headers,
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{total}",
                served.start,
                served.end.saturating_sub(1)
            ),
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, headers, Body::from_stream(result.into_stream())).into_response()
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn filenames_are_quoted_safely_and_kept_in_utf8() {
        assert_eq!(
            content_disposition("image/png", Some("cat \"1\".png")),
            "inline; filename=\"cat _1_.png\"; filename*=UTF-8''cat%20%221%22.png"
        );
        assert_eq!(
            content_disposition("application/pdf", Some("résumé.pdf")),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        );
        assert_eq!(content_disposition("image/png", None), "inline");
    }
}
