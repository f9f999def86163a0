//! The key-value store through the public API, on SQLite and PostgreSQL: JSON round trips,
//! literal prefixes, atomic increments, compare-and-set, expiry, flushes, limits, and each
//! user's own namespaces in hosted mode.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{TestApp, code};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const SET: &str = "mutation($ns: String!, $key: String!, $value: JSON, $metadata: JSON,
        $ttl: Int, $expected: Int) {
    kvSet(namespace: $ns, key: $key, value: $value, metadata: $metadata, ttlSeconds: $ttl,
          expectedVersion: $expected) { namespace key value metadata version expiresAt updatedAt } }";

const GET: &str = "query($ns: String!, $key: String!) {
    kv(namespace: $ns, key: $key) { key value metadata version expiresAt } }";

const LIST: &str = "query($ns: String!, $prefix: String, $first: Int, $after: String) {
    kvList(namespace: $ns, prefix: $prefix, first: $first, after: $after) {
        edges { cursor node { key } } nodes { key value }
        pageInfo { hasNextPage hasPreviousPage endCursor } } }";

const INCREMENT: &str = "mutation($ns: String!, $key: String!, $by: Int) {
    kvIncrement(namespace: $ns, key: $key, by: $by) { value version expiresAt } }";

const NAMESPACES: &str = "{ kvNamespaces { name entryCount totalBytes } }";

async fn set(app: &TestApp, ns: &str, key: &str, value: Value) -> Value {
    app.data(SET, json!({ "ns": ns, "key": key, "value": value }))
        .await["kvSet"]
        .clone()
}

async fn get(app: &TestApp, ns: &str, key: &str) -> Value {
    app.data(GET, json!({ "ns": ns, "key": key })).await["kv"].clone()
}

async fn keys(app: &TestApp, ns: &str, prefix: Option<&str>) -> Vec<String> {
    let data = app
        .data(LIST, json!({ "ns": ns, "prefix": prefix, "first": 100 }))
        .await;
    data["kvList"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap().to_owned())
        .collect()
}

/// Rows of `kv_entries` under `key`, read with SQL behind the API.
async fn rows_with_key(app: &TestApp, key: &str) -> i64 {
    let db = app.db().await;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => "SELECT COUNT(*) AS n FROM kv_entries WHERE key = $1",
        _ => "SELECT COUNT(*) AS n FROM kv_entries WHERE key = ?",
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, [key.into()]))
        .await
        .unwrap()
        .unwrap();
    let n = row.try_get::<i64>("", "n").unwrap();
    db.close().await.ok();
    n
}

on_both_databases! {
    async fn every_json_shape_round_trips(app: TestApp) {
        let shapes = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(9_007_199_254_740_993_i64),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(2.718_281_828_459_045_5e-3),
            json!(-0.000_001_5),
            json!(1.5e300),
            json!(""),
            json!("héllo ✨ 日本語 😀 \"quoted\" back\\slash\nnew line\ttab"),
            json!([]),
            json!([1, "two", null, [true, { "x": 2.5 }]]),
            json!({}),
            json!({ "nested": { "deep": [{ "x": null }], "ünïcode key": "ok" }, "n": -7 }),
        ];
        for (i, shape) in shapes.iter().enumerate() {
            let key = format!("shape-{i}");
            let written = set(app, "shapes", &key, shape.clone()).await;
            assert_eq!(written["value"], *shape, "as written: {shape}");
            assert_eq!(written["version"], 1);
            let read = get(app, "shapes", &key).await;
            assert_eq!(read["value"], *shape, "as read: {shape}");
            assert_eq!(read["metadata"], Value::Null);
        }
        // A stored JSON null is an entry; a missing key is not.
        assert_eq!(get(app, "shapes", "shape-0").await["key"], "shape-0");
        assert_eq!(get(app, "shapes", "missing").await, Value::Null);

        let metadata = json!({ "tags": ["a", "é"], "source": { "plugin": "x", "v": 2 } });
        let written = app
            .data(SET, json!({ "ns": "shapes", "key": "with-meta", "value": [1], "metadata": metadata }))
            .await;
        assert_eq!(written["kvSet"]["metadata"], metadata);
        assert_eq!(get(app, "shapes", "with-meta").await["metadata"], metadata);

        // Leaving the value out is not the same as sending null.
        let error = app.error(
            "mutation { kvSet(namespace: \"shapes\", key: \"no-value\") { key } }",
            json!({}),
        ).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        assert_eq!(error["extensions"]["field"], "value");
    }
}

