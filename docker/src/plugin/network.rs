//! `NetworkDriver.CreateNetwork` / `DeleteNetwork`: a Docker network is a controller network.
//!
//! Contract: `-o network=NAME` names the controller network (default `d` + the first 10
//! hex digits of Docker's network id); `-o vni=`, `-o tunnel=vxlan|gre|geneve`, `-o mtu=`,
//! `--subnet` and `--gateway` are its settings. Any other `-o` key is refused, naming it.
//! When the controller already has a network of that name (created by another host, or by
//! an operator), it is adopted: every setting given must agree with it, or the call fails
//! naming the setting and both values. Otherwise the network is created (`-o vni` is then
//! required) and `DeleteNetwork` deletes it again; an adopted network is left alone.
//! Nothing is recorded unless the whole call succeeded.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Result};
use ipnet::Ipv4Net;
use ovs_api::{codes, names, Network, NetworkSpec, NorthboundClient, TunnelType};
use serde_json::{json, Value};

use super::state::{Net, State};
use super::wire::{addr_with_len, docker_id, CreateNetwork, NetworkRef};
use super::Plugin;

/// The `-o` keys the driver takes.
const KNOWN: [&str; 4] = ["network", "vni", "tunnel", "mtu"];

/// The `-o` settings of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetOptions {
    /// Controller network name.
    pub name: String,
    /// VNI.
    pub vni: Option<u32>,
    /// Tunnel type.
    pub tunnel: Option<TunnelType>,
    /// Endpoint MTU.
    pub mtu: Option<u16>,
}

impl NetOptions {
    /// Parses the `-o` pairs of Docker network `nid`.
    pub fn parse(nid: &str, opts: &BTreeMap<String, String>) -> Result<NetOptions> {
        if let Some(k) = opts.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            bail!(
                "unknown option {k} (the ovs driver takes -o {})",
                KNOWN.join("=.., -o ") + "=.."
            );
        }
        let name = match opts.get("network") {
            Some(n) => {
                names::network_name(n).map_err(|e| anyhow!("option network: {e}"))?;
                n.clone()
            }
            None => format!("d{}", &nid[..10]),
        };
        let vni = opts
            .get("vni")
            .map(|v| match v.parse::<u32>() {
                Ok(n) if (1..=16_777_215).contains(&n) => Ok(n),
                _ => Err(anyhow!("invalid option vni {v:?}: want 1..=16777215")),
            })
            .transpose()?;
        let tunnel = opts
            .get("tunnel")
            .map(|t| {
                t.parse::<TunnelType>()
                    .map_err(|_| anyhow!("invalid option tunnel {t:?}: want vxlan, gre or geneve"))
            })
            .transpose()?;
        let mtu = opts
            .get("mtu")
            .map(|m| match m.parse::<u16>() {
                Ok(n) if n >= 68 => Ok(n),
                _ => Err(anyhow!("invalid option mtu {m:?}: want 68..=65535")),
            })
            .transpose()?;
        Ok(NetOptions {
            name,
            vni,
            tunnel,
            mtu,
        })
    }
}

/// Docker's view of the network's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Addressing {
    subnet: Ipv4Net,
    gateway: Option<Ipv4Addr>,
    /// The gateway was picked by our IPAM, not given with `--gateway`.
    gateway_auto: bool,
}

