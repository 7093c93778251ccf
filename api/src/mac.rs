//! [`MacAddr`]: the one Ethernet address type of the project.
//!
//! Contract: [`MacAddr::from_str`] accepts what a user may give an interface: six octets of
//! exactly two hex digits, separated by `:` or `-` (not mixed), unicast and not all zero;
//! [`fmt::Display`] (and serde) always writes lowercase `aa:bb:cc:dd:ee:ff`, so text round-trips.
//! The tuple field is public for code that derives addresses (IPAM, flows); such code is
//! responsible for its own bits.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseError;

/// An Ethernet address (serialised as `"02:0c:7e:00:00:01"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The six octets.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }
    /// As a u64 (low 48 bits).
    pub fn to_u64(self) -> u64 {
        self.0.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b))
    }
    /// Whether the group (multicast) bit is set.
    pub fn is_multicast(self) -> bool {
        self.0[0] & 1 == 1
    }
    /// Whether the locally-administered bit is set.
    pub fn is_local(self) -> bool {
        self.0[0] & 2 == 2
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl From<MacAddr> for [u8; 6] {
    fn from(m: MacAddr) -> Self {
        m.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = |reason| ParseError::Mac {
            value: s.to_string(),
            reason,
        };
        const SHAPE: &str = "expected six hex octets like a2:c3:0d:49:7f:f8";
        let sep = if s.contains(':') { ':' } else { '-' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(|| bad(SHAPE))?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad(SHAPE));
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| bad(SHAPE))?;
        }
        if parts.next().is_some() {
            return Err(bad(SHAPE));
        }
        let m = MacAddr(out);
        if m.is_multicast() {
            return Err(bad("multicast bit set"));
        }
        if m.0 == [0; 6] {
            return Err(bad("all zero"));
        }
        Ok(m)
    }
}

crate::serde_as_str!(MacAddr);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_both_separators_and_prints_canonical() {
        let m: MacAddr = "02:AB:00:00:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:ab:00:00:00:01");
        let m: MacAddr = "A2-C3-0D-49-7F-F8".parse().unwrap();
        assert_eq!(m.octets(), [0xa2, 0xc3, 0x0d, 0x49, 0x7f, 0xf8]);
        assert_eq!(m.to_string(), "a2:c3:0d:49:7f:f8");
        assert_eq!(m.to_u64(), 0xa2c3_0d49_7ff8);
    }

    #[test]
    fn rejects_group_zero_and_malformed() {
        for (bad, why) in [
            ("01:00:00:00:00:01", "multicast"),
            ("01:00:5e:00:00:01", "multicast"),
            ("00:00:00:00:00:00", "all zero"),
            ("02:00:00:00:00", "six hex octets"),
            ("2:0:0:0:0:1", "six hex octets"),
            ("a2:c3:0d:49:7f:zz", "six hex octets"),
            ("a2:c3:0d:49:7f:f8a", "six hex octets"),
            ("a2:c3:0d:49:7f:f8:01", "six hex octets"),
            ("a2:c3-0d:49:7f:f8", "six hex octets"),
            ("+2:c3:0d:49:7f:f8", "six hex octets"),
            ("", "six hex octets"),
        ] {
            let e = bad.parse::<MacAddr>().unwrap_err();
            assert!(e.to_string().contains(why), "{bad}: {e}");
            assert!(e.to_string().contains("MAC"), "{bad}: {e}");
        }
    }

    #[test]
    fn serde_is_the_text_form() {
        let m = MacAddr([2, 0x0c, 0x7e, 0, 0, 1]);
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(j, "\"02:0c:7e:00:00:01\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&j).unwrap(), m);
        assert!(serde_json::from_str::<MacAddr>("\"ff:ff:ff:ff:ff:ff\"").is_err());
    }
}
