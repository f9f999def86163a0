//! Generation history through the public API on both databases: the state machine, retries,
//! idempotency keys, result assets, figures and lists.

mod common;

use common::{TestApp, code};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

const FIELDS: &str = "id canvasId nodeId model prompt parameters status errorMessage durationMs
    createdAt startedAt finishedAt resultAsset { id } retryOf { id }";

async fn canvas(app: &TestApp, id: &str) {
    app.data(
        "mutation($id: ID!) { createCanvas(input: { id: $id, name: \"runs\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
}

async fn create(app: &TestApp, input: Value) -> Value {
    let query = format!(
        "mutation($input: CreateGenerationInput!) {{ createGeneration(input: $input) {{ {FIELDS} }} }}"
    );
    app.data(&query, json!({ "input": input })).await["createGeneration"].clone()
}

/// Runs a transition mutation (`startGeneration`, ...); the whole response.
async fn step(app: &TestApp, mutation: &str, id: &str, extra: &str) -> Value {
    let query = format!("mutation($id: ID!) {{ {mutation}(id: $id{extra}) {{ {FIELDS} }} }}");
    app.gql(&query, json!({ "id": id })).await
}

async fn read(app: &TestApp, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ generation(id: $id) {{ {FIELDS} }} }}");
    app.data(&query, json!({ "id": id })).await["generation"].clone()
}

on_both_databases! {
    async fn a_run_moves_through_its_states_with_server_times(app: TestApp) {
        canvas(app, "c").await;
        let run = create(app, json!({ "canvasId": "c", "nodeId": "gen-1", "model": "flux-dev",
            "prompt": "a cat", "parameters": { "steps": 28, "seed": 7 } })).await;
        assert_eq!(run["status"], "PENDING");
        assert_eq!(run["startedAt"], Value::Null);
        assert_eq!(run["durationMs"], Value::Null);
        let id = run["id"].as_str().unwrap();

        let started = step(app, "startGeneration", id, "").await["data"]["startGeneration"].clone();
        assert_eq!(started["status"], "PROCESSING");
        assert!(started["startedAt"].is_string());
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let failed = step(app, "failGeneration", id, ", errorMessage: \"provider timed out\"").await
            ["data"]["failGeneration"].clone();
        assert_eq!(failed["status"], "FAILED");
        assert_eq!(failed["errorMessage"], "provider timed out");
        assert!(failed["durationMs"].as_i64().unwrap() >= 30, "{failed}");
        assert!(failed["finishedAt"].as_str().unwrap() >= failed["startedAt"].as_str().unwrap());
        assert_eq!(read(app, id).await, failed);

        // Cancelling from PENDING finishes without a duration.
        let other = create(app, json!({ "canvasId": "c", "model": "flux-dev" })).await;
        let cancelled = step(app, "cancelGeneration", other["id"].as_str().unwrap(), "").await
            ["data"]["cancelGeneration"].clone();
        assert_eq!(cancelled["status"], "CANCELLED");
        assert!(cancelled["finishedAt"].is_string());
        assert_eq!(cancelled["durationMs"], Value::Null);
    }
}