/// Checks that an existing controller network agrees with what Docker asked for.
fn agree(o: &NetOptions, a: &Addressing, n: &Network) -> Result<()> {
    let differ = |what: &str, ours: String, theirs: String| {
        anyhow!(
            "{what} {ours} disagrees with the existing controller network {} ({what} {theirs}); \
             use the controller network's settings or another -o network= name",
            n.name
        )
    };
    if a.subnet != n.subnet {
        return Err(differ(
            "--subnet",
            a.subnet.to_string(),
            n.subnet.to_string(),
        ));
    }
    if let Some(v) = o.vni.filter(|v| *v != n.vni) {
        return Err(differ("-o vni", v.to_string(), n.vni.to_string()));
    }
    if let Some(t) = o.tunnel.filter(|t| *t != n.tunnel) {
        return Err(differ("-o tunnel", t.to_string(), n.tunnel.to_string()));
    }
    if let Some(m) = o.mtu.filter(|m| *m != n.mtu) {
        return Err(differ("-o mtu", m.to_string(), n.mtu.to_string()));
    }
    let show = |g: Option<Ipv4Addr>| g.map(|g| g.to_string()).unwrap_or_else(|| "none".into());
    match (a.gateway, n.gateway) {
        // Our IPAM's pick without --gateway: fine when the controller has none.
        (_, None) if a.gateway_auto => {}
        (g, theirs) if g != theirs => {
            return Err(differ("--gateway", show(g), show(theirs)));
        }
        _ => {}
    }
    Ok(())
}

/// `NetworkDriver.CreateNetwork`.
pub(super) async fn create(p: &Plugin, st: &mut State, r: CreateNetwork) -> Result<Value> {
    let nid = docker_id("NetworkID", &r.network_id)?.to_string();
    let opts = NetOptions::parse(&nid, &r.driver_options()?)?;
    if !r.ipv6_data.is_empty() {
        bail!("IPv6 is not supported by the ovs network driver (drop --ipv6)");
    }
    let [v4] = r.ipv4_data.as_slice() else {
        bail!(
            "the ovs network takes exactly one IPv4 subnet (--subnet), got {}",
            r.ipv4_data.len()
        );
    };
    let subnet = addr_with_len("IPv4Data.Pool", &v4.pool)?;
    let gateway = match v4.gateway.as_str() {
        "" => None,
        g => Some(addr_with_len("IPv4Data.Gateway", g)?.addr()),
    };
    let gateway_auto = st
        .pools
        .values()
        .any(|pl| pl.subnet == subnet && pl.gateway_auto && pl.gateway == gateway);
    let a = Addressing {
        subnet,
        gateway,
        gateway_auto,
    };
    if let Some(other) = st.networks.values().find(|n| n.name == opts.name) {
        bail!(
            "controller network {} is already used by another Docker network on this host (subnet {})",
            other.name,
            other.subnet
        );
    }
    let (net, created) = match find(p, &opts.name).await? {
        Some(n) => {
            agree(&opts, &a, &n)?;
            (n, false)
        }
        None => match create_controller_network(p, &opts, &a).await? {
            Ok(n) => (n, true),
            // Another host created it meanwhile: adopt it.
            Err(conflict) => {
                let n = find(p, &opts.name).await?.ok_or_else(|| {
                    anyhow!("controller refused network {}: {conflict}", opts.name)
                })?;
                agree(&opts, &a, &n)?;
                (n, false)
            }
        },
    };
    st.networks.insert(
        nid,
        Net {
            name: net.name.clone(),
            subnet: net.subnet,
            gateway: net.gateway,
            created,
        },
    );
    p.save(st)?;
    tracing::info!(network = %net.name, vni = net.vni, created, "network");
    Ok(json!({}))
}

/// The controller network `name`, if it exists (asked for by name: a host credential's
/// `network_list` shows only the networks its host has endpoints in).
async fn find(p: &Plugin, name: &str) -> Result<Option<Network>> {
    let name = name.to_string();
    let r = ask!(p.ctl, Host, network_get(name)).await?;
    match r {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.code() == codes::NOT_FOUND => Ok(None),
        Err(e) => bail!("controller refused network_get: {}", e.message()),
    }
}

