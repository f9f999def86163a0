//! Moving data: `easel db copy` (SQLite to PostgreSQL and back), `easel export` / `easel restore`
//! into another instance, and `easel assets migrate` interrupted and resumed. Each is checked the
//! way a user would: every GraphQL read of the moved data answers the same, bytes included.

mod common;

use std::collections::BTreeMap;

use common::process::{easel, run_async};
use common::{Backend, ScratchPostgres, TestApp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SAVE: &str =
    "mutation($input: CanvasSnapshotInput!) { saveCanvas(input: $input) { id version } }";

const CREATE_UPLOAD: &str = "mutation($input: CreateAssetUploadInput!) {
    createAssetUpload(input: $input) { asset { id } uploadUrl headers { name value } } }";

const COMPLETE: &str = "mutation($id: ID!) { completeAssetUpload(id: $id) { id status } }";

const NODE_FIELDS: &str = "id type position { x y } width height zIndex parentId data hidden
    draggable selectable connectable deletable focusable extent expandParent sourcePosition
    targetPosition dragHandle style className createdAt updatedAt";

const EDGE_FIELDS: &str = "id source sourceHandle target targetHandle type data animated hidden
    deletable selectable label markerStart markerEnd zIndex style className createdAt updatedAt";

const ASSET_FIELDS: &str = "id canvasId nodeId kind status filename mimeType sizeBytes url
    externalUrl metadata createdAt";

const GENERATION_FIELDS: &str = "id canvasId nodeId model prompt parameters status
    resultAsset { id } errorMessage durationMs retryOf { id } createdAt startedAt finishedAt";

/// `len` bytes that sniff as PNG.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| ((i % 251) as u8) ^ seed));
    bytes.truncate(len);
    bytes
}

/// Uploads `bytes` as a PNG (of `canvas`, on `node`) and completes it; the asset id.
async fn upload(app: &TestApp, canvas: Option<&str>, node: Option<&str>, bytes: Vec<u8>) -> String {
    let upload = app
        .data(
            CREATE_UPLOAD,
            json!({ "input": { "canvasId": canvas, "nodeId": node, "kind": "IMAGE",
                    "mimeType": "image/png", "sizeBytes": bytes.len(), "filename": "cat.png",
                    "metadata": { "w": 64, "h": 48, "seed": 1.5 } } }),
        )
        .await["createAssetUpload"]
        .clone();
    let mut request = app.client.put(upload["uploadUrl"].as_str().unwrap());
    for header in upload["headers"].as_array().unwrap() {
        request = request.header(
            header["name"].as_str().unwrap(),
            header["value"].as_str().unwrap(),
        );
    }
    let response = request.body(bytes).send().await.unwrap();
    assert!(response.status().is_success(), "PUT {}", response.status());
    let id = upload["asset"]["id"].as_str().unwrap().to_owned();
    let done = app.data(COMPLETE, json!({ "id": id })).await;
    assert_eq!(done["completeAssetUpload"]["status"], "READY");
    id
}

/// A canvas with every node and edge field set, nested groups, and unicode text.
fn snapshot_input(id: &str, name: &str, template: bool) -> Value {
    json!({
        "id": id, "name": name, "description": "für die Kampagne ✨", "thumbnail": "asset:thumb",
        "isTemplate": template, "isPublic": !template,
        "viewport": { "x": -120.5, "y": 33.25, "zoom": 0.75 },
        "nodes": [
            { "id": "group-1", "type": "group", "position": { "x": 0, "y": 0 },
              "width": 800.0, "height": 600.5, "zIndex": -1, "data": { "label": "Shots" },
              "style": { "background": "#fafafa" }, "className": "grp", "selectable": true },
            { "id": "prompt-1", "type": "prompt", "position": { "x": 40.125, "y": 60 },
              "parentId": "group-1", "extent": "parent", "expandParent": true,
              "data": { "text": "a cat on the moon", "weights": [1, 0.5, 1e-3], "nested": { "b": 1, "a": null } },
              "draggable": false, "connectable": true, "deletable": false, "focusable": true,
              "sourcePosition": "right", "targetPosition": "left", "dragHandle": ".handle",
              "hidden": false, "zIndex": 2 },
            { "id": "image-1", "type": "imageGen", "position": { "x": 400, "y": 60 },
              "parentId": "group-1", "width": 256.0, "height": 256.0,
              "data": { "model": "flux-pro", "seed": 42, "images": ["asset:x"] } },
            { "id": "video-1", "type": "videoGen", "position": { "x": 900, "y": -30.5 },
              "data": { "model": "kling", "duration": 5, "fps": 24.0 } }
        ],
        "edges": [
            { "id": "e1", "source": "prompt-1", "sourceHandle": "out", "target": "image-1",
              "targetHandle": "prompt", "type": "smoothstep", "animated": true, "label": "prompt",
              "markerEnd": { "type": "arrowclosed" }, "style": { "stroke": "#f00" },
              "data": { "weight": 1 }, "zIndex": 3, "className": "edge" },
            { "id": "e2", "source": "image-1", "target": "video-1", "hidden": false,
              "deletable": true, "selectable": false, "markerStart": "arrow" }
        ]
    })
}

