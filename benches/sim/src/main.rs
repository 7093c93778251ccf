//! `ovs-scale` (placeholder, being written).
fn main() {
    eprintln!("ovs-scale: not built yet");
    std::process::exit(2);
}
