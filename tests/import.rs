//! Importing from the browser: a realistic localStorage dump of a canvas app, imported and read
//! back through GraphQL; SKIP, OVERWRITE and COPY; a malformed canvas that leaves nothing; data
//! URLs that become assets; API keys only when asked; every accepted shape; and `easel import`.

mod common;

use base64::Engine as _;
use common::process::{easel, run_async};
use common::{TestApp, code};
use serde_json::{Value, json};

const IMPORT: &str = "mutation($data: JSON!, $on: ImportConflict, $keys: Boolean) {
    importCanvases(data: $data, onConflict: $on, importApiKeys: $keys) {
        imported skipped failed ignored
        canvases { source sourceId name status canvasId reason assetIds warnings
                   missingMedia { nodeId path value } canvas { id version } }
        settings { source status reason theme preferences dropped
                   apiKeys { provider status reason } } } }";

const READ: &str = "query($id: ID!) { canvas(id: $id) {
    id name thumbnail version createdAt updatedAt viewport { x y zoom }
    nodes { id type position { x y } width height zIndex parentId data extent style }
    edges { id source sourceHandle target targetHandle type animated } } }";

const LIST: &str = "{ canvases(first: 100) { totalCount edges { node { id name } } } }";

const ASSETS: &str = "query($id: ID!) { canvas(id: $id) {
    assets { id status kind mimeType sizeBytes nodeId canvasId url } } }";

/// A 1×1 PNG, as the fixtures embed it.
const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

const SHOOT: &str = "canvas_1731000000000_k3x9";
const STORY: &str = "canvas_1731200000000_p7q2";
const EMPTY: &str = "canvas_1731400000000_zz00";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fixture_path(name: &str) -> String {
    format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The stored canvases of the dump, as the app keeps them in `spaces-canvases`.
fn stored_canvases() -> Vec<Value> {
    let dump = fixture("koda-localstorage.json");
    serde_json::from_str(dump["spaces-canvases"].as_str().unwrap()).unwrap()
}

fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(PNG_1X1)
        .unwrap()
}

async fn import(app: &TestApp, data: Value, on: &str, keys: bool) -> Value {
    app.data(IMPORT, json!({ "data": data, "on": on, "keys": keys }))
        .await["importCanvases"]
        .clone()
}

async fn read(app: &TestApp, id: &str) -> Value {
    app.data(READ, json!({ "id": id })).await["canvas"].clone()
}

async fn canvas_ids(app: &TestApp) -> Vec<String> {
    let mut ids: Vec<String> = app.data(LIST, json!({})).await["canvases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn assets_of(app: &TestApp, id: &str) -> Vec<Value> {
    app.data(ASSETS, json!({ "id": id })).await["canvas"]["assets"]
        .as_array()
        .unwrap()
        .clone()
}

fn by_source<'a>(report: &'a Value, source: &str) -> &'a Value {
    report["canvases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == source)
        .unwrap_or_else(|| panic!("no {source} in {report:#}"))
}

fn millis(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// A node of the input as it should read back: UI state gone, `data:` URLs replaced by the
/// asset references `refs` (JSON pointer in data → asset id), defaults filled in.
fn expected_node(node: &Value, refs: &[(&str, &str)]) -> Value {
    let mut data = node["data"].clone();
    for (pointer, asset) in refs {
        *data.pointer_mut(pointer).unwrap() = json!(format!("asset:{asset}"));
    }
    json!({
        "id": node["id"],
        "type": node["type"],
        "position": { "x": node["position"]["x"].as_f64(), "y": node["position"]["y"].as_f64() },
        "width": node["width"].as_f64(),
        "height": node["height"].as_f64(),
        "zIndex": node["zIndex"].as_i64().unwrap_or(0),
        "parentId": node["parentId"],
        "data": data,
        "extent": node["extent"],
        "style": node["style"],
    })
}

fn expected_edge(edge: &Value) -> Value {
    json!({
        "id": edge["id"], "source": edge["source"], "sourceHandle": edge["sourceHandle"],
        "target": edge["target"], "targetHandle": edge["targetHandle"],
        "type": edge.get("type").cloned().unwrap_or(json!("default")),
        "animated": edge["animated"],
    })
}

/// The one asset of `canvas` on node `node_id`.
fn asset_on<'a>(assets: &'a [Value], node_id: &str) -> &'a Value {
    let found: Vec<&Value> = assets.iter().filter(|a| a["nodeId"] == node_id).collect();
    assert_eq!(found.len(), 1, "assets of node {node_id}: {assets:#?}");
    found[0]
}

