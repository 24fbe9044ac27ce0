// SPDX-License-Identifier: GPL-2.0-or-later
//! The action loop and the agent entry against a scripted power strip and
//! a clock that only pretends to sleep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

#[derive(Default)]
struct FakeClock {
    now: Cell<Duration>,
    sleeps: RefCell<Vec<Duration>>,
}

impl Clock for FakeClock {
    fn elapsed(&self) -> Duration {
        self.now.get()
    }
    fn sleep(&self, d: Duration) {
        self.now.set(self.now.get() + d);
        self.sleeps.borrow_mut().push(d);
    }
}

/// A strip whose outlets follow orders after `lag` status reads, except
/// the `stuck` ones; `ignore_sets` orders are dropped first.
#[derive(Default)]
struct FakeStrip {
    state: BTreeMap<String, Power>,
    pending: BTreeMap<String, (Power, u32)>,
    stuck: Vec<String>,
    lag: u32,
    ignore_sets: u32,
    fail_status: Option<FenceError>,
    fail_set: Option<FenceError>,
    calls: Vec<String>,
}

impl FakeStrip {
    fn with(plugs: &[(&str, Power)]) -> Self {
        FakeStrip {
            state: plugs.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
            ..Default::default()
        }
    }
}

impl PowerSwitch for FakeStrip {
    fn status(&mut self, plug: &str) -> Result<Power, FenceError> {
        self.calls.push(format!("status {plug}"));
        if let Some(e) = &self.fail_status {
            return Err(e.clone());
        }
        if let Some((p, n)) = self.pending.get_mut(plug) {
            if *n == 0 {
                let p = *p;
                self.state.insert(plug.to_string(), p);
                self.pending.remove(plug);
            } else {
                *n -= 1;
            }
        }
        self.state
            .get(plug)
            .copied()
            .ok_or_else(|| FenceError::Device(format!("no outlet {plug}")))
    }
    fn set(&mut self, plug: &str, power: Power) -> Result<(), FenceError> {
        self.calls.push(format!("set {plug} {power}"));
        if let Some(e) = &self.fail_set {
            return Err(e.clone());
        }
        if self.ignore_sets > 0 {
            self.ignore_sets -= 1;
            return Ok(());
        }
        if !self.stuck.iter().any(|s| s == plug) {
            self.pending.insert(plug.to_string(), (power, self.lag));
        }
        Ok(())
    }
    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        Ok(self
            .state
            .iter()
            .map(|(p, s)| Outlet {
                plug: p.clone(),
                alias: format!("outlet{p}"),
                power: if p == "9" { None } else { Some(*s) },
            })
            .collect())
    }
}

fn cfg(plugs: &[&str]) -> LoopCfg {
    LoopCfg {
        plugs: plugs.iter().map(|s| s.to_string()).collect(),
        power_wait: Duration::from_secs(2),
        power_timeout: Some(Duration::from_secs(20)),
        status_sleep: Duration::from_secs(1),
        retry_on: 1,
        separator: ",".into(),
        method: Method::OnOff,
    }
}

use Power::{Off, On};

#[test]
fn off_switches_waits_and_confirms() {
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.lag = 3;
    let clock = FakeClock::default();
    let d = execute(Action::Off, &mut sw, &cfg(&["1"]), &clock).expect("off");
    assert_eq!(d, Done::ok("Success: Powered OFF"));
    assert_eq!(sw.state["1"], Off);
    // status first, then the order, then power_wait, then polls 1 s apart.
    assert_eq!(sw.calls[0], "status 1");
    assert_eq!(sw.calls[1], "set 1 OFF");
    let sleeps = clock.sleeps.borrow();
    assert_eq!(sleeps[0], Duration::from_secs(2), "power_wait after set");
    assert!(sleeps[1..].iter().all(|s| *s == Duration::from_secs(1)));
    assert_eq!(sw.calls.iter().filter(|c| *c == "status 1").count(), 5);
}

#[test]
fn already_in_state_sends_nothing() {
    let mut sw = FakeStrip::with(&[("1", Off)]);
    let d = execute(Action::Off, &mut sw, &cfg(&["1"]), &FakeClock::default()).expect("off");
    assert_eq!(d.stdout, "Success: Already OFF\n");
    assert!(sw.calls.iter().all(|c| c.starts_with("status")));
    let mut sw = FakeStrip::with(&[("1", On)]);
    let d = execute(Action::On, &mut sw, &cfg(&["1"]), &FakeClock::default()).expect("on");
    assert_eq!(d.stdout, "Success: Already ON\n");
}

