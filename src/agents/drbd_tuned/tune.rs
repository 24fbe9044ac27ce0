// SPDX-License-Identifier: GPL-2.0-or-later
//! The tuning half: host and link knobs replication at tens of Gbit/s needs
//! (CPU governor, TCP buffers, the `fq` qdisc, IRQ affinity and MTU of the
//! replication NIC, a soft-RoCE link), applied on start before DRBD
//! connects, verified by monitor, restored exactly on stop.
//!
//! Every knob's original value is written to a record before the knob is
//! touched (write-ahead), so that a stop after a crashed or killed start
//! still restores it. The record is one file per host, shared by every DRBD
//! resource of the node: a knob several resources use is reference counted
//! and restored when the last of them stops. It carries the boot id; a
//! record of an earlier boot is never restored (the kernel has its defaults
//! again). Nothing here returns an error to an action: a knob that cannot
//! be applied or restored is a warning, never a failed start, stop or
//! demotion of the storage.
//!
//! All sysfs and procfs access goes through `Tree`, a root directory (`/`
//! in production), so that tests run against a fake tree in a temporary
//! directory and check that a restore is byte for byte.

use crate::cmd::{Cmd, Runner};
use crate::configured;
use crate::ocf::params::shown;
use crate::ocf::{OcfError, Params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tuning a resource asks for; everything off by default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TuneConfig {
    pub governor: Option<String>,
    /// (procfs path, value with single spaces).
    pub sysctls: Vec<(&'static str, String)>,
    pub nic: Option<String>,
    pub qdisc: Option<String>,
    /// A CPU list, or `local` (the NIC's NUMA-local CPUs).
    pub irq_affinity: Option<String>,
    pub mtu: Option<u32>,
    pub soft_roce: bool,
}

const SYSCTLS: [(&str, &str, usize); 4] = [
    ("net_core_rmem_max", "/proc/sys/net/core/rmem_max", 1),
    ("net_core_wmem_max", "/proc/sys/net/core/wmem_max", 1),
    ("net_ipv4_tcp_rmem", "/proc/sys/net/ipv4/tcp_rmem", 3),
    ("net_ipv4_tcp_wmem", "/proc/sys/net/ipv4/tcp_wmem", 3),
];

fn is_cpulist(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            let num = |x: Option<&str>| {
                x.is_some_and(|v| {
                    !v.is_empty() && v.len() <= 5 && v.bytes().all(|b| b.is_ascii_digit())
                })
            };
            let a = ends.next();
            match ends.next() {
                None => num(a),
                Some(b) => num(a) && num(Some(b)),
            }
        })
}

/// A network interface name as the kernel accepts it, restricted to
/// characters that cannot leave a sysfs path or look like an option.
pub fn is_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c))
}

impl TuneConfig {
    pub fn from_params(p: &Params) -> Result<TuneConfig, OcfError> {
        let get = |n: &str| {
            p.get(n)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut t = TuneConfig {
            governor: get("cpu_governor"),
            nic: get("replication_nic"),
            qdisc: get("qdisc"),
            irq_affinity: get("irq_affinity"),
            mtu: p
                .int("mtu")
                .filter(|m| *m > 0)
                .and_then(|m| u32::try_from(m).ok()),
            soft_roce: p.flag("soft_roce"),
            sysctls: Vec::new(),
        };
        if let Some(g) = &t.governor {
            if g.len() > 32 || !g.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(configured!(
                    "cpu_governor={} is not a cpufreq governor name (performance, \
                     schedutil, ...)",
                    shown(g)
                ));
            }
        }
        for (param, path, n) in SYSCTLS {
            let Some(v) = get(param) else { continue };
            let words: Vec<&str> = v.split_whitespace().collect();
            let nums: Vec<u64> = words
                .iter()
                .filter(|w| w.len() <= 12 && w.bytes().all(|b| b.is_ascii_digit()))
                .filter_map(|w| w.parse().ok())
                .collect();
            if words.len() != n || nums.len() != n || nums.contains(&0) {
                return Err(configured!(
                    "{param}={} must be {} positive whole number{}",
                    shown(&v),
                    if n == 1 { "one" } else { "three" },
                    if n == 1 { "" } else { "s (min default max)" }
                ));
            }
            if n == 3 && !(nums[0] <= nums[1] && nums[1] <= nums[2]) {
                return Err(configured!(
                    "{param}={}: min, default and max must not decrease",
                    shown(&v)
                ));
            }
            t.sysctls.push((path, words.join(" ")));
        }
        if let Some(q) = &t.qdisc {
            if q != "fq" {
                return Err(configured!(
                    "qdisc={}: only fq (pacing for TCP) is supported",
                    shown(q)
                ));
            }
        }
        if let Some(a) = &t.irq_affinity {
            if a != "local" && !is_cpulist(a) {
                return Err(configured!(
                    "irq_affinity={} is neither a CPU list (0-3,8) nor 'local'",
                    shown(a)
                ));
            }
        }
        match &t.nic {
            Some(n) if !is_ifname(n) => {
                return Err(configured!(
                    "replication_nic={} is not an interface name",
                    shown(n)
                ))
            }
            None if t.qdisc.is_some()
                || t.irq_affinity.is_some()
                || t.mtu.is_some()
                || t.soft_roce =>
            {
                return Err(configured!(
                    "qdisc, irq_affinity, mtu and soft_roce need replication_nic"
                ))
            }
            _ => {}
        }
        Ok(t)
    }

