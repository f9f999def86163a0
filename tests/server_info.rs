//! `serverInfo`: the version, engines, modes and effective limits a client needs; nothing
//! secret, and in jwt mode for signed-in callers only.

mod common;

use std::time::Duration;

use common::{TestApp, code};
use serde_json::{Value, json};

const INFO: &str = "{ serverInfo { version database authMode
    assetStore { kind bucket presignedUrls }
    limits { maxNodes maxEdges maxNodeDataBytes maxBodyBytes maxPageSize maxUploadBytes
             uploadUrlTtlSeconds downloadUrlTtlSeconds kvMaxNamespaceChars kvMaxKeyChars
             kvMaxValueBytes kvMaxEntriesPerUser } } }";

on_every_store! {
    async fn server_info_names_the_database_and_the_store(app: TestApp) {
        let info = app.data(INFO, json!({})).await["serverInfo"].clone();
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(info["authMode"], "LOCAL");
        let database = match app.backend {
            Backend::Sqlite => "SQLITE",
            Backend::Postgres => "POSTGRES",
        };
        assert_eq!(info["database"], database);
        let store = match app.store {
            Store::File => json!({ "kind": "FILE", "bucket": null, "presignedUrls": false }),
            Store::Memory => json!({ "kind": "MEMORY", "bucket": null, "presignedUrls": false }),
            Store::S3 => json!({ "kind": "S3", "bucket": app.s3.as_ref().unwrap().bucket, "presignedUrls": true }),
        };
        assert_eq!(info["assetStore"], store);
    }
}

on_both_databases! {
    with_config(|config| {
        config.limits.max_nodes = 1234;
        config.limits.max_edges = 2345;
        config.limits.max_node_data_bytes = 4096;
        config.limits.max_body_bytes = 3_000_000;
        config.limits.max_page_size = 77;
        config.assets.max_upload_bytes = 5_000_000_000;
        config.assets.upload_url_ttl = Duration::from_secs(90);
        config.assets.download_url_ttl = Duration::from_secs(7200);
        config.kv.max_namespace_chars = 12;
        config.kv.max_key_chars = 34;
        config.kv.max_value_bytes = 5678;
        config.kv.max_entries_per_user = 9;
    });
    async fn server_info_shows_the_configured_limits(app: TestApp) {
        let info = app.data(INFO, json!({})).await["serverInfo"].clone();
        assert_eq!(
            info["limits"],
            json!({ "maxNodes": 1234, "maxEdges": 2345, "maxNodeDataBytes": 4096,
                    "maxBodyBytes": 3_000_000, "maxPageSize": 77, "maxUploadBytes": 5_000_000_000_i64,
                    "uploadUrlTtlSeconds": 90, "downloadUrlTtlSeconds": 7200,
                    "kvMaxNamespaceChars": 12, "kvMaxKeyChars": 34, "kvMaxValueBytes": 5678,
                    "kvMaxEntriesPerUser": 9 })
        );
        // The limits shown are the limits enforced.
        let error = app
            .error("{ kvList(namespace: \"n\", first: 78) { nodes { key } } }", json!({}))
            .await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
        let error = app
            .error("{ kv(namespace: \"thirteen-char\", key: \"k\") { key } }", json!({}))
            .await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
    }
}

mod hosted {
    use super::*;
    use easel::auth::jwt::{JwtConfig, KeySource};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    pub const SECRET: &str = "server-info-secret-that-is-at-least-32-bytes";

    pub fn jwt_mode(config: &mut easel::Config) {
        config.jwt = Some(JwtConfig {
            key: KeySource::Secret(SECRET.into()),
            issuer: None,
            audience: None,
            leeway_secs: 0,
        });
    }

    pub fn token(sub: &str) -> String {
        let claims = json!({ "sub": sub, "exp": chrono::Utc::now().timestamp() + 600 });
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    pub async fn call(app: &TestApp, token: Option<&str>) -> Value {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": INFO }));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send().await.unwrap().json().await.unwrap()
    }
}

on_both_databases! {
    with_config(hosted::jwt_mode);
    async fn in_jwt_mode_server_info_is_for_signed_in_callers_and_tells_no_secret(app: TestApp) {
        let anonymous = hosted::call(app, None).await;
        assert_eq!(code(&anonymous["errors"][0]), "UNAUTHENTICATED", "{anonymous:#}");
        assert_eq!(anonymous["data"], Value::Null);

        let signed_in = hosted::call(app, Some(&hosted::token("carol"))).await;
        assert!(signed_in.get("errors").is_none(), "{signed_in:#}");
        assert_eq!(signed_in["data"]["serverInfo"]["authMode"], "JWT");
        let text = signed_in.to_string();
        let folder = app.dir.path().display().to_string();
        for secret in [hosted::SECRET, folder.as_str(), app.database_url.as_str()] {
            assert!(!text.contains(secret), "serverInfo shows {secret}: {text}");
        }
    }
}