#[test]
fn status_exit_codes() {
    let c = FakeClock::default();
    let mut sw = FakeStrip::with(&[("1", On), ("2", Off)]);
    let d = execute(Action::Status, &mut sw, &cfg(&["1"]), &c).expect("status");
    assert_eq!((d.code, d.stdout.as_str()), (0, "Status: ON\n"));
    let d = execute(Action::Status, &mut sw, &cfg(&["2"]), &c).expect("status");
    assert_eq!((d.code, d.stdout.as_str()), (2, "Status: OFF\n"));
    // Dual supplies: one on means the node runs.
    let d = execute(Action::Status, &mut sw, &cfg(&["1", "2"]), &c).expect("status");
    assert_eq!(d.code, 0);
    assert!(sw.calls.iter().all(|c| !c.starts_with("set")));
}

#[test]
fn a_stuck_outlet_times_out_and_never_succeeds() {
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.stuck = vec!["1".into()];
    let clock = FakeClock::default();
    let e = execute(Action::Off, &mut sw, &cfg(&["1"]), &clock).expect_err("stuck");
    assert!(
        matches!(e, FenceError::NotConfirmed { state: Off, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("plug(s) 1 to power OFF"), "{e}");
    let t = clock.now.get();
    assert!(
        t >= Duration::from_secs(22) && t <= Duration::from_secs(24),
        "{t:?}"
    );
    // And reboot fails the same way: the off half decides.
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.stuck = vec!["1".into()];
    let e = execute(Action::Reboot, &mut sw, &cfg(&["1"]), &FakeClock::default());
    assert!(e.is_err());
    assert!(
        !sw.calls.iter().any(|c| c == "set 1 ON"),
        "no power-on after a failed off"
    );
}

#[test]
fn every_plug_must_be_off() {
    let mut sw = FakeStrip::with(&[("1", On), ("2", On)]);
    sw.stuck = vec!["2".into()];
    let e = execute(
        Action::Off,
        &mut sw,
        &cfg(&["1", "2"]),
        &FakeClock::default(),
    );
    assert!(matches!(e, Err(FenceError::NotConfirmed { .. })));
    assert_eq!(sw.state["1"], Off);
    let mut sw = FakeStrip::with(&[("1", On), ("2", Off)]);
    let d = execute(
        Action::Off,
        &mut sw,
        &cfg(&["1", "2"]),
        &FakeClock::default(),
    )
    .expect("off");
    assert_eq!(d.stdout, "Success: Powered OFF\n");
    // A mixed strip is not "already on" either.
    let mut sw = FakeStrip::with(&[("1", On), ("2", Off)]);
    let d = execute(
        Action::On,
        &mut sw,
        &cfg(&["1", "2"]),
        &FakeClock::default(),
    )
    .expect("on");
    assert_eq!(d.stdout, "Success: Powered ON\n");
    assert_eq!((sw.state["1"], sw.state["2"]), (On, On));
}

#[test]
fn reboot_is_off_then_on_and_on_failure_only_logged() {
    let mut sw = FakeStrip::with(&[("1", On)]);
    let d = execute(Action::Reboot, &mut sw, &cfg(&["1"]), &FakeClock::default()).expect("reboot");
    assert_eq!(d, Done::ok("Success: Rebooted"));
    let sets: Vec<&String> = sw.calls.iter().filter(|c| c.starts_with("set")).collect();
    assert_eq!(sets, ["set 1 OFF", "set 1 ON"]);
    assert_eq!(sw.state["1"], On);
    // Already off: no second off order.
    let mut sw = FakeStrip::with(&[("1", Off)]);
    execute(Action::Reboot, &mut sw, &cfg(&["1"]), &FakeClock::default()).expect("reboot");
    let sets: Vec<&String> = sw.calls.iter().filter(|c| c.starts_with("set")).collect();
    assert_eq!(sets, ["set 1 ON"]);
    // The on half failing after a confirmed off: still fenced.
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.lag = 0;
    let mut c = cfg(&["1"]);
    c.retry_on = 1;
    struct OffOnly(FakeStrip);
    impl PowerSwitch for OffOnly {
        fn status(&mut self, p: &str) -> Result<Power, FenceError> {
            self.0.status(p)
        }
        fn set(&mut self, p: &str, s: Power) -> Result<(), FenceError> {
            if s == On {
                return Err(FenceError::Device("relay jammed".into()));
            }
            self.0.set(p, s)
        }
        fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
            self.0.list()
        }
    }
    let mut sw = OffOnly(sw);
    let d = execute(Action::Reboot, &mut sw, &c, &FakeClock::default()).expect("reboot");
    assert_eq!(d.code, 0);
    assert_eq!(sw.0.state["1"], Off);
}

#[test]
fn on_is_retried_retry_on_times() {
    let mut sw = FakeStrip::with(&[("1", Off)]);
    sw.ignore_sets = 1;
    let mut c = cfg(&["1"]);
    c.power_timeout = Some(Duration::from_secs(3));
    let d = execute(Action::On, &mut sw, &c, &FakeClock::default()).expect("on");
    assert_eq!(d.stdout, "Success: Powered ON\n");
    assert_eq!(sw.calls.iter().filter(|c| *c == "set 1 ON").count(), 2);
    let mut sw = FakeStrip::with(&[("1", Off)]);
    sw.ignore_sets = 1;
    c.retry_on = 0;
    assert!(execute(Action::On, &mut sw, &c, &FakeClock::default()).is_err());
}

#[test]
fn device_errors_fail_the_action() {
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.fail_status = Some(FenceError::Connect("connection refused".into()));
    let e = execute(Action::Status, &mut sw, &cfg(&["1"]), &FakeClock::default());
    assert_eq!(e, Err(FenceError::Connect("connection refused".into())));
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.fail_set = Some(FenceError::Auth("wrong password".into()));
    let e = execute(Action::Off, &mut sw, &cfg(&["1"]), &FakeClock::default());
    assert!(matches!(e, Err(FenceError::Auth(_))));
    let mut sw = FakeStrip::with(&[("1", On)]);
    let e = execute(Action::Off, &mut sw, &cfg(&[]), &FakeClock::default());
    assert!(matches!(e, Err(FenceError::Usage(_))));
}

#[test]
fn list_and_list_status() {
    let mut sw = FakeStrip::with(&[("1", On), ("2", Off), ("9", Off)]);
    let mut c = cfg(&[]);
    let d = execute(Action::List, &mut sw, &c, &FakeClock::default()).expect("list");
    assert_eq!(d.stdout, "1,outlet1\n2,outlet2\n9,outlet9\n");
    c.separator = ";".into();
    let d = execute(Action::ListStatus, &mut sw, &c, &FakeClock::default()).expect("list");
    assert_eq!(d.stdout, "1;outlet1;ON\n2;outlet2;OFF\n9;outlet9;UNKNOWN\n");
    let d = execute(Action::Monitor, &mut sw, &c, &FakeClock::default()).expect("monitor");
    assert_eq!(d.code, 0);
}

// The agent entry, with a strip shared through a thread-local because the
// agent's constructor is a plain function.
thread_local!(static STRIP: RefCell<Option<FakeStrip>> = const { RefCell::new(None) });

struct Shared;
impl PowerSwitch for Shared {
    fn status(&mut self, p: &str) -> Result<Power, FenceError> {
        STRIP
            .with(|s| s.borrow_mut().as_mut().map(|s| s.status(p)))
            .unwrap_or(Err(FenceError::Connect("no strip".into())))
    }
    fn set(&mut self, p: &str, v: Power) -> Result<(), FenceError> {
        STRIP
            .with(|s| s.borrow_mut().as_mut().map(|s| s.set(p, v)))
            .unwrap_or(Err(FenceError::Connect("no strip".into())))
    }
    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        STRIP
            .with(|s| s.borrow_mut().as_mut().map(|s| s.list()))
            .unwrap_or(Err(FenceError::Connect("no strip".into())))
    }
}

