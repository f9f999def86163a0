//! The portable archive of `easel export` and `easel restore`: a gzip-compressed tar of
//!
//! - `manifest.json`: `{"format": "easel-archive", "version": 1, "createdAt", "easelVersion",
//!   "scope": {"user", "canvases"}, "tables": [{"name", "columns"}]}`, always the first entry;
//! - `tables/{table}/{part:06}.jsonl`: the rows of each table, one JSON object per line (columns
//!   by name, NULL columns left out, JSON columns embedded as they are, timestamps RFC 3339 with
//!   microseconds), tables in dependency order (parents first), each split into parts of a few
//!   MiB so neither side holds a whole table;
//! - `blobs/{asset id}`: the bytes of each READY asset kept in the object store, after all tables.
//!
//! It holds no secrets (API keys are left out) and no server-local state (live events, pending
//! removals).

use serde::{Deserialize, Serialize};

/// What `format` says in every Easel archive.
pub const FORMAT: &str = "easel-archive";
/// The version of the layout this build writes and reads.
pub const VERSION: u32 = 1;
/// The first entry.
pub const MANIFEST: &str = "manifest.json";
/// A table part is cut once it holds this many bytes of JSON lines.
pub const PART_BYTES: usize = 4 * 1024 * 1024;

/// The tables an archive carries, in the order they are written and restored.
pub const ARCHIVED_TABLES: &[&str] = &[
    "users",
    "canvases",
    "canvas_nodes",
    "canvas_edges",
    "assets",
    "generations",
    "user_settings",
    "kv_entries",
];

/// `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub created_at: String,
    pub easel_version: String,
    pub scope: Scope,
    pub tables: Vec<TableColumns>,
}

/// What was exported: one user's data, some canvases, or (both empty) everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Scope {
    pub user: Option<String>,
    pub canvases: Vec<String>,
}

/// A table's columns, as written.
#[derive(Debug, Serialize, Deserialize)]
pub struct TableColumns {
    pub name: String,
    pub columns: Vec<String>,
}

/// `tables/{table}/{part:06}.jsonl`.
pub fn part_path(table: &str, part: u32) -> String {
    format!("tables/{table}/{part:06}.jsonl")
}

/// The table of a part's path.
pub fn table_of_part(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("tables/")?;
    let (table, file) = rest.split_once('/')?;
    file.ends_with(".jsonl").then_some(table)
}

/// `blobs/{asset id}`.
pub fn blob_path(asset_id: &str) -> String {
    format!("blobs/{asset_id}")
}

/// The asset id of a blob's path.
pub fn asset_of_blob(path: &str) -> Option<&str> {
    path.strip_prefix("blobs/").filter(|id| !id.is_empty())
}

/// A reader that yields exactly `expected` bytes of `inner` or fails: a blob that changed size
/// between listing and reading must not make a corrupt archive.
pub struct Exact<R> {
    inner: R,
    expected: u64,
    read: u64,
}

impl<R> Exact<R> {
    pub fn new(inner: R, expected: u64) -> Self {
        Exact {
            inner,
            expected,
            read: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expected || (n == 0 && self.read < self.expected && !buf.is_empty()) {
            return Err(std::io::Error::other(format!(
                "the object does not have the {} bytes expected (read {})",
                self.expected, self.read
            )));
        }
        Ok(n)
    }
}