    pub fn is_empty(&self) -> bool {
        self.governor.is_none()
            && self.sysctls.is_empty()
            && self.qdisc.is_none()
            && self.irq_affinity.is_none()
            && self.mtu.is_none()
            && !self.soft_roce
    }

    /// Whether a knob touches a live link (asked only before connecting).
    pub fn has_link_knobs(&self) -> bool {
        self.qdisc.is_some() || self.irq_affinity.is_some() || self.mtu.is_some() || self.soft_roce
    }
}

/// sysfs and procfs below a root directory.
pub struct Tree {
    root: PathBuf,
    /// Addresses per interface for tests; `None`: from the kernel.
    fake_addrs: Option<Vec<(String, IpAddr, u8)>>,
    /// Tests: the process "dies" (panics) at this many knob writes.
    #[cfg(test)]
    pub crash_at_write: std::cell::Cell<Option<usize>>,
}

impl Tree {
    pub fn system() -> Tree {
        Tree {
            root: PathBuf::from("/"),
            fake_addrs: None,
            #[cfg(test)]
            crash_at_write: std::cell::Cell::new(None),
        }
    }

    #[cfg(test)]
    pub fn fake(root: &Path, addrs: Vec<(String, IpAddr, u8)>) -> Tree {
        Tree {
            root: root.to_path_buf(),
            fake_addrs: Some(addrs),
            crash_at_write: std::cell::Cell::new(None),
        }
    }

    fn p(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    pub fn read(&self, abs: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.p(abs))
    }

    fn exists(&self, abs: &str) -> bool {
        self.p(abs).exists()
    }

    /// Writes an existing knob file (never creates one).
    fn write(&self, abs: &str, value: &str) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.crash_at_write.get() {
            if n == 0 {
                panic!("killed while writing {abs}");
            }
            self.crash_at_write.set(Some(n - 1));
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.p(abs))?;
        f.write_all(value.as_bytes())
    }

    fn list(&self, abs: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.p(abs))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.sort_by_key(|a| natural(a));
        out
    }

    pub fn boot_id(&self) -> String {
        self.read("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    /// The interface's addresses with their prefix lengths.
    pub fn nic_addrs(&self, nic: &str) -> Vec<(IpAddr, u8)> {
        if let Some(fake) = &self.fake_addrs {
            return fake
                .iter()
                .filter(|(n, _, _)| n == nic)
                .map(|(_, a, l)| (*a, *l))
                .collect();
        }
        let Ok(nl) = crate::net::netlink::Netlink::open() else {
            return Vec::new();
        };
        let Ok(Some(link)) = nl.link_by_name(nic) else {
            return Vec::new();
        };
        nl.addrs(None)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.ifindex == link.index)
            .map(|a| (a.own_address(), a.prefix_len))
            .collect()
    }
}

/// `cpu10` after `cpu9`, IRQ 100 after 99.
fn natural(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(char::is_ascii_digit).collect();
    let n: String = digits.chars().rev().collect();
    (s[..s.len() - n.len()].to_string(), n.parse().unwrap_or(0))
}

