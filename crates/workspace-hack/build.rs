//! Empty: it only makes Cargo build the host dependencies listed in Cargo.toml.
fn main() {}
