mod common;

use common::{TestApp, code};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};

const CREATE: &str = "mutation($input: CreateCanvasInput!) {
    createCanvas(input: $input) {
        id name description thumbnail isTemplate isPublic viewport { x y zoom } version nodeCount edgeCount
    }
}";

const UPDATE: &str = "mutation($id: ID!, $input: UpdateCanvasInput!, $expectedVersion: Int) {
    updateCanvas(id: $id, input: $input, expectedVersion: $expectedVersion) {
        id name description thumbnail isTemplate isPublic viewport { x y zoom } version
    }
}";

const SAVE: &str =
    "mutation($input: CanvasSnapshotInput!) { saveCanvas(input: $input) { id version } }";

const META: &str = "query($id: ID!) {
    canvas(id: $id) {
        id name description thumbnail isTemplate isPublic viewport { x y zoom } version updatedAt
    }
}";

const GRAPH: &str = "query($id: ID!) {
    canvas(id: $id) {
        id name description isTemplate isPublic version nodeCount edgeCount
        nodes { id type position { x y } width height zIndex parentId data }
        edges { id source sourceHandle target targetHandle type data label }
    }
}";

const PAGE: &str = "query($first: Int, $after: String, $filter: CanvasFilter) {
    canvases(first: $first, after: $after, filter: $filter) {
        edges { cursor node { id } }
        nodes { id name updatedAt }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        totalCount
    }
}";

/// Creates a canvas with `input` (a `CreateCanvasInput`); the created canvas.
async fn create(app: &TestApp, input: Value) -> Value {
    app.data(CREATE, json!({ "input": input })).await["createCanvas"].clone()
}

/// Saves a canvas `id` with `nodes` nodes in a chain, joined by `nodes - 1` edges.
async fn save_chain(app: &TestApp, id: &str, name: &str, nodes: usize) -> Value {
    let node_list: Vec<Value> = (0..nodes)
        .map(|i| json!({ "id": format!("n{i}"), "position": { "x": i, "y": 0 }, "data": { "i": i } }))
        .collect();
    let edge_list: Vec<Value> = (1..nodes)
        .map(|i| json!({ "id": format!("e{i}"), "source": format!("n{}", i - 1), "target": format!("n{i}") }))
        .collect();
    app.data(
        SAVE,
        json!({ "input": { "id": id, "name": name, "nodes": node_list, "edges": edge_list } }),
    )
    .await["saveCanvas"]
        .clone()
}

/// The stored metadata of a canvas, or null.
async fn meta(app: &TestApp, id: &str) -> Value {
    app.data(META, json!({ "id": id })).await["canvas"].clone()
}

