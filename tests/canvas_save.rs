//! Saving canvases: what is saved reads back exactly, saves cost what changed, versions refuse
//! lost updates, and bad input is refused with nothing written.

mod common;

use common::{TestApp, code};
use serde_json::{Value, json};

const SAVE: &str = "mutation($input: CanvasSnapshotInput!, $v: Int) {
    saveCanvas(input: $input, expectedVersion: $v) { id version nodeCount edgeCount } }";

const APPLY: &str = "mutation($id: ID!, $changes: CanvasChangesInput!, $v: Int) {
    applyCanvasChanges(canvasId: $id, changes: $changes, expectedVersion: $v) { id version } }";

const READ: &str = "query($id: ID!) { canvas(id: $id) {
    id name description thumbnail isTemplate isPublic viewport { x y zoom } version
    nodeCount edgeCount
    nodes { id type position { x y } width height zIndex parentId data hidden draggable
            selectable connectable deletable focusable extent expandParent sourcePosition
            targetPosition dragHandle style className createdAt updatedAt }
    edges { id source sourceHandle target targetHandle type data animated hidden deletable
            selectable label markerStart markerEnd zIndex style className } } }";

async fn save(app: &TestApp, input: Value, version: Option<i64>) -> Value {
    app.data(SAVE, json!({ "input": input, "v": version }))
        .await["saveCanvas"]
        .clone()
}

async fn read(app: &TestApp, id: &str) -> Value {
    app.data(READ, json!({ "id": id })).await["canvas"].clone()
}

/// A node input with everything set, as an editor would send it.
fn full_node(id: &str, parent: Option<&str>, x: f64) -> Value {
    json!({
        "id": id, "type": "imageGenerator", "position": { "x": x, "y": -20.5 },
        "width": 320.0, "height": 240.25, "zIndex": 3, "parentId": parent,
        "data": {
            "prompt": "a cat in a hat, 日本語, emoji 🎨, quotes \" and \\ backslash",
            "params": { "steps": 30, "cfg": 7.5, "seed": 9007199254740993_u64, "big": 18446744073709551615_u64,
                        "negative": i64::MIN, "tiny": 1e-300, "list": [1, [2, [3, {"deep": null}]]] },
            "empty": {}, "none": null, "flag": false
        },
        "hidden": false, "draggable": true, "selectable": true, "connectable": false,
        "deletable": true, "focusable": true, "extent": "parent", "expandParent": true,
        "sourcePosition": "right", "targetPosition": "left", "dragHandle": ".handle",
        "style": { "border": "1px solid red", "opacity": 0.5 }, "className": "gen",
    })
}

fn full_edge(id: &str, source: &str, target: &str) -> Value {
    json!({
        "id": id, "source": source, "sourceHandle": "out", "target": target, "targetHandle": "in",
        "type": "smoothstep", "data": { "weight": 2, "note": "ü" }, "animated": true,
        "hidden": false, "deletable": true, "selectable": false, "label": "feeds",
        "markerStart": "arrow", "markerEnd": { "type": "arrowclosed", "color": "#f00" },
        "zIndex": 7, "style": { "stroke": "blue" }, "className": "edge",
    })
}

/// `n` plain nodes `n0..n{n-1}` in a chain of edges.
fn chain(n: usize) -> (Vec<Value>, Vec<Value>) {
    let nodes = (0..n)
        .map(|i| {
            json!({ "id": format!("n{i}"), "position": { "x": i as f64, "y": 0.0 },
                         "data": { "label": format!("node {i}") } })
        })
        .collect();
    let edges = (1..n)
        .map(|i| json!({ "id": format!("e{i}"), "source": format!("n{}", i - 1), "target": format!("n{i}") }))
        .collect();
    (nodes, edges)
}

/// What a node input reads back as: the same fields, with defaults filled in.
fn without_timestamps(nodes: &Value) -> Vec<Value> {
    nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n.as_object_mut().unwrap().remove("createdAt");
            n.as_object_mut().unwrap().remove("updatedAt");
            n
        })
        .collect()
}

