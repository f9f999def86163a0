//! The canvas benchmark suite of issue 6: every figure measured beside its physical floor in the
//! same run, on SQLite and (with `EASEL_BENCH_POSTGRES_URL`) on PostgreSQL.
//!
//! ```sh
//! cargo bench --bench canvas
//! EASEL_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench canvas
//! ```
//!
//! The server is the `easel` binary of this build, run as a child process on 127.0.0.1:0 over a
//! fresh SQLite file (and a freshly created PostgreSQL database, dropped at the end), so that its
//! memory can be read from `/proc` and the load generator is not inside it. The table goes to
//! stdout and the JSON summary to `target/bench-summary.json`. BENCHMARKS.md explains the figures
//! and the environment variables that size them.

#[path = "canvas/client.rs"]
mod client;
#[path = "canvas/fixture.rs"]
mod fixture;
#[path = "canvas/floor.rs"]
mod floor;
#[path = "canvas/report.rs"]
mod report;
#[path = "canvas/server.rs"]
mod server;
#[path = "../tests/common/text.rs"]
mod text;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use client::{Api, median, ms};
use floor::{FloorDb, Rows};
use report::{
    BackendReport, Compared, Incremental, ListFigure, Machine, Summary, Throughput, Upload, Writers,
};
use server::{ScratchPostgres, ServerProcess};

const MIB: u64 = 1024 * 1024;

const SAVE: &str = "mutation($input: CanvasSnapshotInput!, $expectedVersion: Int) {
    saveCanvas(input: $input, expectedVersion: $expectedVersion) { id version } }";
const APPLY: &str = "mutation($id: ID!, $changes: CanvasChangesInput!, $expectedVersion: Int) {
    applyCanvasChanges(canvasId: $id, changes: $changes, expectedVersion: $expectedVersion) {
        id version } }";
const DELETE: &str = "mutation($id: ID!) { deleteCanvas(id: $id) }";
const VERSION: &str = "query($id: ID!) { canvas(id: $id) { version } }";
const UPDATED: &str =
    "query($id: ID!) { canvas(id: $id) { nodes { id updatedAt } edges { id updatedAt } } }";
const LIST: &str = "query($first: Int) { canvases(first: $first) { nodes { id name nodeCount edgeCount updatedAt } } }";
const CREATE_UPLOAD: &str = "mutation($input: CreateAssetUploadInput!) {
    createAssetUpload(input: $input) { asset { id } uploadUrl method headers { name value } } }";

