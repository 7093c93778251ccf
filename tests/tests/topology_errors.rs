//! Topology validation errors name the file, the line and the field.
#![allow(clippy::unwrap_used)]

use ovs_lab::{Topology, TopologyError, TunnelType};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn err(src: &str) -> TopologyError {
    Topology::parse(src, "inline.toml").unwrap_err()
}

/// A valid two-host, one-network topology the tests below break one field at a time
/// (line numbers in the assertions refer to this file).
const BASE: &str = include_str!("../fixtures/base.toml");

#[test]
fn shipped_topologies_validate() {
    for (f, hosts, nets) in [
        ("two-hosts", 2, 1),
        ("three-hosts-mixed", 3, 2),
        ("multi-tenant", 2, 2),
        ("two-hosts-pair", 2, 1),
        ("ctl-tunnels", 2, 3),
        ("ctl-resilience", 3, 1),
        ("geneve", 2, 1),
        ("isolation-leak", 1, 2),
        ("routed", 3, 4),
        ("egress", 2, 3),
    ] {
        let t = Topology::named(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.hosts.len(), t.networks.len()), (hosts, nets), "{f}");
    }
    let mixed = Topology::named("three-hosts-mixed").unwrap();
    assert_eq!(mixed.networks[1].tunnel, TunnelType::Gre);
    let mt = Topology::named("multi-tenant").unwrap();
    assert_eq!(mt.networks[0].subnet, mt.networks[1].subnet);
    assert!(!mt.expect_reachable("red1", "green2"));
    assert!(mt.expect_reachable("red1", "red2"));
}

#[test]
fn unknown_host_fixture_names_file_line_field() {
    let e = Topology::load(fixture("bad-unknown-host.toml")).unwrap_err();
    assert!(e.origin.ends_with("bad-unknown-host.toml"), "{e}");
    assert_eq!(e.line, 13, "{e}");
    assert_eq!(e.field, "containers[0].host", "{e}");
    assert!(
        e.message.contains("\"h9\"") && e.message.contains("\"c1\""),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("bad-unknown-host.toml:13: containers[0].host"),
        "{e}"
    );
}

#[test]
fn vni_out_of_range_fixture() {
    let e = Topology::load(fixture("bad-vni.toml")).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (8, "networks[0].vni"), "{e}");
    assert!(e.message.contains("16777216"), "{e}");
    let e = err(&BASE.replace("vni = 100", "vni = 0"));
    assert_eq!(e.field, "networks[0].vni", "{e}");
}

#[test]
fn unknown_field_is_a_syntax_error_with_line_and_column() {
    let e = Topology::load(fixture("bad-syntax.toml")).unwrap_err();
    assert_eq!(e.field, "syntax", "{e}");
    assert_eq!(e.line, 5, "{e}");
    assert_eq!(e.col, Some(1), "{e}");
    assert!(e.message.contains("addr"), "{e}");
}

#[test]
fn bad_tunnel_type_is_reported() {
    let e = err(&format!("{BASE}tunnel = \"ipip\"\n"));
    assert_eq!(e.line, 10, "{e}");
    assert!(e.message.contains("ipip"), "{e}");
}

#[test]
fn duplicate_host_names_point_at_second_entry() {
    let e = err(&BASE.replace("name = \"h2\"", "name = \"h1\""));
    assert_eq!((e.line, e.field.as_str()), (5, "hosts[1].name"), "{e}");
    assert!(e.message.contains("line 3"), "{e}");
}

/// Every kind of name is defined once: the error names the kind, the second entry and the
/// line of the first.
#[test]
fn duplicate_network_and_container_names_point_at_second_entry() {
    let red = "[[networks]]\nname = \"blue\"\nvni = 200\nsubnet = \"10.244.2.0/24\"\n";
    let c = "[[containers]]\nname = \"c1\"\nhost = \"h1\"\nnetwork = \"blue\"\n";
    for (src, line, field, kind, first) in [
        (
            format!("{BASE}{red}"),
            11,
            "networks[1].name",
            "network",
            "line 7",
        ),
        (
            format!("{BASE}{c}{c}"),
            15,
            "containers[1].name",
            "container",
            "line 11",
        ),
    ] {
        let e = err(&src);
        assert_eq!((e.line, e.field.as_str()), (line, field), "{e}");
        assert!(
            e.message.contains(&format!("duplicate {kind} name \"")) && e.message.contains(first),
            "{e}"
        );
    }
}

#[test]
fn long_host_name_rejected() {
    let e = err(&BASE.replace("name = \"h2\"", "name = \"host-too-long\""));
    assert_eq!(e.field, "hosts[1].name", "{e}");
}

#[test]
fn ip_outside_subnet() {
    let src = format!(
        "{BASE}[[containers]]\nname = \"c1\"\nhost = \"h1\"\nnetwork = \"blue\"\nip = \"10.244.2.5/24\"\n"
    );
    let e = err(&src);
    assert_eq!((e.line, e.field.as_str()), (14, "containers[0].ip"), "{e}");
    assert!(e.message.contains("outside"), "{e}");
}

