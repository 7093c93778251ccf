//! The JSON bodies of Docker's legacy plugin protocol (moby/libnetwork `docs/remote.md`,
//! `docs/ipam.md`) that the plugin reads and writes.
//!
//! Contract: requests are parsed leniently (Docker adds fields between versions; unknown
//! fields are ignored), but every field the plugin uses is typed and checked by
//! [`docker_id`] or the address parsers, each refusal naming the field. Responses carry only
//! the fields the protocol defines; an error is `{"Err": "...", "Error": "..."}` ([`err_body`]).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Result};
use ipnet::Ipv4Net;
use serde::Deserialize;
use serde_json::{json, Value};

/// The media type of every plugin response.
pub const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// How a failed call answers (HTTP 200; Docker prints `msg`): the network driver API reads
/// `Err`, the IPAM API `Error` (a 200 without it counts as success there), so both are set.
pub fn err_body(msg: &str) -> Value {
    json!({ "Err": msg, "Error": msg })
}

/// Checks a Docker network or endpoint id (`field` names it): 12..=64 lower-case hex digits.
pub fn docker_id<'a>(field: &str, id: &'a str) -> Result<&'a str> {
    if !(12..=64).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("invalid {field} {id:?}: want 12..=64 hex digits (a Docker id)");
    }
    Ok(id)
}

/// `A.B.C.D/LEN` or `A.B.C.D` (then `/32`) for field `field`.
pub fn addr_with_len(field: &str, s: &str) -> Result<Ipv4Net> {
    if s.contains('/') {
        s.parse::<Ipv4Net>()
            .map_err(|_| anyhow!("invalid {field} {s:?}: want A.B.C.D/LEN"))
    } else {
        s.parse::<Ipv4Addr>()
            .map(Ipv4Net::from)
            .map_err(|_| anyhow!("invalid {field} {s:?}: want an IPv4 address"))
    }
}

/// A field Docker may send as `null`: its default then.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One entry of `IPv4Data` (`CreateNetwork`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    /// Address space of the pool.
    pub address_space: String,
    /// The subnet, `A.B.C.D/LEN`.
    pub pool: String,
    /// The gateway, `A.B.C.D/LEN`.
    pub gateway: String,
}

/// `NetworkDriver.CreateNetwork`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNetwork {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Options; the `-o k=v` pairs are under `com.docker.network.generic`.
    #[serde(default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, Value>,
    /// IPv4 pools.
    #[serde(rename = "IPv4Data", default, deserialize_with = "null_default")]
    pub ipv4_data: Vec<IpamData>,
    /// IPv6 pools.
    #[serde(rename = "IPv6Data", default, deserialize_with = "null_default")]
    pub ipv6_data: Vec<IpamData>,
}

/// The key of the `-o k=v` pairs in `CreateNetwork.Options`.
pub const GENERIC: &str = "com.docker.network.generic";

impl CreateNetwork {
    /// The `-o k=v` pairs (values must be strings).
    pub fn driver_options(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let Some(v) = self.options.get(GENERIC) else {
            return Ok(out);
        };
        let Some(obj) = v.as_object() else {
            bail!("invalid Options.{GENERIC}: want an object of -o key=value pairs");
        };
        for (k, v) in obj {
            let Some(s) = v.as_str() else {
                bail!("invalid option {k}: want a string value");
            };
            out.insert(k.clone(), s.to_string());
        }
        Ok(out)
    }
}

/// Requests that name only a network (`DeleteNetwork`).
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkRef {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// Requests that name an endpoint (`DeleteEndpoint`, `Leave`, `EndpointOperInfo`,
/// `RevokeExternalConnectivity`).
#[derive(Debug, Clone, Deserialize)]
pub struct EndpointRef {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

/// `Interface` of `CreateEndpoint`: what Docker (its IPAM) already chose.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    /// `A.B.C.D/LEN`.
    pub address: String,
    /// IPv6 address, refused when set.
    #[serde(rename = "AddressIPv6")]
    pub address_ipv6: String,
    /// MAC, refused when set (the controller assigns MACs).
    pub mac_address: String,
}

/// `NetworkDriver.CreateEndpoint`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateEndpoint {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// What Docker chose.
    #[serde(rename = "Interface", default)]
    pub interface: Option<EndpointInterface>,
}

/// `NetworkDriver.Join`.
#[derive(Debug, Clone, Deserialize)]
pub struct Join {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The container's namespace (informational: Docker moves the interface itself).
    #[serde(rename = "SandboxKey", default)]
    pub sandbox_key: String,
}

