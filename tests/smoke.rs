mod common;

use common::{TestApp, code};
use serde_json::json;

on_both_databases! {
    async fn a_saved_canvas_reads_back(app: TestApp) {
        let data = app
            .data(
                "mutation($input: CanvasSnapshotInput!) { saveCanvas(input: $input) { id version } }",
                json!({ "input": { "id": "c1", "name": "One", "nodes": [
                    { "id": "a", "position": { "x": 1, "y": 2 }, "data": { "k": [1, 2] } }
                ], "edges": [] } }),
            )
            .await;
        assert_eq!(data["saveCanvas"]["version"], 1);
        let error = app
            .error("mutation { saveCanvas(input: {id: \"c1\", name: \"\", nodes: [], edges: []}) { id } }", json!({}))
            .await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
    }
}
