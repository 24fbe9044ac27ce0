// SPDX-License-Identifier: GPL-2.0-or-later
//! The actions against a fake host (a scripted /proc/drbd) and the strict
//! fake runner: the exact drbdadm, drbdsetup and crm_attribute calls, the
//! exit codes and the reasons.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::cmd::{FakeRunner, Output, Runner};
use crate::ocf::{Deadline, OcfEnv, StateDir};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

const HEAD: &str = "version: 8.4.11 (api:1/proto:86-101)\nsrcversion: 211FB288A383ED945B83420\n";
const HEAD9: &str = "version: 9.2.12 (api:2/proto:86-122)\n";

fn p84(line: &str) -> String {
    format!(
        "{HEAD} 0: {line}\n    ns:0 nr:0 dw:0 dr:0 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0\n"
    )
}

const PRIMARY: &str = "cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----";
const SECONDARY: &str = "cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----";
const WFC: &str = "cs:WFConnection ro:Secondary/Unknown ds:UpToDate/DUnknown C r-----";
const STANDALONE_PRIMARY: &str = "cs:StandAlone ro:Primary/Unknown ds:UpToDate/DUnknown   r-----";

/// /proc/drbd as a sequence: each read takes the next text, the last stays.
struct FakeHost {
    proc: RefCell<VecDeque<Option<String>>>,
    slept: Cell<Duration>,
    holders: Vec<String>,
    kmsg: Vec<String>,
    /// A fake sysfs/procfs root for the tuning, `None`: none is touched.
    root: Option<std::path::PathBuf>,
}

impl FakeHost {
    fn new(seq: &[Option<String>]) -> Self {
        FakeHost {
            proc: RefCell::new(seq.iter().cloned().collect()),
            slept: Cell::new(Duration::ZERO),
            holders: Vec::new(),
            kmsg: Vec::new(),
            root: None,
        }
    }
    fn states(lines: &[&str]) -> Self {
        let seq: Vec<Option<String>> = lines
            .iter()
            .map(|l| {
                Some(if l.is_empty() {
                    HEAD.to_string()
                } else {
                    p84(l)
                })
            })
            .collect();
        Self::new(&seq)
    }
}