on_both_databases! {
    async fn a_browser_dump_reads_back_and_a_second_skip_import_imports_nothing(app: TestApp) {
        let dump = fixture("koda-localstorage.json");
        let first = import(app, dump.clone(), "SKIP", false).await;
        assert_eq!((first["imported"].as_i64(), first["skipped"].as_i64(), first["failed"].as_i64()),
                   (Some(3), Some(1), Some(0)), "{first:#}");
        // The app's open canvas is the same as one of its list: not imported twice.
        let open = by_source(&first, "spaces-canvas-storage");
        assert_eq!(open["status"], "SKIPPED");
        assert!(open["reason"].as_str().unwrap().contains("spaces-canvases[0]"), "{open}");
        let ignored = first["ignored"].as_array().unwrap();
        assert_eq!(ignored.len(), 2, "{ignored:?}");

        // Missing media: `cached:`, `blob:` and empty media fields, listed where they are.
        let shoot = by_source(&first, "spaces-canvases[0]");
        assert_eq!(shoot["status"], "IMPORTED");
        assert_eq!(shoot["canvasId"], SHOOT);
        let mut missing: Vec<(String, String, String)> = shoot["missingMedia"].as_array().unwrap().iter()
            .map(|m| (m["nodeId"].as_str().unwrap().into(), m["path"].as_str().unwrap().into(),
                      m["value"].as_str().unwrap().into()))
            .collect();
        missing.sort();
        assert_eq!(missing, vec![
            ("image-2".into(), "/outputUrl".into(), "cached:image-2".into()),
            ("image-2".into(), "/referenceImages/0".into(), "".into()),
            ("video-1".into(), "/thumbnail".into(), "".into()),
            ("video-1".into(), "/videoUrl".into(), "blob:http://localhost:3000/6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b".into()),
        ]);
        let story = by_source(&first, "spaces-canvases[1]");
        assert_eq!(story["missingMedia"].as_array().unwrap().len(), 2, "{story:#}");

        // Every canvas reads back as the app kept it, times to the millisecond.
        for source in stored_canvases() {
            let id = source["id"].as_str().unwrap();
            let canvas = read(app, id).await;
            assert_eq!(canvas["name"], source["name"]);
            assert_eq!(canvas["thumbnail"], source.get("thumbnail").cloned().unwrap_or(Value::Null));
            assert_eq!(canvas["version"], 1);
            assert_eq!(millis(&canvas["createdAt"]), source["createdAt"].as_i64().unwrap());
            assert_eq!(millis(&canvas["updatedAt"]), source["updatedAt"].as_i64().unwrap());
            let assets = assets_of(app, id).await;
            let refs: Vec<(String, &str, String)> = match id {
                SHOOT => vec![
                    ("image-1".into(), "/outputUrl", asset_on(&assets, "image-1")["id"].as_str().unwrap().into()),
                    ("image-1".into(), "/imageUrl", asset_on(&assets, "image-1")["id"].as_str().unwrap().into()),
                    ("image-2".into(), "/referenceImages/1", asset_on(&assets, "image-2")["id"].as_str().unwrap().into()),
                ],
                STORY => vec![
                    ("vid-a".into(), "/firstFrame", asset_on(&assets, "vid-a")["id"].as_str().unwrap().into()),
                ],
                _ => vec![],
            };
            let expected_nodes: Vec<Value> = source["nodes"].as_array().unwrap().iter()
                .map(|n| {
                    let mine: Vec<(&str, &str)> = refs.iter()
                        .filter(|(node, _, _)| n["id"] == node.as_str())
                        .map(|(_, p, a)| (*p, a.as_str()))
                        .collect();
                    expected_node(n, &mine)
                })
                .collect();
            assert_eq!(canvas["nodes"], json!(expected_nodes), "nodes of {id}");
            let expected_edges: Vec<Value> = source["edges"].as_array().unwrap().iter().map(expected_edge).collect();
            assert_eq!(canvas["edges"], json!(expected_edges), "edges of {id}");
        }
        assert_eq!(canvas_ids(app).await, vec![SHOOT, STORY, EMPTY]);

        // Again with SKIP: nothing new, nothing changed, no new asset.
        let assets_before = assets_of(app, SHOOT).await.len() + assets_of(app, STORY).await.len();
        let objects_before = app.stored_objects();
        let second = import(app, dump, "SKIP", false).await;
        assert_eq!((second["imported"].as_i64(), second["skipped"].as_i64(), second["failed"].as_i64()),
                   (Some(0), Some(4), Some(0)), "{second:#}");
        assert_eq!(by_source(&second, "spaces-canvases[0]")["canvasId"], SHOOT);
        assert_eq!(canvas_ids(app).await, vec![SHOOT, STORY, EMPTY]);
        for id in [SHOOT, STORY, EMPTY] {
            assert_eq!(read(app, id).await["version"], 1, "{id}");
        }
        assert_eq!(assets_of(app, SHOOT).await.len() + assets_of(app, STORY).await.len(), assets_before);
        assert_eq!(app.stored_objects(), objects_before);
    }
}