/// The ids of a page's canvases, in order.
fn ids(page: &Value) -> Vec<String> {
    page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The names the list shows under `filter`, sorted, and its `totalCount`.
async fn names_under(app: &TestApp, filter: Value) -> (Vec<String>, i64) {
    let page = app
        .data(PAGE, json!({ "first": 500, "filter": filter }))
        .await["canvases"]
        .clone();
    let mut names: Vec<String> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    (names, page["totalCount"].as_i64().unwrap())
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    items.sort();
    items
}

/// Rows left in a table for one canvas.
async fn rows_of(app: &TestApp, canvas: &str) -> [u64; 4] {
    let db = app.db().await;
    let nodes = entity::canvas_node::Entity::find()
        .filter(entity::canvas_node::Column::CanvasId.eq(canvas))
        .count(&db)
        .await
        .unwrap();
    let edges = entity::canvas_edge::Entity::find()
        .filter(entity::canvas_edge::Column::CanvasId.eq(canvas))
        .count(&db)
        .await
        .unwrap();
    let assets = entity::asset::Entity::find()
        .filter(entity::asset::Column::CanvasId.eq(canvas))
        .count(&db)
        .await
        .unwrap();
    let generations = entity::generation::Entity::find()
        .filter(entity::generation::Column::CanvasId.eq(canvas))
        .count(&db)
        .await
        .unwrap();
    db.close().await.ok();
    [nodes, edges, assets, generations]
}

/// Inserts one asset row and one generation row for a canvas, behind the API.
async fn add_asset_and_generation(app: &TestApp, canvas: &str) {
    let db = app.db().await;
    let now = chrono::Utc::now();
    let asset_id = format!("asset-{canvas}");
    entity::asset::ActiveModel {
        id: Set(asset_id.clone()),
        owner_id: Set("local".into()),
        canvas_id: Set(Some(canvas.into())),
        node_id: Set(Some("n0".into())),
        kind: Set(entity::asset::AssetKind::Image),
        status: Set(entity::asset::AssetStatus::Ready),
        filename: Set(Some("cat.png".into())),
        mime_type: Set("image/png".into()),
        size_bytes: Set(1234),
        object_key: Set(Some(format!("local/{asset_id}"))),
        external_url: Set(None),
        metadata: Set(Some(json!({ "width": 512, "height": 512 }))),
        created_at: Set(now),
    }
    .insert(&db)
    .await
    .unwrap();
    entity::generation::ActiveModel {
        id: Set(format!("generation-{canvas}")),
        owner_id: Set("local".into()),
        canvas_id: Set(canvas.into()),
        node_id: Set(Some("n0".into())),
        model: Set("flux-schnell".into()),
        prompt: Set(Some("a cat".into())),
        parameters: Set(Some(json!({ "steps": 4 }))),
        status: Set(entity::generation::GenerationStatus::Completed),
        result_asset_id: Set(Some(asset_id)),
        error_message: Set(None),
        duration_ms: Set(Some(1200)),
        retry_of: Set(None),
        idempotency_key: Set(None),
        created_at: Set(now),
        started_at: Set(Some(now)),
        finished_at: Set(Some(now)),
    }
    .insert(&db)
    .await
    .unwrap();
    db.close().await.ok();
}

on_both_databases! {
    async fn canvases_are_listed_newest_change_first(app: TestApp) {
        for id in ["a", "b", "c"] {
            create(app, json!({ "id": id, "name": id.to_uppercase() })).await;
        }
        app.data(UPDATE, json!({ "id": "a", "input": { "name": "A again" } })).await;

        let page = app.data(PAGE, json!({})).await["canvases"].clone();
        assert_eq!(ids(&page), ["a", "c", "b"]);
        assert_eq!(page["totalCount"], 3);
        let times: Vec<chrono::DateTime<chrono::FixedOffset>> = page["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| chrono::DateTime::parse_from_rfc3339(c["updatedAt"].as_str().unwrap()).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "not newest first: {page:#}");
    }
}

on_both_databases! {
    async fn paging_visits_every_canvas_exactly_once(app: TestApp) {
        for i in 0..7 {
            create(app, json!({ "id": format!("canvas-{i}"), "name": format!("Canvas {i}") })).await;
        }
        let everything = ids(&app.data(PAGE, json!({ "first": 500 })).await["canvases"]);
        assert_eq!(everything.len(), 7);

        let mut seen = Vec::new();
        let mut after = Value::Null;
        let expected_pages = [(3, true, false), (3, true, true), (1, false, true)];
        for (size, has_next, has_previous) in expected_pages {
            let page = app
                .data(PAGE, json!({ "first": 3, "after": after }))
                .await["canvases"]
                .clone();
            let page_ids = ids(&page);
            assert_eq!(page_ids.len(), size, "{page:#}");
            assert_eq!(page["pageInfo"]["hasNextPage"], has_next, "{page:#}");
            assert_eq!(page["pageInfo"]["hasPreviousPage"], has_previous, "{page:#}");
            assert_eq!(page["totalCount"], 7);
            let edges = page["edges"].as_array().unwrap();
            let edge_ids: Vec<&str> = edges.iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
            assert_eq!(edge_ids, page_ids);
            assert_eq!(page["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
            assert_eq!(page["pageInfo"]["startCursor"], edges[0]["cursor"]);
            seen.extend(page_ids);
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, everything);

        let past_the_end = app
            .data(PAGE, json!({ "first": 3, "after": after }))
            .await["canvases"]
            .clone();
        assert_eq!(ids(&past_the_end), Vec::<String>::new());
        assert_eq!(past_the_end["pageInfo"]["hasNextPage"], false);
    }
}

on_both_databases! {
    async fn bad_cursors_and_page_sizes_are_bad_user_input(app: TestApp) {
        create(app, json!({ "name": "Only" })).await;
        for vars in [
            json!({ "after": "garbage" }),
            json!({ "after": "" }),
            json!({ "first": 501 }),
            json!({ "first": -1 }),
        ] {
            let error = app.error(PAGE, vars.clone()).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{vars}: {error:#}");
        }
        let error = app.error("{ templates(first: 501) { totalCount } }", json!({})).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");

        let page = app.data(PAGE, json!({ "first": 500 })).await["canvases"].clone();
        assert_eq!(page["totalCount"], 1);
        let empty = app.data(PAGE, json!({ "first": 0 })).await["canvases"].clone();
        assert_eq!(ids(&empty), Vec::<String>::new());
        assert_eq!(empty["totalCount"], 1);
    }
}

on_both_databases! {
    async fn filters_select_by_template_public_and_name(app: TestApp) {
        create(app, json!({ "name": "Template one", "isTemplate": true })).await;
        create(app, json!({ "name": "Public board", "isPublic": true })).await;
        for name in ["Hello World", "50% off", "500 things", "a_b", "axb", "back\\slash"] {
            create(app, json!({ "name": name })).await;
        }
        let others = ["Public board", "Hello World", "50% off", "500 things", "a_b", "axb", "back\\slash"];

        let cases = [
            (json!({ "isTemplate": true }), vec!["Template one"]),
            (json!({ "isTemplate": false }), others.to_vec()),
            (json!({ "isPublic": true }), vec!["Public board"]),
            (json!({ "search": "hello" }), vec!["Hello World"]),
            (json!({ "search": "WORLD" }), vec!["Hello World"]),
            (json!({ "search": "lO wO" }), vec!["Hello World"]),
            (json!({ "search": "50%" }), vec!["50% off"]),
            (json!({ "search": "%" }), vec!["50% off"]),
            (json!({ "search": "a_b" }), vec!["a_b"]),
            (json!({ "search": "_" }), vec!["a_b"]),
            (json!({ "search": "\\" }), vec!["back\\slash"]),
            (json!({ "search": "nothing like it" }), vec![]),
            (json!({ "search": "board", "isTemplate": false }), vec!["Public board"]),
            (json!({ "search": "board", "isTemplate": true }), vec![]),
        ];
        for (filter, expected) in cases {
            let (names, total) = names_under(app, filter.clone()).await;
            assert_eq!(names, strings(&expected), "filter {filter}");
            assert_eq!(total, expected.len() as i64, "totalCount under filter {filter}");
        }
    }
}

on_both_databases! {
    async fn search_ignores_the_case_of_non_ascii_letters(app: TestApp) {
        create(app, json!({ "name": "ÄRGER im Büro" })).await;
        create(app, json!({ "name": "Other" })).await;
        let (names, _) = names_under(app, json!({ "search": "ärger" })).await;
        assert_eq!(names, ["ÄRGER im Büro"]);
    }
}

on_both_databases! {
    async fn templates_lists_template_canvases(app: TestApp) {
        create(app, json!({ "id": "t1", "name": "First template", "isTemplate": true })).await;
        create(app, json!({ "id": "plain", "name": "Not a template" })).await;
        create(app, json!({ "id": "t2", "name": "Second template", "isTemplate": true })).await;

        let templates = app
            .data("{ templates { totalCount nodes { id isTemplate } } }", json!({}))
            .await["templates"]
            .clone();
        assert_eq!(
            templates,
            json!({ "totalCount": 2, "nodes": [
                { "id": "t2", "isTemplate": true },
                { "id": "t1", "isTemplate": true },
            ] })
        );
    }
}

on_both_databases! {
    async fn unknown_canvases_are_null_and_do_not_exist(app: TestApp) {
        create(app, json!({ "id": "here", "name": "Here" })).await;
        let data = app
            .data(
                "{ known: canvas(id: \"here\") { id name }
                   unknown: canvas(id: \"nowhere\") { id }
                   yes: canvasExists(id: \"here\")
                   no: canvasExists(id: \"nowhere\") }",
                json!({}),
            )
            .await;
        assert_eq!(
            data,
            json!({ "known": { "id": "here", "name": "Here" }, "unknown": null, "yes": true, "no": false })
        );
    }
}

on_both_databases! {
    async fn listing_a_page_runs_the_same_few_statements_whatever_its_size(app: TestApp) {
        for i in 0..60 {
            save_chain(app, &format!("canvas-{i:02}"), &format!("Canvas {i}"), 3).await;
        }
        let query = "query($first: Int) { canvases(first: $first) {
            nodes { id name nodeCount edgeCount updatedAt owner { id } } } }";
        let mut counts = Vec::new();
        for first in [5_usize, 50] {
            let before = app.statements().await;
            let data = app.data(query, json!({ "first": first })).await;
            let after = app.statements().await;
            counts.push(after - before);

            let nodes = data["canvases"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), first);
            for (i, canvas) in nodes.iter().enumerate() {
                assert_eq!(canvas["id"], format!("canvas-{:02}", 59 - i));
                assert_eq!(canvas["nodeCount"], 3, "{canvas}");
                assert_eq!(canvas["edgeCount"], 2, "{canvas}");
                assert_eq!(canvas["owner"]["id"], "local", "{canvas}");
            }
        }
        assert_eq!(counts[0], counts[1], "statements for 5 and for 50 canvases: {counts:?}");
        assert!(counts[0] <= 8, "too many statements for one page: {counts:?}");
    }
}

on_both_databases! {
    async fn create_canvas_makes_an_empty_canvas_with_or_without_an_id(app: TestApp) {
        let made = create(app, json!({ "name": "No id" })).await;
        let id = made["id"].as_str().unwrap();
        assert!(!id.is_empty());
        assert_eq!(
            made,
            json!({ "id": id, "name": "No id", "description": null, "thumbnail": null,
                    "isTemplate": false, "isPublic": false, "viewport": null, "version": 1,
                    "nodeCount": 0, "edgeCount": 0 })
        );
        let other = create(app, json!({ "name": "No id" })).await;
        assert_ne!(other["id"], made["id"]);

        let mine = create(
            app,
            json!({ "id": "mine", "name": "Mine", "description": "d", "thumbnail": "t.png",
                    "isTemplate": true, "isPublic": true, "viewport": { "x": 1.5, "y": -2, "zoom": 0.5 } }),
        )
        .await;
        let expected = json!({ "id": "mine", "name": "Mine", "description": "d", "thumbnail": "t.png",
                               "isTemplate": true, "isPublic": true,
                               "viewport": { "x": 1.5, "y": -2.0, "zoom": 0.5 }, "version": 1,
                               "nodeCount": 0, "edgeCount": 0 });
        assert_eq!(mine, expected);
        let stored_before = meta(app, "mine").await;

        let error = app
            .error(CREATE, json!({ "input": { "id": "mine", "name": "Intruder", "isPublic": false } }))
            .await;
        assert_eq!(code(&error), "CONFLICT", "{error:#}");
        assert_eq!(meta(app, "mine").await, stored_before);
        let page = app.data(PAGE, json!({})).await["canvases"].clone();
        assert_eq!(page["totalCount"], 3);
    }
}

on_both_databases! {
    async fn update_canvas_keeps_left_out_fields_and_clears_null_ones(app: TestApp) {
        create(
            app,
            json!({ "id": "c", "name": "Before", "description": "d", "thumbnail": "t.png",
                    "viewport": { "x": 1, "y": 2, "zoom": 1 } }),
        )
        .await;

        let renamed = app.data(UPDATE, json!({ "id": "c", "input": { "name": "After" } })).await;
        assert_eq!(
            renamed["updateCanvas"],
            json!({ "id": "c", "name": "After", "description": "d", "thumbnail": "t.png",
                    "isTemplate": false, "isPublic": false,
                    "viewport": { "x": 1.0, "y": 2.0, "zoom": 1.0 }, "version": 2 })
        );

        let cleared = app
            .data(UPDATE, json!({ "id": "c", "input": { "description": null, "viewport": null, "isPublic": true } }))
            .await;
        assert_eq!(
            cleared["updateCanvas"],
            json!({ "id": "c", "name": "After", "description": null, "thumbnail": "t.png",
                    "isTemplate": false, "isPublic": true, "viewport": null, "version": 3 })
        );
        let stored = meta(app, "c").await;
        assert_eq!(stored["description"], Value::Null);
        assert_eq!(stored["viewport"], Value::Null);
        assert_eq!(stored["thumbnail"], "t.png");
        assert_eq!(stored["version"], 3);

        let unchanged = app.data(UPDATE, json!({ "id": "c", "input": { "name": "After" } })).await;
        assert_eq!(unchanged["updateCanvas"]["version"], 3, "a write that changes nothing keeps the version");

        for name in ["", "   "] {
            let error = app.error(UPDATE, json!({ "id": "c", "input": { "name": name } })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        }
        assert_eq!(meta(app, "c").await, stored);
    }
}

on_both_databases! {
    async fn stale_expected_version_is_a_conflict_and_nothing_is_written(app: TestApp) {
        create(app, json!({ "id": "c", "name": "One" })).await;
        let v2 = app
            .data(UPDATE, json!({ "id": "c", "input": { "name": "Two" }, "expectedVersion": 1 }))
            .await;
        assert_eq!(v2["updateCanvas"]["version"], 2);
        let stored = meta(app, "c").await;

        let error = app
            .error(UPDATE, json!({ "id": "c", "input": { "name": "Three" }, "expectedVersion": 1 }))
            .await;
        assert_eq!(code(&error), "CONFLICT", "{error:#}");
        assert_eq!(error["extensions"]["currentVersion"], 2, "{error:#}");
        assert_eq!(meta(app, "c").await, stored);

        let v3 = app
            .data(UPDATE, json!({ "id": "c", "input": { "name": "Three" }, "expectedVersion": 2 }))
            .await;
        assert_eq!(v3["updateCanvas"]["name"], "Three");
        assert_eq!(v3["updateCanvas"]["version"], 3);
    }
}

on_both_databases! {
    async fn updating_an_unknown_canvas_is_not_found(app: TestApp) {
        let error = app.error(UPDATE, json!({ "id": "nowhere", "input": { "name": "X" } })).await;
        assert_eq!(code(&error), "NOT_FOUND", "{error:#}");
        assert_eq!(meta(app, "nowhere").await, Value::Null);
    }
}

on_both_databases! {
    async fn delete_canvas_removes_its_nodes_edges_assets_and_generations(app: TestApp) {
        save_chain(app, "doomed", "Doomed", 4).await;
        save_chain(app, "kept", "Kept", 3).await;
        add_asset_and_generation(app, "doomed").await;
        add_asset_and_generation(app, "kept").await;
        assert_eq!(rows_of(app, "doomed").await, [4, 3, 1, 1]);

        let data = app.data("mutation { deleteCanvas(id: \"doomed\") }", json!({})).await;
        assert_eq!(data, json!({ "deleteCanvas": true }));

        assert_eq!(rows_of(app, "doomed").await, [0, 0, 0, 0], "rows left of the deleted canvas");
        assert_eq!(rows_of(app, "kept").await, [3, 2, 1, 1], "rows of the other canvas");
        assert_eq!(meta(app, "doomed").await, Value::Null);
        let kept = app.data(GRAPH, json!({ "id": "kept" })).await["canvas"].clone();
        assert_eq!(kept["nodeCount"], 3);
        assert_eq!(kept["edgeCount"], 2);
        assert_eq!(ids(&app.data(PAGE, json!({})).await["canvases"]), ["kept"]);
    }
}

on_both_databases! {
    async fn deleting_an_unknown_canvas_is_not_found(app: TestApp) {
        create(app, json!({ "id": "c", "name": "C" })).await;
        app.data("mutation { deleteCanvas(id: \"c\") }", json!({})).await;
        for id in ["c", "never-was"] {
            let error = app.error("mutation($id: ID!) { deleteCanvas(id: $id) }", json!({ "id": id })).await;
            assert_eq!(code(&error), "NOT_FOUND", "{id}: {error:#}");
        }
    }
}

on_both_databases! {
    async fn duplicate_canvas_copies_nodes_and_edges_into_a_new_canvas(app: TestApp) {
        let snapshot = json!({
            "id": "source", "name": "Source", "description": "a template", "isTemplate": true,
            "nodes": [
                { "id": "group", "type": "group", "position": { "x": 0, "y": 0 }, "width": 400, "height": 300,
                  "data": { "label": "Group" } },
                { "id": "prompt", "type": "prompt", "position": { "x": 10.5, "y": 20 }, "parentId": "group",
                  "zIndex": 2, "data": { "text": "a cat 🐱", "nested": { "list": [1, 2, { "deep": true }] } } },
                { "id": "image", "type": "image", "position": { "x": 300, "y": -40 }, "data": {} },
            ],
            "edges": [
                { "id": "e2", "source": "prompt", "target": "image", "sourceHandle": "out", "targetHandle": "in",
                  "type": "smoothstep", "data": { "weight": 0.5 }, "label": "feeds" },
                { "id": "e1", "source": "group", "target": "image" },
            ],
        });
        app.data(SAVE, json!({ "input": snapshot })).await;
        let source_before = app.data(GRAPH, json!({ "id": "source" })).await["canvas"].clone();
        let source_meta_before = meta(app, "source").await;

        let copy = app
            .data(
                "mutation { duplicateCanvas(id: \"source\", name: \"My copy\") { id name isTemplate } }",
                json!({}),
            )
            .await["duplicateCanvas"]
            .clone();
        let copy_id = copy["id"].as_str().unwrap();
        assert_ne!(copy_id, "source");
        assert_eq!(copy["name"], "My copy");
        assert_eq!(copy["isTemplate"], false);

        let copied = app.data(GRAPH, json!({ "id": copy_id })).await["canvas"].clone();
        assert_eq!(copied["nodes"], source_before["nodes"]);
        assert_eq!(copied["edges"], source_before["edges"]);
        assert_eq!(copied["nodeCount"], 3);
        assert_eq!(copied["edgeCount"], 2);
        let node_ids: Vec<&str> = copied["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert_eq!(node_ids, ["group", "prompt", "image"]);

        assert_eq!(app.data(GRAPH, json!({ "id": "source" })).await["canvas"], source_before);
        assert_eq!(meta(app, "source").await, source_meta_before);

        let default_named = app
            .data("mutation { duplicateCanvas(id: \"source\") { id name isTemplate nodeCount } }", json!({}))
            .await["duplicateCanvas"]
            .clone();
        let name = default_named["name"].as_str().unwrap();
        assert!(name.starts_with("Source"), "default name {name:?}");
        assert_ne!(default_named["id"], copy["id"]);
        assert_eq!(default_named["isTemplate"], false);
        assert_eq!(default_named["nodeCount"], 3);

        let page = app.data(PAGE, json!({})).await["canvases"].clone();
        assert_eq!(page["totalCount"], 3);
    }
}

on_both_databases! {
    async fn duplicating_an_unknown_canvas_is_not_found(app: TestApp) {
        let error = app.error("mutation { duplicateCanvas(id: \"nowhere\") { id } }", json!({})).await;
        assert_eq!(code(&error), "NOT_FOUND", "{error:#}");
        let page = app.data(PAGE, json!({})).await["canvases"].clone();
        assert_eq!(page["totalCount"], 0);
    }
}

on_both_databases! {
    async fn me_is_the_local_user(app: TestApp) {
        let data = app.data("{ me { id } }", json!({})).await;
        assert_eq!(data, json!({ "me": { "id": "local" } }));
    }
}
