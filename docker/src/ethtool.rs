//! The one place with `unsafe`: the legacy ethtool ioctl to read and switch TX checksum
//! offload (`ETHTOOL_GTXCSUM` / `ETHTOOL_STXCSUM`, what `ethtool -K IFACE tx off` does).
//!
//! Contract: [`set_tx_checksum`] acts on the interface called `iface` in the network namespace
//! of the calling thread (the ioctl goes through an AF_INET datagram socket opened here, and
//! sockets belong to the namespace they were created in). The kernel maps `ETHTOOL_STXCSUM`
//! onto the `tx-checksum-*` feature bits and re-derives dependent features (TSO, ...).
#![allow(unsafe_code)]

use std::os::fd::AsRawFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::error::{Error, Result};

const SIOCETHTOOL: u32 = 0x8946;
const ETHTOOL_GTXCSUM: u32 = 0x0000_0016;
const ETHTOOL_STXCSUM: u32 = 0x0000_0017;
const IFNAMSIZ: usize = 16;

/// `struct ethtool_value`.
#[repr(C)]
#[derive(Debug)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct ifreq` with the `ifr_data` member of the union; padded to the kernel's 40 bytes.
#[repr(C)]
#[derive(Debug)]
struct IfreqData {
    name: [u8; IFNAMSIZ],
    data: *mut EthtoolValue,
    _pad: [u8; 16],
}

nix::ioctl_readwrite_bad!(siocethtool, SIOCETHTOOL, IfreqData);

fn call(iface: &str, cmd: u32, data: u32) -> Result<u32> {
    let bytes = iface.as_bytes();
    if bytes.is_empty() || bytes.len() >= IFNAMSIZ {
        return Err(Error::Ethtool {
            iface: iface.to_string(),
            source: nix::Error::EINVAL,
        });
    }
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|source| Error::Ethtool {
        iface: iface.to_string(),
        source,
    })?;
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfreqData {
        name: [0; IFNAMSIZ],
        data: &mut value,
        _pad: [0; 16],
    };
    req.name[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `req` is a properly laid out `struct ifreq` (NUL-terminated name, 40 bytes) whose
    // `ifr_data` points at `value`, a valid `struct ethtool_value` that outlives the call; the
    // kernel reads/writes only those two objects for GTXCSUM/STXCSUM, and `sock` is an open fd.
    unsafe { siocethtool(sock.as_raw_fd(), &mut req) }.map_err(|source| Error::Ethtool {
        iface: iface.to_string(),
        source,
    })?;
    Ok(value.data)
}

/// Whether TX checksum offload is on for `iface` (in the calling thread's namespace).
pub fn tx_checksum(iface: &str) -> Result<bool> {
    Ok(call(iface, ETHTOOL_GTXCSUM, 0)? != 0)
}

/// Switches TX checksum offload on or off for `iface` (in the calling thread's namespace).
pub fn set_tx_checksum(iface: &str, on: bool) -> Result<()> {
    call(iface, ETHTOOL_STXCSUM, u32::from(on)).map(|_| ())
}
