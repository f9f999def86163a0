//! Every table of Easel as plain rows of typed cells, the same on SQLite and PostgreSQL: read in
//! key order, written in multi-row batches within the bind limit, and summed into a checksum that
//! both databases agree on (JSON compared as parsed values, timestamps as UTC microseconds).

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, StreamExt};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DbErr, QueryResult, Statement, StreamTrait, Value,
};
use sha2::{Digest, Sha256};

/// How a column's values are read, written and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    I32,
    I64,
    F64,
    Bool,
    /// JSON (`jsonb` on PostgreSQL, text on SQLite), carried as its text.
    Json,
    /// `timestamp with time zone`, UTC.
    Time,
}

/// One column of a table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

/// One table: its columns, its primary key, and what copying it needs beyond plain inserts.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub key: &'static [&'static str],
    /// A column referencing this same table: written NULL first and set once every row is in.
    pub self_reference: Option<&'static str>,
    /// An auto-increment key whose PostgreSQL sequence must be moved past the copied ids.
    pub serial: Option<&'static str>,
}

impl Table {
    /// The position of a column.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

use Kind::{Bool, F64, I32, I64, Json, Text, Time};

/// Every table, parents before children (the order that satisfies the foreign keys).
pub const TABLES: &[Table] = &[
    Table {
        name: "users",
        columns: &[
            col("id", Text),
            col("email", Text),
            col("name", Text),
            col("avatar_url", Text),
            col("created_at", Time),
        ],
        key: &["id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "canvases",
        columns: &[
            col("id", Text),
            col("owner_id", Text),
            col("name", Text),
            col("search_name", Text),
            col("description", Text),
            col("thumbnail", Text),
            col("is_template", Bool),
            col("is_public", Bool),
            col("viewport", Json),
            col("version", I64),
            col("created_at", Time),
            col("updated_at", Time),
        ],
        key: &["id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "canvas_nodes",
        columns: &[
            col("canvas_id", Text),
            col("id", Text),
            col("type", Text),
            col("position_x", F64),
            col("position_y", F64),
            col("width", F64),
            col("height", F64),
            col("z_index", I32),
            col("parent_id", Text),
            col("data", Json),
            col("attrs", Json),
            col("sort_position", I64),
            col("created_at", Time),
            col("updated_at", Time),
        ],
        key: &["canvas_id", "id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "canvas_edges",
        columns: &[
            col("canvas_id", Text),
            col("id", Text),
            col("source", Text),
            col("source_handle", Text),
            col("target", Text),
            col("target_handle", Text),
            col("type", Text),
            col("data", Json),
            col("attrs", Json),
            col("sort_position", I64),
            col("created_at", Time),
            col("updated_at", Time),
        ],
        key: &["canvas_id", "id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "assets",
        columns: &[
            col("id", Text),
            col("owner_id", Text),
            col("canvas_id", Text),
            col("node_id", Text),
            col("kind", Text),
            col("status", Text),
            col("filename", Text),
            col("mime_type", Text),
            col("size_bytes", I64),
            col("object_key", Text),
            col("external_url", Text),
            col("metadata", Json),
            col("created_at", Time),
        ],
        key: &["id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "generations",
        columns: &[
            col("id", Text),
            col("owner_id", Text),
            col("canvas_id", Text),
            col("node_id", Text),
            col("model", Text),
            col("prompt", Text),
            col("parameters", Json),
            col("status", Text),
            col("result_asset_id", Text),
            col("error_message", Text),
            col("duration_ms", I64),
            col("retry_of", Text),
            col("idempotency_key", Text),
            col("created_at", Time),
            col("started_at", Time),
            col("finished_at", Time),
        ],
        key: &["id"],
        self_reference: Some("retry_of"),
        serial: None,
    },
    Table {
        name: "user_settings",
        columns: &[
            col("user_id", Text),
            col("theme", Text),
            col("default_model", Text),
            col("api_keys_encrypted", Json),
            col("preferences", Json),
            col("updated_at", Time),
        ],
        key: &["user_id"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "kv_entries",
        columns: &[
            col("owner_id", Text),
            col("namespace", Text),
            col("key", Text),
            col("value", Json),
            col("metadata", Json),
            col("size_bytes", I64),
            col("version", I64),
            col("expires_at", Time),
            col("updated_at", Time),
        ],
        key: &["owner_id", "namespace", "key"],
        self_reference: None,
        serial: None,
    },
    Table {
        name: "canvas_events",
        columns: &[
            col("id", I64),
            col("canvas_id", Text),
            col("version", I64),
            col("client_mutation_id", Text),
            col("payload", Json),
            col("created_at", Time),
        ],
        key: &["id"],
        self_reference: None,
        serial: Some("id"),
    },
    Table {
        name: "blob_deletions",
        columns: &[
            col("object_key", Text),
            col("attempts", I32),
            col("last_error", Text),
            col("created_at", Time),
        ],
        key: &["object_key"],
        self_reference: None,
        serial: None,
    },
];

/// The table called `name`.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// One value of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// JSON as text; compared as parsed values.
    Json(String),
    Time(DateTime<Utc>),
}

/// One row, its cells in the table's column order.
pub type Row = Vec<Cell>;

/// `"name"`, quoted for both databases.
fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// `?` placeholders as this backend wants them: `$1, $2, ...` on PostgreSQL.
pub fn placeholders(backend: DatabaseBackend, sql: &str) -> String {
    if backend != DatabaseBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `SELECT` of every column (JSON as text) of `table`, rows matching `filter` (SQL with `?`
/// placeholders, or empty), in primary-key order.
pub fn select(
    backend: DatabaseBackend,
    table: &Table,
    filter: &str,
    values: Vec<Value>,
) -> Statement {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.kind {
            Kind::Json => format!("CAST({} AS text)", quoted(c.name)),
            _ => quoted(c.name),
        })
        .collect();
    let key: Vec<String> = table.key.iter().map(|k| quoted(k)).collect();
    let filter = if filter.is_empty() {
        String::new()
    } else {
        format!(" WHERE {filter}")
    };
    let sql = format!(
        "SELECT {} FROM {}{filter} ORDER BY {}",
        columns.join(", "),
        quoted(table.name),
        key.join(", ")
    );
    Statement::from_sql_and_values(backend, placeholders(backend, &sql), values)
}

/// The rows of `table` matching `filter`, streamed in primary-key order.
pub async fn stream_rows<'a, C: StreamTrait>(
    db: &'a C,
    table: &'static Table,
    filter: &str,
    values: Vec<Value>,
) -> Result<impl Stream<Item = Result<Row, DbErr>> + Send + 'a, DbErr> {
    let statement = select(db.get_database_backend(), table, filter, values);
    let rows = db.stream_raw(statement).await?;
    Ok(rows.map(move |row| decode(table, &row?)))
}

fn decode(table: &Table, row: &QueryResult) -> Result<Row, DbErr> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let cell = match column.kind {
                Kind::Text => row.try_get_by_index::<Option<String>>(i)?.map(Cell::Text),
                Kind::Json => row.try_get_by_index::<Option<String>>(i)?.map(Cell::Json),
                Kind::I32 => row
                    .try_get_by_index::<Option<i32>>(i)?
                    .map(|v| Cell::Int(v.into())),
                Kind::I64 => row.try_get_by_index::<Option<i64>>(i)?.map(Cell::Int),
                Kind::F64 => row.try_get_by_index::<Option<f64>>(i)?.map(Cell::Float),
                Kind::Bool => row.try_get_by_index::<Option<bool>>(i)?.map(Cell::Bool),
                Kind::Time => row
                    .try_get_by_index::<Option<DateTime<Utc>>>(i)?
                    .map(Cell::Time),
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect()
}

/// How many rows `table` holds.
pub async fn count(db: &impl ConnectionTrait, table: &Table) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) FROM {}", quoted(table.name)),
        ))
        .await?;
    let n = match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Most rows one `INSERT` of `table` may carry on this backend.
pub fn batch_rows(backend: DatabaseBackend, table: &Table) -> usize {
    (crate::db::max_bind_params(backend) / table.columns.len()).clamp(1, 1000)
}

/// What to do with a row whose key is already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Fail (and so roll back the transaction).
    Fail,
    /// Keep the stored row.
    Keep,
}

/// Inserts `rows` into `table` in one statement (callers keep within [`batch_rows`]).
pub async fn insert(
    db: &impl ConnectionTrait,
    table: &Table,
    rows: &[Row],
    on_conflict: OnConflict,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let backend = db.get_database_backend();
    let postgres = backend == DatabaseBackend::Postgres;
    let mut values = Vec::with_capacity(rows.len() * table.columns.len());
    let mut tuples = Vec::with_capacity(rows.len());
    for row in rows {
        let mut slots = Vec::with_capacity(row.len());
        for (column, cell) in table.columns.iter().zip(row) {
            values.push(bind(column.kind, cell));
            slots.push(if postgres {
                match column.kind {
                    Kind::Json => format!("CAST(${} AS jsonb)", values.len()),
                    _ => format!("${}", values.len()),
                }
            } else {
                "?".to_owned()
            });
        }
        tuples.push(format!("({})", slots.join(", ")));
    }
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c.name)).collect();
    let conflict = match on_conflict {
        OnConflict::Fail => "",
        OnConflict::Keep => " ON CONFLICT DO NOTHING",
    };
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}{conflict}",
        quoted(table.name),
        columns.join(", "),
        tuples.join(", ")
    );
    let result = db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(result.rows_affected())
}