/// `NetworkDriver.ProgramExternalConnectivity`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProgramExternal {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Options; published ports are under `com.docker.network.portmap`.
    #[serde(rename = "Options", default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, Value>,
}

/// The key of the published ports (`-p`) in `ProgramExternalConnectivity.Options`.
pub const PORTMAP: &str = "com.docker.network.portmap";

/// `IpamDriver.RequestPool`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestPool {
    /// `--subnet`, empty when not given.
    #[serde(default)]
    pub pool: String,
    /// `--ip-range`, empty when not given.
    #[serde(default)]
    pub sub_pool: String,
    /// `--ipv6` pool.
    #[serde(rename = "V6", default)]
    pub v6: bool,
}

/// `IpamDriver.ReleasePool`.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolRef {
    /// Our pool id.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

/// `IpamDriver.RequestAddress` and `ReleaseAddress`.
#[derive(Debug, Clone, Deserialize)]
pub struct AddressReq {
    /// Our pool id.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// The requested (or released) address, empty for any.
    #[serde(rename = "Address", default)]
    pub address: String,
    /// `RequestAddressType` = `com.docker.network.gateway` for the network's gateway.
    #[serde(rename = "Options", default, deserialize_with = "null_default")]
    pub options: BTreeMap<String, String>,
}

/// The `RequestAddressType` of a gateway request.
pub const GATEWAY_REQUEST: &str = "com.docker.network.gateway";

impl AddressReq {
    /// Whether Docker asks for the network's gateway.
    pub fn is_gateway(&self) -> bool {
        self.options.get("RequestAddressType").map(String::as_str) == Some(GATEWAY_REQUEST)
    }
}

/// Parses a request body (an empty body is `{}`), the error naming the method.
pub fn parse<T: serde::de::DeserializeOwned>(method: &str, body: &[u8]) -> Result<T> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| anyhow!("bad {method} request from Docker: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn create_network_as_docker_20_10_sends_it() {
        // Captured from dockerd 20.10.24 (`docker network create -d X --ipam-driver X
        // --subnet 10.99.0.0/24 -o vni=5`).
        let body = br#"{"NetworkID":"d1d7ffca1d3303c95e73d127830228bea117bad96bd2c60cd901f26465d815c0","Options":{"com.docker.network.enable_ipv6":false,"com.docker.network.generic":{"vni":"5"}},"IPv4Data":[{"AddressSpace":"l","Gateway":"10.99.0.1/24","Pool":"10.99.0.0/24"}],"IPv6Data":[]}"#;
        let r: CreateNetwork = parse("CreateNetwork", body).unwrap();
        assert_eq!(r.driver_options().unwrap()["vni"], "5");
        assert_eq!(r.ipv4_data[0].gateway, "10.99.0.1/24");
        let bad: CreateNetwork = parse(
            "CreateNetwork",
            br#"{"NetworkID":"x","Options":{"com.docker.network.generic":{"vni":5}}}"#,
        )
        .unwrap();
        assert!(bad
            .driver_options()
            .unwrap_err()
            .to_string()
            .contains("option vni"));
        let a: AddressReq = parse(
            "RequestAddress",
            br#"{"PoolID":"p1","Address":"","Options":{"RequestAddressType":"com.docker.network.gateway"}}"#,
        )
        .unwrap();
        assert!(a.is_gateway());
        // Docker 20.10 sends `"Options":null` for an endpoint's address.
        let a: AddressReq = parse(
            "RequestAddress",
            br#"{"PoolID":"ovs/10.1.0.0/24","Address":"","Options":null}"#,
        )
        .unwrap();
        assert!(!a.is_gateway());
        let e = parse::<PoolRef>("ReleasePool", b"{")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ReleasePool"), "{e}");
    }

    #[test]
    fn ids_and_addresses_name_the_field() {
        assert!(docker_id("EndpointID", "0123456789abcdef").is_ok());
        for bad in ["", "0123", "zz23456789abcdef", "../../etc/passwd00"] {
            let e = docker_id("EndpointID", bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid EndpointID"), "{e}");
        }
        assert_eq!(
            addr_with_len("Gateway", "10.1.0.1/24").unwrap().to_string(),
            "10.1.0.1/24"
        );
        assert_eq!(
            addr_with_len("Gateway", "10.1.0.1").unwrap().prefix_len(),
            32
        );
        let e = addr_with_len("Gateway", "10.1.0").unwrap_err().to_string();
        assert!(e.contains("Gateway \"10.1.0\""), "{e}");
    }
}
