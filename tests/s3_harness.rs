//! Checks the in-test S3 server (`common::s3::S3Server`) against `object_store` and plain HTTP:
//! real SigV4 verification of signed requests and presigned URLs, no mocks.

mod common;

use std::str::FromStr as _;
use std::time::Duration;

use common::s3::S3Server;
use futures::TryStreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer as _};
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

/// An `AmazonS3` client for `server`, with `secret_key` overriding the server's secret if given.
fn store(server: &S3Server, secret_key: Option<&str>) -> AmazonS3 {
    let mut builder = AmazonS3Builder::new().with_url(server.url());
    for (key, value) in server.object_store_options() {
        let key = AmazonS3ConfigKey::from_str(&key).expect("a known object_store option key");
        builder = builder.with_config(key, value);
    }
    if let Some(secret_key) = secret_key {
        builder = builder.with_config(AmazonS3ConfigKey::SecretAccessKey, secret_key);
    }
    builder.build().expect("build the AmazonS3 client")
}

fn on_disk(server: &S3Server, key: &str) -> std::path::PathBuf {
    server.root().join(&server.bucket).join(key)
}

/// Asserts that an S3 error response carries `<Code>{code}</Code>`; returns the body.
async fn assert_error_code(response: reqwest::Response, code: &str) -> String {
    let body = response.text().await.expect("read the error body");
    assert!(body.contains(&format!("<Code>{code}</Code>")), "{body}");
    body
}

#[tokio::test]
async fn object_store_round_trip() {
    let server = S3Server::start().await;
    let store = store(&server, None);
    let path = Path::from("assets/hello.txt");

    store
        .put(&path, PutPayload::from_static(b"hello, s3"))
        .await
        .expect("put through object_store");
    let bytes = store
        .get(&path)
        .await
        .expect("get through object_store")
        .bytes()
        .await
        .expect("read the object's body");
    assert_eq!(&bytes[..], b"hello, s3");
    assert_eq!(
        std::fs::read(on_disk(&server, "assets/hello.txt")).expect("the object's file"),
        b"hello, s3"
    );

    let listed: Vec<_> = store
        .list(Some(&Path::from("assets")))
        .try_collect()
        .await
        .expect("list through object_store");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].location, path);
    assert_eq!(listed[0].size, 9);

    // A request without any signature is refused.
    let unsigned = reqwest::get(format!(
        "{}/{}/assets/hello.txt",
        server.endpoint, server.bucket
    ))
    .await
    .expect("send an unsigned GET");
    assert_eq!(unsigned.status(), reqwest::StatusCode::FORBIDDEN);
    assert_error_code(unsigned, "AccessDenied").await;

    server.stop().await;
}

