//! Assets end to end where processes and raw HTTP matter: a 100 MiB upload to a real `easel serve`
//! child process (its memory watched), `easel assets gc` run as its own command against the
//! server's database and folder, GraphQL multipart uploads, and byte ranges of downloads.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::process::{easel, run_async};
use common::{TestApp, code};
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, RANGE};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;

const CREATE_UPLOAD: &str = "mutation($input: CreateAssetUploadInput!) {
    createAssetUpload(input: $input) {
        asset { id status kind mimeType filename sizeBytes url }
        uploadUrl method headers { name value } } }";

const COMPLETE: &str = "mutation($id: ID!) {
    completeAssetUpload(id: $id) { id status kind mimeType filename sizeBytes url } }";

const ASSET: &str = "query($id: ID!) { asset(id: $id) { id status } }";

const UPLOAD_ASSET: &str = "mutation($file: Upload!, $input: UploadAssetInput!) {
    uploadAsset(file: $file, input: $input) { id status kind filename mimeType sizeBytes url } }";

/// The public API of one server, in-process or a child process.
struct Api {
    client: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    base: String,
}

impl Api {
    fn of(app: &TestApp) -> Api {
        Api {
            client: app.client.clone(),
            base: app.url(""),
        }
    }

    /// A GraphQL request; the whole response body.
    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A GraphQL request that must succeed; its `data`.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// `createAssetUpload`; its answer.
    async fn create_upload(&self, input: Value) -> Value {
        self.data(CREATE_UPLOAD, json!({ "input": input })).await["createAssetUpload"].clone()
    }

    /// Sends `body` (of `length` bytes) to an upload's URL with its method and headers.
    async fn put(
        &self,
        upload: &Value,
        body: impl Into<reqwest::Body>,
        length: u64,
    ) -> reqwest::Response {
        let method =
            reqwest::Method::from_bytes(upload["method"].as_str().unwrap().as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, upload["uploadUrl"].as_str().unwrap())
            .header(CONTENT_LENGTH, length);
        for header in upload["headers"].as_array().unwrap() {
            request = request.header(
                header["name"].as_str().unwrap(),
                header["value"].as_str().unwrap(),
            );
        }
        request.body(body).send().await.unwrap()
    }

    /// `completeAssetUpload`, which must succeed; the asset.
    async fn complete(&self, id: &str) -> Value {
        self.data(COMPLETE, json!({ "id": id })).await["completeAssetUpload"].clone()
    }

    /// Creates, PUTs and completes an asset of `bytes`; the READY asset.
    async fn upload_ready(&self, input: Value, bytes: Vec<u8>) -> Value {
        let upload = self.create_upload(input).await;
        let length = bytes.len() as u64;
        let response = self.put(&upload, bytes, length).await;
        assert_eq!(response.status(), StatusCode::OK, "{upload:#}");
        let asset = self.complete(upload["asset"]["id"].as_str().unwrap()).await;
        assert_eq!(asset["status"], "READY", "{asset:#}");
        asset
    }

    /// The whole body of a GET that must answer 200.
    async fn download(&self, url: &str) -> Vec<u8> {
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {url}");
        response.bytes().await.unwrap().to_vec()
    }