/// What the environment asks for; every default is the issue's size.
#[derive(Debug, Clone)]
struct Settings {
    sqlite: bool,
    postgres_url: Option<String>,
    phases: Vec<String>,
    nodes: usize,
    edges: usize,
    load_runs: usize,
    save_runs: usize,
    incremental_runs: usize,
    list_runs: usize,
    canvases: usize,
    list_nodes: usize,
    list_edges: usize,
    seconds: u64,
    connections: usize,
    throughput_nodes: usize,
    writers: usize,
    writers_seconds: u64,
    writers_interval_ms: u64,
    writer_nodes: usize,
    writers_baseline_saves: usize,
    upload_mib: u64,
    server_log: String,
    server_wrapper: Option<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a valid value")),
        _ => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let phases: String = env_or("EASEL_BENCH_PHASES", "all".to_owned());
        Settings {
            sqlite: env_or("EASEL_BENCH_SQLITE", 1u8) != 0,
            postgres_url: std::env::var("EASEL_BENCH_POSTGRES_URL")
                .ok()
                .filter(|u| !u.is_empty()),
            phases: phases.split(',').map(|p| p.trim().to_owned()).collect(),
            nodes: env_or("EASEL_BENCH_NODES", 10_000),
            edges: env_or("EASEL_BENCH_EDGES", 10_000),
            load_runs: env_or("EASEL_BENCH_LOAD_RUNS", 10),
            save_runs: env_or("EASEL_BENCH_SAVE_RUNS", 5),
            incremental_runs: env_or("EASEL_BENCH_INCREMENTAL_RUNS", 5),
            list_runs: env_or("EASEL_BENCH_LIST_RUNS", 20),
            canvases: env_or("EASEL_BENCH_CANVASES", 10_000),
            list_nodes: env_or("EASEL_BENCH_LIST_NODES", 3),
            list_edges: env_or("EASEL_BENCH_LIST_EDGES", 2),
            seconds: env_or("EASEL_BENCH_SECONDS", 10),
            connections: env_or("EASEL_BENCH_CONNECTIONS", 32),
            throughput_nodes: env_or("EASEL_BENCH_THROUGHPUT_NODES", 200),
            writers: env_or("EASEL_BENCH_WRITERS", 64),
            writers_seconds: env_or("EASEL_BENCH_WRITERS_SECONDS", 60),
            writers_interval_ms: env_or("EASEL_BENCH_WRITERS_INTERVAL_MS", 1000),
            writer_nodes: env_or("EASEL_BENCH_WRITER_NODES", 50),
            writers_baseline_saves: env_or("EASEL_BENCH_WRITERS_BASELINE_SAVES", 300),
            upload_mib: env_or("EASEL_BENCH_UPLOAD_MIB", 1024),
            server_log: env_or("EASEL_BENCH_SERVER_LOG", "info".to_owned()),
            server_wrapper: std::env::var("EASEL_BENCH_SERVER_WRAPPER")
                .ok()
                .filter(|w| !w.trim().is_empty()),
        }
    }

    fn wants(&self, phase: &str) -> bool {
        self.phases.iter().any(|p| p == "all" || p == phase)
    }

    fn as_json(&self) -> Value {
        json!({
            "sqlite": self.sqlite,
            "postgres": self.postgres_url.is_some(),
            "phases": self.phases,
            "nodes": self.nodes, "edges": self.edges,
            "load_runs": self.load_runs, "save_runs": self.save_runs,
            "incremental_runs": self.incremental_runs, "list_runs": self.list_runs,
            "canvases": self.canvases, "list_nodes": self.list_nodes, "list_edges": self.list_edges,
            "seconds": self.seconds, "connections": self.connections,
            "throughput_nodes": self.throughput_nodes,
            "writers": self.writers, "writers_seconds": self.writers_seconds,
            "writers_interval_ms": self.writers_interval_ms, "writer_nodes": self.writer_nodes,
            "writers_baseline_saves": self.writers_baseline_saves,
            "upload_mib": self.upload_mib, "server_log": self.server_log,
            "server_wrapper": self.server_wrapper,
        })
    }
}

fn main() {
    let settings = Settings::from_env();
    // As many threads as the machine has cores: the load generator shares them with the server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(settings));
}

async fn run(settings: Settings) {
    let machine = machine();
    eprintln!(
        "easel canvas benchmarks on {} CPUs ({}), commit {}",
        machine.cpus, machine.cpu_model, machine.commit
    );
    eprintln!("settings: {}", settings.as_json());
    let started = Instant::now();
    let mut backends = Vec::new();
    if settings.sqlite {
        backends.push(bench_backend("SQLite", &settings).await);
    }
    if settings.postgres_url.is_some() {
        backends.push(bench_backend("PostgreSQL", &settings).await);
    } else {
        eprintln!("note: EASEL_BENCH_POSTGRES_URL is not set; PostgreSQL is skipped");
    }
    let writers = if settings.wants("writers") {
        Some(bench_writers(&settings).await)
    } else {
        None
    };
    let summary = Summary {
        machine,
        settings: settings.as_json(),
        backends,
        writers,
    };
    println!("\n{}", report::table(&summary));
    let path = summary_path();
    std::fs::create_dir_all(path.parent().unwrap()).ok();
    std::fs::write(&path, serde_json::to_vec_pretty(&summary).unwrap()).unwrap();
    println!(
        "summary written to {} (the whole run took {:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
}

fn summary_path() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| manifest.join("target"), |t| manifest.join(t));
    target.join("bench-summary.json")
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let mut commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    if git(&["status", "--porcelain", "--untracked-files=no", "--", "src"])
        .is_some_and(|s| !s.is_empty())
    {
        commit.push_str(" with uncommitted changes in src/");
    }
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model,
        memory_gib: memory_kib / 1024.0 / 1024.0,
        commit,
    }
}

/// Where one database's server lives; dropping it stops the server.
struct Setup {
    server: ServerProcess,
    api: Api,
    floor: FloorDb,
    pg: Option<ScratchPostgres>,
    _dir: tempfile::TempDir,
}

