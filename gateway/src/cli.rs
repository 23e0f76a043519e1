//! The command line: `wasmgate serve`, `wasmgate check-config`, `wasmgate adapters`,
//! `wasmgate new`.

use crate::admin::AdapterSummary;
use crate::config::{Config, ConfigErrors};
use crate::gateway::{Gateway, GatewayOptions};
use crate::logging::LogFormat;
use crate::registry::Registry;
use crate::scaffold::Language;
use clap::{Args, Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use wasmgate_runtime::{Runtime, RuntimeConfig};

/// An OpenAI-compatible LLM gateway whose provider adapters run as sandboxed Wasm components.
#[derive(Parser, Debug)]
#[command(
    name = "wasmgate",
    version,
    about,
    long_about = None,
    after_help = "Examples:\n  wasmgate serve                          # every built-in provider as provider/model; mock/demo works offline\n  wasmgate serve -c config.yaml           # a LiteLLM-style config (model_list, router_settings, ...)\n  wasmgate serve --model ollama/llama3    # one model, no config file\n  wasmgate check-config config.yaml       # every error and warning, with lines"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Log level: error, warn, info, debug or trace (or a tracing filter such as
    /// `wasmgate=debug`) [default: RUST_LOG, else info].
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `wasmgate adapters` does besides listing.
#[derive(Subcommand, Debug)]
pub enum AdaptersAction {
    /// Print a component's imports (and whether adapters may have each), exports and `info()`,
    /// without serving it; exits non-zero when it would not load as an adapter.
    Inspect {
        /// The component file.
        file: PathBuf,
    },
    /// Run the standard adapter suite against a component with a loopback fixture that speaks
    /// its wire format (info, chat, stream, tools, embeddings, error mapping, sandbox limits,
    /// imports) and print a pass/fail table; exits non-zero when a check fails.
    #[command(
        after_help = "Examples:\n  wasmgate adapters test acme.wasm\n  wasmgate adapters test acme.wasm --wire anthropic --model claude-text"
    )]
    Test {
        /// The component file.
        file: PathBuf,
        /// The model name for the chat checks (default: the wire's).
        #[arg(long)]
        model: Option<String>,
        /// The wire format to test against: openai, anthropic, azure, gemini, cohere, ollama,
        /// vertex_ai, bedrock or offline (default: guessed from the adapter's info()).
        #[arg(long)]
        wire: Option<String>,
    },
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the gateway. Without --config, every built-in provider is served by
    /// `provider/model` name (keys from OPENAI_API_KEY etc.); `mock/<anything>` works offline.
    #[command(
        after_help = "Examples:\n  wasmgate serve\n  wasmgate serve -c config.yaml --port 8000\n  wasmgate serve --model ollama/llama3 --api-base http://localhost:11434\n  wasmgate serve --model openai/gpt-4o-mini --alias gpt   # key from OPENAI_API_KEY"
    )]
    Serve(ServeArgs),
    /// Validate a config file: every error and warning in file order, with its line; exits
    /// non-zero on errors. Loads the adapters as `serve` would.
    #[command(
        after_help = "Examples:\n  wasmgate check-config config.yaml\n  wasmgate check-config -c config.yaml --format json   # for CI"
    )]
    CheckConfig(CheckConfigArgs),
    /// List built-in and configured adapters: version, capabilities, sha256, egress grants.
    #[command(
        after_help = "Examples:\n  wasmgate adapters\n  wasmgate adapters -c config.yaml\n  wasmgate adapters inspect acme.wasm\n  wasmgate adapters test acme.wasm"
    )]
    Adapters {
        /// A config file whose adapters to include.
        #[arg(long, short, env = "WASMGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Inspect one component instead of listing.
        #[command(subcommand)]
        action: Option<AdaptersAction>,
    },
    /// Create a new adapter project (WIT, guest SDK, a working OpenAI-compatible adapter to start
    /// from, build script, end-to-end test, README).
    #[command(
        after_help = "Examples:\n  wasmgate new acme --lang python\n  wasmgate new acme --lang rust --dir adapters/"
    )]
    New {
        /// The adapter's name: lowercase letters, digits and '-'.
        name: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value_t = Language::Rust)]
        lang: Language,
        /// The folder to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// Options of `check-config`.
#[derive(Args, Debug)]
pub struct CheckConfigArgs {
    /// The config file (LiteLLM `model_list` format plus `adapters:`).
    #[arg(required_unless_present = "config", conflicts_with = "config")]
    pub file: Option<PathBuf>,
    /// The config file, as for `serve`.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormat,
}