    /// `uploadAsset` as a GraphQL multipart request (operations, map, one file part).
    async fn upload_multipart(
        &self,
        input: Value,
        file_name: &str,
        mime_type: &str,
        bytes: Vec<u8>,
    ) -> reqwest::Response {
        let operations = json!({
            "query": UPLOAD_ASSET,
            "variables": { "file": null, "input": input },
        });
        let form = Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part(
                "0",
                Part::bytes(bytes)
                    .file_name(file_name.to_owned())
                    .mime_str(mime_type)
                    .unwrap(),
            );
        self.client
            .post(format!("{}/graphql", self.base))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

/// `value` without the named fields (those whose values cannot be known beforehand).
fn without(mut value: Value, fields: &[&str]) -> Value {
    for field in fields {
        value.as_object_mut().unwrap().remove(*field);
    }
    value
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `len` bytes that are known in advance and not all alike.
fn known_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

// ----- 1. A 100 MiB upload to a child process, its memory watched -----

/// The peak resident memory of a process so far (`VmHWM`), in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"))
}

/// One MiB of deterministic, incompressible bytes: chunk `index` of a generated stream.
#[cfg(target_os = "linux")]
fn generated_chunk(index: u64) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut chunk = Vec::with_capacity(MIB as usize);
    while chunk.len() < MIB as usize {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.extend_from_slice(&state.to_le_bytes());
    }
    chunk
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_streams_without_growing_server_memory() {
    const CHUNKS: u64 = 100;
    const SIZE: u64 = CHUNKS * MIB;
    const ALLOWED_GROWTH_KIB: u64 = 24 * 1024;

    let dir = tempfile::tempdir().unwrap();
    let mut command = easel(dir.path());
    command
        .arg("serve")
        .env("EASEL_LISTEN", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/easel.db", dir.path().display()),
        )
        .env("EASEL_DATA_DIR", dir.path())
        .env(
            "EASEL_ASSET_STORE",
            format!("file://{}/assets", dir.path().display()),
        );
    let server = common::process::ServerProcess::start(command);
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()
            .unwrap(),
        base: server.url(""),
    };

    let upload = api
        .create_upload(json!({
            "kind": "FILE",
            "mimeType": "application/octet-stream",
            "filename": "big.bin",
            "sizeBytes": SIZE,
        }))
        .await;
    let id = upload["asset"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        without(upload["asset"].clone(), &["id"]),
        json!({
            "status": "PENDING", "kind": "FILE", "mimeType": "application/octet-stream",
            "filename": "big.bin", "sizeBytes": SIZE, "url": null,
        })
    );

    let before = peak_rss_kib(server.pid());
    let sent = Arc::new(Mutex::new(Sha256::new()));
    let body = futures::stream::iter(0..CHUNKS).map({
        let sent = sent.clone();
        move |index| {
            let chunk = generated_chunk(index);
            sent.lock().unwrap().update(&chunk);
            Ok::<_, std::io::Error>(chunk)
        }
    });
    let response = api
        .put(&upload, reqwest::Body::wrap_stream(body), SIZE)
        .await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer:#}");
    assert_eq!(answer, json!({ "assetId": id, "sizeBytes": SIZE }));
    let after_upload = peak_rss_kib(server.pid());

    let asset = api.complete(&id).await;
    assert_eq!(
        without(asset.clone(), &["url"]),
        json!({
            "id": id, "status": "READY", "kind": "FILE", "mimeType": "application/octet-stream",
            "filename": "big.bin", "sizeBytes": SIZE,
        })
    );

    let response = api
        .client
        .get(asset["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = Sha256::new();
    let mut received_len = 0_u64;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        received_len += chunk.len() as u64;
        received.update(&chunk);
    }
    let after_download = peak_rss_kib(server.pid());

    eprintln!(
        "server peak RSS (VmHWM): {before} KiB before the upload, {after_upload} KiB after it \
         (+{} KiB), {after_download} KiB after the download (+{} KiB)",
        after_upload.saturating_sub(before),
        after_download.saturating_sub(before),
    );
    assert_eq!(received_len, SIZE);
    let sent = hex(&sent.lock().unwrap().clone().finalize());
    assert_eq!(hex(&received.finalize()), sent, "downloaded bytes differ");
    assert!(
        after_upload.saturating_sub(before) < ALLOWED_GROWTH_KIB,
        "a {SIZE}-byte upload grew the server's peak RSS from {before} KiB to {after_upload} KiB; \
         log:\n{}",
        server.log_text()
    );
    assert!(
        after_download.saturating_sub(before) < ALLOWED_GROWTH_KIB,
        "a {SIZE}-byte download grew the server's peak RSS from {before} KiB to \
         {after_download} KiB"
    );
    drop(server);
}

// ----- 2. `easel assets gc` against a running server's database and folder -----

/// Every file under `dir`, as sorted `/`-separated paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let parts: Vec<_> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    files
}

/// What one `easel assets gc` run says it removes (or would remove).
#[derive(Debug)]
struct GcReport {
    stale_pending: Vec<String>,
    orphans: Vec<String>,
    stdout: String,
}

/// Runs `easel assets gc` (with `--apply` when `apply`) on the app's database and folder, with
/// no age threshold; what it reports.
async fn assets_gc(app: &TestApp, apply: bool) -> GcReport {
    let mut command = easel(app.dir.path());
    command
        .args(["assets", "gc", "--database-url", &app.database_url])
        .arg("--asset-store")
        .arg(format!(
            "file://{}",
            app.dir.path().join("assets").display()
        ))
        .args(["--pending-older-than", "0s", "--grace", "0s"]);
    if apply {
        command.arg("--apply");
    }
    let output = run_async(command).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "assets gc (apply: {apply}) failed with {}; stdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let verb = if apply { "removed " } else { "would remove " };
    let mut report = GcReport {
        stale_pending: Vec::new(),
        orphans: Vec::new(),
        stdout: stdout.clone(),
    };
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix(verb) else {
            continue;
        };
        if let Some(id) = rest.strip_prefix("stale PENDING asset ") {
            report.stale_pending.push(id.trim().to_owned());
        } else if let Some(object) = rest.strip_prefix("orphan object ") {
            let key = object.rsplit_once(" (").map_or(object, |(key, _)| key);
            report.orphans.push(key.to_owned());
        }
    }
    report
}

