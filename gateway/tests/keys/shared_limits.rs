//! Two gateway processes sharing one Redis and one key database: a key's rpm limit and budget
//! hold exactly across both; Redis stopped mid-run leaves both serving on local limits (no
//! request fails, the log and `/metrics` say so), and they share again once it is back.
//!
//! Redis comes from `scripts/services.sh start` (which `.ci/run` runs): the shared server at
//! `WASMGATE_TEST_REDIS_URL`, and `WASMGATE_TEST_REDIS_SERVER` for a test that runs its own to
//! stop it. In CI both must be there; elsewhere the tests are skipped with a note.

use crate::common;
use crate::common::databases::sqlite_url;
use crate::common::served::{wasmgate, Served};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wasmgate_test_support::client::{get, post_json, Reply};
use wasmgate_test_support::upstream::Upstream;
use wasmgate_test_support::workspace_root;

const MASTER: (&str, &str) = ("authorization", "Bearer sk-master-replicas");

fn from_env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    if value.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs Redis: start it with scripts/services.sh ({name} is unset)"
        );
        eprintln!("{name} is unset: skipped");
    }
    value
}

/// Two `wasmgate serve` processes on one config: model `gpt` (priced), model `flaky` (always
/// 503) and the router settings `router`.
fn replicas(upstream: &Upstream, redis_url: &str, router: &str) -> (Served, Served) {
    let dir = workspace_root()
        .join("target")
        .join("tmp")
        .join(format!("replicas-{}", common::databases::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "model_list:\n- model_name: gpt\n  litellm_params:\n    model: openai/gpt-4o-mini\n    api_base: {}\n    api_key: sk-upstream\n  model_info:\n    input_cost_per_token: 0.001\n    output_cost_per_token: 0.002\n- model_name: flaky\n  litellm_params:\n    model: openai/error-503\n    api_base: {}\n    api_key: sk-upstream\ngeneral_settings:\n  master_key: sk-master-replicas\n  database_url: {}\nrouter_settings:\n  redis_url: {redis_url}\n{router}",
        upstream.url(),
        upstream.url(),
        sqlite_url(),
    );
    let file = dir.join("replicas.yaml");
    std::fs::write(&file, config).unwrap();
    let serve = || {
        let mut cmd = wasmgate();
        cmd.arg("serve").arg("-c").arg(&file);
        Served::start(cmd)
    };
    (serve(), serve())
}

async fn chat(gw: &Served, key: &str) -> Reply {
    let auth = format!("Bearer {key}");
    post_json(
        &gw.url("/v1/chat/completions"),
        &common::chat_body("gpt"),
        &[("authorization", &auth)],
    )
    .await
}

async fn generate(gw: &Served, body: Value) -> (String, String) {
    let r = post_json(&gw.url("/key/generate"), &body, &[MASTER]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (
        v["key"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    )
}

async fn spend(gw: &Served, token: &str) -> f64 {
    let r = get(&gw.url(&format!("/key/info?key={token}")), &[MASTER]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["info"]["spend"].as_f64().unwrap()
}

/// The value of an unlabelled sample on `/metrics`.
async fn metric(gw: &Served, name: &str) -> Option<f64> {
    let text = get(&gw.url("/metrics"), &[]).await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_a_keys_rpm_and_budget_exactly() {
    let Some(redis_url) = from_env("WASMGATE_TEST_REDIS_URL") else {
        return;
    };
    let upstream = Upstream::start().await;
    let (a, b) = replicas(&upstream, &redis_url, "");

    // 20 requests at once, half to each replica: exactly 10 get through.
    let (key, _) = generate(&a, json!({"rpm_limit": 10})).await;
    let sent = (0..20).map(|i| {
        let gw = if i % 2 == 0 { &a } else { &b };
        chat(gw, &key)
    });
    let replies = futures::future::join_all(sent).await;
    let mut admitted = 0;
    for r in &replies {
        match r.status.as_u16() {
            200 => admitted += 1,
            429 => assert!(r.text().contains("rpm_limit"), "{}", r.text()),
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert_eq!(admitted, 10);

    // A budget spent on both: once each answer's cost is recorded, the third answer crosses
    // 0.03 and both replicas refuse from then on.
    let (key, token) = generate(&b, json!({"max_budget": 0.03})).await;
    let mut spent = 0.0;
    let mut answered = 0;
    for i in 0..6 {
        let (gw, other) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let r = chat(gw, &key).await;
        match r.status.as_u16() {
            200 => {
                answered += 1;
                spent += r
                    .header("x-litellm-response-cost")
                    .unwrap()
                    .parse::<f64>()
                    .unwrap();
                // The other replica sees the spend (bounded wait: it is settled after the
                // answer is sent).
                let deadline = Instant::now() + Duration::from_secs(10);
                while (spend(other, &token).await - spent).abs() > 1e-9 {
                    assert!(Instant::now() < deadline, "spend {spent} not shared");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            429 => {
                let error = &r.json()["error"];
                assert_eq!(error["code"], "budget_exceeded", "{}", r.text());
            }
            other => panic!("{other}: {}", r.text()),
        }
    }
    assert_eq!(answered, 3, "0.013 a request: the third crosses 0.03");
    assert_eq!(metric(&a, "wasmgate_shared_state_up").await, Some(1.0));
    assert_eq!(
        metric(&b, "wasmgate_shared_state_fallbacks_total").await,
        Some(0.0)
    );
}

/// A Redis of this test's own on a free port.
struct OwnRedis {
    binary: String,
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(binary: &str) -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = OwnRedis {
            binary: binary.to_string(),
            port,
            child: None,
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server listens");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_keep_serving_on_local_limits_when_redis_stops() {
    let Some(binary) = from_env("WASMGATE_TEST_REDIS_SERVER") else {
        return;
    };
    let mut redis = OwnRedis::start(&binary);
    let upstream = Upstream::start().await;
    let (a, b) = replicas(&upstream, &redis.url(), "");
    let (key, _) = generate(&a, json!({"rpm_limit": 1000, "max_budget": 100.0})).await;
    for i in 0..30 {
        if i == 10 {
            redis.stop();
        }
        let gw = if i % 2 == 0 { &a } else { &b };
        let r = chat(gw, &key).await;
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
    }
    for gw in [&a, &b] {
        assert_eq!(metric(gw, "wasmgate_shared_state_up").await, Some(0.0));
        let fallbacks = metric(gw, "wasmgate_shared_state_fallbacks_total").await;
        assert!(fallbacks.unwrap() >= 5.0, "{fallbacks:?}");
        let said = gw.log_events(Duration::from_secs(5), |e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Redis is unreachable"))
        });
        assert_eq!(said.len(), 1, "the replica logs that it lost Redis");
    }

    // Back: within a few requests both share again.
    redis.restart();
    for gw in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            assert_eq!(chat(gw, &key).await.status, 200);
            if metric(gw, "wasmgate_shared_state_up").await == Some(1.0) {
                break;
            }
            assert!(Instant::now() < deadline, "the replica uses Redis again");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `/admin/deployments` entry of model `model`.
async fn deployment(gw: &Served, model: &str) -> Value {
    let r = get(&gw.url("/admin/deployments"), &[MASTER]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["model_name"] == model)
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_cooldowns_and_minute_counts() {
    let Some(redis_url) = from_env("WASMGATE_TEST_REDIS_URL") else {
        return;
    };
    let upstream = Upstream::start().await;
    let router = "  num_retries: 0\n  allowed_fails: 2\n  cooldown_time: 60\n";
    let (a, b) = replicas(&upstream, &redis_url, router);
    let auth = [("authorization", "Bearer sk-master-replicas")];

    // Requests on A count on B (within a sync interval).
    for _ in 0..4 {
        let r = post_json(
            &a.url("/v1/chat/completions"),
            &crate::common::chat_body("gpt"),
            &auth,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while deployment(&b, "gpt").await["requests_this_minute"] != 4 {
        assert!(Instant::now() < deadline, "B sees A's requests");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Three failures on A (more than allowed_fails) cool the deployment down on B too.
    for _ in 0..3 {
        let r = post_json(
            &a.url("/v1/chat/completions"),
            &crate::common::chat_body("flaky"),
            &auth,
        )
        .await;
        assert_eq!(r.status, 503, "{}", r.text());
    }
    assert_eq!(deployment(&a, "flaky").await["health"], "cooling_down");
    let deadline = Instant::now() + Duration::from_secs(10);
    while deployment(&b, "flaky").await["health"] != "cooling_down" {
        assert!(Instant::now() < deadline, "B sees A's cooldown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = deployment(&b, "flaky").await["cooldown_remaining_s"]
        .as_f64()
        .unwrap();
    assert!(left > 50.0 && left <= 60.0, "{left}");
}
