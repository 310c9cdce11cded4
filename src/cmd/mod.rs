//! One function per subcommand. Each returns the process exit code or an `AppError`.

mod check;
mod config_cmd;
mod lab;
mod live;
mod progress;
mod replay;
mod report;

use clap::Parser;

use crate::cli::{Cli, Command, Global};
use crate::config::{Config, LoadOptions};
use crate::exit::{self, AppResult};

/// Parses the command line, runs the command, and returns the exit code. Never panics on bad
/// input: every problem becomes a one-line message and a documented code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => exit::USAGE,
            };
            let _ = e.print();
            return code;
        }
    };
    crate::probe::conn::tls::install_provider();
    crate::logging::init(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("connscope: cannot start the async runtime: {e}");
            return exit::SOFTWARE;
        }
    };
    let result = runtime.block_on(dispatch(cli));
    // Probe tasks have been awaited by their commands; don't wait on stray blocking reads.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("connscope: {e}");
            e.code
        }
    }
}

async fn dispatch(cli: Cli) -> AppResult<i32> {
    match &cli.command {
        None | Some(Command::Watch) => live::watch(&cli.global).await,
        Some(Command::Check(args)) => check::run(&cli.global, args).await,
        Some(Command::Config(c)) => config_cmd::run(&cli.global, c),
        Some(Command::Lab(args)) => lab::run(&cli.global, args).await,
        Some(Command::Replay(args)) => replay::run(&cli.global, args).await,
        Some(Command::Report(args)) => report::run(args),
    }
}

/// The configuration for this invocation: profile ← file ← environment ← flags.
pub fn load_config(g: &Global) -> AppResult<Config> {
    Ok(Config::load(&LoadOptions::from_process(
        g.config.clone(),
        g.overrides(),
    ))?)
}
