// SPDX-License-Identifier: GPL-2.0-or-later
//! nfs-export: the NFS service of the Primary, its exports and (by
//! default) the server behind them, in one agent that fails over cleanly.
//!
//! Changes go through the command runner (`exportfs`, `rpc.nfsd`, the
//! daemons, `mount`), where they are logged and bounded by the deadline.
//! Monitor reads everything from files and /proc and starts no program;
//! at OCF_CHECK_LEVEL=10 it makes real RPC calls of its own (`rpc.rs`).

mod host;
mod params;
mod rpc;
mod table;
#[cfg(test)]
mod tests;

use crate::cmd::Cmd;
use crate::ocf::{background, Action, Agent, AgentMeta, Ctx, Health, OcfError, Params};
use crate::{configured, generic};
use host::{Host, System};
use params::{Config, Export, Server};
use serde_json::json;
use std::time::{Duration, Instant};
use table::Entry;

pub struct NfsExport;

const VAR_LIB_NFS: &str = "/var/lib/nfs";
const ETAB: &str = "/var/lib/nfs/etab";
const RMTAB: &str = "/var/lib/nfs/rmtab";
const THREADS: &str = "/proc/fs/nfsd/threads";
const LEASE: &str = "/proc/fs/nfsd/nfsv4leasetime";
const GRACE: &str = "/proc/fs/nfsd/nfsv4gracetime";
const UNLOCK: &str = "/proc/fs/nfsd/unlock_filesystem";
const CACHE: &str = "/proc/net/rpc/nfsd.export/content";
const MOUNTINFO: &str = "/proc/self/mountinfo";
const MOUNTD: &str = "rpc.mountd";
const STATD: &str = "rpc.statd";
const NFSDCLD: &str = "nfsdcld";
const RPCBIND: &str = "rpcbind";
const SM_NOTIFY: &str = "sm-notify";
/// The background process that waits for the floating address and then
/// runs sm-notify (its command name).
const NOTIFIER: &str = "storha-smnotify";
/// How long the notifier waits for the address to come up.
const NOTIFY_WAIT: Duration = Duration::from_secs(600);
/// Time kept back at the end of stop for stopping the server.
const SERVER_RESERVE: Duration = Duration::from_secs(8);
/// How long one RPC check of the deep monitor may take.
const RPC_LIMIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(200);

fn exportfs<'a>(args: impl IntoIterator<Item = &'a str>) -> Cmd {
    Cmd::new("exportfs").args(args)
}

/// The exports with their directories resolved as exportfs resolves them
/// (`readlink -f`), where they exist.
fn resolve(host: &dyn Host, cfg: &Config) -> Vec<Export> {
    cfg.exports
        .iter()
        .map(|e| Export {
            dir: host.canonical(&e.dir).unwrap_or_else(|| e.dir.clone()),
            fsid: e.fsid.clone(),
        })
        .collect()
}

fn threads(host: &dyn Host) -> Option<u32> {
    host.read(THREADS).as_deref().and_then(table::parse_threads)
}

fn export_table(host: &dyn Host) -> Vec<Entry> {
    host.read(ETAB)
        .map(|t| table::parse_exports(&t))
        .unwrap_or_default()
}

/// Which (directory, client) pairs of the configuration the table holds.
struct Presence<'a> {
    present: Vec<(&'a Export, &'a params::Client)>,
    missing: Vec<(&'a Export, &'a params::Client)>,
}

fn presence<'a>(cfg: &'a Config, exports: &'a [Export], tab: &[Entry]) -> Presence<'a> {
    let mut p = Presence {
        present: Vec::new(),
        missing: Vec::new(),
    };
    for e in exports {
        for c in &cfg.clients {
            let here = tab.iter().any(|t| {
                t.path == e.dir
                    && (t.client == c.table || (c.table == "*" && t.client == "<world>"))
                    && t.option("fsid").map_or(true, |v| e.fsid.matches(v))
            });
            if here {
                p.present.push((e, c));
            } else {
                p.missing.push((e, c));
            }
        }
    }
    p
}