impl Host for FakeHost {
    /// From the first text, without taking it; a leading "not loaded" is
    /// taken (the next check sees the module that was loaded meanwhile).
    fn module_version(&self) -> Option<Version> {
        let mut q = self.proc.borrow_mut();
        if q.len() > 1 && q.front().is_some_and(Option::is_none) {
            q.pop_front();
            return None;
        }
        q.front()
            .cloned()
            .flatten()
            .as_deref()
            .and_then(state::proc_version)
    }
    fn proc_drbd(&self) -> Option<String> {
        let mut q = self.proc.borrow_mut();
        if q.len() > 1 {
            q.pop_front().flatten()
        } else {
            q.front().cloned().flatten()
        }
    }
    fn is_block(&self, _: &str) -> bool {
        true
    }
    fn readable(&self, path: &str) -> bool {
        path == "/etc/drbd.conf"
    }
    fn holders(&self, _: u32) -> Vec<String> {
        self.holders.clone()
    }
    fn hostname(&self) -> String {
        "node1".into()
    }
    fn sleep(&self, d: Duration) {
        self.slept.set(self.slept.get() + d);
    }
    fn kernel_log(&self) -> Vec<String> {
        self.kmsg.clone()
    }
    fn tree(&self) -> tune::Tree {
        // Without a fake tree, one that does not exist: nothing to tune.
        let root = self
            .root
            .clone()
            .unwrap_or_else(|| "/nonexistent/storha-test-root".into());
        tune::Tree::fake(&root, Vec::new())
    }
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

struct Setup {
    env: OcfEnv,
    params: Params,
    cfg: Config,
    deadline: Deadline,
}

fn setup(extra: &[(&str, &str)], pacemaker: bool) -> Setup {
    let dir = std::env::temp_dir().join(format!(
        "storha-drbd-test-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    let mut pairs: Vec<(String, String)> = vec![
        ("OCF_RESKEY_drbd_resource".into(), "r0".into()),
        ("OCF_RESOURCE_INSTANCE".into(), "p_drbd:0".into()),
        ("HA_RSCTMP".into(), dir.to_string_lossy().into_owned()),
    ];
    for (k, v) in extra {
        let key = if k.starts_with("CRM_meta_") || k.starts_with("OCF_") {
            if k.starts_with("OCF_") {
                k.to_string()
            } else {
                format!("OCF_RESKEY_{k}")
            }
        } else {
            format!("OCF_RESKEY_{k}")
        };
        pairs.push((key, v.to_string()));
    }
    if pacemaker {
        pairs.push(("OCF_RESKEY_crm_feature_set".into(), "3.16.2".into()));
    }
    let env = OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let params = Params::from_env(params::PARAMS, &env).expect("valid parameters");
    let cfg = Config::from_params(&params).expect("valid configuration");
    Setup {
        env,
        params,
        cfg,
        deadline: Deadline::after(Duration::from_secs(30)),
    }
}

impl Setup {
    fn ctx<'a>(&'a self, runner: &'a dyn Runner, action: Action) -> Ctx<'a> {
        Ctx {
            agent: "drbd-tuned",
            instance: "p_drbd:0".into(),
            action,
            env: &self.env,
            params: self.params.clone(),
            deadline: self.deadline,
            state: StateDir::new(&self.env, "drbd-tuned", "p_drbd:0"),
            runner,
        }
    }
    fn cache_minors(&self) {
        let s = StateDir::new(&self.env, "drbd-tuned", "p_drbd:0");
        s.ensure().unwrap();
        std::fs::write(s.path("minors"), "0").unwrap();
    }
    fn age(&self, suffix: &str) {
        let s = StateDir::new(&self.env, "drbd-tuned", "p_drbd:0");
        let f = std::fs::File::options()
            .write(true)
            .open(s.path(suffix))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
    }
}

const SH_MINOR: &str = "drbdadm -c /etc/drbd.conf sh-minor r0";
const RECURRING: (&str, &str) = ("CRM_meta_interval", "10000");
const SET_10000: &str = "crm_attribute --promotion -l reboot -v 10000";
const SET_1000: &str = "crm_attribute --promotion -l reboot -v 1000";
const GET: &str = "crm_attribute --promotion -l reboot -G -q";
const DEL: &str = "crm_attribute --promotion -l reboot -D";
const WAIT: &str = "drbdsetup wait-connect /dev/drbd0 --wfc-timeout=5 --degr-wfc-timeout=5 --outdated-wfc-timeout=5";

fn out(stdout: &str) -> Result<Output, CmdError> {
    Ok(Output {
        status: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    })
}

#[test]
fn recurring_monitor_on_84_runs_no_program_and_never_fails_for_replication_states() {
    let s = setup(&[RECURRING], false);
    s.cache_minors();
    for (line, want) in [
        (PRIMARY, Health::RunningPromoted),
        (SECONDARY, Health::Running),
        (WFC, Health::Running),
        (STANDALONE_PRIMARY, Health::RunningPromoted),
        (
            "cs:SyncTarget ro:Secondary/Primary ds:Inconsistent/UpToDate C r-----",
            Health::Running,
        ),
        (
            "cs:WFConnection ro:Secondary/Unknown ds:Outdated/DUnknown C r-----",
            Health::Running,
        ),
        ("cs:Unconfigured", Health::NotRunning),
        ("", Health::NotRunning),
    ] {
        let r = FakeRunner::new();
        let h = FakeHost::states(&[line]);
        assert_eq!(
            monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap(),
            want,
            "{line}"
        );
        assert!(r.calls().is_empty(), "{line}: {:?}", r.calls());
    }
    let r = FakeRunner::new();
    let h = FakeHost::new(&[None]);
    assert_eq!(
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap(),
        Health::NotRunning
    );
}

#[test]
fn the_score_is_written_when_it_changes_and_again_after_a_purge() {
    let s = setup(&[RECURRING], true);
    s.cache_minors();
    let mon = |r: &FakeRunner, line: &str| {
        let h = FakeHost::states(&[line]);
        monitor_with(&s.ctx(r, Action::Monitor), &s.cfg, &h).unwrap()
    };
    let attr =
        "attrd_updater -n drbd-r0-replication -U 'Secondary UpToDate; Connected Primary UpToDate'";
    let r = FakeRunner::new().ok(attr, "").ok(SET_10000, "");
    assert_eq!(mon(&r, SECONDARY), Health::Running);
    // Unchanged and fresh: no program at all.
    let r = FakeRunner::new();
    mon(&r, SECONDARY);
    assert!(r.calls().is_empty(), "{:?}", r.calls());
    // Unchanged but old: one cheap read; Pacemaker purged it, so write again.
    s.age("score");
    let r = FakeRunner::new()
        .fails(
            GET,
            105,
            "Error performing operation: No such device or address",
        )
        .ok(SET_10000, "");
    mon(&r, SECONDARY);
    // Old again and still there: the read is all.
    s.age("score");
    let r = FakeRunner::new().ok(GET, "10000\n");
    mon(&r, SECONDARY);
    // Changed: written at once (the peer went away: local_ok).
    let attr = "attrd_updater -n drbd-r0-replication -U 'Secondary UpToDate; WFConnection Unknown DUnknown'";
    let r = FakeRunner::new().ok(attr, "").ok(SET_1000, "");
    mon(&r, WFC);
}

#[test]
fn a_hung_attribute_manager_does_not_fail_the_monitor() {
    let s = setup(&[RECURRING], true);
    s.cache_minors();
    let attr =
        "attrd_updater -n drbd-r0-replication -U 'Primary UpToDate; Connected Secondary UpToDate'";
    let r = FakeRunner::new()
        .answer(
            attr,
            Err(CmdError::Timeout {
                cmd: "attrd_updater".into(),
                secs: 5.0,
            }),
        )
        .answer(
            SET_10000,
            Err(CmdError::Timeout {
                cmd: "crm_attribute".into(),
                secs: 17.0,
            }),
        );
    let h = FakeHost::states(&[PRIMARY]);
    assert_eq!(
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap(),
        Health::RunningPromoted
    );
    // Nothing cached: the next monitor tries again.
    let r = FakeRunner::new().ok(attr, "").ok(SET_10000, "");
    monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap();
}

#[test]
fn probe_of_a_resource_missing_from_the_configuration_is_an_environment_error() {
    let s = setup(&[], false);
    let r = FakeRunner::new().fails(
        SH_MINOR,
        10,
        "'r0' not defined in your config (for this host).",
    );
    let h = FakeHost::states(&[""]);
    let e = monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap_err();
    // The framework turns this into 7 on a probe and 5 otherwise.
    assert_eq!(e.status().code(), 5);
    assert!(e.is_environment());
    let why = e.to_string();
    assert!(
        why.contains("not found in configuration file /etc/drbd.conf"),
        "{why}"
    );
    assert!(
        why.contains("this node is 'node1'") && why.contains("same node names"),
        "{why}"
    );
}

#[test]
fn start_brings_the_resource_up_connects_and_scores() {
    let s = setup(&[], true);
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf check-resize r0", "")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok(WAIT, "")
        .ok("attrd_updater -n drbd-r0-replication -U 'Secondary UpToDate; Connected Primary UpToDate'", "")
        .ok(SET_10000, "");
    let h = FakeHost::states(&["", WFC, SECONDARY]);
    start_with(&s.ctx(&r, Action::Start), &s.cfg, &h).unwrap();
}

#[test]
fn start_loads_the_module_and_demotes_a_primary() {
    let s = setup(&[("wfc_timeout", "none")], false);
    let r = FakeRunner::new()
        .ok("drbdadm -c /etc/drbd.conf sh-mod-parms", "minor_count=8\n")
        .ok("modprobe -s drbd minor_count=8", "")
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf secondary r0", "")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "");
    // Not loaded, then (after modprobe) found Primary, then Secondary.
    let h = FakeHost::new(&[None, Some(p84(STANDALONE_PRIMARY)), Some(p84(WFC))]);
    start_with(&s.ctx(&r, Action::Start), &s.cfg, &h).unwrap();
    // A module that cannot be loaded: OCF_ERR_INSTALLED.
    let r = FakeRunner::new()
        .ok("drbdadm -c /etc/drbd.conf sh-mod-parms", "")
        .fails(
            "modprobe -s drbd",
            1,
            "modprobe: FATAL: Module drbd not found",
        );
    let h = FakeHost::new(&[None]);
    let e = start_with(&s.ctx(&r, Action::Start), &s.cfg, &h).unwrap_err();
    assert_eq!(e.status().code(), 5);
    assert!(e.to_string().contains("Cannot load the drbd module"), "{e}");
}

#[test]
fn promote_gives_up_at_once_without_uptodate_data_and_waits_out_15_s() {
    let s = setup(&[], false);
    let r = FakeRunner::new().ok(SH_MINOR, "0\n").fails(
        "drbdadm -c /etc/drbd.conf primary r0",
        17,
        "0: State change failed: (-2) Need access to UpToDate data",
    );
    let h =
        FakeHost::states(&["cs:WFConnection ro:Secondary/Unknown ds:Outdated/DUnknown C r-----"]);
    let e = promote_with(&s.ctx(&r, Action::Promote), &s.cfg, &h).unwrap_err();
    assert!(
        e.to_string().contains("without access to UpToDate data"),
        "{e}"
    );
    assert!(
        h.slept.get() > Duration::from_secs(14),
        "{:?}",
        h.slept.get()
    );
    assert!(h.slept.get() <= PROMOTE_MIN);

    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf primary r0", "");
    let h = FakeHost::states(&[WFC, STANDALONE_PRIMARY]);
    promote_with(&s.ctx(&r, Action::Promote), &s.cfg, &h).unwrap();
    assert_eq!(h.slept.get(), Duration::ZERO);

    let r = FakeRunner::new().ok(SH_MINOR, "0\n");
    let h = FakeHost::states(&[""]);
    let e = promote_with(&s.ctx(&r, Action::Promote), &s.cfg, &h).unwrap_err();
    assert!(e.to_string().contains("not started"), "{e}");
}

#[test]
fn promote_fails_early_when_a_peer_is_primary_unknown_to_pacemaker() {
    let s = setup(&[("fail_promote_early_if_peer_primary", "true")], true);
    let locate = "crm_resource --resource p_drbd --locate";
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .fails(
            "drbdadm -c /etc/drbd.conf primary r0",
            11,
            "0: State change failed: (-1) Multiple primaries not allowed by config",
        )
        .ok(
            locate,
            "resource p_drbd is running on: node1\nresource p_drbd is running on: node2\n",
        )
        .ok(DEL, "");
    let h = FakeHost::states(&[SECONDARY]);
    let e = promote_with(&s.ctx(&r, Action::Promote), &s.cfg, &h).unwrap_err();
    assert!(
        e.to_string().contains("Peer node already/still Primary"),
        "{e}"
    );
}

#[test]
fn stop_demotes_downs_and_removes_the_score() {
    let s = setup(&[], true);
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf secondary r0", "")
        .ok("drbdadm -c /etc/drbd.conf down r0", "")
        .ok("drbdadm -c /etc/drbd.conf down r0", "")
        .ok(DEL, "")
        .ok("attrd_updater -n drbd-r0-replication -D", "");
    let h = FakeHost::states(&[PRIMARY, SECONDARY, ""]);
    stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap();
    // Already down: still success, even if drbdadm down complains (the
    // score is known to be removed already).
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .fails("drbdadm -c /etc/drbd.conf down r0", 10, "no such resource")
        .ok("attrd_updater -n drbd-r0-replication -D", "");
    let h = FakeHost::states(&[""]);
    stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap();
    // No module at all: nothing to stop, no drbdadm; the score goes.
    let s = setup(&[], true);
    let r = FakeRunner::new().ok(DEL, "");
    stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &FakeHost::new(&[None])).unwrap();
}

#[test]
fn stop_that_runs_out_of_time_names_what_holds_the_device() {
    let mut s = setup(&[], false);
    s.deadline = Deadline::after(Duration::ZERO);
    let r = FakeRunner::new().ok(SH_MINOR, "0\n").fails(
        "drbdadm -c /etc/drbd.conf down r0",
        11,
        "0: State change failed: (-12) Device is held open by someone",
    );
    let mut h = FakeHost::states(&[SECONDARY]);
    h.holders = vec!["mount /srv/nfs".into(), "nfsd (pid 812)".into()];
    let e = stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap_err();
    let why = e.to_string();
    assert_eq!(e.status().code(), 1);
    assert!(why.contains("held open by someone"), "{why}");
    assert!(
        why.contains("held by /dev/drbd0: mount /srv/nfs, /dev/drbd0: nfsd (pid 812)"),
        "{why}"
    );
}

#[test]
fn stop_with_a_broken_configuration_still_takes_the_device_down() {
    let s = setup(&[], false);
    let r = FakeRunner::new()
        .fails(SH_MINOR, 1, "drbd.d/r0.res:3: parse error")
        .ok("drbdsetup down r0", "");
    let h = FakeHost::states(&[SECONDARY]);
    let e = stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap_err();
    // An environment error: the framework answers 0 for stop.
    assert!(e.is_environment(), "{e}");
    let r = FakeRunner::new().fails(SH_MINOR, 1, "parse error").fails(
        "drbdsetup down r0",
        11,
        "Device is held open by someone",
    );
    let e = stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap_err();
    assert!(
        !e.is_environment() && e.to_string().contains("drbdsetup down failed"),
        "{e}"
    );
    // The kernel does not know the resource: it is down, the stop succeeds.
    let r = FakeRunner::new()
        .fails(
            SH_MINOR,
            10,
            "'r0' not defined in your config (for this host).",
        )
        .fails(
            "drbdsetup down r0",
            10,
            "r0: Failure: (158) Unknown resource",
        );
    let e = stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap_err();
    assert!(e.is_environment(), "{e}");
}

#[test]
fn notify_adjusts_on_start_and_rescores_after_transitions() {
    let s = setup(
        &[
            ("CRM_meta_notify_type", "pre"),
            ("CRM_meta_notify_operation", "start"),
        ],
        false,
    );
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "");
    notify_with(
        &s.ctx(&r, Action::Notify),
        &s.cfg,
        &FakeHost::states(&[WFC]),
    )
    .unwrap();
    // Down here: a notification brings nothing up.
    let r = FakeRunner::new().ok(SH_MINOR, "0\n");
    notify_with(&s.ctx(&r, Action::Notify), &s.cfg, &FakeHost::states(&[""])).unwrap();
    let s = setup(
        &[
            ("CRM_meta_notify_type", "post"),
            ("CRM_meta_notify_operation", "promote"),
        ],
        true,
    );
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("attrd_updater -n drbd-r0-replication -U 'Secondary UpToDate; Connected Primary UpToDate'", "")
        .ok(SET_10000, "");
    notify_with(
        &s.ctx(&r, Action::Notify),
        &s.cfg,
        &FakeHost::states(&[SECONDARY]),
    )
    .unwrap();
}

