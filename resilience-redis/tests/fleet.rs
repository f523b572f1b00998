//! Two processes, two registries, one Redis: a shared rate limiter whose limit holds across
//! both, and a shared breaker one process trips and the other follows within a sync interval.
//!
//! The test binary is its own node: run with `RESILIENCE_FLEET_NODE=follow|trip` it is one
//! instance of the service (`node`); run plainly it starts a `redis-server` and two nodes and
//! checks what they report (`main`). No test harness, hence no filter: it is one test.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands;
use resilience::{circuit_breaker, rate_limit, registry, CircuitState, Error};
use resilience_redis::RedisStore;
use support::RedisServer;

const ROLE: &str = "RESILIENCE_FLEET_NODE";
const URL: &str = "RESILIENCE_FLEET_URL";
/// Calls each node makes through the shared limiter, which has 10 cells for the whole fleet.
const CALLS_PER_NODE: u32 = 8;
const FLEET_CELLS: u32 = 10;
const SYNC_INTERVAL: Duration = Duration::from_millis(100);
/// How far behind the tripping node the following node may be, on a loaded CI machine.
const FOLLOW_BOUND: Duration = Duration::from_secs(1);
const NODE_DEADLINE: Duration = Duration::from_secs(20);

#[rate_limit(name = "fleet-search", rate = 10, per = "600s", shared)]
async fn search() -> Result<(), Error> {
    Ok(())
}

#[circuit_breaker(
    name = "fleet-orders",
    failure_threshold = 3,
    reset_timeout = "60s",
    shared
)]
async fn orders(fail: bool) -> Result<(), Error> {
    if fail {
        Err(Error::Timeout {
            name: "orders-backend".into(),
            after: Duration::from_millis(1),
        })
    } else {
        Ok(())
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn main() {
    match std::env::var(ROLE) {
        Ok(role) => node(&role),
        Err(_) => {
            two_processes_share_a_limiter_and_a_breaker();
            println!("fleet: 1 passed, 0 failed");
        }
    }
}

/// One instance of the service: prints `permitted=N`, then `ready`, then what its role asks.
fn node(role: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let url = std::env::var(URL).expect("the server's URL");
        let store = RedisStore::builder(url.as_str())
            .prefix("fleet")
            .sync_interval(SYNC_INTERVAL)
            .operation_timeout(Duration::from_millis(500))
            .connect()
            .await
            .expect("the test's redis-server");
        registry().set_store(store);
        let mut permitted = 0;
        for _ in 0..CALLS_PER_NODE {
            if search().await.is_ok() {
                permitted += 1;
            }
        }
        println!("permitted={permitted}");
        orders(false).await.expect("a closed breaker");
        let breaker = registry()
            .circuit_breaker("fleet-orders")
            .expect("registered");
        let deadline = tokio::time::Instant::now() + NODE_DEADLINE;
        match role {
            "follow" => {
                println!("ready");
                while breaker.state() != CircuitState::Open {
                    assert!(tokio::time::Instant::now() < deadline, "never followed");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                println!("followed_at={}", now_ms());
                // Rejected without a call of its own having failed.
                assert!(matches!(
                    orders(false).await,
                    Err(Error::CircuitOpen { .. })
                ));
                println!("rejected");
            }
            "trip" => {
                for _ in 0..3 {
                    let _ = orders(true).await;
                }
                assert_eq!(breaker.state(), CircuitState::Open);
                // Until the proposal is in the fleet's state.
                let client = redis::Client::open(url.as_str()).expect("URL");
                let mut redis = client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("a connection");
                loop {
                    let phase: Option<String> = redis
                        .hget("resilience:fleet:circuit_breaker:fleet-orders", "phase")
                        .await
                        .expect("HGET");
                    if phase.as_deref() == Some("open") {
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "never synced");
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                println!("tripped_at={}", now_ms());
            }
            other => panic!("unknown role {other}"),
        }
    });
}

/// A node process, killed if the test ends before it does.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Node {
    fn start(role: &str, url: &str) -> Node {
        let mut child = Command::new(std::env::current_exe().expect("this test's binary"))
            .env(ROLE, role)
            .env(URL, url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a node process");
        let stdout = child.stdout.take().expect("piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Node { child, lines }
    }

    /// The next line starting with `prefix`, within the deadline.
    fn line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + NODE_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("no `{prefix}` line from the node within {NODE_DEADLINE:?}"),
            }
        }
    }

    fn value(&self, prefix: &str) -> u128 {
        let line = self.line(prefix);
        line[prefix.len()..].parse().expect("a number")
    }

    fn succeeds(mut self) {
        let deadline = Instant::now() + NODE_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the node's status") {
                assert!(status.success(), "the node failed: {status}");
                return;
            }
            assert!(Instant::now() < deadline, "the node did not end");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn two_processes_share_a_limiter_and_a_breaker() {
    let server = RedisServer::start();
    let url = server.url();
    let follower = Node::start("follow", &url);
    let follower_permitted = follower.value("permitted=");
    follower.line("ready");
    let tripper = Node::start("trip", &url);
    let tripper_permitted = tripper.value("permitted=");
    assert_eq!(
        follower_permitted + tripper_permitted,
        u128::from(FLEET_CELLS),
        "the fleet's limit holds across processes: {follower_permitted} + {tripper_permitted}"
    );
    let tripped_at = tripper.value("tripped_at=");
    let followed_at = follower.value("followed_at=");
    let lag = Duration::from_millis(
        u64::try_from(followed_at.saturating_sub(tripped_at)).unwrap_or(u64::MAX),
    );
    eprintln!("fleet: the follower followed {lag:?} after the fleet opened");
    assert!(lag <= FOLLOW_BOUND, "followed {lag:?} after the trip");
    follower.line("rejected");
    tripper.succeeds();
    follower.succeeds();
    drop(server);
}
