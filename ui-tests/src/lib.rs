//! Compile-fail and compile-pass cases of the `resilience` attributes, run by `tests/ui.rs`.
