//! Diagnostics for connscope itself (not the outage): to stderr for headless commands, to a
//! file when asked, never to the dashboard's terminal. Every line passes the secret scrubber.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::cli::{Cli, Command};

struct Scrubbed<W>(W);

impl<W: Write> Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(crate::secret::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

struct ScrubbedMake<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for ScrubbedMake<M> {
    type Writer = Scrubbed<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Scrubbed(self.0.make_writer())
    }
}

pub fn init(cli: &Cli) {
    let filter =
        EnvFilter::try_from_env("CONNSCOPE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    if let Some(path) = &cli.global.log_file {
        if let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = builder
                .with_writer(ScrubbedMake(std::sync::Mutex::new(file)))
                .try_init();
        }
        return;
    }
    let owns_terminal = matches!(
        cli.command,
        None | Some(Command::Watch) | Some(Command::Replay(_))
    ) || matches!(&cli.command, Some(Command::Lab(l)) if !l.headless);
    if !owns_terminal {
        let _ = builder
            .with_writer(ScrubbedMake(std::io::stderr))
            .try_init();
    }
}