#[test]
fn duplicate_ip_within_network_but_not_across_networks() {
    let c = |n: &str, net: &str| {
        format!("[[containers]]\nname = \"{n}\"\nhost = \"h1\"\nnetwork = \"{net}\"\nip = \"10.244.1.7/24\"\n")
    };
    let e = err(&format!("{BASE}{}{}", c("c1", "blue"), c("c2", "blue")));
    assert_eq!(e.field, "containers[1].ip", "{e}");
    assert!(e.message.contains("\"c1\""), "{e}");
    let other = "[[networks]]\nname = \"red\"\nvni = 200\nsubnet = \"10.244.1.0/24\"\n";
    let t = Topology::parse(
        &format!("{BASE}{other}{}{}", c("c1", "blue"), c("c2", "red")),
        "x",
    )
    .unwrap();
    assert_eq!(t.containers[0].ip, t.containers[1].ip);
}

#[test]
fn duplicate_vni_and_unknown_network() {
    let other = "[[networks]]\nname = \"red\"\nvni = 100\nsubnet = \"10.244.2.0/24\"\n";
    let e = err(&format!("{BASE}{other}"));
    assert_eq!((e.line, e.field.as_str()), (12, "networks[1].vni"), "{e}");
    let e = err(&format!(
        "{BASE}[[containers]]\nname = \"c1\"\nhost = \"h1\"\nnetwork = \"nope\"\n"
    ));
    assert_eq!(e.field, "containers[0].network", "{e}");
}

/// Gateways, tenants and routers: the controller's rules at parse time, the field named.
#[test]
fn gateways_tenants_and_routers_are_checked() {
    let net = |name: &str, vni: u32, subnet: &str, extra: &str| {
        format!("[[networks]]\nname = \"{name}\"\nvni = {vni}\nsubnet = \"{subnet}\"\n{extra}")
    };
    let router = |nets: &str| format!("[[routers]]\nname = \"r\"\nnetworks = [{nets}]\n");
    // Default gateway: the first host address; one outside the subnet or at its edges fails.
    let t = Topology::parse(BASE, "x").unwrap();
    assert_eq!(t.networks[0].gateway.to_string(), "10.244.1.1");
    for bad in ["10.244.2.1", "10.244.1.0", "10.244.1.255", "nope"] {
        let e = err(&format!("{BASE}gateway = \"{bad}\"\n"));
        assert_eq!(e.field, "networks[0].gateway", "{e}");
    }
    // A container may not take the gateway address; allocation skips it.
    let c = "[[containers]]\nname = \"c1\"\nhost = \"h1\"\nnetwork = \"blue\"\n";
    let e = err(&format!("{BASE}{c}ip = \"10.244.1.1/24\"\n"));
    assert!(
        e.field == "containers[0].ip" && e.message.contains("gateway"),
        "{e}"
    );
    let t = Topology::parse(&format!("{BASE}gateway = \"10.244.1.2\"\n{c}"), "x").unwrap();
    assert_eq!(t.containers[0].ip.addr.to_string(), "10.244.1.3");
    // Tenants: the name rules; a router joins one tenant, disjoint subnets, known networks.
    let e = err(&format!("{BASE}tenant = \"Bad Name\"\n"));
    assert_eq!(e.field, "networks[0].tenant", "{e}");
    let t1 = "tenant = \"t1\"\n";
    let blue = format!("{BASE}{t1}");
    let two = |other: &str| {
        format!(
            "{blue}{}{}",
            net("green", 200, "10.244.2.0/24", other),
            router("\"blue\", \"green\"")
        )
    };
    let t = Topology::parse(&two(t1), "x").unwrap();
    assert_eq!(t.routers[0].networks, ["blue", "green"]);
    assert!(t.routed("blue", "green") && !t.routed("blue", "blue2"));
    let e = err(&two("tenant = \"t2\"\n"));
    assert!(
        e.field == "routers[0].networks[1]" && e.message.contains("one tenant"),
        "{e}"
    );
    let e = err(&two(""));
    assert!(e.message.contains("one tenant"), "{e}");
    let overlap = format!(
        "{blue}{}{}",
        net("green", 200, "10.244.0.0/16", t1),
        router("\"blue\", \"green\"")
    );
    assert!(err(&overlap).message.contains("overlap"));
    let e = err(&format!("{blue}{}", router("\"blue\", \"nope\"")));
    assert!(
        e.field == "routers[0].networks[1]" && e.message.contains("unknown network"),
        "{e}"
    );
    let e = err(&format!("{blue}{}", router("\"blue\"")));
    assert_eq!(e.field, "routers[0].networks", "{e}");
}

/// Egress: a boolean, off by default, refused on a subnet overlapping the transit range.
#[test]
fn egress_is_a_checked_flag() {
    let net = |subnet: &str, extra: &str| {
        format!(
            "name = \"t\"\n[[hosts]]\nname = \"h1\"\n[[networks]]\nname = \"blue\"\nvni = 1\nsubnet = \"{subnet}\"\n{extra}"
        )
    };
    let t = Topology::parse(&net("10.244.1.0/24", ""), "x").unwrap();
    assert!(!t.networks[0].egress && !t.networks[0].api_spec().egress);
    let t = Topology::parse(&net("10.244.1.0/24", "egress = true\n"), "x").unwrap();
    assert!(t.networks[0].egress && t.networks[0].api_spec().egress);
    let e = err(&net("100.64.8.0/24", "egress = true\n"));
    assert!(
        e.field == "networks[0].egress" && e.message.contains("transit range 100.64.0.0/10"),
        "{e}"
    );
    assert!(Topology::parse(&net("100.64.8.0/24", "egress = false\n"), "x").is_ok());
    // Not a boolean: the parser points at the line (8: the `egress` line).
    let e = err(&net("10.244.1.0/24", "egress = \"yes\"\n"));
    assert!(
        e.line == 8 && e.message.contains("expected a boolean"),
        "{e}"
    );
}
