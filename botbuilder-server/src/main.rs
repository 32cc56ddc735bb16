//! The `botbuilder` binary.

use std::process::ExitCode;
use std::time::Duration;

use botbuilder_server::cli::{Cli, Command, extract, run};
use clap::Parser;

/// How long blocking work still running after the server stopped may hold up the exit.
const ABANDON_AFTER: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        // The document reader runs without an async runtime: its limits are for its work.
        Some(Command::Extract(args)) => extract(args),
        _ => match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let result = runtime.block_on(run(cli));
                // Blocking threads (a chunking job, say) are abandoned, not waited for.
                runtime.shutdown_timeout(ABANDON_AFTER);
                result
            }
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
