// SPDX-License-Identifier: GPL-2.0-or-later
//! Kernel networking without child processes: rtnetlink and raw packet sockets.
//!
//! The floating IP agent's monitor runs every few seconds on every node, so
//! it reads interface and address state straight from the kernel instead of
//! forking `ip`. Start and stop change addresses the same way, and
//! neighbour updates (gratuitous ARP, unsolicited NA) are built and sent
//! here rather than by an external helper.

pub mod netlink;
pub mod packet;

use std::fmt;
use std::os::fd::AsFd;
use std::path::PathBuf;

use nix::errno::Errno;
use nix::sched::CloneFlags;

// The agents pick from these; a binary crate would otherwise flag the ones
// not used yet.
#[allow(unused_imports)]
pub use netlink::{
    AddAddr, Addr, Family, Link, Netlink, OperState, Route, IFA_F_DADFAILED, IFA_F_DEPRECATED,
    IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR, IFA_F_MCAUTOJOIN, IFA_F_NODAD, IFA_F_NOPREFIXROUTE,
    IFA_F_OPTIMISTIC, IFA_F_PERMANENT, IFA_F_SECONDARY, IFA_F_STABLE_PRIVACY, IFA_F_TENTATIVE,
    IFF_LOWER_UP, IFF_NOARP, IFF_RUNNING, IFF_UP, LIFETIME_INFINITE, RTN_BLACKHOLE, RTN_BROADCAST,
    RTN_LOCAL, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE, RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
#[allow(unused_imports)]
pub use packet::{arp_probe, send_announcements, send_garp, send_unsolicited_na, ArpKind};

/// An errno rendered the way operators expect to read it in a log line:
/// the C library text followed by the symbolic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrnoText(pub i32);

impl fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = Errno::from_raw(self.0);
        if e == Errno::UnknownErrno {
            write!(f, "unknown error {}", self.0)
        } else {
            write!(f, "{} ({:?})", e.desc(), e)
        }
    }
}

/// Every failure of the networking layer.
///
/// `op` always says what was being attempted (e.g. "add address 192.0.2.10/24
/// on ifindex 3"), so the message can go to the cluster log as is.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The kernel refused a netlink request.
    #[error("{op}: {}{}", ErrnoText(*errno), ext_ack.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kernel {
        op: String,
        errno: i32,
        /// The kernel's extended ACK message, when it gave one.
        ext_ack: Option<String>,
    },
    /// A system call failed locally (socket, bind, send, receive, setns...).
    #[error("{op}: {}", ErrnoText(*errno))]
    Os { op: String, errno: i32 },
    /// The kernel's answer could not be decoded.
    #[error("{op}: malformed netlink message: {detail}")]
    Malformed { op: String, detail: String },
    /// The caller passed something that cannot be encoded.
    #[error("{op}: invalid argument: {detail}")]
    Invalid { op: String, detail: String },
    /// No namespace file exists under any of the searched directories.
    #[error("network namespace {name:?} not found: none of {} exists", display_paths(.tried))]
    NetnsNotFound { name: String, tried: Vec<PathBuf> },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl NetError {
    /// The errno behind a kernel or system call failure, if there is one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetError::Kernel { errno, .. } | NetError::Os { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    pub(crate) fn os(op: impl Into<String>, errno: Errno) -> NetError {
        NetError::Os {
            op: op.into(),
            errno: errno as i32,
        }
    }

    pub(crate) fn last_os(op: impl Into<String>) -> NetError {
        NetError::os(op, Errno::last())
    }
}

/// Directories `ip netns` keeps named namespaces in; /var/run is normally a
/// symlink to /run, but not on every system.
const NETNS_DIRS: [&str; 2] = ["/var/run/netns", "/run/netns"];

/// Moves the calling thread into the named network namespace.
///
/// Sockets opened afterwards by this thread belong to that namespace, which
/// is what lets the agent manage an address inside a namespace without
/// re-executing itself under `ip netns exec`. Call it before opening any
/// socket, and from the thread that will use them.
pub fn enter_netns(name: &str) -> Result<(), NetError> {
    let op = format!("enter network namespace {name:?}");
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(NetError::Invalid {
            op,
            detail: "a namespace name is a single path component".into(),
        });
    }
    let mut tried = Vec::new();
    for dir in NETNS_DIRS {
        let path = PathBuf::from(dir).join(name);
        match std::fs::File::open(&path) {
            Ok(file) => {
                return nix::sched::setns(file.as_fd(), CloneFlags::CLONE_NEWNET)
                    .map_err(|e| NetError::os(format!("{op}: setns({})", path.display()), e));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => tried.push(path),
            Err(e) => {
                return Err(NetError::Os {
                    op: format!("{op}: open {}", path.display()),
                    errno: e.raw_os_error().unwrap_or(libc::EIO),
                })
            }
        }
    }
    Err(NetError::NetnsNotFound {
        name: name.to_string(),
        tried,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_has_description_and_name() {
        assert_eq!(ErrnoText(libc::EEXIST).to_string(), "File exists (EEXIST)");
        assert_eq!(ErrnoText(99999).to_string(), "unknown error 99999");
    }

    #[test]
    fn kernel_error_display_and_errno() {
        let e = NetError::Kernel {
            op: "add address 192.0.2.1/24 on ifindex 2".into(),
            errno: libc::EEXIST,
            ext_ack: None,
        };
        assert_eq!(
            e.to_string(),
            "add address 192.0.2.1/24 on ifindex 2: File exists (EEXIST)"
        );
        assert_eq!(e.errno(), Some(libc::EEXIST));
        let e = NetError::Kernel {
            op: "x".into(),
            errno: libc::ENODEV,
            ext_ack: Some("Device not found".into()),
        };
        assert_eq!(
            e.to_string(),
            "x: No such device (ENODEV): Device not found"
        );
        let e = NetError::Malformed {
            op: "x".into(),
            detail: "y".into(),
        };
        assert_eq!(e.errno(), None);
    }

    #[test]
    fn enter_netns_rejects_bad_names() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(matches!(enter_netns(bad), Err(NetError::Invalid { .. })));
        }
    }

    #[test]
    fn enter_netns_missing_names_paths() {
        let err = enter_netns("storha-no-such-namespace-xyz").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, NetError::NetnsNotFound { .. }));
        assert!(
            text.contains("/var/run/netns/storha-no-such-namespace-xyz"),
            "{text}"
        );
        assert!(
            text.contains("/run/netns/storha-no-such-namespace-xyz"),
            "{text}"
        );
    }
}

#[cfg(test)]
mod live_tests;

#[cfg(test)]
mod netlink_tests;