fn pairs(v: &[(&Export, &params::Client)]) -> String {
    v.iter()
        .map(|(e, c)| format!("{}:{}", c.table, e.dir))
        .collect::<Vec<_>>()
        .join(", ")
}

fn scope(ctx: &Ctx, srv: &Server) -> String {
    srv.scope
        .clone()
        .unwrap_or_else(|| params::default_scope(&ctx.instance))
}

/// Whether `prog` is an executable file in PATH (or the sbin directories,
/// which a cluster manager's PATH may lack). No fork.
fn on_path(prog: &str) -> Result<(), ()> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [
        std::path::PathBuf::from("/usr/sbin"),
        std::path::PathBuf::from("/sbin"),
    ];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(prog))
        .any(|p| {
            std::fs::metadata(&p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .then_some(())
        .ok_or(())
}

fn installed(prog: &str, pkg: &str) -> Result<(), OcfError> {
    on_path(prog).map_err(|_| OcfError::NotInstalled(format!("{prog} not found (install {pkg})")))
}

/// Directories exist (exportfs: 6 when one does not), or are created.
fn check_dirs(host: &dyn Host, cfg: &Config, create: bool) -> Result<(), OcfError> {
    for e in &cfg.exports {
        if host.is_dir(&e.dir) {
            continue;
        }
        if host.exists(&e.dir) {
            return Err(configured!("{} exists but is not a directory", e.dir));
        }
        if !create {
            return Err(configured!("{} does not exist", e.dir));
        }
        log::info!("creating the export directory {}", e.dir);
        host.mkdir(&e.dir)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- server

fn mounted(host: &dyn Host, point: &str, fstype: &str) -> bool {
    host.read(MOUNTINFO)
        .map(|t| {
            table::parse_mountinfo(&t)
                .iter()
                .any(|m| m.point == point && m.fstype == fstype)
        })
        .unwrap_or(false)
}

/// The empty layout of /var/lib/nfs in the shared directory, owned as the
/// node's own (statd runs as the owner of sm).
fn populate(host: &dyn Host, dir: &str) -> Result<(), OcfError> {
    for sub in ["sm", "sm.bak", "v4recovery", "nfsdcld"] {
        let p = format!("{dir}/{sub}");
        if !host.is_dir(&p) {
            host.mkdir(&p)?;
            host.copy_owner(&p, &format!("{VAR_LIB_NFS}/{sub}"));
        }
    }
    for f in ["etab", "rmtab"] {
        let p = format!("{dir}/{f}");
        if !host.exists(&p) {
            host.write(&p, "")?;
        }
    }
    Ok(())
}

/// SIGTERM, a wait, then SIGKILL; bounded by `until`.
fn end_processes(host: &dyn Host, comm: &str, until: Instant) -> Result<(), OcfError> {
    let pids = host.pids(comm);
    if pids.is_empty() {
        return Ok(());
    }
    log::info!("stopping {comm} (pid {pids:?})");
    for p in &pids {
        host.signal(*p, false);
    }
    let soft = Instant::now() + Duration::from_secs(5);
    while !host.pids(comm).is_empty() {
        let now = Instant::now();
        if now >= until {
            return Err(generic!(
                "{comm} is still running after SIGTERM and SIGKILL"
            ));
        }
        if now >= soft.min(until.checked_sub(Duration::from_secs(1)).unwrap_or(now)) {
            for p in host.pids(comm) {
                host.signal(p, true);
            }
        }
        host.sleep(POLL);
    }
    Ok(())
}

fn until(ctx: &Ctx, reserve: Duration) -> Instant {
    Instant::now() + ctx.deadline.remaining().saturating_sub(reserve)
}

fn server_start(ctx: &Ctx, srv: &Server, host: &dyn Host) -> Result<(), OcfError> {
    // The nfsd filesystem (Debian's proc-fs-nfsd.mount does the same).
    if !host.exists(THREADS) {
        if let Err(e) = ctx.runner.run(&Cmd::new("modprobe").arg("nfsd")) {
            log::warn!("{e}");
        }
        if !host.exists(THREADS) {
            ctx.runner
                .run(&Cmd::new("mount").args(["-t", "nfsd", "nfsd", "/proc/fs/nfsd"]))?;
        }
        if !host.exists(THREADS) {
            return Err(generic!(
                "{THREADS} is missing after mounting the nfsd filesystem"
            ));
        }
    }
    // The shared state, before any daemon that reads it.
    if let Some(dir) = &srv.infodir {
        if !host.same_dir(dir, VAR_LIB_NFS) {
            if !host.is_dir(dir) {
                host.mkdir(dir)?;
            }
            populate(host, dir)?;
            if threads(host).unwrap_or(0) > 0 {
                log::info!("stopping nfsd threads that run on this node's own {VAR_LIB_NFS}");
                ctx.runner.run(&Cmd::new("rpc.nfsd").arg("0"))?;
            }
            let t = until(ctx, Duration::from_secs(10));
            for d in [MOUNTD, NFSDCLD, STATD] {
                end_processes(host, d, t)?;
            }
            log::info!("bind-mounting {dir} over {VAR_LIB_NFS}");
            ctx.runner
                .run(&Cmd::new("mount").args(["--bind", dir.as_str(), VAR_LIB_NFS]))?;
        }
    }
    if !mounted(host, &srv.pipefs, "rpc_pipefs") {
        host.mkdir(&srv.pipefs)?;
        ctx.runner.run(&Cmd::new("mount").args([
            "-t",
            "rpc_pipefs",
            "sunrpc",
            srv.pipefs.as_str(),
        ]))?;
    }
    if !srv.v4_only {
        if host.pids(RPCBIND).is_empty() {
            if on_path("systemctl").is_ok() {
                ctx.runner
                    .run(&Cmd::new("systemctl").args(["start", "rpcbind.service"]))?;
            } else {
                ctx.runner.run(&Cmd::new(RPCBIND).arg("-w"))?;
            }
        }
        if host.pids(STATD).is_empty() {
            // --no-notify: sm-notify runs once the floating address is up.
            ctx.runner.run(&Cmd::new(STATD).arg("--no-notify"))?;
        }
    }
    // nfsdcld before the threads: the kernel picks its client tracking
    // when nfsd starts, and uses nfsdcld only if it is running then.
    let cld = on_path(NFSDCLD).is_ok();
    if cld && host.pids(NFSDCLD).is_empty() {
        ctx.runner.run(&Cmd::new(NFSDCLD))?;
    }
    if host.pids(MOUNTD).is_empty() {
        let mut c = Cmd::new(MOUNTD);
        if srv.v4_only {
            c = c.args(["--no-nfs-version", "3", "--no-udp"]);
        }
        ctx.runner.run(&c)?;
    }
    let now = threads(host).unwrap_or(0);
    if now == 0 {
        // The kernel takes these only while nfsd is stopped.
        if let Some(l) = srv.lease {
            host.write(LEASE, &l.to_string())?;
        }
        if let Some(g) = srv.grace {
            host.write(GRACE, &g.to_string())?;
        }
    } else {
        for (p, want) in [(LEASE, srv.lease), (GRACE, srv.grace)] {
            let have = host.read(p).and_then(|s| s.trim().parse::<u32>().ok());
            if want.is_some() && have != want {
                log::warn!(
                    "{p} is {have:?}, configured {want:?}: it changes only when nfsd restarts"
                );
            }
        }
    }
    if now != srv.threads {
        let sc = scope(ctx, srv);
        let mut c = Cmd::new("rpc.nfsd");
        if srv.v4_only {
            c = c.args(["--no-nfs-version", "3"]);
        }
        let c = c.arg(srv.threads.to_string());
        log::info!("starting {} nfsd threads in server scope {sc}", srv.threads);
        host.in_scope(&sc, &mut || {
            ctx.runner.run(&c)?;
            Ok(())
        })?;
    }
    wait_serving(ctx, srv, host, cld)
}

/// What the server lacks to serve, if anything.
fn server_problem(srv: &Server, host: &dyn Host, cld: bool, deep: bool) -> Option<String> {
    match threads(host) {
        Some(n) if n > 0 => {}
        _ => return Some("nfsd has no threads running".into()),
    }
    let needed: Vec<&str> = [(MOUNTD, true), (NFSDCLD, cld), (STATD, !srv.v4_only)]
        .iter()
        .filter(|(_, need)| *need)
        .map(|(d, _)| *d)
        .collect();
    let dead = host.not_running(&needed);
    if !dead.is_empty() {
        return Some(format!("{} not running", dead.join(", ")));
    }
    if deep {
        if let Some(p) = rpc_problem(srv.v4_only, host) {
            return Some(p);
        }
        if !srv.v4_only {
            for (prog, vers, name) in [(rpc::MOUNT, 3, MOUNTD), (rpc::STATUS, 1, STATD)] {
                match host.rpc_port(prog, vers, RPC_LIMIT) {
                    Ok(0) => return Some(format!("{name} is not registered with rpcbind")),
                    Ok(_) => {}
                    Err(e) => return Some(format!("{name}: {e}")),
                }
            }
        }
    }
    None
}

fn rpc_problem(v4_only: bool, host: &dyn Host) -> Option<String> {
    let vers = if v4_only { 4 } else { 3 };
    host.nfs_null(vers, RPC_LIMIT)
        .err()
        .map(|e| format!("nfsd does not answer an RPC NULL call (NFSv{vers}, TCP): {e}"))
}

fn wait_serving(ctx: &Ctx, srv: &Server, host: &dyn Host, cld: bool) -> Result<(), OcfError> {
    loop {
        let problem = server_problem(srv, host, cld, true);
        let Some(p) = problem else {
            log::info!("NFS server serving");
            return Ok(());
        };
        if ctx.deadline.remaining() < Duration::from_secs(1) {
            return Err(generic!("the NFS server did not come up: {p}"));
        }
        log::debug!("waiting for the NFS server: {p}");
        host.sleep(POLL);
    }
}

fn server_stop(ctx: &Ctx, srv: &Server, host: &dyn Host) -> Result<(), OcfError> {
    if threads(host).unwrap_or(0) > 0 {
        ctx.runner.run(&Cmd::new("rpc.nfsd").arg("0"))?;
        while threads(host).unwrap_or(0) > 0 {
            if ctx.deadline.remaining() < Duration::from_secs(2) {
                return Err(generic!("nfsd threads still running after rpc.nfsd 0"));
            }
            host.sleep(POLL);
        }
    }
    let t = until(ctx, Duration::from_secs(1));
    for d in [SM_NOTIFY, MOUNTD, NFSDCLD, STATD] {
        end_processes(host, d, t)?;
    }
    if let Some(dir) = &srv.infodir {
        while host.same_dir(dir, VAR_LIB_NFS) {
            let last = match ctx.runner.run(&Cmd::new("umount").arg(VAR_LIB_NFS)) {
                Ok(_) => continue,
                Err(e) => e.to_string(),
            };
            if ctx.deadline.remaining() < Duration::from_secs(1) {
                let mut who = host.holders(VAR_LIB_NFS);
                who.extend(host.holders(dir));
                who.dedup();
                return Err(generic!(
                    "cannot unmount the bind mount {VAR_LIB_NFS} ({last}){}",
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(": held by {}", who.join(", "))
                    }
                ));
            }
            host.sleep(Duration::from_millis(500));
        }
    }
    Ok(())
}

fn notifier_pidfile(ctx: &Ctx) -> std::path::PathBuf {
    ctx.state.path("smnotify.pid")
}

/// sm-notify once each address is up: it silently sends nothing from an
/// address this node does not have yet, and the floating IP starts after
/// this resource.
fn start_notify(ctx: &Ctx, srv: &Server, host: &dyn Host) -> Result<(), OcfError> {
    if srv.v4_only || srv.notify_ips.is_empty() {
        return Ok(());
    }
    background::stop(&notifier_pidfile(ctx), NOTIFIER, Duration::from_millis(500))?;
    for ip in &srv.notify_ips {
        if !host.has_name(*ip) {
            log::error!(
                "nfs_ip {ip} has no name in DNS or /etc/hosts on this node: sm-notify refuses \
                 such an address, and NFSv3 clients are not told to reclaim their locks"
            );
        }
    }
    ctx.state.ensure()?;
    let ips = srv.notify_ips.clone();
    let pid = background::spawn(&notifier_pidfile(ctx), NOTIFIER, move || {
        let started = Instant::now();
        for ip in ips {
            while !System.is_local(ip) {
                if started.elapsed() > NOTIFY_WAIT {
                    log::warn!("{ip} did not come up on this node; NFSv3 clients not notified");
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            match std::process::Command::new(SM_NOTIFY)
                .args(["-f", "-v", &ip.to_string()])
                .status()
            {
                Ok(st) if st.success() => log::info!("sm-notify -f -v {ip}: done"),
                Ok(st) => log::error!(
                    "sm-notify -f -v {ip} failed ({st}): NFSv3 clients were not notified"
                ),
                Err(e) => log::error!("cannot run sm-notify: {e}"),
            }
        }
    })?;
    log::info!("NFSv3 clients are notified by pid {pid} once the address is up");
    Ok(())
}

// --------------------------------------------------------------- actions

fn restore_rmtab(cfg: &Config, exports: &[Export], host: &dyn Host) {
    let Some(rel) = &cfg.rmtab_backup else {
        return;
    };
    for e in exports {
        let Some(saved) = host.read(&format!("{}/{rel}", e.dir)) else {
            continue;
        };
        let old = host.read(RMTAB).unwrap_or_default();
        let merged = table::merge_lines(&old, &saved);
        if merged != old {
            if let Err(e) = host.write(RMTAB, &merged) {
                log::warn!("restoring rmtab entries: {e}");
            }
        }
    }
}

fn backup_rmtab(cfg: &Config, exports: &[Export], host: &dyn Host) {
    let (Some(rel), Some(rm)) = (&cfg.rmtab_backup, host.read(RMTAB)) else {
        return;
    };
    for e in exports.iter().filter(|e| host.is_dir(&e.dir)) {
        let mut lines = table::rmtab_lines(&rm, &e.dir).join("\n");
        if !lines.is_empty() {
            lines.push('\n');
        }
        if let Err(err) = host.write(&format!("{}/{rel}", e.dir), &lines) {
            log::warn!("keeping rmtab entries of {}: {err}", e.dir);
        }
    }
}

fn start_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    check_dirs(host, cfg, cfg.create_directory)?;
    let exports = resolve(host, cfg);
    if let Some(srv) = &cfg.server {
        server_start(ctx, srv, host)?;
    } else if threads(host).unwrap_or(0) == 0 {
        log::warn!("the NFS server is not running (manage_server=false): exporting anyway");
    }
    restore_rmtab(cfg, &exports, host);
    for e in &exports {
        let opts = cfg.options_for(e);
        for c in &cfg.clients {
            let target = format!("{}:{}", c.spec, e.dir);
            ctx.runner
                .run(&exportfs(["-v", "-o", opts.as_str(), target.as_str()]))
                .map_err(|err| generic!("exportfs failed: {err}"))?;
        }
    }
    let tab = export_table(host);
    let p = presence(cfg, &exports, &tab);
    if !p.missing.is_empty() {
        return Err(generic!(
            "exportfs succeeded but {ETAB} lacks {}",
            pairs(&p.missing)
        ));
    }
    if let Some(srv) = &cfg.server {
        start_notify(ctx, srv, host)?;
    }
    log::info!("exported {}", pairs(&p.present));
    Ok(())
}

/// Whether the kernel's export cache still holds one of our exports.
fn cached(host: &dyn Host, exports: &[Export]) -> Vec<String> {
    let Some(text) = host.read(CACHE) else {
        return Vec::new();
    };
    table::parse_exports(&text)
        .into_iter()
        .filter(|t| {
            exports
                .iter()
                .any(|e| t.path == e.dir || t.option("fsid").is_some_and(|v| e.fsid.matches(v)))
        })
        .map(|t| format!("{}:{}", t.client, t.path))
        .collect()
}

fn stop_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let exports = resolve(host, cfg);
    if cfg.server.is_some() {
        background::stop(&notifier_pidfile(ctx), NOTIFIER, Duration::from_millis(500))?;
    }
    backup_rmtab(cfg, &exports, host);
    let tab = export_table(host);
    let p = presence(cfg, &exports, &tab);
    let mut failed = Vec::new();
    for (e, c) in &p.present {
        let target = format!("{}:{}", c.spec, e.dir);
        if let Err(err) = ctx.runner.run(&exportfs(["-v", "-u", target.as_str()])) {
            failed.push(err.to_string());
        }
    }
    if cfg.unlock_on_stop && host.exists(UNLOCK) {
        for e in &exports {
            match host.write(UNLOCK, &e.dir) {
                Ok(()) => log::info!("released the NFS locks on {}", e.dir),
                Err(err) => log::warn!("{err}"),
            }
        }
    }
    if cfg.wait_lease {
        if let Some(l) = host.read(LEASE).and_then(|s| s.trim().parse::<u64>().ok()) {
            let want = Duration::from_secs(l + 2);
            let can = ctx.deadline.remaining().saturating_sub(SERVER_RESERVE);
            log::info!(
                "waiting {:.0}s for NFSv4 leases to expire",
                want.min(can).as_secs_f64()
            );
            host.sleep(want.min(can));
        }
    }
    // The kernel keeps exports in its cache after exportfs -u; flush until
    // our fsids and paths have left it.
    let mut tries = 0;
    loop {
        let left = cached(host, &exports);
        if left.is_empty() {
            break;
        }
        if ctx.deadline.remaining() < SERVER_RESERVE || tries >= 50 {
            if cfg.server.is_some() {
                log::warn!(
                    "the export cache still holds {}; stopping nfsd clears it",
                    left.join(", ")
                );
                break;
            }
            return Err(generic!(
                "the kernel's export cache still holds {} after {tries} flushes",
                left.join(", ")
            ));
        }
        tries += 1;
        ctx.runner.run(&exportfs(["-f"]))?;
        host.sleep(Duration::from_millis(500));
    }
    if !failed.is_empty() {
        return Err(generic!("failed to un-export: {}", failed.join("; ")));
    }
    if let Some(srv) = &cfg.server {
        server_stop(ctx, srv, host)?;
    }
    let tab = export_table(host);
    let p = presence(cfg, &exports, &tab);
    if !p.present.is_empty() {
        return Err(generic!("still exported after stop: {}", pairs(&p.present)));
    }
    Ok(())
}

fn monitor_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<Health, OcfError> {
    let exports = resolve(host, cfg);
    let tab = export_table(host);
    let p = presence(cfg, &exports, &tab);
    let deep = ctx.env.check_level() >= 10;
    if let Some(srv) = &cfg.server {
        let running = threads(host).unwrap_or(0) > 0;
        if !running && p.present.is_empty() {
            return Ok(Health::NotRunning);
        }
        if !running {
            return Err(generic!(
                "nfsd has no threads running, while {} is in the export table",
                pairs(&p.present)
            ));
        }
        if p.present.is_empty() {
            if !ctx.is_probe() {
                log::error!("not exported: {}", pairs(&p.missing));
            }
            return Ok(Health::NotRunning);
        }
        let cld = on_path(NFSDCLD).is_ok();
        if let Some(problem) = server_problem(srv, host, cld, deep) {
            return Err(generic!("NFS server: {problem}"));
        }
    } else {
        if p.present.is_empty() {
            if !ctx.is_probe() {
                log::error!("not exported: {}", pairs(&p.missing));
            }
            return Ok(Health::NotRunning);
        }
        if deep {
            if let Some(problem) = rpc_problem(false, host) {
                return Err(generic!("{problem}"));
            }
        }
    }
    if !p.missing.is_empty() {
        return Err(generic!("not exported: {}", pairs(&p.missing)));
    }
    let v4_only = cfg.server.as_ref().is_some_and(|s| s.v4_only);
    if deep && !v4_only {
        let listed = host
            .mountd_exports(RPC_LIMIT)
            .map_err(|e| generic!("rpc.mountd does not answer: {e}"))?;
        let absent: Vec<&str> = exports
            .iter()
            .filter(|e| !listed.contains(&e.dir))
            .map(|e| e.dir.as_str())
            .collect();
        if !absent.is_empty() {
            return Err(generic!(
                "rpc.mountd does not list {} among its exports",
                absent.join(", ")
            ));
        }
    }
    Ok(Health::Running)
}

fn observe_with(cfg: &Config, host: &dyn Host) -> serde_json::Value {
    let exports = resolve(host, cfg);
    let tab = export_table(host);
    let p = presence(cfg, &exports, &tab);
    let list = |v: &[(&Export, &params::Client)]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|(e, c)| json!({"directory": e.dir, "client": c.table, "fsid": e.fsid.option()}))
            .collect()
    };
    json!({
        "nfsd_threads": threads(host),
        "exported": list(&p.present),
        "missing": list(&p.missing),
        "cached": cached(host, &exports),
        "rpc.mountd": host.pids(MOUNTD),
        "rpc.statd": host.pids(STATD),
        "nfsdcld": host.pids(NFSDCLD),
        "shared_state_mounted": cfg.server.as_ref().and_then(|s| s.infodir.as_ref())
            .map(|d| host.same_dir(d, VAR_LIB_NFS)),
    })
}

impl Agent for NfsExport {
    type Config = Config;

    fn meta() -> &'static AgentMeta {
        &params::META
    }

    fn config(p: &Params) -> Result<Config, OcfError> {
        Config::from_params(p)
    }

    /// Host checks for start and validate-all only: stop and monitor look
    /// at what is exported, so a missing directory or program cannot make
    /// a stop report success while an export is still up.
    fn validate(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        if !matches!(ctx.action, Action::Start | Action::ValidateAll) {
            return Ok(());
        }
        installed("exportfs", "nfs-kernel-server")?;
        if let Some(srv) = &cfg.server {
            installed("rpc.nfsd", "nfs-kernel-server")?;
            installed(MOUNTD, "nfs-kernel-server")?;
            if !srv.v4_only {
                installed(STATD, "nfs-common")?;
            }
        }
        let create = ctx.action == Action::Start && cfg.create_directory;
        if ctx.action == Action::ValidateAll && cfg.create_directory {
            return Ok(());
        }
        if !create {
            check_dirs(&System, cfg, false)?;
        }
        Ok(())
    }

    fn start(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        start_with(ctx, cfg, &System)
    }

    fn stop(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        stop_with(ctx, cfg, &System)
    }

    fn monitor(ctx: &Ctx, cfg: &Config) -> Result<Health, OcfError> {
        monitor_with(ctx, cfg, &System)
    }

    fn observe(_ctx: &Ctx, cfg: &Config) -> Result<serde_json::Value, OcfError> {
        Ok(observe_with(cfg, &System))
    }
}
