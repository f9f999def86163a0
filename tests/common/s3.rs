//! A real S3-protocol server for tests: `s3s` over an `s3s-fs` folder, with SigV4 authentication,
//! so that object-store code and presigned URLs are checked by genuine signature verification.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// How long [`S3Server::stop`] lets in-flight requests finish before cutting connections.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

/// A real S3-protocol server (`s3s` + `s3s-fs`) on `127.0.0.1:0`, serving one bucket from a temp
/// folder and verifying SigV4 signatures (header-signed requests and presigned URLs, with expiry)
/// for one access key; unsigned or wrongly signed requests get `403`.
///
/// It stops accepting and closes its connections when dropped, or gracefully via
/// [`S3Server::stop`]; the temp folder is removed with it.
pub struct S3Server {
    /// The base URL, `http://127.0.0.1:PORT` (path-style: objects live at `{endpoint}/{bucket}/{key}`).
    pub endpoint: String,
    /// The one bucket the server holds (a folder under [`S3Server::root`]).
    pub bucket: String,
    /// The access key id the server accepts.
    pub access_key: String,
    /// The secret key that goes with [`S3Server::access_key`].
    pub secret_key: String,
    /// The region to sign with (the server takes the region from the signature's scope).
    pub region: String,
    root: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    // Dropped last (fields drop in order), after the server task has been told to stop.
    _dir: TempDir,
}

impl S3Server {
    /// Creates the bucket (a folder under a fresh temp root), listens on `127.0.0.1:0` and serves
    /// on a background task. Panics if any of that fails.
    pub async fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("easel-s3-")
            .tempdir()
            .expect("create a temp folder for the S3 server");
        // s3s-fs canonicalizes its root; do the same so `root()` names the folder it really uses.
        let root = dir
            .path()
            .canonicalize()
            .expect("canonicalize the S3 server's temp folder");
        let bucket = "easel-test".to_owned();
        std::fs::create_dir(root.join(&bucket)).expect("create the bucket folder");

        let access_key = "EASELTESTACCESSKEY".to_owned();
        let secret_key = "easel/test/secret/key/0123456789abcdefghij".to_owned();
        let region = "us-east-1".to_owned();

        let fs = s3s_fs::FileSystem::new(&root).expect("open the s3s-fs root folder");
        let service = {
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(
                access_key.clone(),
                secret_key.clone(),
            ));
            builder.build()
        };

        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the S3 server to 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("read the S3 server's local address");
        let (shutdown, stop_signal) = oneshot::channel();
        let task = tokio::spawn(serve(listener, service, stop_signal));

        S3Server {
            endpoint: format!("http://{addr}"),
            bucket,
            access_key,
            secret_key,
            region,
            root,
            shutdown: Some(shutdown),
            task: Some(task),
            _dir: dir,
        }
    }

    /// The `s3s-fs` root folder; the bucket's objects are files under `root/bucket`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `object_store` options `(key, value)` that point `AmazonS3Builder` at this server:
    /// endpoint, path-style requests, plain HTTP, region and credentials. Use them with
    /// [`S3Server::url`] (which names the bucket), e.g. through `AmazonS3ConfigKey::from_str`
    /// and `with_config`, or `object_store::parse_url_opts`.
    pub fn object_store_options(&self) -> Vec<(String, String)> {
        [
            ("aws_endpoint", self.endpoint.as_str()),
            ("aws_virtual_hosted_style_request", "false"),
            ("aws_allow_http", "true"),
            ("aws_region", self.region.as_str()),
            ("aws_access_key_id", self.access_key.as_str()),
            ("aws_secret_access_key", self.secret_key.as_str()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
    }

    /// The bucket's URL, `s3://{bucket}`.
    pub fn url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    /// Stops accepting, lets in-flight requests finish (for a few seconds at most), closes the
    /// connections and removes the temp folder.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the S3 server task panicked");
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Aborting the accept loop drops its `JoinSet`, which aborts every connection task.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accepts connections until `stop_signal` fires (or its sender is dropped), serving each one on
/// its own task; then shuts the connections down gracefully, within [`GRACEFUL_STOP`].
async fn serve(listener: TcpListener, service: S3Service, mut stop_signal: oneshot::Receiver<()>) {
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();

    loop {
        tokio::select! {
            _ = &mut stop_signal => break,
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let socket = match accepted {
                    Ok((socket, _peer)) => socket,
                    Err(err) => {
                        eprintln!("S3 test server: accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                if let Err(err) = socket.set_nodelay(true) {
                    eprintln!("S3 test server: cannot set TCP_NODELAY: {err}");
                }
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                let connection = graceful.watch(connection);
                connections.spawn(async move {
                    // A client hanging up mid-request is not the server's failure.
                    let _ = connection.await;
                });
            }
        }
    }

    drop(listener);
    let _ = tokio::time::timeout(GRACEFUL_STOP, graceful.shutdown()).await;
    connections.shutdown().await;
}