/// What a knob is and how it is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Knob {
    /// A sysfs or procfs file.
    File(String),
    /// The root qdisc of an interface (`tc`).
    Qdisc(String),
    /// A soft-RoCE link on an interface (`rdma`).
    Rxe(String),
}

/// One knob a resource wants.
#[derive(Debug, Clone)]
pub struct Want {
    pub key: String,
    pub knob: Knob,
    pub wanted: String,
    /// MTU, qdisc, IRQs, RDMA link: changed only before DRBD connects.
    pub live_link: bool,
    pub what: String,
}

/// A knob as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub knob: Knob,
    pub what: String,
    /// The exact text read before the first change.
    pub original: String,
    /// The value asked for.
    pub wanted: String,
    /// The value as the kernel shows it after the change (what monitor
    /// compares with).
    pub applied: String,
    /// The DRBD resources using it.
    pub users: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub boot_id: String,
    pub entries: BTreeMap<String, Entry>,
}

/// Knob values compared without regard to white space.
fn norm(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One drifted or missing knob, as monitor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub what: String,
    pub key: String,
    pub expected: String,
    pub now: String,
}

/// The tuning of one resource on this host.
pub struct Tuner<'a> {
    pub tree: &'a Tree,
    pub runner: &'a dyn Runner,
    /// The host-wide record (in the per-boot state directory).
    pub record: PathBuf,
    /// The DRBD resource name: the user of its knobs.
    pub user: &'a str,
    pub cfg: &'a TuneConfig,
}

/// The record's file in the state directory.
pub fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join("storha-drbd-tuned.tuning.json")
}

struct Lock {
    _file: nix::fcntl::Flock<std::fs::File>,
}