#[test]
fn demote_and_its_end_state() {
    let s = setup(&[], false);
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf secondary r0", "");
    demote_with(
        &s.ctx(&r, Action::Demote),
        &s.cfg,
        &FakeHost::states(&[PRIMARY, SECONDARY]),
    )
    .unwrap();
    // ocf:linbit:drbd 9.22 answers OCF_ERR_GENERIC to the demote of a
    // resource that is down (later upstream versions answer 7).
    let r = FakeRunner::new().ok(SH_MINOR, "0\n");
    let e = demote_with(&s.ctx(&r, Action::Demote), &s.cfg, &FakeHost::states(&[""])).unwrap_err();
    assert_eq!(e.status().code(), 1, "{e}");
}

#[test]
fn drbd9_monitor_makes_one_drbdsetup_call_and_drops_the_score_without_quorum() {
    let s = setup(&[RECURRING], true);
    s.cache_minors();
    let ev = include_str!("fixtures/e9-quorum-lost.txt");
    let line = "Secondary UpToDate (no quorum); node1 Connecting Unknown DUnknown Off; node3 Connecting Unknown DUnknown Off";
    let r = FakeRunner::new()
        .answer("drbdsetup events2 --now --statistics r0", out(ev))
        .ok(
            &format!("attrd_updater -n drbd-r0-replication -U '{line}'"),
            "",
        )
        .ok(DEL, "");
    let h = FakeHost::new(&[Some(HEAD9.into())]);
    assert_eq!(
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap(),
        Health::Running
    );
    let s = setup(&[RECURRING], false);
    s.cache_minors();
    let r = FakeRunner::new().answer(
        "drbdsetup events2 --now --statistics r0",
        out(include_str!("fixtures/e9-connected-primary.txt")),
    );
    assert_eq!(
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &h).unwrap(),
        Health::RunningPromoted
    );
}

