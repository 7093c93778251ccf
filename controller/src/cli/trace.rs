//! `ovs-controller trace --from CONTAINER --to CONTAINER|IP [--tcp PORT|--udp PORT|--icmp]`:
//! where a packet from a container goes, traced with `ofproto/trace` on each host it
//! crosses (see `ovs_controller::trace`), printed with our table names and a verdict.
//!
//! Contract: containers, endpoints, hosts and networks come from the northbound API; each
//! host's ovs-vswitchd is asked through `ovs-appctl` run as an argv (never a shell):
//! locally with `--target` (a per-host control socket, `{host}` in it), or through the
//! command prefix of `--via` (e.g. `ssh root@{host}`; words split on spaces, `{host}` and
//! `{tunnel_ip}` substituted from the controller's validated host records). Every argument
//! appended to a prefix matches `[A-Za-z0-9_=,.:/@+-]`, so a remote shell sees each as one
//! word. Exit codes: 0 delivered; [`NOT_DELIVERED`] (7) the packet is dropped or goes
//! elsewhere (the trace is printed all the same); 3 unknown container; 6 a host's
//! ovs-vswitchd could not be asked; the others as every command.

use super::exit::{CallExt, CliError, NOT_DELIVERED, NOT_FOUND, UNREACHABLE};
use super::output::{self, Output};
use super::Conn;
use clap::Args;
use ovs_controller::api::{names, EndpointFilter, Host, MacAddr, NorthboundClient};
use ovs_controller::trace::follow::{table_label, Hop, Leg};
use ovs_controller::trace::packet::safe_arg;
use ovs_controller::trace::path::Exit;
use ovs_controller::trace::{
    follow, HostRunner, Ingress, Proto, Report, Request, ResolveError, Target, World,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// `trace ...`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The source container (or endpoint id).
    #[arg(long)]
    pub from: String,
    /// The destination: a container, an endpoint id or an IPv4 address.
    #[arg(long)]
    pub to: String,
    /// A TCP packet to this port.
    #[arg(long, value_name = "PORT", conflicts_with_all = ["udp", "icmp"])]
    pub tcp: Option<u16>,
    /// A UDP packet to this port.
    #[arg(long, value_name = "PORT", conflicts_with = "icmp")]
    pub udp: Option<u16>,
    /// An ICMP echo request (the default).
    #[arg(long)]
    pub icmp: bool,
    /// Send with this source MAC instead of the container's own (to see port security).
    #[arg(long, value_name = "MAC")]
    pub src_mac: Option<MacAddr>,
    /// Send with this source IPv4 address instead of the container's own.
    #[arg(long, value_name = "IP")]
    pub src_ip: Option<Ipv4Addr>,
    /// Command prefix that runs a command on a host, e.g. 'ssh root@{host}' ({host}: the
    /// host's name, {tunnel_ip}: its tunnel address); split on spaces, run without a shell.
    #[arg(long, env = "OVS_TRACE_VIA")]
    pub via: Option<String>,
    /// ovs-vswitchd's control socket on each host ({host} substituted), e.g.
    /// /tmp/ovs-lab/RUN/{host}/ovs-vswitchd.ctl [default with --via: ovs-appctl's own].
    #[arg(long, env = "OVS_TRACE_TARGET")]
    pub target: Option<String>,
    /// The integration bridge.
    #[arg(long, default_value = "br-ex")]
    pub bridge: String,
    /// The ovs-appctl program (on the host, with --via).
    #[arg(long, default_value = "ovs-appctl")]
    pub appctl: String,
}

