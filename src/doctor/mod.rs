// SPDX-License-Identifier: GPL-2.0-or-later
//! `storha doctor`: is this node ready to join the stack? Each check says
//! ok, warn or fail, what is wrong in words, and the command or edit that
//! fixes it. Nothing is changed: every read is bounded and read-only (the
//! cache device's superblock is read, never written).
//!
//! `gather` asks the host (through the command runner, and a few files);
//! `judge` turns what it found into checks, and is what the unit tests run.

pub mod parse;

use crate::agents::writeboost_cache::dm;
use crate::agents::writeboost_cache::host::{Host, System};
use crate::cluster;
use crate::cmd::{Cmd, CmdError, Output, Runner};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// The kernel modules the stack loads: (module, what needs it, how to get it).
const MODULES: [(&str, &str, &str); 4] = [
    (
        "drbd",
        "drbd-tuned",
        "install the kernel's modules (apt install linux-image-$(uname -r)), or LINBIT's \
         drbd-dkms for DRBD 9",
    ),
    (
        "dm_writeboost",
        "writeboost-cache",
        "apt install dm-writeboost-dkms (or build dm-writeboost for this kernel)",
    ),
    (
        "nfsd",
        "nfs-export",
        "install the kernel's modules (apt install linux-image-$(uname -r))",
    ),
    (
        "dm_mod",
        "writeboost-cache",
        "install the kernel's modules (apt install linux-image-$(uname -r))",
    ),
];

/// Units Pacemaker starts and stops: enabled at boot they race it.
const UNITS: [(&str, &str); 2] = [
    ("drbd.service", "drbd-tuned"),
    ("nfs-server.service", "nfs-export"),
];

/// The NFS server's tools nfs-export runs.
const NFS_TOOLS: [&str; 3] = ["exportfs", "rpc.nfsd", "rpc.mountd"];

const CIB_FILE: &str = "/var/lib/pacemaker/cib/cib.xml";
const COROSYNC_CONF: &str = "/etc/corosync/corosync.conf";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What is checked, e.g. `module drbd`, `service drbd.service`.
    pub check: String,
    pub status: Level,
    /// What was found, in words.
    pub detail: String,
    /// What to do about it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub node: String,
    pub checks: Vec<Check>,
    pub failed: usize,
    pub warned: usize,
}

/// A command's answer: its output whatever its exit status, or why it did
/// not run (not installed, timed out, ...).
pub type Answer = Result<Output, CmdError>;

/// What a cache device's first block showed, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    Writeboost,
    Drained,
    Zeroes,
    Other,
    Unreadable(String),
}

/// A writeboost-cache resource of the CIB and its cache device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    pub resource: String,
    pub cache_dev: String,
    pub format: String,
    pub head: Head,
}

/// Everything doctor judges, as read.
#[derive(Debug)]
pub struct Inputs {
    /// `uname -n`.
    pub uname: String,
    pub kernel: String,
    /// (module, loaded now, `modinfo -F filename MODULE`).
    pub modules: Vec<(String, bool, Option<Answer>)>,
    pub drbdadm_version: Answer,
    pub corosync_version: Answer,
    pub pacemaker_version: Answer,
    /// (tool, found on PATH).
    pub nfs_tools: Vec<(String, bool)>,
    /// `drbdadm sh-nop`, then `drbdadm dump all`.
    pub drbd_nop: Answer,
    pub drbd_dump: Option<Answer>,
    pub corosync_conf: Result<String, String>,
    /// `crm_node -n`.
    pub crm_node: Answer,
    /// (unit, `systemctl is-enabled UNIT`).
    pub units: Vec<(String, Answer)>,
    /// `corosync-cfgtool -s`.
    pub cfgtool: Answer,
    /// `timedatectl show`.
    pub timedatectl: Answer,
    /// The CIB (from cibadmin, or the file when Pacemaker is not running).
    pub cib: Result<String, String>,
    pub caches: Vec<Cache>,
    /// (fence device id, `fence_ipstrip` action=monitor with its options).
    pub strips: Vec<(String, Answer)>,
}

