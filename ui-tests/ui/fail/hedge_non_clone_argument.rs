use resilience::hedge;

struct Request;

#[hedge(delay = "50ms")]
async fn fetch(request: Request) -> Result<u32, resilience::Error> {
    let _ = request;
    Ok(1)
}

fn main() {}
