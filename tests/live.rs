//! Live canvases: `canvasEvents` over real WebSockets (both protocols), replay with
//! `sinceVersion`, `Resync`, many subscribers, authorization, and delivery across two `easel`
//! processes on one PostgreSQL database.

mod common;

use std::time::{Duration, Instant};

use common::process::{ServerProcess, easel};
use common::{ScratchPostgres, TestApp, code};
use easel::auth::jwt::{JwtConfig, KeySource};
use futures::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Longest a test waits for one message; generous, since the machine may be busy. Nothing is
/// asserted about how long delivery takes.
const WAIT: Duration = Duration::from_secs(30);

const EVENTS: &str = r#"
subscription Follow($id: ID!, $since: Int) {
  canvasEvents(canvasId: $id, sinceVersion: $since) {
    __typename
    ... on NodesUpserted { version clientMutationId nodes { id position { x y } data } }
    ... on NodesDeleted { version clientMutationId ids }
    ... on EdgesUpserted { version clientMutationId edges { id source target } }
    ... on EdgesDeleted { version clientMutationId ids }
    ... on CanvasUpdated { version clientMutationId canvas { id name version nodeCount } }
    ... on CanvasDeleted { version clientMutationId }
    ... on Resync { version clientMutationId reason }
  }
}"#;

const SAVE: &str = r#"
mutation Save($input: CanvasSnapshotInput!, $cmid: String) {
  saveCanvas(input: $input, clientMutationId: $cmid) { version }
}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// The older `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

/// What the server sent about a subscription.
#[derive(Debug)]
enum Received {
    /// A result: `{ data, errors }`.
    Next(Value),
    Complete,
    /// The connection closed, or the server refused it.
    Closed(#[allow(dead_code, reason = "shown in failure messages")] String),
}

/// A GraphQL WebSocket client, one subscription per connection (id `1`).
struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: Protocol,
}

