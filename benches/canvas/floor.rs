//! The floors: what the database and serde_json can physically do with the same rows, with no
//! ORM, no GraphQL and no HTTP. Reading is one plain query per table (nodes, edges) with sqlx,
//! serialized by serde_json into the same JSON document the GraphQL answer is. Writing is plain
//! multi-row `INSERT`s sized to the bind-parameter limit in one transaction on SQLite, and one
//! `INSERT ... SELECT FROM UNNEST(arrays)` per table on PostgreSQL.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ColumnIndex, Decode, QueryBuilder, Row, Sqlite, Type};

use crate::fixture::{self, Canvas};

/// SQLite's and PostgreSQL's most bind parameters per statement (as Easel uses them).
const SQLITE_MAX_BINDS: usize = 32_766;
const POSTGRES_MAX_BINDS: usize = 65_535;

/// A direct connection pool to the benchmark's database.
pub enum FloorDb {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A node row as it goes into `canvas_nodes`, prepared before the clock starts.
pub struct NodeRow {
    pub id: String,
    pub node_type: String,
    pub x: f64,
    pub y: f64,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub z_index: i32,
    pub parent_id: Option<String>,
    pub data: String,
    pub attrs: Option<String>,
    pub sort_position: i64,
}

/// An edge row as it goes into `canvas_edges`.
pub struct EdgeRow {
    pub id: String,
    pub source: String,
    pub source_handle: Option<String>,
    pub target: String,
    pub target_handle: Option<String>,
    pub edge_type: String,
    pub data: Option<String>,
    pub attrs: Option<String>,
    pub sort_position: i64,
}

/// A canvas's rows, JSON already serialized.
pub struct Rows {
    pub nodes: Vec<NodeRow>,
    pub edges: Vec<EdgeRow>,
}

impl Rows {
    pub fn of(canvas: &Canvas) -> Rows {
        Rows {
            nodes: canvas
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| NodeRow {
                    id: n.id.clone(),
                    node_type: n.node_type.clone(),
                    x: n.x,
                    y: n.y,
                    width: n.width,
                    height: n.height,
                    z_index: n.z_index,
                    parent_id: n.parent_id.clone(),
                    data: n.data.to_string(),
                    attrs: fixture::attrs_json(&n.attrs),
                    sort_position: (i as i64 + 1) * 1024,
                })
                .collect(),
            edges: canvas
                .edges
                .iter()
                .enumerate()
                .map(|(i, e)| EdgeRow {
                    id: e.id.clone(),
                    source: e.source.clone(),
                    source_handle: e.source_handle.clone(),
                    target: e.target.clone(),
                    target_handle: e.target_handle.clone(),
                    edge_type: e.edge_type.clone(),
                    data: e.data.as_ref().map(|d| d.to_string()),
                    attrs: fixture::attrs_json(&e.attrs),
                    sort_position: (i as i64 + 1) * 1024,
                })
                .collect(),
        }
    }
}

const NODE_COLUMNS: &str = "canvas_id, id, type, position_x, position_y, width, height, z_index, \
    parent_id, data, attrs, sort_position, created_at, updated_at";
const EDGE_COLUMNS: &str = "canvas_id, id, source, source_handle, target, target_handle, type, \
    data, attrs, sort_position, created_at, updated_at";

const SQLITE_NODES: &str = "SELECT id, type, position_x, position_y, width, height, z_index, \
    parent_id, data, attrs, created_at, updated_at FROM canvas_nodes WHERE canvas_id = ? \
    ORDER BY sort_position";
const SQLITE_EDGES: &str = "SELECT id, source, source_handle, target, target_handle, type, data, \
    attrs, created_at, updated_at FROM canvas_edges WHERE canvas_id = ? ORDER BY sort_position";
const POSTGRES_NODES: &str = "SELECT id, type, position_x, position_y, width, height, z_index, \
    parent_id, data::text, attrs::text, created_at, updated_at FROM canvas_nodes \
    WHERE canvas_id = $1 ORDER BY sort_position";
