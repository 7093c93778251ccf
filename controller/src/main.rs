//! `ovs-controller`: the daemon (placeholder, being written).
fn main() {
    eprintln!("ovs-controller: not built yet");
    std::process::exit(2);
}
