// SPDX-License-Identifier: GPL-2.0-or-later
//! drbd-tuned: one DRBD resource as a promotable clone, with ocf:linbit:drbd's
//! parameters, actions and promotion scores.
//!
//! The state is read from /proc/drbd on DRBD 8.4 (no program) and with one
//! `drbdsetup events2 --now` on DRBD 9. Every change goes through drbdadm or
//! drbdsetup on the runner, bounded by the operation's deadline. Replication
//! states never fail the monitor; they are logged when they change and kept
//! in a node attribute.

mod params;
mod rdma;
mod score;
mod splitbrain;
pub mod state;
#[cfg(test)]
mod tests;
mod tune;

use crate::cmd::{Cmd, CmdError};
use crate::ocf::attrs::{NodeAttr, Promotion};
use crate::ocf::{Action, Agent, AgentMeta, Ctx, Health, OcfError, Params};
use crate::{configured, generic};
use params::{Config, PeerPrimary, Version};
use score::{Decision, Inputs, ScoreOp};
use state::{Flags, Summary};
use std::time::{Duration, Instant};

pub struct DrbdTuned;

/// A cached promotion score is read back from Pacemaker after this long, in
/// case Pacemaker purged the node's transient attributes meanwhile.
const SCORE_REFRESH: Duration = Duration::from_secs(60);
const ATTR_REFRESH: Duration = Duration::from_secs(300);
/// A promote that fails earlier than this waits out the rest (LINBIT's 15 s)
/// so that Pacemaker's recovery cannot spin.
const PROMOTE_MIN: Duration = Duration::from_secs(15);
/// drbdadm primary's exit code for "no access to UpToDate data".
const NO_UPTODATE_DATA: i32 = 17;

/// What the agent reads from the host without a program. A trait so that
/// the actions run against a fake in tests.
pub trait Host {
    /// /proc/drbd, or `None` when the module is not loaded.
    fn proc_drbd(&self) -> Option<String>;
    /// The loaded module's version (the first line of /proc/drbd), `None`
    /// when it is not loaded. Read once per action.
    fn module_version(&self) -> Option<Version> {
        self.proc_drbd().as_deref().and_then(state::proc_version)
    }
    fn is_block(&self, path: &str) -> bool;
    fn readable(&self, path: &str) -> bool;
    /// What holds /dev/drbdMINOR: holders, mounts, processes.
    fn holders(&self, minor: u32) -> Vec<String>;
    fn hostname(&self) -> String;
    fn sleep(&self, d: Duration);
    /// The kernel log's DRBD messages (read only while a connection is
    /// StandAlone, to tell a split brain from a plain disconnect).
    fn kernel_log(&self) -> Vec<String> {
        Vec::new()
    }
    /// sysfs and procfs, for the tuning knobs.
    fn tree(&self) -> tune::Tree {
        tune::Tree::system()
    }
}

pub struct System;

impl Host for System {
    fn proc_drbd(&self) -> Option<String> {
        std::fs::read_to_string("/proc/drbd").ok()
    }
    fn is_block(&self, path: &str) -> bool {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_block_device())
    }
    fn readable(&self, path: &str) -> bool {
        std::fs::File::open(path).is_ok()
    }
    fn holders(&self, minor: u32) -> Vec<String> {
        use crate::agents::writeboost_cache::{host::Host as _, DevId};
        let wb = crate::agents::writeboost_cache::host::System;
        let dev = DevId { major: 147, minor };
        let mut out = wb.users(dev, None);
        out.extend(wb.openers(dev));
        out
    }
    fn hostname(&self) -> String {
        nix::sys::utsname::uname()
            .ok()
            .and_then(|u| u.nodename().to_str().map(str::to_string))
            .unwrap_or_default()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    /// /dev/kmsg, read without blocking from its first record to its last.
    fn kernel_log(&self) -> Vec<String> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let Ok(mut f) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
        else {
            return Vec::new();
        };
        let mut records = Vec::new();
        let mut buf = vec![0u8; 8192];
        for _ in 0..200_000 {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let r = String::from_utf8_lossy(&buf[..n]);
                    if r.contains("drbd") {
                        records.push(r.into_owned());
                    }
                }
                // Records overwritten while reading: go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        splitbrain::kmsg_messages(&records)
    }
}

/// `storha drbd-split-brain`, run by DRBD as the split-brain handler: leaves
/// the marker drbd-tuned's monitor reports, logs an error, resolves
/// nothing. Returns the exit status (DRBD only logs it).
pub fn split_brain_handler() -> u8 {
    // DRBD runs handlers without Pacemaker's environment: log to syslog.
    if std::env::var_os(crate::ocf::env::HA_LOGFACILITY).is_none() {
        std::env::set_var(crate::ocf::env::HA_LOGFACILITY, "daemon");
    }
    let env = crate::ocf::OcfEnv::from_process();
    crate::ocf::logging::init("drbd-split-brain", &env);
    let call = match splitbrain::HandlerCall::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return 1;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = std::path::Path::new(env.rsctmp());
    let boot = tune::Tree::system().boot_id();
    match splitbrain::record(dir, &call, &boot, now) {
        Ok(path) => {
            log::error!(
                "{}: split brain (DRBD's split-brain handler), noted in {}; {}",
                call.resource,
                path.display(),
                splitbrain::advice(&call.resource)
            );
            0
        }
        Err(e) => {
            log::error!("{}: split brain, but {e}", call.resource);
            1
        }
    }
}

/// The state of the resource at one moment.
struct Observed {
    flags: Flags,
    summary: Summary,
}

impl Observed {
    fn health(&self) -> Health {
        if self.flags.unconfigured {
            Health::NotRunning
        } else if self.flags.primary {
            Health::RunningPromoted
        } else {
            Health::Running
        }
    }
}

/// One action's view: the configuration, the module version (read once),
/// the minors of the resource.
struct Drbd<'a> {
    ctx: &'a Ctx<'a>,
    cfg: &'a Config,
    host: &'a dyn Host,
    v9: bool,
    minors: Vec<u32>,
}

fn promotion() -> Promotion {
    Promotion {
        cache: "score",
        refresh: SCORE_REFRESH,
    }
}

fn meta_u32(ctx: &Ctx, names: &[&str]) -> Option<Result<u32, String>> {
    names.iter().find_map(|n| {
        ctx.env
            .meta(n)
            .filter(|v| !v.is_empty())
            .map(|v| v.trim().parse::<u32>().map_err(|_| v.to_string()))
    })
}