impl<'a> Tuner<'a> {
    fn lock(&self, limit: Duration) -> Result<Lock, String> {
        use nix::fcntl::{Flock, FlockArg};
        if let Some(dir) = self.record.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let path = self.record.with_extension("lock");
        let began = std::time::Instant::now();
        loop {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
                Ok(l) => return Ok(Lock { _file: l }),
                Err((_, e)) if began.elapsed() >= limit => {
                    return Err(format!("{} is locked: {e}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// The record of this boot; one of another boot (or unreadable) reads as
    /// empty, with the reason why.
    pub fn load(&self) -> (Record, Option<String>) {
        let boot = self.tree.boot_id();
        let fresh = Record {
            boot_id: boot.clone(),
            entries: BTreeMap::new(),
        };
        let Ok(text) = std::fs::read_to_string(&self.record) else {
            return (fresh, None);
        };
        match serde_json::from_str::<Record>(&text) {
            Ok(r) if r.boot_id == boot && !boot.is_empty() => (r, None),
            Ok(r) => (
                fresh,
                Some(format!(
                    "tuning record {} is from an earlier boot ({}): not restored, the kernel \
                     started with its own values",
                    self.record.display(),
                    r.boot_id
                )),
            ),
            Err(e) => (
                fresh,
                Some(format!(
                    "tuning record {} is unreadable ({e}): ignored",
                    self.record.display()
                )),
            ),
        }
    }

    /// Whether this resource uses a knob of the record.
    pub fn holds_any(&self) -> bool {
        self.record.exists()
            && self
                .load()
                .0
                .entries
                .values()
                .any(|e| e.users.iter().any(|u| u == self.user))
    }

    /// Writes the record durably (temporary file, fsync, rename).
    fn save(&self, r: &Record) -> Result<(), String> {
        if r.entries.is_empty() {
            return match std::fs::remove_file(&self.record) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("{}: {e}", self.record.display())),
            };
        }
        let text = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
        let tmp = self.record.with_extension("tmp");
        let res = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.record)?;
            if let Some(dir) = self.record.parent() {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        res.map_err(|e| {
            format!(
                "cannot write the tuning record {}: {e}",
                self.record.display()
            )
        })
    }

    /// Every knob this resource asks for, resolved on this host; what cannot
    /// be resolved is a warning.
    pub fn wants(&self, warn: &mut Vec<String>) -> Vec<Want> {
        let t = self.tree;
        let mut out = Vec::new();
        if let Some(g) = &self.cfg.governor {
            let mut found = 0;
            for cpu in t.list("/sys/devices/system/cpu") {
                let is_cpu = cpu
                    .strip_prefix("cpu")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                let file = format!("/sys/devices/system/cpu/{cpu}/cpufreq/scaling_governor");
                if !is_cpu || !t.exists(&file) {
                    continue;
                }
                found += 1;
                let avail = t
                    .read(&format!(
                        "/sys/devices/system/cpu/{cpu}/cpufreq/scaling_available_governors"
                    ))
                    .unwrap_or_default();
                if !avail.is_empty() && !avail.split_whitespace().any(|a| a == g) {
                    warn.push(format!(
                        "{cpu} has no cpufreq governor '{g}' (available: {})",
                        avail.trim()
                    ));
                    continue;
                }
                out.push(Want {
                    key: file.clone(),
                    knob: Knob::File(file),
                    wanted: g.clone(),
                    live_link: false,
                    what: format!("CPU governor of {cpu}"),
                });
            }
            if found == 0 {
                warn.push("no CPU with cpufreq on this host: cpu_governor not applied".into());
            }
        }
        for (path, v) in &self.cfg.sysctls {
            let name = path.trim_start_matches("/proc/sys/").replace('/', ".");
            out.push(Want {
                key: path.to_string(),
                knob: Knob::File(path.to_string()),
                wanted: v.clone(),
                live_link: false,
                what: name,
            });
        }
        let Some(nic) = &self.cfg.nic else {
            return out;
        };
        let base = format!("/sys/class/net/{nic}");
        if !t.exists(&base) {
            warn.push(format!(
                "replication_nic {nic}: no such interface, its knobs are not applied"
            ));
            return out;
        }
        if let Some(mtu) = self.cfg.mtu {
            let file = format!("{base}/mtu");
            out.push(Want {
                key: file.clone(),
                knob: Knob::File(file),
                wanted: mtu.to_string(),
                live_link: true,
                what: format!("MTU of {nic}"),
            });
        }
        if let Some(q) = &self.cfg.qdisc {
            out.push(Want {
                key: format!("qdisc:{nic}"),
                knob: Knob::Qdisc(nic.clone()),
                wanted: q.clone(),
                live_link: true,
                what: format!("root qdisc of {nic}"),
            });
        }
        if let Some(a) = &self.cfg.irq_affinity {
            let mut dir = format!("{base}/device/msi_irqs");
            if !t.exists(&dir) {
                // virtio: the interrupts belong to the PCI device above.
                dir = format!("{base}/device/../msi_irqs");
            }
            let irqs = t.list(&dir);
            let cpus = if a == "local" {
                let local = [
                    format!("{base}/device/local_cpulist"),
                    format!("{base}/device/../local_cpulist"),
                ]
                .iter()
                .find_map(|f| t.read(f).ok())
                .map(|s| s.trim().to_string());
                match local {
                    Some(l) if is_cpulist(&l) => Some(l),
                    _ => {
                        warn.push(format!("{nic}: no local_cpulist; irq_affinity not applied"));
                        None
                    }
                }
            } else {
                Some(a.clone())
            };
            if irqs.is_empty() {
                warn.push(format!(
                    "{nic} has no MSI interrupts to pin: irq_affinity not applied"
                ));
            }
            if let Some(cpus) = cpus {
                for irq in irqs
                    .iter()
                    .filter(|i| i.bytes().all(|b| b.is_ascii_digit()))
                {
                    let file = format!("/proc/irq/{irq}/smp_affinity_list");
                    if !t.exists(&file) {
                        continue;
                    }
                    out.push(Want {
                        key: file.clone(),
                        knob: Knob::File(file),
                        wanted: cpus.clone(),
                        live_link: true,
                        what: format!("affinity of IRQ {irq} ({nic})"),
                    });
                }
            }
        }
        if self.cfg.soft_roce {
            out.push(Want {
                key: format!("rxe:{nic}"),
                knob: Knob::Rxe(nic.clone()),
                wanted: "present".into(),
                live_link: true,
                what: format!("soft-RoCE link on {nic}"),
            });
        }
        out
    }

    /// Why the replication NIC is live (a DRBD connection up or connecting
    /// on this host, or a corosync ring address on it), if it is.
    /// `drbd_live` comes from the caller, which knows the DRBD version.
    pub fn link_live(&self, drbd_live: Option<String>) -> Option<String> {
        if let Some(why) = drbd_live {
            return Some(why);
        }
        let nic = self.cfg.nic.as_deref()?;
        let addrs = self.tree.nic_addrs(nic);
        let conf = self.tree.read("/etc/corosync/corosync.conf").ok()?;
        for line in conf.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            let ring = k.starts_with("ring") && k.ends_with("_addr");
            if !ring && k != "bindnetaddr" {
                continue;
            }
            let ips: Vec<IpAddr> = match v.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    use std::net::ToSocketAddrs;
                    (v, 0)
                        .to_socket_addrs()
                        .map(|it| it.map(|s| s.ip()).collect())
                        .unwrap_or_default()
                }
            };
            for ip in ips {
                let on_nic = addrs.iter().any(|(a, len)| {
                    *a == ip
                        || (k == "bindnetaddr"
                            && crate::net::netlink::prefix_contains(a, *len, &ip))
                });
                if on_nic {
                    return Some(format!("{nic} carries the corosync ring ({k}: {v})"));
                }
            }
        }
        None
    }

