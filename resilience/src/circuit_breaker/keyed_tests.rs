//! Keyed breaker unit tests.