fn validate(
    extra: &[(&str, &str)],
    action: Action,
    proc: &str,
    runner: &FakeRunner,
) -> Result<(), OcfError> {
    let s = setup(extra, false);
    let h = FakeHost::new(&[Some(proc.to_string())]);
    validate_with(&s.ctx(runner, action), &s.cfg, &h)
}

#[test]
fn validation_follows_linbit() {
    let ok = [("CRM_meta_clone_max", "2"), ("CRM_meta_notify", "true")];
    let r = FakeRunner::new();
    validate(&ok, Action::Start, HEAD, &r).unwrap();
    let code = |e: Result<(), OcfError>| {
        e.map_err(|e| (e.status().code(), e.to_string()))
            .unwrap_err()
    };
    let (c, why) = code(validate(
        &[("CRM_meta_notify", "true")],
        Action::Start,
        HEAD,
        &r,
    ));
    assert_eq!(c, 6);
    assert!(
        why.contains("expected clone-max <= 2, but found unset"),
        "{why}"
    );
    // DRBD 9 and one Promoted: any clone-max.
    validate(
        &[("CRM_meta_notify", "true"), ("CRM_meta_clone_max", "3")],
        Action::Start,
        HEAD9,
        &r,
    )
    .unwrap();
    let (c, why) = code(validate(
        &[("CRM_meta_notify", "true"), ("CRM_meta_clone_max", "3")],
        Action::Start,
        HEAD,
        &r,
    ));
    assert!(c == 6 && why.contains("found 3"), "{why}");
    let (c, why) = code(validate(
        &[
            ("CRM_meta_clone_max", "2"),
            ("CRM_meta_clone_node_max", "2"),
        ],
        Action::Start,
        HEAD,
        &r,
    ));
    assert!(c == 6 && why.contains("clone-node-max = 1"), "{why}");
    let (c, why) = code(validate(
        &[("CRM_meta_clone_max", "2")],
        Action::Start,
        HEAD,
        &r,
    ));
    assert!(c == 6 && why.contains("enable notify"), "{why}");
    validate(
        &[
            ("CRM_meta_clone_max", "2"),
            ("ignore_missing_notifications", "true"),
        ],
        Action::Start,
        HEAD,
        &r,
    )
    .unwrap();
    // Monitor and stop do not need notify; stop skips the meta checks.
    validate(&[("CRM_meta_clone_max", "2")], Action::Monitor, HEAD, &r).unwrap();
    validate(&[], Action::Stop, HEAD, &r).unwrap();
    let (c, why) = code(validate(
        &[("require_drbd_module_version_ge", "9.0.16")],
        Action::Stop,
        HEAD,
        &r,
    ));
    assert!(
        c == 5 && why.contains(">= 9.0.16, but found 8.4.11"),
        "{why}"
    );
    let (c, why) = code(validate(
        &[("drbdconf", "/etc/other.conf")],
        Action::Monitor,
        HEAD,
        &r,
    ));
    assert!(
        c == 5 && why.contains("/etc/other.conf does not exist or is not readable"),
        "{why}"
    );
    // Two Promoted need allow-two-primaries in the resource.
    let two = [
        ("CRM_meta_clone_max", "2"),
        ("CRM_meta_notify", "true"),
        ("CRM_meta_promoted_max", "2"),
    ];
    let r = FakeRunner::new().ok(
        "drbdadm -c /etc/drbd.conf dump r0",
        "resource r0 {\n    net {\n        protocol C;\n    }\n}\n",
    );
    let (c, why) = code(validate(&two, Action::Promote, HEAD, &r));
    assert!(c == 6 && why.contains("allow-two-primaries"), "{why}");
    let r = FakeRunner::new().ok(
        "drbdadm -c /etc/drbd.conf dump r0",
        "    net {\n        allow-two-primaries yes;\n    }\n",
    );
    validate(&two, Action::Promote, HEAD, &r).unwrap();
    // validate-all also checks that the resource is configured.
    let r = FakeRunner::new().fails(SH_MINOR, 10, "no resources defined!");
    let (c, _) = code(validate(&ok, Action::ValidateAll, HEAD, &r));
    assert_eq!(c, 5);
    // Not loaded: modinfo tells the version.
    let s = setup(&[], false);
    let r = FakeRunner::new().ok("modinfo -F version drbd", "8.4.11\n");
    validate_with(&s.ctx(&r, Action::Stop), &s.cfg, &FakeHost::new(&[None])).unwrap();
    let r = FakeRunner::new().fails(
        "modinfo -F version drbd",
        1,
        "modinfo: ERROR: Module drbd not found.",
    );
    let e = validate_with(&s.ctx(&r, Action::Stop), &s.cfg, &FakeHost::new(&[None])).unwrap_err();
    assert_eq!(e.status().code(), 5);
}