fn drbdadm(cfg: &Config) -> Cmd {
    Cmd::new("drbdadm").args(["-c", cfg.drbdconf.as_str()])
}

/// LINBIT's `meta_expect`: a clone meta attribute compared with a bound.
fn meta_expect(
    ctx: &Ctx,
    what: &str,
    names: &[&str],
    default: Option<u32>,
    ok: impl Fn(u32) -> bool,
    expect: &str,
) -> Result<(), OcfError> {
    let found = meta_u32(ctx, names).or(default.map(Ok));
    match found {
        Some(Ok(v)) if ok(v) => Ok(()),
        Some(Ok(v)) => Err(configured!(
            "meta parameter misconfigured, expected {what} {expect}, but found {v}"
        )),
        Some(Err(v)) => Err(configured!(
            "meta parameter misconfigured, expected {what} {expect}, but found {}",
            crate::ocf::params::shown(&v)
        )),
        None => Err(configured!(
            "meta parameter misconfigured, expected {what} {expect}, but found unset"
        )),
    }
}

fn promoted_max(ctx: &Ctx) -> u32 {
    match meta_u32(ctx, &["promoted_max", "master_max"]) {
        Some(Ok(v)) => v,
        _ => 1,
    }
}

/// The DRBD module's version: /proc/drbd when loaded, else modinfo.
fn module_version(ctx: &Ctx, host: &dyn Host) -> Option<Version> {
    if let Some(v) = host.module_version() {
        return Some(v);
    }
    let out = ctx
        .runner
        .run(&Cmd::new("modinfo").args(["-F", "version", "drbd"]))
        .ok()?;
    Version::parse_prefix(out.stdout.trim())
}

