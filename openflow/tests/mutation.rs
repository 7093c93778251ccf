//! Deterministic mutation testing (a stable-toolchain stand-in for the cargo-fuzz targets):
//! golden vectors with flipped bytes, truncations and length edits must never panic, and
//! whatever decodes must re-encode to bytes that decode to the same message.
#![allow(clippy::unwrap_used)]

use openflow::Message;

const VECTORS: &str = include_str!("golden/vectors.txt");

fn seeds() -> Vec<Vec<u8>> {
    VECTORS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.strip_prefix("reply ").unwrap_or(l).trim())
        .filter(|h| !h.is_empty() && h.len() % 2 == 0 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|h| {
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn check(b: &[u8]) -> bool {
    match Message::decode(b) {
        Ok((xid, m)) => {
            let e = m.encode(xid);
            let again = Message::decode(&e)
                .unwrap_or_else(|err| panic!("re-encode of {m:?} does not decode: {err}"));
            assert_eq!(again, (xid, m));
            true
        }
        Err(_) => false,
    }
}

#[test]
fn mutated_vectors_never_panic_and_roundtrip() {
    let seeds = seeds();
    assert!(!seeds.is_empty());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut total) = (0, 0);
    for _ in 0..40_000 {
        let mut b = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            match rng.below(4) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                1 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                2 => {
                    let n = 8 + rng.below(b.len().saturating_sub(7).max(1));
                    b.truncate(n.min(b.len()));
                }
                _ => {}
            }
        }
        // Keep the header length consistent half of the time so bodies get exercised.
        if rng.below(2) == 0 && b.len() >= 4 {
            let l = (b.len() as u16).to_be_bytes();
            b[2] = l[0];
            b[3] = l[1];
        }
        total += 1;
        if check(&b) {
            ok += 1;
        }
    }
    assert!(
        ok > 100,
        "only {ok}/{total} mutants decoded: mutations too destructive"
    );
}
