//! Command-line names go through the API's rules (`ovs_api::names`) as clap value parsers:
//! a bad interface name, container id, network or host name is refused before anything runs
//! (no root, OVS or controller needed), exit status 1, the message naming the argument and
//! what is wrong.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ovs-docker-rs");

fn refused(args: &[&str], words: &[&str]) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: {w:?} not in {err}");
    }
}

#[test]
fn bad_names_in_arguments_are_refused_naming_the_argument() {
    let long = "a".repeat(300);
    refused(&["add-port", "br0", "a/b", "c1"], &["<INTERFACE>", "'/'"]);
    refused(
        &["add-port", "br0", "a234567890123456", "c1"],
        &["<INTERFACE>", "too long (16 bytes"],
    );
    refused(&["add-port", "br0", "eth1", ""], &["<CONTAINER>", "length"]);
    refused(
        &["add-port", "br0", "eth1", &long],
        &["<CONTAINER>", "(it is 300)"],
    );
    refused(
        &["del-port", "br0", "..", "c1"],
        &["<INTERFACE>", "reserved"],
    );
    refused(
        &["attach", "c1", "--network", ".."],
        &["--network", "must start"],
    );
    refused(
        &["attach", "c1", "--network", "blue", "--interface", "a b"],
        &["--interface", "whitespace"],
    );
    refused(
        &[
            "attach",
            "c1",
            "--network",
            "blue",
            "--host",
            "host-123456a",
        ],
        &["--host", "length must be 1..=11"],
    );
    refused(&["detach", "../x"], &["<CONTAINER>", "allowed characters"]);
}