/// The minors of the resource from `drbdadm sh-minor`, with the reason why
/// not when the configuration does not have it.
fn config_minors(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<Vec<u32>, OcfError> {
    let cmd = drbdadm(cfg).args(["sh-minor", cfg.resource.as_str()]);
    match ctx.runner.run(&cmd) {
        Ok(out) => {
            let minors: Vec<u32> = out
                .stdout
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            if minors.is_empty() {
                return Err(OcfError::NotInstalled(format!(
                    "DRBD resource {} has no volume in {}",
                    cfg.resource, cfg.drbdconf
                )));
            }
            let _ = ctx.state.ensure();
            let text: Vec<String> = minors.iter().map(u32::to_string).collect();
            let _ = std::fs::write(ctx.state.path("minors"), text.join(" "));
            Ok(minors)
        }
        Err(CmdError::NotFound { .. }) => Err(OcfError::NotInstalled(
            "drbdadm not found: install drbd-utils".into(),
        )),
        Err(CmdError::Failed { stderr, .. }) => {
            let me = host.hostname();
            let why = stderr.trim().lines().last().unwrap_or("").to_string();
            let hint =
                if why.contains("for this host") || why.contains("not defined in your config") {
                    format!(
                        "; this node is '{me}': DRBD's 'on' sections must use the same node \
                     names as Pacemaker (uname -n)"
                    )
                } else {
                    String::new()
                };
            Err(OcfError::NotInstalled(format!(
                "DRBD resource {} not found in configuration file {}: {why}{hint}",
                cfg.resource, cfg.drbdconf
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Minors from the per-boot cache (recurring monitors), else from drbdadm.
fn cached_minors(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<Vec<u32>, OcfError> {
    if let Ok(text) = std::fs::read_to_string(ctx.state.path("minors")) {
        let m: Vec<u32> = text
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if !m.is_empty() {
            return Ok(m);
        }
    }
    config_minors(ctx, cfg, host)
}

impl<'a> Drbd<'a> {
    fn new(
        ctx: &'a Ctx<'a>,
        cfg: &'a Config,
        host: &'a dyn Host,
        version: Version,
    ) -> Result<Self, OcfError> {
        let recurring_monitor =
            matches!(ctx.action, Action::Monitor | Action::Status) && !ctx.is_probe();
        let minors = if recurring_monitor {
            cached_minors(ctx, cfg, host)?
        } else {
            config_minors(ctx, cfg, host)?
        };
        let v9 = version >= Version(9, 0, 0);
        Ok(Drbd {
            ctx,
            cfg,
            host,
            v9,
            minors,
        })
    }

    fn res(&self) -> &str {
        &self.cfg.resource
    }

    fn adm(&self, args: &[&str]) -> Cmd {
        drbdadm(self.cfg).args(args.iter().copied())
    }

    fn run_adm(&self, args: &[&str]) -> Result<(), OcfError> {
        self.ctx
            .runner
            .run(&self.adm(args))
            .map(|_| ())
            .map_err(Into::into)
    }

    fn observe(&self) -> Result<Observed, OcfError> {
        if self.v9 {
            let cmd = Cmd::new("drbdsetup").args(["events2", "--now", "--statistics", self.res()]);
            let out = self.ctx.runner.output(&cmd)?;
            // A resource that does not exist: exit 10 and nothing printed.
            let r = state::parse_events2(&out.stdout, self.res());
            return Ok(Observed {
                flags: Flags::from_9(&r),
                summary: Summary::from_9(&r),
            });
        }
        let text = self.host.proc_drbd().unwrap_or_default();
        let all = state::parse_proc_drbd(&text);
        let mine: Vec<&state::Minor84> = all
            .iter()
            .filter(|m| self.minors.contains(&m.minor))
            .collect();
        Ok(Observed {
            flags: Flags::from_84(&mine),
            summary: Summary::from_84(&mine),
        })
    }

    /// Whether Pacemaker knows of a Promoted instance on another node.
    fn pcmk_primary_peer(&self) -> Option<String> {
        let inst = self.ctx.env.instance()?;
        let inst = inst.split(':').next().unwrap_or(inst);
        let cmd = Cmd::new("crm_resource").args(["--resource", inst, "--locate"]);
        let out = self.ctx.runner.output(&cmd).ok()?;
        score::promoted_elsewhere(&out.stdout, &self.host.hostname())
    }

    fn decision(&self, o: &Observed) -> Decision {
        let f = &o.flags;
        let mut i = Inputs {
            scores: self.cfg.scores,
            peer_primary: self.cfg.peer_primary,
            unfence_if_all_uptodate: self.cfg.unfence_if_all_uptodate,
            promoted_max: promoted_max(self.ctx),
            pcmk_knows_primary_peer: true,
            have_score: true,
        };
        if self.cfg.peer_primary == PeerPrimary::Unexpected
            && !f.primary
            && f.some_peer_primary
            && f.some_peer_all_up_to_date
        {
            i.pcmk_knows_primary_peer = self.pcmk_primary_peer().is_some();
            if !i.pcmk_knows_primary_peer {
                i.have_score = promotion().have(self.ctx);
            }
        }
        score::decide(f, &i)
    }

    fn update_score(&self, o: &Observed) {
        let d = self.decision(o);
        log::debug!("{}: promotion score {:?} ({})", self.res(), d.op, d.why);
        match d.op {
            ScoreOp::Set(n) => promotion().apply(self.ctx, Some(n)),
            ScoreOp::Remove => promotion().apply(self.ctx, None),
            ScoreOp::Leave => {}
        }
        if d.unfence {
            let cmd = self
                .adm(&["unfence-peer", self.res()])
                .timeout(Duration::from_secs(30));
            if let Err(e) = self.ctx.runner.run(&cmd) {
                log::info!("unfence-peer: {e}");
            }
        }
    }

    fn remove_score(&self) {
        promotion().apply(self.ctx, None);
    }

    fn repl_attr(&self) -> String {
        attr_name(self.res(), "replication")
    }

    /// The DRBD net and disk options of the parameters, over those of the
    /// configuration (which every adjust brings back). A warning on failure.
    fn apply_drbd_options(&self) {
        for (kind, opts) in [
            ("net-options", &self.cfg.drbd_net),
            ("disk-options", &self.cfg.drbd_disk),
        ] {
            if opts.is_empty() {
                continue;
            }
            let args: Vec<String> = opts.iter().map(|(k, v)| format!("--{k}={v}")).collect();
            let cmd = drbdadm(self.cfg).arg(kind).args(args).arg(self.res());
            if let Err(e) = self.ctx.runner.run(&cmd) {
                log::warn!("{}: tuning: DRBD {kind} not applied: {e}", self.res());
            }
        }
    }

    /// The DRBD options that differ from the parameters, from one
    /// `drbdsetup show`.
    fn drbd_option_drift(&self) -> Vec<tune::Drift> {
        let opts: Vec<&(&str, String)> = self
            .cfg
            .drbd_net
            .iter()
            .chain(&self.cfg.drbd_disk)
            .collect();
        if opts.is_empty() {
            return Vec::new();
        }
        let cmd = Cmd::new("drbdsetup").args(["show", "--show-defaults", self.res()]);
        let Ok(out) = self.ctx.runner.run(&cmd) else {
            return Vec::new();
        };
        tune::drbd_show_drift(&out.stdout, &opts)
    }

    /// An unresolved split brain the kernel reported for this resource,
    /// remembered (per boot) until the resource is connected again. Looked
    /// for only while a connection is StandAlone.
    fn split_brain(&self, o: &Observed) -> Option<String> {
        let path = self.ctx.state.path("split-brain");
        let peers = &o.summary.peers;
        let connected = peers.iter().any(|p| {
            let c = p.connection.as_str();
            c == "Connected"
                || c.starts_with("Sync")
                || c.starts_with("PausedSync")
                || c.starts_with("Verify")
                || c == "Ahead"
                || c == "Behind"
        });
        let dir = self.ctx.state.dir();
        if connected {
            let _ = std::fs::remove_file(&path);
            splitbrain::clear_handler(dir, self.res());
            return None;
        }
        if let Ok(ev) = std::fs::read_to_string(&path) {
            return Some(ev);
        }
        // DRBD's split-brain handler said so (storha drbd-split-brain).
        if let Some(ev) = splitbrain::from_handler(dir, self.res(), &self.host.tree().boot_id()) {
            log::error!(
                "{}: split brain: {ev}; {}",
                self.res(),
                splitbrain::advice(self.res())
            );
            let _ = self.ctx.state.ensure();
            let _ = std::fs::write(&path, &ev);
            return Some(ev);
        }
        if !peers.iter().any(|p| p.connection == "StandAlone") {
            return None;
        }
        let ev = splitbrain::from_kernel_log(&self.host.kernel_log(), self.res(), &self.minors)?;
        log::error!(
            "{}: split brain: the kernel says \"{ev}\"; {}",
            self.res(),
            splitbrain::advice(self.res())
        );
        let _ = self.ctx.state.ensure();
        let _ = std::fs::write(&path, &ev);
        Some(ev)
    }

    /// Logs the replication state when it changed and keeps it in a node
    /// attribute (never a failure).
    fn report(&self, o: &Observed) {
        let mut line = o.summary.line();
        if let Some(ev) = self.split_brain(o) {
            line.push_str(&format!("; split brain: {ev}"));
        }
        let path = self.ctx.state.path("replication");
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(line.as_str()) {
            match o.summary.degraded_reason() {
                Some(r) => log::warn!("{}: replication degraded: {r}", self.res()),
                None => log::info!("{}: replication healthy: {line}", self.res()),
            }
            let _ = self.ctx.state.ensure();
            let _ = std::fs::write(&path, &line);
        }
        let name = self.repl_attr();
        NodeAttr {
            name: &name,
            cache: "replication-attr",
            refresh: ATTR_REFRESH,
        }
        .report(self.ctx, &line);
    }

    fn sleep_a_little(&self) {
        let left = self.ctx.deadline.remaining();
        self.host.sleep(left.min(Duration::from_secs(1)));
    }

    fn wfc_args(&self) -> Option<Vec<String>> {
        self.cfg.wfc_timeout.map(|t| {
            vec![
                format!("--wfc-timeout={t}"),
                format!("--degr-wfc-timeout={t}"),
                format!("--outdated-wfc-timeout={t}"),
            ]
        })
    }

    /// Waits for the connection (wfc_timeout); a timeout is only logged.
    fn wait_connect(&self) {
        let Some(wfc) = self.wfc_args() else {
            return;
        };
        let limit = Duration::from_secs(u64::from(self.cfg.wfc_timeout.unwrap_or(0)) + 5);
        let cmds: Vec<Cmd> = if self.v9 {
            vec![Cmd::new("drbdsetup")
                .args(["wait-connect-resource", self.res()])
                .args(wfc.clone())]
        } else {
            self.minors
                .iter()
                .map(|m| {
                    Cmd::new("drbdsetup")
                        .args(["wait-connect".to_string(), format!("/dev/drbd{m}")])
                        .args(wfc.clone())
                })
                .collect()
        };
        for c in cmds {
            if let Err(e) = self.ctx.runner.run(&c.timeout(limit)) {
                log::info!("{}: not connected yet: {e}", self.res());
            }
        }
    }

    fn connect(&self) -> Result<(), OcfError> {
        if self.v9 {
            if let Some(peer) = self.pcmk_primary_peer() {
                let target = format!("{}:{peer}", self.res());
                if let Err(e) = self.run_adm(&["adjust", &target]) {
                    log::warn!(
                        "{e}: is '{peer}' (Pacemaker's node name) a host in DRBD's \
                         configuration? Node names must match"
                    );
                }
            }
        }
        self.run_adm(&["adjust", self.res()])?;
        self.wait_connect();
        Ok(())
    }

    fn attach(&self) -> Result<(), OcfError> {
        if self.v9 {
            self.run_adm(&["adjust", "--skip-net", self.res()])
        } else if self.cfg.connect_only_after_promote {
            self.run_adm(&["attach", self.res()])
        } else {
            // drbdadm adjust of a resource that is down brings it up whole.
            self.run_adm(&["adjust", self.res()])
        }
    }

    fn wait_devices(&self) -> Result<(), OcfError> {
        loop {
            let missing: Vec<String> = self
                .minors
                .iter()
                .map(|m| format!("/dev/drbd{m}"))
                .filter(|d| !self.host.is_block(d))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if self.ctx.deadline.expired() {
                return Err(generic!(
                    "expected device nodes did not appear in time: {}",
                    missing.join(" ")
                ));
            }
            self.sleep_a_little();
        }
    }

    fn holders(&self) -> String {
        let h: Vec<String> = self
            .minors
            .iter()
            .flat_map(|m| {
                self.host
                    .holders(*m)
                    .into_iter()
                    .map(move |x| format!("/dev/drbd{m}: {x}"))
            })
            .collect();
        if h.is_empty() {
            String::new()
        } else {
            format!("; held by {}", h.join(", "))
        }
    }

    fn notify_var(&self, name: &str) -> Vec<String> {
        self.ctx
            .env
            .meta(&format!("notify_{name}"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// stop_outdates_secondary: outdate ourselves while the notification
    /// variables say another node stays Promoted.
    fn maybe_outdate_self(&self, o: &Observed) {
        if !self.cfg.stop_outdates_secondary {
            return;
        }
        let me = self.host.hostname();
        let mut masters = self.notify_var("master_uname");
        masters.extend(self.notify_var("promoted_uname"));
        let Some(host) = masters.into_iter().find(|h| !h.eq_ignore_ascii_case(&me)) else {
            return;
        };
        if self.notify_var("stop_uname").contains(&host) {
            return;
        }
        if o.flags.primary {
            log::error!(
                "resource internal split brain: both {me} and {host} are Primary for {}, but \
                 the replication link is down",
                self.res()
            );
            return;
        }
        log::info!("outdating {}: '{host}' is still Promoted", self.res());
        if let Err(e) = self.run_adm(&["outdate", self.res()]) {
            log::warn!("{e}");
        }
        self.remove_score();
    }
}

/// A node attribute's name for a resource: `drbd-RES-what`.
fn attr_name(res: &str, what: &str) -> String {
    format!(
        "drbd-{}-{what}",
        res.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_' && c != '.',
            "_"
        )
    )
}

fn tuner<'a>(ctx: &'a Ctx, cfg: &'a Config, tree: &'a tune::Tree) -> tune::Tuner<'a> {
    tune::Tuner {
        tree,
        runner: ctx.runner,
        record: tune::record_path(ctx.state.dir()),
        user: &cfg.resource,
        cfg: &cfg.tune,
    }
}

/// How long the tuning may wait for the record's lock.
fn tune_limit(ctx: &Ctx) -> Duration {
    (ctx.deadline.remaining() / 4).min(Duration::from_secs(10))
}

/// Why DRBD's links are live: a connection of any resource of this node up
/// or connecting (the live-link knobs are then left alone).
fn drbd_live(ctx: &Ctx, host: &dyn Host, v9: bool) -> Option<String> {
    if v9 {
        let out = ctx
            .runner
            .run(&Cmd::new("drbdsetup").args(["events2", "--now"]))
            .ok()?;
        return out.stdout.lines().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.first() != Some(&"exists") || w.get(1) != Some(&"connection") {
                return None;
            }
            let get = |k: &str| w.iter().find_map(|x| x.strip_prefix(k));
            let cs = get("connection:")?;
            (cs != "StandAlone")
                .then(|| format!("DRBD resource {} is {cs}", get("name:").unwrap_or("?")))
        });
    }
    let text = host.proc_drbd()?;
    state::parse_proc_drbd(&text)
        .into_iter()
        .find(|m| !m.cs.is_empty() && m.cs != "StandAlone" && m.cs != "Unconfigured")
        .map(|m| format!("DRBD minor {} is {}", m.minor, m.cs))
}

/// start: the tuning, before DRBD connects. Warnings only.
fn tune_start(ctx: &Ctx, cfg: &Config, host: &dyn Host, v9: bool) {
    let tree = host.tree();
    let t = tuner(ctx, cfg, &tree);
    let live = if cfg.tune.has_link_knobs() {
        t.link_live(drbd_live(ctx, host, v9))
    } else {
        None
    };
    for w in t.apply(live, tune_limit(ctx)) {
        log::warn!("{}: tuning: {w}", cfg.resource);
    }
    if let (true, Some(nic)) = (cfg.tune.soft_roce, &cfg.tune.nic) {
        rdma_transport(ctx, cfg, host, &tree, nic, v9);
    }
    if let (Some(nic), Some(_)) = (&cfg.tune.nic, cfg.tune.mtu) {
        check_peer_mtu(ctx, cfg, &tree, nic);
    }
}

/// soft_roce on DRBD 9: the resource's transport from `drbdadm dump`, the
/// RDMA transport module loaded before DRBD connects when the resource asks
/// for it, and this node's address checked to be on the NIC. Warnings only.
fn rdma_transport(
    ctx: &Ctx,
    cfg: &Config,
    host: &dyn Host,
    tree: &tune::Tree,
    nic: &str,
    v9: bool,
) {
    if !v9 {
        log::warn!(
            "{}: tuning: soft_roce: DRBD 8.4 has no RDMA transport; it replicates over TCP",
            cfg.resource
        );
        return;
    }
    let cmd = drbdadm(cfg).args(["dump", cfg.resource.as_str()]);
    let out = match ctx.runner.run(&cmd) {
        Ok(o) => o,
        Err(e) => {
            log::warn!("{}: tuning: soft_roce: {e}", cfg.resource);
            return;
        }
    };
    let t = rdma::parse_dump(&out.stdout, &host.hostname());
    let addrs: Vec<std::net::IpAddr> = tree.nic_addrs(nic).into_iter().map(|(a, _)| a).collect();
    let (load, warnings) = rdma::plan(&t, &cfg.resource, nic, &addrs);
    for w in warnings {
        log::warn!("{}: tuning: {w}", cfg.resource);
    }
    if load {
        match ctx
            .runner
            .run(&Cmd::new("modprobe").arg("drbd_transport_rdma"))
        {
            Ok(_) => log::info!(
                "{}: tuning: DRBD's RDMA transport loaded for rxe_{nic}",
                cfg.resource
            ),
            Err(e) => log::warn!(
                "{}: tuning: soft_roce: the RDMA transport cannot be loaded: {e}",
                cfg.resource
            ),
        }
    }
}

/// Publishes this node's MTU of the replication NIC and compares it with
/// the peers' (under Pacemaker).
fn check_peer_mtu(ctx: &Ctx, cfg: &Config, tree: &tune::Tree, nic: &str) {
    if !crate::ocf::attrs::under_pacemaker(ctx.env) {
        return;
    }
    let Ok(mine) = tree.read(&format!("/sys/class/net/{nic}/mtu")) else {
        return;
    };
    let mine = mine.trim().to_string();
    let name = attr_name(&cfg.resource, "mtu");
    NodeAttr {
        name: &name,
        cache: "mtu-attr",
        refresh: ATTR_REFRESH,
    }
    .report(ctx, &mine);
    let cmd = Cmd::new("attrd_updater")
        .args(["-Q", "-A", "-n", name.as_str()])
        .timeout(Duration::from_secs(5));
    let Ok(out) = ctx.runner.run(&cmd) else {
        return;
    };
    for (host, value) in tune::parse_attrd_all(&out.stdout) {
        if !value.is_empty() && value != mine {
            log::warn!(
                "{}: MTU of {nic} is {mine} here, {value} on {host}: frames above the \
                 smaller one are dropped",
                cfg.resource
            );
        }
    }
}

/// stop: the tuning restored, once DRBD is down. Warnings only.
fn tune_stop(ctx: &Ctx, cfg: &Config, host: &dyn Host) {
    let tree = host.tree();
    let t = tuner(ctx, cfg, &tree);
    // What the record holds is restored even if the parameters asking for
    // it were removed since the start.
    if cfg.tune.is_empty() && !t.holds_any() {
        return;
    }
    for w in t.restore(tune_limit(ctx)) {
        log::warn!("{}: tuning: {w}", cfg.resource);
    }
    for (what, cache) in [("tuning", "tuning-attr"), ("mtu", "mtu-attr")] {
        let name = attr_name(&cfg.resource, what);
        NodeAttr {
            name: &name,
            cache,
            refresh: ATTR_REFRESH,
        }
        .clear(ctx);
    }
    let _ = std::fs::remove_file(ctx.state.path("tuning-drift"));
    let _ = std::fs::remove_file(ctx.state.path("tuning-checked"));
    let _ = std::fs::remove_file(ctx.state.path("tuning-program-drift"));
}

/// How often a monitor also checks the knobs only a program shows (qdisc).
const TUNE_PROGRAM_CHECK: Duration = Duration::from_secs(300);

/// monitor: drift from the applied tuning goes to the log (when it
/// changes), to the node attribute drbd-RES-tuning; never a failure.
fn tune_monitor(ctx: &Ctx, cfg: &Config, host: &dyn Host, d: &Drbd) {
    let tree = host.tree();
    let t = tuner(ctx, cfg, &tree);
    let stamp = ctx.state.path("tuning-checked");
    let due = ctx.is_probe()
        || std::fs::metadata(&stamp)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| m.elapsed().ok())
            .map_or(true, |age| age >= TUNE_PROGRAM_CHECK);
    // What only a program shows (qdisc, DRBD options) is checked when due
    // and remembered in between, so the report does not flap.
    let by_program = |x: &tune::Drift| x.key.starts_with("qdisc:") || x.key.starts_with("drbd:");
    let kept = ctx.state.path("tuning-program-drift");
    let (mut drift, _) = t.verify(due && cfg.tune.qdisc.is_some());
    if due {
        drift.extend(d.drbd_option_drift());
        let found: Vec<&tune::Drift> = drift.iter().filter(|x| by_program(x)).collect();
        let _ = ctx.state.ensure();
        let _ = std::fs::write(&kept, serde_json::to_string(&found).unwrap_or_default());
        let _ = std::fs::write(&stamp, "");
    } else if let Some(old) = std::fs::read_to_string(&kept)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<tune::Drift>>(&t).ok())
    {
        drift.extend(old);
    }
    let line = if drift.is_empty() {
        "ok".to_string()
    } else {
        let parts: Vec<String> = drift
            .iter()
            .map(|d| format!("{} is {} (applied {})", d.what, d.now, d.expected))
            .collect();
        format!("drift: {}", parts.join("; "))
    };
    let path = ctx.state.path("tuning-drift");
    let old = std::fs::read_to_string(&path).ok();
    if old.as_deref() != Some(line.as_str()) {
        if drift.is_empty() {
            if old.is_some() {
                log::info!("{}: tuning as applied again", cfg.resource);
            }
        } else {
            log::warn!("{}: tuning {line}", cfg.resource);
        }
        let _ = ctx.state.ensure();
        let _ = std::fs::write(&path, &line);
    }
    let name = attr_name(&cfg.resource, "tuning");
    NodeAttr {
        name: &name,
        cache: "tuning-attr",
        refresh: ATTR_REFRESH,
    }
    .report(ctx, &line);
}

/// validate-all: conflicts with other resources' tuning (an error) and DRBD
/// options that lose data under a write-back cache (a warning).
fn tune_validate(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let tree = host.tree();
    let t = tuner(ctx, cfg, &tree);
    let conflicts = t.conflicts();
    if !conflicts.is_empty() {
        return Err(configured!(
            "conflicting tuning on this node: {}",
            conflicts.join("; ")
        ));
    }
    let dump = ctx
        .runner
        .run(&drbdadm(cfg).args(["dump", cfg.resource.as_str()]))
        .map(|o| o.stdout)
        .unwrap_or_default();
    let bad = tune::unsafe_flush_options(&dump);
    if bad.is_empty() {
        return Ok(());
    }
    let devs = ctx
        .runner
        .run(&drbdadm(cfg).args(["sh-ll-dev", cfg.resource.as_str()]))
        .map(|o| o.stdout)
        .unwrap_or_default();
    for dev in devs.split_whitespace() {
        let why = match tune::write_back_cache(&tree, dev) {
            Some(true) => "has a write-back cache",
            Some(false) => continue,
            None => "could not be checked for a write-back cache",
        };
        log::warn!(
            "{}: {} with backing device {dev}, which {why}: a power failure loses \
             acknowledged writes (dm-writeboost below DRBD is such a cache)",
            cfg.resource,
            bad.join(", ")
        );
    }
    Ok(())
}

/// The loaded module's version, for actions that need the resource up.
fn loaded(host: &dyn Host) -> Result<Version, OcfError> {
    host.module_version().ok_or_else(|| {
        generic!("the DRBD kernel module is not loaded: the resource is not started")
    })
}

fn start_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let mut version = host.module_version();
    if version.is_none() {
        let parms = ctx
            .runner
            .run(&drbdadm(cfg).arg("sh-mod-parms"))
            .map(|o| o.stdout)
            .unwrap_or_default();
        ctx.runner
            .run(
                &Cmd::new("modprobe")
                    .args(["-s", "drbd"])
                    .args(parms.split_whitespace()),
            )
            .map_err(|e| OcfError::NotInstalled(format!("Cannot load the drbd module: {e}")))?;
        version = host.module_version();
    }
    let Some(version) = version else {
        return Err(OcfError::NotInstalled(
            "the drbd module was loaded, but /proc/drbd shows no version".into(),
        ));
    };
    let d = Drbd::new(ctx, cfg, host, version)?;
    if !cfg.tune.is_empty() {
        tune_start(ctx, cfg, host, d.v9);
    }
    let mut first = true;
    let mut attach_failed = false;
    let mut last_err: Option<OcfError> = None;
    loop {
        let o = d.observe()?;
        match o.health() {
            Health::NotRunning => {
                if first {
                    let _ = d.run_adm(&["check-resize", d.res()]);
                }
                if let Err(e) = d.attach() {
                    if !first {
                        return Err(generic!("failed to attach: {e}"));
                    }
                    attach_failed = true;
                    last_err = Some(e);
                } else {
                    d.wait_devices()?;
                }
            }
            Health::RunningPromoted => {
                log::warn!("{} already Primary, demoting", d.res());
                if let Err(e) = d.run_adm(&["secondary", d.res()]) {
                    last_err = Some(e);
                }
            }
            _ => {
                if attach_failed {
                    d.attach().map_err(|e| generic!("failed to attach: {e}"))?;
                }
                if !cfg.connect_only_after_promote {
                    d.connect()?;
                }
                d.apply_drbd_options();
                let o = d.observe()?;
                d.report(&o);
                d.update_score(&o);
                return Ok(());
            }
        }
        if d.ctx.deadline.expired() {
            return Err(generic!(
                "start of {} did not finish in time{}",
                d.res(),
                last_err.map(|e| format!(": {e}")).unwrap_or_default()
            ));
        }
        if !first {
            d.sleep_a_little();
        }
        first = false;
    }
}

fn monitor_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<Health, OcfError> {
    let Some(version) = host.module_version() else {
        return Ok(Health::NotRunning);
    };
    let d = Drbd::new(ctx, cfg, host, version)?;
    let o = d.observe()?;
    let h = o.health();
    if h == Health::NotRunning && ctx.is_probe() {
        return Ok(h);
    }
    if h != Health::NotRunning {
        d.report(&o);
        if !cfg.tune.is_empty() || !cfg.drbd_net.is_empty() || !cfg.drbd_disk.is_empty() {
            tune_monitor(ctx, cfg, host, &d);
        }
    }
    d.update_score(&o);
    Ok(h)
}

fn promote_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let began = Instant::now();
    let d = Drbd::new(ctx, cfg, host, loaded(host)?)?;
    let result = promote_loop(&d);
    if result.is_err() {
        let spent = began.elapsed();
        if spent < PROMOTE_MIN {
            let wait = (PROMOTE_MIN - spent).min(ctx.deadline.remaining());
            log::warn!(
                "promotion failed; waiting {:.0} s to prevent a tight recovery loop",
                wait.as_secs_f64()
            );
            host.sleep(wait);
        }
    }
    result
}

fn promote_loop(d: &Drbd) -> Result<(), OcfError> {
    let mut first = true;
    let mut last: Option<String> = None;
    loop {
        let o = d.observe()?;
        match o.health() {
            Health::NotRunning => {
                return Err(generic!("cannot promote a resource that was not started"))
            }
            Health::RunningPromoted => {
                if d.cfg.connect_only_after_promote {
                    d.run_adm(&["adjust", d.res()])?;
                    d.apply_drbd_options();
                }
                return Ok(());
            }
            _ => {
                let f = &o.flags;
                if !first
                    && promoted_max(d.ctx) == 1
                    && f.some_peer_primary
                    && d.pcmk_primary_peer().is_none()
                {
                    if d.cfg.fail_promote_early_if_peer_primary {
                        d.remove_score();
                        return Err(generic!("Peer node already/still Primary"));
                    }
                    log::info!(
                        "peer node already/still Primary, promote will likely fail or need \
                         several attempts; retrying"
                    );
                }
                match d.ctx.runner.output(&d.adm(&["primary", d.res()])) {
                    Ok(out) if out.status == 0 => {}
                    Ok(out) if out.status == NO_UPTODATE_DATA => {
                        return Err(generic!(
                            "Refusing to be promoted to Primary without access to UpToDate data"
                        ))
                    }
                    Ok(out) => {
                        last = Some(format!(
                            "drbdadm primary {}: exit {}: {}",
                            d.res(),
                            out.status,
                            out.stderr.trim().lines().last().unwrap_or("")
                        ))
                    }
                    Err(e) => last = Some(e.to_string()),
                }
            }
        }
        if d.ctx.deadline.expired() {
            return Err(generic!(
                "promote of {} did not succeed in time{}",
                d.res(),
                last.map(|e| format!(": {e}")).unwrap_or_default()
            ));
        }
        if !first {
            d.sleep_a_little();
        }
        first = false;
    }
}

fn demote_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let d = Drbd::new(ctx, cfg, host, loaded(host)?)?;
    let mut first = true;
    let mut last: Option<OcfError> = None;
    loop {
        let o = d.observe()?;
        match o.health() {
            Health::NotRunning => {
                return Err(generic!(
                    "trying to demote {}, which was not started",
                    d.res()
                ))
            }
            Health::RunningPromoted => {
                if let Err(e) = d.run_adm(&["secondary", d.res()]) {
                    last = Some(e);
                }
            }
            _ => {
                d.update_score(&o);
                return Ok(());
            }
        }
        if ctx.deadline.expired() {
            return Err(generic!(
                "demote of {} did not succeed in time{}{}",
                d.res(),
                last.map(|e| format!(": {e}")).unwrap_or_default(),
                d.holders()
            ));
        }
        if !first {
            d.sleep_a_little();
        }
        first = false;
    }
}

fn stop_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let Some(version) = host.module_version() else {
        promotion().apply(ctx, None);
        tune_stop(ctx, cfg, host);
        return Ok(());
    };
    let d = match Drbd::new(ctx, cfg, host, version) {
        Ok(d) => d,
        Err(e) => return stop_without_config(ctx, cfg, host, e),
    };
    let mut first = true;
    let mut last: Option<OcfError> = None;
    let mut seen: Option<Observed> = None;
    loop {
        let o = d.observe()?;
        match o.health() {
            Health::NotRunning => {
                // Also releases a half-configured resource (no minor yet).
                let _ = d.run_adm(&["down", d.res()]);
                break;
            }
            Health::Running => {
                if let Err(e) = d.run_adm(&["down", d.res()]) {
                    last = Some(e);
                }
            }
            _ => {
                log::warn!("{} still Primary, demoting", d.res());
                if let Err(e) = d.run_adm(&["secondary", d.res()]) {
                    last = Some(e);
                }
            }
        }
        seen = Some(o);
        if ctx.deadline.expired() {
            return Err(generic!(
                "{} is still up at the end of the stop timeout{}{}",
                d.res(),
                last.map(|e| format!(": {e}")).unwrap_or_default(),
                d.holders()
            ));
        }
        if !first {
            d.sleep_a_little();
        }
        first = false;
    }
    if let Some(o) = seen {
        d.maybe_outdate_self(&o);
    }
    d.remove_score();
    let _ = std::fs::remove_file(ctx.state.path("minors"));
    let _ = std::fs::remove_file(ctx.state.path("replication"));
    let _ = std::fs::remove_file(ctx.state.path("split-brain"));
    let name = d.repl_attr();
    NodeAttr {
        name: &name,
        cache: "replication-attr",
        refresh: ATTR_REFRESH,
    }
    .clear(ctx);
    tune_stop(ctx, cfg, host);
    Ok(())
}