fn quick(program: &str, args: &[&str], secs: u64) -> Cmd {
    Cmd::new(program)
        .args(args.iter().copied())
        .timeout(Duration::from_secs(secs))
}

/// Reads what `judge` needs. Every command is bounded; nothing is written.
pub fn gather(runner: &dyn Runner) -> Inputs {
    let uts = nix::sys::utsname::uname().ok();
    let uname = uts
        .as_ref()
        .map(|u| u.nodename().to_string_lossy().into_owned())
        .unwrap_or_default();
    let kernel = uts
        .as_ref()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let modules = MODULES
        .iter()
        .map(|(m, _, _)| {
            let loaded = std::path::Path::new(&format!("/sys/module/{m}")).exists();
            let info =
                (!loaded).then(|| runner.output(&quick("modinfo", &["-F", "filename", m], 10)));
            (m.to_string(), loaded, info)
        })
        .collect();
    let drbd_nop = runner.output(&quick("drbdadm", &["sh-nop"], 15));
    let drbd_dump = matches!(drbd_nop, Ok(ref o) if o.status == 0)
        .then(|| runner.output(&quick("drbdadm", &["dump", "all"], 15)));
    let cib = match runner.run(&quick("cibadmin", &["--query", "--scope", "resources"], 20)) {
        Ok(o) => Ok(o.stdout),
        Err(e) => {
            std::fs::read_to_string(CIB_FILE).map_err(|f| format!("{e}; and {CIB_FILE}: {f}"))
        }
    };
    let caches = cib
        .as_ref()
        .ok()
        .and_then(|x| cluster::cib_primitives(x, "writeboost-cache").ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(id, params)| {
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let cache_dev = get("cache_dev");
            let head = read_head(&cache_dev);
            Cache {
                resource: id,
                format: Some(get("format"))
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| "never".into()),
                cache_dev,
                head,
            }
        })
        .collect();
    let strips = cib
        .as_ref()
        .ok()
        .and_then(|x| cluster::cib_fence_devices(x, "fence_ipstrip").ok())
        .unwrap_or_default()
        .into_iter()
        .map(|(id, params)| {
            let mut input = String::from("action=monitor\n");
            for (k, v) in params.iter().filter(|(k, _)| !k.starts_with("pcmk_")) {
                let _ = writeln!(input, "{k}={v}");
            }
            let cmd = quick("fence_ipstrip", &[], 20).stdin(input);
            (id, runner.output(&cmd))
        })
        .collect();
    Inputs {
        uname,
        kernel,
        modules,
        drbdadm_version: runner.output(&quick("drbdadm", &["--version"], 10)),
        corosync_version: runner.output(&quick("corosync", &["-v"], 10)),
        pacemaker_version: runner.output(&quick("pacemakerd", &["--version"], 10)),
        nfs_tools: NFS_TOOLS
            .iter()
            .map(|t| (t.to_string(), on_path(t)))
            .collect(),
        drbd_nop,
        drbd_dump,
        corosync_conf: std::fs::read_to_string(COROSYNC_CONF)
            .map_err(|e| format!("{COROSYNC_CONF}: {e}")),
        crm_node: runner.output(&quick("crm_node", &["-n"], 10)),
        units: UNITS
            .iter()
            .map(|(u, _)| {
                (
                    u.to_string(),
                    runner.output(&quick("systemctl", &["is-enabled", u], 10)),
                )
            })
            .collect(),
        cfgtool: runner.output(&quick("corosync-cfgtool", &["-s"], 10)),
        timedatectl: runner.output(&quick("timedatectl", &["show"], 10)),
        cib,
        caches,
        strips,
    }
}