async fn start(backend: &str, settings: &Settings) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = if backend == "SQLite" {
        (format!("sqlite://{}/easel.db", dir.path().display()), None)
    } else {
        let admin = settings.postgres_url.as_deref().unwrap();
        let pg = ScratchPostgres::create(admin).await;
        (pg.url.clone(), Some(pg))
    };
    let server = ServerProcess::start(
        &url,
        dir.path(),
        &settings.server_log,
        settings.server_wrapper.as_deref(),
    );
    let api = Api::new(server.url(""));
    api.wait_ready().await;
    eprintln!(
        "[{backend}] server pid {} at {} over {}",
        server.pid(),
        server.addr,
        easel::app::redact(&url)
    );
    let floor = FloorDb::connect(&url).await;
    Setup {
        server,
        api,
        floor,
        pg,
        _dir: dir,
    }
}

async fn stop(setup: Setup) {
    setup.floor.close().await;
    let server = setup.server;
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
    if let Some(pg) = setup.pg {
        pg.drop_database().await;
    }
}

/// Every figure of one database, against one server.
async fn bench_backend(backend: &str, settings: &Settings) -> BackendReport {
    let setup = start(backend, settings).await;
    let Setup {
        server, api, floor, ..
    } = &setup;
    let mut report = BackendReport::new(backend, settings.nodes, settings.edges);

    tokio::time::sleep(Duration::from_millis(500)).await;
    report.memory.idle_rss_kib = server.rss_kib();
    report.memory.idle_peak_kib = server.peak_kib();

    let canvas = fixture::canvas(settings.nodes, settings.edges, 1);
    report.average_node_data_bytes = canvas.average_node_data_bytes();
    let big = "big".to_owned();
    let needs_big = ["load", "incremental"].iter().any(|p| settings.wants(p));

    if settings.wants("save") {
        let rows = Rows::of(&canvas);
        let mut easel_runs = Vec::new();
        let mut floor_runs = Vec::new();
        server.reset_peak();
        for i in 0..settings.save_runs {
            let id = format!("full-{i}");
            let body = client::body(
                SAVE,
                json!({ "input": canvas.snapshot_input(&id, "Big canvas"), "expectedVersion": 0 }),
            );
            let (elapsed, _) = api.timed(body).await;
            easel_runs.push(elapsed);
            api.data(DELETE, json!({ "id": id })).await;

            let id = format!("floor-{i}");
            let started = Instant::now();
            floor.save(&id, &rows).await;
            floor_runs.push(started.elapsed());
            floor.delete_canvas(&id).await;
            eprintln!(
                "[{backend}] full save {}: Easel {:.0} ms, floor {:.0} ms",
                i + 1,
                ms(elapsed),
                ms(*floor_runs.last().unwrap())
            );
        }
        report.memory.full_save_peak_kib = Some(server.peak_kib());
        let goal = if backend == "SQLite" { 2.0 } else { 2.5 };
        let mut compared = Compared::new(ms(median(&easel_runs)), ms(median(&floor_runs)), goal);
        compared.easel_runs_ms = easel_runs.iter().copied().map(ms).collect();
        compared.floor_runs_ms = floor_runs.iter().copied().map(ms).collect();
        report.full_save = Some(compared);
    }
    if needs_big {
        let body = client::body(
            SAVE,
            json!({ "input": canvas.snapshot_input(&big, "Big canvas"), "expectedVersion": 0 }),
        );
        api.timed(body).await;
    }

    if settings.wants("load") {
        report.load = Some(bench_load(backend, &setup, &big, settings, &mut report.memory).await);
    }

    if settings.wants("incremental") {
        report.incremental = bench_incremental(backend, api, &big, &canvas, settings).await;
        if let Some(full) = &report.full_save {
            for inc in &mut report.incremental {
                let ratio = inc.ms / full.easel_ms;
                inc.ratio_to_full_save = Some(ratio);
                let exact = inc.node_rows_written.iter().all(|&n| n == 1)
                    && inc.edge_rows_written.iter().all(|&n| n == 0);
                inc.met = ratio <= inc.goal && exact;
            }
        }
    }

    if settings.wants("list") {
        let started = Instant::now();
        floor
            .insert_many_canvases(settings.canvases, settings.list_nodes, settings.list_edges)
            .await;
        eprintln!(
            "[{backend}] inserted {} canvases ({} nodes, {} edges each) in {:.1} s",
            settings.canvases,
            settings.list_nodes,
            settings.list_edges,
            started.elapsed().as_secs_f64()
        );
        let total = total_canvases(api).await;
        for first in [5, 50, 500] {
            report
                .list
                .push(bench_list(api, first, total, settings).await);
            let last = report.list.last().unwrap();
            eprintln!(
                "[{backend}] list first={first}: {:.2} ms, statements {:?}",
                last.ms, last.statements
            );
        }
        let all: Vec<u64> = report
            .list
            .iter()
            .flat_map(|l| l.statements.iter().copied())
            .collect();
        report.list_statements_constant = Some(all.windows(2).all(|w| w[0] == w[1]));
    }

    if settings.wants("throughput") {
        let small = fixture::canvas(settings.throughput_nodes, settings.throughput_nodes, 2);
        let id = "throughput";
        api.data(
            SAVE,
            json!({ "input": small.snapshot_input(id, "Throughput"), "expectedVersion": 0 }),
        )
        .await;
        let expected_nodes = settings.throughput_nodes;
        let load = client::body(&fixture::load_query(), json!({ "id": id }));
        let result = throughput(
            &format!("canvas(id) of {expected_nodes} nodes"),
            &api.base,
            load,
            settings,
            move |status, body| check_count(status, body, expected_nodes, canvas_nodes),
        )
        .await;
        eprintln!("[{backend}] {result:?}");
        report.throughput.push(result);

        let expected_canvases = 50.min(total_canvases(api).await);
        let list = client::body(LIST, json!({ "first": 50 }));
        let result = throughput(
            "canvases(first: 50)",
            &api.base,
            list,
            settings,
            move |status, body| check_count(status, body, expected_canvases, listed_canvases),
        )
        .await;
        eprintln!("[{backend}] {result:?}");
        report.throughput.push(result);
    }

    stop(setup).await;

    if settings.wants("upload") {
        // On a server of its own: after the other phases its heap holds hundreds of MiB that an
        // upload could reuse without its resident size growing.
        let setup = start(backend, settings).await;
        report.memory.upload =
            Some(bench_upload(backend, &setup.server, &setup.api, settings).await);
        stop(setup).await;
    }
    report
}

