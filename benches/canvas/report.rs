//! What a run measured: the figures of each database, the table printed at the end, and the JSON
//! summary written to `target/bench-summary.json`.

use serde::Serialize;

/// Easel beside its floor.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    /// Median, in milliseconds.
    pub easel_ms: f64,
    pub floor_ms: f64,
    /// `easel_ms / floor_ms`.
    pub ratio: f64,
    pub goal: f64,
    pub met: bool,
    pub easel_runs_ms: Vec<f64>,
    pub floor_runs_ms: Vec<f64>,
    /// Bytes of the GraphQL answer and of the floor's document (loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub easel_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_bytes: Option<usize>,
    /// Whether both documents parse to the same JSON (loads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_document: Option<bool>,
}

impl Compared {
    pub fn new(easel_ms: f64, floor_ms: f64, goal: f64) -> Compared {
        let ratio = easel_ms / floor_ms;
        Compared {
            easel_ms,
            floor_ms,
            ratio,
            goal,
            met: ratio <= goal,
            easel_runs_ms: Vec::new(),
            floor_runs_ms: Vec::new(),
            easel_bytes: None,
            floor_bytes: None,
            same_document: None,
        }
    }
}

/// One node moved, one way.
#[derive(Debug, Clone, Serialize)]
pub struct Incremental {
    pub how: String,
    /// Median, in milliseconds.
    pub ms: f64,
    pub runs_ms: Vec<f64>,
    /// Per run: node and edge rows whose `updatedAt` changed.
    pub node_rows_written: Vec<usize>,
    pub edge_rows_written: Vec<usize>,
    /// `ms` ÷ the full save's median.
    pub ratio_to_full_save: Option<f64>,
    pub goal: f64,
    pub met: bool,
}

/// One page size of the list.
#[derive(Debug, Clone, Serialize)]
pub struct ListFigure {
    pub first: usize,
    pub canvases: usize,
    /// Median, in milliseconds.
    pub ms: f64,
    /// SQL statements of each request.
    pub statements: Vec<u64>,
}

/// A fixed-duration run of many connections.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub name: String,
    pub connections: usize,
    pub seconds: f64,
    pub ok: u64,
    pub failures: u64,
    pub first_failures: Vec<String>,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Resident memory of the server process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// After start and migration, before any benchmark: resident now and the peak so far.
    pub idle_rss_kib: u64,
    pub idle_peak_kib: u64,
    /// Peak during the full saves and during the loads (each phase's peak measured alone).
    pub full_save_peak_kib: Option<u64>,
    pub load_peak_kib: Option<u64>,
    pub upload: Option<Upload>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub bytes: u64,
    pub rss_before_kib: u64,
    pub peak_kib: u64,
    pub growth_kib: u64,
    pub goal_growth_kib: u64,
    pub met: bool,
    pub seconds: f64,
    pub mib_per_second: f64,
}

/// Everything measured on one database.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    pub backend: String,
    pub nodes: usize,
    pub edges: usize,
    pub average_node_data_bytes: usize,
    pub load: Option<Compared>,
    pub full_save: Option<Compared>,
    pub incremental: Vec<Incremental>,
    pub list: Vec<ListFigure>,
    /// Whether every list request ran the same number of statements at every page size.
    pub list_statements_constant: Option<bool>,
    pub throughput: Vec<Throughput>,
    pub memory: Memory,
}

impl BackendReport {
    pub fn new(backend: &str, nodes: usize, edges: usize) -> BackendReport {
        BackendReport {
            backend: backend.to_owned(),
            nodes,
            edges,
            average_node_data_bytes: 0,
            load: None,
            full_save: None,
            incremental: Vec::new(),
            list: Vec::new(),
            list_statements_constant: None,
            throughput: Vec::new(),
            memory: Memory::default(),
        }
    }
}

/// Many autosaving clients at once on SQLite.
#[derive(Debug, Clone, Serialize)]
pub struct Writers {
    pub writers: usize,
    pub nodes_per_canvas: usize,
    /// Between two saves of one client; 0: as fast as possible.
    pub interval_ms: u64,
    pub seconds: f64,
    pub saves: u64,
    pub errors: u64,
    pub first_errors: Vec<String>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub uncontended_saves: u64,
    pub uncontended_p50_ms: f64,
    pub uncontended_p99_ms: f64,
    /// Contended p99 ÷ uncontended p99.
    pub p99_ratio: f64,
    pub goal: f64,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub machine: Machine,
    pub settings: serde_json::Value,
    pub backends: Vec<BackendReport>,
    pub writers: Option<Writers>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub commit: String,
}

