mod capability;
mod request;
mod run_args;

fn main() {}
