//! Resolving each layer's policy at its call site: a `static` per site, the policy's default
//! name, and the builder that registers it with the attribute's settings.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ItemFn;

use crate::attrs::{
    BackoffArg, BreakerArgs, BulkheadArgs, ChaosArgs, HedgeArgs, JitterArg, PolicyAttr,
    RateLimitArgs, RetryArgs, Settings, TimeoutArgs, TripArg, WindowArg,
};

/// Where an unnamed policy's name comes from.
#[derive(Clone, Copy)]
pub(super) enum DefaultName<'a> {
    /// A method with a receiver: `path::Type::method`, with the concrete `Self` it runs for, so
    /// a generic impl or a trait default method has one policy per type.
    OfSelf(&'a syn::Ident),
    /// Any other function: the path of the function itself, `path::Type::function` for an
    /// associated function, `path::outer::inner` for a nested one.
    OfSite,
}

impl<'a> DefaultName<'a> {
    pub(super) fn of(function: &'a ItemFn) -> Self {
        if function.sig.receiver().is_some() {
            DefaultName::OfSelf(&function.sig.ident)
        } else {
            DefaultName::OfSite
        }
    }
}

/// The item whose path names the function for its unnamed policies: one per function, declared
/// by [`site_marker_item`] and shared by every layer (each one of its own would be one more
/// function and one more `type_name_of_val` to compile per layer).
fn site_marker() -> syn::Ident {
    format_ident!("__resilience_site")
}