on_both_databases! {
    async fn keys_list_in_order_and_prefixes_match_literally(app: TestApp) {
        let all = ["a", "a%", "a%b", "aXb", "a_", "a_b", "a_b_c", "ab", "b", "z", "é", "😀"];
        // Written out of order, and a neighbouring namespace that must not show.
        for key in all.iter().rev() {
            set(app, "list", key, json!(key)).await;
        }
        set(app, "list-other", "a_b", json!(0)).await;

        assert_eq!(keys(app, "list", None).await, all, "code point order");
        assert_eq!(keys(app, "list", Some("")).await, all);
        assert_eq!(keys(app, "list", Some("a_")).await, ["a_", "a_b", "a_b_c"]);
        assert_eq!(keys(app, "list", Some("a%")).await, ["a%", "a%b"]);
        assert_eq!(keys(app, "list", Some("a_b")).await, ["a_b", "a_b_c"]);
        assert_eq!(keys(app, "list", Some("%")).await, Vec::<String>::new());
        assert_eq!(keys(app, "list", Some("_")).await, Vec::<String>::new());
        assert_eq!(keys(app, "list", Some("é")).await, ["é"]);

        // Pages of 5 walk the whole list once, in order.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let data = app
                .data(LIST, json!({ "ns": "list", "first": 5, "after": after }))
                .await;
            let list = &data["kvList"];
            assert_eq!(list["pageInfo"]["hasPreviousPage"], after.is_some());
            for edge in list["edges"].as_array().unwrap() {
                seen.push(edge["node"]["key"].as_str().unwrap().to_owned());
            }
            pages += 1;
            if list["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = Some(list["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
        }
        assert_eq!(seen, all);
        assert_eq!(pages, 3);

        // Paging inside a prefix stays inside it.
        let data = app
            .data(LIST, json!({ "ns": "list", "prefix": "a_", "first": 2 }))
            .await;
        let after = data["kvList"]["pageInfo"]["endCursor"].clone();
        let data = app
            .data(LIST, json!({ "ns": "list", "prefix": "a_", "first": 2, "after": after }))
            .await;
        assert_eq!(data["kvList"]["nodes"], json!([{ "key": "a_b_c", "value": "a_b_c" }]));
        assert_eq!(data["kvList"]["pageInfo"]["hasNextPage"], false);

        let error = app
            .error(LIST, json!({ "ns": "list", "after": "not-a-cursor" }))
            .await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
    }
}

on_both_databases! {
    async fn two_hundred_concurrent_increments_end_at_exactly_two_hundred(app: TestApp) {
        let calls = (0..200).map(|_| async {
            app.data(INCREMENT, json!({ "ns": "counters", "key": "hits" }))
                .await["kvIncrement"]["value"]
                .as_i64()
                .unwrap()
        });
        let seen: BTreeSet<i64> = futures::future::join_all(calls).await.into_iter().collect();
        // Each increment saw its own result: 1 to 200, none twice.
        assert_eq!(seen, (1..=200).collect::<BTreeSet<i64>>());
        let stored = get(app, "counters", "hits").await;
        assert_eq!(stored["value"], 200);
        assert_eq!(stored["version"], 200);

        let down = app
            .data(INCREMENT, json!({ "ns": "counters", "key": "hits", "by": -250 }))
            .await;
        assert_eq!(down["kvIncrement"]["value"], -50);
    }
}

on_both_databases! {
    async fn only_whole_numbers_can_be_incremented(app: TestApp) {
        for (key, value) in [
            ("text", json!("7")),
            ("fraction", json!(1.5)),
            ("null", json!(null)),
            ("object", json!({ "n": 1 })),
            ("huge", json!(u64::MAX)),
        ] {
            set(app, "inc", key, value.clone()).await;
            let error = app.error(INCREMENT, json!({ "ns": "inc", "key": key })).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{key}: {error:#}");
            let stored = get(app, "inc", key).await;
            assert_eq!((stored["value"].clone(), stored["version"].clone()), (value, json!(1)), "{key}");
        }
        set(app, "inc", "max", json!(i64::MAX)).await;
        let error = app.error(INCREMENT, json!({ "ns": "inc", "key": "max" })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], "by");
        assert_eq!(get(app, "inc", "max").await["value"], json!(i64::MAX));

        // An increment keeps the entry's metadata.
        app.data(SET, json!({ "ns": "inc", "key": "tagged", "value": 10, "metadata": { "unit": "px" } }))
            .await;
        let bumped = app
            .data(INCREMENT, json!({ "ns": "inc", "key": "tagged", "by": 5 }))
            .await;
        assert_eq!(bumped["kvIncrement"]["value"], 15);
        assert_eq!(get(app, "inc", "tagged").await["metadata"], json!({ "unit": "px" }));
    }
}