static TEST_OPTS: &[FenceOpt] = &[
    FenceOpt::new("action", "action", OptKind::String, "Fencing action")
        .short('o')
        .aliases(&["option"])
        .default("reboot"),
    FenceOpt::new("ip", "ip", OptKind::String, "Address")
        .short('a')
        .old("ipaddr")
        .required(),
    FenceOpt::new("password", "password", OptKind::String, "Password")
        .short('p')
        .old("passwd")
        .secret(),
    FenceOpt::new(
        "password_script",
        "password-script",
        OptKind::String,
        "Script",
    )
    .short('S')
    .old("passwd_script"),
    FenceOpt::new("plug", "plug", OptKind::String, "Plug")
        .short('n')
        .old("port"),
    FenceOpt::new("plug_separator", "plug-separator", OptKind::String, "Sep").default(","),
    FenceOpt::new("separator", "separator", OptKind::String, "Sep")
        .short('C')
        .default(","),
    FenceOpt::new("delay", "delay", OptKind::Second, "Delay").default("0"),
    FenceOpt::new("power_wait", "power-wait", OptKind::Second, "Wait").default("0"),
    FenceOpt::new("power_timeout", "power-timeout", OptKind::Second, "Timeout").default("20"),
    FenceOpt::new(
        "stonith_status_sleep",
        "stonith-status-sleep",
        OptKind::Second,
        "Sleep",
    )
    .default("1"),
    FenceOpt::new("retry_on", "retry-on", OptKind::Integer, "Retries").default("1"),
    FenceOpt::new(
        "disable_timeout",
        "disable-timeout",
        OptKind::Flag,
        "No timeout",
    ),
    FenceOpt::new("debug_file", "debug-file", OptKind::String, "Debug file").old("debug"),
    FenceOpt::new("quiet", "quiet", OptKind::Flag, "Quiet").short('q'),
];
static TEST_TABLE: &[&[FenceOpt]] = &[TEST_OPTS];
static TEST_META: FenceMeta = FenceMeta {
    name: "fence_test",
    shortdesc: "Test agent",
    longdesc: "A test agent.",
    vendor_url: "https://example.invalid",
    symlinks: &[],
    options: TEST_TABLE,
    actions: Action::NAMES,
};

