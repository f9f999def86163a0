//! Assets through the public API on every store (a local folder, memory, a real S3 server) and
//! both databases: upload URLs, checked completion, downloads, deletes and limits.

mod common;

use common::{Backend, Store, TestApp, code};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CREATE_UPLOAD: &str = "mutation($input: CreateAssetUploadInput!) {
    createAssetUpload(input: $input) {
        asset { id status sizeBytes kind mimeType filename canvasId url }
        uploadUrl method headers { name value } expiresAt } }";

const COMPLETE: &str =
    "mutation($id: ID!) { completeAssetUpload(id: $id) { id status sizeBytes url } }";

const ASSET: &str = "query($id: ID!) { asset(id: $id) { id status url } }";

/// `len` bytes that sniff as PNG.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i % 251) as u8));
    bytes.truncate(len);
    bytes
}

async fn create_canvas(app: &TestApp, id: &str) {
    app.data(
        "mutation($id: ID!) { createCanvas(input: { id: $id, name: \"with assets\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
}

/// Creates an upload; the `createAssetUpload` answer.
async fn create_upload(app: &TestApp, input: Value) -> Value {
    app.data(CREATE_UPLOAD, json!({ "input": input })).await["createAssetUpload"].clone()
}

/// PUTs `bytes` to an upload, with its headers unless `content_type` overrides them.
async fn put(
    app: &TestApp,
    upload: &Value,
    bytes: Vec<u8>,
    content_type: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.put(upload["uploadUrl"].as_str().unwrap());
    for header in upload["headers"].as_array().unwrap() {
        let name = header["name"].as_str().unwrap();
        let value = match (name.eq_ignore_ascii_case("content-type"), content_type) {
            (true, Some(other)) => other,
            _ => header["value"].as_str().unwrap(),
        };
        request = request.header(name, value);
    }
    request.body(bytes).send().await.unwrap()
}

/// Uploads `bytes` as an IMAGE/png of `canvas` and completes it; the READY asset.
async fn upload_png(app: &TestApp, canvas: Option<&str>, bytes: Vec<u8>) -> Value {
    let upload = create_upload(
        app,
        json!({ "canvasId": canvas, "kind": "IMAGE", "mimeType": "image/png",
                "sizeBytes": bytes.len(), "filename": "cat.png" }),
    )
    .await;
    let response = put(app, &upload, bytes, None).await;
    assert!(
        response.status().is_success(),
        "PUT: {}",
        response.text().await.unwrap()
    );
    let id = upload["asset"]["id"].as_str().unwrap();
    app.data(COMPLETE, json!({ "id": id })).await["completeAssetUpload"].clone()
}

async fn download(app: &TestApp, url: &str) -> (StatusCode, Vec<u8>) {
    let response = app.client.get(url).send().await.unwrap();
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn status_of(app: &TestApp, id: &str) -> Value {
    app.data(ASSET, json!({ "id": id })).await["asset"]["status"].clone()
}

on_every_store! {
    async fn an_uploaded_asset_downloads_the_same_bytes(app: TestApp) {
        create_canvas(app, "c1").await;
        let bytes = png(300_000);
        let upload = create_upload(
            app,
            json!({ "canvasId": "c1", "nodeId": "node-1", "kind": "IMAGE", "mimeType": "image/png",
                    "sizeBytes": bytes.len(), "filename": "cat.png", "metadata": { "w": 64 } }),
        )
        .await;
        let id = upload["asset"]["id"].as_str().unwrap().to_owned();
        assert_eq!(upload["method"], "PUT");
        assert_eq!(upload["asset"]["status"], "PENDING");
        assert_eq!(upload["asset"]["url"], Value::Null, "no URL before READY");
        assert_eq!(upload["asset"]["sizeBytes"], 300_000);
        assert!(upload["headers"].as_array().unwrap().iter().any(|h| h["value"] == "image/png"));

        let response = put(app, &upload, bytes.clone(), None).await;
        assert!(response.status().is_success(), "{}", response.text().await.unwrap());
        assert_eq!(status_of(app, &id).await, "PENDING");

        let ready = app.data(COMPLETE, json!({ "id": id })).await["completeAssetUpload"].clone();
        assert_eq!(ready["status"], "READY");
        let (status, downloaded) = download(app, ready["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(downloaded == bytes, "the downloaded bytes differ from the uploaded ones");

        // Completing again changes nothing; the canvas and the list show the asset.
        let again = app.data(COMPLETE, json!({ "id": id })).await["completeAssetUpload"].clone();
        assert_eq!(again["status"], "READY");
        let canvas = app
            .data("{ canvas(id: \"c1\") { assets { id nodeId status metadata } } }", json!({}))
            .await;
        assert_eq!(
            canvas["canvas"]["assets"],
            json!([{ "id": id, "nodeId": "node-1", "status": "READY", "metadata": { "w": 64 } }])
        );
        let listed = app
            .data("{ assets(canvasId: \"c1\", kind: IMAGE) { totalCount nodes { id } } }", json!({}))
            .await;
        assert_eq!(listed["assets"], json!({ "totalCount": 1, "nodes": [{ "id": id }] }));
        if let Some(objects) = app.stored_objects() {
            assert_eq!(objects.len(), 1, "{objects:?}");
            assert!(objects[0].ends_with(&id), "{objects:?}");
        }

        // Deleting removes the row and the object.
        let deleted = app.data("mutation($id: ID!) { deleteAsset(id: $id) }", json!({ "id": id })).await;
        assert_eq!(deleted["deleteAsset"], true);
        assert_eq!(app.data(ASSET, json!({ "id": id })).await["asset"], Value::Null);
        let (status, _) = download(app, ready["url"].as_str().unwrap()).await;
        assert!(status.is_client_error(), "a deleted asset still downloads: {status}");
        if let Some(objects) = app.stored_objects() {
            assert!(objects.is_empty(), "{objects:?}");
        }
        let error = app.error("mutation($id: ID!) { deleteAsset(id: $id) }", json!({ "id": id })).await;
        assert_eq!(code(&error), "NOT_FOUND");
    }
}

on_every_store! {
    async fn bad_uploads_are_refused_and_nothing_is_stored(app: TestApp) {
        let bytes = png(2048);
        let upload = create_upload(
            app,
            json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": bytes.len() }),
        )
        .await;
        let id = upload["asset"]["id"].as_str().unwrap().to_owned();

        // A content type other than the one granted.
        let response = put(app, &upload, bytes.clone(), Some("image/jpeg")).await;
        assert!(response.status().is_client_error(), "wrong type: {}", response.status());

        // A tampered token or signature.
        let url = upload["uploadUrl"].as_str().unwrap();
        let tampered = if let Some(i) = url.find("X-Amz-Signature=") {
            let at = i + "X-Amz-Signature=".len();
            let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
            format!("{}{}{}", &url[..at], flipped, &url[at + 1..])
        } else {
            let cut = url.len() - 3;
            let flipped = if &url[cut..=cut] == "A" { "B" } else { "A" };
            format!("{}{}{}", &url[..cut], flipped, &url[cut + 1..])
        };
        let mut tampered_upload = upload.clone();
        tampered_upload["uploadUrl"] = json!(tampered);
        let response = put(app, &tampered_upload, bytes.clone(), None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "tampered");

        if let Some(objects) = app.stored_objects() {
            assert!(objects.is_empty(), "refused uploads stored {objects:?}");
        }
        let error = app.error(COMPLETE, json!({ "id": id })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        assert_eq!(status_of(app, &id).await, "PENDING", "nothing arrived, so it waits");

        // A body longer than declared: Easel cuts it off; S3 cannot bind the size in a presigned
        // PUT, so completion finds the wrong size. Either way the asset never becomes READY.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 100]);
        let response = put(app, &upload, longer, None).await;
        if response.status().is_success() {
            assert_eq!(app.store, Store::S3, "only S3 takes a longer body");
            let error = app.error(COMPLETE, json!({ "id": id })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT");
            assert!(error["message"].as_str().unwrap().contains("2148"), "{error:#}");
            assert_eq!(status_of(app, &id).await, "FAILED");
        } else {
            assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(status_of(app, &id).await, "PENDING");
        }
        if let Some(objects) = app.stored_objects() {
            assert!(objects.is_empty(), "refused uploads stored {objects:?}");
        }
    }
}

on_every_store! {
    async fn bytes_that_are_not_the_declared_type_fail_completion_and_are_removed(app: TestApp) {
        let text = b"this is not a PNG at all, only some text".to_vec();
        let upload = create_upload(
            app,
            json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": text.len() }),
        )
        .await;
        let id = upload["asset"]["id"].as_str().unwrap().to_owned();
        assert!(put(app, &upload, text, None).await.status().is_success());
        let error = app.error(COMPLETE, json!({ "id": id })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
        assert!(error["message"].as_str().unwrap().contains("image/png"), "{error:#}");
        assert_eq!(status_of(app, &id).await, "FAILED");
        if let Some(objects) = app.stored_objects() {
            assert!(objects.is_empty(), "a refused object stayed: {objects:?}");
        }
        // A FAILED asset cannot be completed later.
        let error = app.error(COMPLETE, json!({ "id": id })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
    }
}

on_both_databases! {
    async fn a_wrong_size_found_at_completion_fails_the_asset_and_removes_the_object(app: TestApp) {
        // Easel's own upload route refuses a wrong size; put the object in place behind its back,
        // as a client of a presigned URL could.
        let upload = create_upload(
            app,
            json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": 5000 }),
        )
        .await;
        let id = upload["asset"]["id"].as_str().unwrap().to_owned();
        let staging = app.dir.path().join("assets").join("local").join("_").join(format!("{id}.upload"));
        std::fs::create_dir_all(staging.parent().unwrap()).unwrap();
        std::fs::write(&staging, png(4000)).unwrap();
        let error = app.error(COMPLETE, json!({ "id": id })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
        assert!(error["message"].as_str().unwrap().contains("4000"), "{error:#}");
        assert_eq!(status_of(app, &id).await, "FAILED");
        assert!(!staging.exists(), "the refused object stayed");
    }
}

on_every_store! {
    async fn deleting_a_canvas_deletes_its_asset_rows_and_objects(app: TestApp) {
        create_canvas(app, "doomed").await;
        create_canvas(app, "kept").await;
        let first = upload_png(app, Some("doomed"), png(1000)).await;
        let second = upload_png(app, Some("doomed"), png(2000)).await;
        let pending = create_upload(
            app,
            json!({ "canvasId": "doomed", "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": 10 }),
        )
        .await;
        let kept = upload_png(app, Some("kept"), png(3000)).await;
        if let Some(objects) = app.stored_objects() {
            assert_eq!(objects.len(), 3, "{objects:?}");
        }

        app.data("mutation { deleteCanvas(id: \"doomed\") }", json!({})).await;
        for asset in [&first, &second, &pending["asset"]] {
            let id = asset["id"].as_str().unwrap();
            assert_eq!(app.data(ASSET, json!({ "id": id })).await["asset"], Value::Null);
        }
        for asset in [&first, &second] {
            let (status, _) = download(app, asset["url"].as_str().unwrap()).await;
            assert!(status.is_client_error(), "an asset of a deleted canvas still downloads");
        }
        if let Some(objects) = app.stored_objects() {
            let kept_id = kept["id"].as_str().unwrap();
            assert_eq!(objects.len(), 1, "{objects:?}");
            assert!(objects[0].ends_with(kept_id), "{objects:?}");
        }
        let (status, bytes) = download(app, kept["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(bytes == png(3000));
    }
}

on_both_databases! {
    with_config(|config| config.assets.upload_url_ttl = std::time::Duration::from_secs(1));
    async fn an_expired_upload_url_is_refused(app: TestApp) {
        let bytes = png(100);
        let upload = create_upload(
            app,
            json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": bytes.len() }),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let response = put(app, &upload, bytes, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("expired"), "{body}");
        assert_eq!(app.stored_objects().unwrap(), Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_presigned_upload_url_is_refused_by_s3() {
    let app = TestApp::spawn_on(Backend::Sqlite, Store::S3, |config| {
        config.assets.upload_url_ttl = std::time::Duration::from_secs(1);
    })
    .await
    .unwrap();
    let bytes = png(100);
    let upload = create_upload(
        &app,
        json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": bytes.len() }),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        put(&app, &upload, bytes, None).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.stored_objects().unwrap(), Vec::<String>::new());
    app.stop().await;
}

on_both_databases! {
    with_config(|config| config.assets.max_upload_bytes = 4 * 1024 * 1024 * 1024);
    async fn limits_are_checked_before_anything_is_stored(app: TestApp) {
        // Sizes past 32 bits stay exact.
        let big = create_upload(
            app,
            json!({ "kind": "VIDEO", "mimeType": "video/mp4", "sizeBytes": 3_221_225_472_i64 }),
        )
        .await;
        assert_eq!(big["asset"]["sizeBytes"], 3_221_225_472_i64);
        let as_string = create_upload(
            app,
            json!({ "kind": "VIDEO", "mimeType": "video/mp4", "sizeBytes": "4294967296" }),
        )
        .await;
        assert_eq!(as_string["asset"]["sizeBytes"], 4_294_967_296_i64);

        let cases = [
            (json!({ "kind": "VIDEO", "mimeType": "video/mp4", "sizeBytes": 4_294_967_297_i64 }), "PAYLOAD_TOO_LARGE", None),
            (json!({ "kind": "IMAGE", "mimeType": "image/svg+xml", "sizeBytes": 10 }), "BAD_USER_INPUT", Some("input.mimeType")),
            (json!({ "kind": "AUDIO", "mimeType": "image/png", "sizeBytes": 10 }), "BAD_USER_INPUT", Some("input.mimeType")),
            (json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": 0 }), "BAD_USER_INPUT", Some("input.sizeBytes")),
            (json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": 10, "canvasId": "ghost" }), "NOT_FOUND", None),
            (json!({ "kind": "IMAGE", "mimeType": "image/png", "sizeBytes": 10, "filename": "x".repeat(300) }), "BAD_USER_INPUT", Some("input.filename")),
        ];
        for (input, expected, field) in cases {
            let error = app.error(CREATE_UPLOAD, json!({ "input": input })).await;
            assert_eq!(code(&error), expected, "{input}: {error:#}");
            if let Some(field) = field {
                assert_eq!(error["extensions"]["field"], field, "{input}: {error:#}");
            }
        }
        let listed = app.data("{ assets { totalCount } }", json!({})).await;
        assert_eq!(listed["assets"]["totalCount"], 2, "refused uploads made rows");
        assert_eq!(app.stored_objects().unwrap(), Vec::<String>::new());
    }
}

on_both_databases! {
    async fn external_assets_keep_their_provider_url(app: TestApp) {
        create_canvas(app, "c").await;
        let registered = app
            .data(
                "mutation($input: RegisterExternalAssetInput!) { registerExternalAsset(input: $input) {
                    id status url externalUrl kind mimeType canvasId } }",
                json!({ "input": { "canvasId": "c", "kind": "IMAGE", "mimeType": "image/webp",
                                   "url": "https://cdn.example.com/out/1.webp" } }),
            )
            .await["registerExternalAsset"]
            .clone();
        assert_eq!(registered["status"], "READY");
        assert_eq!(registered["url"], "https://cdn.example.com/out/1.webp");
        assert_eq!(registered["canvasId"], "c");
        for url in ["ftp://example.com/x.webp", "not a url", "javascript:alert(1)"] {
            let error = app
                .error(
                    "mutation($input: RegisterExternalAssetInput!) { registerExternalAsset(input: $input) { id } }",
                    json!({ "input": { "kind": "IMAGE", "mimeType": "image/webp", "url": url } }),
                )
                .await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{url}");
            assert_eq!(error["extensions"]["field"], "input.url");
        }
    }
}

on_both_databases! {
    async fn a_page_of_canvases_with_assets_runs_the_same_statements_whatever_its_size(app: TestApp) {
        for i in 0..60 {
            let id = format!("canvas-{i:02}");
            create_canvas(app, &id).await;
            app.data(
                "mutation($input: RegisterExternalAssetInput!) { registerExternalAsset(input: $input) { id } }",
                json!({ "input": { "canvasId": id, "kind": "IMAGE", "mimeType": "image/png",
                                   "url": format!("https://cdn.example.com/{i}.png") } }),
            )
            .await;
        }
        let query = "query($first: Int) { canvases(first: $first) { nodes { id assets { id url } } } }";
        let mut counts = Vec::new();
        for first in [5, 50] {
            let before = app.statements().await;
            let data = app.data(query, json!({ "first": first })).await;
            counts.push(app.statements().await - before);
            let nodes = data["canvases"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), first);
            assert!(nodes.iter().all(|n| n["assets"].as_array().unwrap().len() == 1));
        }
        assert_eq!(counts[0], counts[1], "statements for 5 and 50 canvases: {counts:?}");
    }
}
