//! Between a kind's builder and its settings by name: what code gave, as a [`Layer`], and the
//! builder for the settings in effect once the file's layers are stacked on.

use resilience_settings::circuit_breaker::Window as WindowSetting;
use resilience_settings::retry::{
    BackoffStrategy, JitterStrategy, DEFAULT_DELAY, DEFAULT_FACTOR, REJECTIONS,
};
use std::sync::Arc;

use resilience_settings::{Attribute, Problem};

use super::layer::{Layer, Source, Value};
use crate::registry::RegisteredPolicy;
use crate::{
    Bulkhead, BulkheadBuilder, CircuitBreaker, CircuitBreakerBuilder, Fallback, FallbackBuilder,
    Jitter, RateLimiter, RateLimiterBuilder, Retry, RetryBuilder, RetryOn, Timeout, TimeoutBuilder,
    Window,
};

/// A kind of policy whose settings stack by source.
pub(crate) trait Layered: RegisteredPolicy {
    /// The attribute whose keys a file uses for it; `None` when a file can set nothing.
    const ATTRIBUTE: Option<Attribute>;

    /// A builder named `name` that gives no settings.
    fn named(name: Arc<str>) -> Self::Builder;

    /// The settings `builder` gives, each from `source`.
    fn code_layer(builder: &Self::Builder, source: Source) -> Layer;

    /// The builder for `effective`: `code`'s name, and what only code can give (a custom
    /// backoff function), with `effective` for every setting.
    fn layered(code: &Self::Builder, effective: &Layer) -> Self::Builder;

    /// Every problem of the builder's settings.
    fn problems(builder: &Self::Builder) -> Vec<Problem>;
}

fn count(layer: &Layer, setting: &str) -> Option<u32> {
    match layer.get(setting) {
        Some(Value::Count(count)) => Some(*count),
        _ => None,
    }
}

fn duration(layer: &Layer, setting: &str) -> Option<std::time::Duration> {
    match layer.get(setting) {
        Some(Value::Duration(duration)) => Some(*duration),
        _ => None,
    }
}

fn flag(layer: &Layer, setting: &str) -> Option<bool> {
    match layer.get(setting) {
        Some(Value::Flag(flag)) => Some(*flag),
        _ => None,
    }
}

fn number(layer: &Layer, setting: &str) -> Option<f64> {
    match layer.get(setting) {
        Some(Value::Number(number)) => Some(*number),
        _ => None,
    }
}