fn build(o: &Options) -> Result<Box<dyn PowerSwitch>, FenceError> {
    if o.get("ip") != Some("strip") {
        return Err(FenceError::Usage("ip is required".into()));
    }
    if o.get("password") != Some("hunter2") {
        // Devices echo what they were sent: the message carries the
        // password, and the framework must scrub it.
        return Err(FenceError::Auth(format!(
            "password {} is wrong for strip",
            o.get("password").unwrap_or("")
        )));
    }
    Ok(Box::new(Shared))
}

static AGENT: FenceAgent = FenceAgent {
    meta: &TEST_META,
    build,
    needs_plug: true,
};

fn stdin(text: &str, strip: FakeStrip) -> ((Done, Option<String>), FakeStrip, FakeClock) {
    STRIP.with(|s| *s.borrow_mut() = Some(strip));
    let clock = FakeClock::default();
    let r = run_agent(&AGENT, Input::Stdin(text.into()), &clock);
    let strip = STRIP.with(|s| s.borrow_mut().take()).unwrap_or_default();
    (r, strip, clock)
}

#[test]
fn agent_from_stdin_as_pacemaker_sends_it() {
    let text = "action=off\nnodename=node2\nipaddr=strip\npasswd=hunter2\nport=1,2\n\
                pcmk_unknown=1\ndelay=5\n";
    let ((d, e), strip, clock) = stdin(text, FakeStrip::with(&[("1", On), ("2", On)]));
    assert_eq!((d.code, e), (0, None));
    assert_eq!(d.stdout, "Success: Powered OFF\n");
    assert_eq!((strip.state["1"], strip.state["2"]), (Off, Off));
    assert_eq!(
        clock.sleeps.borrow()[0],
        Duration::from_secs(5),
        "delay first"
    );
    // No delay for status.
    let ((d, _), _, clock) = stdin(
        "action=status\nip=strip\npassword=hunter2\nplug=1\ndelay=5\n",
        FakeStrip::with(&[("1", Off)]),
    );
    assert_eq!(d.code, 2);
    assert!(clock.sleeps.borrow().is_empty());
}

#[test]
fn agent_errors_are_exit_1_and_hide_secrets() {
    let ((d, e), _, _) = stdin(
        "action=status\nip=strip\npassword=wrongpass\nplug=1\n",
        FakeStrip::with(&[("1", On)]),
    );
    assert_eq!(d.code, 1);
    let e = e.expect("message");
    assert!(!e.contains("wrongpass"), "{e}");
    assert!(e.contains("password <hidden> is wrong"), "{e}");
    let ((d, e), _, _) = stdin("action=dance\nip=strip\n", FakeStrip::default());
    assert_eq!(d.code, 1);
    assert!(e.is_some_and(|e| e.contains("unrecognised action 'dance'")));
    let ((d, e), _, _) = stdin(
        "action=off\nip=strip\npassword=hunter2\n",
        FakeStrip::with(&[("1", On)]),
    );
    assert_eq!(d.code, 1);
    assert!(e.is_some_and(|e| e.contains("no plug")));
    let ((d, _), _, _) = stdin(
        "action=off\nip=strip\npassword=hunter2\nplug=1\npower_wait=soon\n",
        FakeStrip::with(&[("1", On)]),
    );
    assert_eq!(d.code, 1);
}

