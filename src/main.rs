//! The `scalelab` command: argument types (`cli`) and dispatch (`cmd`). The work itself lives in
//! the member crates.

#![forbid(unsafe_code)]

mod cli;
mod clock;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cmd::dispatch(args) {
        Ok(code) => code.into(),
        Err(e) => {
            if is_broken_pipe(&e.error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {:#}", e.error);
            e.code.into()
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