on_both_databases! {
    async fn a_stale_expected_version_is_a_conflict_and_changes_nothing(app: TestApp) {
        let first = set(app, "cas", "doc", json!({ "v": 1 })).await;
        assert_eq!(first["version"], 1);
        let second = app
            .data(SET, json!({ "ns": "cas", "key": "doc", "value": { "v": 2 }, "expected": 1 }))
            .await;
        assert_eq!(second["kvSet"]["version"], 2);

        let error = app
            .error(SET, json!({ "ns": "cas", "key": "doc", "value": { "v": "stale" }, "expected": 1 }))
            .await;
        assert_eq!(code(&error), "CONFLICT", "{error:#}");
        assert_eq!(error["extensions"]["currentVersion"], 2);
        assert_eq!(error["extensions"]["expectedVersion"], 1);
        let stored = get(app, "cas", "doc").await;
        assert_eq!((stored["value"].clone(), stored["version"].clone()), (json!({ "v": 2 }), json!(2)));

        // 0 means "only if it does not exist".
        let error = app
            .error(SET, json!({ "ns": "cas", "key": "doc", "value": 0, "expected": 0 }))
            .await;
        assert_eq!(code(&error), "CONFLICT");
        let created = app
            .data(SET, json!({ "ns": "cas", "key": "new", "value": 0, "expected": 0 }))
            .await;
        assert_eq!(created["kvSet"]["version"], 1);
        let error = app
            .error(SET, json!({ "ns": "cas", "key": "never", "value": 0, "expected": 4 }))
            .await;
        assert_eq!(code(&error), "CONFLICT");
        assert_eq!(error["extensions"]["currentVersion"], 0);
        assert_eq!(get(app, "cas", "never").await, Value::Null);
        assert_eq!(rows_with_key(app, "never").await, 0);
    }
}

on_both_databases! {
    with_config(|config| config.kv.sweep_every = Duration::from_millis(200));
    async fn expired_entries_vanish_at_once_and_are_swept_later(app: TestApp) {
        set(app, "ttl", "stays", json!("forever")).await;
        let mut expires_at = None;
        for key in ["gone", "counter", "flushed"] {
            let written = app
                .data(SET, json!({ "ns": "ttl", "key": key, "value": 41, "ttl": 1 }))
                .await;
            let at: chrono::DateTime<chrono::Utc> =
                written["kvSet"]["expiresAt"].as_str().unwrap().parse().unwrap();
            let updated: chrono::DateTime<chrono::Utc> =
                written["kvSet"]["updatedAt"].as_str().unwrap().parse().unwrap();
            assert_eq!(at - updated, chrono::Duration::seconds(1));
            expires_at = Some(at);
        }
        let expires_at = expires_at.unwrap();
        let read = get(app, "ttl", "gone").await;
        // Visible while it lives (when this machine was quick enough to look in time).
        if chrono::Utc::now() < expires_at - chrono::Duration::milliseconds(100) {
            assert_eq!(read["value"], 41);
        }

        let wait = (expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(50)).await;

        assert_eq!(get(app, "ttl", "gone").await, Value::Null);
        assert_eq!(keys(app, "ttl", None).await, ["stays"]);
        let namespaces = app.data(NAMESPACES, json!({})).await;
        assert_eq!(namespaces["kvNamespaces"][0]["entryCount"], 1);
        // An expired counter starts again from 0, without the old expiry.
        let counter = app.data(INCREMENT, json!({ "ns": "ttl", "key": "counter" })).await;
        assert_eq!(counter["kvIncrement"], json!({ "value": 1, "version": 1, "expiresAt": null }));
        let deleted = app
            .data("mutation { kvDelete(namespace: \"ttl\", key: \"flushed\") }", json!({}))
            .await;
        assert_eq!(deleted["kvDelete"], false, "an expired entry is not there to delete");

        // The sweep gives the row back.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while rows_with_key(app, "gone").await > 0 {
            assert!(std::time::Instant::now() < deadline, "the expired row was never swept");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(rows_with_key(app, "stays").await, 1);
        assert_eq!(rows_with_key(app, "counter").await, 1);
    }
}

