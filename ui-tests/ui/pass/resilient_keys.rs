//! `#[resilient]` with each of its keys, on the function shapes the attributes take.

use std::sync::Arc;

use resilience::resilient;

const PAYMENTS: &str = "payment-service";

#[resilient(policy = "payment-service")]
async fn charge(amount: u64) -> Result<u64, resilience::Error> {
    Ok(amount)
}

#[resilient(policy = PAYMENTS, crate = "resilience")]
async fn refund(amount: &u64) -> anyhow::Result<u64> {
    Ok(*amount)
}

struct Ledger {
    entries: Vec<u64>,
}

impl Ledger {
    #[resilient(policy = "ledger")]
    async fn record(&mut self, amount: u64, note: impl AsRef<str> + Clone) -> std::io::Result<usize> {
        let _ = note.as_ref();
        self.entries.push(amount);
        Ok(self.entries.len())
    }

    #[resilience::resilient(policy = "ledger")]
    async fn total(self: Arc<Self>) -> std::io::Result<u64> {
        Ok(self.entries.iter().sum())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    runtime.block_on(async {
        assert_eq!(charge(3).await.unwrap(), 3);
        assert_eq!(refund(&4).await.unwrap(), 4);
        let mut ledger = Ledger { entries: Vec::new() };
        assert_eq!(ledger.record(5, "rent").await.unwrap(), 1);
        assert_eq!(Arc::new(ledger).total().await.unwrap(), 5);
    });
}
