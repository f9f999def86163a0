//! GraphQL over HTTP to the server under test, as the web client speaks it, and the checks every
//! answer goes through: a non-200 status or an `errors` key is a failure, never a result.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

/// Longest one request may take before the benchmark gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// The public API of the server under test.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// Just enough of an answer to tell success from failure without building a tree.
#[derive(Deserialize)]
struct Answer {
    data: Option<IgnoredAny>,
    errors: Option<IgnoredAny>,
}

/// A GraphQL request body, serialized once so that timing leaves the client's serializer out.
pub fn body(query: &str, variables: Value) -> Bytes {
    Bytes::from(serde_json::to_vec(&json!({ "query": query, "variables": variables })).unwrap())
}

/// Why an answer is a failure, or `Ok` when it is a success.
pub fn check(status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status != StatusCode::OK {
        return Err(format!("HTTP {status}: {}", excerpt(body)));
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer {
            errors: Some(_), ..
        }) => Err(format!("errors: {}", excerpt(body))),
        Ok(Answer { data: Some(_), .. }) => Ok(()),
        Ok(_) => Err(format!("no data: {}", excerpt(body))),
        Err(e) => Err(format!("not JSON ({e}): {}", excerpt(body))),
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    text.into_owned()
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            client: client(),
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        for _ in 0..400 {
            if let Ok(response) = self.client.get(self.url("/readyz")).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server did not become ready");
    }

    /// Sends a prepared GraphQL body; the status and the whole answer, unparsed.
    pub async fn post(&self, body: Bytes) -> Result<(StatusCode, Bytes), String> {
        let response = self
            .client
            .post(self.url("/graphql"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {e}"))?;
        Ok((status, bytes))
    }

    /// Sends a prepared body and times it to the last byte of the answer; panics on a failure
    /// (checked after the clock stopped).
    pub async fn timed(&self, body: Bytes) -> (Duration, Bytes) {
        let started = Instant::now();
        let (status, answer) = self.post(body).await.unwrap_or_else(|e| panic!("{e}"));
        let elapsed = started.elapsed();
        if let Err(e) = check(status, &answer) {
            panic!("{e}");
        }
        (elapsed, answer)
    }

    /// A GraphQL request that must succeed; its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let (status, answer) = self
            .post(body(query, variables))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = check(status, &answer) {
            panic!("{e}");
        }
        let mut value: Value = serde_json::from_slice(&answer).unwrap();
        value["data"].take()
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
        crate::text::statements_total(&text)
    }
}

/// An HTTP client with the benchmark's time limit; each holds its own connections.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

/// The middle value (the lower one of the two middle values of an even count).
pub fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[(sorted.len() - 1) / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