#[test]
fn agent_password_script_and_validate_all() {
    let ((d, e), strip, _) = stdin(
        "action=validate-all\nip=strip\npassword_script=echo hunter2\n",
        FakeStrip::default(),
    );
    assert_eq!((d.code, e), (0, None));
    assert!(strip.calls.is_empty(), "validate-all touches no device");
    let ((d, e), _, _) = stdin(
        "action=status\nip=strip\npasswd_script=exit 3\nplug=1\n",
        FakeStrip::with(&[("1", On)]),
    );
    assert_eq!(d.code, 1);
    assert!(e.is_some_and(|e| e.contains("status 3")));
}

#[test]
fn agent_command_line_metadata_help() {
    STRIP.with(|s| *s.borrow_mut() = Some(FakeStrip::with(&[("3", On)])));
    let args = |v: &[&str]| Input::Args(v.iter().map(|s| s.to_string()).collect());
    let (d, e) = run_agent(
        &AGENT,
        args(&["-o", "status", "-a", "strip", "-p", "hunter2", "-n", "3"]),
        &FakeClock::default(),
    );
    assert_eq!((d.code, d.stdout.as_str(), e), (0, "Status: ON\n", None));
    let (d, _) = run_agent(&AGENT, args(&["-o", "metadata"]), &FakeClock::default());
    assert!(d.stdout.contains("<resource-agent name=\"fence_test\""));
    let (d, _) = run_agent(
        &AGENT,
        Input::Stdin("action=metadata\n".into()),
        &FakeClock::default(),
    );
    assert!(d
        .stdout
        .contains("<parameter name=\"port\" unique=\"0\" required=\"0\" deprecated=\"1\">"));
    let (d, _) = run_agent(&AGENT, args(&["--help"]), &FakeClock::default());
    assert!(d.stdout.contains("-n, --plug=[plug]"));
    let (d, e) = run_agent(&AGENT, args(&["--bogus"]), &FakeClock::default());
    assert_eq!(d.code, 1);
    assert!(e.is_some_and(|e| e.contains("--bogus")));
}

#[test]
fn test_meta_passes_its_own_checks() {
    metadata::check(&TEST_META);
    assert_eq!(Action::parse("list-status"), Some(Action::ListStatus));
    assert_eq!(Action::parse("meta-data"), Some(Action::Metadata));
    assert_eq!(Action::parse("start"), None);
}