on_both_databases! {
    async fn copy_imports_every_canvas_under_a_new_id(app: TestApp) {
        let list = json!(stored_canvases());
        import(app, list.clone(), "SKIP", false).await;
        let copied = import(app, list, "COPY", false).await;
        assert_eq!(copied["imported"], 3, "{copied:#}");
        let originals = [SHOOT, STORY, EMPTY];
        for (i, original) in originals.iter().enumerate() {
            let c = &copied["canvases"][i];
            let new_id = c["canvasId"].as_str().unwrap();
            assert_eq!(c["sourceId"], *original);
            assert!(!originals.contains(&new_id), "{new_id}");
            let (copy, source) = (read(app, new_id).await, read(app, original).await);
            assert_eq!(copy["name"], source["name"]);
            assert_eq!(copy["edges"], source["edges"]);
            let ids = |c: &Value| c["nodes"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect::<Vec<_>>();
            assert_eq!(ids(&copy), ids(&source));
            // The copy has its own assets, on the copy.
            for asset in assets_of(app, new_id).await {
                assert_eq!(asset["canvasId"], new_id);
            }
        }
        assert_eq!(assets_of(app, copied["canvases"][0]["canvasId"].as_str().unwrap()).await.len(), 2);
        assert_eq!(canvas_ids(app).await.len(), 6);
    }
}

on_both_databases! {
    async fn a_malformed_canvas_in_the_middle_is_reported_and_leaves_nothing(app: TestApp) {
        let report = import(app, fixture("with-malformed.json"), "SKIP", false).await;
        assert_eq!((report["imported"].as_i64(), report["failed"].as_i64()), (Some(2), Some(1)), "{report:#}");
        let bad = &report["canvases"][1];
        assert_eq!(bad["status"], "FAILED");
        assert_eq!(bad["sourceId"], "canvas_bad");
        assert_eq!(bad["canvas"], Value::Null);
        assert_eq!(bad["assetIds"], json!([]));
        let reason = bad["reason"].as_str().unwrap();
        assert!(reason.contains("nodes[0].parentId") && reason.contains("no-such-group"), "{reason}");
        assert_eq!(canvas_ids(app).await, vec!["canvas_good_a", "canvas_good_b"]);
        let exists = app.data("{ canvasExists(id: \"canvas_bad\") }", json!({})).await;
        assert_eq!(exists["canvasExists"], false);

        // Its image was stored before the graph check refused it; it is gone again, and the
        // store holds exactly the one object of the good canvas.
        let assets = assets_of(app, "canvas_good_a").await;
        assert_eq!(assets.len(), 1);
        let objects = app.stored_objects().unwrap();
        assert_eq!(objects.len(), 1, "{objects:?}");
        assert!(objects[0].ends_with(assets[0]["id"].as_str().unwrap()), "{objects:?}");
        let db = app.db().await;
        use sea_orm::{EntityTrait, PaginatorTrait};
        assert_eq!(entity::asset::Entity::find().count(&db).await.unwrap(), 1);
        assert_eq!(entity::blob_deletion::Entity::find().count(&db).await.unwrap(), 0);
    }
}

on_both_databases! {
    async fn a_data_url_becomes_a_ready_asset_whose_bytes_download_equal(app: TestApp) {
        let report = import(app, fixture("with-malformed.json"), "SKIP", false).await;
        let good = &report["canvases"][0];
        let asset_id = good["assetIds"][0].as_str().unwrap();
        let canvas = read(app, "canvas_good_a").await;
        assert_eq!(canvas["nodes"][0]["data"], json!({ "outputUrl": format!("asset:{asset_id}") }));
        let assets = assets_of(app, "canvas_good_a").await;
        let asset = &assets[0];
        assert_eq!(asset["id"], asset_id);
        assert_eq!(asset["status"], "READY");
        assert_eq!(asset["kind"], "IMAGE");
        assert_eq!(asset["mimeType"], "image/png");
        assert_eq!(asset["nodeId"], "n1");
        assert_eq!(asset["sizeBytes"], png().len());
        let response = app.client.get(asset["url"].as_str().unwrap()).send().await.unwrap();
        assert!(response.status().is_success());
        assert_eq!(response.bytes().await.unwrap().to_vec(), png());
    }
}

on_both_databases! {
    async fn api_keys_are_skipped_without_the_flag_and_sealed_with_it(app: TestApp) {
        let dump = fixture("koda-localstorage.json");
        let first = import(app, dump.clone(), "SKIP", false).await;
        let settings = &first["settings"];
        assert_eq!(settings["source"], "spaces-settings-storage");
        assert_eq!(settings["status"], "IMPORTED");
        assert_eq!(settings["theme"], "light");
        assert_eq!(settings["preferences"], json!(["canvasPreferences", "defaultSettings"]));
        assert_eq!(settings["dropped"].as_array().unwrap().len(), 1, "{settings:#}");
        let keys = settings["apiKeys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "{keys:?}");
        for key in keys {
            assert_eq!(key["status"], "SKIPPED");
            assert!(key["reason"].as_str().unwrap().contains("importApiKeys"));
        }
        assert!(!first.to_string().contains("fal_test_key"), "a key in the report");

        const SETTINGS: &str = "{ settings { theme preferences apiKeys { provider last4 } } }";
        let stored = app.data(SETTINGS, json!({})).await["settings"].clone();
        assert_eq!(stored["theme"], "light");
        assert_eq!(stored["preferences"]["canvasPreferences"]["gridSnap"], true);
        assert_eq!(stored["apiKeys"], json!([]));

        let second = import(app, dump, "SKIP", true).await;
        let keys = second["settings"]["apiKeys"].as_array().unwrap();
        assert!(keys.iter().all(|k| k["status"] == "IMPORTED"), "{keys:?}");
        let stored = app.data(SETTINGS, json!({})).await["settings"].clone();
        assert_eq!(stored["apiKeys"], json!([
            { "provider": "fal", "last4": "cdef" },
            { "provider": "openai", "last4": "mnop" },
        ]));
        let fal = app.data("{ apiKey(provider: \"fal\") }", json!({})).await;
        assert_eq!(fal["apiKey"], "fal_test_key_0123456789abcdef");

        // Sealed at rest: the plaintext is nowhere in the row.
        let db = app.db().await;
        use sea_orm::EntityTrait;
        let row = entity::user_settings::Entity::find_by_id("local".to_owned()).one(&db).await.unwrap().unwrap();
        let column = row.api_keys_encrypted.unwrap().to_string();
        assert!(!column.contains("fal_test_key") && !column.contains("sk-test-openai"), "{column}");
    }
}

on_both_databases! {
    async fn overwrite_replaces_your_canvas_and_refuses_another_users(app: TestApp) {
        let list = json!(stored_canvases());
        import(app, list.clone(), "SKIP", false).await;
        // Your canvas changed since; OVERWRITE puts the imported one back, version bumped.
        app.data("mutation { updateCanvas(id: \"canvas_1731400000000_zz00\", input: { name: \"Renamed\" }) { version } }", json!({})).await;
        let asset_ids = |assets: Vec<Value>| assets.iter().map(|a| a["id"].clone()).collect::<Vec<_>>();
        let assets_before = asset_ids(assets_of(app, SHOOT).await);
        let report = import(app, list.clone(), "OVERWRITE", false).await;
        assert_eq!(report["imported"], 3, "{report:#}");
        let empty = read(app, EMPTY).await;
        assert_eq!(empty["name"], "Untitled");
        assert_eq!(empty["version"], 3);
        // The same bytes on the same node are the same asset as before.
        assert_eq!(asset_ids(assets_of(app, SHOOT).await), assets_before);

        // A canvas id another user holds is a failure, not an overwrite.
        let db = app.db().await;
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let now = chrono::Utc::now();
        entity::user::Entity::insert(entity::user::ActiveModel {
            id: Set("bob".into()), email: Set(None), name: Set(None), avatar_url: Set(None), created_at: Set(now),
        }).exec(&db).await.unwrap();
        entity::canvas::Entity::insert(entity::canvas::ActiveModel {
            id: Set("bobs-canvas".into()), owner_id: Set("bob".into()), name: Set("Bob's".into()),
            search_name: Set("bob's".into()), description: Set(None), thumbnail: Set(None),
            is_template: Set(false), is_public: Set(false), viewport: Set(None), version: Set(1),
            created_at: Set(now), updated_at: Set(now),
        }).exec(&db).await.unwrap();
        let mine = json!([{ "id": "bobs-canvas", "name": "Mine", "nodes": [], "edges": [] }]);
        for on in ["OVERWRITE", "SKIP"] {
            let report = import(app, mine.clone(), on, false).await;
            let c = &report["canvases"][0];
            assert_eq!(c["status"], "FAILED", "{on}: {report:#}");
            assert!(c["reason"].as_str().unwrap().contains("COPY"), "{c}");
        }
        let bobs = entity::canvas::Entity::find_by_id("bobs-canvas".to_owned()).one(&db).await.unwrap().unwrap();
        assert_eq!((bobs.name.as_str(), bobs.version), ("Bob's", 1));
        let copied = import(app, mine, "COPY", false).await;
        assert_eq!(copied["imported"], 1);
    }
}

on_both_databases! {
    async fn every_accepted_shape_is_imported(app: TestApp) {
        let stored = stored_canvases();
        let node = json!({ "id": "a", "type": "text", "position": { "x": 1, "y": 2 }, "data": { "text": "A" },
                           "selected": true, "measured": { "width": 10, "height": 10 } });
        let flow = json!({ "nodes": [node], "edges": [], "viewport": { "x": 10, "y": 20, "zoom": 0.75 } });
        let envelope = json!({ "state": { "nodes": [node, { "id": "b", "position": { "x": 0, "y": 0 } }],
                                          "edges": [{ "id": "ab", "source": "a", "target": "b" }] },
                               "version": 0 });
        let mut map = serde_json::Map::new();
        map.insert("map-canvas".into(), json!({ "name": "From a map", "nodes": [node], "edges": [] }));
        let dump = json!({ "my-canvases": json!([{ "id": "dumped", "name": "Dumped", "nodes": [], "edges": [] }]).to_string() });
        let dump_text = json!({ "other-app": json!([{ "id": "dumped-text", "name": "Text", "nodes": [], "edges": [] }]).to_string() }).to_string();

        let cases: Vec<(&str, Value, &str)> = vec![
            ("list", json!([stored[1]]), STORY),
            ("map keyed by id", Value::Object(map), "map-canvas"),
            ("single stored canvas", stored[2].clone(), EMPTY),
            ("dump object", dump, "dumped"),
            ("dump as one string", json!(dump_text), "dumped-text"),
        ];
        for (shape, data, id) in cases {
            let report = import(app, data, "SKIP", false).await;
            assert_eq!(report["imported"], 1, "{shape}: {report:#}");
            assert_eq!(report["canvases"][0]["canvasId"], id, "{shape}");
            assert!(read(app, id).await["id"] == id, "{shape}");
        }
        // Shapes without an id get one from their content: the same input finds it again.
        for (shape, data) in [("toObject", flow), ("zustand envelope", envelope)] {
            let report = import(app, data.clone(), "SKIP", false).await;
            assert_eq!(report["imported"], 1, "{shape}: {report:#}");
            let id = report["canvases"][0]["canvasId"].as_str().unwrap().to_owned();
            assert!(id.starts_with("imported-"), "{id}");
            let again = import(app, data, "SKIP", false).await;
            assert_eq!((again["imported"].as_i64(), again["skipped"].as_i64()), (Some(0), Some(1)), "{shape}");
            let canvas = read(app, &id).await;
            if shape == "toObject" {
                assert_eq!(canvas["viewport"], json!({ "x": 10.0, "y": 20.0, "zoom": 0.75 }));
                assert_eq!(canvas["nodes"][0]["data"], json!({ "text": "A" }));
            } else {
                assert_eq!(canvas["name"], "Open canvas");
                assert_eq!(canvas["edges"][0]["id"], "ab");
                assert_eq!(canvas["nodes"][1]["type"], "default");
            }
        }

        // A thumbnail over the limit is dropped with a warning; the canvas is imported.
        let huge = format!("data:image/png;base64,{}", "A".repeat(300 * 1024));
        let report = import(app, json!([{ "id": "big-thumb", "name": "Big", "thumbnail": huge, "nodes": [] }]), "SKIP", false).await;
        assert_eq!(report["imported"], 1, "{report:#}");
        assert!(report["canvases"][0]["warnings"][0].as_str().unwrap().starts_with("thumbnail dropped"));
        assert_eq!(read(app, "big-thumb").await["thumbnail"], Value::Null);

        let error = app.error(IMPORT, json!({ "data": { "hello": 1 } })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        assert_eq!(error["extensions"]["field"], "data");
    }
}

on_both_databases! {
    async fn easel_import_imports_a_file_with_progress_lines_and_a_summary(app: TestApp) {
        let run = |extra: &[&str]| {
            let mut command = easel(app.dir.path());
            command
                .arg("import")
                .arg(fixture_path("koda-localstorage.json"))
                .args(["--database-url", &app.database_url])
                .args(["--asset-store", &format!("file://{}/assets", app.dir.path().display())])
                .args(["--data-dir", &app.dir.path().display().to_string()])
                .args(extra);
            run_async(command)
        };
        let output = run(&["--user", "carol", "--import-api-keys"]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "stdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("importing 4 canvases"), "{stdout}");
        assert!(stdout.contains(&format!("imported spaces-canvases[0] \"Product shoot\" as {SHOOT} (2 assets)")), "{stdout}");
        assert!(stdout.contains("missing media: node 'image-2' /outputUrl = \"cached:image-2\""), "{stdout}");
        assert!(stdout.contains("API key for fal: imported (sealed)"), "{stdout}");
        assert!(stdout.contains("3 imported, 1 skipped, 0 failed; 3 assets from data: URLs; 6 media missing"), "{stdout}");
        assert!(!stdout.contains("fal_test_key"), "{stdout}");

        // The canvases are carol's: the local user sees none of them through the server.
        assert_eq!(canvas_ids(app).await, Vec::<String>::new());
        let db = app.db().await;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let carols = entity::canvas::Entity::find()
            .filter(entity::canvas::Column::OwnerId.eq("carol"))
            .count(&db).await.unwrap();
        assert_eq!(carols, 3);

        // Run again: nothing new. As the local user, the same ids are carol's: each fails.
        let again = run(&["--user", "carol"]).await;
        let stdout = String::from_utf8_lossy(&again.stdout);
        assert!(again.status.success());
        assert!(stdout.contains("0 imported, 4 skipped, 0 failed"), "{stdout}");
        let local = run(&[]).await;
        let stdout = String::from_utf8_lossy(&local.stdout);
        assert!(!local.status.success());
        assert!(stdout.contains("0 imported, 1 skipped, 3 failed"), "{stdout}");
        assert!(String::from_utf8_lossy(&local.stderr).contains("3 canvases could not be imported"));
    }
}
