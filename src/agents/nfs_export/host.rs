// SPDX-License-Identifier: GPL-2.0-or-later
//! What the agent reads from and writes to the host without a command:
//! files under /proc and /var/lib/nfs, processes by their /proc entries,
//! the UTS namespace the nfsd threads start in, and the RPC checks. A
//! trait, so the action logic runs against a simulated host in tests.

use super::rpc;
use crate::generic;
use crate::ocf::OcfError;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

pub trait Host {
    /// The file's text; `None` when it does not exist or cannot be read.
    fn read(&self, path: &str) -> Option<String>;
    fn write(&self, path: &str, data: &str) -> Result<(), OcfError>;
    fn exists(&self, path: &str) -> bool;
    fn is_dir(&self, path: &str) -> bool;
    /// The path with symbolic links resolved (`readlink -f`), when it exists.
    fn canonical(&self, path: &str) -> Option<String>;
    fn mkdir(&self, path: &str) -> Result<(), OcfError>;
    /// Gives `path` the owner and mode of `like`.
    fn copy_owner(&self, path: &str, like: &str);
    /// Whether two paths are the same directory (device and inode).
    fn same_dir(&self, a: &str, b: &str) -> bool;
    /// Every process as (pid, command name), from one pass over /proc.
    fn processes(&self) -> Vec<(i32, String)>;
    /// Pids of processes whose command name is `comm`.
    fn pids(&self, comm: &str) -> Vec<i32> {
        self.processes()
            .into_iter()
            .filter(|(_, c)| c == comm)
            .map(|(p, _)| p)
            .collect()
    }
    /// Which of `comms` no process runs as.
    fn not_running<'a>(&self, comms: &[&'a str]) -> Vec<&'a str> {
        let procs = self.processes();
        comms
            .iter()
            .copied()
            .filter(|c| !procs.iter().any(|(_, p)| p == c))
            .collect()
    }
    /// Sends SIGTERM (or SIGKILL with `hard`); false when it is gone.
    fn signal(&self, pid: i32, hard: bool) -> bool;
    /// Processes with a file, directory or cwd under `prefix`, as "NAME (pid N)".
    fn holders(&self, prefix: &str) -> Vec<String>;
    /// Runs `work` with the UTS node name `scope` (in a namespace of this
    /// thread's own, left again afterwards).
    fn in_scope(
        &self,
        scope: &str,
        work: &mut dyn FnMut() -> Result<(), OcfError>,
    ) -> Result<(), OcfError>;
    /// A NULL call to nfsd (program 100003) over TCP on localhost.
    fn nfs_null(&self, vers: u32, limit: Duration) -> Result<(), String>;
    /// The TCP port `prog` is registered on at the local portmapper.
    fn rpc_port(&self, prog: u32, vers: u32, limit: Duration) -> Result<u16, String>;
    /// mountd's export list.
    fn mountd_exports(&self, limit: Duration) -> Result<Vec<String>, String>;
    /// Whether `ip` is an address of this node now.
    fn is_local(&self, ip: IpAddr) -> bool;
    /// Whether `ip` has a name (DNS or /etc/hosts): sm-notify -v refuses an
    /// address without one.
    fn has_name(&self, ip: IpAddr) -> bool;
    fn sleep(&self, d: Duration);
}

/// The real host.
pub struct System;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn proc_pids() -> Vec<i32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .collect()
}

fn comm_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The daemons' pids as the last full pass over /proc found them, one
/// "COMM PID" a line: a steady-state monitor reads this file and the
/// daemons' own /proc entries instead of every process's (in an emulated
/// VM the pass over some hundred processes is a third of the monitor's
/// time). Only a pid whose /proc comm still names the daemon counts.
const PID_CACHE_DIR: &str = crate::ocf::env::DEFAULT_RSCTMP;
const PID_CACHE: &str = "storha-nfs-export.pids";

/// Whether every one of `comms` is a live process according to the cache
/// text, checked with `comm_of`.
pub fn cached_alive(cache: &str, comms: &[&str], comm_of: impl Fn(i32) -> String) -> bool {
    comms.iter().all(|c| {
        cache
            .lines()
            .filter_map(|l| l.split_once(' '))
            .any(|(name, pid)| {
                name == *c && pid.trim().parse::<i32>().is_ok_and(|p| comm_of(p) == *c)
            })
    })
}

/// The cache text for `comms` from a full process list.
pub fn pid_cache_text(procs: &[(i32, String)], comms: &[&str]) -> String {
    procs
        .iter()
        .filter(|(_, c)| comms.contains(&c.as_str()))
        .map(|(p, c)| format!("{c} {p}\n"))
        .collect()
}

fn under(p: &Path, prefix: &str) -> bool {
    p.to_str()
        .is_some_and(|s| s == prefix || s.starts_with(&format!("{prefix}/")))
}

impl Host for System {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn write(&self, path: &str, data: &str) -> Result<(), OcfError> {
        std::fs::write(path, data).map_err(|e| generic!("cannot write {path}: {e}"))
    }

    fn exists(&self, path: &str) -> bool {
        Path::new(path).exists()
    }

    fn is_dir(&self, path: &str) -> bool {
        Path::new(path).is_dir()
    }

