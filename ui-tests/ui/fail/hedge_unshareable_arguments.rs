use resilience::hedge;

#[hedge(delay = "50ms")]
async fn fetch(mut buffer: &mut Vec<u8>, log: &mut String) -> Result<usize, resilience::Error> {
    buffer.push(1);
    log.push('x');
    Ok(buffer.len())
}

struct Client;

impl Client {
    #[hedge(delay = "50ms")]
    async fn send(&mut self) -> Result<(), resilience::Error> {
        Ok(())
    }
}

fn main() {}

struct Shared;

impl Shared {
    #[hedge(delay = "50ms")]
    async fn by_arc(self: std::sync::Arc<Self>) -> Result<(), resilience::Error> {
        Ok(())
    }
}