/// Sets a self-referencing column of rows inserted with it NULL: `(key, value)` pairs.
pub async fn set_self_reference(
    db: &impl ConnectionTrait,
    table: &Table,
    column: &str,
    pairs: &[(String, String)],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = placeholders(
        backend,
        &format!(
            "UPDATE {} SET {} = ? WHERE {} = ?",
            quoted(table.name),
            quoted(column),
            quoted(table.key[0])
        ),
    );
    for (key, value) in pairs {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.clone(),
            [value.clone().into(), key.clone().into()],
        ))
        .await?;
    }
    Ok(())
}

/// On PostgreSQL, moves the sequence of `table`'s serial column past its largest id, so that
/// new rows do not collide with copied ones. SQLite's AUTOINCREMENT follows by itself.
pub async fn reset_sequence(db: &impl ConnectionTrait, table: &Table) -> Result<(), DbErr> {
    let (Some(column), DatabaseBackend::Postgres) = (table.serial, db.get_database_backend())
    else {
        return Ok(());
    };
    let sql = format!(
        "SELECT setval(pg_get_serial_sequence('{t}', '{column}'), \
         COALESCE((SELECT MAX({c}) FROM {q}), 0) + 1, false)",
        t = table.name,
        c = quoted(column),
        q = quoted(table.name),
    );
    db.execute_unprepared(&sql).await.map(|_| ())
}