#[test]
fn split_brain_comes_from_the_kernel_log_never_from_standalone_alone() {
    let s = setup(&[RECURRING], false);
    s.cache_minors();
    let sb_path = StateDir::new(&s.env, "drbd-tuned", "p_drbd:0").path("split-brain");
    let observe = |h: &FakeHost| {
        let r = FakeRunner::new();
        let ctx = s.ctx(&r, Action::Monitor);
        assert_eq!(
            monitor_with(&ctx, &s.cfg, h).unwrap(),
            Health::RunningPromoted
        );
        assert!(r.calls().is_empty(), "{:?}", r.calls());
        let r = FakeRunner::new();
        observe_with(&s.ctx(&r, Action::Monitor), &s.cfg, h).unwrap()
    };
    // A plain disconnect: StandAlone, and the kernel says nothing more.
    let mut h = FakeHost::states(&[STANDALONE_PRIMARY]);
    h.kmsg = vec![
        "drbd r0: conn( WFReportParams -> Connected )".into(),
        "drbd r0: conn( Disconnecting -> StandAlone )".into(),
    ];
    let v = observe(&h);
    assert_eq!(v["split_brain"], serde_json::Value::Null, "{v}");
    assert!(!sb_path.exists());
    // DRBD's own message: reported, with the resolution, and remembered.
    h.kmsg
        .push("block drbd0: Split-Brain detected but unresolved, dropping connection!".into());
    let v = observe(&h);
    assert_eq!(
        v["split_brain"],
        "block drbd0: Split-Brain detected but unresolved, dropping connection!"
    );
    assert!(v["split_brain_resolution"]
        .as_str()
        .unwrap()
        .contains("drbdadm connect --discard-my-data r0"));
    h.kmsg.clear();
    assert!(
        observe(&h)["split_brain"].is_string(),
        "kept after the log rotated"
    );
    // Connected again (resolved by the operator): gone.
    let r = FakeRunner::new();
    monitor_with(
        &s.ctx(&r, Action::Monitor),
        &s.cfg,
        &FakeHost::states(&[PRIMARY]),
    )
    .unwrap();
    assert!(!sb_path.exists());
}