/// Runs `trace` and prints its result: exit 0 when delivered, [`NOT_DELIVERED`] otherwise.
pub fn main(rt: &tokio::runtime::Runtime, conn: &Conn, args: TraceArgs) -> ExitCode {
    match rt.block_on(run(conn, args)) {
        Ok((text, delivered)) => {
            let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
            ExitCode::from(if delivered { 0 } else { NOT_DELIVERED })
        }
        Err(e) => {
            eprintln!("ovs-controller: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// The trace's text in `conn.output` and whether the packet was delivered.
pub async fn run(conn: &Conn, args: TraceArgs) -> Result<(String, bool), CliError> {
    let proto = match (args.tcp, args.udp) {
        (Some(p), _) => Proto::Tcp(p),
        (_, Some(p)) => Proto::Udp(p),
        _ => Proto::Icmp,
    };
    let mut runner = Appctl::new(&args, Duration::from_secs(conn.timeout))?;
    let c = conn.client()?;
    let world = World {
        hosts: c.host_list().await.call("host_list")?,
        networks: c.network_list().await.call("network_list")?,
        endpoints: c
            .endpoint_list(EndpointFilter::default())
            .await
            .call("endpoint_list")?,
    };
    let from = world.source(&args.from).map_err(resolve_error)?.clone();
    let to = world.target(&from, &args.to).map_err(resolve_error)?;
    let mut packet = world.packet(&from, &to, proto).map_err(resolve_error)?;
    packet.eth_src = args.src_mac.unwrap_or(packet.eth_src);
    packet.ip_src = args.src_ip.unwrap_or(packet.ip_src);
    // The ofports of the endpoints on the hosts the packet should cross, to name the
    // container a local output reaches.
    let mut hosts = vec![from.host.clone()];
    if let Target::Endpoint { endpoint } = &to {
        hosts.push(endpoint.host.clone());
    }
    let mut ofports = BTreeMap::new();
    for e in world.endpoints.iter().filter(|e| hosts.contains(&e.host)) {
        let s = c.endpoint_get(e.id.clone()).await.call("endpoint_get")?;
        if let Some(p) = s.ofport {
            ofports.insert(e.id.clone(), p);
        }
    }
    let Some(&from_ofport) = ofports.get(&from.id) else {
        return Err(CliError::new(
            UNREACHABLE,
            format!(
                "--from {}: the endpoint has no port on host {} yet (not bound: see `endpoint show {}`)",
                args.from, from.host, from.id
            ),
        ));
    };
    let req = Request {
        world: &world,
        from: &from,
        from_ofport,
        to,
        packet,
        ofports,
        bridge: args.bridge.clone(),
    };
    let report = tokio::task::block_in_place(|| follow(&req, &mut runner))
        .map_err(|e| CliError::new(UNREACHABLE, e.to_string()))?;
    let text = match conn.output {
        Output::Json => output::json(&report),
        Output::Table => print(&report),
    };
    Ok((text, report.verdict.delivered))
}

fn resolve_error(e: ResolveError) -> CliError {
    match e {
        ResolveError::NotFound(m) => CliError::new(NOT_FOUND, m),
        ResolveError::Ambiguous(m) | ResolveError::Invalid(m) => CliError::usage(m),
    }
}

/// The trace for people: the packet, each host's tables, how it left, the verdict.
pub fn print(r: &Report) -> String {
    let f = &r.from;
    let to = match &r.to {
        Target::Endpoint { endpoint: e } => format!(
            "{} ({}, {}, network {}, host {})",
            e.container,
            e.ip.addr(),
            e.mac,
            e.network,
            e.host
        ),
        Target::Address { ip } => ip.to_string(),
    };
    let mut s = format!(
        "trace {} ({}, {}, network {}, host {}) -> {to}: {}\n",
        f.container,
        f.ip.addr(),
        f.mac,
        f.network,
        f.host,
        r.packet.proto
    );
    if r.packet.eth_src != f.mac || r.packet.ip_src != f.ip.addr() {
        s.push_str(&format!(
            "sent with source {} {} (not the container's own)\n",
            r.packet.eth_src, r.packet.ip_src
        ));
    }
    for h in &r.hops {
        s.push_str(&hop(h, &r.bridge));
    }
    s.push_str(&format!("verdict: {}\n", r.verdict.text));
    s
}

fn hop(h: &Hop, bridge: &str) -> String {
    let from = match &h.ingress {
        Ingress::Port { ofport } => format!("from port {ofport}"),
        Ingress::Tunnel {
            port,
            tun_id,
            tun_src,
            tun_dst,
        } => format!("from tunnel {port}, tun_id {tun_id:#x}, {tun_src} -> {tun_dst}"),
    };
    let mut s = format!(
        "\nhost {} ({from}): ofproto/trace {bridge} {}\n",
        h.host, h.flow
    );
    let rows: Vec<Vec<String>> = h
        .steps
        .iter()
        .map(|st| {
            vec![
                st.table.to_string(),
                output::cell(st.name.unwrap_or("")),
                output::opt(&st.priority),
                output::opt(&st.cookie),
                output::cell(&st.matches),
                output::cell(st.actions.join(",")),
            ]
        })
        .collect();
    let t = output::table(
        &["TABLE", "NAME", "PRIORITY", "COOKIE", "MATCH", "ACTIONS"],
        &rows,
    );
    for line in t.lines() {
        s.push_str(&format!("  {line}\n"));
    }
    for w in &h.warnings {
        s.push_str(&format!("  ! {w}\n"));
    }
    for l in &h.legs {
        s.push_str(&format!("  -> {}\n", leg(l)));
    }
    s
}

fn leg(l: &Leg) -> String {
    match &l.exit {
        Exit::Tunnel {
            port,
            tun_id,
            tun_dst,
            ..
        } => {
            let dst = tun_dst.map_or_else(|| "?".to_string(), |a| a.to_string());
            let host = l.reaches.as_deref().unwrap_or("no registered host");
            format!("tunnel {port} to {dst} ({host}), tun_id {tun_id:#x}")
        }
        Exit::Local { ofport, port, .. } => {
            let name = port.as_ref().map(|p| format!(" ({p})")).unwrap_or_default();
            let who = l.reaches.as_ref().map_or_else(
                || "no known endpoint".to_string(),
                |c| format!("container {c}"),
            );
            format!("port {ofport}{name}: {who}")
        }
        Exit::InPort { table } => format!("back out of its ingress port ({})", table_label(*table)),
        Exit::Drop { table, reason } => format!("dropped in {}: {reason}", table_label(*table)),
    }
}

/// `ovs-appctl` on each host: locally against a per-host control socket, or through a
/// command prefix.
#[derive(Debug)]
pub struct Appctl {
    via: Vec<String>,
    target: Option<String>,
    appctl: String,
    timeout: Duration,
}

impl Appctl {
    /// Checks the flags: a prefix or a per-host target is needed, placeholders are `{host}`
    /// and `{tunnel_ip}` only, names are valid.
    pub fn new(a: &TraceArgs, timeout: Duration) -> Result<Appctl, CliError> {
        names::interface_name(&a.bridge).map_err(|e| CliError::usage(format!("--bridge: {e}")))?;
        let via: Vec<String> = a
            .via
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for (flag, v) in [
            ("--via", a.via.as_deref()),
            ("--target", a.target.as_deref()),
        ] {
            let rest = v
                .unwrap_or("")
                .replace("{host}", "")
                .replace("{tunnel_ip}", "");
            if rest.contains('{') || rest.contains('}') {
                return Err(CliError::usage(format!(
                    "{flag} {:?}: the only placeholders are {{host}} and {{tunnel_ip}}",
                    v.unwrap_or("")
                )));
            }
        }
        let per_host = |s: &str| s.contains("{host}") || s.contains("{tunnel_ip}");
        match (&a.via, &a.target) {
            (None, None) => {
                return Err(CliError::usage(
                    "trace runs ovs-appctl on every host it crosses: give --via 'ssh root@{host}' \
                     (a command prefix) or --target PATH with {host} (a local per-host control \
                     socket, e.g. /tmp/ovs-lab/RUN/{host}/ovs-vswitchd.ctl)",
                ))
            }
            (Some(v), _) if via.is_empty() || !per_host(v) => {
                return Err(CliError::usage(format!(
                    "--via {v:?}: needs a command with {{host}} or {{tunnel_ip}}, e.g. 'ssh root@{{host}}'"
                )))
            }
            (None, Some(t)) if !per_host(t) => {
                return Err(CliError::usage(format!(
                    "--target {t:?}: without --via it needs {{host}}: one control socket per host"
                )))
            }
            _ => {}
        }
        if !via.is_empty() && !safe_arg(&a.appctl) {
            return Err(CliError::usage(format!(
                "--appctl {:?}: allowed characters with --via: A-Z a-z 0-9 _ = , . : / @ + -",
                a.appctl
            )));
        }
        Ok(Appctl {
            via,
            target: a.target.clone(),
            appctl: a.appctl.clone(),
            timeout,
        })
    }

    /// The argv that runs `ovs-appctl ARGS` on `host`.
    pub fn argv(&self, host: &Host, args: &[String]) -> Result<Vec<String>, String> {
        names::host_name(&host.name).map_err(|e| e.to_string())?;
        let sub = |s: &str| {
            s.replace("{host}", &host.name)
                .replace("{tunnel_ip}", &host.tunnel_ip.to_string())
        };
        let mut argv: Vec<String> = self.via.iter().map(|w| sub(w)).collect();
        let mut tail = vec![self.appctl.clone()];
        if let Some(t) = &self.target {
            let t = sub(t);
            if self.via.is_empty() && !Path::new(&t).exists() {
                return Err(format!(
                    "ovs-vswitchd control socket {t}: no such file (--target): is its \
                     ovs-vswitchd running here?"
                ));
            }
            tail.extend(["-t".to_string(), t]);
        }
        tail.extend(args.iter().cloned());
        if !self.via.is_empty() {
            if let Some(bad) = tail.iter().find(|a| !safe_arg(a)) {
                return Err(format!(
                    "argument {bad:?} is not safe to pass through --via (allowed: A-Z a-z 0-9 \
                     _ = , . : / @ + -)"
                ));
            }
        }
        argv.extend(tail);
        Ok(argv)
    }
}

impl HostRunner for Appctl {
    fn appctl(&mut self, host: &Host, args: &[String]) -> Result<String, String> {
        let argv = self.argv(host, args)?;
        let (prog, rest) = argv.split_first().ok_or("empty command")?;
        let mut child = Command::new(prog)
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{prog}: {e}"))?;
        let read = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_string(&mut s);
                }
                s
            })
        };
        let out = read(child.stdout.take().map(|r| Box::new(r) as _));
        let err = read(child.stderr.take().map(|r| Box::new(r) as _));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{} did not finish in {:?} (--timeout)",
                        argv.join(" "),
                        self.timeout
                    ));
                }
                Err(e) => return Err(format!("{prog}: {e}")),
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if !status.success() {
            let why = stderr.trim();
            let why = if why.is_empty() { stdout.trim() } else { why };
            return Err(format!("{} failed ({status}): {why}", argv.join(" ")));
        }
        Ok(stdout)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: TraceArgs,
    }

    fn appctl(flags: &[&str]) -> Result<Appctl, CliError> {
        let mut argv = vec!["t", "--from", "b1", "--to", "b2"];
        argv.extend_from_slice(flags);
        Appctl::new(&T::parse_from(argv).a, Duration::from_secs(1))
    }

    fn host(name: &str) -> Host {
        serde_json::from_value(serde_json::json!(
            {"name": name, "ovsdb": "ssl:192.0.2.7:6640", "tunnel_ip": "192.0.2.7"}
        ))
        .unwrap()
    }

    #[test]
    fn a_prefix_gets_the_host_and_only_safe_arguments() {
        let a = appctl(&["--via", "ssh -o BatchMode=yes root@{host}"]).unwrap();
        let args = [
            "ofproto/trace".to_string(),
            "br-ex".into(),
            "in_port=1,icmp".into(),
        ];
        assert_eq!(
            a.argv(&host("h2"), &args).unwrap(),
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "root@h2",
                "ovs-appctl",
                "ofproto/trace",
                "br-ex",
                "in_port=1,icmp"
            ]
        );
        let a = appctl(&[
            "--via",
            "ssh ops@{tunnel_ip} sudo",
            "--target",
            "/run/openvswitch/x.ctl",
        ])
        .unwrap();
        let v = a.argv(&host("h2"), &args[..1]).unwrap();
        assert_eq!(v[..5], ["ssh", "ops@192.0.2.7", "sudo", "ovs-appctl", "-t"]);
        let bad = ["in_port=1;reboot".to_string()];
        assert!(a.argv(&host("h2"), &bad).unwrap_err().contains("not safe"));
        assert!(
            a.argv(&host("h 2"), &args).is_err(),
            "a host name is checked again"
        );
    }

    #[test]
    fn flags_that_cannot_reach_each_host_are_refused() {
        for (flags, says) in [
            (&[][..], "give --via"),
            (
                &["--via", "ssh root@box"][..],
                "needs a command with {host}",
            ),
            (
                &["--target", "/run/openvswitch/ovs-vswitchd.ctl"][..],
                "without --via it needs {host}",
            ),
            (&["--via", "ssh {user}@{host}"][..], "the only placeholders"),
            (&["--via", "ssh {host}", "--appctl", "a b"][..], "--appctl"),
            (
                &["--target", "/x/{host}", "--bridge", "br ex"][..],
                "--bridge",
            ),
        ] {
            let e = appctl(flags).unwrap_err();
            assert_eq!(e.code, super::super::exit::USAGE, "{flags:?}");
            assert!(e.message.contains(says), "{flags:?}: {e}");
        }
        let a = appctl(&["--target", "/nonexistent/{host}/ovs-vswitchd.ctl"]).unwrap();
        let e = a.argv(&host("h1"), &[]).unwrap_err();
        assert!(
            e.contains("/nonexistent/h1/ovs-vswitchd.ctl: no such file"),
            "{e}"
        );
    }
}