/// Loads of the big canvas through GraphQL and through the floor, interleaved.
async fn bench_load(
    backend: &str,
    setup: &Setup,
    id: &str,
    settings: &Settings,
    memory: &mut report::Memory,
) -> Compared {
    let Setup {
        server, api, floor, ..
    } = setup;
    let body = client::body(&fixture::load_query(), json!({ "id": id }));

    // One of each first, untimed: warms both and checks they answer the same document.
    let (_, answer) = api.timed(body.clone()).await;
    let document = floor.load(id).await;
    let graphql: Value = serde_json::from_slice(&answer).unwrap();
    let floor_value: Value = serde_json::from_slice(&document).unwrap();
    let nodes = graphql["data"]["canvas"]["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(nodes, settings.nodes, "the load answered {nodes} nodes");
    let same = graphql == floor_value;
    if !same {
        report_first_difference(&graphql, &floor_value);
    }

    let mut easel_runs = Vec::new();
    let mut floor_runs = Vec::new();
    server.reset_peak();
    for _ in 0..settings.load_runs {
        let (elapsed, _) = api.timed(body.clone()).await;
        easel_runs.push(elapsed);
        let started = Instant::now();
        let document = floor.load(id).await;
        floor_runs.push(started.elapsed());
        drop(document);
    }
    memory.load_peak_kib = Some(server.peak_kib());
    let mut compared = Compared::new(ms(median(&easel_runs)), ms(median(&floor_runs)), 1.5);
    compared.easel_runs_ms = easel_runs.iter().copied().map(ms).collect();
    compared.floor_runs_ms = floor_runs.iter().copied().map(ms).collect();
    compared.easel_bytes = Some(answer.len());
    compared.floor_bytes = Some(document.len());
    compared.same_document = Some(same);
    eprintln!(
        "[{backend}] load: Easel {:.1} ms, floor {:.1} ms (runs: {:?} / {:?})",
        compared.easel_ms, compared.floor_ms, compared.easel_runs_ms, compared.floor_runs_ms
    );
    compared
}

fn report_first_difference(graphql: &Value, floor: &Value) {
    for list in ["nodes", "edges"] {
        let a = graphql["data"]["canvas"][list].as_array();
        let b = floor["data"]["canvas"][list].as_array();
        let (Some(a), Some(b)) = (a, b) else {
            eprintln!("warning: the floor's document has no {list} list");
            return;
        };
        if a.len() != b.len() {
            eprintln!(
                "warning: {} {list} from GraphQL, {} from the floor",
                a.len(),
                b.len()
            );
        }
        if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| x != y) {
            eprintln!(
                "warning: the floor's document differs from the GraphQL answer; first \
                 different {list}:\n  GraphQL: {x}\n  floor:   {y}"
            );
            return;
        }
    }
}