/// Fills an instance through GraphQL: two canvases with every field, three assets (one without
/// a canvas), runs in every state with a retry and a result, settings with an API key, and
/// key-value entries (one holding JSON `null`, one that expires).
async fn populate(app: &TestApp) {
    for (id, name, template) in [("c1", "Shoot", false), ("c2", "Storyboard", true)] {
        app.data(SAVE, json!({ "input": snapshot_input(id, name, template) }))
            .await;
    }
    let a1 = upload(app, Some("c1"), Some("image-1"), png(300_000, 1)).await;
    upload(app, Some("c2"), None, png(20_000, 2)).await;
    upload(app, None, None, png(5_000, 3)).await;

    let create =
        "mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }";
    let run = |prompt: &str| {
        json!({ "input": { "canvasId": "c1", "nodeId": "image-1", "model": "flux-pro",
                "prompt": prompt, "parameters": { "steps": 30, "guidance": 3.5 } } })
    };
    let g1 = app.data(create, run("first")).await["createGeneration"]["id"].clone();
    app.data(
        "mutation($id: ID!) { startGeneration(id: $id) { id } }",
        json!({ "id": g1 }),
    )
    .await;
    app.data(
        "mutation($id: ID!, $a: ID) { completeGeneration(id: $id, resultAssetId: $a) { id } }",
        json!({ "id": g1, "a": a1 }),
    )
    .await;
    let g2 = app.data(create, run("second")).await["createGeneration"]["id"].clone();
    app.data(
        "mutation($id: ID!) { startGeneration(id: $id) { id } }",
        json!({ "id": g2 }),
    )
    .await;
    app.data(
        "mutation($id: ID!) { failGeneration(id: $id, errorMessage: \"provider timeout\") { id } }",
        json!({ "id": g2 }),
    )
    .await;
    app.data(
        "mutation($id: ID!) { retryGeneration(id: $id) { id } }",
        json!({ "id": g2 }),
    )
    .await;

    app.data(
        "mutation { updateSettings(input: { theme: \"dark\", defaultModel: \"flux-pro\",
            preferences: { grid: true, snap: 8 } }) { theme } }",
        json!({}),
    )
    .await;
    app.data(
        "mutation { setApiKey(provider: \"openai\", key: \"sk-test-0123456789abcdef\") { last4 } }",
        json!({}),
    )
    .await;

    let set = "mutation($ns: String!, $key: String!, $value: JSON, $meta: JSON, $ttl: Int) {
        kvSet(namespace: $ns, key: $key, value: $value, metadata: $meta, ttlSeconds: $ttl) { version } }";
    for (ns, key, value, meta, ttl) in [
        (
            "prefs",
            "layout",
            json!({ "panels": ["left", "right"], "w": 1.0 }),
            json!({ "by": "me" }),
            Value::Null,
        ),
        ("prefs", "nothing", Value::Null, Value::Null, Value::Null),
        (
            "drafts",
            "ünïcode/key",
            json!("text"),
            Value::Null,
            json!(3600),
        ),
    ] {
        app.data(
            set,
            json!({ "ns": ns, "key": key, "value": value, "meta": meta, "ttl": ttl }),
        )
        .await;
    }
}