/// `fn __resilience_site() {}` when a layer of `stack` takes its name from the function's path.
pub(super) fn site_marker_item(
    stack: &[PolicyAttr],
    default_name: DefaultName<'_>,
) -> Option<TokenStream> {
    let needed = matches!(default_name, DefaultName::OfSite)
        && stack.iter().any(|layer| given_name(layer).is_none());
    let marker = site_marker();
    needed.then(|| quote!(fn #marker() {}))
}

fn given_name(layer: &PolicyAttr) -> &Option<crate::attrs::PolicyName> {
    match &layer.settings {
        Settings::Retry(args) => &args.name,
        Settings::CircuitBreaker(args) => &args.name,
        Settings::Timeout(args) => &args.name,
        Settings::Bulkhead(args) => &args.name,
        Settings::RateLimit(args) => &args.name,
        Settings::Fallback(args) => &args.name,
        Settings::Hedge(args) => &args.name,
        Settings::Chaos(args) => &args.name,
    }
}

/// One layer's policy as its call site resolves it.
pub(super) struct Resolution<'a> {
    /// The binding the layer's expansion uses: `&'static P`.
    ident: &'a syn::Ident,
    /// The policy's type, `P`.
    ty: TokenStream,
    /// The expression that registers the policy with the attribute's settings: `Arc<P>`.
    registered: TokenStream,
    /// Whether the policy belongs to the concrete `Self` (an unnamed method's policy).
    per_self: bool,
}

/// The `let`s that bind each layer's policy, `&'static P`, resolved on the site's first call.
///
/// The policies of a stack share one `static` and one registering function, which registers
/// them in the stack's order: one more layer adds no `static`, closure or `OnceLock` check of its
/// own to the build or to a call (issue 20). A layer alone keeps the `Arc<P>` itself (no tuple to
/// go through). An unnamed method's policy belongs to the concrete `Self`: it has a site of its
/// own, which keeps its first type's policy and compares type names on each call.
pub(super) fn bind_all(krate: &TokenStream, resolutions: &[Resolution<'_>]) -> TokenStream {
    let private = quote!(#krate::__private);
    let site = format_ident!("SITE", span = Span::mixed_site());
    let (per_self, shared): (Vec<_>, Vec<_>) = resolutions.iter().partition(|r| r.per_self);
    let per_self = per_self.iter().map(|r| {
        let Resolution {
            ident,
            ty,
            registered,
            ..
        } = r;
        quote! {
            let #ident: &'static #ty = {
                static #site: #private::SelfSite<#ty> = #private::SelfSite::new();
                #site.get_or_init(::core::any::type_name::<Self>(), || #registered)
            };
        }
    });
    let shared = match shared.as_slice() {
        [] => quote!(),
        [one] => {
            let Resolution {
                ident,
                ty,
                registered,
                ..
            } = one;
            quote! {
                let #ident: &'static #ty = {
                    static #site: #private::Site<#ty> = #private::Site::new();
                    #site.get_or_init(|| #registered)
                };
            }
        }
        many => {
            let idents = many.iter().map(|r| r.ident);
            let tys: Vec<_> = many.iter().map(|r| &r.ty).collect();
            let registered = many.iter().map(|r| &r.registered);
            let sites = format_ident!("__resilience_sites", span = Span::mixed_site());
            let fields = (0..many.len()).map(syn::Index::from);
            quote! {
                let (#(#idents,)*): (#(&'static #tys,)*) = {
                    static #site: #private::Site<(#(#private::Arc<#tys>,)*)> = #private::Site::new();
                    let #sites = #site.get_or_init(|| #private::Arc::new((#(#registered,)*)));
                    (#(&*#sites.#fields,)*)
                };
            }
        }
    };
    quote!(#(#per_self)* #shared)
}

/// How `layer` resolves its policy, bound to `ident`: see [`bind_all`].
pub(super) fn resolve<'a>(
    krate: &TokenStream,
    layer: &PolicyAttr,
    ident: &'a syn::Ident,
    default_name: DefaultName<'_>,
) -> Resolution<'a> {
    let given = given_name(layer);
    let private = quote!(#krate::__private);
    let marker = site_marker();
    let (name, per_self) = match (given, default_name) {
        (Some(name), _) => (quote!(#name), false),
        (None, DefaultName::OfSelf(method)) => {
            let method = method.to_string();
            (
                quote!(#private::method_name(::core::any::type_name::<Self>(), #method)),
                true,
            )
        }
        (None, DefaultName::OfSite) => (
            quote!(#private::site_name(::core::any::type_name_of_val(&#marker))),
            false,
        ),
    };
    // A site that gives a name and no settings expects them from elsewhere: strict names can
    // report it (`Registry::strict_names`).
    let name_only = given.is_some()
        && match &layer.settings {
            Settings::Retry(args) => {
                args.max_attempts.is_none()
                    && args.backoff.is_none()
                    && args.max_delay.is_none()
                    && args.jitter.is_none()
                    && args.max_elapsed.is_none()
                    && args.retry_on.is_none()
                    && args.budget.is_none()
            }
            Settings::CircuitBreaker(args) => {
                args.trip.is_none()
                    && args.reset_timeout.is_none()
                    && args.half_open_max_calls.is_none()
                    && args.success_threshold.is_none()
                    && args.slow_call.is_none()
                    && args.half_open_timeout.is_none()
                    && args.critical.is_none()
                    && args.shared.is_none()
            }
            // Each of the others has a setting it cannot do without, or none to share.
            _ => false,
        };
    let (ty, register, builder) = match &layer.settings {
        Settings::Retry(args) => (
            quote!(#krate::Retry),
            quote!(register_retry),
            retry_builder(krate, args, &name),
        ),
        Settings::CircuitBreaker(args) => (
            quote!(#krate::CircuitBreaker),
            quote!(register_circuit_breaker),
            breaker_builder(krate, args, &name),
        ),
        Settings::Timeout(args) => (
            quote!(#krate::Timeout),
            quote!(register_timeout),
            timeout_builder(krate, args, &name),
        ),
        Settings::Bulkhead(args) => (
            quote!(#krate::Bulkhead),
            quote!(register_bulkhead),
            bulkhead_builder(krate, args, &name),
        ),
        Settings::RateLimit(args) => (
            quote!(#krate::RateLimiter),
            quote!(register_rate_limiter),
            rate_limiter_builder(krate, args, &name),
        ),
        Settings::Fallback(_) => (
            quote!(#krate::Fallback),
            quote!(register_fallback),
            quote!(#krate::Fallback::builder(#name)),
        ),
        Settings::Hedge(args) => (
            quote!(#krate::Hedge),
            quote!(register_hedge),
            hedge_builder(krate, args, &name),
        ),
        Settings::Chaos(args) => (
            quote!(#krate::Chaos),
            quote!(register_chaos),
            chaos_builder(krate, args, &name),
        ),
    };
    let register = if name_only {
        format_ident!("{}_name_only", register.to_string())
    } else {
        format_ident!("{}", register.to_string())
    };
    Resolution {
        ident,
        ty,
        registered: quote!(#private::#register(#builder)),
        per_self,
    }
}

fn duration(d: std::time::Duration) -> TokenStream {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    quote!(::core::time::Duration::new(#secs, #nanos))
}

/// The builder calls an attribute's settings become: `.setting(value)` for each one given, in
/// the order they are added.
#[derive(Default)]
struct Calls(Vec<TokenStream>);

impl Calls {
    /// `.method(value)`, when `value` was given.
    fn value(&mut self, method: &str, value: Option<impl quote::ToTokens>) {
        if let Some(value) = value {
            let method = format_ident!("{method}");
            self.0.push(quote!(.#method(#value)));
        }
    }

    /// `.method(duration)`, when a duration was given.
    fn duration(&mut self, method: &str, value: Option<std::time::Duration>) {
        self.value(method, value.map(duration));
    }

    /// A call of the caller's making.
    fn push(&mut self, call: TokenStream) {
        self.0.push(call);
    }
}

impl quote::ToTokens for Calls {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.0.iter().cloned());
    }
}

fn retry_builder(krate: &TokenStream, args: &RetryArgs, name: &TokenStream) -> TokenStream {
    let mut calls = Calls::default();
    calls.value("max_attempts", args.max_attempts);
    if let Some(backoff) = &args.backoff {
        calls.push(match backoff {
            BackoffArg::Exponential { base, factor } => {
                let base = duration(*base);
                quote!(.exponential(#base, #factor))
            }
            BackoffArg::Fixed(d) => {
                let d = duration(*d);
                quote!(.fixed(#d))
            }
            BackoffArg::Linear(d) => {
                let d = duration(*d);
                quote!(.linear(#d))
            }
            BackoffArg::None => quote!(.no_backoff()),
            BackoffArg::Schedule(delays) => {
                let delays = delays.iter().map(|d| duration(*d));
                quote!(.delays(::std::vec![#(#delays),*]))
            }
            BackoffArg::Custom(path) => quote!(.backoff_fn(#path)),
        });
    }
    calls.duration("max_delay", args.max_delay);
    calls.value(
        "jitter",
        args.jitter.as_ref().map(|jitter| match jitter {
            JitterArg::Proportional(f) => quote!(#krate::Jitter::Proportional(#f)),
            JitterArg::Full => quote!(#krate::Jitter::Full),
            JitterArg::Equal => quote!(#krate::Jitter::Equal),
            JitterArg::Decorrelated => quote!(#krate::Jitter::Decorrelated),
        }),
    );
    calls.duration("max_elapsed", args.max_elapsed);
    calls.value(
        "retry_on",
        args.retry_on.as_ref().map(|rejections| {
            let kinds = rejections.iter().map(|name| {
                let kind = syn::Ident::new(&name.to_uppercase(), Span::call_site());
                quote!(.union(#krate::RetryOn::#kind))
            });
            quote!(#krate::RetryOn::NONE #(#kinds)*)
        }),
    );
    calls.value("budget", args.budget.as_ref());
    quote!(#krate::Retry::builder(#name) #calls)
}

fn hedge_builder(krate: &TokenStream, args: &HedgeArgs, name: &TokenStream) -> TokenStream {
    let mut calls = Calls::default();
    calls.duration("delay", args.delay);
    calls.value("max_hedged", args.max_hedged);
    calls.value("budget", args.budget.as_ref());
    quote!(#krate::Hedge::builder(#name) #calls)
}

fn chaos_builder(krate: &TokenStream, args: &ChaosArgs, name: &TokenStream) -> TokenStream {
    let mut calls = Calls::default();
    calls.value("fault_rate", args.fault_rate);
    calls.duration("latency", args.latency);
    calls.value("latency_rate", args.latency_rate);
    quote!(#krate::Chaos::builder(#name) #calls)
}

fn breaker_builder(krate: &TokenStream, args: &BreakerArgs, name: &TokenStream) -> TokenStream {
    let mut calls = Calls::default();
    match &args.trip {
        Some(TripArg::Consecutive(n)) => calls.value("failure_threshold", Some(n)),
        Some(TripArg::Rate {
            rate,
            window,
            min_calls,
        }) => {
            calls.value("failure_rate", Some(rate));
            calls.value(
                "window",
                window.as_ref().map(|window| match window {
                    WindowArg::Calls(n) => quote!(#krate::Window::Calls(#n)),
                    WindowArg::Time(d) => {
                        let d = duration(*d);
                        quote!(#krate::Window::Time(#d))
                    }
                }),
            );
            calls.value("min_calls", min_calls.as_ref());
        }
        None => {}
    }
    calls.duration("reset_timeout", args.reset_timeout);
    calls.value("half_open_max_calls", args.half_open_max_calls);
    calls.value("success_threshold", args.success_threshold);
    calls.duration("slow_call", args.slow_call);
    calls.duration("half_open_timeout", args.half_open_timeout);
    calls.value("critical", args.critical);
    calls.value("shared", args.shared);
    calls.duration("key_idle", args.key_idle);
    calls.value("max_keys", args.max_keys);
    quote!(#krate::CircuitBreaker::builder(#name) #calls)
}

fn timeout_builder(krate: &TokenStream, args: &TimeoutArgs, name: &TokenStream) -> TokenStream {
    let d = duration(args.duration);
    quote!(#krate::Timeout::builder(#name).duration(#d))
}

fn rate_limiter_builder(
    krate: &TokenStream,
    args: &RateLimitArgs,
    name: &TokenStream,
) -> TokenStream {
    let mut calls = Calls::default();
    calls.value("rate", Some(args.rate));
    calls.duration("per", args.per);
    calls.value("burst", args.burst);
    calls.duration("wait", args.wait);
    calls.value("shared", args.shared);
    calls.duration("key_idle", args.key_idle);
    calls.value("max_keys", args.max_keys);
    quote!(#krate::RateLimiter::builder(#name) #calls)
}

fn bulkhead_builder(krate: &TokenStream, args: &BulkheadArgs, name: &TokenStream) -> TokenStream {
    let mut calls = Calls::default();
    calls.value("max_concurrent", Some(args.max));
    calls.value("queue", args.queue);
    calls.duration("queue_timeout", args.queue_timeout);
    calls.duration("key_idle", args.key_idle);
    calls.value("max_keys", args.max_keys);
    quote!(#krate::Bulkhead::builder(#name) #calls)
}
