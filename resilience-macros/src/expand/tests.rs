//! Properties of the generated code that no behaviour test can see.

use quote::quote;

use crate::attrs::Kind;
use crate::expand_attribute;

/// With `crate = ".."`, nothing in the expansion names `::resilience`: a renamed dependency or a
/// facade crate works without a `resilience` crate in scope.
#[test]
fn the_crate_path_replaces_resilience_everywhere() {
    let item = quote! {
        #[facade::circuit_breaker(failure_threshold = 2)]
        #[facade::timeout(ms = 100)]
        #[facade::bulkhead(max = 2, queue = 1)]
        #[facade::rate_limit(rate = 10)]
        #[facade::fallback(cached, fallback_if = is_outage)]
        async fn fetch(self: std::sync::Arc<Self>, id: u64, body: Vec<u8>) -> Result<u64, E> {
            Ok(id)
        }
    };
    let expanded = expand_attribute(
        Kind::Retry,
        quote!(crate = "facade", max_attempts = 3, jitter),
        item,
    )
    .to_string();
    assert!(!expanded.contains("compile_error"), "{expanded}");
    assert!(expanded.contains("facade :: __private"), "{expanded}");
    assert!(!expanded.contains("resilience ::"), "{expanded}");
}

/// Without `crate`, the runtime is reached by its absolute path.
#[test]
fn the_default_crate_path_is_absolute() {
    let expanded = expand_attribute(
        Kind::CircuitBreaker,
        quote!(),
        quote!(
            async fn ping() -> Result<(), E> {
                Ok(())
            }
        ),
    )
    .to_string();
    assert!(
        expanded.contains(":: resilience :: __private"),
        "{expanded}"
    );
}

/// Two attributes of one stack naming different runtime crates is an error.
#[test]
fn one_stack_reaches_one_crate() {
    let expanded = expand_attribute(
        Kind::Retry,
        quote!(crate = "first"),
        quote! {
            #[first::timeout(ms = 5, crate = "second")]
            async fn ping() -> Result<(), E> { Ok(()) }
        },
    )
    .to_string();
    assert!(expanded.contains("reach one runtime crate"), "{expanded}");
}

/// `#[resilient]` with `crate = ".."` names only that path, and recognises the stack's other
/// attributes under it (to refuse them).
#[test]
fn a_composite_reaches_its_crate_path_only() {
    let expanded = crate::expand_composite_attribute(
        quote!(policy = "payments", crate = "facade"),
        quote! {
            async fn charge(&mut self, amount: u64, memo: String) -> Result<u64, E> {
                Ok(amount)
            }
        },
    )
    .to_string();
    assert!(!expanded.contains("compile_error"), "{expanded}");
    assert!(expanded.contains("facade :: __private"), "{expanded}");
    assert!(!expanded.contains("resilience ::"), "{expanded}");

    let refused = crate::expand_composite_attribute(
        quote!(policy = "payments", crate = "facade"),
        quote! {
            #[facade::retry(max_attempts = 2)]
            async fn charge() -> Result<u64, E> { Ok(1) }
        },
    )
    .to_string();
    assert!(
        refused.contains("cannot be combined with `#[retry]`"),
        "{refused}"
    );
}