/// Everything the user can read, with each asset URL replaced by the SHA-256 of the bytes it
/// downloads.
async fn read_all(app: &TestApp) -> Value {
    let me = app
        .data("{ me { id email name avatarUrl createdAt } }", json!({}))
        .await;
    let list = app
        .data(
            "{ canvases(first: 100) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    let mut canvases = BTreeMap::new();
    for edge in list["canvases"]["edges"].as_array().unwrap() {
        let id = edge["node"]["id"].as_str().unwrap();
        let query = format!(
            "query($id: ID!) {{ canvas(id: $id) {{ id name description thumbnail isTemplate
             isPublic viewport {{ x y zoom }} version nodeCount edgeCount createdAt updatedAt
             owner {{ id }} nodes {{ {NODE_FIELDS} }} edges {{ {EDGE_FIELDS} }}
             assets {{ {ASSET_FIELDS} }}
             generations(first: 50) {{ edges {{ node {{ {GENERATION_FIELDS} }} }} }} }} }}"
        );
        let mut canvas = app.data(&query, json!({ "id": id })).await["canvas"].clone();
        for asset in canvas["assets"].as_array_mut().unwrap() {
            downloaded(app, asset).await;
        }
        canvases.insert(id.to_owned(), canvas);
    }
    let mut assets = app
        .data(
            &format!(
                "{{ assets(first: 100) {{ totalCount edges {{ node {{ {ASSET_FIELDS} }} }} }} }}"
            ),
            json!({}),
        )
        .await["assets"]
        .clone();
    for edge in assets["edges"].as_array_mut().unwrap() {
        downloaded(app, &mut edge["node"]).await;
    }
    let generations = app
        .data(
            &format!(
                "{{ generations(first: 100) {{ edges {{ node {{ {GENERATION_FIELDS} }} }} }}
                      generationStats {{ total byModel {{ model count }} }} }}"
            ),
            json!({}),
        )
        .await;
    let settings = app
        .data(
            "{ settings { theme defaultModel preferences apiKeys { provider last4 updatedAt }
               updatedAt } apiKey(provider: \"openai\") usage { canvases nodes edges
               assets { total image } storedBytes generations { total completed failed } } }",
            json!({}),
        )
        .await;
    let namespaces = app
        .data("{ kvNamespaces { name entryCount totalBytes } }", json!({}))
        .await["kvNamespaces"]
        .clone();
    let mut kv = BTreeMap::new();
    for ns in namespaces.as_array().unwrap() {
        let name = ns["name"].as_str().unwrap();
        let entries = app
            .data(
                "query($ns: String!) { kvList(namespace: $ns, first: 100) { edges { node {
                    namespace key value metadata version expiresAt updatedAt } } } }",
                json!({ "ns": name }),
            )
            .await;
        kv.insert(name.to_owned(), entries);
    }
    json!({ "me": me, "canvases": canvases, "canvasList": list, "assets": assets,
            "generations": generations, "settings": settings, "kvNamespaces": namespaces,
            "kv": kv })
}

/// Checks that `read_all` saw what `populate` made, so comparisons compare something.
fn assert_populated(all: &Value) {
    assert_eq!(all["canvases"].as_object().unwrap().len(), 2, "{all:#}");
    assert_eq!(all["canvases"]["c1"]["nodes"].as_array().unwrap().len(), 4);
    assert_eq!(
        all["canvases"]["c1"]["edges"][0]["markerEnd"],
        json!({ "type": "arrowclosed" })
    );
    assert_eq!(all["assets"]["totalCount"], 3);
    assert_eq!(
        all["generations"]["generations"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(all["settings"]["apiKey"], "sk-test-0123456789abcdef");
    assert_eq!(
        all["kv"]["prefs"]["kvList"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let asset = &all["canvases"]["c1"]["assets"][0];
    assert_eq!(
        asset["url"].as_str().unwrap().len(),
        64,
        "bytes downloaded: {asset}"
    );
}

/// Replaces an asset's `url` by the SHA-256 of what it downloads.
async fn downloaded(app: &TestApp, asset: &mut Value) {
    let Some(url) = asset["url"].as_str() else {
        return;
    };
    let response = app.client.get(url).send().await.unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        bytes.len() as u64,
        asset["sizeBytes"].as_u64().unwrap(),
        "downloaded size of {}",
        asset["id"]
    );
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    asset["url"] = json!(digest);
}

/// The first difference between two JSON values, by path, for a readable failure.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let (l, r) = (
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                );
                if let Some(d) = first_difference(l, r, &format!("{path}.{key}")) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(l, r, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} != {b}")),
    }
}

