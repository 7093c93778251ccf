//! [`Remote`]: one OVS remote string, parsed into a precise type.
//!
//! Grammar (as in `ovsdb-server(1)` and `ovs-vswitchd.conf.db(5)`):
//! `tcp:HOST[:PORT]`, `ssl:HOST[:PORT]`, `unix:PATH`, `ptcp:[PORT][:IP]`,
//! `pssl:[PORT][:IP]`, `punix:PATH`. HOST is an IPv4 address, `[IPv6]` or a
//! DNS name; IP is an IPv4 or IPv6 address (brackets optional). A missing
//! PORT is the caller's default; a passive remote without IP listens on all
//! IPv4 addresses (`0.0.0.0`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The IANA port of OVSDB (`ovsdb-server`, `set-manager`).
pub const OVSDB_PORT: u16 = 6640;
/// The IANA port of OpenFlow (`set-controller`).
pub const OPENFLOW_PORT: u16 = 6653;

/// The host of an active TCP or SSL remote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A DNS name (letters, digits, `-`, `_` and `.`), resolved at connect time.
    Name(String),
}

impl fmt::Display for Host {
    /// IPv6 in brackets, so that `host:port` is unambiguous.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// One OVS remote: where to connect (active) or listen (passive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    /// `tcp:HOST[:PORT]`: connect over TCP.
    Tcp { host: Host, port: u16 },
    /// `ssl:HOST[:PORT]`: connect over TLS.
    Ssl { host: Host, port: u16 },
    /// `unix:PATH`: connect to a Unix socket.
    Unix(PathBuf),
    /// `ptcp:[PORT][:IP]`: listen on TCP (port 0: any free port).
    PTcp { port: u16, ip: Option<IpAddr> },
    /// `pssl:[PORT][:IP]`: listen with TLS.
    PSsl { port: u16, ip: Option<IpAddr> },
    /// `punix:PATH`: listen on a Unix socket.
    PUnix(PathBuf),
}

/// What is wrong with a remote string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// No `KIND:` prefix at all.
    MissingKind,
    /// A prefix other than the six kinds.
    UnknownKind(String),
    /// `tcp:` / `ssl:` without a host.
    EmptyHost,
    /// A host that is neither an IP address nor a DNS name.
    BadHost(String),
    /// An IPv6 address without brackets where a port may follow.
    UnbracketedIpv6(String),
    /// `[` without `]`, or text between `]` and `:PORT`.
    BadBrackets(String),
    /// `:` with nothing after it.
    EmptyPort,
    /// Not made of digits.
    PortNotNumber(String),
    /// Digits, but above 65535.
    PortOutOfRange(String),
    /// Port 0 on an active remote (there is nothing to connect to).
    PortZero,
    /// The listen address of a passive remote is not an IP address.
    BadListenIp(String),
    /// `unix:` / `punix:` without a path.
    EmptyPath,
    /// A path with a NUL byte (no socket can have it).
    NulInPath,
}

impl fmt::Display for RemoteErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RemoteErrorKind as K;
        match self {
            K::MissingKind => f.write_str(
                "no kind: want tcp:, ssl:, unix:, ptcp:, pssl: or punix: before the address",
            ),
            K::UnknownKind(k) => write!(
                f,
                "unknown kind {k:?} (want tcp, ssl, unix, ptcp, pssl or punix)"
            ),
            K::EmptyHost => f.write_str("empty host"),
            K::BadHost(h) => write!(f, "host {h:?} is not an IP address or host name"),
            K::UnbracketedIpv6(h) => write!(
                f,
                "IPv6 address {h:?} must be in brackets, e.g. tcp:[{h}]:6640"
            ),
            K::BadBrackets(s) => write!(f, "bad brackets in {s:?} (want [IPv6] or [IPv6]:PORT)"),
            K::EmptyPort => f.write_str("empty port after ':'"),
            K::PortNotNumber(p) => write!(f, "port {p:?} is not a number"),
            K::PortOutOfRange(p) => write!(f, "port {p} is out of range (0-65535)"),
            K::PortZero => f.write_str("port 0 is only meaningful for listening (ptcp:, pssl:)"),
            K::BadListenIp(ip) => write!(f, "listen address {ip:?} is not an IP address"),
            K::EmptyPath => f.write_str("empty path"),
            K::NulInPath => f.write_str("path contains a NUL byte"),
        }
    }
}