/// LINBIT's last resort: the configuration cannot be read on stop, so the
/// resource is taken down by name with drbdsetup, that the node is not
/// fenced for a failed stop. Success is reported as the (softened)
/// configuration error, a failure as a failed stop.
fn stop_without_config(
    ctx: &Ctx,
    cfg: &Config,
    host: &dyn Host,
    e: OcfError,
) -> Result<(), OcfError> {
    if host.module_version().is_none() {
        // No module loaded: nothing of DRBD can be up.
        return Err(e);
    }
    log::error!(
        "{e} on stop; trying drbdsetup down {} directly to avoid fencing",
        cfg.resource
    );
    match ctx
        .runner
        .run(&Cmd::new("drbdsetup").args(["down", cfg.resource.as_str()]))
    {
        Ok(_) => {
            log::error!("fencing of this node narrowly avoided; fix the DRBD configuration");
            promotion().apply(ctx, None);
            tune_stop(ctx, cfg, host);
            Err(e)
        }
        // A resource the kernel does not know is down already.
        Err(CmdError::Failed { stderr, .. })
            if stderr.contains("nknown resource") || stderr.contains("No such resource") =>
        {
            promotion().apply(ctx, None);
            tune_stop(ctx, cfg, host);
            Err(e)
        }
        Err(down) => Err(generic!("{e}; and drbdsetup down failed: {down}")),
    }
}