fn assert_same(before: &Value, after: &Value) {
    if let Some(difference) = first_difference(before, after, "") {
        panic!("the moved data reads differently: {difference}");
    }
}

/// Runs `easel ARGS` in `dir` to its end; (success, stdout, stderr).
async fn easel_run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let mut command = easel(dir);
    command.args(args);
    let output = run_async(command).await;
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn db_copy_from_sqlite_to_postgres_and_back_answers_every_read_the_same() {
    let Some(pg) = ScratchPostgres::create().await else {
        return;
    };
    let source = TestApp::spawn(Backend::Sqlite).await.unwrap();
    populate(&source).await;
    let before = read_all(&source).await;
    assert_populated(&before);
    let secret_dir = source.dir.path().to_owned();
    let store = format!("file://{}/assets", secret_dir.display());

    let (ok, out, err) = easel_run(
        source.dir.path(),
        &[
            "db",
            "copy",
            "--from",
            &source.database_url,
            "--to",
            &pg.url,
        ],
    )
    .await;
    assert!(ok, "db copy failed:\n{out}\n{err}");
    assert!(out.contains("checksums match"), "{out}");

    // A server on the copy, with the same secret (sealed API keys) and the same store.
    let adjust = |config: &mut easel::Config| {
        config.data_dir = secret_dir.clone();
        config.assets.store_url = store.clone();
    };
    let copy = TestApp::spawn_over(Backend::Postgres, &pg.url, adjust).await;
    assert_same(&before, &read_all(&copy).await);

    // A target with data is refused, and left as it was.
    let (ok, out, err) = easel_run(
        source.dir.path(),
        &[
            "db",
            "copy",
            "--from",
            &source.database_url,
            "--to",
            &pg.url,
        ],
    )
    .await;
    assert!(
        !ok,
        "a second copy into a full database must be refused:\n{out}"
    );
    assert!(err.contains("already holds data"), "{err}");
    assert_same(&before, &read_all(&copy).await);

    // New writes on the copy get fresh event ids (the sequence moved past the copied ones).
    let saved = copy
        .gql(
            SAVE,
            json!({ "input": snapshot_input("c3", "After the move", false) }),
        )
        .await;
    assert!(saved.get("errors").is_none(), "{saved:#}");
    let after_write = read_all(&copy).await;

    // And back from PostgreSQL into a new SQLite file.
    let back_dir = tempfile::tempdir().unwrap();
    let back_url = format!("sqlite://{}/back.db", back_dir.path().display());
    let (ok, out, err) = easel_run(
        back_dir.path(),
        &["db", "copy", "--from", &pg.url, "--to", &back_url],
    )
    .await;
    assert!(ok, "db copy back failed:\n{out}\n{err}");
    let back = TestApp::spawn_over(Backend::Sqlite, &back_url, adjust).await;
    assert_same(&after_write, &read_all(&back).await);

    back.stop().await;
    copy.stop().await;
    source.stop().await;
    pg.drop_database().await;
}