fn mark(met: bool) -> &'static str {
    if met { "✓" } else { "✗" }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// The table of figures, one column per database, as Markdown.
pub fn table(summary: &Summary) -> String {
    let backends = &summary.backends;
    let mut rows: Vec<(String, Vec<String>, String)> = Vec::new();
    let mut row = |figure: String, cell: &dyn Fn(&BackendReport) -> Option<String>, goal: &str| {
        let cells: Vec<String> = backends
            .iter()
            .map(|b| cell(b).unwrap_or_else(|| "–".to_owned()))
            .collect();
        if cells.iter().any(|c| c != "–") {
            rows.push((figure, cells, goal.to_owned()));
        }
    };
    let size = backends
        .first()
        .map(|b| format!("{}+{}", b.nodes, b.edges))
        .unwrap_or_default();

    row(
        format!("load {size}: Easel, GraphQL over HTTP (median)"),
        &|b| b.load.as_ref().map(|c| fmt_ms(c.easel_ms)),
        "",
    );
    row(
        "load: floor, sqlx + serde_json".into(),
        &|b| b.load.as_ref().map(|c| fmt_ms(c.floor_ms)),
        "",
    );
    row(
        "load: Easel ÷ floor".into(),
        &|b| {
            b.load
                .as_ref()
                .map(|c| format!("**{:.2}** {}", c.ratio, mark(c.met)))
        },
        "≤ 1.5",
    );
    row(
        "load: answer size (same JSON as the floor's?)".into(),
        &|b| {
            b.load.as_ref().map(|c| {
                format!(
                    "{:.1} MB ({})",
                    c.easel_bytes.unwrap_or(0) as f64 / 1e6,
                    if c.same_document == Some(true) {
                        "same"
                    } else {
                        "DIFFERENT"
                    }
                )
            })
        },
        "",
    );
    row(
        format!("full save {size}: Easel, saveCanvas (median)"),
        &|b| b.full_save.as_ref().map(|c| fmt_ms(c.easel_ms)),
        "",
    );
    row(
        "full save: floor, multi-row INSERT (PG: UNNEST)".into(),
        &|b| b.full_save.as_ref().map(|c| fmt_ms(c.floor_ms)),
        "",
    );
    row(
        "full save: Easel ÷ floor".into(),
        &|b| {
            b.full_save
                .as_ref()
                .map(|c| format!("**{:.2}** {}", c.ratio, mark(c.met)))
        },
        "≤ 2 SQLite, ≤ 2.5 PG",
    );
    for (i, how) in ["applyCanvasChanges", "saveCanvas (snapshot)"]
        .iter()
        .enumerate()
    {
        row(
            format!("move 1 node via {how}: time (median)"),
            &|b| b.incremental.get(i).map(|inc| fmt_ms(inc.ms)),
            "",
        );
        row(
            format!("move 1 node via {how}: rows written (nodes / edges)"),
            &|b| {
                b.incremental.get(i).map(|inc| {
                    let nodes = spread(&inc.node_rows_written);
                    let edges = spread(&inc.edge_rows_written);
                    let exact = inc.node_rows_written.iter().all(|&n| n == 1)
                        && inc.edge_rows_written.iter().all(|&n| n == 0);
                    format!("{nodes} / {edges} {}", mark(exact))
                })
            },
            "exactly 1 node",
        );
        row(
            format!("move 1 node via {how}: ÷ full save"),
            &|b| {
                b.incremental.get(i).and_then(|inc| {
                    inc.ratio_to_full_save
                        .map(|r| format!("**{r:.4}** {}", mark(inc.met)))
                })
            },
            "≤ 0.02",
        );
    }
    for i in 0..3 {
        row(
            format!(
                "list first={}: time (median) / statements",
                backends
                    .first()
                    .and_then(|b| b.list.get(i))
                    .map_or(0, |l| l.first)
            ),
            &|b| {
                b.list
                    .get(i)
                    .map(|l| format!("{} / {}", fmt_ms(l.ms), spread_u64(&l.statements)))
            },
            "",
        );
    }
    row(
        "list: same statement count at 5, 50, 500".into(),
        &|b| {
            b.list_statements_constant
                .map(|same| format!("{} {}", if same { "yes" } else { "no" }, mark(same)))
        },
        "same count",
    );
    for i in 0..2 {
        let name = backends
            .first()
            .and_then(|b| b.throughput.get(i))
            .map_or(String::new(), |t| t.name.clone());
        row(
            format!("throughput {name}: requests/s"),
            &|b| {
                b.throughput
                    .get(i)
                    .map(|t| format!("{:.0}", t.requests_per_second))
            },
            "",
        );
        row(
            format!("throughput {name}: p50 / p99"),
            &|b| {
                b.throughput
                    .get(i)
                    .map(|t| format!("{} / {}", fmt_ms(t.p50_ms), fmt_ms(t.p99_ms)))
            },
            "",
        );
        row(
            format!("throughput {name}: failed responses"),
            &|b| {
                b.throughput
                    .get(i)
                    .map(|t| format!("{} of {}", t.failures, t.ok + t.failures))
            },
            "0",
        );
    }
    row(
        "server RSS idle (peak after start)".into(),
        &|b| {
            Some(format!(
                "{} ({})",
                mib(b.memory.idle_rss_kib),
                mib(b.memory.idle_peak_kib)
            ))
        },
        "",
    );
    row(
        "server peak RSS during full saves".into(),
        &|b| b.memory.full_save_peak_kib.map(mib),
        "",
    );
    row(
        "server peak RSS during loads".into(),
        &|b| b.memory.load_peak_kib.map(mib),
        "",
    );
    row(
        "upload through /uploads/{token}: growth of peak RSS".into(),
        &|b| {
            b.memory.upload.as_ref().map(|u| {
                format!(
                    "{} of {:.0} MiB at {:.0} MiB/s {}",
                    mib(u.growth_kib),
                    u.bytes as f64 / 1048576.0,
                    u.mib_per_second,
                    mark(u.met)
                )
            })
        },
        "< 32 MiB",
    );

    let mut out = String::new();
    out.push_str("| figure |");
    for b in backends {
        out.push_str(&format!(" {} |", b.backend));
    }
    out.push_str(" goal |\n|---|");
    for _ in backends {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for (figure, cells, goal) in rows {
        out.push_str(&format!("| {figure} |"));
        for cell in cells {
            out.push_str(&format!(" {cell} |"));
        }
        out.push_str(&format!(" {goal} |\n"));
    }

    if let Some(w) = &summary.writers {
        out.push_str(&format!(
            "\n| writers on SQLite: {} clients, {} nodes each, {} for {:.0} s | value | goal |\n\
             |---|---|---|\n\
             | saves answered | {} | |\n\
             | errors seen by clients | {} {} | 0 |\n\
             | contended p50 / p99 / max | {} / {} / {} | |\n\
             | uncontended p50 / p99 ({} saves, one client) | {} / {} | |\n\
             | contended p99 ÷ uncontended p99 | **{:.2}** {} | ≤ 5 |\n",
            w.writers,
            w.nodes_per_canvas,
            if w.interval_ms == 0 {
                "as fast as possible".to_owned()
            } else {
                format!("a save every {} ms", w.interval_ms)
            },
            w.seconds,
            w.saves,
            w.errors,
            mark(w.errors == 0),
            fmt_ms(w.p50_ms),
            fmt_ms(w.p99_ms),
            fmt_ms(w.max_ms),
            w.uncontended_saves,
            fmt_ms(w.uncontended_p50_ms),
            fmt_ms(w.uncontended_p99_ms),
            w.p99_ratio,
            mark(w.p99_ratio <= w.goal),
        ));
    }
    out
}

/// `1` when every run gave 1, `1–3` otherwise.
fn spread(values: &[usize]) -> String {
    let min = values.iter().min().copied().unwrap_or(0);
    let max = values.iter().max().copied().unwrap_or(0);
    if min == max {
        format!("{min}")
    } else {
        format!("{min}–{max}")
    }
}

fn spread_u64(values: &[u64]) -> String {
    let as_usize: Vec<usize> = values.iter().map(|&v| v as usize).collect();
    spread(&as_usize)
}