#[test]
fn split_brain_from_drbds_handler_is_reported_for_this_boot_until_connected() {
    let s = setup(&[RECURRING], false);
    s.cache_minors();
    let dir = std::path::PathBuf::from(s.env.rsctmp());
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("proc/sys/kernel/random")).unwrap();
    std::fs::write(root.join("proc/sys/kernel/random/boot_id"), "b1\n").unwrap();
    let host = |line: &str| {
        let mut h = FakeHost::states(&[line]);
        h.root = Some(root.clone());
        h
    };
    let observe = |h: &FakeHost| {
        let r = FakeRunner::new();
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, h).unwrap();
        assert!(r.calls().is_empty(), "{:?}", r.calls());
        observe_with(&s.ctx(&r, Action::Monitor), &s.cfg, h).unwrap()
    };
    let call = splitbrain::HandlerCall {
        resource: "r0".into(),
        minor: Some("0".into()),
        peer: None,
    };
    // A marker of an earlier boot is not this boot's split brain.
    splitbrain::record(&dir, &call, "b0", 1).unwrap();
    assert_eq!(
        observe(&host(STANDALONE_PRIMARY))["split_brain"],
        serde_json::Value::Null
    );
    // The handler ran in this boot: reported without a kernel message.
    splitbrain::record(&dir, &call, "b1", 1_700_000_000).unwrap();
    let v = observe(&host(STANDALONE_PRIMARY));
    assert!(
        v["split_brain"]
            .as_str()
            .unwrap()
            .starts_with("DRBD's split-brain handler ran for r0"),
        "{v}"
    );
    assert!(v["split_brain_resolution"]
        .as_str()
        .unwrap()
        .contains("--discard-my-data r0"));
    // Resolved and connected again: the marker goes with the report.
    observe(&host(PRIMARY));
    assert!(!splitbrain::marker_path(&dir, "r0").exists());
    assert_eq!(
        observe(&host(STANDALONE_PRIMARY))["split_brain"],
        serde_json::Value::Null
    );
}

