//! The front door over real loopback sockets: slow and partial clients are cut off by their
//! timeouts while others are served, the connection cap refuses and recovers, an HTTP/2 client
//! resetting streams in a loop is disconnected, and HTTPS (ALPN, mTLS, bad certificates).

mod common;

use common::{chat_body, url};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgate::config::Config;
use wasmgate::Gateway;
use wasmgate_test_support::client::post_json;
use wasmgate_test_support::pki::TestPki;
use wasmgate_test_support::workspace_root;

const DEMO: &str = "model_list:\n- model_name: demo\n  litellm_params:\n    model: mock/demo\n";

async fn start(server: &str) -> Gateway {
    let yaml = format!("{DEMO}server:\n{server}");
    let config = Config::parse(&yaml, "front.yaml").unwrap_or_else(|e| panic!("{e}"));
    Gateway::start(&config, common::options())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Reads until the peer closes; `true` if it closed within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn demo_ok(gw: &Gateway) -> bool {
    post_json(&url(gw, "/v1/chat/completions"), &chat_body("demo"), &[])
        .await
        .status
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_headers_are_cut_off_by_the_header_timeout_while_others_are_served() {
    let gw = start("  header_timeout_s: 1\n").await;
    let mut held = Vec::new();
    for _ in 0..1000 {
        let mut s = TcpStream::connect(gw.addr).await.unwrap();
        s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        held.push(s);
    }
    assert!(
        demo_ok(&gw).await,
        "served while 1,000 partial requests are held"
    );
    let started = Instant::now();
    let closed = futures::future::join_all(
        held.iter_mut()
            .map(|s| closed_within(s, Duration::from_secs(15))),
    )
    .await;
    assert!(
        closed.iter().all(|c| *c),
        "every partial connection is closed"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(demo_ok(&gw).await);
}

#[tokio::test]
async fn a_body_trickled_byte_by_byte_gets_408() {
    let gw = start("  body_timeout_s: 1\n").await;
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(10) {
        let _ = s.write_all(b" ").await;
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}}") {
                    break;
                }
            }
            Ok(Err(_)) => break,
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(text.contains("did not arrive within 1 s"), "{text}");
}

#[tokio::test]
async fn the_connection_cap_refuses_past_it_and_serves_again_once_connections_close() {
    let gw = start("  max_connections: 4\n  connection_wait_ms: 50\n").await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(gw.addr).await.unwrap());
    }
    // Let the server take all four before the fifth arrives.
    let started = Instant::now();
    while gw.front.accepted_connections() < 4 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut fifth = TcpStream::connect(gw.addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /health/liveliness HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    assert!(closed_within(&mut fifth, Duration::from_secs(5)).await);
    assert_eq!(gw.front.refused_connections(), 1);
    drop(held);
    let started = Instant::now();
    let mut served = false;
    while !served && started.elapsed() < Duration::from_secs(5) {
        served = demo_ok(&gw).await;
    }
    assert!(served, "served again once the held connections closed");
}