const POSTGRES_EDGES: &str = "SELECT id, source, source_handle, target, target_handle, type, \
    data::text, attrs::text, created_at, updated_at FROM canvas_edges WHERE canvas_id = $1 \
    ORDER BY sort_position";

impl FloorDb {
    /// Connects to the database Easel serves from; SQLite with the pragmas Easel sets.
    pub async fn connect(url: &str) -> FloorDb {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .unwrap()
                .foreign_keys(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30));
            FloorDb::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .unwrap(),
            )
        } else {
            FloorDb::Postgres(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await
                    .unwrap(),
            )
        }
    }

    /// The floor of a load: the nodes and edges of `canvas_id` read and serialized into the
    /// same document as `{ data { canvas { nodes {..} edges {..} } } }`.
    pub async fn load(&self, canvas_id: &str) -> Vec<u8> {
        match self {
            FloorDb::Sqlite(pool) => {
                let nodes = sqlx::query(SQLITE_NODES)
                    .bind(canvas_id)
                    .fetch_all(pool)
                    .await
                    .unwrap();
                let edges = sqlx::query(SQLITE_EDGES)
                    .bind(canvas_id)
                    .fetch_all(pool)
                    .await
                    .unwrap();
                serialize(&nodes, &edges)
            }
            FloorDb::Postgres(pool) => {
                let nodes = sqlx::query(POSTGRES_NODES)
                    .bind(canvas_id)
                    .fetch_all(pool)
                    .await
                    .unwrap();
                let edges = sqlx::query(POSTGRES_EDGES)
                    .bind(canvas_id)
                    .fetch_all(pool)
                    .await
                    .unwrap();
                serialize(&nodes, &edges)
            }
        }
    }

    /// The floor of a full save: the canvas row, then every node and edge row, in one
    /// transaction.
    pub async fn save(&self, canvas_id: &str, rows: &Rows) {
        let now = Utc::now();
        match self {
            FloorDb::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                insert_canvas_row_sqlite(&mut tx, canvas_id, now).await;
                for chunk in rows.nodes.chunks(SQLITE_MAX_BINDS / 14) {
                    let mut query = QueryBuilder::<Sqlite>::new(format!(
                        "INSERT INTO canvas_nodes ({NODE_COLUMNS}) "
                    ));
                    query.push_values(chunk, |mut b, r| {
                        b.push_bind(canvas_id)
                            .push_bind(r.id.as_str())
                            .push_bind(r.node_type.as_str())
                            .push_bind(r.x)
                            .push_bind(r.y)
                            .push_bind(r.width)
                            .push_bind(r.height)
                            .push_bind(r.z_index)
                            .push_bind(r.parent_id.as_deref())
                            .push_bind(r.data.as_str())
                            .push_bind(r.attrs.as_deref())
                            .push_bind(r.sort_position)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    query.build().execute(&mut *tx).await.unwrap();
                }
                for chunk in rows.edges.chunks(SQLITE_MAX_BINDS / 12) {
                    let mut query = QueryBuilder::<Sqlite>::new(format!(
                        "INSERT INTO canvas_edges ({EDGE_COLUMNS}) "
                    ));
                    query.push_values(chunk, |mut b, r| {
                        b.push_bind(canvas_id)
                            .push_bind(r.id.as_str())
                            .push_bind(r.source.as_str())
                            .push_bind(r.source_handle.as_deref())
                            .push_bind(r.target.as_str())
                            .push_bind(r.target_handle.as_deref())
                            .push_bind(r.edge_type.as_str())
                            .push_bind(r.data.as_deref())
                            .push_bind(r.attrs.as_deref())
                            .push_bind(r.sort_position)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    query.build().execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            FloorDb::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query(
                    "INSERT INTO canvases (id, owner_id, name, search_name, is_template, \
                     is_public, viewport, version, created_at, updated_at) \
                     VALUES ($1, 'local', 'floor', 'floor', false, false, \
                     '{\"x\":0.0,\"y\":0.0,\"zoom\":1.0}'::jsonb, 1, $2, $2)",
                )
                .bind(canvas_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .unwrap();
                let n = &rows.nodes;
                let times = vec![now; n.len()];
                sqlx::query(
                    "INSERT INTO canvas_nodes (canvas_id, id, type, position_x, position_y, \
                     width, height, z_index, parent_id, data, attrs, sort_position, created_at, \
                     updated_at) \
                     SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::float8[], \
                     $5::float8[], $6::float8[], $7::float8[], $8::int4[], $9::text[], \
                     $10::text[]::jsonb[], $11::text[]::jsonb[], $12::int8[], \
                     $13::timestamptz[], $13::timestamptz[])",
                )
                .bind(canvas_id)
                .bind(n.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.node_type.as_str()).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.x).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.y).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.width).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.height).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.z_index).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.parent_id.as_deref()).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.data.as_str()).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.attrs.as_deref()).collect::<Vec<_>>())
                .bind(n.iter().map(|r| r.sort_position).collect::<Vec<_>>())
                .bind(&times)
                .execute(&mut *tx)
                .await
                .unwrap();
                let e = &rows.edges;
                let times = vec![now; e.len()];
                sqlx::query(
                    "INSERT INTO canvas_edges (canvas_id, id, source, source_handle, target, \
                     target_handle, type, data, attrs, sort_position, created_at, updated_at) \
                     SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], \
                     $6::text[], $7::text[], $8::text[]::jsonb[], $9::text[]::jsonb[], \
                     $10::int8[], $11::timestamptz[], $11::timestamptz[])",
                )
                .bind(canvas_id)
                .bind(e.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
                .bind(e.iter().map(|r| r.source.as_str()).collect::<Vec<_>>())
                .bind(
                    e.iter()
                        .map(|r| r.source_handle.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(e.iter().map(|r| r.target.as_str()).collect::<Vec<_>>())
                .bind(
                    e.iter()
                        .map(|r| r.target_handle.as_deref())
                        .collect::<Vec<_>>(),
                )
                .bind(e.iter().map(|r| r.edge_type.as_str()).collect::<Vec<_>>())
                .bind(e.iter().map(|r| r.data.as_deref()).collect::<Vec<_>>())
                .bind(e.iter().map(|r| r.attrs.as_deref()).collect::<Vec<_>>())
                .bind(e.iter().map(|r| r.sort_position).collect::<Vec<_>>())
                .bind(&times)
                .execute(&mut *tx)
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }
    }

    /// Deletes a canvas (its rows cascade); not timed.
    pub async fn delete_canvas(&self, canvas_id: &str) {
        match self {
            FloorDb::Sqlite(pool) => {
                sqlx::query("DELETE FROM canvases WHERE id = ?")
                    .bind(canvas_id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
            FloorDb::Postgres(pool) => {
                sqlx::query("DELETE FROM canvases WHERE id = $1")
                    .bind(canvas_id)
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    /// Inserts `count` canvases of the local user, each with `nodes` nodes and `edges` edges,
    /// changed one second apart (newest last), by plain multi-row inserts.
    pub async fn insert_many_canvases(&self, count: usize, nodes: usize, edges: usize) {
        let base = Utc::now() - chrono::Duration::seconds(count as i64 + 60);
        let canvases: Vec<(String, DateTime<Utc>)> = (0..count)
            .map(|i| {
                (
                    format!("list-{i:06}"),
                    base + chrono::Duration::seconds(i as i64),
                )
            })
            .collect();
        let node_rows: Vec<(&str, String, i64)> = canvases
            .iter()
            .flat_map(|(id, _)| (0..nodes).map(move |j| (id.as_str(), format!("n-{j}"), j as i64)))
            .collect();
        let edge_rows: Vec<(&str, String, String, String, i64)> = canvases
            .iter()
            .flat_map(|(id, _)| {
                (0..edges).map(move |j| {
                    (
                        id.as_str(),
                        format!("e-{j}"),
                        format!("n-{}", j % nodes.max(1)),
                        format!("n-{}", (j + 1) % nodes.max(1)),
                        j as i64,
                    )
                })
            })
            .collect();
        macro_rules! insert_all {
            ($db:ty, $pool:expr, $max_binds:expr) => {{
                let mut tx = $pool.begin().await.unwrap();
                for chunk in canvases.chunks($max_binds / 6) {
                    let mut query = QueryBuilder::<$db>::new(
                        "INSERT INTO canvases (id, owner_id, name, search_name, is_template, \
                         is_public, version, created_at, updated_at) ",
                    );
                    query.push_values(chunk, |mut b, (id, at)| {
                        b.push_bind(id.as_str())
                            .push("'local'")
                            .push_bind(format!("Canvas {id}"))
                            .push_bind(format!("canvas {id}"))
                            .push("false")
                            .push("false")
                            .push("1")
                            .push_bind(*at)
                            .push_bind(*at);
                    });
                    query.build().execute(&mut *tx).await.unwrap();
                }
                if nodes > 0 {
                    for chunk in node_rows.chunks($max_binds / 4) {
                        let mut query = QueryBuilder::<$db>::new(format!(
                            "INSERT INTO canvas_nodes ({NODE_COLUMNS}) "
                        ));
                        query.push_values(chunk, |mut b, (canvas, id, j)| {
                            b.push_bind(*canvas)
                                .push_bind(id.as_str())
                                .push("'note'")
                                .push_bind(*j as f64 * 300.0)
                                .push("0")
                                .push("NULL")
                                .push("NULL")
                                .push("0")
                                .push("NULL")
                                .push(JSON_EMPTY_OBJECT)
                                .push("NULL")
                                .push_bind(*j)
                                .push(NOW_SQL)
                                .push(NOW_SQL);
                        });
                        query.build().execute(&mut *tx).await.unwrap();
                    }
                }
                if nodes > 0 && edges > 0 {
                    for chunk in edge_rows.chunks($max_binds / 5) {
                        let mut query = QueryBuilder::<$db>::new(format!(
                            "INSERT INTO canvas_edges ({EDGE_COLUMNS}) "
                        ));
                        query.push_values(chunk, |mut b, (canvas, id, source, target, j)| {
                            b.push_bind(*canvas)
                                .push_bind(id.as_str())
                                .push_bind(source.as_str())
                                .push("NULL")
                                .push_bind(target.as_str())
                                .push("NULL")
                                .push("'default'")
                                .push("NULL")
                                .push("NULL")
                                .push_bind(*j)
                                .push(NOW_SQL)
                                .push(NOW_SQL);
                        });
                        query.build().execute(&mut *tx).await.unwrap();
                    }
                }
                tx.commit().await.unwrap();
            }};
        }
        match self {
            FloorDb::Sqlite(pool) => {
                const JSON_EMPTY_OBJECT: &str = "'{}'";
                const NOW_SQL: &str = "'2025-01-01T00:00:00+00:00'";
                insert_all!(Sqlite, pool, SQLITE_MAX_BINDS)
            }
            FloorDb::Postgres(pool) => {
                const JSON_EMPTY_OBJECT: &str = "'{}'::jsonb";
                const NOW_SQL: &str = "'2025-01-01T00:00:00+00:00'::timestamptz";
                insert_all!(sqlx::Postgres, pool, POSTGRES_MAX_BINDS);
                // What autovacuum would do within a minute of such a bulk insert: without
                // statistics the planner has no idea how large the tables are.
                sqlx::query("ANALYZE canvases, canvas_nodes, canvas_edges")
                    .execute(pool)
                    .await
                    .unwrap();
            }
        }
    }

    pub async fn close(&self) {
        match self {
            FloorDb::Sqlite(pool) => pool.close().await,
            FloorDb::Postgres(pool) => pool.close().await,
        }
    }
}

async fn insert_canvas_row_sqlite(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    canvas_id: &str,
    now: DateTime<Utc>,
) {
    sqlx::query(
        "INSERT INTO canvases (id, owner_id, name, search_name, is_template, is_public, \
         viewport, version, created_at, updated_at) \
         VALUES (?, 'local', 'floor', 'floor', false, false, '{\"x\":0.0,\"y\":0.0,\"zoom\":1.0}', \
         1, ?, ?)",
    )
    .bind(canvas_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .unwrap();
}

/// The answer document `{"data":{"canvas":{"nodes":[..],"edges":[..]}}}`.
#[derive(Serialize)]
struct Document<'a> {
    data: DocumentData<'a>,
}

#[derive(Serialize)]
struct DocumentData<'a> {
    canvas: DocumentCanvas<'a>,
}

#[derive(Serialize)]
struct DocumentCanvas<'a> {
    nodes: Vec<NodeOut<'a>>,
    edges: Vec<EdgeOut<'a>>,
}

#[derive(Serialize)]
struct Position {
    x: f64,
    y: f64,
}

/// A node in the answer, its fields in the order of [`fixture::NODE_FIELDS`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    node_type: &'a str,
    position: Position,
    width: Option<f64>,
    height: Option<f64>,
    z_index: i32,
    parent_id: Option<&'a str>,
    data: &'a RawValue,
    hidden: Option<bool>,
    draggable: Option<bool>,
    selectable: Option<bool>,
    connectable: Option<bool>,
    deletable: Option<bool>,
    focusable: Option<bool>,
    extent: Option<&'a RawValue>,
    expand_parent: Option<bool>,
    source_position: Option<Cow<'a, str>>,
    target_position: Option<Cow<'a, str>>,
    drag_handle: Option<Cow<'a, str>>,
    style: Option<&'a RawValue>,
    class_name: Option<Cow<'a, str>>,
    created_at: String,
    updated_at: String,
}

/// The `attrs` column of a node.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct NodeAttrs<'a> {
    hidden: Option<bool>,
    draggable: Option<bool>,
    selectable: Option<bool>,
    connectable: Option<bool>,
    deletable: Option<bool>,
    focusable: Option<bool>,
    #[serde(borrow)]
    extent: Option<&'a RawValue>,
    expand_parent: Option<bool>,
    #[serde(borrow)]
    source_position: Option<Cow<'a, str>>,
    #[serde(borrow)]
    target_position: Option<Cow<'a, str>>,
    #[serde(borrow)]
    drag_handle: Option<Cow<'a, str>>,
    #[serde(borrow)]
    style: Option<&'a RawValue>,
    #[serde(borrow)]
    class_name: Option<Cow<'a, str>>,
}

/// An edge in the answer, its fields in the order of [`fixture::EDGE_FIELDS`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EdgeOut<'a> {
    id: &'a str,
    source: &'a str,
    source_handle: Option<&'a str>,
    target: &'a str,
    target_handle: Option<&'a str>,
    #[serde(rename = "type")]
    edge_type: &'a str,
    data: Option<&'a RawValue>,
    animated: Option<bool>,
    hidden: Option<bool>,
    deletable: Option<bool>,
    selectable: Option<bool>,
    label: Option<Cow<'a, str>>,
    marker_start: Option<&'a RawValue>,
    marker_end: Option<&'a RawValue>,
    z_index: Option<i32>,
    style: Option<&'a RawValue>,
    class_name: Option<Cow<'a, str>>,
    created_at: String,
    updated_at: String,
}

