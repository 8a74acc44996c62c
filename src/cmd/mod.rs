//! Dispatch: one function per subcommand, calling into the member crates (the workflows that
//! need several of them are in `scalelab_lab`).

mod common;
mod export;
mod import;
mod import_azure;
mod kpa;
mod load;
mod report;
mod run;
mod serve;
mod sim;
mod tune;
mod validate;

use std::process::ExitCode;

use crate::cli::{Cli, Command, KpaCommand};

/// Exit codes (docs/cli.md): 0 ok, 1 runtime failure, 2 bad input, 3 SLO breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    Runtime = 1,
    BadInput = 2,
    SloBreach = 3,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c as u8)
    }
}

/// An error with the exit code it should produce.
pub struct Failure {
    pub code: Code,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn bad_input(e: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: Code::BadInput,
            error: e.into(),
        }
    }
    pub fn runtime(e: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: Code::Runtime,
            error: e.into(),
        }
    }
}

impl From<scalelab_lab::LabError> for Failure {
    fn from(e: scalelab_lab::LabError) -> Self {
        if e.is_bad_input() {
            Failure::bad_input(e)
        } else {
            Failure::runtime(e)
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::runtime(e)
    }
}

pub type CmdResult = Result<Code, Failure>;

/// The arguments of a command line that reproduces a run (the result's `command`).
pub struct CommandLine(Vec<String>);

impl CommandLine {
    /// `SCENARIO --seed SEED`.
    pub fn new(scenario: &std::path::Path, seed: u64) -> CommandLine {
        CommandLine(vec![
            scenario.display().to_string(),
            "--seed".into(),
            seed.to_string(),
        ])
    }

    /// `scalelab COMMAND SCENARIO --seed SEED`.
    pub fn scalelab(command: &str, scenario: &std::path::Path, seed: u64) -> CommandLine {
        let mut c = CommandLine(vec!["scalelab".into(), command.into()]);
        c.0.extend(CommandLine::new(scenario, seed).0);
        c
    }

    /// Adds `flag VALUE` when there is a value.
    pub fn flag(mut self, flag: &str, value: Option<impl ToString>) -> CommandLine {
        if let Some(v) = value {
            self.0.extend([flag.to_string(), v.to_string()]);
        }
        self
    }

    /// The arguments quoted for a POSIX shell, separated by spaces.
    pub fn join(self) -> String {
        scalelab_reports::shell_join(self.0)
    }
}

pub fn dispatch(cli: Cli) -> CmdResult {
    match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Sim(a) => sim::run(a),
        Command::Run(a) => run::run(a),
        Command::Compare(a) => run::compare(a),
        Command::Kpa(KpaCommand::Replay(a)) => kpa::replay(a),
        Command::Report(a) => report::run(a),
        Command::Load(a) => load::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Tune(a) => tune::run(a),
        Command::Export(a) => export::run(a),
        Command::Import(a) => import::run(a),
    }
}