/// A layer of the `Some` values, in order.
fn layer_of(source: Source, values: Vec<(&'static str, Option<Value>)>) -> Layer {
    let mut layer = Layer::default();
    for (setting, value) in values {
        if let Some(value) = value {
            layer.set(setting, value, source);
        }
    }
    layer
}

impl Layered for Retry {
    const ATTRIBUTE: Option<Attribute> = Some(Attribute::Retry);

    fn named(name: Arc<str>) -> Self::Builder {
        Retry::builder(name)
    }

    fn code_layer(builder: &RetryBuilder, source: Source) -> Layer {
        let settings = builder.settings();
        let retry_on = builder.given_retry_on().map(|retry_on| {
            Value::Choices(
                REJECTIONS
                    .iter()
                    .copied()
                    .filter(|name| {
                        RetryOn::from_name(name).is_some_and(|one| retry_on.contains(one))
                    })
                    .collect(),
            )
        });
        layer_of(
            source,
            vec![
                ("max_attempts", settings.max_attempts.map(Value::Count)),
                ("backoff", settings.backoff.map(Value::Backoff)),
                ("delay", settings.delay.map(Value::Duration)),
                ("factor", settings.factor.map(Value::Number)),
                ("max_delay", settings.max_delay.map(Value::Duration)),
                ("delays", settings.delays.map(Value::Durations)),
                ("backoff_fn", settings.backoff_fn.then_some(Value::Code)),
                ("jitter", settings.jitter.map(Value::Jitter)),
                ("max_elapsed", settings.max_elapsed.map(Value::Duration)),
                ("retry_on", retry_on),
                (
                    "budget",
                    builder
                        .given_budget()
                        .map(|budget| Value::Text(budget.to_string())),
                ),
            ],
        )
    }

    fn layered(code: &RetryBuilder, effective: &Layer) -> RetryBuilder {
        let mut builder = Retry::builder(code.name().clone());
        if let Some(max_attempts) = count(effective, "max_attempts") {
            builder = builder.max_attempts(max_attempts);
        }
        let strategy = match effective.get("backoff") {
            Some(Value::Backoff(strategy)) => Some(*strategy),
            _ => None,
        };
        let delay = duration(effective, "delay");
        let factor = number(effective, "factor");
        if effective.get("backoff_fn").is_some() {
            if let Some(backoff) = code.given_backoff() {
                builder = builder.backoff(backoff.clone());
            }
        } else if let Some(Value::Durations(delays)) = effective.get("delays") {
            builder = builder.delays(delays.clone());
        } else if strategy.is_some() || delay.is_some() || factor.is_some() {
            let delay = delay.unwrap_or(DEFAULT_DELAY);
            builder = match strategy.unwrap_or_default() {
                BackoffStrategy::Exponential => {
                    builder.exponential(delay, factor.unwrap_or(DEFAULT_FACTOR))
                }
                BackoffStrategy::Fixed => builder.fixed(delay),
                BackoffStrategy::Linear => builder.linear(delay),
                BackoffStrategy::None => builder.no_backoff(),
            };
        }
        if let Some(max_delay) = duration(effective, "max_delay") {
            builder = builder.max_delay(max_delay);
        }
        if let Some(Value::Jitter(jitter)) = effective.get("jitter") {
            builder = builder.jitter(match *jitter {
                JitterStrategy::Proportional(fraction) => Jitter::Proportional(fraction),
                JitterStrategy::Full => Jitter::Full,
                JitterStrategy::Equal => Jitter::Equal,
                JitterStrategy::Decorrelated => Jitter::Decorrelated,
            });
        }
        if let Some(max_elapsed) = duration(effective, "max_elapsed") {
            builder = builder.max_elapsed(max_elapsed);
        }
        if let Some(Value::Choices(names)) = effective.get("retry_on") {
            let retry_on = names
                .iter()
                .filter_map(|name| RetryOn::from_name(name))
                .fold(RetryOn::NONE, RetryOn::union);
            builder = builder.retry_on(retry_on);
        }
        if let Some(Value::Text(budget)) = effective.get("budget") {
            builder = builder.budget(budget.as_str());
        }
        builder
    }

    fn problems(builder: &RetryBuilder) -> Vec<Problem> {
        builder.settings().problems()
    }
}

impl Layered for CircuitBreaker {
    const ATTRIBUTE: Option<Attribute> = Some(Attribute::CircuitBreaker);

    fn named(name: Arc<str>) -> Self::Builder {
        CircuitBreaker::builder(name)
    }

    fn code_layer(builder: &CircuitBreakerBuilder, source: Source) -> Layer {
        let settings = builder.settings();
        layer_of(
            source,
            vec![
                (
                    "failure_threshold",
                    settings.failure_threshold.map(Value::Count),
                ),
                ("failure_rate", settings.failure_rate.map(Value::Number)),
                ("window", settings.window.map(Value::Window)),
                ("min_calls", settings.min_calls.map(Value::Count)),
                ("reset_timeout", settings.reset_timeout.map(Value::Duration)),
                (
                    "half_open_max_calls",
                    settings.half_open_max_calls.map(Value::Count),
                ),
                (
                    "success_threshold",
                    settings.success_threshold.map(Value::Count),
                ),
                ("slow_call", settings.slow_call.map(Value::Duration)),
                (
                    "half_open_timeout",
                    builder.given_half_open_timeout().map(Value::Duration),
                ),
                ("critical", settings.critical.map(Value::Flag)),
                ("shared", settings.shared.map(Value::Flag)),
                ("key_idle", builder.key_settings().0.map(Value::Duration)),
                ("max_keys", builder.key_settings().1.map(Value::Count)),
            ],
        )
    }

    fn layered(code: &CircuitBreakerBuilder, effective: &Layer) -> CircuitBreakerBuilder {
        let mut builder = CircuitBreaker::builder(code.name().clone());
        if let Some(threshold) = count(effective, "failure_threshold") {
            builder = builder.failure_threshold(threshold);
        }
        if let Some(rate) = number(effective, "failure_rate") {
            builder = builder.failure_rate(rate);
        }
        match effective.get("window") {
            Some(Value::Window(WindowSetting::Calls(calls))) => {
                builder = builder.window(Window::Calls(*calls));
            }
            Some(Value::Window(WindowSetting::Time(length))) => {
                builder = builder.window(Window::Time(*length));
            }
            _ => {}
        }
        if let Some(calls) = count(effective, "min_calls") {
            builder = builder.min_calls(calls);
        }
        if let Some(timeout) = duration(effective, "reset_timeout") {
            builder = builder.reset_timeout(timeout);
        }
        if let Some(calls) = count(effective, "half_open_max_calls") {
            builder = builder.half_open_max_calls(calls);
        }
        if let Some(successes) = count(effective, "success_threshold") {
            builder = builder.success_threshold(successes);
        }
        if let Some(limit) = duration(effective, "slow_call") {
            builder = builder.slow_call(limit);
        }
        if let Some(timeout) = duration(effective, "half_open_timeout") {
            builder = builder.half_open_timeout(timeout);
        }
        if let Some(critical) = flag(effective, "critical") {
            builder = builder.critical(critical);
        }
        if let Some(shared) = flag(effective, "shared") {
            builder = builder.shared(shared);
        }
        if let Some(key_idle) = duration(effective, "key_idle") {
            builder = builder.key_idle(key_idle);
        }
        if let Some(max_keys) = count(effective, "max_keys") {
            builder = builder.max_keys(max_keys);
        }
        builder
    }

    fn problems(builder: &CircuitBreakerBuilder) -> Vec<Problem> {
        let mut settings = builder.settings();
        settings.half_open_timeout = builder.given_half_open_timeout();
        settings.problems()
    }
}

impl Layered for Bulkhead {
    const ATTRIBUTE: Option<Attribute> = Some(Attribute::Bulkhead);

    fn named(name: Arc<str>) -> Self::Builder {
        Bulkhead::builder(name)
    }

    fn code_layer(builder: &BulkheadBuilder, source: Source) -> Layer {
        let settings = builder.settings();
        layer_of(
            source,
            vec![
                ("max", settings.max.map(Value::Count)),
                ("queue", settings.queue.map(Value::Count)),
                ("queue_timeout", settings.queue_timeout.map(Value::Duration)),
                ("key_idle", builder.key_settings().0.map(Value::Duration)),
                ("max_keys", builder.key_settings().1.map(Value::Count)),
            ],
        )
    }

    fn layered(code: &BulkheadBuilder, effective: &Layer) -> BulkheadBuilder {
        let mut builder = Bulkhead::builder(code.name().clone());
        if let Some(max) = count(effective, "max") {
            builder = builder.max_concurrent(max);
        }
        if let Some(queue) = count(effective, "queue") {
            builder = builder.queue(queue);
        }
        if let Some(timeout) = duration(effective, "queue_timeout") {
            builder = builder.queue_timeout(timeout);
        }
        if let Some(key_idle) = duration(effective, "key_idle") {
            builder = builder.key_idle(key_idle);
        }
        if let Some(max_keys) = count(effective, "max_keys") {
            builder = builder.max_keys(max_keys);
        }
        builder
    }

    fn problems(builder: &BulkheadBuilder) -> Vec<Problem> {
        builder.settings().problems()
    }
}

impl Layered for RateLimiter {
    const ATTRIBUTE: Option<Attribute> = Some(Attribute::RateLimit);

    fn named(name: Arc<str>) -> Self::Builder {
        RateLimiter::builder(name)
    }

    fn code_layer(builder: &RateLimiterBuilder, source: Source) -> Layer {
        let settings = builder.settings();
        layer_of(
            source,
            vec![
                ("rate", settings.rate.map(Value::Count)),
                ("per", settings.per.map(Value::Duration)),
                ("burst", settings.burst.map(Value::Count)),
                ("wait", settings.wait.map(Value::Duration)),
                ("shared", settings.shared.map(Value::Flag)),
                ("key_idle", builder.key_settings().0.map(Value::Duration)),
                ("max_keys", builder.key_settings().1.map(Value::Count)),
            ],
        )
    }

    fn layered(code: &RateLimiterBuilder, effective: &Layer) -> RateLimiterBuilder {
        let mut builder = RateLimiter::builder(code.name().clone());
        if let Some(rate) = count(effective, "rate") {
            builder = builder.rate(rate);
        }
        if let Some(per) = duration(effective, "per") {
            builder = builder.per(per);
        }
        if let Some(burst) = count(effective, "burst") {
            builder = builder.burst(burst);
        }
        if let Some(wait) = duration(effective, "wait") {
            builder = builder.wait(wait);
        }
        if let Some(shared) = flag(effective, "shared") {
            builder = builder.shared(shared);
        }
        if let Some(key_idle) = duration(effective, "key_idle") {
            builder = builder.key_idle(key_idle);
        }
        if let Some(max_keys) = count(effective, "max_keys") {
            builder = builder.max_keys(max_keys);
        }
        builder
    }

    fn problems(builder: &RateLimiterBuilder) -> Vec<Problem> {
        builder.settings().problems()
    }
}

impl Layered for Timeout {
    const ATTRIBUTE: Option<Attribute> = Some(Attribute::Timeout);

    fn named(name: Arc<str>) -> Self::Builder {
        Timeout::builder(name)
    }

    fn code_layer(builder: &TimeoutBuilder, source: Source) -> Layer {
        layer_of(
            source,
            vec![("duration", builder.given_duration().map(Value::Duration))],
        )
    }

    fn layered(code: &TimeoutBuilder, effective: &Layer) -> TimeoutBuilder {
        let mut builder = Timeout::builder(code.name().clone());
        if let Some(duration) = duration(effective, "duration") {
            builder = builder.duration(duration);
        }
        builder
    }

    fn problems(builder: &TimeoutBuilder) -> Vec<Problem> {
        resilience_settings::timeout::TimeoutSettings {
            duration: builder.given_duration(),
        }
        .problems()
    }
}

impl Layered for Fallback {
    const ATTRIBUTE: Option<Attribute> = None;

    fn named(name: Arc<str>) -> Self::Builder {
        Fallback::builder(name)
    }

    fn code_layer(_builder: &FallbackBuilder, _source: Source) -> Layer {
        Layer::default()
    }

    fn layered(code: &FallbackBuilder, _effective: &Layer) -> FallbackBuilder {
        code.clone()
    }

    fn problems(_builder: &FallbackBuilder) -> Vec<Problem> {
        Vec::new()
    }
}
