//! The `wasmgate` binary as a test runs it: a `serve` process on an ephemeral port, its JSON
//! log lines read as they come.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use wasmgate_test_support::workspace_root;

/// The `wasmgate` binary with the tests' compile cache and no inherited config or log filter.
pub fn wasmgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmgate"));
    cmd.env(
        "WASMGATE_CACHE_DIR",
        workspace_root().join("target").join("wasmgate-test-cache"),
    )
    .env_remove("WASMGATE_CONFIG")
    .env_remove("RUST_LOG");
    cmd
}

/// A running `wasmgate serve`: its address and its log lines.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// `IP:PORT` it listens on.
    pub addr: String,
    /// The log events before the listening line.
    pub startup: Vec<serde_json::Value>,
    /// Log lines after the listening line.
    pub logs: std::sync::mpsc::Receiver<String>,
}

impl Served {
    pub fn start(mut cmd: Command) -> Served {
        let mut child = cmd
            .args(["--port", "0", "--log-format", "json"])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start wasmgate");
        let stderr = child.stderr.take().unwrap();
        let (tx, logs) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut startup = Vec::new();
        let addr = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(120))
                .expect("a listening log line");
            let event: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
            let message = event["fields"]["message"].as_str().unwrap_or_default();
            if let Some(rest) = message.strip_prefix("wasmgate listening on http://") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            startup.push(event);
        };
        Served {
            child,
            addr,
            startup,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Log events received within `wait` whose fields satisfy `wanted`.
    pub fn log_events(
        &self,
        wait: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + wait;
        let mut found = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.logs.recv_timeout(left) {
                Ok(line) => {
                    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
                    if wanted(&event) {
                        found.push(event);
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        found
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