on_both_databases! {
    async fn flush_and_delete_count_what_they_removed(app: TestApp) {
        for key in ["one", "two", "three"] {
            set(app, "flush-me", key, json!(key)).await;
        }
        set(app, "keep-me", "one", json!("kept")).await;

        let deleted = app
            .data("mutation { kvDelete(namespace: \"flush-me\", key: \"two\") }", json!({}))
            .await;
        assert_eq!(deleted["kvDelete"], true);
        let again = app
            .data("mutation { kvDelete(namespace: \"flush-me\", key: \"two\") }", json!({}))
            .await;
        assert_eq!(again["kvDelete"], false);

        let flushed = app.data("mutation { kvFlush(namespace: \"flush-me\") }", json!({})).await;
        assert_eq!(flushed["kvFlush"], 2);
        assert_eq!(keys(app, "flush-me", None).await, Vec::<String>::new());
        assert_eq!(get(app, "keep-me", "one").await["value"], "kept");
        let empty = app.data("mutation { kvFlush(namespace: \"flush-me\") }", json!({})).await;
        assert_eq!(empty["kvFlush"], 0);
        let namespaces = app.data(NAMESPACES, json!({})).await;
        assert_eq!(namespaces["kvNamespaces"], json!([{ "name": "keep-me", "entryCount": 1, "totalBytes": 6 }]));
    }
}

on_both_databases! {
    async fn namespaces_count_entries_and_bytes_of_json(app: TestApp) {
        set(app, "b-space", "s", json!("abc")).await; // "abc": 5 bytes
        set(app, "b-space", "o", json!({ "a": 1 })).await; // {"a":1}: 7 bytes
        app.data(SET, json!({ "ns": "a-space", "key": "m", "value": true, "metadata": { "m": null } }))
            .await; // true: 4, {"m":null}: 10
        set(app, "b-space", "s", json!("abcdef")).await; // replaced: 8 bytes
        let namespaces = app.data(NAMESPACES, json!({})).await;
        assert_eq!(
            namespaces["kvNamespaces"],
            json!([
                { "name": "a-space", "entryCount": 1, "totalBytes": 14 },
                { "name": "b-space", "entryCount": 2, "totalBytes": 15 },
            ])
        );
    }
}

