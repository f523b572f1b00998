//! `#[resilient(policy = "NAME")]`: the body run through the registry's composite policy NAME.
//!
//! The site resolves the composite once, into a `static`: the registered one, or an empty one
//! marked missing that a later definition fills in place. Each call takes the members in force,
//! then runs the loop `Pipeline::execute` runs, written out here as `#[retry]`'s is, so that the
//! body stays in the function (`&mut` arguments, `&mut self` and `self` work as under
//! `#[retry]`): a fresh body per attempt, owned arguments cloned for each attempt but the last.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use super::{arguments, layers, return_type_and_body, strip_binding_mut, with_body};
use crate::item::{reused_bindings, Composite};

pub(crate) fn expand_composite(composite: Composite) -> TokenStream {
    let Composite {
        mut function,
        args,
        boxed,
    } = composite;
    let krate = match &args.krate {
        Some(krate) => quote!(#krate),
        None => quote!(::resilience),
    };
    // The body may run more than once: it takes its own copy of each argument, as under
    // `#[retry]`.
    let bindings = reused_bindings(&function);
    strip_binding_mut(&mut function);
    let (return_type, block) = return_type_and_body(&function, boxed.as_ref());
    let anchor = super::erase_impl_trait(return_type.clone());

    let pipeline = format_ident!("__resilience_pipeline", span = Span::mixed_site());
    let site = format_ident!("SITE", span = Span::mixed_site());
    let members = format_ident!("__resilience_members", span = Span::mixed_site());
    let run = format_ident!("__resilience_run", span = Span::mixed_site());
    let result = format_ident!("__resilience_result", span = Span::mixed_site());
    let attempt = format_ident!("__resilience_attempt", span = Span::mixed_site());
    let value = format_ident!("__resilience_value", span = Span::mixed_site());
    let error = format_ident!("__resilience_error", span = Span::mixed_site());
    let done = format_ident!("__resilience_done", span = Span::mixed_site());
    let last = format_ident!("__resilience_last", span = Span::mixed_site());

    let clone_fns = arguments::CloneFns {
        named: "clone_for_resilient",
        impl_trait: "clone_impl_for_resilient",
    };
    let (slots, takes) = arguments::reused_slots(&krate, &bindings, &last, &clone_fns);
    // Only an owned argument needs to know whether its attempt is the last.
    let is_last = (!takes.is_empty()).then(|| quote!(let #last = #run.is_last_attempt();));
    let taken = arguments::take_into_body(&bindings);
    let describe = layers::describe_error(&krate, &return_type);
    let policy = &args.policy;
    let private = quote!(#krate::__private);

    // The block's statements, not the block, which would be `unused_braces` at its braces.
    let statements = &block.stmts;
    let body = quote! {
        #private::operation_result(
            #private::anchor::<#anchor, _>(async { #(#taken)* #(#statements)* }).await
        )
    };
    let run_tokens = quote! {
        let #pipeline: &'static #krate::Pipeline = {
            static #site: #private::Site<#krate::Pipeline> = #private::Site::new();
            #site.get_or_init(|| #private::resolve_pipeline(#policy))
        };
        let #members = #pipeline.members_for_call();
        let mut #run = #members.begin();
        #(#slots)*
        let #result = loop {
            #is_last
            #(#takes)*
            // The body is polled only once every member below the retry admitted the attempt.
            let #attempt = match #members
                .attempt(::core::pin::pin!(async { #body }))
                .await
            {
                ::core::result::Result::Ok(#value) => {
                    #run.succeeded();
                    break ::core::result::Result::Ok(#value);
                }
                ::core::result::Result::Err(#error) => ::core::result::Result::Err(#error),
            };
            match #run.after_attempt(#attempt, #describe).await {
                ::core::ops::ControlFlow::Break(#done) => break #done,
                ::core::ops::ControlFlow::Continue(()) => {}
            }
        };
        #private::finish::<#anchor>(#result)
    };
    with_body(&function, boxed.as_ref(), run_tokens)
}
