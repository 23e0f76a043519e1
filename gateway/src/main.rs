//! The `wasmgate` binary: parses the command line and runs it.

use clap::Parser;

/// mimalloc instead of the system allocator: a request allocates and frees many small objects
/// across two worker threads, where glibc's arenas spend a visible share of CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = wasmgate::cli::Cli::parse();
    wasmgate::logging::init(cli.log_format, cli.log_level.as_deref());
    match wasmgate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
