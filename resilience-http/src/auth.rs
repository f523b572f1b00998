//! The bearer token of the control endpoints, compared in constant time.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use subtle::ConstantTimeEq;

use crate::api::Shared;
use crate::error::ApiError;

/// Tokens are compared over at least this many bytes, whatever their length, so that the time a
/// comparison takes says nothing about the token but its length when it is longer than this.
const COMPARED_BYTES: usize = 256;

/// The secret a control request must present as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub(crate) struct ControlToken(Arc<[u8]>);

impl ControlToken {
    /// `None` for an empty token: an empty secret would let `Bearer ` through.
    pub(crate) fn new(token: &str) -> Option<Self> {
        (!token.is_empty()).then(|| ControlToken(token.as_bytes().into()))
    }

    /// Whether `given` is the token, in time independent of where they differ.
    fn matches(&self, given: &[u8]) -> bool {
        let secret = &*self.0;
        let span = secret.len().max(COMPARED_BYTES);
        if given.len() > span {
            // Longer than anything compared: says only that it is long.
            return false;
        }
        let mut same = (secret.len() as u64).ct_eq(&(given.len() as u64));
        for i in 0..span {
            let a = secret.get(i).copied().unwrap_or(0);
            let b = given.get(i).copied().unwrap_or(0);
            same &= a.ct_eq(&b);
        }
        bool::from(same)
    }
}

impl std::fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlToken(..)")
    }
}

/// Proof that a request may use the control endpoints: extracted first, so that a request
/// without it changes nothing and reads no body.
///
/// No token configured → 403 `CONTROL_DISABLED`; a missing, malformed or wrong token → 401
/// `UNAUTHORIZED` with `WWW-Authenticate: Bearer`.
pub(crate) struct Control;

impl FromRequestParts<Arc<Shared>> for Control {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = &shared.token else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "CONTROL_DISABLED",
                "control endpoints are disabled: the server has no control token",
            ));
        };
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|value| value.as_bytes())
            .and_then(|value| value.strip_prefix(b"Bearer "));
        match given {
            Some(given) if token.matches(given) => Ok(Control),
            _ => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "a control request needs `Authorization: Bearer <token>` with the server's token",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ControlToken;

    #[test]
    fn only_the_exact_token_matches() {
        let token = ControlToken::new("s3cret").unwrap();
        assert!(token.matches(b"s3cret"));
        for wrong in [
            &b""[..],
            b"s3cre",
            b"s3cret ",
            b"S3cret",
            b"s3cret\0",
            &[b'x'; 4096],
        ] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        let long = "k".repeat(1000);
        let token = ControlToken::new(&long).unwrap();
        assert!(token.matches(long.as_bytes()));
        assert!(!token.matches(&long.as_bytes()[1..]));
    }

    #[test]
    fn an_empty_token_disables_control() {
        assert!(ControlToken::new("").is_none());
    }
}