/// A remote string that does not parse: the input and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?}: {kind}")]
pub struct RemoteError {
    /// The string as given.
    pub input: String,
    /// What is wrong.
    pub kind: RemoteErrorKind,
}

impl Remote {
    /// Parses an OVS remote; `default_port` fills in a missing TCP/SSL port
    /// ([`OVSDB_PORT`] or [`OPENFLOW_PORT`]).
    pub fn parse(s: &str, default_port: u16) -> Result<Remote, RemoteError> {
        parse(s, default_port).map_err(|kind| RemoteError {
            input: s.to_string(),
            kind,
        })
    }

    /// True for `ptcp:`, `pssl:` and `punix:` (listen rather than connect).
    pub fn is_passive(&self) -> bool {
        matches!(
            self,
            Remote::PTcp { .. } | Remote::PSsl { .. } | Remote::PUnix(_)
        )
    }

    /// True for `ssl:` and `pssl:`.
    pub fn is_tls(&self) -> bool {
        matches!(self, Remote::Ssl { .. } | Remote::PSsl { .. })
    }

    /// The kind as written before the colon (`"tcp"`, `"punix"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Remote::Tcp { .. } => "tcp",
            Remote::Ssl { .. } => "ssl",
            Remote::Unix(_) => "unix",
            Remote::PTcp { .. } => "ptcp",
            Remote::PSsl { .. } => "pssl",
            Remote::PUnix(_) => "punix",
        }
    }

    /// The socket path of `unix:` and `punix:`.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Remote::Unix(p) | Remote::PUnix(p) => Some(p),
            _ => None,
        }
    }

    /// The TCP port of every kind but the Unix ones.
    pub fn port(&self) -> Option<u16> {
        match self {
            Remote::Tcp { port, .. }
            | Remote::Ssl { port, .. }
            | Remote::PTcp { port, .. }
            | Remote::PSsl { port, .. } => Some(*port),
            Remote::Unix(_) | Remote::PUnix(_) => None,
        }
    }

    /// The address a passive TCP/SSL remote binds (`0.0.0.0` without IP).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        match self {
            Remote::PTcp { port, ip } | Remote::PSsl { port, ip } => Some(SocketAddr::new(
                ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                *port,
            )),
            _ => None,
        }
    }

    /// The `(host, port)` an active TCP/SSL remote connects to, in the form
    /// `tokio::net::TcpStream::connect` and `std::net::ToSocketAddrs` take.
    pub fn connect_addr(&self) -> Option<(String, u16)> {
        match self {
            Remote::Tcp { host, port } | Remote::Ssl { host, port } => Some((
                match host {
                    Host::Ip(ip) => ip.to_string(),
                    Host::Name(n) => n.clone(),
                },
                *port,
            )),
            _ => None,
        }
    }
}

impl fmt::Display for Remote {
    /// The canonical form: ports always written, IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Tcp { host, port } | Remote::Ssl { host, port } => {
                write!(f, "{}:{host}:{port}", self.kind())
            }
            Remote::Unix(p) | Remote::PUnix(p) => write!(f, "{}:{}", self.kind(), p.display()),
            Remote::PTcp { port, ip } | Remote::PSsl { port, ip } => {
                write!(f, "{}:{port}", self.kind())?;
                match ip {
                    Some(IpAddr::V6(a)) => write!(f, ":[{a}]"),
                    Some(a) => write!(f, ":{a}"),
                    None => Ok(()),
                }
            }
        }
    }
}

fn parse(s: &str, default_port: u16) -> Result<Remote, RemoteErrorKind> {
    let (kind, rest) = s.split_once(':').ok_or(RemoteErrorKind::MissingKind)?;
    match kind {
        "tcp" => {
            let (host, port) = host_port(rest, default_port)?;
            Ok(Remote::Tcp { host, port })
        }
        "ssl" => {
            let (host, port) = host_port(rest, default_port)?;
            Ok(Remote::Ssl { host, port })
        }
        "ptcp" => {
            let (port, ip) = port_ip(rest, default_port)?;
            Ok(Remote::PTcp { port, ip })
        }
        "pssl" => {
            let (port, ip) = port_ip(rest, default_port)?;
            Ok(Remote::PSsl { port, ip })
        }
        "unix" => Ok(Remote::Unix(path(rest)?)),
        "punix" => Ok(Remote::PUnix(path(rest)?)),
        "" => Err(RemoteErrorKind::MissingKind),
        other => Err(RemoteErrorKind::UnknownKind(other.to_string())),
    }
}