/// Creates the controller network; `Err(message)` on a conflict (it may exist already: a
/// race with another host).
async fn create_controller_network(
    p: &Plugin,
    o: &NetOptions,
    a: &Addressing,
) -> Result<Result<Network, String>> {
    let Some(vni) = o.vni else {
        bail!(
            "controller network {} does not exist: -o vni=1..16777215 is required to create it",
            o.name
        );
    };
    let spec = NetworkSpec {
        name: o.name.clone(),
        vni,
        subnet: a.subnet,
        gateway: a.gateway,
        tenant: None,
        tunnel: o.tunnel,
        mtu: o.mtu,
        egress: false,
    };
    let r = ask!(p.ctl, Admin, network_create(spec)).await?;
    match r {
        Ok(n) => Ok(Ok(n)),
        Err(e) if e.code() == codes::CONFLICT => Ok(Err(e.message().to_string())),
        Err(e) if e.code() == codes::FORBIDDEN => bail!(
            "controller network {} does not exist and this host may not create it ({}): \
             create it on the controller (`ovs-controller network create`) or start the plugin \
             with --admin-cert/--admin-key",
            o.name,
            e.message()
        ),
        Err(e) => bail!("controller refused network {}: {}", o.name, e.message()),
    }
}

/// `NetworkDriver.DeleteNetwork`.
pub(super) async fn delete(p: &Plugin, st: &mut State, r: NetworkRef) -> Result<Value> {
    let nid = docker_id("NetworkID", &r.network_id)?.to_string();
    let Some(net) = st.networks.get(&nid).cloned() else {
        return Ok(json!({}));
    };
    if net.created {
        let name = net.name.clone();
        let r = ask!(p.ctl, Admin, network_delete(name)).await?;
        match r {
            Ok(()) => {}
            Err(e) if e.code() == codes::NOT_FOUND => {}
            // Still used (endpoints of other hosts): the controller keeps it.
            Err(e) => {
                tracing::warn!(network = %net.name, "controller network kept: {}", e.message())
            }
        }
    }
    st.networks.remove(&nid);
    st.endpoints.retain(|_, e| e.network_id != nid);
    p.save(st)?;
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Result<NetOptions> {
        let m = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NetOptions::parse("0123456789abcdef", &m)
    }

    #[test]
    fn options_are_checked_and_name_the_option() {
        let o = opts(&[("vni", "7"), ("tunnel", "geneve"), ("mtu", "1400")]).unwrap();
        assert_eq!(o.name, "d0123456789");
        assert_eq!(
            (o.vni, o.tunnel, o.mtu),
            (Some(7), Some(TunnelType::Geneve), Some(1400))
        );
        for (k, v, want) in [
            ("vni", "0", "option vni"),
            ("vni", "x", "option vni"),
            ("tunnel", "ipip", "option tunnel"),
            ("mtu", "20", "option mtu"),
            ("network", "much-too-long-name", "option network"),
            ("vlan", "3", "unknown option vlan"),
        ] {
            let e = opts(&[(k, v)]).unwrap_err().to_string();
            assert!(e.contains(want), "{k}={v}: {e}");
        }
    }

    #[test]
    fn adoption_needs_agreeing_settings() {
        let n = Network {
            name: "blue".into(),
            vni: 100,
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: None,
            gateway_mac: None,
            tenant: "blue".into(),
            router: None,
            tunnel: TunnelType::Vxlan,
            mtu: 1450,
            egress: false,
        };
        let a = Addressing {
            subnet: n.subnet,
            gateway: Some([10, 1, 0, 1].into()),
            gateway_auto: true,
        };
        let o = opts(&[("network", "blue")]).unwrap();
        agree(&o, &a, &n).unwrap();
        let e = agree(
            &opts(&[("network", "blue"), ("vni", "101")]).unwrap(),
            &a,
            &n,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("-o vni 101") && e.contains("vni 100"), "{e}");
        let explicit = Addressing {
            gateway_auto: false,
            ..a
        };
        let e = agree(&o, &explicit, &n).unwrap_err().to_string();
        assert!(
            e.contains("--gateway 10.1.0.1") && e.contains("none"),
            "{e}"
        );
        let other = Addressing {
            subnet: "10.2.0.0/24".parse().unwrap(),
            ..a
        };
        assert!(agree(&o, &other, &n)
            .unwrap_err()
            .to_string()
            .contains("--subnet"));
    }
}
