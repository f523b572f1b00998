//! Every key of `#[hedge]` and `#[chaos]`, `#[retry(budget)]`, and the stack they make with the
//! other attributes.

use resilience::{chaos, circuit_breaker, hedge, retry, timeout};

fn my_error() -> std::io::Error {
    std::io::Error::other("injected")
}

#[hedge(delay = "50ms", max_hedged = 2, budget = "api", name = "keys-hedge")]
async fn hedged(id: String, label: &str) -> Result<String, std::io::Error> {
    Ok(format!("{label}{id}"))
}

#[hedge(delay_ms = 0)]
async fn all_at_once() -> Result<(), std::io::Error> {
    Ok(())
}

#[chaos(fault_rate = 0.05, latency = "200ms", latency_rate = 0.1, name = "keys-chaos")]
async fn chaotic() -> Result<(), resilience::Error> {
    Ok(())
}

#[chaos(fault_rate = 1.0, latency_ms = 10, error = my_error)]
async fn own_error() -> Result<(), std::io::Error> {
    Ok(())
}

/// `error = path` builds the function's own error: no `From<resilience::Error>` needed.
#[derive(Debug)]
struct Plain;

fn plain() -> Plain {
    Plain
}

#[chaos(fault_rate = 0.5, error = plain)]
async fn plain_error() -> Result<(), Plain> {
    Ok(())
}

#[retry(max_attempts = 3, budget = "api")]
#[hedge(delay = "50ms")]
#[circuit_breaker(failure_threshold = 5)]
#[timeout(ms = 500)]
#[chaos(fault_rate = 0.1)]
async fn stacked(id: u64) -> Result<u64, std::io::Error> {
    Ok(id)
}

struct Client;

impl Client {
    #[hedge(delay = "20ms")]
    async fn get(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }
}

fn main() {
    let _ = (hedged, all_at_once, chaotic, own_error, plain_error, stacked, Client::get);
}
