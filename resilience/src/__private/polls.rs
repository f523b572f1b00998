//! Named futures that the expansion awaits where it would otherwise write a `poll_fn` closure.
//!
//! A closure is a type of its own at every call site: each one is type-checked with the site and
//! adds its body and a `PollFn` instantiation to the user's build. These are generic over the
//! polled future only, and hold exactly what the closure captured (two references), so the call
//! path is the same (issue 20: what a site adds to a build). The timeout's is the runtime's own
//! [`Timeout::before_deadline`](crate::Timeout::before_deadline).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{CallPermit, KeyedCallPermit, PolicyKey};

/// The body polled through a breaker's permit: see [`CallPermit::poll_body`].
pub struct PermitPolls<'a, 'p, F> {
    permit: &'a mut CallPermit<'p>,
    body: Pin<&'a mut F>,
}

/// `permit.poll_body(body, cx)` until the body is ready.
#[inline(always)]
pub fn poll_body<'a, 'p, F: Future>(
    permit: &'a mut CallPermit<'p>,
    body: Pin<&'a mut F>,
) -> PermitPolls<'a, 'p, F> {
    PermitPolls { permit, body }
}

impl<F: Future> Future for PermitPolls<'_, '_, F> {
    type Output = F::Output;

    // Inlined into the caller's poll, as `Timeout::before_deadline`'s: a `poll` that is not
    // returns the body's output through memory.
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.permit.poll_body(this.body.as_mut(), cx)
    }
}

/// The body polled through a keyed breaker's permit: see [`KeyedCallPermit::poll_body`].
pub struct KeyedPermitPolls<'a, 'p, K: PolicyKey, F> {
    permit: &'a mut KeyedCallPermit<'p, K>,
    body: Pin<&'a mut F>,
}

/// `permit.poll_body(body, cx)` until the body is ready, for a keyed breaker. The expansion
/// calls it at the key expression's span: a key type's missing bound is then the error already
/// reported there (the compiler reports one predicate once per span), not a second one.
#[inline(always)]
pub fn poll_keyed_body<'a, 'p, K: PolicyKey, F: Future>(
    permit: &'a mut KeyedCallPermit<'p, K>,
    body: Pin<&'a mut F>,
) -> KeyedPermitPolls<'a, 'p, K, F> {
    KeyedPermitPolls { permit, body }
}

impl<K: PolicyKey, F: Future> Future for KeyedPermitPolls<'_, '_, K, F> {
    type Output = F::Output;

    // Inlined into the caller's poll, as `Timeout::before_deadline`'s: a `poll` that is not
    // returns the body's output through memory.
    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        this.permit.poll_body(this.body.as_mut(), cx)
    }
}
