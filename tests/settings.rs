//! Settings, sealed API keys, secret rotation and usage figures, over HTTP on both databases.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::process::{easel, run_async};
use common::{TestApp, code};
use easel::Config;
use easel::auth::Actor;
use easel::canvas::CanvasMetaInput;
use easel::secret::ServerSecrets;
use easel::settings::{self, Keyring, SettingsUpdate};
use entity::generation::{self, GenerationStatus};
use entity::user_settings;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set,
    Statement,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SETTINGS: &str = "{ settings { theme defaultModel preferences apiKeys { provider last4 updatedAt } updatedAt } }";

const UPDATE: &str = "mutation($input: UpdateSettingsInput!) {
    updateSettings(input: $input) { theme defaultModel preferences apiKeys { provider last4 } updatedAt }
}";

const SET_KEY: &str = "mutation($provider: String!, $key: String!) {
    setApiKey(provider: $provider, key: $key) { provider last4 updatedAt }
}";

const API_KEY: &str = "query($provider: String!) { apiKey(provider: $provider) }";

const DELETE_KEY: &str = "mutation($provider: String!) { deleteApiKey(provider: $provider) }";

const USAGE: &str = "{ usage {
    canvases nodes edges storedBytes
    assets { total image video audio file }
    generations { total pending processing completed failed cancelled }
} }";

const OPENAI_KEY: &str = "sk-proj-0123456789abcdefghijWXYZ";
const FAL_KEY: &str = "fal-9f8e7d6c5b4a-3210";

async fn set_key(app: &TestApp, provider: &str, key: &str) -> Value {
    app.data(SET_KEY, json!({ "provider": provider, "key": key }))
        .await["setApiKey"]
        .clone()
}

async fn read_key(app: &TestApp, provider: &str) -> Value {
    app.data(API_KEY, json!({ "provider": provider })).await["apiKey"].clone()
}

/// The keyring the server under test uses: the secrets in its data folder.
fn keyring_of(app: &TestApp) -> Keyring {
    Keyring::new(ServerSecrets::load(None, &[], app.dir.path()).unwrap()).unwrap()
}

fn ann() -> Actor {
    Actor::User("ann".to_owned())
}

/// The `api_keys_encrypted` column of a user, as text, read with SQL.
async fn stored_column(db: &DatabaseConnection, user_id: &str) -> String {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    "SELECT CAST(api_keys_encrypted AS TEXT) AS k FROM user_settings WHERE user_id = $1"
                }
                _ => "SELECT CAST(api_keys_encrypted AS TEXT) AS k FROM user_settings WHERE user_id = ?",
            },
            [user_id.into()],
        ))
        .await
        .unwrap()
        .expect("a settings row");
    row.try_get::<String>("", "k").unwrap()
}

/// The key ids named in a user's stored keys, by provider.
async fn stored_key_ids(db: &DatabaseConnection, user_id: &str) -> Value {
    let stored: Value = serde_json::from_str(&stored_column(db, user_id).await).unwrap();
    let ids: serde_json::Map<String, Value> = stored
        .as_object()
        .unwrap()
        .iter()
        .map(|(provider, sealed)| (provider.clone(), sealed["keyId"].clone()))
        .collect();
    Value::Object(ids)
}