impl Client {
    /// Connects and sends `connection_init` with `payload`; `None` when the server refuses.
    async fn try_connect(
        addr: &str,
        protocol: Protocol,
        header_token: Option<&str>,
        payload: Value,
    ) -> Result<Client, String> {
        let mut request = format!("ws://{addr}/graphql")
            .into_client_request()
            .unwrap();
        let name = match protocol {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        };
        request
            .headers_mut()
            .insert("sec-websocket-protocol", name.parse().unwrap());
        if let Some(token) = header_token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("upgrade refused: {e}"))?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            name,
            "the server speaks the protocol asked for"
        );
        let mut client = Client { socket, protocol };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        loop {
            match client.message().await {
                Some(m) if m["type"] == "connection_ack" => return Ok(client),
                Some(m) if m["type"] == "ka" => {}
                Some(m) => return Err(format!("refused: {m}")),
                None => return Err("closed".into()),
            }
        }
    }

    async fn connect(addr: &str, protocol: Protocol) -> Client {
        Self::try_connect(addr, protocol, None, json!({}))
            .await
            .unwrap()
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next JSON message; `None` once the connection is closed.
    async fn message(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("no message from the server in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(value);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    async fn subscribe(&mut self, canvas_id: &str, since: Option<i64>) {
        let kind = match self.protocol {
            Protocol::TransportWs => "subscribe",
            Protocol::Legacy => "start",
        };
        self.send(json!({
            "id": "1",
            "type": kind,
            "payload": { "query": EVENTS, "variables": { "id": canvas_id, "since": since } },
        }))
        .await;
    }

    async fn receive(&mut self) -> Received {
        loop {
            let Some(message) = self.message().await else {
                return Received::Closed("closed".into());
            };
            match message["type"].as_str().unwrap_or("") {
                "next" | "data" => return Received::Next(message["payload"].clone()),
                "complete" => return Received::Complete,
                "ka" => {}
                "connection_error" | "error" => return Received::Closed(message.to_string()),
                other => panic!("unexpected message {other}: {message}"),
            }
        }
    }

    /// The next event, which must come.
    async fn event(&mut self) -> Value {
        match self.receive().await {
            Received::Next(payload) => {
                assert!(payload.get("errors").is_none(), "errors: {payload}");
                payload["data"]["canvasEvents"].clone()
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The error the subscription fails or ends with.
    async fn error(&mut self) -> Value {
        match self.receive().await {
            Received::Next(payload) => payload["errors"][0].clone(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    async fn completes(&mut self) {
        match self.receive().await {
            Received::Complete => {}
            other => panic!("expected the subscription to complete, got {other:?}"),
        }
    }

    async fn close(mut self) {
        self.socket.close(None).await.ok();
    }
}

fn node(id: &str, x: f64) -> Value {
    json!({ "id": id, "position": { "x": x, "y": 0.0 }, "data": { "label": id } })
}

fn snapshot(id: &str, nodes: &[Value], edges: &[Value]) -> Value {
    json!({ "id": id, "name": "Live", "nodes": nodes, "edges": edges })
}

/// Saves a canvas with one node `n1` at `x`; its new version.
async fn save_at(app: &TestApp, id: &str, x: f64, cmid: Option<&str>) -> i64 {
    let data = app
        .data(
            SAVE,
            json!({ "input": snapshot(id, &[node("n1", x)], &[]), "cmid": cmid }),
        )
        .await;
    data["saveCanvas"]["version"].as_i64().unwrap()
}

on_both_databases! {
    async fn both_protocols_deliver_every_kind_of_event_with_its_client_mutation_id(app: TestApp) {
        for protocol in [Protocol::TransportWs, Protocol::Legacy] {
            let id = format!("live-{protocol:?}");
            assert_eq!(save_at(app, &id, 0.0, None).await, 1);
            let mut client = Client::connect(&app.addr.to_string(), protocol).await;
            client.subscribe(&id, Some(1)).await;

            // A save that adds a node and an edge and moves one.
            let nodes = [node("n1", 5.0), node("n2", 1.0)];
            let edges = [json!({ "id": "e1", "source": "n1", "target": "n2" })];
            app.data(SAVE, json!({ "input": snapshot(&id, &nodes, &edges), "cmid": "tab-1:1" })).await;
            let upserted = client.event().await;
            assert_eq!(upserted["__typename"], "NodesUpserted", "{upserted}");
            assert_eq!(upserted["version"], 2);
            assert_eq!(upserted["clientMutationId"], "tab-1:1");
            assert_eq!(
                upserted["nodes"],
                json!([
                    { "id": "n1", "position": { "x": 5.0, "y": 0.0 }, "data": { "label": "n1" } },
                    { "id": "n2", "position": { "x": 1.0, "y": 0.0 }, "data": { "label": "n2" } },
                ])
            );
            let edges = client.event().await;
            assert_eq!(
                edges,
                json!({ "__typename": "EdgesUpserted", "version": 2, "clientMutationId": "tab-1:1",
                        "edges": [{ "id": "e1", "source": "n1", "target": "n2" }] })
            );

            // Metadata.
            app.data(
                "mutation($id: ID!) { updateCanvas(id: $id, input: { name: \"Renamed\" }, clientMutationId: \"tab-1:2\") { version } }",
                json!({ "id": id }),
            ).await;
            let updated = client.event().await;
            assert_eq!(
                updated,
                json!({ "__typename": "CanvasUpdated", "version": 3, "clientMutationId": "tab-1:2",
                        "canvas": { "id": id, "name": "Renamed", "version": 3, "nodeCount": 2 } })
            );

            // Deleting a node deletes its edge: edges first, then nodes, one version.
            app.data(
                "mutation($id: ID!) { applyCanvasChanges(canvasId: $id, changes: { deleteNodeIds: [\"n2\"] }) { version } }",
                json!({ "id": id }),
            ).await;
            assert_eq!(
                client.event().await,
                json!({ "__typename": "EdgesDeleted", "version": 4, "clientMutationId": null, "ids": ["e1"] })
            );
            assert_eq!(
                client.event().await,
                json!({ "__typename": "NodesDeleted", "version": 4, "clientMutationId": null, "ids": ["n2"] })
            );

            // The deletion ends the stream.
            app.data(
                "mutation($id: ID!) { deleteCanvas(id: $id, clientMutationId: \"tab-1:3\") }",
                json!({ "id": id }),
            ).await;
            assert_eq!(
                client.event().await,
                json!({ "__typename": "CanvasDeleted", "version": 5, "clientMutationId": "tab-1:3" })
            );
            client.completes().await;
            client.close().await;
        }
    }
}

on_both_databases! {
    async fn a_reconnecting_subscriber_gets_exactly_the_events_it_missed(app: TestApp) {
        let addr = app.addr.to_string();
        save_at(app, "replay", 0.0, None).await;
        let mut client = Client::connect(&addr, Protocol::TransportWs).await;
        client.subscribe("replay", Some(1)).await;
        save_at(app, "replay", 1.0, None).await;
        let seen = client.event().await;
        assert_eq!(seen["version"], 2);
        client.close().await;

        for x in [2.0, 3.0, 4.0] {
            save_at(app, "replay", x, Some(&format!("missed-{x}"))).await;
        }

        let mut client = Client::connect(&addr, Protocol::TransportWs).await;
        client.subscribe("replay", Some(2)).await;
        for (version, x) in [(3, 2.0), (4, 3.0), (5, 4.0)] {
            let event = client.event().await;
            assert_eq!(event["__typename"], "NodesUpserted", "{event}");
            assert_eq!(event["version"], version);
            assert_eq!(event["clientMutationId"], format!("missed-{x}"));
            assert_eq!(event["nodes"][0]["position"]["x"], x);
        }
        // Nothing more was replayed: the next event is the next write's.
        app.data(
            "mutation { updateCanvas(id: \"replay\", input: { name: \"Next\" }) { version } }",
            json!({}),
        )
        .await;
        let next = client.event().await;
        assert_eq!(next["__typename"], "CanvasUpdated", "{next}");
        assert_eq!(next["version"], 6);
        client.close().await;

        // A version the canvas has not reached is a mistake, not a wait.
        let mut client = Client::connect(&addr, Protocol::TransportWs).await;
        client.subscribe("replay", Some(60)).await;
        assert_eq!(code(&client.error().await), "BAD_USER_INPUT");
        client.completes().await;
        client.close().await;
    }
}

fn short_history(config: &mut easel::Config) {
    config.live.history = Duration::ZERO;
    config.live.history_min_events = 1;
    config.live.prune_every = Duration::from_millis(50);
    config.live.max_event_items = 3;
}

/// Events of a canvas in the table.
async fn events_kept(app: &TestApp, canvas_id: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let db = app.db().await;
    let count = entity::canvas_event::Entity::find()
        .filter(entity::canvas_event::Column::CanvasId.eq(canvas_id))
        .count(&db)
        .await
        .unwrap();
    db.close().await.ok();
    count as i64
}

on_both_databases! {
    with_config(short_history);
    async fn history_that_is_gone_and_writes_too_large_to_send_are_a_resync(app: TestApp) {
        let addr = app.addr.to_string();
        for x in 0..5 {
            save_at(app, "pruned", f64::from(x), None).await;
        }
        // Only the latest event is kept once the pruner has run.
        let deadline = Instant::now() + WAIT;
        while events_kept(app, "pruned").await > 1 {
            assert!(Instant::now() < deadline, "old events were not pruned");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(events_kept(app, "pruned").await, 1, "the latest event stays");

        let mut client = Client::connect(&addr, Protocol::TransportWs).await;
        client.subscribe("pruned", Some(1)).await;
        assert_eq!(
            client.event().await,
            json!({ "__typename": "Resync", "version": 4, "clientMutationId": null, "reason": "HISTORY_GONE" })
        );
        let kept = client.event().await;
        assert_eq!(kept["__typename"], "NodesUpserted", "{kept}");
        assert_eq!(kept["version"], 5);

        // Four nodes are more than the three items an event may carry.
        let nodes: Vec<Value> = (0..4).map(|i| node(&format!("big-{i}"), 0.0)).collect();
        app.data(SAVE, json!({ "input": snapshot("pruned", &nodes, &[]), "cmid": "big" })).await;
        assert_eq!(
            client.event().await,
            json!({ "__typename": "Resync", "version": 6, "clientMutationId": "big", "reason": "LARGE_CHANGE" })
        );
        client.close().await;
    }
}

const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";

fn token(sub: &str, lifetime: i64) -> String {
    let claims = json!({ "sub": sub, "exp": chrono::Utc::now().timestamp() + lifetime });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn hosted(config: &mut easel::Config) {
    config.jwt = Some(JwtConfig {
        key: KeySource::Secret(SECRET.into()),
        issuer: None,
        audience: None,
        leeway_secs: 0,
    });
}

/// A GraphQL request with a bearer token; its `data`.
async fn as_user(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

on_both_databases! {
    with_config(hosted);
    async fn another_users_private_canvas_cannot_be_followed(app: TestApp) {
        let addr = app.addr.to_string();
        let (alice, bob) = (token("alice", 600), token("bob", 600));
        for (id, public) in [("private", false), ("public", true)] {
            as_user(app, &alice, SAVE, json!({ "input": { "id": id, "name": id, "isPublic": public, "nodes": [], "edges": [] } })).await;
        }

        // Bob, with his token in the connection_init payload, and an anonymous caller.
        for payload in [json!({ "Authorization": format!("Bearer {bob}") }), json!({})] {
            let mut client = Client::try_connect(&addr, Protocol::TransportWs, None, payload).await.unwrap();
            client.subscribe("private", None).await;
            assert_eq!(code(&client.error().await), "NOT_FOUND");
            client.completes().await;
            client.close().await;
        }
        // A canvas that does not exist looks the same.
        let mut client = Client::try_connect(&addr, Protocol::Legacy, Some(&bob), json!({})).await.unwrap();
        client.subscribe("nothing-here", None).await;
        assert_eq!(code(&client.error().await), "NOT_FOUND");
        client.close().await;

        // Bob may follow the public canvas, token in the upgrade's header; Alice her private one
        // with `{"token": ...}`.
        let mut bobs = Client::try_connect(&addr, Protocol::Legacy, Some(&bob), json!({})).await.unwrap();
        bobs.subscribe("public", Some(1)).await;
        let mut alices = Client::try_connect(&addr, Protocol::TransportWs, None, json!({ "token": alice })).await.unwrap();
        alices.subscribe("private", Some(1)).await;
        for id in ["public", "private"] {
            as_user(app, &alice, SAVE, json!({ "input": { "id": id, "name": "changed", "nodes": [], "edges": [] } })).await;
        }
        assert_eq!(bobs.event().await["canvas"]["name"], "changed");
        assert_eq!(alices.event().await["canvas"]["name"], "changed");

        // When the public canvas turns private, Bob's subscription ends.
        as_user(app, &alice, "mutation { updateCanvas(id: \"public\", input: { isPublic: false }) { version } }", json!({})).await;
        assert_eq!(code(&bobs.error().await), "NOT_FOUND");
        bobs.completes().await;
        bobs.close().await;
        alices.close().await;

        // A token that does not verify refuses the connection.
        let forged = format!("{}x", token("alice", 600));
        for protocol in [Protocol::TransportWs, Protocol::Legacy] {
            let refused = Client::try_connect(&addr, protocol, None, json!({ "token": forged })).await;
            assert!(refused.is_err(), "a forged token was accepted");
        }
        assert!(Client::try_connect(&addr, Protocol::TransportWs, Some(&forged), json!({})).await.is_err());
    }
}

on_both_databases! {
    with_config(hosted);
    async fn a_subscription_ends_when_its_token_expires(app: TestApp) {
        let addr = app.addr.to_string();
        let alice = token("alice", 600);
        as_user(app, &alice, SAVE, json!({ "input": snapshot("expiring", &[], &[]) })).await;
        let short = token("alice", 10);
        let mut client = Client::try_connect(&addr, Protocol::TransportWs, Some(&short), json!({})).await.unwrap();
        client.subscribe("expiring", Some(1)).await;
        as_user(app, &alice, SAVE, json!({ "input": snapshot("expiring", &[node("n1", 1.0)], &[]) })).await;
        assert_eq!(client.event().await["version"], 2);
        // Then nothing happens until the token expires, which ends the subscription.
        assert_eq!(code(&client.error().await), "UNAUTHENTICATED");
        client.completes().await;
        client.close().await;
    }
}

/// `easel serve` as a child process on `database_url`, in `dir`.
fn start_process(database_url: &str, dir: &std::path::Path) -> ServerProcess {
    let mut command = easel(dir);
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("EASEL_LISTEN", "127.0.0.1:0")
        .env("EASEL_DATA_DIR", dir)
        .env(
            "EASEL_ASSET_STORE",
            format!("file://{}/assets", dir.display()),
        );
    ServerProcess::start(command)
}

async fn save_on(client: &reqwest::Client, server: &ServerProcess, id: &str, x: f64) -> i64 {
    let body: Value = client
        .post(server.url("/graphql"))
        .json(&json!({ "query": SAVE, "variables": { "input": snapshot(id, &[node("n1", x)], &[]) } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["saveCanvas"]["version"]
        .as_i64()
        .unwrap_or_else(|| panic!("save failed: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscriber_on_one_process_receives_every_save_made_through_another() {
    let Some(pg) = ScratchPostgres::create().await else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = start_process(&pg.url, dir_a.path());
    let b = start_process(&pg.url, dir_b.path());
    let http = reqwest::Client::new();
    assert_eq!(save_on(&http, &b, "shared", 0.0).await, 1);

    let mut client = Client::connect(&a.addr, Protocol::TransportWs).await;
    client.subscribe("shared", Some(1)).await;
    let mut slowest = Duration::ZERO;
    for i in 1..=20 {
        let sent = Instant::now();
        let version = save_on(&http, &b, "shared", f64::from(i)).await;
        let event = client.event().await;
        slowest = slowest.max(sent.elapsed());
        assert_eq!(event["__typename"], "NodesUpserted", "{event}");
        assert_eq!(event["version"], version);
        assert_eq!(event["nodes"][0]["position"]["x"], f64::from(i));
    }
    // Reported, not asserted: the machine's load decides it.
    eprintln!("slowest save-to-event across processes: {slowest:?}");
    client.close().await;
    drop((a, b));
    pg.drop_database().await;
}

/// `VmHWM` and `VmRSS` of a process, in kB.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Follows a canvas until `last`; asserts every version after the first arrived in order, or is
/// covered by a `Resync`.
async fn follow_to(mut client: Client, last: i64) -> usize {
    let mut expected = 2;
    let mut resyncs = 0;
    while expected <= last {
        let event = client.event().await;
        let version = event["version"].as_i64().unwrap();
        if event["__typename"] == "Resync" {
            assert!(version >= expected - 1, "a Resync went back: {event}");
            resyncs += 1;
            expected = version + 1;
        } else {
            assert_eq!(event["__typename"], "NodesUpserted", "{event}");
            assert_eq!(version, expected, "an event was skipped or repeated");
            expected += 1;
        }
    }
    client.close().await;
    resyncs
}

async fn burst(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = start_process(database_url, dir.path());
    let http = reqwest::Client::new();
    save_on(&http, &server, "busy", 0.0).await;
    let (_, rss_before) = memory_kb(server.pid());

    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut client = Client::connect(&server.addr, Protocol::TransportWs).await;
        client.subscribe("busy", Some(1)).await;
        clients.push(client);
    }
    let followers: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(follow_to(client, 101)))
        .collect();
    for i in 1..=100 {
        save_on(&http, &server, "busy", f64::from(i)).await;
    }
    let mut resyncs = 0;
    for follower in followers {
        resyncs += tokio::time::timeout(WAIT * 4, follower)
            .await
            .expect("a subscriber did not get every event")
            .unwrap();
    }
    let (hwm, rss) = memory_kb(server.pid());
    eprintln!(
        "200 subscribers x 100 saves on {}: {resyncs} Resync; server RSS {rss_before} kB before, \
         {rss} kB after, peak (VmHWM) {hwm} kB",
        database_url.split(':').next().unwrap_or("")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_subscribers_get_every_event_of_a_burst_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    burst(&format!("sqlite://{}/easel.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_subscribers_get_every_event_of_a_burst_postgres() {
    let Some(pg) = ScratchPostgres::create().await else {
        return;
    };
    burst(&pg.url).await;
    pg.drop_database().await;
}
