use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    api::cli::run(api::cli::Cli::parse())
}
