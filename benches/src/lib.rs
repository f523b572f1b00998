//! Benchmarks of the `resilience` policies; see `benches/` and `README.md` beside this crate.