/// Whether `tool` is an executable file in a directory of PATH (or of
/// the sbin directories, where root finds the NFS tools).
fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .filter(|d| !d.is_empty())
        .any(|d| {
            std::fs::metadata(std::path::Path::new(d).join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    found
}

/// The first block of a cache device, read-only, past the page cache.
fn read_head(path: &str) -> Head {
    if path.is_empty() {
        return Head::Unreadable("the resource has no cache_dev".into());
    }
    let host = System;
    let dev = match host.block_dev("cache_dev", path) {
        Ok(d) => d,
        Err(e) => return Head::Unreadable(e.to_string()),
    };
    match host.read_head(&dev) {
        Ok(b) if dm::has_magic(&b) => Head::Writeboost,
        Ok(b) if dm::is_drained(&b) => Head::Drained,
        Ok(b) if b.iter().all(|&c| c == 0) => Head::Zeroes,
        Ok(_) => Head::Other,
        Err(e) => Head::Unreadable(e.to_string()),
    }
}

fn ok(check: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        status: Level::Ok,
        detail: detail.into(),
        fix: None,
    }
}

fn bad(
    level: Level,
    check: impl Into<String>,
    detail: impl Into<String>,
    fix: impl Into<String>,
) -> Check {
    Check {
        check: check.into(),
        status: level,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

/// The last non-empty line of a failed command's output, for the detail.
fn last_line(o: &Output) -> String {
    let text = if o.stderr.trim().is_empty() {
        &o.stdout
    } else {
        &o.stderr
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A version answer: Ok(stdout) when the tool ran and said something.
fn version_text(a: &Answer) -> Result<&str, String> {
    match a {
        Ok(o) if o.status == 0 => Ok(&o.stdout),
        Ok(o) => Err(format!("exit {}: {}", o.status, last_line(o))),
        Err(e) => Err(e.to_string()),
    }
}

/// Judges what was read.
pub fn judge(inp: &Inputs) -> Report {
    let mut c = Vec::new();
    modules(inp, &mut c);
    tools(inp, &mut c);
    drbd_config(inp, &mut c);
    names(inp, &mut c);
    units(inp, &mut c);
    rings(inp, &mut c);
    time_sync(inp, &mut c);
    caches(inp, &mut c);
    strips(inp, &mut c);
    Report {
        node: inp.uname.clone(),
        failed: c.iter().filter(|x| x.status == Level::Fail).count(),
        warned: c.iter().filter(|x| x.status == Level::Warn).count(),
        checks: c,
    }
}

fn modules(inp: &Inputs, c: &mut Vec<Check>) {
    for (m, loaded, info) in &inp.modules {
        let (_, user, fix) = MODULES
            .iter()
            .find(|(n, _, _)| n == m)
            .copied()
            .unwrap_or(("", "", ""));
        let name = format!("module {m}");
        match (loaded, info) {
            (true, _) => c.push(ok(name, "loaded")),
            (false, Some(Ok(o))) if o.status == 0 => c.push(ok(
                name,
                format!(
                    "available ({}), not loaded: {user} loads it",
                    o.stdout.trim()
                ),
            )),
            (false, Some(Ok(_))) | (false, None) => c.push(bad(
                Level::Fail,
                name,
                format!(
                    "kernel {} has no {m} module: {user} cannot start here",
                    inp.kernel
                ),
                fix,
            )),
            (false, Some(Err(e))) => c.push(bad(
                Level::Fail,
                name,
                format!("cannot ask modinfo: {e}"),
                "apt install kmod",
            )),
        }
    }
}

fn tools(inp: &Inputs, c: &mut Vec<Check>) {
    match version_text(&inp.drbdadm_version) {
        Ok(t) => {
            let (utils, kernel) = parse::drbdadm_version(t);
            c.push(ok(
                "tool drbdadm",
                format!(
                    "drbd-utils {}{}",
                    utils.as_deref().unwrap_or("(version not said)"),
                    kernel
                        .map(|k| format!(", kernel module {k}"))
                        .unwrap_or_default()
                ),
            ));
        }
        Err(e) => c.push(bad(
            Level::Fail,
            "tool drbdadm",
            format!("drbdadm does not answer: {e}"),
            "apt install drbd-utils",
        )),
    }
    match version_text(&inp.corosync_version) {
        Ok(t) => match parse::corosync_version(t) {
            Some(v) if parse::major(&v).is_some_and(|m| m >= 3) => {
                c.push(ok("tool corosync", format!("Corosync {v}")))
            }
            Some(v) => c.push(bad(
                Level::Warn,
                "tool corosync",
                format!("Corosync {v}: storha is tested with Corosync 3 (knet)"),
                "upgrade to Corosync 3 (Debian 11 or newer: apt install corosync)",
            )),
            None => c.push(ok("tool corosync", "Corosync (version not said)")),
        },
        Err(e) => c.push(bad(
            Level::Fail,
            "tool corosync",
            format!("corosync does not answer: {e}"),
            "apt install corosync",
        )),
    }
    match version_text(&inp.pacemaker_version) {
        Ok(t) => match parse::pacemaker_version(t) {
            Some(v) if parse::major(&v).is_some_and(|m| m >= 2) => {
                c.push(ok("tool pacemaker", format!("Pacemaker {v}")))
            }
            Some(v) => c.push(bad(
                Level::Warn,
                "tool pacemaker",
                format!("Pacemaker {v}: storha needs Pacemaker 2 or newer"),
                "upgrade Pacemaker (apt install pacemaker pacemaker-cli-utils)",
            )),
            None => c.push(ok("tool pacemaker", "Pacemaker (version not said)")),
        },
        Err(e) => c.push(bad(
            Level::Fail,
            "tool pacemaker",
            format!("pacemakerd does not answer: {e}"),
            "apt install pacemaker pacemaker-cli-utils",
        )),
    }
    let missing: Vec<&str> = inp
        .nfs_tools
        .iter()
        .filter(|(_, found)| !found)
        .map(|(t, _)| t.as_str())
        .collect();
    if missing.is_empty() {
        c.push(ok("tool nfs", format!("{} found", NFS_TOOLS.join(", "))));
    } else {
        c.push(bad(
            Level::Fail,
            "tool nfs",
            format!(
                "not found: {}: nfs-export cannot run here",
                missing.join(", ")
            ),
            "apt install nfs-kernel-server",
        ));
    }
}

fn drbd_config(inp: &Inputs, c: &mut Vec<Check>) {
    match &inp.drbd_nop {
        Err(CmdError::NotFound { .. }) => {} // said under "tool drbdadm"
        Err(e) => c.push(bad(
            Level::Fail,
            "drbd config",
            format!("drbdadm sh-nop: {e}"),
            "check /etc/drbd.conf and /etc/drbd.d/ (drbdadm dump all)",
        )),
        Ok(o) if o.status != 0 => c.push(bad(
            Level::Fail,
            "drbd config",
            format!("the DRBD configuration does not parse: {}", last_line(o)),
            "correct the file and line drbdadm names (under /etc/drbd.d/), then run \
             drbdadm sh-nop until it says nothing",
        )),
        Ok(_) => {
            let res = drbd_resources(inp);
            if res.is_empty() {
                c.push(bad(
                    Level::Warn,
                    "drbd config",
                    "parses, but defines no resource",
                    "add the stack's resource under /etc/drbd.d/ on every node \
                     (crm-examples/drbd/ has one)",
                ));
            } else {
                let names: Vec<&str> = res.iter().map(|r| r.name.as_str()).collect();
                c.push(ok(
                    "drbd config",
                    format!("parses: resource(s) {}", names.join(", ")),
                ));
            }
        }
    }
}

fn drbd_resources(inp: &Inputs) -> Vec<parse::DrbdResource> {
    match &inp.drbd_dump {
        Some(Ok(o)) if o.status == 0 => parse::drbd_dump(&o.stdout),
        _ => Vec::new(),
    }
}

fn names(inp: &Inputs, c: &mut Vec<Check>) {
    let me = &inp.uname;
    // Pacemaker's name for this node.
    match &inp.crm_node {
        Ok(o) if o.status == 0 && !o.stdout.trim().is_empty() => {
            let pcmk = o.stdout.trim();
            if pcmk == me {
                c.push(ok(
                    "name pacemaker",
                    format!("crm_node -n says {pcmk}, as uname"),
                ));
            } else {
                c.push(bad(
                    Level::Fail,
                    "name pacemaker",
                    format!(
                        "Pacemaker calls this node {pcmk} but uname -n says {me}: DRBD and the \
                         agents look for {me}"
                    ),
                    format!(
                        "make them agree: hostnamectl set-hostname {pcmk}, or name: {me} for \
                         this node in {COROSYNC_CONF}'s nodelist (then restart corosync)"
                    ),
                ));
            }
        }
        Ok(o) => c.push(bad(
            Level::Warn,
            "name pacemaker",
            format!("crm_node -n does not answer: {}", last_line(o)),
            "start the cluster (systemctl start corosync pacemaker) and run doctor again",
        )),
        Err(e) => c.push(bad(
            Level::Warn,
            "name pacemaker",
            format!("crm_node -n: {e}"),
            "apt install pacemaker-cli-utils",
        )),
    }
    // Corosync's nodelist.
    let corosync = match &inp.corosync_conf {
        Ok(text) => {
            let list = parse::corosync_nodelist(text);
            if list.iter().any(|n| n == me) {
                c.push(ok(
                    "name corosync",
                    format!("{me} is in the nodelist ({})", list.join(", ")),
                ));
            } else if list.is_empty() {
                c.push(bad(
                    Level::Fail,
                    "name corosync",
                    format!("{COROSYNC_CONF} has no nodelist"),
                    format!(
                        "add a nodelist with one node {{ name: ...; ring0_addr: ...; nodeid: ... }} \
                         per node, {me} among them, the same file on every node"
                    ),
                ));
            } else {
                c.push(bad(
                    Level::Fail,
                    "name corosync",
                    format!(
                        "{me} is not in {COROSYNC_CONF}'s nodelist ({})",
                        list.join(", ")
                    ),
                    format!(
                        "set name: {me} in this node's node {{ }} entry of the nodelist (or \
                         rename the host to its entry's name), on every node"
                    ),
                ));
            }
            list
        }
        Err(e) => {
            c.push(bad(
                Level::Fail,
                "name corosync",
                format!("cannot read it: {e}"),
                "apt install corosync, and write /etc/corosync/corosync.conf (the same on \
                 every node)",
            ));
            Vec::new()
        }
    };
    // DRBD's on-sections.
    for r in drbd_resources(inp) {
        let check = format!("name drbd {}", r.name);
        let at = r
            .defined_at
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        if r.ignored || !r.hosts.iter().any(|h| h == me) {
            c.push(bad(
                Level::Fail,
                check,
                format!(
                    "no `on {me}` section in resource {}{at}: its sections name {}, so drbdadm \
                     ignores it on this node",
                    r.name,
                    r.hosts.join(", ")
                ),
                format!(
                    "rename this node's section to `on {me} {{` in {}, the same on every node",
                    r.defined_at
                        .as_deref()
                        .and_then(|a| a.rsplit_once(':').map(|(f, _)| f))
                        .unwrap_or("/etc/drbd.d/")
                ),
            ));
            continue;
        }
        let strangers: Vec<&str> = r
            .hosts
            .iter()
            .filter(|h| !corosync.is_empty() && !corosync.contains(h))
            .map(String::as_str)
            .collect();
        if strangers.is_empty() {
            c.push(ok(check, format!("on-sections {}", r.hosts.join(", "))));
        } else {
            c.push(bad(
                Level::Fail,
                check,
                format!(
                    "resource {}{at} names host(s) {} that corosync does not know ({})",
                    r.name,
                    strangers.join(", "),
                    corosync.join(", ")
                ),
                "use the cluster's node names (uname -n of each node) in the on-sections",
            ));
        }
    }
}

fn units(inp: &Inputs, c: &mut Vec<Check>) {
    for (unit, ans) in &inp.units {
        let user = UNITS
            .iter()
            .find(|(u, _)| u == unit)
            .map(|(_, a)| *a)
            .unwrap_or("");
        let check = format!("service {unit}");
        let state = match ans {
            Ok(o) => o.stdout.trim().to_string(),
            Err(e) => {
                c.push(bad(
                    Level::Warn,
                    check,
                    format!("systemctl: {e}"),
                    "run doctor on a systemd host",
                ));
                continue;
            }
        };
        match state.as_str() {
            "enabled" | "enabled-runtime" | "alias" | "linked" | "linked-runtime" => c.push(bad(
                Level::Fail,
                check,
                format!(
                    "{unit} is {state} at boot: it would start before Pacemaker, which \
                         owns it through {user}"
                ),
                format!("systemctl disable {unit}"),
            )),
            "" => c.push(ok(check, "not installed")),
            other => c.push(ok(check, format!("{other} at boot (Pacemaker starts it)"))),
        }
    }
}

fn rings(inp: &Inputs, c: &mut Vec<Check>) {
    match &inp.cfgtool {
        Ok(o) if o.status == 0 => {
            let links = parse::cfgtool_links(&o.stdout);
            if links.is_empty() {
                c.push(bad(
                    Level::Warn,
                    "corosync rings",
                    "corosync-cfgtool -s shows no link",
                    "check the nodelist's ring0_addr entries in /etc/corosync/corosync.conf",
                ));
            }
            for l in links {
                let check = format!("corosync link {}", l.id);
                let down: Vec<String> = l
                    .peers
                    .iter()
                    .filter(|(_, s)| s != "connected")
                    .map(|(id, s)| format!("node {id} {s}"))
                    .collect();
                if down.is_empty() {
                    c.push(ok(
                        check,
                        format!("{}: {} peer(s) connected", l.addr, l.peers.len()),
                    ));
                } else {
                    c.push(bad(
                        Level::Fail,
                        check,
                        format!("{}: {}", l.addr, down.join(", ")),
                        "check the network between the nodes on this link (firewall: UDP 5405) \
                         and that corosync runs on every node",
                    ));
                }
            }
        }
        Ok(o) => c.push(bad(
            Level::Fail,
            "corosync rings",
            format!("corosync is not running here: {}", last_line(o)),
            "systemctl start corosync pacemaker",
        )),
        Err(e) => c.push(bad(
            Level::Fail,
            "corosync rings",
            format!("corosync-cfgtool: {e}"),
            "apt install corosync",
        )),
    }
}

fn time_sync(inp: &Inputs, c: &mut Vec<Check>) {
    let fix = "run an NTP client pointed at your time servers: apt install chrony \
               (or systemd-timesyncd), then timedatectl set-ntp true";
    match &inp.timedatectl {
        Ok(o) if o.status == 0 => match parse::timedatectl(&o.stdout) {
            (_, Some(true)) => c.push(ok("time sync", "the clock is NTP-synchronized")),
            (ntp, _) => c.push(bad(
                Level::Warn,
                "time sync",
                format!(
                    "the clock is not synchronized{}: logs of the nodes cannot be lined up and \
                     certificates or Kerberos may fail",
                    if ntp == Some(false) {
                        " (no NTP service)"
                    } else {
                        ""
                    }
                ),
                fix,
            )),
        },
        Ok(o) => c.push(bad(
            Level::Warn,
            "time sync",
            format!("timedatectl: {}", last_line(o)),
            fix,
        )),
        Err(e) => c.push(bad(
            Level::Warn,
            "time sync",
            format!("timedatectl: {e}"),
            fix,
        )),
    }
}

fn caches(inp: &Inputs, c: &mut Vec<Check>) {
    if let Err(e) = &inp.cib {
        c.push(bad(
            Level::Warn,
            "cache superblock",
            format!("cannot read the CIB: {e}"),
            "run doctor again once Pacemaker runs here",
        ));
        return;
    }
    if inp.caches.is_empty() {
        c.push(ok(
            "cache superblock",
            "no writeboost-cache resource configured",
        ));
    }
    for k in &inp.caches {
        let check = format!("cache {}", k.resource);
        let dev = &k.cache_dev;
        match &k.head {
            Head::Writeboost => c.push(ok(
                check,
                format!("{dev} holds a dm-writeboost superblock: start resumes the cache"),
            )),
            Head::Drained => c.push(ok(
                check,
                format!("{dev} was drained clean by the last stop: start formats it anew"),
            )),
            Head::Zeroes if k.format == "never" => c.push(bad(
                Level::Fail,
                check,
                format!(
                    "{dev} has no dm-writeboost superblock and format=never: start will refuse"
                ),
                format!(
                    "if {dev} is the new, empty cache device: crm resource param {} set format \
                     if-unformatted (once)",
                    k.resource
                ),
            )),
            Head::Zeroes => c.push(bad(
                Level::Warn,
                check,
                format!(
                    "{dev} has no dm-writeboost superblock: start will format it (format={})",
                    k.format
                ),
                format!("make sure {dev} is the cache device and holds nothing you need"),
            )),
            Head::Other => c.push(bad(
                Level::Fail,
                check,
                format!(
                    "{dev} holds data that is not a dm-writeboost cache (its first block is \
                     neither a superblock nor zeroes): is cache_dev the right device?"
                ),
                format!(
                    "check the path (lsblk -f {dev}; blkid {dev}); only once sure that nothing \
                     on it is needed: wipefs -a {dev}"
                ),
            )),
            Head::Unreadable(e) => c.push(bad(
                Level::Fail,
                check,
                format!("cannot read the cache device: {e}"),
                format!(
                    "check that {dev} exists on this node (ls -l {dev}) and run doctor as root"
                ),
            )),
        }
    }
}

fn strips(inp: &Inputs, c: &mut Vec<Check>) {
    if inp.cib.is_err() {
        return; // said under "cache superblock"
    }
    if inp.strips.is_empty() {
        c.push(bad(
            Level::Warn,
            "power strips",
            "no fence_ipstrip device in the CIB: not checked",
            "configure the strips' fence devices (crm-examples/fence_ipstrip.crm)",
        ));
    }
    for (id, ans) in &inp.strips {
        let check = format!("strip {id}");
        match ans {
            Ok(o) if o.status == 0 => c.push(ok(check, "answers (fence_ipstrip monitor)")),
            Ok(o) => c.push(bad(
                Level::Fail,
                check,
                format!("does not answer: {}", last_line(o)),
                format!(
                    "check the strip is powered and reachable from this node, and its \
                     address and credentials (crm configure show {id}); try: stonith_admin \
                     --query {id}"
                ),
            )),
            Err(e) => c.push(bad(
                Level::Fail,
                check,
                format!("fence_ipstrip: {e}"),
                "install storha's package on this node (it ships /usr/sbin/fence_ipstrip)",
            )),
        }
    }
}

/// The report as a person reads it: one line per check, the fix under it.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "node {}", r.node);
    for k in &r.checks {
        let tag = match k.status {
            Level::Ok => "ok  ",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        let _ = writeln!(s, "{tag}  {:<22} {}", k.check, k.detail);
        if let Some(f) = &k.fix {
            let _ = writeln!(s, "      {:<22} fix: {f}", "");
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        match (r.failed, r.warned) {
            (0, 0) => "ready: every check passed".to_string(),
            (0, w) => format!("ready, with {w} warning(s)"),
            (f, w) => format!("NOT ready: {f} check(s) failed, {w} warning(s)"),
        }
    );
    s
}

#[cfg(test)]
mod tests;
