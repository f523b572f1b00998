//! `#[resilience::test]` on the shapes a test takes: unit and `Result` returns with `?`,
//! Tokio's own arguments, the multi-thread runtime on the real clock (with no `rt-multi-thread`
//! of the case's own: `test-util` brings it), a renamed crate, inner attributes and other
//! attributes beside it. (trybuild runs `main`; the tests only compile.)

use resilience::circuit_breaker;

#[circuit_breaker(name = "ui-test-attr")]
async fn call() -> Result<u32, std::io::Error> {
    Ok(1)
}

#[resilience::test]
async fn returns_unit() {
    assert_eq!(call().await.unwrap(), 1);
}

#[resilience::test]
async fn returns_a_result() -> Result<(), std::io::Error> {
    let n = call().await?;
    if n == 0 {
        return Err(std::io::Error::other("zero"));
    }
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    Ok(())
}

#[resilience::test(flavor = "current_thread", start_paused = true)]
async fn with_tokio_arguments() {
    #![allow(clippy::bool_assert_comparison)]
    assert_eq!(call().await.is_ok(), true);
}

#[resilience::test(flavor = "multi_thread", worker_threads = 2, start_paused = false)]
async fn on_the_multi_thread_runtime() {
    assert!(resilience::testing::current().is_some());
}

mod renamed {
    pub use resilience as policies;
}

#[resilience::test(crate = "renamed::policies")]
#[should_panic(expected = "boom")]
async fn renamed_crate_and_should_panic() {
    panic!("boom");
}

fn main() {}
