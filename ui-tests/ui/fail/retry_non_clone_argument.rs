use resilience::retry;

struct Connection;

#[retry(max_attempts = 3)]
async fn send(connection: Connection, payload: &str) -> Result<usize, String> {
    let _ = connection;
    Ok(payload.len())
}

fn main() {}
