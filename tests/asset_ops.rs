//! File operations on assets through the public API: describing an asset anew, copying it (a
//! new asset with its own object) and moving it to another canvas, on every store and both
//! databases, and only for what the caller owns in hosted mode.

mod common;

use common::{TestApp, code};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CREATE_UPLOAD: &str = "mutation($input: CreateAssetUploadInput!) {
    createAssetUpload(input: $input) { asset { id } uploadUrl headers { name value } } }";

const COMPLETE: &str = "mutation($id: ID!) { completeAssetUpload(id: $id) { id url } }";

const ASSET: &str = "query($id: ID!) {
    asset(id: $id) { id canvasId nodeId status filename mimeType sizeBytes metadata url } }";

const COPY: &str = "mutation($id: ID!, $canvas: ID!) {
    copyAsset(id: $id, canvasId: $canvas) { id canvasId nodeId status filename sizeBytes metadata url } }";

const MOVE: &str = "mutation($id: ID!, $canvas: ID!) {
    moveAsset(id: $id, canvasId: $canvas) { id canvasId status url } }";

const UPDATE: &str = "mutation($id: ID!, $input: UpdateAssetInput!) {
    updateAsset(id: $id, input: $input) { id filename metadata nodeId } }";

const DELETE: &str = "mutation($id: ID!) { deleteAsset(id: $id) }";

/// `len` bytes that sniff as PNG.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i * 7 % 253) as u8));
    bytes.truncate(len);
    bytes
}