fn notify_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let Some(version) = host.module_version() else {
        return Ok(());
    };
    let kind = ctx.env.meta("notify_type").unwrap_or_default();
    let op = ctx.env.meta("notify_operation").unwrap_or_default();
    let d = Drbd::new(ctx, cfg, host, version)?;
    // Notifications go to active instances; a resource that is down here
    // is not brought up by one.
    if d.observe()?.health() == Health::NotRunning {
        return Ok(());
    }
    if op == "start" && !cfg.connect_only_after_promote {
        d.run_adm(&["adjust", d.res()])?;
        d.apply_drbd_options();
    }
    if kind == "post" {
        let o = d.observe()?;
        if o.health() != Health::NotRunning {
            d.report(&o);
            d.update_score(&o);
            if o.flags.pdsk_any_unknown {
                d.maybe_outdate_self(&o);
            }
        }
    }
    Ok(())
}

fn reload_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let d = Drbd::new(ctx, cfg, host, loaded(host)?)?;
    let o = d.observe()?;
    if o.health() != Health::NotRunning {
        d.run_adm(&["adjust", d.res()])?;
        d.apply_drbd_options();
    }
    let o = d.observe()?;
    d.update_score(&o);
    Ok(())
}

/// LINBIT's validation, in its order, before every action but meta-data.
fn validate_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    if !host.readable(&cfg.drbdconf) {
        return Err(OcfError::NotInstalled(format!(
            "Configuration file {} does not exist or is not readable",
            cfg.drbdconf
        )));
    }
    let Some(v) = module_version(ctx, host) else {
        return Err(OcfError::NotInstalled(
            "DRBD kernel (module) not available".into(),
        ));
    };
    if let Some(ge) = cfg.version_ge {
        if v < ge {
            return Err(OcfError::NotInstalled(format!(
                "required DRBD kernel (module) version >= {ge}, but found {v}"
            )));
        }
    }
    if let Some(lt) = cfg.version_lt {
        if v >= lt {
            return Err(OcfError::NotInstalled(format!(
                "required DRBD kernel (module) version < {lt}, but found {v}"
            )));
        }
    }
    let v9 = v >= Version(9, 0, 0);
    if ctx.action != Action::Stop {
        meta_expect(
            ctx,
            "clone-node-max",
            &["clone_node_max"],
            Some(1),
            |n| n == 1,
            "= 1",
        )?;
        meta_expect(
            ctx,
            "promoted-node-max",
            &["promoted_node_max", "master_node_max"],
            Some(1),
            |n| n == 1,
            "= 1",
        )?;
        meta_expect(
            ctx,
            "promoted-max",
            &["promoted_max", "master_max"],
            Some(1),
            |n| n <= 2,
            "<= 2",
        )?;
        if !v9 || promoted_max(ctx) == 2 {
            meta_expect(ctx, "clone-max", &["clone_max"], None, |n| n <= 2, "<= 2")?;
        }
    }
    if let Some(why) = &cfg.scores_fallback {
        log::error!("{why}; falling back to the default 0 10 1000 10000");
    }
    let needs_notify = matches!(ctx.action, Action::Start | Action::Promote);
    if needs_notify && promoted_max(ctx) > 1 {
        let dump = ctx
            .runner
            .run(&drbdadm(cfg).args(["dump", cfg.resource.as_str()]))
            .map(|o| o.stdout)
            .unwrap_or_default();
        let allows = dump.lines().any(|l| {
            let t = l.trim();
            t == "allow-two-primaries;" || t == "allow-two-primaries yes;"
        });
        if !allows {
            return Err(configured!(
                "promoted-max > 1, but DRBD resource {} does not allow-two-primaries",
                cfg.resource
            ));
        }
    }
    if needs_notify && !cfg.ignore_missing_notifications {
        let notify = ctx.env.meta("notify").is_some_and(crate::ocf::env::is_true);
        if !notify && ctx.env.meta("notify_start_uname").is_none() {
            return Err(configured!(
                "you really should enable notify when using this agent (or set \
                 ignore_missing_notifications=true)"
            ));
        }
    }
    if ctx.action == Action::ValidateAll {
        config_minors(ctx, cfg, host)?;
        if !cfg.tune.is_empty() {
            tune_validate(ctx, cfg, host)?;
        }
    }
    if let Some(on) = ctx.env.meta("on_node") {
        let me = host.hostname();
        if !on.is_empty() && !me.is_empty() && !on.eq_ignore_ascii_case(&me) {
            log::warn!(
                "Pacemaker calls this node '{on}', its host name is '{me}': DRBD's 'on' \
                 sections match the host name; use the same names in both"
            );
        }
    }
    Ok(())
}