    /// Reads a knob's current value: the text to restore, and the value to
    /// compare.
    fn read_knob(&self, knob: &Knob) -> Result<String, String> {
        match knob {
            Knob::File(f) => self.tree.read(f).map_err(|e| format!("{f}: {e}")),
            Knob::Qdisc(nic) => {
                let out = self
                    .runner
                    .run(&Cmd::new("tc").args(["qdisc", "show", "dev", nic.as_str()]))
                    .map_err(|e| e.to_string())?;
                Ok(out.stdout)
            }
            Knob::Rxe(nic) => Ok(match self.rxe_on(nic) {
                Some(dev) => format!("present {dev}"),
                None => "absent".into(),
            }),
        }
    }

    /// The comparable form of a knob's text.
    fn current(knob: &Knob, text: &str) -> String {
        match knob {
            Knob::File(_) => norm(text),
            // The root qdisc's kind: "qdisc fq 8001: root ..." -> "fq".
            Knob::Qdisc(_) => root_qdisc(text).map(|(kind, _)| kind).unwrap_or_default(),
            Knob::Rxe(_) => text.split_whitespace().next().unwrap_or("").to_string(),
        }
    }

    /// The RDMA device bound to `nic`, from sysfs.
    fn rxe_on(&self, nic: &str) -> Option<String> {
        self.tree
            .list("/sys/class/infiniband")
            .into_iter()
            .find(|d| {
                self.tree
                    .read(&format!("/sys/class/infiniband/{d}/parent"))
                    .is_ok_and(|p| p.trim() == nic)
            })
    }

    fn rxe_name(nic: &str) -> String {
        format!("rxe_{nic}")
    }