on_both_databases! {
    async fn a_saved_snapshot_reads_back_exactly(app: TestApp) {
        // Parents before children, ids out of alphabetical order: the order must survive.
        let nodes = vec![
            full_node("zeta", None, 10.0),
            full_node("alpha", Some("zeta"), 1.5),
            json!({ "id": "m", "position": { "x": 0, "y": 0 } }),
        ];
        let edges = vec![full_edge("e2", "zeta", "alpha"), full_edge("e1", "alpha", "m")];
        let input = json!({
            "id": "canvas-1", "name": "Round trip ✓", "description": "all fields",
            "thumbnail": "data:image/png;base64,AAAA", "isTemplate": false, "isPublic": true,
            "viewport": { "x": -100.5, "y": 20, "zoom": 1.25 },
            "nodes": nodes, "edges": edges,
        });
        let saved = save(app, input.clone(), None).await;
        assert_eq!(saved["version"], 1);
        assert_eq!(saved["nodeCount"], 3);
        assert_eq!(saved["edgeCount"], 2);

        let canvas = read(app, "canvas-1").await;
        assert_eq!(canvas["name"], "Round trip ✓");
        assert_eq!(canvas["description"], "all fields");
        assert_eq!(canvas["thumbnail"], "data:image/png;base64,AAAA");
        assert_eq!(canvas["isPublic"], true);
        assert_eq!(canvas["viewport"], json!({ "x": -100.5, "y": 20.0, "zoom": 1.25 }));

        let read_nodes = without_timestamps(&canvas["nodes"]);
        let mut expected_full = full_node("zeta", None, 10.0);
        expected_full["position"] = json!({ "x": 10.0, "y": -20.5 });
        assert_eq!(read_nodes[0], expected_full);
        let mut expected_child = full_node("alpha", Some("zeta"), 1.5);
        expected_child["position"] = json!({ "x": 1.5, "y": -20.5 });
        assert_eq!(read_nodes[1], expected_child);
        // Defaults: type `default`, zIndex 0, data `{}`, everything else null.
        assert_eq!(read_nodes[2]["type"], "default");
        assert_eq!(read_nodes[2]["zIndex"], 0);
        assert_eq!(read_nodes[2]["data"], json!({}));
        assert_eq!(read_nodes[2]["parentId"], Value::Null);
        assert_eq!(read_nodes[2]["hidden"], Value::Null);

        assert_eq!(canvas["edges"][0], full_edge("e2", "zeta", "alpha"));
        assert_eq!(canvas["edges"][1], full_edge("e1", "alpha", "m"));
    }
}

on_both_databases! {
    async fn a_snapshot_without_id_gets_a_uuid_v7(app: TestApp) {
        let saved = save(app, json!({ "name": "No id", "nodes": [], "edges": [] }), None).await;
        let id = saved["id"].as_str().unwrap();
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        assert_eq!(read(app, id).await["name"], "No id");
    }
}