/// Every file under `root` (hidden ones aside: stores write temporary files first), by path
/// relative to it, with its bytes.
fn files_under(root: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut folders = vec![root.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                found.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_assets_migrate_completes_on_a_rerun_with_every_object_equal() {
    let dir = tempfile::tempdir().unwrap();
    let source_root = dir.path().join("assets");
    for i in 0..40u8 {
        let folder = source_root.join(format!("user-{}", i % 3)).join("canvas-1");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("asset-{i:02}")),
            png(512 * 1024 + i as usize, i),
        )
        .unwrap();
    }
    // An upload still in progress is not an asset: it stays behind.
    std::fs::write(
        source_root.join("user-0/canvas-1/asset-99.upload"),
        b"partial",
    )
    .unwrap();
    let mut source = files_under(&source_root);
    source.remove("user-0/canvas-1/asset-99.upload");

    let s3 = common::s3::S3Server::start().await;
    let bucket = s3.root().join(&s3.bucket);
    let command = |extra: &[&str]| {
        let mut command = easel(dir.path());
        command.args(["assets", "migrate", "--asset-store"]);
        command.arg(format!("file://{}", source_root.display()));
        command.args(["--to", &s3.url(), "--concurrency", "1"]);
        for (key, value) in s3.object_store_options() {
            command.arg("--to-option").arg(format!("{key}={value}"));
        }
        command.args(extra);
        command
    };

    // The first run is killed as soon as it reports its first copied object.
    let mut first = command(&[]);
    first
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let first_line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut child = common::process::KillOnDrop(first.spawn().unwrap());
        let stdout = child.0.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let line = lines
            .find(|l| l.as_ref().is_ok_and(|l| l.starts_with("copied ")))
            .expect("the first run reports a copied object")
            .unwrap();
        child.0.kill().ok();
        child.0.wait().ok();
        line
    })
    .await
    .unwrap();
    let after_kill = files_under(&bucket);
    assert!(
        !after_kill.is_empty(),
        "{first_line}: nothing in the target"
    );
    for (key, bytes) in &after_kill {
        assert_eq!(
            Some(bytes),
            source.get(key),
            "{key}: a partial object after the kill"
        );
    }

    eprintln!(
        "{} of {} objects were copied before the kill",
        after_kill.len(),
        source.len()
    );
    // The re-run skips what is there and copies the rest.
    let output = run_async(command(&[])).await;
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let skipped = out
        .lines()
        .filter(|l| l.starts_with("already there"))
        .count();
    assert_eq!(skipped, after_kill.len(), "{out}");
    assert!(
        out.contains(&format!("EASEL_ASSET_STORE={}", s3.url())),
        "{out}"
    );
    assert_eq!(
        files_under(&bucket),
        source,
        "the target holds every object, equal"
    );

    // With --delete-source, the copies are verified and only then the sources go.
    let output = run_async(command(&["--delete-source"])).await;
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(out.contains("matched its source by SHA-256"), "{out}");
    assert_eq!(files_under(&bucket), source);
    let left: Vec<String> = files_under(&source_root).into_keys().collect();
    assert_eq!(left, vec!["user-0/canvas-1/asset-99.upload".to_owned()]);
    s3.stop().await;
}