fn bind(kind: Kind, cell: &Cell) -> Value {
    match (cell, kind) {
        (Cell::Text(s) | Cell::Json(s), _) => s.clone().into(),
        (Cell::Int(n), Kind::I32) => Value::Int(Some(i32::try_from(*n).unwrap_or(i32::MAX))),
        (Cell::Int(n), _) => Value::BigInt(Some(*n)),
        (Cell::Float(f), _) => Value::Double(Some(*f)),
        (Cell::Bool(b), _) => Value::Bool(Some(*b)),
        (Cell::Time(t), _) => (*t).into(),
        (Cell::Null, Kind::Text | Kind::Json) => Value::String(None),
        (Cell::Null, Kind::I32) => Value::Int(None),
        (Cell::Null, Kind::I64) => Value::BigInt(None),
        (Cell::Null, Kind::F64) => Value::Double(None),
        (Cell::Null, Kind::Bool) => Value::Bool(None),
        (Cell::Null, Kind::Time) => Option::<DateTime<Utc>>::None.into(),
    }
}

/// Rows and a checksum of a table's contents that does not depend on row order: the sum of the
/// SHA-256 digests of each normalized row, in four 64-bit lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    lanes: [u64; 4],
}

impl Checksum {
    /// Adds one row.
    pub fn add(&mut self, row: &[Cell]) {
        let mut hash = Sha256::new();
        for cell in row {
            feed(&mut hash, cell);
        }
        let digest = hash.finalize();
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[i * 8..i * 8 + 8]);
            *lane = lane.wrapping_add(u64::from_le_bytes(bytes));
        }
        self.rows += 1;
    }

    /// The checksum in hex.
    pub fn hex(&self) -> String {
        self.lanes.iter().map(|l| format!("{l:016x}")).collect()
    }
}

fn feed(hash: &mut Sha256, cell: &Cell) {
    match cell {
        Cell::Null => hash.update([0]),
        Cell::Text(s) => {
            hash.update([1]);
            hash.update((s.len() as u64).to_le_bytes());
            hash.update(s.as_bytes());
        }
        Cell::Int(n) => {
            hash.update([2]);
            hash.update(n.to_le_bytes());
        }
        Cell::Float(f) => {
            hash.update([3]);
            // -0.0 and 0.0 are the same number.
            let f = if *f == 0.0 { 0.0 } else { *f };
            hash.update(f.to_bits().to_le_bytes());
        }
        Cell::Bool(b) => hash.update([4, u8::from(*b)]),
        Cell::Json(text) => {
            hash.update([5]);
            let canonical = match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) => {
                    let mut out = String::new();
                    canonical_json(&value, &mut out);
                    out
                }
                Err(_) => text.clone(),
            };
            hash.update((canonical.len() as u64).to_le_bytes());
            hash.update(canonical.as_bytes());
        }
        Cell::Time(t) => {
            hash.update([6]);
            hash.update(t.timestamp_micros().to_le_bytes());
        }
    }
}

