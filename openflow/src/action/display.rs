//! ovs-ofctl-like text for actions and instructions (logs, diffs, `Display`).
//!
//! Contract: stable, human-readable, ovs-ofctl's vocabulary; not byte-identical to it.

use super::{Action, FieldRef, Instruction, RegMove, OFPP_CONTROLLER};
use std::fmt;

fn fmt_field_bits(f: &FieldRef, ofs: u16, n: u16) -> String {
    format!(
        "{}[{}..{}]",
        f.kind().name(),
        ofs,
        (u32::from(ofs) + u32::from(n)).saturating_sub(1)
    )
}

impl fmt::Display for RegMove {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "move:{}->{}",
            fmt_field_bits(&self.src, self.src_ofs, self.n_bits),
            fmt_field_bits(&self.dst, self.dst_ofs, self.n_bits)
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Output { port, max_len } => match *port {
                OFPP_CONTROLLER => write!(f, "CONTROLLER:{max_len}"),
                p if p >= 0xffff_ff00 => write!(f, "{}", crate::port_name(p)),
                p => write!(f, "output:{p}"),
            },
            Action::CopyTtlOut => write!(f, "copy_ttl_out"),
            Action::CopyTtlIn => write!(f, "copy_ttl_in"),
            Action::SetMplsTtl(t) => write!(f, "set_mpls_ttl({t})"),
            Action::DecMplsTtl => write!(f, "dec_mpls_ttl"),
            Action::PushVlan(e) => write!(f, "push_vlan:{e:#06x}"),
            Action::PopVlan => write!(f, "pop_vlan"),
            Action::PushMpls(e) => write!(f, "push_mpls:{e:#06x}"),
            Action::PopMpls(e) => write!(f, "pop_mpls:{e:#06x}"),
            Action::SetQueue(q) => write!(f, "set_queue:{q}"),
            Action::Group(g) => write!(f, "group:{g}"),
            Action::SetNwTtl(t) => write!(f, "mod_nw_ttl:{t}"),
            Action::DecNwTtl => write!(f, "dec_ttl"),
            Action::SetField(o) => write!(f, "set_field:{}->{}", o.value_text(), o.kind.name()),
            Action::Resubmit { in_port, table } => {
                let p = if *in_port == 0xfff8 {
                    String::new()
                } else {
                    in_port.to_string()
                };
                match table {
                    Some(t) if *t != 255 => write!(f, "resubmit({p},{t})"),
                    _ => write!(f, "resubmit({p},)"),
                }
            }
            Action::RegLoad {
                ofs_nbits,
                dst,
                value,
            } => write!(
                f,
                "load:{value:#x}->{}",
                fmt_field_bits(dst, ofs_nbits >> 6, (ofs_nbits & 0x3f) + 1)
            ),
            Action::RegLoad2(o) => write!(f, "set_field:{}->{}", o.value_text(), o.kind.name()),
            Action::RegMove(m) => m.fmt(f),
            Action::Learn(l) => write!(
                f,
                "learn(table={},priority={},idle_timeout={},hard_timeout={},specs={} bytes)",
                l.table_id,
                l.priority,
                l.idle_timeout,
                l.hard_timeout,
                l.specs.len()
            ),
            Action::Conjunction {
                id,
                clause,
                n_clauses,
            } => write!(
                f,
                "conjunction({id},{}/{n_clauses})",
                u16::from(*clause) + 1
            ),
            Action::Ct(ct) => {
                write!(f, "ct(")?;
                let mut parts = Vec::new();
                if ct.flags & 1 != 0 {
                    parts.push("commit".to_string());
                }
                if ct.zone_src == 0 {
                    parts.push(format!("zone={}", ct.zone));
                }
                if ct.recirc_table != 255 {
                    parts.push(format!("table={}", ct.recirc_table));
                }
                if !ct.actions.is_empty() {
                    let a: Vec<String> = ct.actions.iter().map(ToString::to_string).collect();
                    parts.push(format!("exec({})", a.join(",")));
                }
                write!(f, "{})", parts.join(","))
            }
            Action::Note(n) => {
                let end = n.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
                let hex: Vec<String> = n[..end].iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "note:{}", hex.join("."))
            }
            Action::Unknown(raw) => {
                let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
                write!(f, "unknown(0x{hex})")
            }
        }
    }
}

/// A list as ovs-ofctl writes it: comma-separated, `drop` when empty.
fn join_or_drop<T: fmt::Display>(list: &[T]) -> String {
    if list.is_empty() {
        return "drop".into();
    }
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instruction::GotoTable(t) => write!(f, "goto_table:{t}"),
            Instruction::WriteMetadata { value, mask } => {
                write!(f, "write_metadata:{value:#x}/{mask:#x}")
            }
            Instruction::WriteActions(a) => write!(f, "write_actions({})", join_or_drop(a)),
            Instruction::ApplyActions(a) => write!(f, "{}", join_or_drop(a)),
            Instruction::ClearActions => write!(f, "clear_actions"),
            Instruction::Meter(m) => write!(f, "meter:{m}"),
            Instruction::Unknown { typ, body } => {
                write!(f, "instruction({typ},{} bytes)", body.len())
            }
        }
    }
}

/// Formats an instruction list as ovs-ofctl's `actions=` value.
pub fn fmt_instructions(ins: &[Instruction]) -> String {
    join_or_drop(ins)
}