#[test]
fn debug_file_records_each_run_without_secrets() {
    let path = std::env::temp_dir().join(format!("fence-debug-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let text = format!(
        "action=status\nip=strip\npassword=hunter2\nplug=1\ndebug={}\n",
        path.display()
    );
    let ((d, _), _, _) = stdin(&text, FakeStrip::with(&[("1", Off)]));
    assert_eq!(d.code, 2);
    let text = format!(
        "action=off\nip=strip\npassword=wrong-secret\nplug=1\ndebug_file={}\n",
        path.display()
    );
    let ((d, _), _, _) = stdin(&text, FakeStrip::with(&[("1", On)]));
    assert_eq!(d.code, 1);
    let log = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(&path);
    assert!(log.contains("action=status exit=2"), "{log}");
    assert!(log.contains("stdout: Status: OFF"), "{log}");
    assert!(log.contains("action=off exit=1"), "{log}");
    assert!(log.contains("error: "), "{log}");
    assert!(
        !log.contains("wrong-secret") && !log.contains("hunter2"),
        "{log}"
    );
}

#[test]
fn disable_timeout_polls_until_confirmed() {
    let mut sw = FakeStrip::with(&[("1", On)]);
    sw.lag = 60;
    let mut c = cfg(&["1"]);
    c.power_timeout = None;
    let clock = FakeClock::default();
    let d = execute(Action::Off, &mut sw, &c, &clock).expect("off");
    assert_eq!(d.stdout, "Success: Powered OFF\n");
    assert!(
        clock.now.get() > Duration::from_secs(60),
        "{:?}",
        clock.now.get()
    );
    let o = Options::parse_stdin(TEST_TABLE, "disable_timeout=true\npower_timeout=5\n");
    assert_eq!(LoopCfg::from_options(&o).expect("cfg").power_timeout, None);
    let o = Options::parse_stdin(TEST_TABLE, "power_timeout=5\nretry_on=101\n");
    assert!(LoopCfg::from_options(&o).is_err());
    let o = Options::parse_stdin(TEST_TABLE, "plug=1,,2\n");
    assert!(LoopCfg::from_options(&o).is_err());
    let o = Options::parse_stdin(TEST_TABLE, "plug=1;2\nplug_separator=;\n");
    assert_eq!(LoopCfg::from_options(&o).expect("cfg").plugs, ["1", "2"]);
}

/// A strip with a native power cycle that refuses the first `refuse` orders.
/// An accepted cycle turns the outlet off for `off_reads` status reads, then
/// on again, unless the outlet is `stuck` (it ignores the off).
struct CycleStrip {
    state: BTreeMap<String, Power>,
    refuse: u32,
    usage: bool,
    stuck: Vec<String>,
    off_reads: u32,
    off_left: BTreeMap<String, u32>,
    off_time: Option<Duration>,
    calls: Vec<String>,
}

impl CycleStrip {
    fn with(plugs: &[(&str, Power)]) -> Self {
        CycleStrip {
            state: plugs.iter().map(|(p, s)| (p.to_string(), *s)).collect(),
            refuse: 0,
            usage: false,
            stuck: Vec::new(),
            off_reads: 1,
            off_left: BTreeMap::new(),
            off_time: None,
            calls: Vec::new(),
        }
    }
}

impl PowerSwitch for CycleStrip {
    fn status(&mut self, p: &str) -> Result<Power, FenceError> {
        self.calls.push(format!("status {p}"));
        if let Some(n) = self.off_left.get_mut(p) {
            if *n == 0 {
                self.off_left.remove(p);
                self.state.insert(p.to_string(), On);
            } else {
                *n -= 1;
            }
        }
        Ok(self.state[p])
    }
    fn set(&mut self, p: &str, v: Power) -> Result<(), FenceError> {
        self.calls.push(format!("set {p} {v}"));
        self.state.insert(p.to_string(), v);
        Ok(())
    }
    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        Ok(Vec::new())
    }
    fn cycle(&mut self, p: &str) -> Result<(), FenceError> {
        self.calls.push(format!("cycle {p}"));
        if self.usage {
            return Err(FenceError::Usage("no such outlet".into()));
        }
        if self.refuse > 0 {
            self.refuse -= 1;
            return Err(FenceError::Device("busy".into()));
        }
        if !self.stuck.iter().any(|s| s == p) {
            self.state.insert(p.to_string(), Off);
            self.off_left.insert(p.to_string(), self.off_reads);
        }
        Ok(())
    }
    fn cycle_off_time(&self) -> Option<Duration> {
        self.off_time
    }
}

fn cycle_cfg(plugs: &[&str], retry_on: u32) -> LoopCfg {
    LoopCfg {
        method: Method::Cycle,
        retry_on,
        power_wait: Duration::ZERO,
        ..cfg(plugs)
    }
}

