#[resilience::test(crate = "not a path")]
async fn renamed_badly() {}

#[resilience::test(crate = resilience)]
async fn path_not_a_string() {}

fn main() {}