/// The `attrs` column of an edge.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct EdgeAttrs<'a> {
    animated: Option<bool>,
    hidden: Option<bool>,
    deletable: Option<bool>,
    selectable: Option<bool>,
    #[serde(borrow)]
    label: Option<Cow<'a, str>>,
    #[serde(borrow)]
    marker_start: Option<&'a RawValue>,
    #[serde(borrow)]
    marker_end: Option<&'a RawValue>,
    z_index: Option<i32>,
    #[serde(borrow)]
    style: Option<&'a RawValue>,
    #[serde(borrow)]
    class_name: Option<Cow<'a, str>>,
}

/// The JSON of a column, checked and borrowed.
fn raw(text: &str) -> &RawValue {
    serde_json::from_str(text).expect("a JSON column holds JSON")
}

/// Serializes rows of either database into the answer document.
fn serialize<'r, R>(nodes: &'r [R], edges: &'r [R]) -> Vec<u8>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    let nodes: Vec<NodeOut<'r>> = nodes
        .iter()
        .map(|row| {
            let attrs: Option<&str> = row.try_get(9).unwrap();
            let attrs: NodeAttrs<'r> = attrs
                .map(|a| serde_json::from_str(a).unwrap())
                .unwrap_or_default();
            NodeOut {
                id: row.try_get(0).unwrap(),
                node_type: row.try_get(1).unwrap(),
                position: Position {
                    x: row.try_get(2).unwrap(),
                    y: row.try_get(3).unwrap(),
                },
                width: row.try_get(4).unwrap(),
                height: row.try_get(5).unwrap(),
                z_index: row.try_get(6).unwrap(),
                parent_id: row.try_get(7).unwrap(),
                data: raw(row.try_get(8).unwrap()),
                hidden: attrs.hidden,
                draggable: attrs.draggable,
                selectable: attrs.selectable,
                connectable: attrs.connectable,
                deletable: attrs.deletable,
                focusable: attrs.focusable,
                extent: attrs.extent,
                expand_parent: attrs.expand_parent,
                source_position: attrs.source_position,
                target_position: attrs.target_position,
                drag_handle: attrs.drag_handle,
                style: attrs.style,
                class_name: attrs.class_name,
                created_at: row.try_get::<DateTime<Utc>, _>(10).unwrap().to_rfc3339(),
                updated_at: row.try_get::<DateTime<Utc>, _>(11).unwrap().to_rfc3339(),
            }
        })
        .collect();
    let edges: Vec<EdgeOut<'r>> = edges
        .iter()
        .map(|row| {
            let attrs: Option<&str> = row.try_get(7).unwrap();
            let attrs: EdgeAttrs<'r> = attrs
                .map(|a| serde_json::from_str(a).unwrap())
                .unwrap_or_default();
            let data: Option<&str> = row.try_get(6).unwrap();
            EdgeOut {
                id: row.try_get(0).unwrap(),
                source: row.try_get(1).unwrap(),
                source_handle: row.try_get(2).unwrap(),
                target: row.try_get(3).unwrap(),
                target_handle: row.try_get(4).unwrap(),
                edge_type: row.try_get(5).unwrap(),
                data: data.map(raw),
                animated: attrs.animated,
                hidden: attrs.hidden,
                deletable: attrs.deletable,
                selectable: attrs.selectable,
                label: attrs.label,
                marker_start: attrs.marker_start,
                marker_end: attrs.marker_end,
                z_index: attrs.z_index,
                style: attrs.style,
                class_name: attrs.class_name,
                created_at: row.try_get::<DateTime<Utc>, _>(8).unwrap().to_rfc3339(),
                updated_at: row.try_get::<DateTime<Utc>, _>(9).unwrap().to_rfc3339(),
            }
        })
        .collect();
    serde_json::to_vec(&Document {
        data: DocumentData {
            canvas: DocumentCanvas { nodes, edges },
        },
    })
    .unwrap()
}