#[test]
fn drbd_options_go_over_the_configuration_after_every_adjust() {
    let s = setup(
        &[
            ("drbd_max_buffers", "8000"),
            ("drbd_sndbuf_size", "2M"),
            ("drbd_al_extents", "3389"),
        ],
        false,
    );
    let net = "drbdadm -c /etc/drbd.conf net-options --max-buffers=8000 --sndbuf-size=2M r0";
    let disk = "drbdadm -c /etc/drbd.conf disk-options --al-extents=3389 r0";
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok(WAIT, "")
        .ok(net, "")
        .fails(disk, 10, "al-extents: out of range");
    // Already up: start connects (adjust) and applies the options; a
    // refused option is a warning, not a failed start.
    start_with(&s.ctx(&r, Action::Start), &s.cfg, &FakeHost::states(&[WFC])).unwrap();
    // A peer's start notification adjusts, and the options come back on top.
    let n = setup(
        &[
            ("drbd_max_buffers", "8000"),
            ("drbd_sndbuf_size", "2M"),
            ("drbd_al_extents", "3389"),
            ("CRM_meta_notify_type", "pre"),
            ("CRM_meta_notify_operation", "start"),
        ],
        false,
    );
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok(net, "")
        .ok(disk, "");
    notify_with(
        &n.ctx(&r, Action::Notify),
        &n.cfg,
        &FakeHost::states(&[SECONDARY]),
    )
    .unwrap();
    for bad in ["8000x", "-1", "1.5", "M"] {
        let p = Params::from_pairs(
            params::PARAMS,
            &[("drbd_resource", "r0"), ("drbd_max_buffers", bad)],
        )
        .unwrap();
        assert!(Config::from_params(&p).is_err(), "{bad}");
    }
    let p = Params::from_pairs(
        params::PARAMS,
        &[("drbd_resource", "r0"), ("drbd_ko_count", "2M")],
    )
    .unwrap();
    assert!(Config::from_params(&p).is_err(), "no unit for ko-count");
}