#[tokio::test]
async fn presigned_put_binds_content_type() {
    let server = S3Server::start().await;
    let store = store(&server, None);
    let path = Path::from("uploads/image.png");
    let options = SignedUrlOptions::default().with_signed_header(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("image/png"),
    );
    let url = store
        .signed_url_opts(Method::PUT, &path, Duration::from_secs(60), &options)
        .await
        .expect("presign a PUT");
    let client = reqwest::Client::new();
    let png = b"\x89PNG\r\n\x1a\nnot really a png".to_vec();

    // A different content type than the one signed: refused, nothing stored.
    let wrong_type = client
        .put(url.as_str())
        .header("content-type", "text/plain")
        .body(png.clone())
        .send()
        .await
        .expect("send the PUT with a wrong content type");
    assert_eq!(wrong_type.status(), reqwest::StatusCode::FORBIDDEN);
    assert_error_code(wrong_type, "SignatureDoesNotMatch").await;
    // No content type at all: refused too.
    let no_type = client
        .put(url.as_str())
        .body(png.clone())
        .send()
        .await
        .expect("send the PUT without a content type");
    assert_eq!(no_type.status(), reqwest::StatusCode::FORBIDDEN);
    assert_error_code(no_type, "SignatureDoesNotMatch").await;
    assert!(!on_disk(&server, "uploads/image.png").exists());
    assert!(matches!(
        store.head(&path).await,
        Err(object_store::Error::NotFound { .. })
    ));

    // The signed content type: stored.
    let ok = client
        .put(url.as_str())
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("send the presigned PUT");
    assert_eq!(
        ok.status(),
        reqwest::StatusCode::OK,
        "{:?}",
        ok.text().await
    );
    let stored = store
        .get(&path)
        .await
        .expect("get the uploaded object")
        .bytes()
        .await
        .expect("read the uploaded object");
    assert_eq!(&stored[..], &png[..]);

    // A tampered signature: refused, the object is unchanged.
    let tampered = {
        let url = url.as_str();
        let at =
            url.find("X-Amz-Signature=").expect("a SigV4 presigned URL") + "X-Amz-Signature=".len();
        let flipped = if url[at..].starts_with('0') { '1' } else { '0' };
        format!("{}{flipped}{}", &url[..at], &url[at + 1..])
    };
    assert_ne!(tampered, url.as_str());
    let forged = client
        .put(&tampered)
        .header("content-type", "image/png")
        .body(b"overwritten".to_vec())
        .send()
        .await
        .expect("send the PUT with a tampered signature");
    assert_eq!(forged.status(), reqwest::StatusCode::FORBIDDEN);
    assert_error_code(forged, "SignatureDoesNotMatch").await;
    assert_eq!(
        std::fs::read(on_disk(&server, "uploads/image.png")).expect("the uploaded file"),
        png
    );

    // A presigned GET hands back the signed content type.
    let get_url = store
        .signed_url(Method::GET, &path, Duration::from_secs(60))
        .await
        .expect("presign a GET");
    let fetched = client
        .get(get_url.as_str())
        .send()
        .await
        .expect("send the presigned GET");
    assert_eq!(fetched.status(), reqwest::StatusCode::OK);
    assert_eq!(
        fetched
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("image/png")
    );
    assert_eq!(
        &fetched.bytes().await.expect("read the presigned GET")[..],
        &png[..]
    );
}

#[tokio::test]
async fn presigned_get_expires() {
    let server = S3Server::start().await;
    let store = store(&server, None);
    let path = Path::from("expiring.txt");
    store
        .put(&path, PutPayload::from_static(b"soon gone"))
        .await
        .expect("put the object");

    let url = store
        .signed_url(Method::GET, &path, Duration::from_secs(1))
        .await
        .expect("presign a GET for 1 s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = reqwest::get(url.as_str())
        .await
        .expect("send the expired GET");
    assert_eq!(response.status(), reqwest::StatusCode::FORBIDDEN);
    let body = assert_error_code(response, "AccessDenied").await;
    assert!(body.contains("Request has expired"), "{body}");
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let server = S3Server::start().await;
    let good = store(&server, None);
    let path = Path::from("secret.txt");
    good.put(&path, PutPayload::from_static(b"for the right key only"))
        .await
        .expect("put with the right credentials");

    let bad = store(&server, Some("not-the-secret-key"));
    let put = bad
        .put(&Path::from("intruder.txt"), PutPayload::from_static(b"x"))
        .await;
    assert!(
        matches!(put, Err(object_store::Error::PermissionDenied { .. })),
        "{put:?}"
    );
    assert!(!on_disk(&server, "intruder.txt").exists());
    let get = bad.get(&path).await.map(|_| ());
    assert!(
        matches!(get, Err(object_store::Error::PermissionDenied { .. })),
        "{get:?}"
    );

    let mut builder = AmazonS3Builder::new().with_url(server.url());
    for (key, value) in server.object_store_options() {
        let key = AmazonS3ConfigKey::from_str(&key).expect("a known object_store option key");
        builder = builder.with_config(key, value);
    }
    let unknown_key = builder
        .with_config(AmazonS3ConfigKey::AccessKeyId, "NOSUCHACCESSKEY")
        .build()
        .expect("build the AmazonS3 client");
    let get = unknown_key.get(&path).await.map(|_| ());
    assert!(
        matches!(get, Err(object_store::Error::PermissionDenied { .. })),
        "{get:?}"
    );
}

#[tokio::test]
async fn stops_on_stop_and_on_drop() {
    let server = S3Server::start().await;
    let addr = server.endpoint.trim_start_matches("http://").to_owned();
    let root = server.root().to_path_buf();
    assert!(root.join(&server.bucket).is_dir());
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err());
    assert!(!root.exists());

    let server = S3Server::start().await;
    let addr = server.endpoint.trim_start_matches("http://").to_owned();
    drop(server);
    // The accept loop is aborted asynchronously; give it a moment.
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(&addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the dropped server still accepts connections");
}
