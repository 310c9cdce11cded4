//! The agent's bearer token: from `--token-file` or `CONNSCOPE_AGENT_TOKEN`, required on every
//! path but `/healthz` when set. Compared in constant time over SHA-256 digests, so neither the
//! content nor the length of the expected token shows in how long a refusal takes.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::AgentError;

/// Where a token may come from, besides `--token-file`.
pub(crate) const TOKEN_ENV: &str = "CONNSCOPE_AGENT_TOKEN";
/// A token file is a secret of a few dozen bytes; anything larger is a mistake.
const MAX_TOKEN_FILE: u64 = 4096;

#[derive(Clone)]
pub(crate) struct Token {
    digest: [u8; 32],
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl Token {
    pub(crate) fn new(secret: &str) -> Self {
        Self {
            digest: digest(secret.as_bytes()),
        }
    }

    /// The token from the file (first line, surrounding whitespace removed), or from the
    /// environment; `None` when neither is given. Known to the scrubber at once.
    pub(crate) fn load(
        file: Option<&Path>,
        env: Option<String>,
    ) -> Result<Option<Self>, AgentError> {
        let secret = match file {
            Some(path) => Some(read_file(path)?),
            None => env.map(|v| v.trim().to_string()),
        };
        match secret {
            Some(s) if s.is_empty() => Err(match file {
                Some(p) => AgentError::EmptyTokenFile(p.to_path_buf()),
                None => AgentError::EmptyTokenEnv,
            }),
            Some(s) => {
                crate::secret::register(&s);
                Ok(Some(Self::new(&s)))
            }
            None => Ok(None),
        }
    }

    /// Does this `Authorization` header carry the token?
    pub(crate) fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let given = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        bool::from(digest(given.as_bytes()).ct_eq(&self.digest))
    }
}

pub(crate) fn read_file(path: &Path) -> Result<String, AgentError> {
    use std::io::Read;
    let cannot = |source| AgentError::TokenFile {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    Ok(text.lines().next().unwrap_or("").trim().to_string())
}

/// The middleware: `/healthz` is open (a load balancer's probe has no token); everything
/// else needs the token when one is set.
pub(crate) async fn require(
    State(token): State<Option<Token>>,
    req: Request,
    next: Next,
) -> Response {
    let open = req.uri().path() == "/healthz";
    match &token {
        Some(t) if !open && !t.admits(req.headers().get(header::AUTHORIZATION)) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required (Authorization: Bearer …)\n",
        )
            .into_response(),
        _ => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let t = Token::new("s3cret-token");
        let h = |v: &str| HeaderValue::from_str(v).ok();
        assert!(t.admits(h("Bearer s3cret-token").as_ref()));
        assert!(!t.admits(h("Bearer s3cret-toke").as_ref()));
        assert!(!t.admits(h("Bearer s3cret-token2").as_ref()));
        assert!(!t.admits(h("Basic s3cret-token").as_ref()));
        assert!(!t.admits(h("Bearer ").as_ref()));
        assert!(!t.admits(None));
    }

    #[test]
    fn a_token_file_gives_its_first_line_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t");
        std::fs::write(&path, "  abc123  \nignored\n").expect("write");
        let t = Token::load(Some(&path), None)
            .expect("loads")
            .expect("some");
        assert!(t.admits(HeaderValue::from_str("Bearer abc123").ok().as_ref()));
        std::fs::write(&path, "\n").expect("write");
        let e = Token::load(Some(&path), None).err().expect("empty refused");
        assert_eq!(e.exit_code(), crate::exit::ExitCode::Config);
        assert!(Token::load(None, None).expect("none").is_none());
    }
}