on_both_databases! {
    async fn every_illegal_transition_is_refused_and_nothing_changes(app: TestApp) {
        canvas(app, "c").await;
        let transitions = [
            ("startGeneration", "", "PROCESSING"),
            ("completeGeneration", "", "COMPLETED"),
            ("failGeneration", ", errorMessage: \"x\"", "FAILED"),
            ("cancelGeneration", "", "CANCELLED"),
        ];
        // How to bring a run to each state.
        let paths: [(&str, &[&str]); 5] = [
            ("PENDING", &[]),
            ("PROCESSING", &["startGeneration"]),
            ("COMPLETED", &["startGeneration", "completeGeneration"]),
            ("FAILED", &["startGeneration", "failGeneration"]),
            ("CANCELLED", &["cancelGeneration"]),
        ];
        let allowed = [
            ("PENDING", "PROCESSING"),
            ("PROCESSING", "COMPLETED"),
            ("PROCESSING", "FAILED"),
            ("PENDING", "CANCELLED"),
            ("PROCESSING", "CANCELLED"),
        ];
        for (from, path) in paths {
            for (mutation, extra, to) in transitions {
                if allowed.contains(&(from, to)) {
                    continue;
                }
                let run = create(app, json!({ "canvasId": "c", "model": "m" })).await;
                let id = run["id"].as_str().unwrap();
                for earlier in path {
                    let extra = if *earlier == "failGeneration" { ", errorMessage: \"x\"" } else { "" };
                    let body = step(app, earlier, id, extra).await;
                    assert!(body.get("errors").is_none(), "{body:#}");
                }
                let before = read(app, id).await;
                assert_eq!(before["status"], from);
                let body = step(app, mutation, id, extra).await;
                let error = &body["errors"][0];
                assert_eq!(code(error), "BAD_USER_INPUT", "{from} -> {to}: {body:#}");
                let message = error["message"].as_str().unwrap();
                assert!(message.contains(from) && message.contains(to), "{message}");
                assert_eq!(read(app, id).await, before, "{from} -> {to} changed the run");
            }
        }
    }
}

on_both_databases! {
    async fn retry_makes_a_linked_new_run_with_the_same_inputs(app: TestApp) {
        canvas(app, "c").await;
        let run = create(app, json!({ "canvasId": "c", "nodeId": "n", "model": "sdxl",
            "prompt": "a dog", "parameters": { "cfg": 7.5 } })).await;
        let id = run["id"].as_str().unwrap();
        let body = step(app, "retryGeneration", id, "").await;
        assert_eq!(code(&body["errors"][0]), "BAD_USER_INPUT", "a PENDING run is still running");
        step(app, "startGeneration", id, "").await;
        step(app, "failGeneration", id, ", errorMessage: \"nsfw filter\"").await;

        let retry = step(app, "retryGeneration", id, "").await["data"]["retryGeneration"].clone();
        assert_ne!(retry["id"], run["id"]);
        assert_eq!(retry["status"], "PENDING");
        assert_eq!(retry["retryOf"], json!({ "id": id }));
        for field in ["canvasId", "nodeId", "model", "prompt", "parameters"] {
            assert_eq!(retry[field], run[field], "{field}");
        }
        assert_eq!(retry["errorMessage"], Value::Null);
        assert_eq!(read(app, id).await["status"], "FAILED", "the retried run is unchanged");
    }
}

on_both_databases! {
    async fn an_idempotency_key_gives_the_same_run_even_under_concurrent_calls(app: TestApp) {
        canvas(app, "c").await;
        let input = json!({ "canvasId": "c", "model": "flux", "prompt": "p", "idempotencyKey": "req-1" });
        let calls = (0..6).map(|_| create(app, input.clone()));
        let runs = futures::future::join_all(calls).await;
        for run in &runs {
            assert_eq!(run["id"], runs[0]["id"]);
        }
        let count = app.data("{ generations(canvasId: \"c\") { totalCount } }", json!({})).await;
        assert_eq!(count["generations"]["totalCount"], 1);

        // The same key for another request is a conflict, not a silent reuse.
        let mut other = input.clone();
        other["prompt"] = json!("something else");
        let error = app
            .error(
                "mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }",
                json!({ "input": other }),
            )
            .await;
        assert_eq!(code(&error), "CONFLICT");
        assert_eq!(error["extensions"]["field"], "input.idempotencyKey");
        // Without a key, each call is a new run.
        let a = create(app, json!({ "canvasId": "c", "model": "flux" })).await;
        let b = create(app, json!({ "canvasId": "c", "model": "flux" })).await;
        assert_ne!(a["id"], b["id"]);
    }
}