/// `updatedAt` of every node and edge of a canvas, read through GraphQL.
async fn updated_at(api: &Api, id: &str) -> (HashMap<String, String>, HashMap<String, String>) {
    let data = api.data(UPDATED, json!({ "id": id })).await;
    let map = |list: &str| {
        data["canvas"][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["id"].as_str().unwrap().to_owned(),
                    n["updatedAt"].as_str().unwrap().to_owned(),
                )
            })
            .collect::<HashMap<_, _>>()
    };
    (map("nodes"), map("edges"))
}

fn changed(before: &HashMap<String, String>, after: &HashMap<String, String>) -> usize {
    after
        .iter()
        .filter(|(id, at)| before.get(*id) != Some(*at))
        .count()
}

/// Moves one node of the big canvas at a time, via `applyCanvasChanges` and via `saveCanvas` of
/// the whole snapshot; time and rows written of each.
async fn bench_incremental(
    backend: &str,
    api: &Api,
    id: &str,
    canvas: &fixture::Canvas,
    settings: &Settings,
) -> Vec<Incremental> {
    let mut canvas = canvas.clone();
    let mut version = api.data(VERSION, json!({ "id": id })).await["canvas"]["version"]
        .as_i64()
        .unwrap();
    let mut apply = Incremental {
        how: "applyCanvasChanges".into(),
        ms: 0.0,
        runs_ms: Vec::new(),
        node_rows_written: Vec::new(),
        edge_rows_written: Vec::new(),
        ratio_to_full_save: None,
        goal: 0.02,
        met: false,
    };
    let mut save = Incremental {
        how: "saveCanvas".into(),
        ..apply.clone()
    };
    for run in 0..settings.incremental_runs {
        for (how, figure) in [("apply", &mut apply), ("save", &mut save)] {
            let index = canvas.movable_node(2 * run + usize::from(how == "save"));
            canvas.nodes[index].x += 25.0;
            canvas.nodes[index].y -= 10.0;
            let body = if how == "apply" {
                client::body(
                    APPLY,
                    json!({
                        "id": id,
                        "expectedVersion": version,
                        "changes": { "upsertNodes": [canvas.nodes[index].input()] },
                    }),
                )
            } else {
                client::body(
                    SAVE,
                    json!({
                        "input": canvas.snapshot_input(id, "Big canvas"),
                        "expectedVersion": version,
                    }),
                )
            };
            let (nodes_before, edges_before) = updated_at(api, id).await;
            let (elapsed, answer) = api.timed(body).await;
            let answer: Value = serde_json::from_slice(&answer).unwrap();
            let field = if how == "apply" {
                "applyCanvasChanges"
            } else {
                "saveCanvas"
            };
            version = answer["data"][field]["version"].as_i64().unwrap();
            let (nodes_after, edges_after) = updated_at(api, id).await;
            figure.runs_ms.push(ms(elapsed));
            figure
                .node_rows_written
                .push(changed(&nodes_before, &nodes_after));
            figure
                .edge_rows_written
                .push(changed(&edges_before, &edges_after));
        }
    }
    for figure in [&mut apply, &mut save] {
        let runs: Vec<Duration> = figure
            .runs_ms
            .iter()
            .map(|&m| Duration::from_secs_f64(m / 1000.0))
            .collect();
        figure.ms = ms(median(&runs));
        eprintln!(
            "[{backend}] move one node via {}: {:.1} ms (runs {:?}), nodes written {:?}, edges \
             written {:?}",
            figure.how,
            figure.ms,
            figure.runs_ms,
            figure.node_rows_written,
            figure.edge_rows_written
        );
    }
    vec![apply, save]
}