/// How `check-config` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// One line per problem, then a summary.
    Human,
    /// One JSON object: `ok`, `errors`, `warnings`, `notes`, `models`, `adapters`.
    Json,
}

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, env = "WASMGATE_CONFIG", conflicts_with = "model")]
    pub config: Option<PathBuf>,
    /// Serve this `provider/model` without a config file (repeat for more); like
    /// `litellm --model`.
    #[arg(long, value_name = "PROVIDER/MODEL")]
    pub model: Vec<String>,
    /// The API base for --model (e.g. a local Ollama or vLLM).
    #[arg(long, requires = "model", value_name = "URL")]
    pub api_base: Option<String>,
    /// The name clients use for --model [default: the --model value].
    #[arg(long, requires = "model", value_name = "NAME")]
    pub alias: Option<String>,
    /// Address to listen on [default: the config's server.host, else 127.0.0.1].
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// Port to listen on [default: the config's server.port, else 4000].
    #[arg(long, short)]
    pub port: Option<u16>,
    /// Where compiled adapters are cached [default: ~/.cache/wasmgate].
    #[arg(long, env = "WASMGATE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile adapters at every start instead of caching them.
    #[arg(long)]
    pub no_cache: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; overrides
    /// server.tls_cert_file).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates issued by this PEM CA (mTLS).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Allocate instances on demand instead of from a pre-reserved pool (slower per call; for
    /// environments that limit virtual memory, or profilers such as valgrind).
    #[arg(long)]
    pub no_pooling: bool,
    /// Serving threads, each with its own single-threaded runtime and listener on the shared
    /// port [default: the config's server.threads, else one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..), conflicts_with = "work_stealing")]
    pub threads: Option<u16>,
    /// Serve every connection from one listener on Tokio's shared work-stealing runtime instead
    /// of one single-threaded runtime per core (to compare; see docs/performance.md).
    #[arg(long)]
    pub work_stealing: bool,
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let config = match path {
        Some(p) => Config::load(p).map_err(|e| {
            for w in &e.warnings {
                tracing::warn!("{w}");
            }
            anyhow::anyhow!("{e}")
        })?,
        None => Config::default(),
    };
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    for n in &config.notices {
        tracing::info!("{n}");
    }
    Ok(config)
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::New { name, lang, dir } => {
            let root = crate::scaffold::create(&name, lang, &dir)?;
            println!(
                "created {} ({lang} adapter)\nnext: cd {} && ./build.sh && python3 test_adapter.py",
                root.display(),
                root.display()
            );
            Ok(())
        }
        Command::CheckConfig(args) => check_config(args).await,
        Command::Adapters {
            action: Some(AdaptersAction::Inspect { file }),
            ..
        } => inspect(&file).await,
        Command::Adapters {
            action: Some(AdaptersAction::Test { file, model, wire }),
            ..
        } => test_adapter(&file, crate::testkit::Options { wire, model }).await,
        Command::Adapters { config, .. } => {
            let config = load_config(config.as_ref())?;
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let registry = Registry::load(&runtime, &config).await?;
            for (name, loaded) in &registry.adapters {
                print!("{}", AdapterSummary::of_loaded(name, loaded).human());
            }
            Ok(())
        }
    }
}

/// `wasmgate adapters test FILE`.
async fn test_adapter(
    file: &std::path::Path,
    options: crate::testkit::Options,
) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let label = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = crate::testkit::run(&runtime, &label, bytes, &options).await;
    print!("{}", report.table());
    if report.passed() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} failed the adapter suite",
            file.display()
        ))
    }
}

/// `wasmgate adapters inspect FILE`.
async fn inspect(file: &std::path::Path) -> anyhow::Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let shape = runtime.component_shape(bytes).await?;
    println!("{}", file.display());
    println!("  imports:");
    for (name, allowed) in &shape.imports {
        let note = if *allowed {
            ""
        } else {
            "   <- not allowed for adapters"
        };
        println!("    {name}{note}");
    }
    println!("  exports:");
    for name in &shape.exports {
        println!("    {name}");
    }
    match runtime
        .load_file(file, wasmgate_runtime::AdapterPolicy::default())
        .await
    {
        Ok(adapter) => {
            let source = file.display().to_string();
            let name = adapter.info().name.clone();
            print!("{}", AdapterSummary::of(&name, &source, &adapter).human());
            println!("  description:   {}", adapter.info().description);
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// The config `serve --model` stands for: one deployment per model, no file.
fn single_model_config(args: &ServeArgs) -> anyhow::Result<Config> {
    if args.alias.is_some() && args.model.len() > 1 {
        anyhow::bail!("--alias names one model; give one --model with it");
    }
    let mut lines = String::from("model_list:\n");
    for model in &args.model {
        let name = args.alias.as_deref().unwrap_or(model);
        lines.push_str(&format!(
            "  - model_name: {}\n    litellm_params:\n      model: {}\n",
            yaml_string(name),
            yaml_string(model)
        ));
        if let Some(base) = &args.api_base {
            lines.push_str(&format!("      api_base: {}\n", yaml_string(base)));
        }
    }
    let mut config = Config::parse(&lines, "--model").map_err(|e| anyhow::anyhow!("{e}"))?;
    config.file = None;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(config)
}

/// `text` as a double-quoted YAML string.
fn yaml_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

async fn check_config(args: CheckConfigArgs) -> anyhow::Result<()> {
    let file = args
        .file
        .or(args.config)
        .ok_or_else(|| anyhow::anyhow!("give the config file"))?;
    let report = match Config::load(&file) {
        Ok(config) => {
            let runtime = Runtime::new(RuntimeConfig::default())?;
            match Registry::load(&runtime, &config).await {
                Ok(registry) => Report::loaded(&config, &registry),
                Err(e) => Report::failed(
                    &ConfigErrors {
                        errors: Vec::new(),
                        warnings: config.warnings.clone(),
                    },
                    e.to_string()
                        .lines()
                        .map(|l| (None, l.to_string(), l.to_string()))
                        .collect(),
                    &config.notices,
                ),
            }
        }
        Err(e) => Report::failed(
            &e,
            e.errors
                .iter()
                .map(|e| (e.line, e.to_string(), e.message.clone()))
                .collect(),
            &[],
        ),
    };
    match args.format {
        ReportFormat::Human => report.print_human(&file),
        ReportFormat::Json => println!("{}", report.json(&file)),
    }
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "{} has {} error{}",
            file.display(),
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" }
        ))
    }
}