/// A GraphQL request as the user of `token` (the local user without one); the whole body.
async fn call(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn data_as(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = call(app, token, query, variables).await;
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"].clone()
}

async fn create_canvas(app: &TestApp, token: Option<&str>, id: &str) {
    data_as(
        app,
        token,
        "mutation($id: ID!) { createCanvas(input: { id: $id, name: \"c\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
}

/// Uploads `bytes` as a PNG of `canvas` and completes it; the asset's id and download URL.
async fn upload_png(
    app: &TestApp,
    token: Option<&str>,
    canvas: &str,
    bytes: &[u8],
) -> (String, String) {
    let input = json!({ "canvasId": canvas, "nodeId": "node-1", "kind": "IMAGE",
        "mimeType": "image/png", "sizeBytes": bytes.len(), "filename": "cat.png",
        "metadata": { "seed": 7 } });
    let upload =
        data_as(app, token, CREATE_UPLOAD, json!({ "input": input })).await["createAssetUpload"]
            .clone();
    let mut request = app.client.put(upload["uploadUrl"].as_str().unwrap());
    for header in upload["headers"].as_array().unwrap() {
        request = request.header(
            header["name"].as_str().unwrap(),
            header["value"].as_str().unwrap(),
        );
    }
    let response = request.body(bytes.to_vec()).send().await.unwrap();
    assert!(response.status().is_success(), "PUT: {}", response.status());
    let id = upload["asset"]["id"].as_str().unwrap().to_owned();
    let done = data_as(app, token, COMPLETE, json!({ "id": id })).await;
    let url = done["completeAssetUpload"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, url)
}

async fn download(app: &TestApp, url: &str) -> (StatusCode, Vec<u8>) {
    let response = app.client.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn asset(app: &TestApp, id: &str) -> Value {
    app.data(ASSET, json!({ "id": id })).await["asset"].clone()
}

/// Asserts that `url` downloads exactly `bytes`.
async fn downloads(app: &TestApp, url: &str, bytes: &[u8], what: &str) {
    let (status, got) = download(app, url).await;
    assert_eq!(status, StatusCode::OK, "{what}");
    assert!(got == bytes, "{what}: the downloaded bytes differ");
}

on_every_store! {
    async fn a_copy_has_its_own_object_and_outlives_the_original(app: TestApp) {
        create_canvas(app, None, "c1").await;
        create_canvas(app, None, "c2").await;
        let bytes = png(70_000);
        let (original, original_url) = upload_png(app, None, "c1", &bytes).await;

        let copy = app.data(COPY, json!({ "id": original, "canvas": "c2" })).await["copyAsset"].clone();
        let copy_id = copy["id"].as_str().unwrap().to_owned();
        assert_ne!(copy_id, original);
        assert_eq!(copy["canvasId"], "c2");
        assert_eq!(copy["status"], "READY");
        assert_eq!((copy["filename"].clone(), copy["sizeBytes"].clone()), (json!("cat.png"), json!(70_000)));
        assert_eq!(copy["metadata"], json!({ "seed": 7 }));
        downloads(app, copy["url"].as_str().unwrap(), &bytes, "the copy").await;
        if let Some(objects) = app.stored_objects() {
            assert_eq!(objects.len(), 2, "a copy is a second object: {objects:?}");
        }

        // Deleting the copy leaves the original whole.
        app.data(DELETE, json!({ "id": copy_id })).await;
        downloads(app, &original_url, &bytes, "the original after the copy went").await;
        let fresh = asset(app, &original).await["url"].as_str().unwrap().to_owned();
        downloads(app, &fresh, &bytes, "a fresh URL of the original").await;

        // And deleting the original leaves a copy whole.
        let copy = app.data(COPY, json!({ "id": original, "canvas": "c1" })).await["copyAsset"].clone();
        app.data(DELETE, json!({ "id": original })).await;
        downloads(app, copy["url"].as_str().unwrap(), &bytes, "the copy after the original went").await;
        if let Some(objects) = app.stored_objects() {
            assert_eq!(objects.len(), 1, "{objects:?}");
            assert!(objects[0].ends_with(copy["id"].as_str().unwrap()), "{objects:?}");
        }
    }
}

on_every_store! {
    async fn a_moved_asset_keeps_its_bytes_and_download_url(app: TestApp) {
        create_canvas(app, None, "from").await;
        create_canvas(app, None, "to").await;
        let bytes = png(5_000);
        let (id, url) = upload_png(app, None, "from", &bytes).await;

        let moved = app.data(MOVE, json!({ "id": id, "canvas": "to" })).await["moveAsset"].clone();
        assert_eq!((moved["id"].clone(), moved["canvasId"].clone()), (json!(id), json!("to")));
        downloads(app, &url, &bytes, "the URL handed out before the move").await;
        downloads(app, moved["url"].as_str().unwrap(), &bytes, "a URL after the move").await;
        let lists = app
            .data("{ from: assets(canvasId: \"from\") { totalCount } to: assets(canvasId: \"to\") { nodes { id } } }", json!({}))
            .await;
        assert_eq!(lists, json!({ "from": { "totalCount": 0 }, "to": { "nodes": [{ "id": id }] } }));

        // The asset now lives and dies with its new canvas.
        app.data("mutation { deleteCanvas(id: \"from\") }", json!({})).await;
        downloads(app, &url, &bytes, "after its old canvas was deleted").await;
        app.data("mutation { deleteCanvas(id: \"to\") }", json!({})).await;
        assert_eq!(asset(app, &id).await, Value::Null);
        if let Some(objects) = app.stored_objects() {
            assert!(objects.is_empty(), "{objects:?}");
        }

        let error = app.error(MOVE, json!({ "id": id, "canvas": "to" })).await;
        assert_eq!(code(&error), "NOT_FOUND");
    }
}

on_both_databases! {
    async fn update_asset_changes_only_what_it_names(app: TestApp) {
        create_canvas(app, None, "c").await;
        let bytes = png(800);
        let (id, url) = upload_png(app, None, "c", &bytes).await;

        let renamed = app
            .data(UPDATE, json!({ "id": id, "input": { "filename": "dog.png" } }))
            .await;
        assert_eq!(
            renamed["updateAsset"],
            json!({ "id": id, "filename": "dog.png", "metadata": { "seed": 7 }, "nodeId": "node-1" })
        );
        let changed = app
            .data(UPDATE, json!({ "id": id, "input": { "metadata": { "seed": 8, "tags": ["x"] }, "nodeId": "node-2" } }))
            .await;
        assert_eq!(
            changed["updateAsset"],
            json!({ "id": id, "filename": "dog.png", "metadata": { "seed": 8, "tags": ["x"] }, "nodeId": "node-2" })
        );
        let cleared = app
            .data(UPDATE, json!({ "id": id, "input": { "metadata": null, "nodeId": null } }))
            .await;
        assert_eq!(
            cleared["updateAsset"],
            json!({ "id": id, "filename": "dog.png", "metadata": null, "nodeId": null })
        );

        for (input, field) in [
            (json!({ "filename": "bad\nname.png", "nodeId": "node-3" }), "input.filename"),
            (json!({ "filename": "x".repeat(256) }), "input.filename"),
            (json!({ "metadata": { "big": "x".repeat(70_000) } }), "input.metadata"),
            (json!({ "nodeId": "" }), "input.nodeId"),
        ] {
            let error = app.error(UPDATE, json!({ "id": id, "input": input })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
            assert_eq!(error["extensions"]["field"], field, "{error:#}");
        }
        let stored = asset(app, &id).await;
        assert_eq!((stored["filename"].clone(), stored["nodeId"].clone()), (json!("dog.png"), Value::Null));
        downloads(app, &url, &bytes, "after the updates").await;

        let error = app.error(UPDATE, json!({ "id": "nope", "input": { "filename": "a" } })).await;
        assert_eq!(code(&error), "NOT_FOUND");
    }
}

mod hosted {
    use super::*;
    use easel::auth::jwt::{JwtConfig, KeySource};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const SECRET: &str = "asset-ops-secret-that-is-at-least-32-bytes";

    pub fn jwt_mode(config: &mut easel::Config) {
        config.jwt = Some(JwtConfig {
            key: KeySource::Secret(SECRET.into()),
            issuer: None,
            audience: None,
            leeway_secs: 0,
        });
    }

    pub fn token(sub: &str) -> String {
        let claims = json!({ "sub": sub, "exp": chrono::Utc::now().timestamp() + 600 });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }
}

on_both_databases! {
    with_config(hosted::jwt_mode);
    async fn only_the_owner_updates_moves_or_copies_into_their_canvases(app: TestApp) {
        let (alice, bob) = (hosted::token("alice"), hosted::token("bob"));
        let (alice, bob) = (Some(alice.as_str()), Some(bob.as_str()));
        create_canvas(app, alice, "alice-1").await;
        create_canvas(app, alice, "alice-2").await;
        create_canvas(app, bob, "bob-1").await;
        let bytes = png(600);
        let (id, url) = upload_png(app, alice, "alice-1", &bytes).await;

        for (query, variables) in [
            (UPDATE, json!({ "id": id, "input": { "filename": "mine.png" } })),
            (MOVE, json!({ "id": id, "canvas": "bob-1" })),
            (COPY, json!({ "id": id, "canvas": "bob-1" })),
        ] {
            let body = call(app, bob, query, variables).await;
            assert_eq!(code(&body["errors"][0]), "NOT_FOUND", "{body:#}");
        }
        // Nor into another user's canvas, even by the asset's owner.
        for query in [MOVE, COPY] {
            let body = call(app, alice, query, json!({ "id": id, "canvas": "bob-1" })).await;
            assert_eq!(code(&body["errors"][0]), "NOT_FOUND", "{body:#}");
        }
        let body = call(app, None, MOVE, json!({ "id": id, "canvas": "alice-2" })).await;
        assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED", "{body:#}");

        let mine = data_as(app, alice, ASSET, json!({ "id": id })).await["asset"].clone();
        assert_eq!((mine["canvasId"].clone(), mine["filename"].clone()), (json!("alice-1"), json!("cat.png")));
        let bob_assets = data_as(app, bob, "{ assets { totalCount } }", json!({})).await;
        assert_eq!(bob_assets["assets"]["totalCount"], 0);
        downloads(app, &url, &bytes, "alice's asset").await;

        let moved = data_as(app, alice, MOVE, json!({ "id": id, "canvas": "alice-2" })).await;
        assert_eq!(moved["moveAsset"]["canvasId"], "alice-2");
    }
}