#[test]
fn method_cycle_is_one_order_per_plug_then_watched_until_off() {
    let mut sw = CycleStrip::with(&[("1", On)]);
    let clock = FakeClock::default();
    let d = execute(Action::Reboot, &mut sw, &cycle_cfg(&["1"], 1), &clock).expect("cycle");
    assert_eq!(d, Done::ok("Success: Rebooted"));
    // Status first, one cycle order, then the plug watched until seen OFF.
    assert_eq!(sw.calls, ["status 1", "status 1", "cycle 1", "status 1"]);
    assert!(clock.sleeps.borrow().is_empty());
    // A plug already off only gets an on (seen off: nothing to cycle).
    let mut sw = CycleStrip::with(&[("2", Off)]);
    let clock = FakeClock::default();
    let d = execute(Action::Reboot, &mut sw, &cycle_cfg(&["2"], 1), &clock).expect("cycle");
    assert_eq!(d, Done::ok("Success: Rebooted"));
    assert_eq!(sw.calls, ["status 2", "status 2", "set 2 ON"]);
    assert!(clock.sleeps.borrow().is_empty());

    // An outlet that goes off only after a while is polled every stonith_status_sleep;
    // it comes back on by itself, which is not waited for.
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.off_reads = 5;
    let mut sw_lag = LaggingCycle { inner: sw, lag: 3 };
    let clock = FakeClock::default();
    execute(Action::Reboot, &mut sw_lag, &cycle_cfg(&["1"], 1), &clock).expect("cycle");
    assert_eq!(*clock.sleeps.borrow(), [Duration::from_secs(1); 3]);
    assert_eq!(sw_lag.inner.state["1"], Off, "not waited back on");

    // Dual supplies are not cycled: see method_cycle_with_several_plugs_is_a_verified_onoff.

    // power_wait is spent watching, and success does not come before it has passed.
    let mut sw = CycleStrip::with(&[("1", On)]);
    let clock = FakeClock::default();
    let c = LoopCfg {
        power_wait: Duration::from_secs(2),
        ..cycle_cfg(&["1"], 1)
    };
    execute(Action::Reboot, &mut sw, &c, &clock).expect("cycle");
    assert_eq!(*clock.sleeps.borrow(), [Duration::from_secs(2)]);
    assert_eq!(sw.calls.iter().filter(|c| *c == "status 1").count(), 3);

    // Refused orders are retried 1 + retry_on times, as fencing.py does.
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.refuse = 2;
    let d = execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1"], 2),
        &FakeClock::default(),
    );
    assert!(d.is_ok(), "{d:?}");
    assert_eq!(sw.calls.iter().filter(|c| *c == "cycle 1").count(), 3);
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.refuse = 5;
    let e = execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1"], 1),
        &FakeClock::default(),
    )
    .expect_err("refused");
    assert!(
        e.to_string()
            .contains("not accepted after 2 attempt(s): busy"),
        "{e}"
    );
    // Usage errors are not retried.
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.usage = true;
    let e = execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1"], 3),
        &FakeClock::default(),
    );
    assert!(matches!(e, Err(FenceError::Usage(_))), "{e:?}");
    assert_eq!(sw.calls.iter().filter(|c| *c == "cycle 1").count(), 1);
    // A switch without a cycle order says so.
    let mut sw = FakeStrip::with(&[("1", On)]);
    let e = execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1"], 1),
        &FakeClock::default(),
    );
    assert!(
        matches!(&e, Err(FenceError::Usage(m)) if m.contains("use method=onoff")),
        "{e:?}"
    );
}

/// Reads ON for the first `lag` status reads after the cycle order.
struct LaggingCycle {
    inner: CycleStrip,
    lag: u32,
}

impl PowerSwitch for LaggingCycle {
    fn status(&mut self, p: &str) -> Result<Power, FenceError> {
        let cycled = self.inner.calls.iter().any(|c| c.starts_with("cycle"));
        let s = self.inner.status(p)?;
        if cycled && self.lag > 0 {
            self.lag -= 1;
            return Ok(On);
        }
        Ok(s)
    }
    fn set(&mut self, p: &str, v: Power) -> Result<(), FenceError> {
        self.inner.set(p, v)
    }
    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        self.inner.list()
    }
    fn cycle(&mut self, p: &str) -> Result<(), FenceError> {
        self.inner.cycle(p)
    }
}

#[test]
fn method_cycle_fails_when_the_outlet_is_never_seen_off() {
    // A stuck outlet: the strip takes the order and the power stays on.
    let mut sw = CycleStrip::with(&[("2", On)]);
    sw.stuck = vec!["2".into()];
    let clock = FakeClock::default();
    let e = execute(Action::Reboot, &mut sw, &cycle_cfg(&["2"], 1), &clock).expect_err("stuck");
    assert!(
        matches!(&e, FenceError::CycleNotSeen { plugs, .. } if plugs == &["2"]),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "outlet 2 was never seen OFF after the power-cycle order; the strip may not have cut \
         the power (watched for 20.0s, power_timeout)"
    );
    // Polled every stonith_status_sleep until power_timeout, the stuck plug only.
    assert_eq!(*clock.sleeps.borrow(), [Duration::from_secs(1); 20]);
    assert_eq!(sw.calls.iter().filter(|c| *c == "status 2").count(), 2 + 21);
    // Not retried: the order was accepted, and a second one would not be seen either.
    assert_eq!(
        sw.calls.iter().filter(|c| c.starts_with("cycle")).count(),
        1
    );
    // Dual supplies with one stuck outlet: no cycle, and the verified off fails.
    let mut sw = FakeStrip::with(&[("1", On), ("2", On)]);
    sw.stuck = vec!["2".into()];
    let e = execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1", "2"], 1),
        &FakeClock::default(),
    )
    .expect_err("stuck");
    assert!(
        matches!(&e, FenceError::NotConfirmed { state: Off, .. }),
        "{e:?}"
    );
    assert!(!sw.calls.iter().any(|c| c.starts_with("cycle")));
    // power_timeout need not be a multiple of the poll interval.
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.stuck = vec!["1".into()];
    let e = execute(
        Action::Reboot,
        &mut sw,
        &LoopCfg {
            power_timeout: Some(Duration::from_millis(2500)),
            ..cycle_cfg(&["1"], 1)
        },
        &FakeClock::default(),
    )
    .expect_err("stuck");
    assert!(e.to_string().contains("outlet 1 was never seen OFF"), "{e}");
}

