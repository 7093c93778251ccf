//! Polling helpers: assert on OVS's own view by polling with a deadline instead of
//! sleeping blindly. A timeout error says what was awaited and the last error seen.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::Host;

/// Calls `cond` every `interval` until it returns `Ok(true)`; errors count as "not yet".
/// Fails after `timeout` with the last error (if any) in the message.
pub fn wait_until<F>(timeout: Duration, interval: Duration, mut cond: F) -> Result<()>
where
    F: FnMut() -> Result<bool>,
{
    let start = Instant::now();
    let mut tries = 0u32;
    loop {
        tries += 1;
        let last_err = match cond() {
            Ok(true) => return Ok(()),
            Ok(false) => None,
            Err(e) => Some(e),
        };
        if start.elapsed() >= timeout {
            match last_err {
                Some(e) => {
                    bail!("condition not met within {timeout:?} ({tries} tries); last error: {e:#}")
                }
                None => bail!("condition not met within {timeout:?} ({tries} tries)"),
            }
        }
        std::thread::sleep(interval);
    }
}

/// Waits (up to 15 s) until `pred` holds on the normalized flows of `bridge` on `host`;
/// the error shows the last flow dump.
pub fn assert_flows_eventually<F>(host: &Host, bridge: &str, mut pred: F) -> Result<Vec<String>>
where
    F: FnMut(&[String]) -> bool,
{
    let mut last = Vec::new();
    let r = wait_until(Duration::from_secs(15), Duration::from_millis(100), || {
        last = host.dump_flows(bridge)?;
        Ok(pred(&last))
    });
    match r {
        Ok(()) => Ok(last),
        Err(e) => bail!(
            "flows on {}/{bridge} never matched: {e:#}\nlast dump ({} flows):\n  {}",
            host.name,
            last.len(),
            last.join("\n  ")
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wait_until_succeeds_and_times_out() {
        let mut n = 0;
        wait_until(Duration::from_secs(1), Duration::from_millis(1), || {
            n += 1;
            Ok(n >= 3)
        })
        .unwrap();
        assert_eq!(n, 3);
        let e = wait_until(Duration::from_millis(30), Duration::from_millis(5), || {
            bail!("boom")
        })
        .unwrap_err();
        assert!(e.to_string().contains("boom"), "{e}");
    }
}