/// What `check-config` found.
struct Report {
    /// (line, `file:line: message`, message), in file order.
    errors: Vec<(Option<usize>, String, String)>,
    warnings: Vec<crate::config::Diagnostic>,
    notes: Vec<crate::config::Diagnostic>,
    models: Vec<String>,
    adapters: usize,
}

impl Report {
    fn loaded(config: &Config, registry: &Registry) -> Report {
        Report {
            errors: Vec::new(),
            warnings: config.warnings.clone(),
            notes: config.notices.clone(),
            models: registry.model_names(),
            adapters: registry.adapters.len(),
        }
    }

    fn failed(
        e: &ConfigErrors,
        errors: Vec<(Option<usize>, String, String)>,
        notes: &[crate::config::Diagnostic],
    ) -> Report {
        Report {
            errors,
            warnings: e.warnings.clone(),
            notes: notes.to_vec(),
            models: Vec::new(),
            adapters: 0,
        }
    }

    /// Errors and warnings interleaved by line, then notes.
    fn print_human(&self, file: &std::path::Path) {
        let mut lines: Vec<(usize, &str, &str)> = self
            .errors
            .iter()
            .map(|(l, text, _)| (l.unwrap_or(0), "error", text.as_str()))
            .chain(
                self.warnings
                    .iter()
                    .map(|w| (w.line.unwrap_or(0), "warning", w.text.as_str())),
            )
            .collect();
        lines.sort_by_key(|(l, _, _)| *l);
        for (_, severity, text) in lines {
            println!("{severity}: {text}");
        }
        for n in &self.notes {
            println!("note: {n}");
        }
        if self.errors.is_empty() {
            println!(
                "{}: ok ({} model names, {} adapters, {} warnings)",
                file.display(),
                self.models.len(),
                self.adapters,
                self.warnings.len()
            );
        }
    }

    fn json(&self, file: &std::path::Path) -> serde_json::Value {
        let located =
            |line: Option<usize>, text: &str| serde_json::json!({"line": line, "message": text});
        serde_json::json!({
            "file": file.display().to_string(),
            "ok": self.errors.is_empty(),
            "errors": self.errors.iter().map(|(l, _, m)| located(*l, m)).collect::<Vec<_>>(),
            "warnings": self.warnings.iter().map(|w| located(w.line, &w.message)).collect::<Vec<_>>(),
            "notes": self.notes.iter().map(|n| located(n.line, &n.message)).collect::<Vec<_>>(),
            "models": self.models,
            "adapters": self.adapters,
        })
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = if args.model.is_empty() {
        load_config(args.config.as_ref())?
    } else {
        single_model_config(&args)?
    };
    let host = match (args.host, config.server.host) {
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => IpAddr::from([127, 0, 0, 1]),
    };
    let port = args.port.or(config.server.port).unwrap_or(4000);
    let mut config = config;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let reload_every = config
            .server
            .front
            .tls
            .as_ref()
            .map_or(std::time::Duration::from_secs(60), |t| t.reload_every);
        config.server.front.tls = Some(crate::front::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: args.tls_client_ca.clone(),
            reload_every,
        });
    }
    let defaults = GatewayOptions::default();
    let options = GatewayOptions {
        listen: SocketAddr::new(host, port),
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.or(defaults.cache_dir.clone())
        },
        pooling: !args.no_pooling,
        threading: if args.work_stealing {
            Some(crate::front::Threading::WorkStealing)
        } else {
            args.threads
                .map(|n| crate::front::Threading::PerCore(usize::from(n)))
        },
        // A config file is watched: SIGHUP or a change reloads it.
        watch: args.config.clone().filter(|_| args.model.is_empty()),
        ..defaults
    };
    let started = std::time::Instant::now();
    let gateway = Gateway::start(&config, options).await?;
    tracing::info!(
        "wasmgate listening on {}://{} ({} adapters, {} model names) in {:?}",
        if gateway.tls { "https" } else { "http" },
        gateway.addr,
        gateway.registry.adapters.len(),
        gateway.registry.model_names().len(),
        started.elapsed()
    );
    let mut gateway = gateway;
    shutdown_signal().await;
    let summary = gateway.summary();
    gateway.trigger_shutdown();
    gateway.wait().await?;
    tracing::info!("stopped: {summary}");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