/// Checks what one gc run reports: exactly the stale PENDING asset, the orphan object (and at
/// most the pending asset's own upload), nothing of the READY asset.
fn check_gc_report(report: &GcReport, pending_id: &str, orphan_key: &str, ready_id: &str) {
    assert_eq!(
        report.stale_pending,
        vec![pending_id.to_owned()],
        "{report:#?}"
    );
    // The stale asset's upload is reported with the asset, not as a second orphan.
    assert_eq!(report.orphans, vec![orphan_key.to_owned()], "{report:#?}");
    assert!(
        !report.stdout.contains(ready_id),
        "gc names the READY asset: {report:#?}"
    );
}

on_both_databases! {
    async fn assets_gc_finds_and_removes_an_orphan_and_a_stale_pending_asset_and_nothing_else(
        app: TestApp
    ) {
        let api = Api::of(app);
        let assets_dir = app.dir.path().join("assets");

        let kept = known_bytes(3000);
        let ready = api
            .upload_ready(
                json!({
                    "kind": "FILE", "mimeType": "application/octet-stream",
                    "filename": "kept.bin", "sizeBytes": kept.len(),
                }),
                kept.clone(),
            )
            .await;
        let ready_id = ready["id"].as_str().unwrap().to_owned();

        let pending = api
            .create_upload(json!({
                "kind": "FILE", "mimeType": "application/octet-stream", "sizeBytes": 500,
            }))
            .await;
        let pending_id = pending["asset"]["id"].as_str().unwrap().to_owned();
        let response = api.put(&pending, known_bytes(500), 500).await;
        assert_eq!(response.status(), StatusCode::OK);

        let orphan_key = "local/_/orphan-1";
        std::fs::create_dir_all(assets_dir.join("local/_")).unwrap();
        std::fs::write(assets_dir.join(orphan_key), b"nobody's bytes").unwrap();

        let files_before = files_under(&assets_dir);
        assert_eq!(files_before.len(), 3, "{files_before:#?}");
        assert!(files_before.contains(&format!("local/_/{ready_id}")), "{files_before:#?}");
        assert!(files_before.contains(&orphan_key.to_owned()), "{files_before:#?}");
        assert!(files_before.iter().any(|f| f.contains(&pending_id)), "{files_before:#?}");

        // A dry run reports both and removes nothing.
        let dry = assets_gc(app, false).await;
        check_gc_report(&dry, &pending_id, orphan_key, &ready_id);
        assert_eq!(files_under(&assets_dir), files_before);
        assert_eq!(
            api.data(ASSET, json!({ "id": pending_id })).await,
            json!({ "asset": { "id": pending_id, "status": "PENDING" } })
        );

        // --apply removes exactly those.
        let applied = assets_gc(app, true).await;
        check_gc_report(&applied, &pending_id, orphan_key, &ready_id);
        assert_eq!(files_under(&assets_dir), vec![format!("local/_/{ready_id}")]);
        assert_eq!(
            api.data(ASSET, json!({ "id": pending_id })).await,
            json!({ "asset": null })
        );

        // The READY asset is untouched: it answers, and downloads the same bytes.
        assert_eq!(
            api.data(ASSET, json!({ "id": ready_id })).await,
            json!({ "asset": { "id": ready_id, "status": "READY" } })
        );
        let url = api
            .data("query($id: ID!) { asset(id: $id) { url } }", json!({ "id": ready_id }))
            .await["asset"]["url"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(api.download(&url).await, kept);

        // Nothing is left to collect.
        let again = assets_gc(app, true).await;
        assert!(
            again.stale_pending.is_empty() && again.orphans.is_empty(),
            "{again:#?}"
        );
        assert_eq!(files_under(&assets_dir), vec![format!("local/_/{ready_id}")]);
    }
}

// ----- 3. `uploadAsset` as a GraphQL multipart request -----

/// A CRC-32 (the PNG chunk checksum).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real 1×1 RGBA PNG: signature, IHDR, IDAT (a stored zlib block), IEND.
fn tiny_png() -> Vec<u8> {
    fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut checked = kind.to_vec();
        checked.extend_from_slice(data);
        png.extend_from_slice(&checked);
        png.extend_from_slice(&crc32(&checked).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    // width 1, height 1, bit depth 8, colour type 6 (RGBA), deflate, no filter, no interlace.
    chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
    let scanline = [0_u8, 0xE0, 0x40, 0x80, 0xFF]; // filter byte, then one pixel
    let (mut a, mut b) = (1_u32, 0_u32);
    for &byte in &scanline {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    let mut zlib = vec![0x78, 0x01, 0x01, 5, 0, !5, !0];
    zlib.extend_from_slice(&scanline);
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

on_every_store! {
    async fn upload_asset_takes_a_small_file_as_a_graphql_multipart_request(app: TestApp) {
        let api = Api::of(app);
        let png = tiny_png();
        let response = api
            .upload_multipart(json!({ "kind": "IMAGE" }), "pixel.png", "image/png", png.clone())
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body:#}");
        let asset = body["data"]["uploadAsset"].clone();
        let id = asset["id"].as_str().unwrap().to_owned();
        assert_eq!(
            without(asset.clone(), &["id", "url"]),
            json!({
                "status": "READY", "kind": "IMAGE", "filename": "pixel.png",
                "mimeType": "image/png", "sizeBytes": png.len(),
            })
        );
        let url = asset["url"].as_str().unwrap();
        assert_eq!(api.download(url).await, png);
        assert_eq!(
            api.data(ASSET, json!({ "id": id })).await,
            json!({ "asset": { "id": id, "status": "READY" } })
        );
    }
}

on_every_store! {
    async fn upload_asset_refuses_bytes_that_are_not_the_declared_type_and_marks_the_asset_failed(
        app: TestApp
    ) {
        let api = Api::of(app);
        let response = api
            .upload_multipart(
                json!({ "kind": "IMAGE" }),
                "fake.png",
                "image/png",
                b"these bytes are plain text, not a PNG image".to_vec(),
            )
            .await;
        let body: Value = response.json().await.unwrap();
        let error = &body["errors"][0];
        assert_eq!(code(error), "BAD_USER_INPUT", "{body:#}");
        assert_eq!(
            api.data("{ assets { nodes { status url } } }", json!({})).await,
            json!({ "assets": { "nodes": [{ "status": "FAILED", "url": null }] } })
        );
    }
}

on_both_databases! {
    with_config(|c| c.limits.max_body_bytes = 4096);
    async fn a_multipart_upload_over_the_body_limit_is_payload_too_large(app: TestApp) {
        let api = Api::of(app);
        let response = api
            .upload_multipart(
                json!({ "kind": "FILE" }),
                "big.bin",
                "application/octet-stream",
                known_bytes(10 * 1024),
            )
            .await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = response.json().await.unwrap();
        assert_eq!(code(&body["errors"][0]), "PAYLOAD_TOO_LARGE", "{body:#}");
        assert_eq!(
            api.data("{ assets { totalCount } }", json!({})).await,
            json!({ "assets": { "totalCount": 0 } })
        );
    }
}

// ----- 4. Byte ranges of a local download -----

on_both_databases! {
    async fn a_range_request_on_a_local_download_returns_206_and_exactly_those_bytes(
        app: TestApp
    ) {
        let api = Api::of(app);
        let bytes = known_bytes(1000);
        let filename = "résumé 1.bin";
        let asset = api
            .upload_ready(
                json!({
                    "kind": "FILE", "mimeType": "application/octet-stream",
                    "filename": filename, "sizeBytes": 1000,
                }),
                bytes.clone(),
            )
            .await;
        let url = asset["url"].as_str().unwrap().to_owned();

        let get = |range: Option<&'static str>| {
            let mut request = api.client.get(&url);
            if let Some(range) = range {
                request = request.header(RANGE, range);
            }
            request.send()
        };
        let header = |response: &reqwest::Response, name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };

        for (range, wanted, content_range) in [
            ("bytes=0-99", 0..100, "bytes 0-99/1000"),
            ("bytes=900-", 900..1000, "bytes 900-999/1000"),
            ("bytes=-10", 990..1000, "bytes 990-999/1000"),
        ] {
            let response = get(Some(range)).await.unwrap();
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
            assert_eq!(
                header(&response, "content-range").as_deref(),
                Some(content_range),
                "{range}"
            );
            assert_eq!(
                header(&response, "content-length"),
                Some(wanted.len().to_string()),
                "{range}"
            );
            assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[wanted], "{range}");
        }

        let response = get(Some("bytes=5000-")).await.unwrap();
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(header(&response, "content-range").as_deref(), Some("bytes */1000"));

        let response = get(None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-length").as_deref(), Some("1000"));
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/octet-stream")
        );
        let etag = header(&response, "etag").unwrap_or_default();
        assert!(
            etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
            "ETag: {etag:?}"
        );
        let disposition = header(&response, "content-disposition").unwrap_or_default();
        let encoded = disposition
            .split(';')
            .find_map(|part| part.trim().strip_prefix("filename*=UTF-8''"))
            .unwrap_or_else(|| panic!("no UTF-8 filename in Content-Disposition: {disposition}"));
        assert_eq!(
            percent_encoding::percent_decode_str(encoded).decode_utf8().unwrap(),
            filename,
            "Content-Disposition: {disposition}"
        );
        assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[..]);
    }
}
