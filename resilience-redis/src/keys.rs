//! Key names: `resilience:{prefix}:{kind}:{name}`.

/// The key of the policy `name` of `kind` under `prefix`.
pub(crate) fn key(prefix: &str, kind: &str, name: &str) -> String {
    format!("resilience:{prefix}:{kind}:{name}")
}

/// The kind segment of a rate limiter's key.
pub(crate) const RATE_LIMIT: &str = "rate_limit";
/// The kind segment of a circuit breaker's key.
pub(crate) const CIRCUIT_BREAKER: &str = "circuit_breaker";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_by_prefix_and_kind() {
        assert_eq!(
            key("checkout", CIRCUIT_BREAKER, "payments"),
            "resilience:checkout:circuit_breaker:payments"
        );
        assert_eq!(
            key("default", RATE_LIMIT, "api"),
            "resilience:default:rate_limit:api"
        );
    }
}
