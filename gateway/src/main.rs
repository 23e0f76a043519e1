//! The `wasmgate` binary: parses the command line and runs it.

use clap::Parser;

/// mimalloc instead of the system allocator: a request allocates and frees many small objects
/// across two worker threads, where glibc's arenas spend a visible share of CPU. Built with
/// `no_thp` (see the workspace manifest): mimalloc otherwise asks for transparent huge pages on
/// its 1 GiB arena, and every 2 MiB page it touches becomes resident, which was 20 of the 25 MiB
/// of anonymous memory an idle gateway held.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = wasmgate::cli::Cli::parse();
    let traces = wasmgate::logging::init(cli.log_format, cli.log_level.as_deref());
    let code = match wasmgate::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    };
    if let Some(provider) = traces {
        // Flushes buffered spans; off the async threads, as it blocks.
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
    code
}
