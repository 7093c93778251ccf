//! `ovs-lab` (placeholder, being written).
fn main() {
    eprintln!("ovs-lab: not built yet");
    std::process::exit(2);
}