/// `HOST[:PORT]` of an active remote.
fn host_port(rest: &str, default_port: u16) -> Result<(Host, u16), RemoteErrorKind> {
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| RemoteErrorKind::BadBrackets(rest.to_string()))?;
        let ip = addr
            .parse::<Ipv6Addr>()
            .map_err(|_| RemoteErrorKind::BadHost(addr.to_string()))?;
        let port = match after {
            "" => None,
            a => Some(
                a.strip_prefix(':')
                    .ok_or_else(|| RemoteErrorKind::BadBrackets(rest.to_string()))?,
            ),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        if rest.matches(':').count() > 1 {
            return Err(RemoteErrorKind::UnbracketedIpv6(rest.to_string()));
        }
        let (h, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        (host(h)?, port)
    };
    let port = match port {
        None => default_port,
        Some(p) => number(p)?,
    };
    if port == 0 {
        return Err(RemoteErrorKind::PortZero);
    }
    Ok((host, port))
}

fn host(h: &str) -> Result<Host, RemoteErrorKind> {
    if h.is_empty() {
        return Err(RemoteErrorKind::EmptyHost);
    }
    if let Ok(ip) = h.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let name = h.strip_suffix('.').unwrap_or(h);
    if h.len() <= 253 && name.split('.').all(label_ok) {
        Ok(Host::Name(h.to_string()))
    } else {
        Err(RemoteErrorKind::BadHost(h.to_string()))
    }
}

/// `[PORT][:IP]` of a passive remote.
fn port_ip(rest: &str, default_port: u16) -> Result<(u16, Option<IpAddr>), RemoteErrorKind> {
    let (port, ip) = match rest.split_once(':') {
        Some((p, ip)) => (p, Some(ip)),
        None => (rest, None),
    };
    let port = if port.is_empty() {
        default_port
    } else {
        number(port)?
    };
    let ip = match ip {
        None => None,
        Some("") => return Err(RemoteErrorKind::BadListenIp(String::new())),
        Some(ip) => {
            let bare = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|_| RemoteErrorKind::BadListenIp(ip.to_string()))?,
            )
        }
    };
    Ok((port, ip))
}

fn number(p: &str) -> Result<u16, RemoteErrorKind> {
    if p.is_empty() {
        return Err(RemoteErrorKind::EmptyPort);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RemoteErrorKind::PortNotNumber(p.to_string()));
    }
    p.parse::<u16>()
        .map_err(|_| RemoteErrorKind::PortOutOfRange(p.to_string()))
}