fn observe_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<serde_json::Value, OcfError> {
    let Some(version) = host.module_version() else {
        return Ok(serde_json::json!({ "resource": cfg.resource, "module_loaded": false }));
    };
    let d = Drbd::new(ctx, cfg, host, version)?;
    let mut o = d.observe()?;
    if d.v9 {
        // The admin view may cost a second call: status --json carries the
        // resync percentage on every DRBD 9 version.
        let cmd = Cmd::new("drbdsetup").args(["status", "--json", cfg.resource.as_str()]);
        if let Some(r) = ctx
            .runner
            .run(&cmd)
            .ok()
            .and_then(|out| state::parse_status_json(&out.stdout, &cfg.resource))
        {
            o.summary = Summary::from_9(&r);
        }
    }
    let dec = d.decision(&o);
    let split_brain = d.split_brain(&o);
    let drbd_options = !cfg.drbd_net.is_empty() || !cfg.drbd_disk.is_empty();
    let tuning = if cfg.tune.is_empty() && !drbd_options {
        serde_json::Value::Null
    } else {
        let tree = host.tree();
        let t = tuner(ctx, cfg, &tree);
        let (mut drift, mine) = t.verify(true);
        drift.extend(d.drbd_option_drift());
        let mut warn = Vec::new();
        let missing: Vec<String> = t
            .wants(&mut warn)
            .into_iter()
            .filter(|w| !mine.iter().any(|e| e.what == w.what))
            .map(|w| w.what)
            .collect();
        serde_json::json!({
            "applied": mine.iter().map(|e| serde_json::json!({
                "what": e.what,
                "original": e.original.trim(),
                "wanted": e.wanted,
                "applied": e.applied,
                "users": e.users,
            })).collect::<Vec<_>>(),
            "drift": drift,
            "not_applied": missing,
            "warnings": warn,
        })
    };
    Ok(serde_json::json!({
        "tuning": tuning,
        "split_brain": split_brain,
        "split_brain_resolution": split_brain.as_ref().map(|_| splitbrain::advice(&cfg.resource)),
        "resource": cfg.resource,
        "version": version.to_string(),
        "minors": d.minors,
        "state": o.summary,
        "degraded": o.summary.degraded_reason(),
        "score": match dec.op {
            ScoreOp::Set(n) => serde_json::json!(n),
            ScoreOp::Remove => serde_json::Value::Null,
            ScoreOp::Leave => serde_json::json!("unchanged"),
        },
        "score_reason": dec.why,
    }))
}

impl Agent for DrbdTuned {
    type Config = Config;

    fn meta() -> &'static AgentMeta {
        &params::META
    }

    fn config(p: &Params) -> Result<Config, OcfError> {
        Config::from_params(p)
    }

    fn validate(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        match validate_with(ctx, cfg, &System) {
            Err(e) if ctx.action == Action::Stop && e.is_environment() => {
                stop_without_config(ctx, cfg, &System, e)
            }
            r => r,
        }
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

    fn promote(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        promote_with(ctx, cfg, &System)
    }

    fn demote(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        demote_with(ctx, cfg, &System)
    }

    fn notify(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        notify_with(ctx, cfg, &System)
    }

    fn reload(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        reload_with(ctx, cfg, &System)
    }

    fn observe(ctx: &Ctx, cfg: &Config) -> Result<serde_json::Value, OcfError> {
        observe_with(ctx, cfg, &System)
    }
}