    /// Changes a knob to `value`.
    fn set_knob(&self, knob: &Knob, value: &str) -> Result<(), String> {
        match knob {
            Knob::File(f) => self
                .tree
                .write(f, &format!("{value}\n"))
                .map_err(|e| format!("{f}: {e}")),
            Knob::Qdisc(nic) => self
                .runner
                .run(&Cmd::new("tc").args(["qdisc", "replace", "dev", nic.as_str(), "root", value]))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Knob::Rxe(nic) => {
                let _ = self.runner.run(&Cmd::new("modprobe").arg("rdma_rxe"));
                self.runner
                    .run(&Cmd::new("rdma").args([
                        "link",
                        "add",
                        Self::rxe_name(nic).as_str(),
                        "type",
                        "rxe",
                        "netdev",
                        nic.as_str(),
                    ]))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Puts a knob back to the recorded original text.
    fn restore_knob(&self, e: &Entry) -> Result<(), String> {
        match &e.knob {
            Knob::File(f) => {
                let now = self.tree.read(f).map_err(|x| format!("{f}: {x}"))?;
                if now == e.original {
                    return Ok(());
                }
                self.tree
                    .write(f, &e.original)
                    .map_err(|x| format!("{f}: {x}"))
            }
            Knob::Qdisc(nic) => {
                let now = self.read_knob(&e.knob)?;
                if now == e.original {
                    return Ok(());
                }
                // The original was the kernel's default (the only kind
                // replaced): deleting the root qdisc brings it back.
                self.runner
                    .run(&Cmd::new("tc").args(["qdisc", "del", "dev", nic.as_str(), "root"]))
                    .map_err(|x| x.to_string())?;
                let back = self.read_knob(&e.knob)?;
                if back != e.original {
                    return Err(format!(
                        "root qdisc of {nic} is '{}' after the restore, was '{}'",
                        norm(&back),
                        norm(&e.original)
                    ));
                }
                Ok(())
            }
            Knob::Rxe(nic) => {
                if e.original != "absent" {
                    return Ok(());
                }
                let Some(dev) = self.rxe_on(nic) else {
                    return Ok(());
                };
                if dev != Self::rxe_name(nic) {
                    // Not the link this agent created: left alone.
                    return Ok(());
                }
                self.runner
                    .run(&Cmd::new("rdma").args(["link", "delete", dev.as_str()]))
                    .map(|_| ())
                    .map_err(|x| x.to_string())
            }
        }
    }

    /// Applies the tuning (start). Returns the warnings; never fails.
    /// `live`: why the replication link must not be touched now, if so.
    pub fn apply(&self, live: Option<String>, limit: Duration) -> Vec<String> {
        let mut warn = Vec::new();
        let wants = self.wants(&mut warn);
        if wants.is_empty() {
            return warn;
        }
        let _lock = match self.lock(limit) {
            Ok(l) => l,
            Err(e) => {
                warn.push(format!("tuning not applied: {e}"));
                return warn;
            }
        };
        let (mut rec, why) = self.load();
        if let Some(w) = why {
            log::info!("{w}");
            if let Err(e) = self.save(&rec) {
                warn.push(e);
            }
        }
        for w in wants {
            if let Some(e) = rec.entries.get_mut(&w.key) {
                let others: Vec<&String> = e.users.iter().filter(|u| *u != self.user).collect();
                if !others.is_empty() && e.wanted != w.wanted {
                    warn.push(format!(
                        "{}: {} wants '{}', this resource '{}': conflict, left at '{}'",
                        w.what,
                        others
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        e.wanted,
                        w.wanted,
                        e.applied
                    ));
                    continue;
                }
                if !e.users.iter().any(|u| u == self.user) {
                    e.users.push(self.user.to_string());
                }
                let now = self.read_knob(&w.knob).map(|t| Self::current(&w.knob, &t));
                let differs =
                    e.wanted != w.wanted || now.as_deref().ok() != Some(e.applied.as_str());
                if differs {
                    if w.live_link && live.is_some() {
                        warn.push(format!(
                            "{} is '{}', expected '{}': not changed, {}",
                            w.what,
                            now.unwrap_or_default(),
                            w.wanted,
                            live.as_deref().unwrap_or_default()
                        ));
                    } else {
                        match self.set_knob(&w.knob, &w.wanted) {
                            Ok(()) => {
                                e.wanted = w.wanted.clone();
                                if let Ok(t) = self.read_knob(&w.knob) {
                                    e.applied = Self::current(&w.knob, &t);
                                }
                            }
                            Err(x) => warn.push(format!("{}: {x}", w.what)),
                        }
                    }
                }
                if let Err(x) = self.save(&rec) {
                    warn.push(x);
                }
                continue;
            }
            if w.live_link {
                if let Some(why) = &live {
                    warn.push(format!("{} not changed: {why}", w.what));
                    continue;
                }
            }
            let original = match self.read_knob(&w.knob) {
                Ok(t) => t,
                Err(x) => {
                    warn.push(format!("{} not applied: {x}", w.what));
                    continue;
                }
            };
            if let Knob::Qdisc(nic) = &w.knob {
                match root_qdisc(&original) {
                    Some((_, true)) => {}
                    Some((kind, false)) => {
                        warn.push(format!(
                            "root qdisc of {nic} ({kind}) was configured by someone else: \
                             not replaced"
                        ));
                        continue;
                    }
                    None => {
                        warn.push(format!("no root qdisc shown for {nic}: not replaced"));
                        continue;
                    }
                }
            }
            let current = Self::current(&w.knob, &original);
            rec.entries.insert(
                w.key.clone(),
                Entry {
                    knob: w.knob.clone(),
                    what: w.what.clone(),
                    original: original.clone(),
                    wanted: w.wanted.clone(),
                    applied: current.clone(),
                    users: vec![self.user.to_string()],
                },
            );
            // Write-ahead: the original is on disk before the knob changes.
            if let Err(x) = self.save(&rec) {
                rec.entries.remove(&w.key);
                warn.push(format!("{} not applied: {x}", w.what));
                continue;
            }
            if current == w.wanted {
                continue;
            }
            match self.set_knob(&w.knob, &w.wanted) {
                Ok(()) => {
                    // sysfs shows a new RDMA link a moment later; the
                    // command's success is what counts.
                    let after = match w.knob {
                        Knob::Rxe(_) => w.wanted.clone(),
                        _ => self
                            .read_knob(&w.knob)
                            .map(|t| Self::current(&w.knob, &t))
                            .unwrap_or_else(|_| w.wanted.clone()),
                    };
                    if let Some(e) = rec.entries.get_mut(&w.key) {
                        e.applied = after;
                    }
                    log::info!("{}: {} -> {}", w.what, current, w.wanted);
                }
                Err(x) => {
                    warn.push(format!("{} not applied: {x}", w.what));
                    // A failed write may still have changed it: keep the
                    // entry if the value moved, so that stop restores it.
                    let moved = self
                        .read_knob(&w.knob)
                        .map(|t| t != original)
                        .unwrap_or(false);
                    if !moved {
                        rec.entries.remove(&w.key);
                    }
                }
            }
            if let Err(x) = self.save(&rec) {
                warn.push(x);
            }
        }
        warn
    }

    /// Restores every knob this resource was the last user of (stop).
    /// Returns the warnings; never fails.
    pub fn restore(&self, limit: Duration) -> Vec<String> {
        let mut warn = Vec::new();
        if !self.record.exists() {
            return warn;
        }
        let _lock = match self.lock(limit) {
            Ok(l) => l,
            Err(e) => {
                warn.push(format!("tuning not restored: {e}"));
                return warn;
            }
        };
        let (mut rec, why) = self.load();
        if let Some(w) = why {
            log::info!("{w}");
            if let Err(e) = self.save(&rec) {
                warn.push(e);
            }
            return warn;
        }
        let keys: Vec<String> = rec.entries.keys().cloned().collect();
        for k in keys {
            let Some(e) = rec.entries.get_mut(&k) else {
                continue;
            };
            let mine = e.users.iter().any(|u| u == self.user);
            if !mine && !e.users.is_empty() {
                continue;
            }
            e.users.retain(|u| u != self.user);
            if !e.users.is_empty() {
                log::info!("{}: still used by {}", e.what, e.users.join(", "));
                continue;
            }
            let e = e.clone();
            match self.restore_knob(&e) {
                Ok(()) => {
                    log::info!("{} restored to '{}'", e.what, norm(&e.original));
                    rec.entries.remove(&k);
                }
                // Kept without users: the next stop on this node retries.
                Err(x) => warn.push(format!("{} not restored: {x}", e.what)),
            }
        }
        if let Err(x) = self.save(&rec) {
            warn.push(x);
        }
        warn
    }

    /// What differs from what was applied (monitor). `programs`: also check
    /// the knobs only a program shows (the qdisc).
    pub fn verify(&self, programs: bool) -> (Vec<Drift>, Vec<Entry>) {
        let (rec, _) = self.load();
        let mut drift = Vec::new();
        let mut mine = Vec::new();
        for (k, e) in &rec.entries {
            if !e.users.iter().any(|u| u == self.user) {
                continue;
            }
            mine.push(e.clone());
            if matches!(e.knob, Knob::Qdisc(_)) && !programs {
                continue;
            }
            let now = self
                .read_knob(&e.knob)
                .map(|t| Self::current(&e.knob, &t))
                .unwrap_or_else(|x| format!("unreadable: {x}"));
            if now != e.applied {
                drift.push(Drift {
                    what: e.what.clone(),
                    key: k.clone(),
                    expected: e.applied.clone(),
                    now,
                });
            }
        }
        (drift, mine)
    }

    /// Configuration conflicts with the knobs other resources hold on this
    /// host (validate-all).
    pub fn conflicts(&self) -> Vec<String> {
        let mut warn = Vec::new();
        let wants = self.wants(&mut warn);
        let (rec, _) = self.load();
        let mut out = Vec::new();
        for w in wants {
            if let Some(e) = rec.entries.get(&w.key) {
                let others: Vec<&str> = e
                    .users
                    .iter()
                    .filter(|u| *u != self.user)
                    .map(String::as_str)
                    .collect();
                if !others.is_empty() && e.wanted != w.wanted {
                    out.push(format!(
                        "{}: DRBD resource {} uses '{}', this one asks '{}'",
                        w.what,
                        others.join(", "),
                        e.wanted,
                        w.wanted
                    ));
                }
            }
        }
        out
    }
}

/// The root qdisc's kind and whether it is the kernel's default (handle
/// `0:`), from `tc qdisc show dev NIC`.
pub fn root_qdisc(text: &str) -> Option<(String, bool)> {
    text.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        (w.first() == Some(&"qdisc") && w.get(3) == Some(&"root"))
            .then(|| (w.get(1).unwrap_or(&"").to_string(), w.get(2) == Some(&"0:")))
    })
}

/// A DRBD option's value in bytes or plain units: `2M` -> 2097152.
fn drbd_number(v: &str) -> Option<u64> {
    let v = v.trim().trim_end_matches(';').trim_matches('"');
    let (digits, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1024),
        'm' | 'M' => (&v[..v.len() - 1], 1024 * 1024),
        'g' | 'G' => (&v[..v.len() - 1], 1024 * 1024 * 1024),
        's' => (&v[..v.len() - 1], 1),
        _ => (v, 1),
    };
    digits.parse::<u64>().ok().map(|n| n * mult)
}

