//! `apko`: build reproducible OCI images from APK packages.
//!
//! A thin front end: it parses arguments and the environment (`SOURCE_DATE_EPOCH`), maps each
//! command to one `apko_build` call, draws progress on a terminal, and renders errors as
//! `error:` / `Caused by:` / `hint:` lines. User errors exit with 1, internal errors with 2.
// The binary is the one place allowed to print and to read the environment.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

mod args;
mod cachedir;
mod clean;
mod cleanup;
mod commands;
mod creds;
mod date;
mod dot;
mod login;
mod loglevel;
mod progress;
mod publish;
mod render;
mod show;
mod slices;
mod verify;
mod verify_attestation;
mod version;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    render::init_logging(cli.log_level);
    cleanup::install();
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error: {info}");
        eprintln!(
            "hint: this is a bug in apko-rs; please report it with the command that triggered it"
        );
    }));
    match std::panic::catch_unwind(|| commands::run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            render::error(&e);
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(2),
    }
}
