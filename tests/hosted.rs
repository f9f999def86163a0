//! Hosted mode: JWT authentication, the same ownership rules everywhere, and abuse limits.

mod common;

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, TestApp, code};
use easel::auth::jwt::{JwtConfig, KeySource};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "test-secret-that-is-at-least-32-bytes-long";
const ISSUER: &str = "https://issuer.example.com/";
const AUDIENCE: &str = "easel";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jwt")
        .join(name)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "exp": now() + 600, "iss": ISSUER, "aud": AUDIENCE,
            "email": format!("{sub}@example.com"), "name": format!("User {sub}") })
}

fn hs256(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn token(sub: &str) -> String {
    hs256(&claims(sub))
}

fn hosted(key: KeySource) -> impl FnOnce(&mut easel::Config) {
    move |config| {
        config.jwt = Some(JwtConfig {
            key,
            issuer: Some(ISSUER.into()),
            audience: Some(AUDIENCE.into()),
            leeway_secs: 0,
        });
    }
}

fn with_secret(config: &mut easel::Config) {
    hosted(KeySource::Secret(SECRET.into()))(config);
}

/// A GraphQL request with an optional bearer token: status, `WWW-Authenticate`, body.
async fn call(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Option<String>, Value) {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

async fn as_user(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    call(app, token, query, variables).await.2
}

async fn refused(app: &TestApp, token: &str, what: &str) {
    let (status, challenge, body) = call(app, Some(token), "{ me { id } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"invalid_token\""),
        "{what}"
    );
    assert_eq!(
        code(&body["errors"][0]),
        "UNAUTHENTICATED",
        "{what}: {body}"
    );
}

on_both_databases! {
    with_config(with_secret);
    async fn tokens_that_do_not_verify_are_refused_with_401(app: TestApp) {
        let good = token("alice");
        let me = as_user(app, Some(&good), "{ me { id email name } }", json!({})).await;
        assert_eq!(me["data"]["me"], json!({ "id": "alice", "email": "alice@example.com", "name": "User alice" }));

        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims("alice").to_string());
        refused(app, &format!("{none_header}.{payload}."), "alg none").await;

        let mut expired = claims("alice");
        expired["exp"] = json!(now() - 120);
        refused(app, &hs256(&expired), "expired").await;
        let mut early = claims("alice");
        early["nbf"] = json!(now() + 600);
        refused(app, &hs256(&early), "not yet valid").await;
        let mut issuer = claims("alice");
        issuer["iss"] = json!("https://evil.example.com/");
        refused(app, &hs256(&issuer), "wrong issuer").await;
        let mut audience = claims("alice");
        audience["aud"] = json!("another-app");
        refused(app, &hs256(&audience), "wrong audience").await;
        let mut no_sub = claims("alice");
        no_sub.as_object_mut().unwrap().remove("sub");
        refused(app, &hs256(&no_sub), "missing sub").await;

        let (head, rest) = good.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(claims("mallory").to_string());
        refused(app, &format!("{head}.{forged}.{signature}"), "tampered payload").await;
        let other_secret = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("alice"),
            &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!"),
        )
        .unwrap();
        refused(app, &other_secret, "another secret").await;
        refused(app, "garbage", "garbage").await;

        // No token at all is an anonymous caller, not an error.
        let (status, _, body) = call(app, None, "{ templates { totalCount } }", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["templates"]["totalCount"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_public_key_accepts_its_own_algorithm_only() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        hosted(KeySource::PublicKeyFile(fixture("rsa_public.pem"))),
    )
    .await
    .unwrap();
    let private = std::fs::read(fixture("rsa_private.pem")).unwrap();
    let rs256 = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims("bob"),
        &EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    let me = as_user(&app, Some(&rs256), "{ me { id } }", json!({})).await;
    assert_eq!(me["data"]["me"]["id"], "bob", "{me}");
    // Algorithm confusion: HS256 "signed" with the public key as the secret.
    let public = std::fs::read(fixture("rsa_public.pem")).unwrap();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("bob"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    refused(&app, &confused, "HS256 with the RSA public key as secret").await;
    let other = std::fs::read(fixture("rsa2_private.pem")).unwrap();
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &claims("bob"),
        &EncodingKey::from_rsa_pem(&other).unwrap(),
    )
    .unwrap();
    refused(&app, &wrong_key, "another RSA key").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_jwks_picks_the_key_by_kid_and_refuses_unknown_ones() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        hosted(KeySource::JwksFile(fixture("jwks.json"))),
    )
    .await
    .unwrap();
    let sign = |kid: &str, file: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_rsa_pem(&std::fs::read(fixture(file)).unwrap()).unwrap();
        jsonwebtoken::encode(&header, &claims("carol"), &key).unwrap()
    };
    for (kid, file) in [("key-1", "rsa_private.pem"), ("key-2", "rsa2_private.pem")] {
        let me = as_user(&app, Some(&sign(kid, file)), "{ me { id } }", json!({})).await;
        assert_eq!(me["data"]["me"]["id"], "carol", "{kid}: {me}");
    }
    refused(&app, &sign("key-9", "rsa_private.pem"), "unknown kid").await;
    refused(
        &app,
        &sign("key-1", "rsa2_private.pem"),
        "kid of another key",
    )
    .await;
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.kid = None;
    let key =
        EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa_private.pem")).unwrap()).unwrap();
    refused(
        &app,
        &jsonwebtoken::encode(&no_kid, &claims("carol"), &key).unwrap(),
        "no kid",
    )
    .await;
    app.stop().await;
}