/// Copies the sealed value of `from`'s key for `from_provider` into `to`'s row under
/// `to_provider`, behind the API's back.
async fn copy_sealed(
    db: &DatabaseConnection,
    (from, from_provider): (&str, &str),
    (to, to_provider): (&str, &str),
) {
    let source = user_settings::Entity::find_by_id(from.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let sealed = source.api_keys_encrypted.unwrap()[from_provider].clone();
    let target = user_settings::Entity::find_by_id(to.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut keys = target.api_keys_encrypted.clone().unwrap_or(json!({}));
    keys[to_provider] = sealed;
    let mut active = target.into_active_model();
    active.api_keys_encrypted = Set(Some(keys));
    active.update(db).await.unwrap();
}

/// Another server on the test's database and data folder, with its own configuration.
struct OtherServer {
    addr: SocketAddr,
    client: reqwest::Client,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
}

impl OtherServer {
    async fn start(app: &TestApp, adjust: impl FnOnce(&mut Config)) -> OtherServer {
        let mut config = Config {
            database_url: app.database_url.clone(),
            data_dir: app.dir.path().to_owned(),
            ..Config::default()
        };
        config.assets.store_url = format!("file://{}/assets", app.dir.path().display());
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(easel::serve(config, listener, async {
            rx.await.ok();
        }));
        let other = OtherServer {
            addr,
            client: reqwest::Client::new(),
            shutdown,
            server,
        };
        for _ in 0..200 {
            if let Ok(response) = other
                .client
                .get(format!("http://{addr}/readyz"))
                .send()
                .await
                && response.status().is_success()
            {
                return other;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the other server did not become ready");
    }

    async fn read_key(&self, provider: &str) -> Value {
        let body: Value = self
            .client
            .post(format!("http://{}/graphql", self.addr))
            .json(&json!({ "query": API_KEY, "variables": { "provider": provider } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"]["apiKey"].clone()
    }

    async fn stop(self) {
        self.shutdown.send(()).ok();
        self.server.await.unwrap().unwrap();
    }
}

/// Runs `easel keys rotate` on the test's database and data folder with `env` set; its output.
async fn rotate(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = easel(app.dir.path());
    command
        .args(["keys", "rotate", "--database-url", &app.database_url])
        .arg("--data-dir")
        .arg(app.dir.path())
        .args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    run_async(command).await
}

fn rotate_ok(output: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "easel keys rotate failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn secret_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("secret.key"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

on_both_databases! {
    async fn settings_have_defaults_before_the_first_write_and_belong_to_each_user(app: TestApp) {
        let defaults = json!({ "settings": {
            "theme": "dark", "defaultModel": null, "preferences": {}, "apiKeys": [], "updatedAt": null
        } });
        assert_eq!(app.data(SETTINGS, json!({})).await, defaults);

        // Another user writes settings and a key; the local user still sees the defaults.
        let db = app.db().await;
        let keyring = keyring_of(app);
        let update = SettingsUpdate {
            theme: Some("light".into()),
            preferences: Some(json!({ "grid": true })),
            ..Default::default()
        };
        settings::update_settings(&db, &ann(), update).await.unwrap();
        settings::set_api_key(&db, &keyring, &ann(), "openai", "sk-ann-0123456789abcdef")
            .await
            .unwrap();
        assert_eq!(app.data(SETTINGS, json!({})).await, defaults);
        assert_eq!(read_key(app, "openai").await, Value::Null);

        let anns = settings::settings(&db, &ann()).await.unwrap();
        assert_eq!(anns.theme, "light");
        assert_eq!(anns.preferences, json!({ "grid": true }));
        assert_eq!(anns.api_keys.len(), 1);
        assert_eq!(anns.api_keys[0].last4, "cdef");
        assert!(anns.updated_at.is_some());
        assert_eq!(
            settings::api_key(&db, &keyring, &ann(), "openai").await.unwrap().as_deref(),
            Some("sk-ann-0123456789abcdef")
        );

        // Reading writes nothing: the local user still has no row.
        let rows = user_settings::Entity::find().all(&db).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(), vec!["ann"]);

        // Without a user, nothing is read or written.
        for err in [
            settings::settings(&db, &Actor::Anonymous).await.unwrap_err(),
            settings::api_key(&db, &keyring, &Actor::Anonymous, "openai").await.unwrap_err(),
            settings::set_api_key(&db, &keyring, &Actor::Anonymous, "openai", "sk-x").await.unwrap_err(),
            easel::usage::usage(&db, &Actor::Anonymous).await.unwrap_err(),
        ] {
            assert_eq!(err.code(), "UNAUTHENTICATED");
        }
    }
}

on_both_databases! {
    async fn preferences_merge_nested_objects_and_null_removes_a_key(app: TestApp) {
        let first = app
            .data(UPDATE, json!({ "input": {
                "theme": "light",
                "defaultModel": "flux-pro",
                "preferences": { "grid": { "snap": true, "size": 16 }, "minimap": true, "zoom": 1.5 }
            } }))
            .await["updateSettings"]
            .clone();
        assert_eq!(first["theme"], "light");
        assert_eq!(first["defaultModel"], "flux-pro");
        assert_eq!(
            first["preferences"],
            json!({ "grid": { "snap": true, "size": 16 }, "minimap": true, "zoom": 1.5 })
        );
        assert!(first["updatedAt"].is_string());

        // Nested objects merge, null removes a key, left-out fields stay.
        let second = app
            .data(UPDATE, json!({ "input": {
                "preferences": { "grid": { "size": null, "color": "#ccc" }, "minimap": null, "panel": ["a", "b"] }
            } }))
            .await["updateSettings"]
            .clone();
        assert_eq!(
            second,
            json!({
                "theme": "light",
                "defaultModel": "flux-pro",
                "preferences": { "grid": { "snap": true, "color": "#ccc" }, "zoom": 1.5, "panel": ["a", "b"] },
                "apiKeys": [],
                "updatedAt": second["updatedAt"],
            })
        );

        // defaultModel: null clears it; the settings read back as written.
        app.data(UPDATE, json!({ "input": { "defaultModel": null } })).await;
        let read = app.data(SETTINGS, json!({})).await["settings"].clone();
        assert_eq!(read["defaultModel"], Value::Null);
        assert_eq!(read["theme"], "light");
        assert_eq!(read["preferences"], second["preferences"]);

        // Bad input names its field and changes nothing.
        for (input, field) in [
            (json!({ "theme": "" }), "input.theme"),
            (json!({ "theme": "t".repeat(65) }), "input.theme"),
            (json!({ "defaultModel": "m".repeat(129) }), "input.defaultModel"),
            (json!({ "preferences": [1, 2] }), "input.preferences"),
            (json!({ "preferences": "dark" }), "input.preferences"),
        ] {
            let error = app.error(UPDATE, json!({ "input": input })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
            assert_eq!(error["extensions"]["field"], field, "{error:#}");
        }
        let too_big = json!({ "preferences": { "blob": "x".repeat(64 * 1024) }, "theme": "neon" });
        let error = app.error(UPDATE, json!({ "input": too_big })).await;
        assert_eq!(code(&error), "PAYLOAD_TOO_LARGE", "{error:#}");
        assert_eq!(app.data(SETTINGS, json!({})).await["settings"], read);
    }
}

on_both_databases! {
    async fn keys_round_trip_and_settings_show_only_provider_and_last4(app: TestApp) {
        let info = set_key(app, "openai", OPENAI_KEY).await;
        assert_eq!(info["provider"], "openai");
        assert_eq!(info["last4"], "WXYZ");
        assert!(info["updatedAt"].is_string());
        set_key(app, "fal", FAL_KEY).await;
        assert_eq!(read_key(app, "openai").await, json!(OPENAI_KEY));
        assert_eq!(read_key(app, "fal").await, json!(FAL_KEY));
        assert_eq!(read_key(app, "replicate").await, Value::Null);

        let settings = app.data(SETTINGS, json!({})).await;
        let keys: Vec<Value> = settings["settings"]["apiKeys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| json!({ "provider": k["provider"], "last4": k["last4"] }))
            .collect();
        assert_eq!(
            keys,
            vec![
                json!({ "provider": "fal", "last4": "3210" }),
                json!({ "provider": "openai", "last4": "WXYZ" }),
            ]
        );
        let text = settings.to_string();
        assert!(!text.contains(OPENAI_KEY) && !text.contains(FAL_KEY), "{text}");

        // A new key replaces the old one.
        set_key(app, "openai", "sk-proj-replaced-0000000011112222").await;
        assert_eq!(read_key(app, "openai").await, json!("sk-proj-replaced-0000000011112222"));

        // Deleting says whether there was a key.
        let deleted = app.data(DELETE_KEY, json!({ "provider": "fal" })).await;
        assert_eq!(deleted, json!({ "deleteApiKey": true }));
        let again = app.data(DELETE_KEY, json!({ "provider": "fal" })).await;
        assert_eq!(again, json!({ "deleteApiKey": false }));
        assert_eq!(read_key(app, "fal").await, Value::Null);
        let never = app.data(DELETE_KEY, json!({ "provider": "never" })).await;
        assert_eq!(never, json!({ "deleteApiKey": false }));

        // Bad names and keys are refused by field, and the error repeats no key.
        for (provider, key, field) in [
            ("Open AI", "sk-valid-key", "provider"),
            ("", "sk-valid-key", "provider"),
            (&*"p".repeat(65), "sk-valid-key", "provider"),
            ("openai", "", "key"),
            ("openai", "sk-pasted-with-a-newline\n", "key"),
            ("openai", &*"k".repeat(4097), "key"),
        ] {
            let error = app.error(SET_KEY, json!({ "provider": provider, "key": key })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
            assert_eq!(error["extensions"]["field"], field, "{error:#}");
            if !key.is_empty() {
                assert!(!error.to_string().contains(key.trim()), "{error:#}");
            }
        }
        let error = app.error(API_KEY, json!({ "provider": "Open AI" })).await;
        assert_eq!(error["extensions"]["field"], "provider");
        assert_eq!(read_key(app, "openai").await, json!("sk-proj-replaced-0000000011112222"));
    }
}

on_both_databases! {
    async fn the_stored_column_holds_no_plaintext(app: TestApp) {
        set_key(app, "openai", OPENAI_KEY).await;
        set_key(app, "fal", FAL_KEY).await;
        let db = app.db().await;
        let column = stored_column(&db, "local").await;
        assert!(!column.contains(OPENAI_KEY), "{column}");
        assert!(!column.contains(FAL_KEY), "{column}");
        assert!(!column.contains(&STANDARD.encode(OPENAI_KEY)), "{column}");
        let current = keyring_of(app).current_key_id();
        assert_eq!(
            stored_key_ids(&db, "local").await,
            json!({ "openai": current, "fal": current })
        );
    }
}

on_both_databases! {
    async fn a_sealed_key_copied_to_another_provider_or_user_does_not_open(app: TestApp) {
        set_key(app, "openai", OPENAI_KEY).await;
        let db = app.db().await;

        // Local's openai key, copied under fal.
        copy_sealed(&db, ("local", "openai"), ("local", "fal")).await;
        let error = app.error(API_KEY, json!({ "provider": "fal" })).await;
        assert_eq!(code(&error), "INTERNAL_SERVER_ERROR", "{error:#}");
        assert!(error["extensions"]["requestId"].is_string(), "{error:#}");
        assert!(!error.to_string().contains(OPENAI_KEY), "{error:#}");

        // Ann's openai key, copied into local's row under the same provider.
        settings::set_api_key(&db, &keyring_of(app), &ann(), "openai", "sk-ann-0123456789abcdef")
            .await
            .unwrap();
        copy_sealed(&db, ("ann", "openai"), ("local", "openai")).await;
        let error = app.error(API_KEY, json!({ "provider": "openai" })).await;
        assert_eq!(code(&error), "INTERNAL_SERVER_ERROR", "{error:#}");
        assert!(!error.to_string().contains("sk-ann"), "{error:#}");

        // The listing still works, and the owner's own key still opens.
        let settings = app.data(SETTINGS, json!({})).await;
        assert_eq!(settings["settings"]["apiKeys"].as_array().unwrap().len(), 2);
        assert_eq!(
            settings::api_key(&db, &keyring_of(app), &ann(), "openai").await.unwrap().as_deref(),
            Some("sk-ann-0123456789abcdef")
        );
    }
}

on_both_databases! {
    async fn rotating_the_secret_file_keeps_every_key_readable(app: TestApp) {
        set_key(app, "openai", OPENAI_KEY).await;
        set_key(app, "fal", FAL_KEY).await;
        let db = app.db().await;
        settings::set_api_key(&db, &keyring_of(app), &ann(), "replicate", "r8_ann_0123456789abcdef")
            .await
            .unwrap();
        let old_id = keyring_of(app).current_key_id();
        assert_eq!(secret_lines(app.dir.path()), 1);

        let stdout = rotate_ok(&rotate(app, &[], &[]).await);
        let new_id = keyring_of(app).current_key_id();
        assert_ne!(new_id, old_id);
        assert_eq!(keyring_of(app).key_ids(), vec![new_id.clone(), old_id.clone()]);
        assert_eq!(secret_lines(app.dir.path()), 2);
        assert!(stdout.contains(&format!("re-sealed 3 API keys from key id {old_id} under key id {new_id}")), "{stdout}");
        assert!(!stdout.contains(OPENAI_KEY), "{stdout}");

        // The column names the new key id for every value.
        assert_eq!(stored_key_ids(&db, "local").await, json!({ "openai": new_id, "fal": new_id }));
        assert_eq!(stored_key_ids(&db, "ann").await, json!({ "replicate": new_id }));

        // The server that was running meets the new key id and re-reads the file.
        assert_eq!(read_key(app, "openai").await, json!(OPENAI_KEY));
        assert_eq!(read_key(app, "fal").await, json!(FAL_KEY));

        // A new server on the same database and data folder reads every key back.
        let other = OtherServer::start(app, |_| {}).await;
        assert_eq!(other.read_key("openai").await, json!(OPENAI_KEY));
        assert_eq!(other.read_key("fal").await, json!(FAL_KEY));
        other.stop().await;
        assert_eq!(
            settings::api_key(&db, &keyring_of(app), &ann(), "replicate").await.unwrap().as_deref(),
            Some("r8_ann_0123456789abcdef")
        );

        // Re-sealing again finds everything under the current key already.
        let stdout = rotate_ok(&rotate(app, &["--reseal-only"], &[]).await);
        assert!(stdout.contains("0 re-sealed, 3 already under"), "{stdout}");
        assert_eq!(secret_lines(app.dir.path()), 2);
    }
}

const K1: [u8; 32] = [11; 32];
const K2: [u8; 32] = [22; 32];

on_both_databases! {
    with_config(|config| config.secret_key = Some(STANDARD.encode(K1)));
    async fn rotating_configured_secrets_reseals_every_key_under_the_new_one(app: TestApp) {
        set_key(app, "openai", OPENAI_KEY).await;
        set_key(app, "fal", FAL_KEY).await;
        let db = app.db().await;
        let before = stored_column(&db, "local").await;
        let (k1, k2) = (STANDARD.encode(K1), STANDARD.encode(K2));

        // Without the old secret nothing opens: the command fails and changes nothing.
        let output = rotate(app, &[], &[("EASEL_SECRET_KEY", &k2)]).await;
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("could not be opened"), "{stderr}");
        assert!(!stderr.contains(OPENAI_KEY) && !stderr.contains(&k1), "{stderr}");
        assert_eq!(stored_column(&db, "local").await, before);
        assert!(!app.dir.path().join("secret.key").exists());

        // With the old one named, every key moves under the new secret.
        let stdout = rotate_ok(
            &rotate(app, &[], &[("EASEL_SECRET_KEY", &k2), ("EASEL_OLD_SECRET_KEYS", &k1)]).await,
        );
        assert!(stdout.contains("2 re-sealed"), "{stdout}");
        let dir = tempfile::tempdir().unwrap();
        let new_id = Keyring::new(ServerSecrets::load(Some(&k2), &[], dir.path()).unwrap())
            .unwrap()
            .current_key_id();
        assert_eq!(stored_key_ids(&db, "local").await, json!({ "openai": new_id, "fal": new_id }));

        // A server with only the new secret reads every key; the old one can go.
        let other = OtherServer::start(app, |config| config.secret_key = Some(k2.clone())).await;
        assert_eq!(other.read_key("openai").await, json!(OPENAI_KEY));
        assert_eq!(other.read_key("fal").await, json!(FAL_KEY));
        other.stop().await;
    }
}

/// Saves a canvas `id` with `nodes` nodes in a chain, joined by `nodes - 1` edges.
async fn save_chain(app: &TestApp, id: &str, nodes: usize) {
    let node_list: Vec<Value> = (0..nodes)
        .map(|i| json!({ "id": format!("n{i}"), "position": { "x": i, "y": 0 } }))
        .collect();
    let edge_list: Vec<Value> = (1..nodes)
        .map(|i| json!({ "id": format!("e{i}"), "source": format!("n{}", i - 1), "target": format!("n{i}") }))
        .collect();
    app.data(
        "mutation($input: CanvasSnapshotInput!) { saveCanvas(input: $input) { id } }",
        json!({ "input": { "id": id, "name": id, "nodes": node_list, "edges": edge_list } }),
    )
    .await;
}

/// `len` bytes that sniff as PNG.
fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend((0..len.saturating_sub(bytes.len())).map(|i| (i % 251) as u8));
    bytes.truncate(len);
    bytes
}

/// Creates an upload of `kind`/`mime` with `bytes`; completes it when `complete`.
async fn upload(app: &TestApp, kind: &str, mime: &str, bytes: Vec<u8>, complete: bool) {
    let upload = app
        .data(
            "mutation($input: CreateAssetUploadInput!) { createAssetUpload(input: $input) {
                asset { id } uploadUrl headers { name value } } }",
            json!({ "input": { "canvasId": "c1", "kind": kind, "mimeType": mime, "sizeBytes": bytes.len() } }),
        )
        .await["createAssetUpload"]
        .clone();
    if !complete {
        return;
    }
    let mut request = app.client.put(upload["uploadUrl"].as_str().unwrap());
    for header in upload["headers"].as_array().unwrap() {
        request = request.header(
            header["name"].as_str().unwrap(),
            header["value"].as_str().unwrap(),
        );
    }
    let response = request.body(bytes).send().await.unwrap();
    assert!(response.status().is_success(), "PUT: {}", response.status());
    app.data(
        "mutation($id: ID!) { completeAssetUpload(id: $id) { status } }",
        json!({ "id": upload["asset"]["id"] }),
    )
    .await;
}

async fn register_external(app: &TestApp, kind: &str, mime: &str, size: Option<i64>) {
    app.data(
        "mutation($input: RegisterExternalAssetInput!) { registerExternalAsset(input: $input) { id } }",
        json!({ "input": { "canvasId": "c2", "kind": kind, "mimeType": mime,
                           "url": "https://cdn.example.com/out.bin", "sizeBytes": size } }),
    )
    .await;
}

async fn insert_generation(
    db: &DatabaseConnection,
    owner: &str,
    canvas: &str,
    status: GenerationStatus,
) {
    generation::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        owner_id: Set(owner.to_owned()),
        canvas_id: Set(canvas.to_owned()),
        model: Set("flux-pro".to_owned()),
        status: Set(status),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

on_both_databases! {
    async fn usage_figures_equal_counts_made_in_the_test(app: TestApp) {
        let empty = app.data(USAGE, json!({})).await;
        assert_eq!(
            empty["usage"],
            json!({
                "canvases": 0, "nodes": 0, "edges": 0, "storedBytes": 0,
                "assets": { "total": 0, "image": 0, "video": 0, "audio": 0, "file": 0 },
                "generations": { "total": 0, "pending": 0, "processing": 0, "completed": 0, "failed": 0, "cancelled": 0 },
            })
        );
        let statements_empty = {
            let before = app.statements().await;
            app.data(USAGE, json!({})).await;
            app.statements().await - before
        };

        // Canvases: 3 + 5 + 0 nodes, 2 + 4 + 0 edges.
        let chains = [("c1", 3), ("c2", 5), ("c3", 0)];
        for (id, nodes) in chains {
            save_chain(app, id, nodes).await;
        }
        let nodes: usize = chains.iter().map(|(_, n)| n).sum();
        let edges: usize = chains.iter().map(|(_, n)| n.saturating_sub(1)).sum();

        // Assets: two stored PNGs, a PENDING video upload, two external ones (no stored bytes).
        let (png_a, png_b) = (1_500, 4_321);
        upload(app, "IMAGE", "image/png", png(png_a), true).await;
        upload(app, "IMAGE", "image/png", png(png_b), true).await;
        upload(app, "VIDEO", "video/mp4", vec![0; 2_000], false).await;
        register_external(app, "IMAGE", "image/webp", Some(99_999)).await;
        register_external(app, "AUDIO", "audio/mpeg", None).await;

        // Generations, written behind the API; and another user's, which must not count.
        let db = app.db().await;
        let statuses = [
            GenerationStatus::Pending,
            GenerationStatus::Pending,
            GenerationStatus::Processing,
            GenerationStatus::Completed,
            GenerationStatus::Completed,
            GenerationStatus::Completed,
            GenerationStatus::Failed,
        ];
        for (i, status) in statuses.iter().enumerate() {
            insert_generation(&db, "local", if i % 2 == 0 { "c1" } else { "c2" }, *status).await;
        }
        easel::canvas::create_canvas(
            &db,
            &ann(),
            Some("ann-canvas".into()),
            CanvasMetaInput { name: Some("Ann's".into()), ..Default::default() },
            &easel::Limits::default(),
            &easel::canvas::events::EventLog::detached(&Default::default()),
        )
        .await
        .unwrap();
        insert_generation(&db, "ann", "ann-canvas", GenerationStatus::Cancelled).await;

        let count = |s: GenerationStatus| statuses.iter().filter(|x| **x == s).count();
        let usage = app.data(USAGE, json!({})).await;
        assert_eq!(
            usage["usage"],
            json!({
                "canvases": chains.len(),
                "nodes": nodes,
                "edges": edges,
                "storedBytes": png_a + png_b,
                "assets": { "total": 5, "image": 3, "video": 1, "audio": 1, "file": 0 },
                "generations": {
                    "total": statuses.len(),
                    "pending": count(GenerationStatus::Pending),
                    "processing": count(GenerationStatus::Processing),
                    "completed": count(GenerationStatus::Completed),
                    "failed": count(GenerationStatus::Failed),
                    "cancelled": 0,
                },
            })
        );

        // The same number of statements with many rows as with none.
        let before = app.statements().await;
        app.data(USAGE, json!({})).await;
        assert_eq!(app.statements().await - before, statements_empty);
        assert!(statements_empty <= 5, "{statements_empty} statements");

        // The independent count, with SQL, agrees on the nodes.
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM canvas_nodes n JOIN canvases c ON c.id = n.canvas_id WHERE c.owner_id = 'local'",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), nodes as i64);
    }
}