async fn external_asset(app: &TestApp, canvas: &str) -> String {
    app.data(
        "mutation($input: RegisterExternalAssetInput!) { registerExternalAsset(input: $input) { id } }",
        json!({ "input": { "canvasId": canvas, "kind": "IMAGE", "mimeType": "image/png",
                           "url": "https://cdn.example.com/x.png" } }),
    )
    .await["registerExternalAsset"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

on_both_databases! {
    async fn a_result_must_be_a_ready_asset_of_the_same_canvas(app: TestApp) {
        canvas(app, "c").await;
        canvas(app, "other").await;
        let foreign = external_asset(app, "other").await;
        let pending = app
            .data(
                "mutation { createAssetUpload(input: { canvasId: \"c\", kind: IMAGE, mimeType: \"image/png\", sizeBytes: 10 }) { asset { id } } }",
                json!({}),
            )
            .await["createAssetUpload"]["asset"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let run = create(app, json!({ "canvasId": "c", "model": "m" })).await;
        let id = run["id"].as_str().unwrap();
        step(app, "startGeneration", id, "").await;
        let before = read(app, id).await;
        for (asset, why) in [(&foreign, "another canvas"), (&pending, "not READY"), (&"ghost".to_owned(), "no asset")] {
            let body = step(app, "completeGeneration", id, &format!(", resultAssetId: \"{asset}\"")).await;
            let error = &body["errors"][0];
            assert_eq!(code(error), "BAD_USER_INPUT", "{body:#}");
            assert_eq!(error["extensions"]["field"], "resultAssetId");
            assert!(error["message"].as_str().unwrap().contains(why), "{body:#}");
            assert_eq!(read(app, id).await, before);
        }
        let good = external_asset(app, "c").await;
        let done = step(app, "completeGeneration", id, &format!(", resultAssetId: \"{good}\"")).await
            ["data"]["completeGeneration"].clone();
        assert_eq!(done["status"], "COMPLETED");
        assert_eq!(done["resultAsset"], json!({ "id": good }));

        // Deleting the asset leaves the run with no result.
        app.data("mutation($id: ID!) { deleteAsset(id: $id) }", json!({ "id": good })).await;
        let after = read(app, id).await;
        assert_eq!(after["resultAsset"], Value::Null);
        assert_eq!(after["status"], "COMPLETED");
    }
}

on_both_databases! {
    async fn a_page_of_runs_with_results_runs_the_same_statements_whatever_its_size(app: TestApp) {
        canvas(app, "c").await;
        for i in 0..60 {
            let asset = external_asset(app, "c").await;
            let run = create(app, json!({ "canvasId": "c", "model": format!("m{}", i % 3) })).await;
            let id = run["id"].as_str().unwrap();
            step(app, "startGeneration", id, "").await;
            step(app, "completeGeneration", id, &format!(", resultAssetId: \"{asset}\"")).await;
        }
        let query = "query($first: Int) { generations(first: $first) {
            nodes { id status resultAsset { id url } retryOf { id } } } }";
        let mut counts = Vec::new();
        for first in [5, 50] {
            let before = app.statements().await;
            let data = app.data(query, json!({ "first": first })).await;
            counts.push(app.statements().await - before);
            let nodes = data["generations"]["nodes"].as_array().unwrap();
            assert_eq!(nodes.len(), first);
            assert!(nodes.iter().all(|n| n["resultAsset"]["url"].is_string()));
        }
        assert_eq!(counts[0], counts[1], "statements for 5 and 50 runs: {counts:?}");
    }
}

on_both_databases! {
    async fn stats_and_filters_agree_with_counts_made_here(app: TestApp) {
        canvas(app, "c").await;
        canvas(app, "d").await;
        // Twenty completed runs with known durations, written directly.
        let db = app.db().await;
        let now = chrono::Utc::now();
        for i in 1..=20_i64 {
            entity::generation::ActiveModel {
                id: Set(format!("done-{i:02}")),
                owner_id: Set("local".into()),
                canvas_id: Set("c".into()),
                node_id: Set(Some(format!("n{}", i % 2))),
                model: Set(if i <= 12 { "flux".into() } else { "sdxl".into() }),
                status: Set(entity::generation::GenerationStatus::Completed),
                duration_ms: Set(Some(i * 100)),
                created_at: Set(now - chrono::Duration::seconds(i)),
                started_at: Set(Some(now)),
                finished_at: Set(Some(now)),
                ..Default::default()
            }
            .insert(&db)
            .await
            .unwrap();
        }
        db.close().await.ok();
        for _ in 0..3 {
            create(app, json!({ "canvasId": "c", "model": "flux" })).await;
        }
        create(app, json!({ "canvasId": "d", "model": "dalle" })).await;

        let stats = app
            .data(
                "{ generationStats(canvasId: \"c\") { total byStatus { status count } byModel { model count }
                   averageDurationMs p95DurationMs } }",
                json!({}),
            )
            .await["generationStats"]
            .clone();
        let durations: Vec<i64> = (1..=20).map(|i| i * 100).collect();
        let average = durations.iter().sum::<i64>() as f64 / 20.0;
        let p95 = durations[(durations.len() * 95).div_ceil(100) - 1];
        assert_eq!(
            stats,
            json!({ "total": 23,
                    "byStatus": [{ "status": "PENDING", "count": 3 }, { "status": "COMPLETED", "count": 20 }],
                    "byModel": [{ "model": "flux", "count": 15 }, { "model": "sdxl", "count": 8 }],
                    "averageDurationMs": average, "p95DurationMs": p95 })
        );
        let all = app.data("{ generationStats { total } }", json!({})).await;
        assert_eq!(all["generationStats"]["total"], 24);

        let filtered = app
            .data(
                "{ generations(canvasId: \"c\", status: COMPLETED, model: \"sdxl\", nodeId: \"n0\") { totalCount nodes { id } } }",
                json!({}),
            )
            .await["generations"]
            .clone();
        let expected: Vec<Value> = (13..=20)
            .filter(|i| i % 2 == 0)
            .map(|i| json!({ "id": format!("done-{i:02}") }))
            .collect();
        assert_eq!(filtered["totalCount"], expected.len());
        assert_eq!(filtered["nodes"], json!(expected), "newest first");

        let on_canvas = app
            .data("{ canvas(id: \"d\") { generations { totalCount nodes { model } } } }", json!({}))
            .await;
        assert_eq!(
            on_canvas["canvas"]["generations"],
            json!({ "totalCount": 1, "nodes": [{ "model": "dalle" }] })
        );
    }
}