/// Everything user A owns, as A reads it; compared before and after B's attempts.
async fn snapshot(app: &TestApp, a: &str) -> Value {
    as_user(
        app,
        Some(a),
        "{ canvases(first: 50) { nodes { id name version isPublic isTemplate nodes { id position { x y } data } edges { id } } }
           assets { nodes { id status filename } }
           generations { nodes { id status model } }
           settings { theme preferences apiKeys { provider last4 } }
           apiKey(provider: \"openai\") }",
        json!({}),
    )
    .await
}

on_both_databases! {
    with_config(with_secret);
    async fn another_user_finds_nothing_of_yours_and_changes_nothing(app: TestApp) {
        let a = token("alice");
        let b = token("bob");
        let ok = |body: &Value| assert!(body.get("errors").is_none(), "{body:#}");
        let save = "mutation($input: CanvasSnapshotInput!) { saveCanvas(input: $input) { id } }";
        for (id, public, template) in [("private", false, false), ("public", true, false), ("template", false, true)] {
            ok(&as_user(app, Some(&a), save, json!({ "input": { "id": id, "name": id, "isPublic": public, "isTemplate": template,
                "nodes": [{ "id": "n1", "position": { "x": 1, "y": 2 }, "data": { "secret": id } }], "edges": [] } })).await);
        }
        let asset = as_user(app, Some(&a), "mutation { registerExternalAsset(input: { canvasId: \"private\", kind: IMAGE, mimeType: \"image/png\", url: \"https://cdn.example.com/a.png\" }) { id } }", json!({})).await;
        ok(&asset);
        let asset_id = asset["data"]["registerExternalAsset"]["id"].as_str().unwrap().to_owned();
        let run = as_user(app, Some(&a), "mutation { createGeneration(input: { canvasId: \"private\", model: \"m\" }) { id } }", json!({})).await;
        ok(&run);
        let run_id = run["data"]["createGeneration"]["id"].as_str().unwrap().to_owned();
        ok(&as_user(app, Some(&a), "mutation { setApiKey(provider: \"openai\", key: \"sk-alice-1234\") { last4 } }", json!({})).await);
        ok(&as_user(app, Some(&a), "mutation { updateSettings(input: { theme: \"light\" }) { theme } }", json!({})).await);
        let before = snapshot(app, &a).await;
        ok(&before);

        // Reads: null or NOT_FOUND, exactly as for ids that do not exist.
        for caller in [Some(b.as_str()), None] {
            let reads = as_user(app, caller, &format!(
                "{{ canvas(id: \"private\") {{ id }} canvasExists(id: \"private\") asset(id: \"{asset_id}\") {{ id }}
                   generation(id: \"{run_id}\") {{ id }} assets(canvasId: \"private\") {{ totalCount }} }}"), json!({})).await;
            assert_eq!(reads["data"], json!({ "canvas": null, "canvasExists": false, "asset": null, "generation": null,
                                              "assets": { "totalCount": 0 } }), "{caller:?}: {reads:#}");
        }
        let theirs = as_user(app, Some(&b), "{ canvases { totalCount } generations { totalCount } settings { theme apiKeys { provider } } apiKey(provider: \"openai\") }", json!({})).await;
        assert_eq!(theirs["data"], json!({ "canvases": { "totalCount": 0 }, "generations": { "totalCount": 0 },
            "settings": { "theme": "dark", "apiKeys": [] }, "apiKey": null }), "{theirs:#}");

        // Writes: NOT_FOUND for B, UNAUTHENTICATED for anonymous callers.
        let writes = [
            "mutation { updateCanvas(id: \"private\", input: { name: \"pwned\" }) { id } }".to_owned(),
            "mutation { saveCanvas(input: { id: \"private\", name: \"pwned\", nodes: [], edges: [] }) { id } }".to_owned(),
            "mutation { applyCanvasChanges(canvasId: \"private\", changes: { deleteNodeIds: [\"n1\"] }) { id } }".to_owned(),
            "mutation { deleteCanvas(id: \"private\") }".to_owned(),
            "mutation { duplicateCanvas(id: \"private\") { id } }".to_owned(),
            "mutation { updateCanvas(id: \"public\", input: { name: \"pwned\" }) { id } }".to_owned(),
            "mutation { deleteCanvas(id: \"template\") }".to_owned(),
            "mutation { saveCanvas(input: { id: \"public\", name: \"pwned\", nodes: [], edges: [] }) { id } }".to_owned(),
            format!("mutation {{ deleteAsset(id: \"{asset_id}\") }}"),
            format!("mutation {{ completeAssetUpload(id: \"{asset_id}\") {{ id }} }}"),
            "mutation { createAssetUpload(input: { canvasId: \"private\", kind: IMAGE, mimeType: \"image/png\", sizeBytes: 10 }) { uploadUrl } }".to_owned(),
            "mutation { createGeneration(input: { canvasId: \"private\", model: \"m\" }) { id } }".to_owned(),
            format!("mutation {{ startGeneration(id: \"{run_id}\") {{ id }} }}"),
            format!("mutation {{ cancelGeneration(id: \"{run_id}\") {{ id }} }}"),
            format!("mutation {{ retryGeneration(id: \"{run_id}\") {{ id }} }}"),
        ];
        for write in &writes {
            let body = as_user(app, Some(&b), write, json!({})).await;
            assert_eq!(code(&body["errors"][0]), "NOT_FOUND", "B: {write}: {body:#}");
            let body = as_user(app, None, write, json!({})).await;
            assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED", "anonymous: {write}: {body:#}");
        }
        assert_eq!(snapshot(app, &a).await, before, "A's data changed");

        // Public canvases and templates are readable by anyone; a copy is the caller's own.
        for caller in [Some(b.as_str()), None] {
            let shared = as_user(app, caller, "{ public: canvas(id: \"public\") { name nodes { data } owner { id email } generations { totalCount } }
                template: canvas(id: \"template\") { name } templates { totalCount } }", json!({})).await;
            assert_eq!(shared["data"]["public"]["nodes"][0]["data"], json!({ "secret": "public" }), "{shared:#}");
            assert_eq!(shared["data"]["public"]["owner"], json!({ "id": "alice", "email": null }), "emails stay private");
            assert_eq!(shared["data"]["public"]["generations"]["totalCount"], 0, "runs stay private");
            assert_eq!(shared["data"]["template"]["name"], "template");
            assert_eq!(shared["data"]["templates"]["totalCount"], 1);
        }
        let copy = as_user(app, Some(&b), "mutation { duplicateCanvas(id: \"template\", name: \"mine\") { id name owner { id } nodes { data } } }", json!({})).await;
        assert_eq!(copy["data"]["duplicateCanvas"]["owner"]["id"], "bob", "{copy:#}");
        assert_eq!(copy["data"]["duplicateCanvas"]["nodes"][0]["data"], json!({ "secret": "template" }));
        let anonymous_copy = as_user(app, None, "mutation { duplicateCanvas(id: \"template\") { id } }", json!({})).await;
        assert_eq!(code(&anonymous_copy["errors"][0]), "UNAUTHENTICATED");
        assert_eq!(snapshot(app, &a).await, before, "A's data changed");
    }
}

on_both_databases! {
    with_config(|config| {
        with_secret(config);
        config.abuse.max_depth = 6;
        config.abuse.max_complexity = 10;
        config.abuse.max_aliases = 5;
        config.limits.max_body_bytes = 8 * 1024;
        config.abuse.rate_per_minute = 60;
        config.abuse.rate_burst = 5;
    });
    async fn abuse_limits_answer_their_documented_errors_and_the_server_keeps_serving(app: TestApp) {
        let a = token("alice");
        let deep = "{ canvases { nodes { generations { nodes { retryOf { retryOf { retryOf { retryOf { id } } } } } } } } }";
        let body = as_user(app, Some(&a), deep, json!({})).await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("too deep"), "{body:#}");

        let wide: String = (0..40).map(|i| format!("c{i}: canvasExists(id: \"x{i}\") ")).collect();
        let body = as_user(app, Some(&a), &format!("{{ {wide} }}"), json!({})).await;
        assert_eq!(code(&body["errors"][0]), "BAD_USER_INPUT", "{body:#}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("aliases"), "{body:#}");

        let complex = "{ canvases(first: 50) { nodes { nodes { id type data position { x y } } edges { id source target } assets { id url } owner { id name } } } }";
        let body = as_user(app, Some(&a), complex, json!({})).await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("complex"), "{body:#}");

        let big = "x".repeat(10 * 1024);
        let (status, _, body) = call(app, Some(&a), "query($x: String) { templates { totalCount } }", json!({ "x": big })).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(code(&body["errors"][0]), "PAYLOAD_TOO_LARGE");

        // Past the burst: 429 with Retry-After.
        let mut limited = None;
        for _ in 0..20 {
            let response = app.client.post(app.url("/graphql")).bearer_auth(&a)
                .json(&json!({ "query": "{ me { id } }" })).send().await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(response);
                break;
            }
        }
        let limited = limited.expect("no request was rate limited");
        let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry_after >= 1, "{retry_after}");
        let body: Value = limited.json().await.unwrap();
        assert_eq!(code(&body["errors"][0]), "TOO_MANY_REQUESTS");

        // Another user is not limited by Alice's burst, and the server keeps serving.
        let body = as_user(app, Some(&token("bob")), "{ me { id } }", json!({})).await;
        assert_eq!(body["data"]["me"]["id"], "bob", "{body:#}");
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }
}

on_both_databases! {
    with_config(with_secret);
    async fn introspection_is_off_in_hosted_mode_and_anonymous_writes_are_unauthenticated(app: TestApp) {
        let body = as_user(app, Some(&token("alice")), "{ __schema { queryType { name } } }", json!({})).await;
        assert_eq!(body["data"]["__schema"], Value::Null, "the schema is not shown: {body:#}");
        let graphiql = app.client.get(app.url("/graphql")).send().await.unwrap();
        assert_eq!(graphiql.status(), StatusCode::NOT_FOUND);
        let body = as_user(app, None, "mutation { createCanvas(input: { name: \"x\" }) { id } }", json!({})).await;
        assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED");
        let body = as_user(app, None, "{ me { id } }", json!({})).await;
        assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ec_and_ed25519_public_keys_take_their_own_algorithms() {
    let cases = [
        ("ec_public.pem", "ec_private.pem", Algorithm::ES256),
        ("ed_public.pem", "ed_private.pem", Algorithm::EdDSA),
    ];
    for (public, private, algorithm) in cases {
        let app = TestApp::spawn_with(
            Backend::Sqlite,
            hosted(KeySource::PublicKeyFile(fixture(public))),
        )
        .await
        .unwrap();
        let pem = std::fs::read(fixture(private)).unwrap();
        let key = match algorithm {
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
            _ => EncodingKey::from_ed_pem(&pem).unwrap(),
        };
        let signed = jsonwebtoken::encode(&Header::new(algorithm), &claims("dave"), &key).unwrap();
        let me = as_user(&app, Some(&signed), "{ me { id } }", json!({})).await;
        assert_eq!(me["data"]["me"]["id"], "dave", "{algorithm:?}: {me}");
        let rsa =
            EncodingKey::from_rsa_pem(&std::fs::read(fixture("rsa_private.pem")).unwrap()).unwrap();
        let wrong =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims("dave"), &rsa).unwrap();
        refused(&app, &wrong, "an RSA token against another key type").await;
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn easel_token_mints_a_token_the_server_accepts() {
    let app = TestApp::spawn_with(Backend::Sqlite, with_secret)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut command = common::process::easel(dir.path());
    command
        .args([
            "token",
            "--sub",
            "erin",
            "--email",
            "erin@example.com",
            "--ttl",
            "10m",
        ])
        .env("EASEL_JWT_SECRET", SECRET)
        .env("EASEL_JWT_ISSUER", ISSUER)
        .env("EASEL_JWT_AUDIENCE", AUDIENCE);
    let output = common::process::run_async(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let minted = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(String::from_utf8_lossy(&output.stderr).contains("Authorization"));
    let me = as_user(&app, Some(&minted), "{ me { id email } }", json!({})).await;
    assert_eq!(
        me["data"]["me"],
        json!({ "id": "erin", "email": "erin@example.com" }),
        "{me}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jwt_mode_without_a_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = common::process::easel(dir.path());
    command
        .arg("serve")
        .env("EASEL_AUTH", "jwt")
        .env("EASEL_LISTEN", "127.0.0.1:0")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/e.db", dir.path().display()),
        );
    let output = common::process::run_async(command).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("EASEL_AUTH") && stderr.contains("EASEL_JWT_SECRET"),
        "{stderr}"
    );
}
