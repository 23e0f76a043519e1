//! The test upstream as a process, for benchmarks: `wasmgate-upstream [PORT]` serves the
//! OpenAI-compatible scripted upstream on 127.0.0.1:PORT (default 9100) until killed.

use wasmgate_test_support::Upstream;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9100);
    let upstream = Upstream::start_on(([127, 0, 0, 1], port).into(), false).await;
    println!("wasmgate-upstream listening on {}", upstream.origin());
    let _ = tokio::signal::ctrl_c().await;
}
