//! `ovs-bench` (placeholder, being written).
fn main() {
    eprintln!("ovs-bench: not built yet");
    std::process::exit(2);
}
