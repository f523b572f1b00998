//! Compile-fail cases with checked-in `.stderr` files, and compile-pass cases for every key and
//! every function shape. Regenerate the `.stderr` files with `TRYBUILD=overwrite` after reading
//! each one: its span must sit on the offending token and its message must say what is allowed.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
    cases.pass("ui/pass/*.rs");
}