on_both_databases! {
    async fn nodes_added_by_changes_come_after_the_existing_ones(app: TestApp) {
        let (nodes, edges) = chain(3);
        save(app, json!({ "id": "c", "name": "c", "nodes": nodes, "edges": edges }), None).await;
        let changed = app
            .data(APPLY, json!({ "id": "c", "v": 1, "changes": {
                "upsertNodes": [
                    { "id": "a-new", "position": { "x": 9, "y": 9 } },
                    { "id": "n1", "position": { "x": 100, "y": 100 }, "data": { "moved": true } },
                ],
                "upsertEdges": [{ "id": "e-new", "source": "n2", "target": "a-new" }],
            } }))
            .await;
        assert_eq!(changed["applyCanvasChanges"]["version"], 2);
        let canvas = read(app, "c").await;
        let ids: Vec<&str> = canvas["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["n0", "n1", "n2", "a-new"]);
        assert_eq!(canvas["nodes"][1]["position"], json!({ "x": 100.0, "y": 100.0 }));
        assert_eq!(canvas["nodes"][1]["data"], json!({ "moved": true }));
        let edge_ids: Vec<&str> = canvas["edges"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(edge_ids, ["e1", "e2", "e-new"]);
    }
}

on_both_databases! {
    async fn deleting_a_node_deletes_its_edges(app: TestApp) {
        let (nodes, edges) = chain(4);
        save(app, json!({ "id": "c", "name": "c", "nodes": nodes, "edges": edges }), None).await;
        app.data(APPLY, json!({ "id": "c", "changes": { "deleteNodeIds": ["n1"] } })).await;
        let canvas = read(app, "c").await;
        assert_eq!(canvas["nodeCount"], 3);
        let edge_ids: Vec<&str> = canvas["edges"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(edge_ids, ["e3"]);
        // The same through a snapshot that leaves the node out.
        let canvas = read(app, "c").await;
        let mut nodes = canvas["nodes"].as_array().unwrap().clone();
        nodes.retain(|n| n["id"] != "n2");
        let nodes: Vec<Value> = nodes.iter().map(|n| json!({ "id": n["id"], "position": n["position"] })).collect();
        save(app, json!({ "id": "c", "name": "c", "nodes": nodes, "edges": [] }), None).await;
        let canvas = read(app, "c").await;
        assert_eq!(canvas["nodeCount"], 2);
        assert_eq!(canvas["edgeCount"], 0);
    }
}

/// `updatedAt` of every node, by id.
fn updated_at(canvas: &Value) -> std::collections::HashMap<String, String> {
    canvas["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_owned(),
                n["updatedAt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

on_both_databases! {
    async fn saves_cost_what_changed(app: TestApp) {
        let (nodes, edges) = chain(1000);
        let input = json!({ "id": "big", "name": "big", "nodes": nodes, "edges": edges });
        let first = save(app, input.clone(), None).await;
        assert_eq!(first["nodeCount"], 1000);
        let before = updated_at(&read(app, "big").await);

        // The same snapshot again: no node row is rewritten and the version stays.
        let again = save(app, input.clone(), Some(1)).await;
        assert_eq!(again["version"], 1, "a save that changes nothing is not a write");
        let after = updated_at(&read(app, "big").await);
        assert_eq!(before, after);

        // Moving one node rewrites that row only.
        let mut moved = input.clone();
        moved["nodes"][500]["position"] = json!({ "x": 12345.0, "y": 1.0 });
        let saved = save(app, moved.clone(), Some(1)).await;
        assert_eq!(saved["version"], 2);
        let after_move = updated_at(&read(app, "big").await);
        let rewritten: Vec<&String> = after_move.keys().filter(|id| after_move[*id] != before[*id]).collect();
        assert_eq!(rewritten, ["n500"]);

        // Deleting a node in the middle rewrites no other node.
        let mut fewer = moved;
        fewer["nodes"].as_array_mut().unwrap().remove(10);
        let edges = fewer["edges"].as_array_mut().unwrap();
        edges.retain(|e| e["source"] != "n10" && e["target"] != "n10");
        save(app, fewer, Some(2)).await;
        let after_delete = updated_at(&read(app, "big").await);
        assert_eq!(after_delete.len(), 999);
        let rewritten: Vec<&String> = after_delete.keys().filter(|id| after_delete[*id] != after_move[*id]).collect();
        assert!(rewritten.is_empty(), "rows rewritten by deleting n10: {rewritten:?}");
    }
}

on_both_databases! {
    async fn moving_one_node_through_changes_rewrites_one_row(app: TestApp) {
        let (nodes, edges) = chain(200);
        save(app, json!({ "id": "c", "name": "c", "nodes": nodes, "edges": edges }), None).await;
        let before = updated_at(&read(app, "c").await);
        app.data(APPLY, json!({ "id": "c", "v": 1, "changes": { "upsertNodes": [
            { "id": "n7", "position": { "x": -1, "y": -1 }, "data": { "label": "node 7" } }
        ] } })).await;
        let after = updated_at(&read(app, "c").await);
        let rewritten: Vec<&String> = after.keys().filter(|id| after[*id] != before[*id]).collect();
        assert_eq!(rewritten, ["n7"]);
    }
}

on_both_databases! {
    async fn a_stale_version_is_refused_and_nothing_is_written(app: TestApp) {
        let (nodes, edges) = chain(3);
        let input = json!({ "id": "c", "name": "v1", "nodes": nodes, "edges": edges });
        assert_eq!(save(app, input.clone(), None).await["version"], 1);
        let mut second = input.clone();
        second["name"] = json!("v2");
        assert_eq!(save(app, second, Some(1)).await["version"], 2);
        let stored = read(app, "c").await;

        let mut stale = input.clone();
        stale["name"] = json!("stale");
        stale["nodes"] = json!([]);
        stale["edges"] = json!([]);
        let error = app.error(SAVE, json!({ "input": stale, "v": 1 })).await;
        assert_eq!(code(&error), "CONFLICT");
        assert_eq!(error["extensions"]["currentVersion"], 2);
        assert_eq!(read(app, "c").await, stored);

        let error = app
            .error(APPLY, json!({ "id": "c", "v": 1, "changes": { "deleteNodeIds": ["n0"] } }))
            .await;
        assert_eq!(code(&error), "CONFLICT");
        assert_eq!(error["extensions"]["currentVersion"], 2);
        assert_eq!(read(app, "c").await, stored);

        // Each successful write returns the version plus one.
        let applied = app
            .data(APPLY, json!({ "id": "c", "v": 2, "changes": { "deleteEdgeIds": ["e1"] } }))
            .await;
        assert_eq!(applied["applyCanvasChanges"]["version"], 3);
    }
}

on_both_databases! {
    async fn concurrent_saves_of_one_version_let_exactly_one_win(app: TestApp) {
        let (nodes, edges) = chain(50);
        save(app, json!({ "id": "c", "name": "base", "nodes": nodes, "edges": edges }), None).await;
        let attempts = (0..8).map(|i| {
            let (nodes, edges) = chain(10 + i);
            let input = json!({ "id": "c", "name": format!("writer {i}"), "nodes": nodes, "edges": edges });
            async move { (i, app.gql(SAVE, json!({ "input": input, "v": 1 })).await) }
        });
        let results = futures::future::join_all(attempts).await;
        let winners: Vec<usize> = results.iter().filter(|(_, r)| r.get("errors").is_none()).map(|(i, _)| *i).collect();
        assert_eq!(winners.len(), 1, "{results:#?}");
        for (_, result) in results.iter().filter(|(i, _)| *i != winners[0]) {
            assert_eq!(code(&result["errors"][0]), "CONFLICT", "{result:#}");
        }
        let canvas = read(app, "c").await;
        let winner = winners[0];
        assert_eq!(canvas["name"], format!("writer {winner}"));
        assert_eq!(canvas["version"], 2);
        assert_eq!(canvas["nodeCount"], 10 + winner);
        assert_eq!(canvas["edgeCount"], 9 + winner);
    }
}

on_both_databases! {
    with_config(|config| {
        config.limits.max_nodes = 10;
        config.limits.max_node_data_bytes = 1024;
    });
    async fn bad_input_is_refused_naming_the_item_and_nothing_is_written(app: TestApp) {
        let (nodes, edges) = chain(3);
        let good = json!({ "id": "c", "name": "good", "nodes": nodes, "edges": edges });
        save(app, good.clone(), None).await;
        let stored = read(app, "c").await;

        let long_id = "x".repeat(129);
        let mut cases: Vec<(&str, Value, &str)> = Vec::new();
        let mut with = |what: &'static str, field: &'static str, change: &dyn Fn(&mut Value)| {
            let mut input = good.clone();
            change(&mut input);
            cases.push((what, input, field));
        };
        with("edge to a missing node", "input.edges[1].target", &|i| i["edges"][1]["target"] = json!("ghost"));
        with("edge from a missing node", "input.edges[0].source", &|i| i["edges"][0]["source"] = json!("ghost"));
        with("parent that is not a node", "input.nodes[2].parentId", &|i| i["nodes"][2]["parentId"] = json!("ghost"));
        with("a node its own parent", "input.nodes[1].parentId", &|i| i["nodes"][1]["parentId"] = json!("n1"));
        with("duplicate node ids", "input.nodes[2].id", &|i| i["nodes"][2]["id"] = json!("n0"));
        with("duplicate edge ids", "input.edges[1].id", &|i| i["edges"][1]["id"] = json!("e1"));
        with("empty name", "input.name", &|i| i["name"] = json!("  "));
        with("over-long name", "input.name", &|i| i["name"] = json!("n".repeat(257)));
        with("over-long node id", "input.nodes[0].id", &|i| i["nodes"][0]["id"] = json!("x".repeat(129)));
        with("over-long edge id", "input.edges[0].id", &|i| i["edges"][0]["id"] = json!("x".repeat(129)));
        with("node data over the limit", "input.nodes[1].data", &|i| i["nodes"][1]["data"] = json!({ "blob": "b".repeat(2000) }));
        with("more nodes than the limit", "nodes", &|i| {
            let (nodes, _) = chain(11);
            i["nodes"] = json!(nodes);
            i["edges"] = json!([]);
        });
        for (what, input, field) in cases {
            let error = app.error(SAVE, json!({ "input": input })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{what}: {error:#}");
            assert_eq!(error["extensions"]["field"], field, "{what}: {error:#}");
            assert_eq!(read(app, "c").await, stored, "{what} changed the canvas");
        }

        let error = app
            .error(SAVE, json!({ "input": { "id": long_id, "name": "x", "nodes": [], "edges": [] } }))
            .await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], "input.id");

        // Changes: an unknown id to delete, an edge to a deleted node, a parent being deleted.
        let change_cases = [
            (json!({ "deleteNodeIds": ["ghost"] }), "changes.deleteNodeIds[0]"),
            (json!({ "deleteEdgeIds": ["ghost"] }), "changes.deleteEdgeIds[0]"),
            (json!({ "deleteNodeIds": ["n0"], "upsertEdges": [{ "id": "x", "source": "n0", "target": "n1" }] }), "changes.upsertEdges[0].source"),
            (json!({ "upsertNodes": [{ "id": "k", "position": { "x": 0, "y": 0 }, "parentId": "ghost" }] }), "changes.upsertNodes[0].parentId"),
            (json!({ "upsertNodes": [{ "id": "n0", "position": { "x": 0, "y": 0 } }], "deleteNodeIds": ["n0"] }), "changes.upsertNodes[0].id"),
            (json!({ "upsertNodes": [
                { "id": "n0", "position": { "x": 0, "y": 0 }, "parentId": "n1" },
                { "id": "n1", "position": { "x": 0, "y": 0 }, "parentId": "n0" },
            ] }), "changes.upsertNodes[0].parentId"),
            (json!({ "upsertNodes": [{ "id": "n2", "position": { "x": 0, "y": 0 }, "parentId": "n2" }] }), "changes.upsertNodes[0].parentId"),
            (json!({ "upsertNodes": (0..8).map(|i| json!({ "id": format!("new{i}"), "position": { "x": 0, "y": 0 } })).collect::<Vec<_>>() }), "changes.upsertNodes"),
            (json!({ "deleteNodeIds": ["n0", "n0"] }), "changes.deleteNodeIds[1]"),
            (json!({ "upsertEdges": [{ "id": "x", "source": "n0", "target": "ghost" }] }), "changes.upsertEdges[0].target"),
            (json!({ "upsertEdges": [{ "id": "x", "source": "n0", "target": "n1" }, { "id": "x", "source": "n1", "target": "n2" }] }), "changes.upsertEdges[1].id"),
        ];
        for (changes, field) in change_cases {
            let error = app.error(APPLY, json!({ "id": "c", "changes": changes })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{changes}: {error:#}");
            assert_eq!(error["extensions"]["field"], field, "{changes}: {error:#}");
            assert_eq!(read(app, "c").await, stored, "{changes} changed the canvas");
        }
    }
}

on_both_databases! {
    async fn writes_to_an_unknown_canvas_are_not_found(app: TestApp) {
        let error = app.error(APPLY, json!({ "id": "ghost", "changes": {} })).await;
        assert_eq!(code(&error), "NOT_FOUND");
        let error = app
            .error("mutation { updateCanvas(id: \"ghost\", input: { name: \"x\" }) { id } }", json!({}))
            .await;
        assert_eq!(code(&error), "NOT_FOUND");
        // A save naming a version of a canvas that is gone does not resurrect it.
        let error = app
            .error(SAVE, json!({ "input": { "id": "ghost", "name": "x", "nodes": [], "edges": [] }, "v": 4 }))
            .await;
        assert_eq!(code(&error), "NOT_FOUND");
        assert_eq!(app.data("{ canvasExists(id: \"ghost\") }", json!({})).await["canvasExists"], false);
    }
}

on_both_databases! {
    async fn a_database_failure_is_an_internal_error_with_a_request_id_and_no_sql(app: TestApp) {
        let (nodes, edges) = chain(2);
        save(app, json!({ "id": "c", "name": "c", "nodes": nodes, "edges": edges }), None).await;
        let db = app.db().await;
        sea_orm::ConnectionTrait::execute_unprepared(&db, "ALTER TABLE canvas_edges RENAME TO canvas_edges_gone")
            .await
            .unwrap();
        let body = app.gql("{ canvas(id: \"c\") { id edges { id } } }", json!({})).await;
        let error = &body["errors"][0];
        assert_eq!(code(error), "INTERNAL_SERVER_ERROR", "{body:#}");
        let message = error["message"].as_str().unwrap();
        let request_id = error["extensions"]["requestId"].as_str().unwrap();
        assert!(message.contains(request_id), "{message}");
        for leak in ["canvas_edges", "SELECT", "relation", "no such table"] {
            assert!(!message.contains(leak), "the message leaks {leak:?}: {message}");
        }
        sea_orm::ConnectionTrait::execute_unprepared(&db, "ALTER TABLE canvas_edges_gone RENAME TO canvas_edges")
            .await
            .unwrap();
    }
}

on_both_databases! {
    async fn changes_keep_groups_whole_and_refuse_loops(app: TestApp) {
        // g0 holds a, which holds b; c stands alone; edges a→c and b→c.
        let node = |id: &str, parent: Option<&str>| json!({ "id": id, "position": { "x": 0, "y": 0 }, "parentId": parent });
        let edge = |id: &str, s: &str, t: &str| json!({ "id": id, "source": s, "target": t });
        let nodes = json!([node("g0", None), node("a", Some("g0")), node("b", Some("a")), node("c", None)]);
        let edges = json!([edge("ac", "a", "c"), edge("bc", "b", "c")]);
        save(app, json!({ "id": "g", "name": "g", "nodes": nodes, "edges": edges }), None).await;
        let stored = read(app, "g").await;

        let refused = [
            // Deleting a group while its child stays.
            (json!({ "deleteNodeIds": ["a"] }), "changes.deleteNodeIds[0]"),
            // g0 into b closes the loop g0 → b → a → g0.
            (json!({ "upsertNodes": [node("g0", Some("b"))] }), "changes.upsertNodes[0].parentId"),
        ];
        for (changes, field) in refused {
            let error = app.error(APPLY, json!({ "id": "g", "changes": changes })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{changes}: {error:#}");
            assert_eq!(error["extensions"]["field"], field, "{changes}: {error:#}");
            assert_eq!(read(app, "g").await, stored, "{changes} changed the canvas");
        }

        // Moving b out of a, then deleting a in the same change, is fine; a's edge goes with it.
        let applied = app
            .data(APPLY, json!({ "id": "g", "v": 1, "changes": {
                "upsertNodes": [node("b", Some("g0"))], "deleteNodeIds": ["a"],
            } }))
            .await;
        assert_eq!(applied["applyCanvasChanges"]["version"], 2);
        let canvas = read(app, "g").await;
        let ids: Vec<&str> = canvas["nodes"].as_array().unwrap().iter().map(|n| n["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["g0", "b", "c"]);
        assert_eq!(canvas["nodes"][1]["parentId"], "g0");
        let edge_ids: Vec<&str> = canvas["edges"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert_eq!(edge_ids, ["bc"]);

        // Deleting a group with everything in it at once is fine too.
        app.data(APPLY, json!({ "id": "g", "changes": { "deleteNodeIds": ["b", "g0"] } })).await;
        let canvas = read(app, "g").await;
        assert_eq!(canvas["nodeCount"], 1);
        assert_eq!(canvas["edgeCount"], 0);
        // A change that changes nothing keeps the version.
        let version = canvas["version"].as_i64().unwrap();
        let same = app.data(APPLY, json!({ "id": "g", "changes": { "upsertNodes": [node("c", None)] } })).await;
        assert_eq!(same["applyCanvasChanges"]["version"], version);
    }
}

on_both_databases! {
    async fn node_data_keeps_its_key_order_and_every_number(app: TestApp) {
        // Keys out of alphabetical order, and numbers a float would round.
        let text = r#"{"zeta":1,"alpha":{"y":[3,2,1],"b":null},"big":18446744073709551615,"neg":-9007199254740993,"f":0.1}"#;
        let data: Value = serde_json::from_str(text).unwrap();
        // The body is written by hand: serde_json's `Value` would sort the keys before sending.
        let save = format!(
            r#"{{"query":{SAVE:?},"variables":{{"input":{{"id":"k","name":"k","edges":[],
                "nodes":[{{"id":"n","position":{{"x":0,"y":0}},"data":{text}}}]}}}}}}"#
        );
        let saved: Value = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", "application/json")
            .body(save)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(saved["data"]["saveCanvas"]["nodeCount"], 1, "{saved:#}");
        let body = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": "{ canvas(id: \"k\") { nodes { data } } }" }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["data"]["canvas"]["nodes"][0]["data"], data);
        if app.backend == common::Backend::Sqlite {
            // SQLite keeps the text as sent; PostgreSQL's jsonb orders keys its own way.
            assert!(body.contains(text), "{body}");
        }
    }
}