on_both_databases! {
    with_config(|config| {
        config.kv.max_namespace_chars = 8;
        config.kv.max_key_chars = 10;
        config.kv.max_value_bytes = 100;
        config.kv.max_entries_per_user = 3;
    });
    async fn limits_refuse_with_a_clear_error_and_nothing_written(app: TestApp) {
        set(app, "ns", "small", json!("ok")).await;
        let refusals = [
            (json!({ "ns": "ns", "key": "small", "value": "x".repeat(99) }), "value"),
            (json!({ "ns": "ns", "key": "small", "value": 1, "metadata": { "m": "x".repeat(100) } }), "metadata"),
            (json!({ "ns": "with space", "key": "k", "value": 1 }), "namespace"),
            (json!({ "ns": "ninechars", "key": "k", "value": 1 }), "namespace"),
            (json!({ "ns": "", "key": "k", "value": 1 }), "namespace"),
            (json!({ "ns": "ns", "key": "elevenchars", "value": 1 }), "key"),
            (json!({ "ns": "ns", "key": "a\u{0}b", "value": 1 }), "key"),
            (json!({ "ns": "ns", "key": "", "value": 1 }), "key"),
            (json!({ "ns": "ns", "key": "ttl", "value": 1, "ttl": 0 }), "ttlSeconds"),
        ];
        for (variables, field) in refusals {
            let error = app.error(SET, variables.clone()).await;
            assert_eq!(code(&error), "BAD_USER_INPUT", "{variables}: {error:#}");
            assert_eq!(error["extensions"]["field"], field, "{variables}: {error:#}");
        }
        let small = get(app, "ns", "small").await;
        assert_eq!((small["value"].clone(), small["version"].clone()), (json!("ok"), json!(1)));

        // At most three entries per user, over all namespaces; replacing one is not a new one.
        set(app, "ns", "two", json!(2)).await;
        set(app, "other", "three", json!(3)).await;
        let error = app.error(SET, json!({ "ns": "ns", "key": "four", "value": 4 })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        assert!(error["message"].as_str().unwrap().contains("most allowed"), "{error:#}");
        let error = app.error(INCREMENT, json!({ "ns": "ns", "key": "four" })).await;
        assert_eq!(code(&error), "BAD_USER_INPUT", "{error:#}");
        assert_eq!(set(app, "ns", "two", json!(22)).await["version"], 2);
        assert_eq!(get(app, "ns", "four").await, Value::Null);
        let total: i64 = app.data(NAMESPACES, json!({})).await["kvNamespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ns| ns["entryCount"].as_i64().unwrap())
            .sum();
        assert_eq!(total, 3);
        // Room again after a delete.
        app.data("mutation { kvDelete(namespace: \"other\", key: \"three\") }", json!({})).await;
        set(app, "ns", "four", json!(4)).await;

        // An expired entry takes no room: it goes when a new entry needs its place.
        app.data("mutation { kvDelete(namespace: \"ns\", key: \"four\") }", json!({})).await;
        let brief = app.data(SET, json!({ "ns": "ns", "key": "brief", "value": 1, "ttl": 1 })).await;
        let expires_at: chrono::DateTime<chrono::Utc> =
            brief["kvSet"]["expiresAt"].as_str().unwrap().parse().unwrap();
        let wait = (expires_at - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(50)).await;
        set(app, "ns", "five", json!(5)).await;
        assert_eq!(rows_with_key(app, "brief").await, 0);
    }
}

mod hosted {
    use super::*;
    use easel::auth::jwt::{JwtConfig, KeySource};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const SECRET: &str = "kv-test-secret-that-is-at-least-32-bytes";

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

    /// A GraphQL request as the user of `token` (anonymous without one); the whole body.
    pub async fn as_user(
        app: &TestApp,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.send().await.unwrap().json().await.unwrap()
    }
}

on_both_databases! {
    with_config(hosted::jwt_mode);
    async fn each_user_has_their_own_namespaces(app: TestApp) {
        use hosted::{as_user, token};
        let (alice, bob) = (token("alice"), token("bob"));
        let write = |who: String, value: &'static str| async move {
            let body = as_user(app, Some(&who), SET, json!({ "ns": "app", "key": "k", "value": value })).await;
            assert!(body.get("errors").is_none(), "{body:#}");
            body["data"]["kvSet"]["version"].clone()
        };
        assert_eq!(write(alice.clone(), "alice's").await, 1);
        assert_eq!(write(bob.clone(), "bob's").await, 1, "bob's entry is his own, not alice's at version 2");
        as_user(app, Some(&alice), SET, json!({ "ns": "alice-only", "key": "k", "value": 1 })).await;

        let read = |who: String| async move {
            as_user(app, Some(&who), GET, json!({ "ns": "app", "key": "k" })).await["data"]["kv"]["value"].clone()
        };
        assert_eq!(read(alice.clone()).await, "alice's");
        assert_eq!(read(bob.clone()).await, "bob's");
        let bob_namespaces = as_user(app, Some(&bob), NAMESPACES, json!({})).await;
        assert_eq!(bob_namespaces["data"]["kvNamespaces"], json!([{ "name": "app", "entryCount": 1, "totalBytes": 7 }]));
        let bob_list = as_user(app, Some(&bob), LIST, json!({ "ns": "alice-only" })).await;
        assert_eq!(bob_list["data"]["kvList"]["nodes"], json!([]));

        // Bob's increments, deletes and flushes never reach alice's entries.
        let bumped = as_user(app, Some(&bob), INCREMENT, json!({ "ns": "alice-only", "key": "k" })).await;
        assert_eq!(bumped["data"]["kvIncrement"]["value"], 1);
        let flushed = as_user(app, Some(&bob), "mutation { kvFlush(namespace: \"app\") }", json!({})).await;
        assert_eq!(flushed["data"]["kvFlush"], 1);
        assert_eq!(read(alice.clone()).await, "alice's");
        assert_eq!(
            as_user(app, Some(&alice), GET, json!({ "ns": "alice-only", "key": "k" })).await["data"]["kv"]["value"],
            1
        );

        // Anonymous callers have no store.
        for query in [GET, SET, INCREMENT] {
            let body = as_user(app, None, query, json!({ "ns": "app", "key": "k", "value": 1 })).await;
            assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED", "{body:#}");
        }
        let body = as_user(app, None, NAMESPACES, json!({})).await;
        assert_eq!(code(&body["errors"][0]), "UNAUTHENTICATED", "{body:#}");
        assert_eq!(read(alice).await, "alice's");
    }
}
