//! The dashboard in a real browser: headless Chromium (Debian package `chromium`) driven over the
//! DevTools protocol. Loads the page, finds the cards, forces a breaker open through the API and
//! sees its card turn `open`, and saves a screenshot.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig, HeadlessMode};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::Page;
use common::{Harness, TOKEN};
use futures::StreamExt;
use resilience::{Bulkhead, Chaos, CircuitBreaker, RateLimiter, Retry, Timeout};

/// The browser: `$CHROMIUM`, else `chromium` on the `PATH`.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return path.into();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "headless Chromium is needed for the dashboard test and was not found on the PATH: \
                 install the Debian package `chromium` (apt-get install chromium), or set CHROMIUM"
            )
        })
}

/// `expression`'s value in the page, as JSON.
async fn eval(page: &Page, expression: &str) -> serde_json::Value {
    page.evaluate(expression)
        .await
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
        .into_value()
        .unwrap_or(serde_json::Value::Null)
}

/// Waits, at most 10 s, until `expression` is `true` in the page.
async fn until(page: &Page, expression: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while eval(page, expression).await != serde_json::Value::Bool(true) {
        assert!(
            Instant::now() < deadline,
            "never true in the page: {expression}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_breaker_opening() {
    let h = Harness::start().await;
    let breaker = h
        .registry
        .circuit_breaker_or_register(CircuitBreaker::builder("checkout").failure_threshold(5))
        .unwrap();
    for _ in 0..40 {
        breaker.record_success();
    }
    breaker.record_failure();
    let bulkhead = h
        .registry
        .bulkhead_or_register(Bulkhead::builder("render").max_concurrent(8).queue(4))
        .unwrap();
    let _held: Vec<_> = (0..5).map(|_| bulkhead.try_acquire().unwrap()).collect();
    h.registry
        .rate_limiter_or_register(RateLimiter::builder("search").rate(50))
        .unwrap();
    h.registry
        .retry_or_register(Retry::builder("checkout").max_attempts(3))
        .unwrap();
    h.registry
        .timeout_or_register(Timeout::builder("checkout").duration(Duration::from_secs(2)))
        .unwrap();

    let chaos = h
        .registry
        .chaos_or_register(Chaos::builder("checkout").fault_rate(0.5))
        .unwrap();

    // A name with markup in it: shown as text, never run.
    let hostile = "<img src=x onerror=\"document.title='owned'\">";
    h.registry
        .timeout_or_register(Timeout::builder(hostile).duration(Duration::from_secs(1)))
        .unwrap();

    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium())
        .disable_default_args()
        .headless_mode(HeadlessMode::True)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1400, 900)
        .viewport(None)
        .args([
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--force-device-scale-factor=1",
        ])
        .launch_timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config)
        .await
        .expect("chromium starts (Debian package `chromium`)");
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let page = browser.new_page(h.url("/")).await.unwrap();
    until(&page, "document.querySelectorAll('.card').length === 7").await;
    assert_eq!(
        eval(&page, "document.querySelectorAll('img').length").await,
        0
    );
    assert_ne!(eval(&page, "document.title").await, "owned");
    let names = eval(
        &page,
        "[...document.querySelectorAll('.card .name')].map(n => n.textContent)",
    )
    .await;
    assert!(
        names.as_array().unwrap().iter().any(|name| name == hostile),
        "{names}"
    );
    let card =
        r#"document.querySelector('.card[data-kind="circuit_breaker"][data-name="checkout"]')"#;
    assert_eq!(
        eval(&page, &format!("{card}.dataset.state")).await,
        "closed"
    );
    assert_eq!(
        eval(
            &page,
            r#"document.querySelector('.card[data-kind="bulkhead"]').dataset.state"#
        )
        .await,
        "-"
    );
    assert_eq!(eval(&page, "document.body.dataset.health").await, "healthy");
    // The page is live on its event stream.
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            h.server.event_streams() >= 1
        })
        .await
    );

    // Open through the API: the card turns, and health with it.
    let (status, _) = h
        .control("/policies/circuit_breaker/checkout/force_open")
        .await;
    assert_eq!(status, 200);
    until(&page, &format!("{card}.dataset.state === 'open'")).await;
    until(&page, "document.body.dataset.health === 'degraded'").await;

    // Chaos turned on through the API: its card says it injects.
    let chaos_card = r#"document.querySelector('.card[data-kind="chaos"][data-name="checkout"]')"#;
    until(&page, &format!("{chaos_card}.textContent.includes('injecting') && {chaos_card}.textContent.includes('no')")).await;
    let (status, _) = h.control("/chaos/checkout/enable").await;
    assert_eq!(status, 200);
    assert!(chaos.is_enabled());
    until(
        &page,
        &format!("{chaos_card}.querySelector('.fact.bad') !== null"),
    )
    .await;
    let text = eval(&page, &format!("{card}.textContent")).await;
    assert!(text.as_str().unwrap().contains("open"), "{text}");
    until(&page, "document.querySelector('#events li') !== null").await;

    let png = page
        .screenshot(ScreenshotParams::builder().full_page(true).build())
        .await
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&shot, &png).unwrap();
    println!("screenshot: {}", shot.display());

    // The token never reaches the page.
    let html = eval(&page, "document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap().contains(TOKEN));

    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
}