/// The options of `drbdsetup show RES` that differ from `want`. An option
/// the output does not list is not judged: drbdsetup omits values equal to
/// DRBD's default.
pub fn drbd_show_drift(show: &str, want: &[&(&str, String)]) -> Vec<Drift> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for l in show.lines() {
        let mut w = l.split_whitespace();
        if let (Some(k), Some(v)) = (w.next(), w.next()) {
            if v.ends_with(';') {
                seen.insert(k.to_string(), v.trim_end_matches(';').to_string());
            }
        }
    }
    want.iter()
        .filter_map(|(k, v)| {
            let now = seen.get(*k)?;
            (drbd_number(now) != drbd_number(v)).then(|| Drift {
                what: format!("DRBD {k}"),
                key: format!("drbd:{k}"),
                expected: v.clone(),
                now: now.clone(),
            })
        })
        .collect()
}

/// `attrd_updater -Q -A -n NAME`: (host, value) of every node.
pub fn parse_attrd_all(text: &str) -> Vec<(String, String)> {
    let field = |l: &str, k: &str| -> Option<String> {
        let start = l.find(&format!("{k}=\""))? + k.len() + 2;
        let end = l[start..].find('"')? + start;
        Some(l[start..end].to_string())
    };
    text.lines()
        .filter_map(|l| Some((field(l, "host")?, field(l, "value").unwrap_or_default())))
        .collect()
}

/// DRBD options that lose data under a volatile (write-back) cache, from
/// `drbdadm dump`.
pub fn unsafe_flush_options(dump: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for l in dump.lines() {
        let t = norm(l.trim().trim_end_matches(';'));
        for (pat, name) in [
            ("disk-flushes no", "disk-flushes no"),
            ("md-flushes no", "md-flushes no"),
            ("no-disk-flushes", "disk-flushes no"),
            ("no-md-flushes", "md-flushes no"),
        ] {
            if t == pat && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Whether a block device (by path) has a volatile write cache, from
/// sysfs below the tree.
pub fn write_back_cache(tree: &Tree, dev: &str) -> Option<bool> {
    let real = std::fs::canonicalize(dev).ok()?;
    let name = real.file_name()?.to_str()?.to_string();
    let mode = tree
        .read(&format!("/sys/class/block/{name}/queue/write_cache"))
        .ok()?;
    Some(mode.trim() == "write back")
}

#[cfg(test)]
#[path = "tune_tests.rs"]
mod tests;