/// `easel restore FILE` into `app`'s database and store (credentials of an S3 store in the
/// environment, as a server would have them); (success, stdout, stderr).
async fn restore_into(
    app: &TestApp,
    file: &std::path::Path,
    extra: &[&str],
) -> (bool, String, String) {
    let mut command = easel(app.dir.path());
    command.arg("restore").arg(file);
    command.args(["--database-url", &app.database_url]);
    match &app.s3 {
        Some(s3) => {
            command.args(["--asset-store", &s3.url()]);
            for (key, value) in s3.object_store_options() {
                command.env(key.to_ascii_uppercase(), value);
            }
        }
        None => {
            command.arg("--asset-store");
            command.arg(format!("file://{}/assets", app.dir.path().display()));
        }
    }
    command.args(extra);
    let output = run_async(command).await;
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What a restored instance should answer: the source's answers, less the API keys (an archive
/// carries no secrets) and with the target's own `local` user row (it exists before a restore).
fn expected_after_restore(before: &Value, after: &Value) -> Value {
    let mut expected = before.clone();
    expected["me"]["me"]["createdAt"] = after["me"]["me"]["createdAt"].clone();
    expected["settings"]["settings"]["apiKeys"] = json!([]);
    expected["settings"]["apiKey"] = Value::Null;
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn export_then_restore_from_sqlite_into_postgres_on_s3_answers_every_read_the_same() {
    let Some(target) = TestApp::spawn_on(Backend::Postgres, common::Store::S3, |_| {}).await else {
        return;
    };
    let source = TestApp::spawn(Backend::Sqlite).await.unwrap();
    populate(&source).await;
    let before = read_all(&source).await;
    assert_populated(&before);

    let file = source.dir.path().join("backup.tar.gz");
    let store = format!("file://{}/assets", source.dir.path().display());
    let (ok, out, err) = easel_run(
        source.dir.path(),
        &[
            "export",
            "-o",
            file.to_str().unwrap(),
            "--database-url",
            &source.database_url,
            "--asset-store",
            &store,
        ],
    )
    .await;
    assert!(ok, "export failed:\n{out}\n{err}");
    assert!(out.contains("3 asset objects"), "{out}");
    assert!(!std::fs::read(&file).unwrap().is_empty());

    let (ok, out, err) = restore_into(&target, &file, &[]).await;
    assert!(ok, "restore failed:\n{out}\n{err}");
    let after = read_all(&target).await;
    assert_same(&expected_after_restore(&before, &after), &after);

    // Run again: refused before anything is written or uploaded, and nothing changes.
    let (ok, out, err) = restore_into(&target, &file, &[]).await;
    assert!(!ok, "a second restore must be refused:\n{out}");
    assert!(err.contains("exist here already"), "{err}");
    assert_same(&after, &read_all(&target).await);

    // With --skip-existing it keeps all that is there and succeeds.
    let (ok, out, err) = restore_into(&target, &file, &["--skip-existing"]).await;
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("kept as they were: 2 canvases, 3 assets"),
        "{out}"
    );
    assert_same(&after, &read_all(&target).await);

    // Only one canvas, for one user: that canvas with its nodes, edges, assets and runs.
    let one = source.dir.path().join("c2.tar.gz");
    let (ok, out, err) = easel_run(
        source.dir.path(),
        &[
            "export",
            "--canvas",
            "c2",
            "--user",
            "local",
            "-o",
            one.to_str().unwrap(),
            "--database-url",
            &source.database_url,
            "--asset-store",
            &store,
        ],
    )
    .await;
    assert!(ok, "{out}\n{err}");
    let fresh = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (ok, out, err) = restore_into(&fresh, &one, &[]).await;
    assert!(ok, "{out}\n{err}");
    let restored = read_all(&fresh).await;
    assert_eq!(
        restored["canvases"].as_object().unwrap().len(),
        1,
        "{restored:#}"
    );
    assert_same(&before["canvases"]["c2"], &restored["canvases"]["c2"]);
    assert_eq!(
        restored["kv"],
        json!({}),
        "settings and kv go with a whole user only"
    );

    // A canvas made here under an archived id stays as it is, its archived assets with it.
    fresh
        .data(
            "mutation { createCanvas(input: { id: \"c1\", name: \"mine\" }) { id } }",
            json!({}),
        )
        .await;
    let (ok, out, err) = restore_into(&fresh, &file, &["--skip-existing"]).await;
    assert!(ok, "{out}\n{err}");
    let merged = read_all(&fresh).await;
    assert_eq!(merged["canvases"]["c1"]["name"], "mine");
    assert_eq!(merged["canvases"]["c1"]["nodes"], json!([]));
    assert_eq!(merged["canvases"]["c1"]["assets"], json!([]));
    assert_eq!(
        merged["assets"]["totalCount"], 2,
        "c2's and the one without a canvas"
    );
    assert_same(&before["kv"], &merged["kv"]);

    fresh.stop().await;
    target.stop().await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restore_that_fails_in_the_database_leaves_no_rows_and_no_uploaded_objects() {
    let source = TestApp::spawn(Backend::Sqlite).await.unwrap();
    populate(&source).await;
    let file = source.dir.path().join("backup.tar.gz");
    let store = format!("file://{}/assets", source.dir.path().display());
    let (ok, out, err) = easel_run(
        source.dir.path(),
        &[
            "export",
            "-o",
            file.to_str().unwrap(),
            "--database-url",
            &source.database_url,
            "--asset-store",
            &store,
        ],
    )
    .await;
    assert!(ok, "{out}\n{err}");

    // The target already has one of the archive's key-value entries: the rows clash only when
    // written, after the bytes went up.
    let target = TestApp::spawn(Backend::Sqlite).await.unwrap();
    target
        .data(
            "mutation { kvSet(namespace: \"prefs\", key: \"layout\", value: 1) { version } }",
            json!({}),
        )
        .await;
    let before = read_all(&target).await;
    let (ok, out, err) = restore_into(&target, &file, &[]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("kv_entries"), "{err}");
    assert!(
        err.contains("removed the 3 objects this run uploaded"),
        "{err}"
    );
    assert_same(&before, &read_all(&target).await);
    assert_eq!(
        target.stored_objects(),
        Some(vec![]),
        "uploaded objects are removed"
    );

    target.stop().await;
    source.stop().await;
}