    fn canonical(&self, path: &str) -> Option<String> {
        std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.to_str().map(String::from))
    }

    fn mkdir(&self, path: &str) -> Result<(), OcfError> {
        std::fs::create_dir_all(path).map_err(|e| generic!("cannot create {path}: {e}"))
    }

    fn copy_owner(&self, path: &str, like: &str) {
        if let Ok(m) = std::fs::metadata(like) {
            let _ = std::os::unix::fs::chown(path, Some(m.uid()), Some(m.gid()));
        }
    }

    fn same_dir(&self, a: &str, b: &str) -> bool {
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }

    fn processes(&self) -> Vec<(i32, String)> {
        proc_pids().into_iter().map(|p| (p, comm_of(p))).collect()
    }

    fn not_running<'a>(&self, comms: &[&'a str]) -> Vec<&'a str> {
        let path = format!("{PID_CACHE_DIR}/{PID_CACHE}");
        let cache = std::fs::read_to_string(&path).unwrap_or_default();
        if cached_alive(&cache, comms, comm_of) {
            return Vec::new();
        }
        let procs = self.processes();
        // Best effort: without the cache the next monitor scans again.
        let tmp = format!("{path}.{}", std::process::id());
        if std::fs::create_dir_all(PID_CACHE_DIR).is_ok()
            && std::fs::write(&tmp, pid_cache_text(&procs, comms)).is_ok()
            && std::fs::rename(&tmp, &path).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
        comms
            .iter()
            .copied()
            .filter(|c| !procs.iter().any(|(_, p)| p == c))
            .collect()
    }

    fn signal(&self, pid: i32, hard: bool) -> bool {
        use nix::sys::signal::{kill, Signal};
        let sig = if hard {
            Signal::SIGKILL
        } else {
            Signal::SIGTERM
        };
        kill(nix::unistd::Pid::from_raw(pid), sig).is_ok()
    }

    fn holders(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for pid in proc_pids() {
            let base = format!("/proc/{pid}");
            let mut hit = ["cwd", "root"]
                .iter()
                .filter_map(|l| std::fs::read_link(format!("{base}/{l}")).ok())
                .any(|p| under(&p, prefix) && p.to_str() != Some("/"));
            if !hit {
                if let Ok(rd) = std::fs::read_dir(format!("{base}/fd")) {
                    hit = rd
                        .filter_map(Result::ok)
                        .filter_map(|e| std::fs::read_link(e.path()).ok())
                        .any(|p| under(&p, prefix));
                }
            }
            if hit {
                out.push(format!("{} (pid {pid})", comm_of(pid)));
            }
        }
        out
    }

    fn in_scope(
        &self,
        scope: &str,
        work: &mut dyn FnMut() -> Result<(), OcfError>,
    ) -> Result<(), OcfError> {
        use nix::sched::{setns, unshare, CloneFlags};
        // The namespace is the calling thread's: children forked from it
        // inherit it, the rest of the system does not see it.
        let back = std::fs::File::open("/proc/thread-self/ns/uts")
            .map_err(|e| generic!("cannot open this thread's UTS namespace: {e}"))?;
        unshare(CloneFlags::CLONE_NEWUTS)
            .map_err(|e| generic!("cannot create a UTS namespace for the server scope: {e}"))?;
        let r = nix::unistd::sethostname(scope)
            .map_err(|e| generic!("cannot set the server scope {scope}: {e}"))
            .and_then(|()| work());
        if let Err(e) = setns(&back, CloneFlags::CLONE_NEWUTS) {
            log::warn!("cannot return to the host's UTS namespace: {e}");
        }
        r
    }

    fn nfs_null(&self, vers: u32, limit: Duration) -> Result<(), String> {
        rpc::call(
            SocketAddr::new(LOCALHOST, 2049),
            rpc::NFS,
            vers,
            0,
            &[],
            limit,
        )
        .map(|_| ())
    }

    fn rpc_port(&self, prog: u32, vers: u32, limit: Duration) -> Result<u16, String> {
        rpc::getport(LOCALHOST, prog, vers, limit)
    }

    fn mountd_exports(&self, limit: Duration) -> Result<Vec<String>, String> {
        rpc::mountd_exports(LOCALHOST, limit)
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        // Binding succeeds only to an address this node has.
        std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
    }

    fn has_name(&self, ip: IpAddr) -> bool {
        reverse_name(ip).is_some()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// The name of `ip` as sm-notify looks it up (getnameinfo, NI_NAMEREQD).
pub fn reverse_name(ip: IpAddr) -> Option<String> {
    let mut host = [0 as libc::c_char; 1025];
    let lookup = |sa: *const libc::sockaddr, len: usize, host: &mut [libc::c_char]| {
        // SAFETY: sa points to a sockaddr of len bytes that lives for the
        // call; host is NI_MAXHOST long and getnameinfo NUL-terminates it.
        unsafe {
            libc::getnameinfo(
                sa,
                len as libc::socklen_t,
                host.as_mut_ptr(),
                host.len() as libc::socklen_t,
                std::ptr::null_mut(),
                0,
                libc::NI_NAMEREQD,
            )
        }
    };
    let rc = match ip {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            lookup(
                std::ptr::addr_of!(sin).cast(),
                std::mem::size_of::<libc::sockaddr_in>(),
                &mut host,
            )
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain old data; all zeroes is valid.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
            lookup(
                std::ptr::addr_of!(sin6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>(),
                &mut host,
            )
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo succeeded, so host holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}