on_both_databases! {
    async fn bad_input_and_unknown_ids_are_refused(app: TestApp) {
        canvas(app, "c").await;
        let query = "mutation($input: CreateGenerationInput!) { createGeneration(input: $input) { id } }";
        let cases = [
            (json!({ "canvasId": "ghost", "model": "m" }), "NOT_FOUND", None),
            (json!({ "canvasId": "c", "model": " " }), "BAD_USER_INPUT", Some("input.model")),
            (json!({ "canvasId": "c", "model": "m".repeat(129) }), "BAD_USER_INPUT", Some("input.model")),
            (json!({ "canvasId": "c", "model": "m", "nodeId": "x".repeat(129) }), "BAD_USER_INPUT", Some("input.nodeId")),
        ];
        for (input, expected, field) in cases {
            let error = app.error(query, json!({ "input": input })).await;
            assert_eq!(code(&error), expected, "{input}");
            if let Some(field) = field {
                assert_eq!(error["extensions"]["field"], field);
            }
        }
        for mutation in ["startGeneration", "cancelGeneration", "retryGeneration"] {
            let body = step(app, mutation, "ghost", "").await;
            assert_eq!(code(&body["errors"][0]), "NOT_FOUND", "{mutation}");
        }
        assert_eq!(app.data("{ generation(id: \"ghost\") { id } }", json!({})).await["generation"], Value::Null);
        let count = app.data("{ generations { totalCount } }", json!({})).await;
        assert_eq!(count["generations"]["totalCount"], 0);
    }
}
