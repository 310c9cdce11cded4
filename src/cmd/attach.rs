//! `--agent NAME=URL` (watch, check): the agents to attach to, checked before anything runs.

use crate::agent::auth;
use crate::cli::Global;
use crate::error::{AppError, AppResult};
use crate::probe::remote::AgentTarget;

/// The vantage name this host's own probes are shown under.
const LOCAL: &str = "local";

pub(super) fn targets(g: &Global) -> AppResult<Vec<AgentTarget>> {
    if g.agent.is_empty() {
        return Ok(Vec::new());
    }
    let token = match &g.agent_token_file {
        Some(path) => Some(auth::read_file(path)?),
        None => std::env::var(auth::TOKEN_ENV)
            .ok()
            .map(|t| t.trim().to_string()),
    }
    .filter(|t| !t.is_empty());
    if let Some(t) = &token {
        crate::secret::register(t);
    }
    let mut out: Vec<AgentTarget> = Vec::new();
    for (name, url) in &g.agent {
        if name == LOCAL || out.iter().any(|t| t.name == *name) {
            return Err(AppError::usage(format!(
                "--agent {name}=…: the name is {}; give each agent a name of its own",
                if name == LOCAL {
                    "this host's own"
                } else {
                    "given twice"
                }
            )));
        }
        let t = AgentTarget::new(name, url, token.as_deref(), g.agent_ca.as_deref())
            .map_err(AppError::usage)?;
        out.push(t);
    }
    Ok(out)
}
