//! One function per subcommand. Each returns the process exit code or an `AppError`.

mod agent;
mod attach;
mod check;
mod config;
mod document;
mod lab;
mod live;
mod panic_drill;
mod progress;
mod replay;
mod report;

use clap::Parser;

use crate::cli::{Cli, Command, Global};
use crate::config::{Config, LoadOptions};
use crate::error::{AppError, AppResult};
use crate::exit::ExitCode;

/// Parses the command line, runs the command, and returns the exit code. Never panics on bad
/// input or a failing output: every problem becomes a one-line message and a documented code.
pub fn main() -> ExitCode {
    // A usage error quotes the offending value; the scrubber must know its secrets first.
    crate::secret::register_args(std::env::args_os());
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    crate::probe::conn::tls::install_provider();
    if let Err(e) = crate::logging::init(&cli) {
        return fail(&e);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&AppError::Runtime(e)),
    };
    crate::output::terminal_owned(cli.owns_terminal());
    let result = runtime.block_on(dispatch(cli));
    crate::output::terminal_owned(false);
    crate::output::say_deferred();
    // Probe tasks have been awaited by their commands; what is left is blocking work nobody
    // waits for (a name lookup the resolver never answers, a read of stdin): don't hold the
    // exit for it once the results are out.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// Says the error (unless there is nobody to tell: a closed stdout) and returns its code.
fn fail(e: &AppError) -> ExitCode {
    if !e.is_quiet() {
        crate::output::say(&crate::error::line(e));
    }
    e.exit_code()
}

/// clap's message (scrubbed: it quotes the bad value back), or the help / version text.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let text = crate::secret::redact_urls_in(&crate::secret::scrub(&e.render().to_string()));
    let code = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::Pass,
        _ => ExitCode::Usage,
    };
    if e.use_stderr() {
        crate::output::stderr_bytes(text.as_bytes());
        return code;
    }
    match crate::output::stdout(&text) {
        Ok(()) => code,
        Err(e) => fail(&e.into()),
    }
}

async fn dispatch(cli: Cli) -> AppResult<ExitCode> {
    match &cli.command {
        None | Some(Command::Watch) => live::watch(&cli.global).await,
        Some(Command::Check(args)) => check::run(&cli.global, args).await,
        Some(Command::Config(c)) => config::run(&cli.global, c),
        Some(Command::Lab(args)) => lab::run(&cli.global, args).await,
        Some(Command::Replay(args)) => replay::run(&cli.global, args).await,
        Some(Command::Report(args)) => report::run(&cli.global, args),
        Some(Command::Agent(args)) => agent::run(&cli.global, args).await,
    }
}

/// The configuration for this invocation: profile ← file ← environment ← flags.
pub(crate) fn load_config(g: &Global) -> AppResult<Config> {
    Ok(Config::load(&LoadOptions::from_process(
        g.config.clone(),
        g.overrides(),
    ))?)
}