#[test]
fn method_cycle_polls_faster_than_the_off_window() {
    let s = Duration::from_secs(1);
    let ms = Duration::from_millis;
    assert_eq!(cycle_poll_interval(s, None), s);
    assert_eq!(cycle_poll_interval(s, Some(Duration::from_secs(5))), s);
    assert_eq!(cycle_poll_interval(s, Some(ms(1500))), ms(500));
    assert_eq!(cycle_poll_interval(s, Some(ms(900))), ms(300));
    // Floor 0.2 s, and a shorter stonith_status_sleep is respected.
    assert_eq!(cycle_poll_interval(s, Some(ms(300))), ms(200));
    assert_eq!(cycle_poll_interval(ms(100), Some(ms(300))), ms(100));
    // The loop uses it.
    let mut sw = CycleStrip::with(&[("1", On)]);
    sw.stuck = vec!["1".into()];
    sw.off_time = Some(ms(900));
    let clock = FakeClock::default();
    let c = LoopCfg {
        power_timeout: Some(Duration::from_secs(3)),
        ..cycle_cfg(&["1"], 1)
    };
    execute(Action::Reboot, &mut sw, &c, &clock).expect_err("stuck");
    assert_eq!(*clock.sleeps.borrow(), [ms(300); 10]);
}

#[test]
fn method_cycle_with_several_plugs_is_a_verified_onoff() {
    assert_eq!(
        cycle_fallback_notice(2),
        "method=cycle with 2 plugs: power-cycle windows cannot be made to overlap; \
         rebooting with a verified off then on"
    );
    // Dual supplies: no cycle order; both off and confirmed OFF together, then both on.
    let mut sw = CycleStrip::with(&[("1", On), ("2", On)]);
    let clock = FakeClock::default();
    let d = execute(Action::Reboot, &mut sw, &cycle_cfg(&["1", "2"], 1), &clock).expect("reboot");
    assert_eq!(d, Done::ok("Success: Rebooted"));
    assert!(
        !sw.calls.iter().any(|c| c.starts_with("cycle")),
        "{:?}",
        sw.calls
    );
    assert_eq!(
        sw.calls,
        [
            "status 1",
            "status 2",
            "set 1 OFF",
            "set 2 OFF",
            "status 1",
            "status 2",
            "set 1 ON",
            "set 2 ON",
            "status 1",
            "status 2"
        ]
    );
    assert_eq!(sw.state["1"], On);
    assert_eq!(sw.state["2"], On);
    // One plug already off, the other on (what used to be a cycle and a plain on): the
    // same verified off of both, then on.
    let mut sw = CycleStrip::with(&[("1", On), ("2", Off)]);
    execute(
        Action::Reboot,
        &mut sw,
        &cycle_cfg(&["1", "2"], 1),
        &FakeClock::default(),
    )
    .expect("reboot");
    assert!(
        !sw.calls.iter().any(|c| c.starts_with("cycle")),
        "{:?}",
        sw.calls
    );
    let first_on = sw
        .calls
        .iter()
        .position(|c| c.ends_with(" ON"))
        .expect("on");
    let last_off = sw
        .calls
        .iter()
        .rposition(|c| c.ends_with(" OFF"))
        .expect("off");
    assert!(last_off < first_on, "{:?}", sw.calls);
    // A plug that lags is waited for: nothing goes on before both are seen OFF.
    let mut sw = FakeStrip::with(&[("1", On), ("2", On)]);
    sw.lag = 2;
    let clock = FakeClock::default();
    execute(Action::Reboot, &mut sw, &cycle_cfg(&["1", "2"], 1), &clock).expect("reboot");
    let off = sw.calls.iter().position(|c| c == "set 2 OFF").expect("off");
    let on = sw.calls.iter().position(|c| c == "set 1 ON").expect("on");
    // Two reads of both plugs still ON, the third sees both OFF; only then the ons.
    assert_eq!(on - off - 1, 3 * 2, "{:?}", sw.calls);
    assert!(sw.calls[off + 1..on]
        .iter()
        .all(|c| c.starts_with("status")));
    assert!(!sw.calls.iter().any(|c| c.starts_with("cycle")));
    assert!(
        !clock.sleeps.borrow().is_empty(),
        "the lag was polled through"
    );
}
