//! `ovs-docker-rs` (placeholder, being written).
fn main() {
    eprintln!("ovs-docker-rs: not built yet");
    std::process::exit(2);
}