/// JSON with object keys sorted and numbers in one spelling (`1.0` and `1` alike), so that
/// PostgreSQL's `jsonb` and SQLite's text compare equal when they hold the same value.
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value as J;
    match value {
        J::Null | J::Bool(_) | J::String(_) => {
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    out.push_str(&(f as i64).to_string());
                } else {
                    out.push_str(&format!("{f:?}"));
                }
            }
        }
        J::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        J::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key).unwrap_or_default());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
    }
}

/// A row as one JSON object line: JSON columns embedded as they are, timestamps as RFC 3339 with
/// microseconds, NULL columns left out (so a JSON `null` value and a NULL column stay apart).
pub fn row_to_json_line(table: &Table, row: &[Cell], out: &mut String) {
    out.push('{');
    let mut first = true;
    for (column, cell) in table.columns.iter().zip(row) {
        let value = match cell {
            Cell::Null => continue,
            Cell::Text(s) => serde_json::to_string(s).unwrap_or_default(),
            Cell::Int(n) => n.to_string(),
            Cell::Float(f) => serde_json::to_string(f).unwrap_or_else(|_| "null".into()),
            Cell::Bool(b) => b.to_string(),
            Cell::Json(text) => text.clone(),
            Cell::Time(t) => format!("\"{}\"", t.to_rfc3339_opts(SecondsFormat::Micros, true)),
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(column.name);
        out.push_str("\":");
        out.push_str(&value);
    }
    out.push_str("}\n");
}

/// The row of one JSON object line made by [`row_to_json_line`].
pub fn row_from_json_line(table: &Table, line: &str) -> Result<Row, String> {
    let object: std::collections::HashMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    if let Some(unknown) = object.keys().find(|k| table.index(k).is_none()) {
        return Err(format!("unknown column {unknown}"));
    }
    table
        .columns
        .iter()
        .map(|column| {
            let Some(raw) = object.get(column.name) else {
                return Ok(Cell::Null);
            };
            let text = raw.get();
            let bad = |e: serde_json::Error| format!("column {}: {e}", column.name);
            Ok(match column.kind {
                Kind::Json => Cell::Json(text.to_owned()),
                Kind::Text => Cell::Text(serde_json::from_str(text).map_err(bad)?),
                Kind::I32 | Kind::I64 => Cell::Int(serde_json::from_str(text).map_err(bad)?),
                Kind::F64 => Cell::Float(serde_json::from_str(text).map_err(bad)?),
                Kind::Bool => Cell::Bool(serde_json::from_str(text).map_err(bad)?),
                Kind::Time => {
                    let s: String = serde_json::from_str(text).map_err(bad)?;
                    let t = DateTime::parse_from_rfc3339(&s)
                        .map_err(|e| format!("column {}: {e}", column.name))?;
                    Cell::Time(t.with_timezone(&Utc))
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_that_means_the_same_sums_the_same() {
        let row = |json: &str| vec![Cell::Text("a".into()), Cell::Json(json.into())];
        let mut a = Checksum::default();
        a.add(&row(r#"{"b": 1.0, "a": [1, "x"]}"#));
        let mut b = Checksum::default();
        b.add(&row(r#"{"a":[1,"x"],"b":1}"#));
        assert_eq!(a, b);
        let mut c = Checksum::default();
        c.add(&row(r#"{"a":[1,"x"],"b":2}"#));
        assert_ne!(a, c);
    }

    #[test]
    fn the_checksum_does_not_depend_on_row_order() {
        let rows = [vec![Cell::Int(1)], vec![Cell::Int(2)]];
        let mut a = Checksum::default();
        rows.iter().for_each(|r| a.add(r));
        let mut b = Checksum::default();
        rows.iter().rev().for_each(|r| b.add(r));
        assert_eq!(a, b);
    }

    #[test]
    fn a_row_survives_a_json_line_with_null_apart_from_json_null() {
        let table = table("kv_entries").unwrap();
        let time = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let row = vec![
            Cell::Text("u\"1".into()),
            Cell::Text("ns".into()),
            Cell::Text("k\n".into()),
            Cell::Json("null".into()),
            Cell::Null,
            Cell::Int(4),
            Cell::Int(1),
            Cell::Null,
            Cell::Time(time),
        ];
        let mut line = String::new();
        row_to_json_line(table, &row, &mut line);
        assert_eq!(row_from_json_line(table, line.trim_end()).unwrap(), row);
    }

    #[test]
    fn postgres_placeholders_are_numbered() {
        assert_eq!(
            placeholders(DatabaseBackend::Postgres, "a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        assert_eq!(placeholders(DatabaseBackend::Sqlite, "a = ?"), "a = ?");
    }
}