/// An HTTP/2 connection (prior knowledge) that opens `streams` POST streams and resets each at
/// once, all in one write, as a rapid-reset attacker sends them.
async fn rapid_resets(gw: &Gateway, streams: u32) -> TcpStream {
    let frame = |kind: u8, flags: u8, stream: u32, payload: &[u8]| {
        let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        f.extend([kind, flags]);
        f.extend(stream.to_be_bytes());
        f.extend(payload);
        f
    };
    let mut burst = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    burst.extend(frame(0x4, 0, 0, &[])); // SETTINGS
    for n in 0..streams {
        let id = 2 * n + 1;
        // HEADERS, END_HEADERS: :method POST, :scheme http, :path / (HPACK static table).
        burst.extend(frame(0x1, 0x4, id, &[0x83, 0x86, 0x84]));
        burst.extend(frame(0x3, 0, id, &8u32.to_be_bytes())); // RST_STREAM CANCEL
    }
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(&burst).await.unwrap();
    tcp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_resetting_streams_in_a_loop_is_disconnected_while_others_are_served() {
    let gw = start("").await;
    let mut attacker = rapid_resets(&gw, 1000).await;
    assert!(
        closed_within(&mut attacker, Duration::from_secs(10)).await,
        "the server closes the resetting connection"
    );
    assert!(demo_ok(&gw).await, "others are served");
    // The same burst under a limit it does not reach keeps its connection: the closing above
    // is the limit's doing.
    let lenient = start("  http2_max_pending_resets: 100000\n").await;
    let mut attacker = rapid_resets(&lenient, 1000).await;
    assert!(!closed_within(&mut attacker, Duration::from_secs(2)).await);
}

fn pki(name: &str) -> TestPki {
    TestPki::create(
        &workspace_root()
            .join("target")
            .join("test-pki")
            .join(format!("{name}-{}", std::process::id())),
    )
}

async fn start_tls(pki: &TestPki, extra: &str) -> Result<Gateway, String> {
    let yaml = format!(
        "{DEMO}server:\n  tls_cert_file: {}\n  tls_key_file: {}\n{extra}",
        pki.server.cert.display(),
        pki.server.key.display()
    );
    let config = Config::parse(&yaml, "front.yaml").map_err(|e| e.to_string())?;
    Gateway::start(&config, common::options())
        .await
        .map_err(|e| e.to_string())
}

/// curl over HTTPS: (exit status, HTTP version, body).
fn curl(gw: &Gateway, pki: &TestPki, path: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&pki.ca)
        .args(["-w", "\n%{http_version}"])
        .args(args)
        .arg(format!("https://127.0.0.1:{}{path}", gw.addr.port()))
        .output()
        .expect("curl");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, version) = stdout.rsplit_once('\n').unwrap_or((&stdout, ""));
    (out.status.success(), version.to_string(), body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_http2_by_alpn_for_curl() {
    let pki = pki("https");
    let gw = start_tls(&pki, "").await.unwrap();
    assert!(gw.tls);
    let chat = serde_json::to_string(&chat_body("demo")).unwrap();
    let (ok, version, body) = tokio::task::block_in_place(|| {
        curl(
            &gw,
            &pki,
            "/v1/chat/completions",
            &[
                "--http2",
                "-H",
                "content-type: application/json",
                "-d",
                &chat,
            ],
        )
    });
    assert!(ok, "{body}");
    assert_eq!(version, "2", "HTTP/2 negotiated by ALPN");
    assert!(body.contains("This is a mock response to: Hi"), "{body}");
    let mut stream = chat_body("demo");
    stream["stream"] = true.into();
    let stream = serde_json::to_string(&stream).unwrap();
    let (ok, version, body) = tokio::task::block_in_place(|| {
        curl(
            &gw,
            &pki,
            "/v1/chat/completions",
            &[
                "--http1.1",
                "-N",
                "-H",
                "content-type: application/json",
                "-d",
                &stream,
            ],
        )
    });
    assert!(ok && version == "1.1", "{version} {body}");
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let (ok, _, body) = tokio::task::block_in_place(|| {
        curl(
            &gw,
            &pki,
            "/v1/embeddings",
            &[
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"model":"demo","input":"hi"}"#,
            ],
        )
    });
    assert!(ok && body.contains("\"embedding\""), "{body}");
    // Plain HTTP to the TLS port is not served.
    let mut plain = TcpStream::connect(gw.addr).await.unwrap();
    let _ = plain
        .write_all(b"GET /health/liveliness HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("alive"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_refuses_clients_without_a_certificate_from_the_ca() {
    let pki = pki("mtls");
    let gw = start_tls(
        &pki,
        &format!("  tls_client_ca_file: {}\n", pki.ca.display()),
    )
    .await
    .unwrap();
    let cert = |pair: &wasmgate_test_support::pki::Pair| {
        vec![
            "--cert".to_string(),
            pair.cert.display().to_string(),
            "--key".to_string(),
            pair.key.display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tokio::task::block_in_place(|| curl(&gw, &pki, "/health/liveliness", &args))
    };
    let (ok, _, body) = run(cert(&pki.client));
    assert!(ok && body.contains("alive"), "{body}");
    let (ok, _, _) = run(Vec::new());
    assert!(!ok, "no client certificate");
    let (ok, _, _) = run(cert(&pki.stranger));
    assert!(!ok, "a certificate from another CA");
}

#[tokio::test]
async fn an_expired_or_mismatched_certificate_is_refused_at_start() {
    let pki = pki("bad");
    let expired = format!(
        "{DEMO}server:\n  tls_cert_file: {}\n  tls_key_file: {}\n",
        pki.expired.cert.display(),
        pki.expired.key.display()
    );
    let config = Config::parse(&expired, "front.yaml").unwrap();
    let e = Gateway::start(&config, common::options())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("expired on 2021-01-01 00:00:00 UTC"), "{e}");
    let mismatched = format!(
        "{DEMO}server:\n  ssl_certfile_path: {}\n  ssl_keyfile_path: {}\n",
        pki.server.cert.display(),
        pki.client.key.display()
    );
    let config = Config::parse(&mismatched, "front.yaml").unwrap();
    let e = Gateway::start(&config, common::options())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("does not belong to the certificate"), "{e}");
    let half = format!(
        "{DEMO}server:\n  tls_cert_file: {}\n",
        pki.server.cert.display()
    );
    let e = Config::parse(&half, "front.yaml").unwrap_err().to_string();
    assert!(e.contains("TLS needs both"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let pki = pki("reload");
    let live = pki.server.cert.with_file_name("live.pem");
    let live_key = pki.server.key.with_file_name("live-key.pem");
    std::fs::copy(&pki.server.cert, &live).unwrap();
    std::fs::copy(&pki.server.key, &live_key).unwrap();
    let yaml = format!(
        "{DEMO}server:\n  tls_cert_file: {}\n  tls_key_file: {}\n  tls_reload_s: 0.2\n",
        live.display(),
        live_key.display()
    );
    let config = Config::parse(&yaml, "front.yaml").unwrap();
    let gw = Gateway::start(&config, common::options()).await.unwrap();
    let serial = |gw: &Gateway| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect 127.0.0.1:{} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
                gw.addr.port()
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = tokio::task::block_in_place(|| serial(&gw));
    assert!(before.contains("Fingerprint"), "{before}");
    // A renewal: a new certificate and key for the same names, written in place.
    let renewed = TestPki::create(&live.with_file_name("renewed"));
    std::fs::copy(&renewed.server.key, &live_key).unwrap();
    std::fs::copy(&renewed.server.cert, &live).unwrap();
    let started = Instant::now();
    let mut after = before.clone();
    while after == before && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        after = tokio::task::block_in_place(|| serial(&gw));
    }
    assert_ne!(after, before, "the renewed certificate is served");
    let _ = Arc::new(());
}

#[tokio::test]
async fn an_idle_connection_is_closed_but_a_slow_answer_is_not_cut() {
    let yaml = format!(
        "{DEMO}- model_name: slow\n  litellm_params:\n    model: mock/demo\n    settings:\n      mock_latency_ms: 1500\nserver:\n  idle_timeout_s: 0.5\n  header_timeout_s: 30\n"
    );
    let config = Config::parse(&yaml, "front.yaml").unwrap();
    let gw = Gateway::start(&config, common::options()).await.unwrap();
    let body = serde_json::to_string(&chat_body("slow")).unwrap();
    let mut s = TcpStream::connect(gw.addr).await.unwrap();
    s.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "a 1.5 s answer on a 0.5 s idle timeout: {head}"
    );
    let started = Instant::now();
    assert!(
        closed_within(&mut s, Duration::from_secs(5)).await,
        "then the idle connection is closed"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}
