//! The `berth` command line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a request allocates and frees
/// many small JSON values, and glibc's malloc/free were the largest items in
/// the dispatch profile (BENCHMARKS.md has the before/after figures).
#[global_allocator]
static ALLOCATOR: berth::allocator::Allocator = berth::allocator::Allocator;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    cli::init_logging(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("berth: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: error: {e}");
            ExitCode::FAILURE
        }
    }
}
