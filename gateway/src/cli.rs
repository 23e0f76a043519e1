//! The command line: `wasmgate serve`, `wasmgate check-config`, `wasmgate adapters`.

use crate::config::Config;
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
#[command(name = "wasmgate", version, about, long_about = None)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start the gateway. Without --config, every built-in provider is served by
    /// `provider/model` name (keys from OPENAI_API_KEY etc.); `mock/<anything>` works offline.
    Serve(ServeArgs),
    /// Validate a config file, print its warnings, and exit (non-zero on errors).
    CheckConfig {
        /// The config file (LiteLLM `model_list` format plus `adapters:`).
        file: PathBuf,
    },
    /// List built-in and configured adapters: version, capabilities, sha256, egress grants.
    Adapters {
        /// A config file whose adapters to include.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Create a new adapter project (WIT, guest SDK, a working OpenAI-compatible adapter to start
    /// from, build script, end-to-end test, README).
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

/// Options of `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, env = "WASMGATE_CONFIG")]
    pub config: Option<PathBuf>,
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
    /// Allocate instances on demand instead of from a pre-reserved pool (slower per call; for
    /// environments that limit virtual memory, or profilers such as valgrind).
    #[arg(long)]
    pub no_pooling: bool,
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    let config = match path {
        Some(p) => Config::load(p)?,
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
        Command::CheckConfig { file } => {
            let config = Config::load(&file)?;
            for w in &config.warnings {
                println!("warning: {w}");
            }
            for n in &config.notices {
                println!("note: {n}");
            }
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let registry = Registry::load(&runtime, &config).await?;
            println!(
                "{}: ok ({} model names, {} adapters)",
                file.display(),
                registry.model_names().len(),
                registry.adapters.len()
            );
            Ok(())
        }
        Command::Adapters { config } => {
            let config = load_config(config.as_ref())?;
            let runtime = Runtime::new(RuntimeConfig::default())?;
            let registry = Registry::load(&runtime, &config).await?;
            for (name, loaded) in &registry.adapters {
                let info = loaded.adapter.info();
                let policy = loaded.adapter.policy();
                let hosts: Vec<String> = policy
                    .allowed_hosts
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!("{name} {}", info.version);
                println!("  source:        {}", loaded.source);
                println!("  sha256:        {}", loaded.adapter.sha256());
                println!("  capabilities:  {:?}", info.capabilities);
                println!("  declares:      {}", info.required_hosts.join(", "));
                println!(
                    "  egress:        {}",
                    if hosts.is_empty() {
                        "(only each deployment's api_base)".into()
                    } else {
                        hosts.join(", ")
                    }
                );
                println!("  private nets:  {}", policy.allow_private_networks);
                println!(
                    "  credentials:   {}",
                    if policy.raw_credentials {
                        "RAW (granted the real key)"
                    } else {
                        "sealed"
                    }
                );
                let uses: Vec<String> = loaded
                    .adapter
                    .credential_uses()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                println!(
                    "  key used for:  {}{}",
                    if uses.is_empty() {
                        "(nothing)".to_string()
                    } else {
                        uses.join(", ")
                    },
                    if policy.credential_uses.is_some() {
                        " (set by the operator)"
                    } else {
                        ""
                    }
                );
                println!("  requests/call: {}", policy.limits.max_requests_per_call);
                println!(
                    "  memory / cpu:  {} MiB / {:?} per call",
                    policy.limits.memory_bytes >> 20,
                    policy.limits.cpu_time
                );
            }
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(args.config.as_ref())?;
    let host = match (args.host, &config.server.host) {
        (Some(h), _) => h,
        (None, Some(h)) => h
            .parse()
            .map_err(|_| anyhow::anyhow!("server.host `{h}` is not an IP address"))?,
        (None, None) => IpAddr::from([127, 0, 0, 1]),
    };
    let port = args.port.or(config.server.port).unwrap_or(4000);
    let defaults = GatewayOptions::default();
    let options = GatewayOptions {
        listen: SocketAddr::new(host, port),
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir.or(defaults.cache_dir.clone())
        },
        pooling: !args.no_pooling,
        ..defaults
    };
    let started = std::time::Instant::now();
    let gateway = Gateway::start(&config, options).await?;
    tracing::info!(
        "wasmgate listening on http://{} ({} adapters, {} model names) in {:?}",
        gateway.addr,
        gateway.registry.adapters.len(),
        gateway.registry.model_names().len(),
        started.elapsed()
    );
    let mut gateway = gateway;
    shutdown_signal().await;
    gateway.trigger_shutdown();
    gateway.wait().await?;
    tracing::info!("stopped");
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
