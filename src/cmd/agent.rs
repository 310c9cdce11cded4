//! `connscope agent`: flags checked (token, exposure, TLS files) before anything runs, then
//! the probes of `watch` served headless (`crate::agent`).

use crate::agent::{self, auth};
use crate::cli::{AgentArgs, Global};
use crate::error::{AppError, AppResult};
use crate::exit::ExitCode;
use crate::record::{Header, Recorder};
use crate::state::StateConfig;

pub(super) async fn run(g: &Global, a: &AgentArgs) -> AppResult<ExitCode> {
    if !g.agent.is_empty() {
        return Err(AppError::usage(
            "--agent attaches `watch` or `check` to agents; an agent does not attach to others",
        ));
    }
    let token = auth::Token::load(a.token_file.as_deref(), std::env::var(auth::TOKEN_ENV).ok())?;
    agent::check_exposure(a.listen, token.as_ref())?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(agent::tls::server_config(cert, key)?),
        _ => None,
    };
    let config = super::load_config(g)?;
    let kinds = super::live::live_kinds(g, &config, false)?;
    let recorder = match &g.record {
        Some(path) => Some(Recorder::create(
            path,
            &Header::new("agent", &config, &StateConfig::from_config(&config)),
        )?),
        None => None,
    };
    let opts = agent::Options {
        listen: a.listen,
        token,
        tls,
        force: g.force,
    };
    agent::run(config, kinds, opts, recorder).await
}