fn path(rest: &str) -> Result<PathBuf, RemoteErrorKind> {
    if rest.is_empty() {
        return Err(RemoteErrorKind::EmptyPath);
    }
    if rest.contains('\0') {
        return Err(RemoteErrorKind::NulInPath);
    }
    Ok(PathBuf::from(rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use RemoteErrorKind as K;

    fn ok(s: &str) -> Remote {
        Remote::parse(s, OVSDB_PORT).unwrap()
    }
    fn err(s: &str) -> RemoteError {
        Remote::parse(s, OVSDB_PORT).unwrap_err()
    }
    /// Each input is refused with its error kind.
    fn rejects(cases: &[(&str, RemoteErrorKind)]) {
        for (input, kind) in cases {
            assert_eq!(&err(input).kind, kind, "{input:?}");
        }
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_active_tcp_with_and_without_port() {
        assert_eq!(
            ok("tcp:127.0.0.1:6641"),
            Remote::Tcp {
                host: Host::Ip(ip("127.0.0.1")),
                port: 6641
            }
        );
        assert_eq!(
            ok("tcp:192.0.2.1"),
            Remote::Tcp {
                host: Host::Ip(ip("192.0.2.1")),
                port: OVSDB_PORT
            }
        );
        assert_eq!(
            Remote::parse("tcp:192.0.2.1", OPENFLOW_PORT)
                .unwrap()
                .port(),
            Some(6653)
        );
        assert_eq!(
            ok("tcp:ovs-1.example.org:1"),
            Remote::Tcp {
                host: Host::Name("ovs-1.example.org".into()),
                port: 1
            }
        );
    }

    #[test]
    fn parses_ipv6_in_brackets() {
        assert_eq!(
            ok("tcp:[::1]:6640"),
            Remote::Tcp {
                host: Host::Ip(ip("::1")),
                port: 6640
            }
        );
        assert_eq!(
            ok("ssl:[2001:db8::7]"),
            Remote::Ssl {
                host: Host::Ip(ip("2001:db8::7")),
                port: OVSDB_PORT
            }
        );
        assert_eq!(
            ok("ptcp:6640:[::1]"),
            Remote::PTcp {
                port: 6640,
                ip: Some(ip("::1"))
            }
        );
        // The listen address is last, so brackets are optional there.
        assert_eq!(ok("ptcp:6640:::1"), ok("ptcp:6640:[::1]"));
    }

    #[test]
    fn parses_passive_and_unix() {
        assert_eq!(
            ok("ptcp:6640"),
            Remote::PTcp {
                port: 6640,
                ip: None
            }
        );
        assert_eq!(
            ok("ptcp:0:127.0.0.1"),
            Remote::PTcp {
                port: 0,
                ip: Some(ip("127.0.0.1"))
            }
        );
        assert_eq!(
            ok("ptcp:"),
            Remote::PTcp {
                port: OVSDB_PORT,
                ip: None
            }
        );
        assert_eq!(
            ok("pssl::10.0.0.1"),
            Remote::PSsl {
                port: OVSDB_PORT,
                ip: Some(ip("10.0.0.1"))
            }
        );
        assert_eq!(ok("unix:/run/db.sock"), Remote::Unix("/run/db.sock".into()));
        assert_eq!(ok("punix:db.sock"), Remote::PUnix("db.sock".into()));
        // A colon in a path is part of the path.
        assert_eq!(ok("unix:/tmp/a:b"), Remote::Unix("/tmp/a:b".into()));
    }

    #[test]
    fn predicates_and_accessors() {
        let cases = [
            ("tcp:1.2.3.4:5", false, false),
            ("ssl:1.2.3.4:5", false, true),
            ("unix:/s", false, false),
            ("ptcp:5", true, false),
            ("pssl:5", true, true),
            ("punix:/s", true, false),
        ];
        for (s, passive, tls) in cases {
            let r = ok(s);
            assert_eq!(r.is_passive(), passive, "{s}");
            assert_eq!(r.is_tls(), tls, "{s}");
            assert!(s.starts_with(r.kind()), "{s}");
        }
        assert_eq!(ok("unix:/s").path(), Some(Path::new("/s")));
        assert_eq!(ok("tcp:1.2.3.4:5").path(), None);
        assert_eq!(
            ok("ptcp:7").listen_addr(),
            Some("0.0.0.0:7".parse().unwrap())
        );
        assert_eq!(
            ok("ptcp:7:[::1]").listen_addr(),
            Some("[::1]:7".parse().unwrap())
        );
        assert_eq!(ok("tcp:1.2.3.4:5").listen_addr(), None);
        assert_eq!(
            ok("tcp:[::1]:5").connect_addr(),
            Some(("::1".to_string(), 5))
        );
        assert_eq!(
            ok("ssl:h.example:5").connect_addr(),
            Some(("h.example".to_string(), 5))
        );
        assert_eq!(ok("punix:/s").connect_addr(), None);
    }

    #[test]
    fn display_is_canonical_and_round_trips() {
        for (input, canonical) in [
            ("tcp:127.0.0.1:6640", "tcp:127.0.0.1:6640"),
            ("tcp:127.0.0.1", "tcp:127.0.0.1:6640"),
            ("tcp:[::1]:1", "tcp:[::1]:1"),
            ("ssl:[::1]", "ssl:[::1]:6640"),
            ("tcp:host.example", "tcp:host.example:6640"),
            ("unix:/x/db.sock", "unix:/x/db.sock"),
            ("punix:/x/db.sock", "punix:/x/db.sock"),
            ("ptcp:", "ptcp:6640"),
            ("ptcp:0", "ptcp:0"),
            ("ptcp:6640:::1", "ptcp:6640:[::1]"),
            ("pssl:1:10.0.0.1", "pssl:1:10.0.0.1"),
        ] {
            let r = ok(input);
            assert_eq!(r.to_string(), canonical, "{input}");
            assert_eq!(ok(&r.to_string()), r, "{input}");
        }
    }

    #[test]
    fn error_says_what_is_wrong() {
        assert_eq!(
            err("tcp:garbage:zz").to_string(),
            r#""tcp:garbage:zz": port "zz" is not a number"#
        );
        assert_eq!(err("tcp:").to_string(), r#""tcp:": empty host"#);
    }

    /// Every malformed remote is refused with the error of what is wrong.
    #[test]
    fn rejects_malformed_remotes() {
        rejects(&[
            // missing or unknown kind
            ("", K::MissingKind),
            ("1.2.3.4:6640", K::UnknownKind("1.2.3.4".into())),
            ("/run/db.sock", K::MissingKind),
            (":6640", K::MissingKind),
            ("foo:bar", K::UnknownKind("foo".into())),
            // Kinds are lower case, as OVS writes them.
            ("TCP:1.2.3.4", K::UnknownKind("TCP".into())),
            // empty host and path
            ("tcp:", K::EmptyHost),
            ("ssl::6640", K::EmptyHost),
            ("unix:", K::EmptyPath),
            ("punix:", K::EmptyPath),
            ("unix:/a\0b", K::NulInPath),
            // bad ports
            ("tcp:1.2.3.4:", K::EmptyPort),
            ("tcp:1.2.3.4:99999", K::PortOutOfRange("99999".into())),
            ("tcp:1.2.3.4:-1", K::PortNotNumber("-1".into())),
            ("tcp:1.2.3.4:+1", K::PortNotNumber("+1".into())),
            ("tcp:1.2.3.4:0", K::PortZero),
            ("ptcp:x", K::PortNotNumber("x".into())),
            ("ptcp:70000", K::PortOutOfRange("70000".into())),
            // bad hosts and brackets
            ("tcp:::1:6640", K::UnbracketedIpv6("::1:6640".into())),
            ("tcp:[::1:6640", K::BadBrackets("[::1:6640".into())),
            ("tcp:[::1]6640", K::BadBrackets("[::1]6640".into())),
            ("tcp:[1.2.3.4]:1", K::BadHost("1.2.3.4".into())),
            ("tcp:a b:1", K::BadHost("a b".into())),
            ("tcp:-a:1", K::BadHost("-a".into())),
            ("tcp:a..b:1", K::BadHost("a..b".into())),
            ("tcp:/etc/passwd", K::BadHost("/etc/passwd".into())),
            // bad listen addresses
            ("ptcp:6640:", K::BadListenIp(String::new())),
            ("ptcp:6640:localhost", K::BadListenIp("localhost".into())),
            ("pssl:6640:[::1", K::BadListenIp("[::1".into())),
        ]);
    }

    #[test]
    fn every_error_names_the_input() {
        for bad in [
            "",
            "x",
            "tcp:",
            "tcp:a:b",
            "ptcp:6640:zz",
            "unix:",
            "tcp:[::1",
        ] {
            let e = err(bad);
            assert_eq!(e.input, bad);
            assert!(e.to_string().starts_with(&format!("{bad:?}: ")), "{e}");
        }
    }

    /// The fuzz target's property on seeded random strings: no panic, every
    /// accepted remote's canonical form parses back to it, errors keep the input.
    #[test]
    fn random_strings_round_trip_or_fail_cleanly() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let kinds = [
            "tcp:", "ssl:", "ptcp:", "pssl:", "unix:", "punix:", "", "x:",
        ];
        let alphabet: Vec<char> = "0123456789abcdefAZ:.[]-_/ %\0".chars().collect();
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut s = kinds[rng.gen_range(0..kinds.len())].to_string();
            for _ in 0..rng.gen_range(0..14) {
                s.push(alphabet[rng.gen_range(0..alphabet.len())]);
            }
            match Remote::parse(&s, OVSDB_PORT) {
                Ok(r) => {
                    accepted += 1;
                    let text = r.to_string();
                    assert_eq!(ok(&text), r, "{s:?} -> {text:?}");
                    assert_eq!(ok(&text).to_string(), text);
                }
                Err(e) => assert_eq!(e.input, s),
            }
        }
        assert!(accepted > 1000, "too few accepted: {accepted}");
    }
}
