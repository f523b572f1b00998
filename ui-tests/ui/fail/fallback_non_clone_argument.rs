use resilience::fallback;

struct Connection;

fn reconnect(_c: Connection, _error: String) -> Result<u32, String> {
    Ok(0)
}

#[fallback(reconnect)]
async fn send(connection: Connection) -> Result<u32, String> {
    drop(connection);
    Err("broken pipe".to_owned())
}

fn main() {}
