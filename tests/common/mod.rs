//! The test harness: an Easel server on 127.0.0.1:0 over a fresh database (a temp SQLite file,
//! or a freshly created PostgreSQL database when `EASEL_TEST_POSTGRES_URL` is set), and a client
//! that speaks GraphQL over HTTP to it.

#![allow(dead_code)]

pub mod process;
pub mod s3;
pub mod text;

use text::with_database;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Once;

use easel::Config;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Runs one async test body on SQLite and on PostgreSQL, as `name::sqlite` and `name::postgres`;
/// `with_config(|config| ...);` before the function adjusts the server's configuration.
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        $crate::on_both_databases! {
            $(#[$meta])*
            with_config(|_config| {});
            async fn $name($app: TestApp) $body
        }
    };
    (
        $(#[$meta:meta])*
        with_config($adjust:expr);
        async fn $name:ident($app:ident: TestApp) $body:block
    ) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn scenario($app: &$crate::common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let app = $crate::common::TestApp::spawn_with($crate::common::Backend::Sqlite, $adjust).await.unwrap();
                scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some(app) = $crate::common::TestApp::spawn_with($crate::common::Backend::Postgres, $adjust).await else {
                    return;
                };
                scenario(&app).await;
                app.stop().await;
            }
        }
    };
}

/// Runs one async test body on SQLite and PostgreSQL, each with the asset store in a local
/// folder, in memory, and on a real S3 server: `name::sqlite_file`, ..., `name::postgres_s3`.
#[macro_export]
macro_rules! on_every_store {
    ($(#[$meta:meta])* async fn $name:ident($app:ident: TestApp) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::common::{Backend, Store, TestApp};

            async fn scenario($app: &TestApp) $body

            async fn run(backend: Backend, store: Store) {
                let Some(app) = TestApp::spawn_on(backend, store, |_| {}).await else {
                    return;
                };
                scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_file() { run(Backend::Sqlite, Store::File).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_memory() { run(Backend::Sqlite, Store::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite_s3() { run(Backend::Sqlite, Store::S3).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_file() { run(Backend::Postgres, Store::File).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_memory() { run(Backend::Postgres, Store::Memory).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres_s3() { run(Backend::Postgres, Store::S3).await }
        }
    };
}

/// Where the server under test keeps asset bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `file://` in the test's folder (the default).
    File,
    /// `memory://`.
    Memory,
    /// A real S3 server started for the test (s3s-fs, SigV4).
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL database made for one test; [`ScratchPostgres::drop_database`] removes it.
pub struct ScratchPostgres {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchPostgres {
    /// Creates a fresh database on the server of `EASEL_TEST_POSTGRES_URL`; `None` (said once)
    /// when that is not set. Panics when it is set but the server does not answer.
    pub async fn create() -> Option<ScratchPostgres> {
        let admin_url = postgres_url()?;
        let name = format!("easel_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("EASEL_TEST_POSTGRES_URL is set but PostgreSQL does not answer: {e}")
        });
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        admin.close().await.ok();
        Some(ScratchPostgres {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    /// Drops the database, closing whatever still uses it.
    pub async fn drop_database(self) {
        let admin = Database::connect(&self.admin_url).await.unwrap();
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
        admin.close().await.ok();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub database_url: String,
    pub backend: Backend,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The test's own folder: the SQLite file, the secret key, and `assets/` of the default
    /// file store.
    pub dir: tempfile::TempDir,
    pg: Option<ScratchPostgres>,
    pub store: Store,
    /// The S3 server of an S3 test, kept running as long as the app.
    pub s3: Option<s3::S3Server>,
}

static PG_SKIPPED: Once = Once::new();

/// The PostgreSQL server for tests, or `None` (said once) when none is configured.
fn postgres_url() -> Option<String> {
    match std::env::var("EASEL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            PG_SKIPPED.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: EASEL_TEST_POSTGRES_URL is not set; PostgreSQL tests are skipped"
                );
            });
            None
        }
    }
}

impl TestApp {
    /// A server with the default configuration; `None` when PostgreSQL is asked for and skipped.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        Self::spawn_on(backend, Store::File, adjust).await
    }

    /// A server on `backend` with its assets in `store`.
    pub async fn spawn_on(
        backend: Backend,
        store: Store,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let (database_url, pg) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/easel.db", dir.path().display()), None),
            Backend::Postgres => {
                let pg = ScratchPostgres::create().await?;
                (pg.url.clone(), Some(pg))
            }
        };
        Some(Self::start(backend, dir, database_url, pg, store, adjust).await)
    }

    /// A server over a database that already exists (e.g. one a command filled), with its
    /// assets in a local folder of its own unless `adjust` says otherwise. The database is
    /// left alone at stop.
    pub async fn spawn_over(
        backend: Backend,
        database_url: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::start(
            backend,
            dir,
            database_url.to_owned(),
            None,
            Store::File,
            adjust,
        )
        .await
    }

    async fn start(
        backend: Backend,
        dir: tempfile::TempDir,
        database_url: String,
        pg: Option<ScratchPostgres>,
        store: Store,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config {
            database_url: database_url.clone(),
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let mut s3 = None;
        match store {
            Store::File => {
                config.assets.store_url = format!("file://{}/assets", dir.path().display());
            }
            Store::Memory => config.assets.store_url = "memory://".to_owned(),
            Store::S3 => {
                let server = s3::S3Server::start().await;
                config.assets.store_url = server.url();
                config.assets.store_options = server.object_store_options();
                s3 = Some(server);
            }
        }
        adjust(&mut config);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(easel::serve(config, listener, async {
            rx.await.ok();
        }));
        let app = TestApp {
            addr,
            client: reqwest::Client::new(),
            database_url,
            backend,
            shutdown: Some(tx),
            server: Some(server),
            dir,
            pg,
            store,
            s3,
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the server did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a GraphQL request; the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// Sends a GraphQL request that must succeed; its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Sends a GraphQL request that must fail; its first error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        let errors = body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("expected an error: {body:#}"));
        errors[0].clone()
    }

    /// SQL statements the server has run so far, from `/metrics`.
    pub async fn statements(&self) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text::statements_total(&text)
    }

    /// A direct connection to the test's database, to check rows behind the API.
    pub async fn db(&self) -> DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(&self.database_url);
        options.map_sqlx_sqlite_opts(|o| o.foreign_keys(true));
        Database::connect(options).await.unwrap()
    }

    /// Stops the server and drops the PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        if let Some(pg) = self.pg.take() {
            pg.drop_database().await;
        }
    }
}

impl TestApp {
    /// The objects in the asset store, as paths relative to the store's root (the bucket for
    /// S3); `None` for the memory store, which cannot be looked into from outside.
    pub fn stored_objects(&self) -> Option<Vec<String>> {
        let root = match self.store {
            Store::File => self.dir.path().join("assets"),
            Store::S3 => {
                let s3 = self.s3.as_ref()?;
                s3.root().join(&s3.bucket)
            }
            Store::Memory => return None,
        };
        let mut found = Vec::new();
        let mut folders = vec![root.clone()];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let relative = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    // The file store writes multipart uploads to hidden temporary files first.
                    if !relative.rsplit('/').next().unwrap_or("").starts_with('.') {
                        found.push(relative);
                    }
                }
            }
        }
        found.sort();
        Some(found)
    }
}

/// The `extensions.code` of a GraphQL error.
pub fn code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or("")
}
