//! A method that `#[async_trait]` rewrote before our attributes expand: recognised, so that the
//! policies wrap its boxed `async` block.

use syn::{ItemFn, ReturnType, Type};

use super::strip_groups;

/// What `#[async_trait]` makes of an `async fn`: `fn f(..) -> Pin<Box<dyn Future<Output = R> +
/// Send + 'async_trait>> { Box::pin(async move { .. }) }`.
pub(crate) struct BoxedFuture {
    /// `R`, the original return type.
    pub(crate) output: Type,
    /// The boxing call's function, `Box::pin`.
    pub(crate) pin: syn::Expr,
    /// The statements before the boxing call (none, from `#[async_trait]` today).
    pub(crate) before: Vec<syn::Stmt>,
    /// The body of the boxed `async move` block: the original body with the arguments moved in.
    pub(crate) body: syn::Block,
}

/// Recognises a function that `#[async_trait]` has already rewritten.
pub(super) fn boxed_future(function: &ItemFn) -> Option<BoxedFuture> {
    if function.sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &function.sig.output else {
        return None;
    };
    let output = boxed_future_output(ty)?;
    let (last, before) = function.block.stmts.split_last()?;
    let syn::Stmt::Expr(syn::Expr::Call(call), None) = last else {
        return None;
    };
    let syn::Expr::Path(callee) = &*call.func else {
        return None;
    };
    if !callee
        .path
        .segments
        .last()
        .is_some_and(|s| s.ident == "pin")
        || call.args.len() != 1
    {
        return None;
    }
    let Some(syn::Expr::Async(block)) = call.args.first() else {
        return None;
    };
    Some(BoxedFuture {
        output,
        pin: (*call.func).clone(),
        before: before.to_vec(),
        body: block.block.clone(),
    })
}

/// `R` of `Pin<Box<dyn Future<Output = R> + ..>>`.
fn boxed_future_output(ty: &Type) -> Option<Type> {
    let inner = single_generic(strip_groups(ty), "Pin")?;
    let Type::TraitObject(object) = strip_groups(single_generic(inner, "Box")?) else {
        return None;
    };
    object.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let segment = bound.path.segments.last()?;
        if segment.ident != "Future" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                Some(assoc.ty.clone())
            }
            _ => None,
        })
    })
}

/// `T` of `Name<T>`, for a path type whose last segment is `Name`.
fn single_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}