#[test]
fn tuning_through_the_actions_start_monitor_stop_and_validate() {
    let s = setup(&[RECURRING, ("net_core_rmem_max", "67108864")], false);
    let root = std::env::temp_dir().join(format!(
        "storha-drbd-tune-root-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put("proc/sys/kernel/random/boot_id", "b1\n");
    put("proc/sys/net/core/rmem_max", "212992\n");
    let rmem = || std::fs::read_to_string(root.join("proc/sys/net/core/rmem_max")).unwrap();
    let host = |line: &str| {
        let mut h = FakeHost::states(&[line]);
        h.root = Some(root.clone());
        h
    };
    // Start of a resource already up (no attach): tuned, then connected.
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok(WAIT, "");
    start_with(&s.ctx(&r, Action::Start), &s.cfg, &host(WFC)).unwrap();
    assert_eq!(rmem(), "67108864\n");
    // Drift: never a failure, no program.
    put("proc/sys/net/core/rmem_max", "4096\n");
    let r = FakeRunner::new();
    assert_eq!(
        monitor_with(&s.ctx(&r, Action::Monitor), &s.cfg, &host(SECONDARY)).unwrap(),
        Health::Running
    );
    assert!(r.calls().is_empty());
    let drift = StateDir::new(&s.env, "drbd-tuned", "p_drbd:0").path("tuning-drift");
    assert_eq!(
        std::fs::read_to_string(drift).unwrap(),
        "drift: net.core.rmem_max is 4096 (applied 67108864)"
    );
    // Another resource asking a different value: validate-all says so.
    let other = setup(
        &[("drbd_resource", "r1"), ("net_core_rmem_max", "8388608")],
        false,
    );
    let other_env = {
        let mut pairs: Vec<(String, String)> = vec![];
        for (k, v) in [
            ("OCF_RESKEY_drbd_resource", "r1"),
            ("OCF_RESKEY_net_core_rmem_max", "8388608"),
            ("OCF_RESOURCE_INSTANCE", "p_r1:0"),
            ("OCF_RESKEY_CRM_meta_clone_max", "2"),
        ] {
            pairs.push((k.into(), v.into()));
        }
        pairs.push(("HA_RSCTMP".into(), s.env.rsctmp().into()));
        OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    };
    let params = Params::from_env(params::PARAMS, &other_env).unwrap();
    let cfg = Config::from_params(&params).unwrap();
    let r = FakeRunner::new().ok("drbdadm -c /etc/drbd.conf sh-minor r1", "1\n");
    let ctx = Ctx {
        agent: "drbd-tuned",
        instance: "p_r1:0".into(),
        action: Action::ValidateAll,
        env: &other_env,
        params,
        deadline: other.deadline,
        state: StateDir::new(&other_env, "drbd-tuned", "p_r1:0"),
        runner: &r,
    };
    let e = validate_with(&ctx, &cfg, &host(SECONDARY)).unwrap_err();
    assert_eq!(e.status().code(), 6);
    assert!(
        e.to_string().contains(
            "net.core.rmem_max: DRBD resource r0 uses '67108864', this one asks '8388608'"
        ),
        "{e}"
    );
    // Stop: down, then restored exactly.
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        .ok("drbdadm -c /etc/drbd.conf down r0", "")
        .ok("drbdadm -c /etc/drbd.conf down r0", "");
    let mut h = FakeHost::states(&[SECONDARY, ""]);
    h.root = Some(root.clone());
    stop_with(&s.ctx(&r, Action::Stop), &s.cfg, &h).unwrap();
    assert_eq!(rmem(), "212992\n");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_mtu_is_set_before_attaching_and_published_for_the_peers() {
    let s = setup(&[("replication_nic", "eth1"), ("mtu", "9000")], true);
    let root = std::env::temp_dir().join(format!(
        "storha-drbd-mtu-root-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    for (rel, text) in [
        ("proc/sys/kernel/random/boot_id", "b1\n"),
        ("sys/class/net/eth1/mtu", "1500\n"),
    ] {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let r = FakeRunner::new()
        .ok(SH_MINOR, "0\n")
        // Tuned and published before anything of DRBD is brought up.
        .ok("attrd_updater -n drbd-r0-mtu -U 9000", "")
        .ok(
            "attrd_updater -Q -A -n drbd-r0-mtu",
            "name=\"drbd-r0-mtu\" host=\"node1\" value=\"9000\"\nname=\"drbd-r0-mtu\" host=\"node2\" value=\"1500\"\n",
        )
        .ok("drbdadm -c /etc/drbd.conf check-resize r0", "")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok("drbdadm -c /etc/drbd.conf adjust r0", "")
        .ok(WAIT, "")
        .ok(
            "attrd_updater -n drbd-r0-replication -U 'Secondary UpToDate; Connected Primary UpToDate'",
            "",
        )
        .ok(SET_10000, "");
    // /proc/drbd: no DRBD link up when the tuning looks, then the start.
    let mut h = FakeHost::states(&["", "", WFC, SECONDARY]);
    h.root = Some(root.clone());
    start_with(&s.ctx(&r, Action::Start), &s.cfg, &h).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("sys/class/net/eth1/mtu")).unwrap(),
        "9000\n"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn soft_roce_on_drbd9_loads_the_rdma_transport_the_resource_asks_for() {
    let s = setup(&[("replication_nic", "eth1"), ("soft_roce", "true")], false);
    let dump = include_str!("fixtures/dump9-rdma.txt").replace(" vm", " node1");
    let root = std::path::PathBuf::from("/nonexistent/storha-test-root");
    let on_nic = tune::Tree::fake(
        &root,
        vec![("eth1".into(), "10.0.2.1".parse().unwrap(), 24)],
    );
    let h = FakeHost::new(&[None]);
    let r = FakeRunner::new()
        .ok("drbdadm -c /etc/drbd.conf dump r0", &dump)
        .ok("modprobe drbd_transport_rdma", "");
    rdma_transport(&s.ctx(&r, Action::Start), &s.cfg, &h, &on_nic, "eth1", true);
    assert_eq!(
        r.calls(),
        [
            "drbdadm -c /etc/drbd.conf dump r0",
            "modprobe drbd_transport_rdma"
        ]
    );
    // The tcp transport: nothing loaded (a warning says how to use the link).
    let tcp = include_str!("fixtures/dump9-tcp.txt").replace(" vm", " node1");
    let r = FakeRunner::new().ok("drbdadm -c /etc/drbd.conf dump r0", &tcp);
    rdma_transport(&s.ctx(&r, Action::Start), &s.cfg, &h, &on_nic, "eth1", true);
    assert_eq!(r.calls(), ["drbdadm -c /etc/drbd.conf dump r0"]);
    // DRBD 8.4: no program at all.
    let r = FakeRunner::new();
    rdma_transport(
        &s.ctx(&r, Action::Start),
        &s.cfg,
        &h,
        &on_nic,
        "eth1",
        false,
    );
    assert!(r.calls().is_empty());
}
