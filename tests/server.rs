mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::process::{KillOnDrop, easel, picked_address};
use common::{Backend, ScratchPostgres, TestApp, code};
use serde_json::{Value, json};

/// Longest a child process may run before the test gives up on it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a command to its end, killing it when it outlives [`CHILD_TIMEOUT`].
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > CHILD_TIMEOUT {
            child.kill().ok();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{command:?} did not finish within {CHILD_TIMEOUT:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs a command that must succeed; its stdout.
fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed with {}; stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `(status, name)` of each migration that `easel migrate` lists.
fn statuses(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some(status), Some(name)) => Some((status.to_owned(), name.to_owned())),
                _ => None,
            }
        })
        .collect()
}

/// The last migration's status, after checking every earlier one says `earlier`.
fn last_status(stdout: &str, earlier: &str) -> String {
    let list = statuses(stdout);
    assert!(!list.is_empty(), "no migrations listed:\n{stdout}");
    for (status, name) in &list[..list.len() - 1] {
        assert_eq!(status, earlier, "{name} in:\n{stdout}");
    }
    list.last().unwrap().0.clone()
}

/// Walks `migrate up`, `status`, `down --steps 1`, `fresh` on one database.
fn migrations_walk_up_down_and_fresh(dir: &Path, database_url: &str) {
    let migrate = |args: &[&str]| {
        let mut command = easel(dir);
        command
            .arg("migrate")
            .arg("--database-url")
            .arg(database_url)
            .args(args);
        run_ok(&mut command)
    };

    let before = migrate(&["status"]);
    assert!(
        statuses(&before).iter().all(|(s, _)| s == "Pending"),
        "{before}"
    );

    let up = migrate(&["up"]);
    assert!(statuses(&up).iter().all(|(s, _)| s == "Applied"), "{up}");
    let status = migrate(&["status"]);
    assert!(!statuses(&status).is_empty(), "{status}");
    assert!(
        statuses(&status).iter().all(|(s, _)| s == "Applied"),
        "{status}"
    );

    migrate(&["down", "--steps", "1"]);
    let status = migrate(&["status"]);
    assert_eq!(last_status(&status, "Applied"), "Pending", "{status}");

    migrate(&["fresh"]);
    let status = migrate(&["status"]);
    assert!(
        statuses(&status).iter().all(|(s, _)| s == "Applied"),
        "{status}"
    );

    // The URL from the environment works as well as the flag.
    let from_env = run_ok(
        easel(dir)
            .env("DATABASE_URL", database_url)
            .args(["migrate", "status"]),
    );
    assert_eq!(statuses(&from_env), statuses(&status));
}

/// Sends a GraphQL request as raw bytes.
async fn post_raw(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_graphiql_answer() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let graphiql = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(graphiql.status(), 200);
    let content_type = graphiql.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = graphiql.text().await.unwrap().to_lowercase();
    assert!(
        page.contains("<html") && page.contains("graphiql"),
        "{page}"
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_bad_user_input() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();

    let response = post_raw(&app, "this is { not json").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    assert_eq!(code(error), "BAD_USER_INPUT", "{body:#}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body:#}"
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_and_the_server_keeps_serving() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.limits.max_body_bytes = 1024)
        .await
        .unwrap();

    let padding = " ".repeat(4096);
    let body = json!({ "query": format!("{{ me {{ id }} }}{padding}") }).to_string();
    let response = post_raw(&app, body).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body["errors"][0]), "PAYLOAD_TOO_LARGE", "{body:#}");

    let data = app.data("{ me { id } }", json!({})).await;
    assert_eq!(data, json!({ "me": { "id": "local" } }));
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.limits.max_body_bytes = 1024)
        .await
        .unwrap();

    let mut responses = vec![
        (
            "GET /healthz",
            app.client.get(app.url("/healthz")).send().await.unwrap(),
        ),
        (
            "GET /readyz",
            app.client.get(app.url("/readyz")).send().await.unwrap(),
        ),
        (
            "GET /graphql",
            app.client.get(app.url("/graphql")).send().await.unwrap(),
        ),
        (
            "GET /nowhere",
            app.client.get(app.url("/nowhere")).send().await.unwrap(),
        ),
        (
            "POST query",
            post_raw(&app, json!({ "query": "{ me { id } }" }).to_string()).await,
        ),
        (
            "POST bad query",
            post_raw(&app, json!({ "query": "{ nope }" }).to_string()).await,
        ),
        ("POST not json", post_raw(&app, "nope").await),
    ];
    responses.push(("POST too large", post_raw(&app, vec![b' '; 4096]).await));
    for (what, response) in &responses {
        let id = response.headers().get("x-request-id");
        assert!(
            id.is_some_and(|id| !id.is_empty()),
            "{what} ({}) has no x-request-id: {:?}",
            response.status(),
            response.headers()
        );
    }

    app.stop().await;
}

#[test]
fn schema_graphql_equals_the_schema_command_output() {
    let dir = tempfile::tempdir().unwrap();
    let printed = run_ok(easel(dir.path()).arg("schema"));
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert!(
        printed == file,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn migrate_up_status_down_and_fresh_work_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    migrations_walk_up_down_and_fresh(dir.path(), &url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_up_status_down_and_fresh_work_on_postgres() {
    let Some(pg) = ScratchPostgres::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let walked = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let url = pg.url.clone();
        move || migrations_walk_up_down_and_fresh(&dir, &url)
    })
    .await;
    pg.drop_database().await;
    if let Err(panic) = walked {
        std::panic::resume_unwind(panic.into_panic());
    }
}

/// Runs `easel serve` with `env`, which must refuse to start; its stderr.
fn refused_start(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = easel(dir.path());
    command
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("EASEL_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied());
    let output = run(&mut command);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "{env:?} started anyway; stderr:\n{stderr}"
    );
    stderr
}

#[test]
fn a_bad_listen_address_stops_the_start_naming_it() {
    let stderr = refused_start(&[("EASEL_LISTEN", "not-an-address")]);
    assert!(
        stderr.contains("listen") || stderr.contains("EASEL_LISTEN"),
        "{stderr}"
    );
}

#[test]
fn an_unsupported_database_url_stops_the_start_naming_it() {
    let stderr = refused_start(&[("DATABASE_URL", "mysql://x/y")]);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

#[test]
fn a_zero_node_limit_stops_the_start_naming_it() {
    let stderr = refused_start(&[("EASEL_MAX_NODES", "0")]);
    assert!(stderr.contains("EASEL_MAX_NODES"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_port_zero_logs_the_address_it_picked() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = easel(dir.path());
    command
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/x.db", dir.path().display()),
        )
        .env("EASEL_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop(command.spawn().unwrap());

    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + CHILD_TIMEOUT;
    let mut log = Vec::new();
    let addr = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = picked_address(&line) {
                    break addr;
                }
                log.push(line);
            }
            Err(_) => panic!(
                "no listening address logged within {CHILD_TIMEOUT:?}; log:\n{}",
                log.join("\n")
            ),
        }
    };

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: Value = client
        .post(format!("http://{addr}/graphql"))
        .json(&json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({ "data": { "me": { "id": "local" } } }));

    drop(child);
}