/// How many canvases the local user has.
async fn total_canvases(api: &Api) -> usize {
    let data = api
        .data("{ canvases(first: 1) { totalCount } }", json!({}))
        .await;
    data["canvases"]["totalCount"].as_u64().unwrap() as usize
}

/// One page size of the list: time and the statements each request ran.
async fn bench_list(api: &Api, first: usize, total: usize, settings: &Settings) -> ListFigure {
    let body = client::body(LIST, json!({ "first": first }));
    api.timed(body.clone()).await;
    let mut runs = Vec::new();
    let mut statements = Vec::new();
    for _ in 0..settings.list_runs {
        let before = api.statements().await;
        let (elapsed, answer) = api.timed(body.clone()).await;
        let after = api.statements().await;
        runs.push(elapsed);
        statements.push(after - before);
        let shown = listed_canvases(&answer).unwrap_or(0);
        assert_eq!(shown, first.min(total), "page of {first}");
    }
    ListFigure {
        first,
        canvases: settings.canvases,
        ms: ms(median(&runs)),
        statements,
    }
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct CanvasData {
    canvas: NodeList,
}

#[derive(Deserialize)]
struct ListData {
    canvases: NodeList,
}

#[derive(Deserialize)]
struct NodeList {
    nodes: Vec<IgnoredAny>,
}

/// The number of nodes of a `canvas(id)` answer, without building a tree.
fn canvas_nodes(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<Data<CanvasData>>(body)
        .ok()
        .map(|d| d.data.canvas.nodes.len())
}

/// The number of canvases of a `canvases` answer.
fn listed_canvases(body: &[u8]) -> Option<usize> {
    serde_json::from_slice::<Data<ListData>>(body)
        .ok()
        .map(|d| d.data.canvases.nodes.len())
}

/// A success with exactly `expected` items, or why not.
fn check_count(
    status: StatusCode,
    body: &[u8],
    expected: usize,
    count: fn(&[u8]) -> Option<usize>,
) -> Result<(), String> {
    client::check(status, body)?;
    match count(body) {
        Some(n) if n == expected => Ok(()),
        Some(n) => Err(format!("{n} items instead of {expected}")),
        None => Err("the answer has not the expected shape".into()),
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap()
}

fn us(d: Duration) -> u64 {
    d.as_micros().max(1) as u64
}

fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// `connections` clients, each on its own connection, sending `body` back to back for the
/// configured time (after one warm-up second); every answer is checked.
async fn throughput(
    name: &str,
    base: &str,
    body: Bytes,
    settings: &Settings,
    verify: impl Fn(StatusCode, &[u8]) -> Result<(), String> + Clone + Send + Sync + 'static,
) -> Throughput {
    let apis: Vec<Api> = (0..settings.connections)
        .map(|_| Api::new(base.to_owned()))
        .collect();
    let mut result = None;
    for duration in [
        Duration::from_secs(1),
        Duration::from_secs(settings.seconds),
    ] {
        let started = Instant::now();
        let deadline = started + duration;
        let tasks: Vec<_> = apis
            .iter()
            .cloned()
            .map(|api| {
                let body = body.clone();
                let verify = verify.clone();
                tokio::spawn(async move {
                    let mut latencies = histogram();
                    let (mut ok, mut failed) = (0u64, 0u64);
                    let mut failures = Vec::new();
                    while Instant::now() < deadline {
                        let sent = Instant::now();
                        let answer = api.post(body.clone()).await;
                        let elapsed = sent.elapsed();
                        match answer.and_then(|(status, bytes)| verify(status, &bytes)) {
                            Ok(()) => {
                                ok += 1;
                                latencies.record(us(elapsed)).ok();
                            }
                            Err(e) => {
                                failed += 1;
                                if failures.len() < 3 {
                                    failures.push(e);
                                }
                            }
                        }
                    }
                    (latencies, ok, failed, failures)
                })
            })
            .collect();
        let mut latencies = histogram();
        let (mut ok, mut failed) = (0, 0);
        let mut failures = Vec::new();
        for task in tasks {
            let (h, o, f, e) = task.await.unwrap();
            latencies.add(&h).unwrap();
            ok += o;
            failed += f;
            failures.extend(e);
        }
        let seconds = started.elapsed().as_secs_f64();
        failures.truncate(5);
        result = Some(Throughput {
            name: name.to_owned(),
            connections: settings.connections,
            seconds,
            ok,
            failures: failed,
            first_failures: failures,
            requests_per_second: ok as f64 / seconds,
            p50_ms: quantile_ms(&latencies, 0.5),
            p99_ms: quantile_ms(&latencies, 0.99),
            max_ms: latencies.max() as f64 / 1000.0,
        });
    }
    result.unwrap()
}

/// One MiB of deterministic, incompressible bytes: chunk `index` of a generated stream.
fn generated_chunk(index: u64) -> Bytes {
    let mut rng = fixture::Rng::new(index + 1);
    let mut chunk = Vec::with_capacity(MIB as usize);
    while chunk.len() < MIB as usize {
        chunk.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    Bytes::from(chunk)
}

/// A large upload streamed from a generator through `PUT /uploads/{token}`; the growth of the
/// server's peak resident memory over what it held just before.
async fn bench_upload(
    backend: &str,
    server: &ServerProcess,
    api: &Api,
    settings: &Settings,
) -> Upload {
    let size = settings.upload_mib * MIB;
    let upload = api
        .data(
            CREATE_UPLOAD,
            json!({ "input": {
                "kind": "FILE",
                "mimeType": "application/octet-stream",
                "filename": "big.bin",
                "sizeBytes": size,
            } }),
        )
        .await["createAssetUpload"]
        .clone();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.reset_peak();
    let before = server.rss_kib();
    let method =
        reqwest::Method::from_bytes(upload["method"].as_str().unwrap().as_bytes()).unwrap();
    let mut request = api
        .client
        .request(method, upload["uploadUrl"].as_str().unwrap())
        .header(reqwest::header::CONTENT_LENGTH, size);
    for header in upload["headers"].as_array().unwrap() {
        request = request.header(
            header["name"].as_str().unwrap(),
            header["value"].as_str().unwrap(),
        );
    }
    let chunks = settings.upload_mib;
    let body = futures::stream::iter(0..chunks)
        .map(|index| Ok::<_, std::io::Error>(generated_chunk(index)));
    let started = Instant::now();
    let response = request
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer = response.text().await.unwrap_or_default();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(status, StatusCode::OK, "upload answered {answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["sizeBytes"], json!(size), "upload answered {answer}");
    let peak = server.peak_kib();
    let growth = peak.saturating_sub(before);
    eprintln!(
        "[{backend}] upload of {} MiB in {seconds:.1} s: RSS {before} KiB before, peak {peak} KiB \
         (+{growth} KiB)",
        settings.upload_mib
    );
    Upload {
        bytes: size,
        rss_before_kib: before,
        peak_kib: peak,
        growth_kib: growth,
        goal_growth_kib: 32 * 1024,
        met: growth < 32 * 1024,
        seconds,
        mib_per_second: settings.upload_mib as f64 / seconds,
    }
}

/// Saves `canvas` over `id` with `version` expected; the new version or why not.
async fn autosave(
    api: &Api,
    id: &str,
    canvas: &fixture::Canvas,
    version: i64,
) -> (Duration, Result<i64, String>) {
    let body = client::body(
        SAVE,
        json!({ "input": canvas.snapshot_input(id, id), "expectedVersion": version }),
    );
    let sent = Instant::now();
    let answer = api.post(body).await;
    let elapsed = sent.elapsed();
    let result = answer.and_then(|(status, bytes)| {
        client::check(status, &bytes)?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        value["data"]["saveCanvas"]["version"]
            .as_i64()
            .ok_or_else(|| format!("no version in {value}"))
    });
    (elapsed, result)
}

/// Many clients autosaving their own canvases on one SQLite server, against the same save made
/// by one client alone.
async fn bench_writers(settings: &Settings) -> Writers {
    let setup = start("SQLite", settings).await;
    let api = &setup.api;
    let mut canvases = Vec::new();
    for w in 0..settings.writers {
        let canvas = fixture::canvas(settings.writer_nodes, settings.writer_nodes, 100 + w as u64);
        let id = format!("writer-{w}");
        let data = api
            .data(
                SAVE,
                json!({ "input": canvas.snapshot_input(&id, &id), "expectedVersion": 0 }),
            )
            .await;
        let version = data["saveCanvas"]["version"].as_i64().unwrap();
        canvases.push((id, canvas, version));
    }

    // Uncontended: one client, the same saves back to back.
    let mut alone = histogram();
    {
        let (id, canvas, version) = &mut canvases[0];
        for k in 0..settings.writers_baseline_saves {
            let index = canvas.movable_node(k);
            canvas.nodes[index].x += 5.0;
            let (elapsed, result) = autosave(api, id, canvas, *version).await;
            *version = result.unwrap_or_else(|e| panic!("uncontended save failed: {e}"));
            alone.record(us(elapsed)).ok();
        }
    }
    eprintln!(
        "[writers] uncontended: p50 {:.2} ms, p99 {:.2} ms",
        quantile_ms(&alone, 0.5),
        quantile_ms(&alone, 0.99)
    );

    let interval = Duration::from_millis(settings.writers_interval_ms);
    let duration = Duration::from_secs(settings.writers_seconds);
    let started = Instant::now();
    let deadline = started + duration;
    let count = canvases.len();
    let tasks: Vec<_> = canvases
        .into_iter()
        .enumerate()
        .map(|(w, (id, mut canvas, mut version))| {
            let api = Api::new(api.base.clone());
            tokio::spawn(async move {
                let mut latencies = histogram();
                let (mut saves, mut errors) = (0u64, 0u64);
                let mut first_errors = Vec::new();
                // Clients start spread over the first interval, as editors opened at random.
                let mut next = started + interval.mul_f64(w as f64 / count as f64);
                let mut k = 0;
                while next < deadline {
                    tokio::time::sleep_until(next.into()).await;
                    let index = canvas.movable_node(k);
                    canvas.nodes[index].x += 5.0;
                    let (elapsed, result) = autosave(&api, &id, &canvas, version).await;
                    match result {
                        Ok(v) => {
                            version = v;
                            saves += 1;
                            latencies.record(us(elapsed)).ok();
                        }
                        Err(e) => {
                            errors += 1;
                            if first_errors.len() < 3 {
                                first_errors.push(e);
                            }
                            // Pick up the stored version so that one error does not repeat.
                            if let Ok(data) = api
                                .post(client::body(VERSION, json!({ "id": id })))
                                .await
                                .and_then(|(_, b)| {
                                    serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string())
                                })
                                && let Some(v) = data["data"]["canvas"]["version"].as_i64()
                            {
                                version = v;
                            }
                        }
                    }
                    k += 1;
                    next += interval;
                    let now = Instant::now();
                    if next < now {
                        next = now;
                    }
                }
                (latencies, saves, errors, first_errors)
            })
        })
        .collect();
    let mut latencies = histogram();
    let (mut saves, mut errors) = (0, 0);
    let mut first_errors = Vec::new();
    for task in tasks {
        let (h, s, e, f) = task.await.unwrap();
        latencies.add(&h).unwrap();
        saves += s;
        errors += e;
        first_errors.extend(f);
    }
    first_errors.truncate(5);
    let seconds = started.elapsed().as_secs_f64();
    stop(setup).await;
    let p99_ratio = quantile_ms(&latencies, 0.99) / quantile_ms(&alone, 0.99);
    let writers = Writers {
        writers: settings.writers,
        nodes_per_canvas: settings.writer_nodes,
        interval_ms: settings.writers_interval_ms,
        seconds,
        saves,
        errors,
        first_errors,
        p50_ms: quantile_ms(&latencies, 0.5),
        p99_ms: quantile_ms(&latencies, 0.99),
        max_ms: latencies.max() as f64 / 1000.0,
        uncontended_saves: alone.len(),
        uncontended_p50_ms: quantile_ms(&alone, 0.5),
        uncontended_p99_ms: quantile_ms(&alone, 0.99),
        p99_ratio,
        goal: 5.0,
        met: errors == 0 && p99_ratio <= 5.0,
    };
    eprintln!("[writers] {writers:?}");
    writers
}
