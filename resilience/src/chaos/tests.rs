use std::time::Duration;

use super::*;

fn chaos(builder: ChaosBuilder) -> Chaos {
    builder.build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn disabled_it_does_nothing() {
    let chaos = chaos(
        Chaos::builder("t")
            .fault_rate(1.0)
            .latency(Duration::from_secs(1)),
    );
    let started = tokio::time::Instant::now();
    assert_eq!(chaos.call(async { Ok::<_, Error>(1) }).await, Ok(1));
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(chaos.draw(), Injection::default());
    assert_eq!(chaos.stats(), ChaosStats::default());
}

#[tokio::test(start_paused = true)]
async fn enabled_it_delays_and_fails() {
    let chaos = chaos(
        Chaos::builder("t")
            .fault_rate(1.0)
            .latency(Duration::from_millis(200)),
    );
    chaos.enable();
    let started = tokio::time::Instant::now();
    let result = chaos.call(async { Ok::<_, Error>(1) }).await;
    assert_eq!(result, Err(Error::Injected { name: "t".into() }));
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    let stats = chaos.stats();
    assert_eq!(
        (stats.calls, stats.injected_faults, stats.injected_delays),
        (1, 1, 1)
    );
    chaos.disable();
    assert_eq!(chaos.call(async { Ok::<_, Error>(2) }).await, Ok(2));
}

/// The draws of a seeded policy, as fault flags.
fn faults(chaos: &Chaos, calls: usize) -> Vec<bool> {
    (0..calls).map(|_| chaos.draw().fault).collect()
}

#[test]
fn a_seed_makes_the_draws_reproducible() {
    let one = chaos(Chaos::builder("a").fault_rate(0.5).seed(42));
    let two = chaos(Chaos::builder("b").fault_rate(0.5));
    one.enable();
    two.enable();
    two.seed(42);
    let drawn = faults(&one, 64);
    assert_eq!(drawn, faults(&two, 64));
    // About half, and neither all nor none.
    let failed = drawn.iter().filter(|f| **f).count();
    assert!((16..=48).contains(&failed), "{failed}");
    one.seed(42);
    assert_eq!(faults(&one, 64), drawn);
}

#[test]
fn the_rates_hold_over_many_draws() {
    let chaos = chaos(
        Chaos::builder("rates")
            .fault_rate(0.05)
            .latency(Duration::from_millis(1))
            .latency_rate(0.1)
            .seed(7),
    );
    chaos.enable();
    for _ in 0..10_000 {
        chaos.draw();
    }
    let stats = chaos.stats();
    assert!((400..=600).contains(&stats.injected_faults), "{stats:?}");
    assert!((850..=1150).contains(&stats.injected_delays), "{stats:?}");
}

#[test]
fn build_refuses_rates_out_of_range() {
    let err = Chaos::builder("x").fault_rate(1.5).build().unwrap_err();
    assert!(matches!(
        err,
        crate::ConfigError::OutOfRange {
            key: "fault_rate",
            ..
        }
    ));
    let err = Chaos::builder("x").latency_rate(-0.1).build().unwrap_err();
    assert!(matches!(
        err,
        crate::ConfigError::OutOfRange {
            key: "latency_rate",
            ..
        }
    ));
}
