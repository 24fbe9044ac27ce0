// SPDX-License-Identifier: GPL-2.0-or-later
//! The fence agent framework: the RHCS/Pacemaker fence agent API.
//!
//! pacemaker-fenced runs `/usr/sbin/fence_<name>` without arguments and
//! writes `key=value` lines on stdin; a person runs it with getopt-style
//! options. Either way the result is an exit status of 0 (done, or ON for
//! `status`), 1 (failed) or 2 (`status`: the device answered and the
//! outlet is OFF), and a line like `Status: ON` or `Success: Powered OFF`.
//!
//! The action loop is fencing.py's `fence_action`: read the state first;
//! if the target state is not there yet, switch every plug, sleep
//! `power_wait`, then poll every `stonith_status_sleep` seconds until all
//! plugs are confirmed or `power_timeout` has passed. A timeout is always
//! a failure. `reboot` is a confirmed off followed by an on; its success is
//! decided by the off half, as Pacemaker expects (the node is fenced once
//! it is off), and a failed power-on is reported but does not fail it.
//! With `method=cycle` a reboot is instead one power-cycle order that the
//! device carries out by itself. Unlike fencing.py, the order being accepted
//! is not enough: the outlet is watched until it has been seen OFF, or the
//! reboot fails. A host with several plugs is not cycled (the off windows of
//! separate orders need not overlap): its reboot is the confirmed off, then
//! on. No fault of the strip may ever end in a success.

pub mod metadata;
pub mod options;

pub use metadata::FenceMeta;
pub use options::{FenceOpt, OptKind, Options, UsageError};

use crate::cmd::{Cmd, Runner, SystemRunner};
use crate::ocf::{Deadline, OcfEnv, OcfStatus, Outcome, RunOpts};
use std::fmt;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `verbose`: device modules log every exchange (never a credential).
static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Text from a device or a user, fit for a message: control characters
/// dropped (a hostile reply cannot forge log lines), at most `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    On,
    Off,
}

impl Power {
    pub fn word(self) -> &'static str {
        match self {
            Power::On => "ON",
            Power::Off => "OFF",
        }
    }
}

impl fmt::Display for Power {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// One outlet as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    pub plug: String,
    pub alias: String,
    pub power: Option<Power>,
}

/// Why a fence action failed. Every one of them exits 1; the kind only
/// chooses the words, which must tell an operator what to look at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FenceError {
    /// The options are wrong: nothing was sent to the device.
    #[error("{0}")]
    Usage(String),
    /// The device could not be reached at all.
    #[error("{0}")]
    Connect(String),
    /// The device refused our credentials.
    #[error("{0}")]
    Auth(String),
    /// The device answered, but not with what the protocol promises.
    #[error("{0}")]
    Protocol(String),
    /// The device reported an error of its own.
    #[error("{0}")]
    Device(String),
    /// The device did not answer in time.
    #[error("{0}")]
    Timeout(String),
    /// The outlets did not reach the requested state in `power_timeout`.
    #[error(
        "timed out after {secs:.1}s waiting for plug(s) {plugs} to power {state} (power_timeout)"
    )]
    NotConfirmed {
        plugs: String,
        state: Power,
        secs: f64,
    },
    /// `method=cycle`: the strip accepted the power-cycle order, but the
    /// outlet was never seen OFF while it was watched.
    #[error("{}", cycle_not_seen(plugs, *secs))]
    CycleNotSeen { plugs: Vec<String>, secs: f64 },
}

fn cycle_not_seen(plugs: &[String], secs: f64) -> String {
    let each: Vec<String> = plugs
        .iter()
        .map(|p| {
            format!(
                "outlet {p} was never seen OFF after the power-cycle order; the strip may not have cut the power"
            )
        })
        .collect();
    format!(
        "{} (watched for {secs:.1}s, power_timeout)",
        each.join("; ")
    )
}

impl From<UsageError> for FenceError {
    fn from(e: UsageError) -> Self {
        FenceError::Usage(e.0)
    }
}

/// A power strip, as the action loop sees it. Implementations talk to one
/// device; plugs are whatever the device calls its outlets.
pub trait PowerSwitch {
    fn status(&mut self, plug: &str) -> Result<Power, FenceError>;
    fn set(&mut self, plug: &str, power: Power) -> Result<(), FenceError>;
    fn list(&mut self) -> Result<Vec<Outlet>, FenceError>;
    /// `method=cycle`: one order after which the device itself turns the
    /// outlet off and on again. `Ok` means only that the device accepted
    /// the order; the action loop then watches the outlet go off.
    fn cycle(&mut self, plug: &str) -> Result<(), FenceError> {
        Err(FenceError::Usage(format!(
            "plug {plug}: this device has no power-cycle order; use method=onoff"
        )))
    }
    /// `method=cycle`: how long the outlet stays off after `cycle`, when the
    /// order itself says so (Tasmota's Delay, Shelly's toggle_after). The
    /// outlet is then polled often enough not to miss the off window.
    /// `None`: the strip's own setting, unknown here.
    fn cycle_off_time(&self) -> Option<Duration> {
        None
    }
    /// Is the device there and answering? By default: can it list.
    fn monitor(&mut self) -> Result<(), FenceError> {
        self.list().map(|_| ())
    }
}

/// Time, so that the action loop can be tested without waiting.
pub trait Clock {
    fn elapsed(&self) -> Duration;
    fn sleep(&self, d: Duration);
}

pub struct RealClock(Instant);

impl RealClock {
    pub fn new() -> Self {
        RealClock(Instant::now())
    }
}

impl Default for RealClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for RealClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// The actions of the fence agent API, spelled only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    On,
    Off,
    Reboot,
    Status,
    List,
    ListStatus,
    Monitor,
    Metadata,
    Manpage,
    ValidateAll,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "on" | "enable" => Self::On,
            "off" | "disable" => Self::Off,
            "reboot" => Self::Reboot,
            "status" => Self::Status,
            "list" => Self::List,
            "list-status" => Self::ListStatus,
            "monitor" => Self::Monitor,
            "metadata" | "meta-data" => Self::Metadata,
            "manpage" => Self::Manpage,
            "validate-all" => Self::ValidateAll,
            _ => return None,
        })
    }

    /// Names for the meta-data's `<actions>`.
    pub const NAMES: &'static [&'static str] = &[
        "on",
        "off",
        "reboot",
        "status",
        "list",
        "list-status",
        "monitor",
        "metadata",
        "manpage",
        "validate-all",
    ];
}

/// How `reboot` is done (fencing.py's `--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A confirmed off, then on: the default, and the only one that knows
    /// the node lost power.
    OnOff,
    /// One power-cycle order to the device; success is the outlet seen
    /// OFF afterwards.
    Cycle,
}

/// The timing options of the action loop, typed.
#[derive(Debug, Clone)]
pub struct LoopCfg {
    pub plugs: Vec<String>,
    pub power_wait: Duration,
    /// `None`: poll until the caller's own timeout (`disable_timeout`).
    pub power_timeout: Option<Duration>,
    pub status_sleep: Duration,
    pub retry_on: u32,
    pub separator: String,
    pub method: Method,
}

fn secs(v: f64) -> Duration {
    Duration::from_secs_f64(v.max(0.0))
}

impl LoopCfg {
    pub fn from_options(o: &Options) -> Result<LoopCfg, FenceError> {
        let sep = o.get("plug_separator").unwrap_or(",");
        let plugs: Vec<String> = match o.get("plug") {
            Some(p) if !p.trim().is_empty() => {
                let parts: Vec<String> = if sep.is_empty() {
                    vec![p.trim().to_string()]
                } else {
                    p.split(sep).map(|s| s.trim().to_string()).collect()
                };
                if parts.iter().any(String::is_empty) {
                    return Err(FenceError::Usage(format!(
                        "plug '{p}' has an empty entry (separator '{sep}')"
                    )));
                }
                parts
            }
            _ => Vec::new(),
        };
        let retry_on = o.integer("retry_on")?.unwrap_or(1);
        if !(0..=100).contains(&retry_on) {
            return Err(FenceError::Usage(format!(
                "retry_on={retry_on}: expected 0 to 100"
            )));
        }
        let power_timeout = if o.flag("disable_timeout") {
            None
        } else {
            Some(secs(o.seconds("power_timeout")?))
        };
        Ok(LoopCfg {
            plugs,
            power_wait: secs(o.seconds("power_wait")?),
            power_timeout,
            status_sleep: secs(o.seconds("stonith_status_sleep")?).max(Duration::from_millis(50)),
            retry_on: retry_on as u32,
            separator: o.get("separator").unwrap_or(",").to_string(),
            method: match o.get("method").map(str::trim) {
                Some("cycle") => Method::Cycle,
                _ => Method::OnOff,
            },
        })
    }
}

/// The combined state of several plugs (a server with two power supplies
/// is only off when every supply is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combined {
    AllOn,
    AllOff,
    Mixed,
}

impl Combined {
    fn is(self, p: Power) -> bool {
        matches!(
            (self, p),
            (Combined::AllOn, Power::On) | (Combined::AllOff, Power::Off)
        )
    }
    /// What `status` reports: ON if any supply is on, as fencing.py does:
    /// for fencing, a node with one live supply is running.
    fn shown(self) -> Power {
        match self {
            Combined::AllOff => Power::Off,
            _ => Power::On,
        }
    }
}

fn combined(sw: &mut dyn PowerSwitch, plugs: &[String]) -> Result<Combined, FenceError> {
    let mut on = 0;
    for p in plugs {
        if sw.status(p)? == Power::On {
            on += 1;
        }
    }
    Ok(if on == 0 {
        Combined::AllOff
    } else if on == plugs.len() {
        Combined::AllOn
    } else {
        Combined::Mixed
    })
}

/// Switches every plug, then polls until all are confirmed. `Ok(false)`
/// when `power_timeout` passed on every attempt.
fn set_and_confirm(
    sw: &mut dyn PowerSwitch,
    cfg: &LoopCfg,
    clock: &dyn Clock,
    target: Power,
    attempts: u32,
) -> Result<bool, FenceError> {
    for attempt in 1..=attempts.max(1) {
        for p in &cfg.plugs {
            log::info!("switching plug {p} {target} (attempt {attempt})");
            sw.set(p, target)?;
            clock.sleep(cfg.power_wait);
        }
        let start = clock.elapsed();
        loop {
            if combined(sw, &cfg.plugs)?.is(target) {
                return Ok(true);
            }
            let waited = clock.elapsed().saturating_sub(start);
            if cfg.power_timeout.is_some_and(|t| waited >= t) {
                log::warn!(
                    "plug(s) {} not {target} after {:.1}s",
                    cfg.plugs.join(&cfg.separator),
                    waited.as_secs_f64()
                );
                break;
            }
            clock.sleep(cfg.status_sleep);
        }
    }
    Ok(false)
}

/// What an action produced: exit status and the lines for stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub code: u8,
    pub stdout: String,
}

impl Done {
    fn ok(line: &str) -> Done {
        Done {
            code: 0,
            stdout: format!("{line}\n"),
        }
    }
}

fn not_confirmed(cfg: &LoopCfg, state: Power) -> FenceError {
    FenceError::NotConfirmed {
        plugs: cfg.plugs.join(&cfg.separator),
        state,
        secs: cfg.power_timeout.map(|t| t.as_secs_f64()).unwrap_or(0.0),
    }
}

/// One device action: on, off, reboot, status, list, list-status, monitor.
pub fn execute(
    action: Action,
    sw: &mut dyn PowerSwitch,
    cfg: &LoopCfg,
    clock: &dyn Clock,
) -> Result<Done, FenceError> {
    match action {
        Action::List | Action::ListStatus => {
            let mut out = String::new();
            for o in sw.list()? {
                out.push_str(&o.plug);
                out.push_str(&cfg.separator);
                out.push_str(&o.alias);
                if action == Action::ListStatus {
                    out.push_str(&cfg.separator);
                    out.push_str(o.power.map(Power::word).unwrap_or("UNKNOWN"));
                }
                out.push('\n');
            }
            return Ok(Done {
                code: 0,
                stdout: out,
            });
        }
        Action::Monitor => {
            sw.monitor()?;
            return Ok(Done {
                code: 0,
                stdout: String::new(),
            });
        }
        Action::Metadata | Action::Manpage | Action::ValidateAll => {
            return Ok(Done {
                code: 0,
                stdout: String::new(),
            })
        }
        Action::On | Action::Off | Action::Reboot | Action::Status => {}
    }
    if cfg.plugs.is_empty() {
        return Err(FenceError::Usage(
            "no plug given: set plug (or port) to the outlet number or name".into(),
        ));
    }
    let now = combined(sw, &cfg.plugs)?;
    match action {
        Action::Status => {
            let shown = now.shown();
            Ok(Done {
                code: if shown == Power::Off { 2 } else { 0 },
                stdout: format!("Status: {shown}\n"),
            })
        }
        Action::On | Action::Off => {
            let target = if action == Action::On {
                Power::On
            } else {
                Power::Off
            };
            if now.is(target) {
                return Ok(Done::ok(&format!("Success: Already {target}")));
            }
            let attempts = if target == Power::On {
                1 + cfg.retry_on
            } else {
                1
            };
            if set_and_confirm(sw, cfg, clock, target, attempts)? {
                Ok(Done::ok(&format!("Success: Powered {target}")))
            } else {
                Err(not_confirmed(cfg, target))
            }
        }
        Action::Reboot if cfg.method == Method::Cycle && cfg.plugs.len() == 1 => {
            reboot_cycle(sw, cfg, clock)
        }
        Action::Reboot => {
            if cfg.method == Method::Cycle {
                // Each outlet's cycle order starts its own off window; nothing
                // makes the windows of a host's supplies overlap, and if they
                // do not the host never loses power. Only a confirmed off of
                // every plug together is a fence.
                log::warn!("{}", cycle_fallback_notice(cfg.plugs.len()));
            }
            if now != Combined::AllOff && !set_and_confirm(sw, cfg, clock, Power::Off, 1)? {
                return Err(not_confirmed(cfg, Power::Off));
            }
            // The node is fenced: from here on a failure is reported, not
            // returned, or Pacemaker would fence it again (fencing.py does
            // the same).
            match set_and_confirm(sw, cfg, clock, Power::On, cfg.retry_on.max(1)) {
                Ok(true) => {}
                Ok(false) => log::error!("{}", not_confirmed(cfg, Power::On)),
                Err(e) => log::error!("powering on after the off half of reboot: {e}"),
            }
            Ok(Done::ok("Success: Rebooted"))
        }
        _ => Ok(Done::ok("")),
    }
}

/// Why `method=cycle` is not used for a host with several plugs.
fn cycle_fallback_notice(plugs: usize) -> String {
    format!(
        "method=cycle with {plugs} plugs: power-cycle windows cannot be made to overlap; \
         rebooting with a verified off then on"
    )
}

/// The poll interval while watching a power cycle: `stonith_status_sleep`,
/// but shorter than the off window when the order carries it, so that the
/// outlet is seen off at least about three times (never under 0.2 s).
pub fn cycle_poll_interval(status_sleep: Duration, off_time: Option<Duration>) -> Duration {
    match off_time {
        Some(w) => status_sleep.min((w / 3).max(Duration::from_millis(200))),
        None => status_sleep,
    }
}

/// `method=cycle`, for a host with one plug (with several, `execute` does
/// a confirmed off then on instead: the off windows of separate cycle
/// orders need not overlap, and a host whose supplies are never all off at
/// once was not fenced). One cycle order (as fencing.py's
/// `multi_reboot_cycle_fn`, tried `1 + retry_on` times); then the plug is
/// polled until it has been seen OFF, or `power_timeout` fails the reboot.
/// The strip switches the outlet on again by itself; that is not waited
/// for (the node is fenced once it is off). A plug already off only gets
/// an on order: it has been seen off, and there is nothing to cycle.
/// `power_wait` is spent watching, not sleeping, since a sleep could hide
/// the whole off window: success does not come before it has passed.
fn reboot_cycle(
    sw: &mut dyn PowerSwitch,
    cfg: &LoopCfg,
    clock: &dyn Clock,
) -> Result<Done, FenceError> {
    // Plugs whose cycle order was accepted and that have not been seen OFF.
    let mut unseen: Vec<&String> = Vec::new();
    for p in &cfg.plugs {
        let attempts = 1 + cfg.retry_on;
        let mut last = None;
        let mut cycled = false;
        for attempt in 1..=attempts {
            let r = match sw.status(p) {
                Ok(Power::Off) => {
                    log::info!("plug {p} is already OFF: switching it ON (attempt {attempt})");
                    cycled = false;
                    sw.set(p, Power::On)
                }
                Ok(Power::On) => {
                    log::info!("power-cycling plug {p} (method=cycle, attempt {attempt})");
                    cycled = true;
                    sw.cycle(p)
                }
                Err(e) => Err(e),
            };
            match r {
                Ok(()) => {
                    last = None;
                    break;
                }
                // Wrong options do not get better by asking again.
                Err(e @ FenceError::Usage(_)) => return Err(e),
                Err(e) => {
                    log::warn!("plug {p}: {e}");
                    last = Some(e);
                }
            }
        }
        if let Some(e) = last {
            return Err(FenceError::Device(format!(
                "power cycle of plug {p} not accepted after {attempts} attempt(s): {e}"
            )));
        }
        if cycled {
            unseen.push(p);
        }
    }
    let interval = cycle_poll_interval(cfg.status_sleep, sw.cycle_off_time());
    if let Some(w) = sw.cycle_off_time() {
        if w < interval * 2 {
            log::warn!(
                "the outlet stays off for {:.1}s only, polled every {:.1}s: the off may be missed, which fails the reboot",
                w.as_secs_f64(),
                interval.as_secs_f64()
            );
        }
    }
    let start = clock.elapsed();
    loop {
        let waited = clock.elapsed().saturating_sub(start);
        if !unseen.is_empty() {
            let mut still = Vec::new();
            for p in &unseen {
                match sw.status(p) {
                    Ok(Power::Off) => {
                        log::info!("plug {p} seen OFF after the power-cycle order");
                    }
                    Ok(Power::On) => still.push(*p),
                    // A failed read is not a sighting; keep watching.
                    Err(e) => {
                        log::warn!("plug {p}: reading its state after the cycle order: {e}");
                        still.push(*p);
                    }
                }
            }
            unseen = still;
        }
        if unseen.is_empty() && waited >= cfg.power_wait {
            break;
        }
        if cfg.power_timeout.is_some_and(|t| waited >= t) {
            if unseen.is_empty() {
                break;
            }
            return Err(FenceError::CycleNotSeen {
                plugs: unseen.iter().map(|p| p.to_string()).collect(),
                secs: waited.as_secs_f64(),
            });
        }
        if unseen.is_empty() {
            clock.sleep(cfg.power_wait.saturating_sub(waited));
        } else {
            clock.sleep(interval);
        }
    }
    log::info!(
        "plug(s) {} seen OFF after the power-cycle order; the strip switches them on again by itself",
        cfg.plugs.join(&cfg.separator)
    );
    Ok(Done::ok("Success: Rebooted"))
}

/// One fence agent: its meta-data, and how to build a switch from options.
pub struct FenceAgent {
    pub meta: &'static FenceMeta,
    /// Checks the options and builds the switch. Must not contact the
    /// device (validate-all calls it too).
    pub build: fn(&Options) -> Result<Box<dyn PowerSwitch>, FenceError>,
    /// Single-outlet devices need no plug (they answer `list` with N/A).
    pub needs_plug: bool,
}

/// Options whose value may come from a script, and the option it fills.
const SCRIPTS: &[(&str, &str)] = &[
    ("password_script", "password"),
    ("snmp_priv_passwd_script", "snmp_priv_passwd"),
];

/// Runs a password script. Its output is a secret: neither it nor the
/// script's stderr (which may echo it) goes into any message.
fn run_script(script: &str, what: &str) -> Result<String, FenceError> {
    let runner = SystemRunner::new(Deadline::after(Duration::from_secs(30)));
    let out = runner
        .output(&Cmd::new("/bin/sh").arg("-c").arg(script))
        .map_err(|_| FenceError::Usage(format!("{what}: the script could not be run")))?;
    if out.status != 0 {
        return Err(FenceError::Usage(format!(
            "{what}: the script exited with status {}",
            out.status
        )));
    }
    let secret = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .trim_end()
        .to_string();
    if secret.is_empty() {
        return Err(FenceError::Usage(format!(
            "{what}: the script printed nothing"
        )));
    }
    Ok(secret)
}

fn help(meta: &FenceMeta) -> String {
    let mut s = format!(
        "{}: {}\n\nusage: {} [options]  (or key=value lines on stdin)\n\n",
        meta.name, meta.shortdesc, meta.name
    );
    for o in meta.options.iter().flat_map(|t| t.iter()) {
        s.push_str(&format!("  {:<36} {}\n", o.getopt(), o.shortdesc));
    }
    s.push_str(&format!("\nactions: {}\n", Action::NAMES.join(", ")));
    s
}

/// Where options come from: arguments (a person) or stdin (the fencer).
pub enum Input {
    Args(Vec<String>),
    Stdin(String),
}

/// Runs the agent on parsed input with a given clock. Returns the exit
/// status, stdout, and the error (already scrubbed of secrets) if any.
pub fn run_agent(agent: &FenceAgent, input: Input, clock: &dyn Clock) -> (Done, Option<String>) {
    let fail = |msg: String| {
        (
            Done {
                code: 1,
                stdout: String::new(),
            },
            Some(msg),
        )
    };
    let mut opts = match input {
        Input::Stdin(text) => Options::parse_stdin(agent.meta.options, &text),
        Input::Args(args) => {
            if args.iter().any(|a| a == "-h" || a == "--help") {
                return (
                    Done {
                        code: 0,
                        stdout: help(agent.meta),
                    },
                    None,
                );
            }
            if args.iter().any(|a| a == "-V" || a == "--version") {
                return (
                    Done {
                        code: 0,
                        stdout: format!(
                            "{} (storha {})\n",
                            agent.meta.name,
                            env!("CARGO_PKG_VERSION")
                        ),
                    },
                    None,
                );
            }
            match Options::parse_args(agent.meta.options, &args) {
                Ok(o) => o,
                Err(e) => return fail(format!("{e}; see {} --help", agent.meta.name)),
            }
        }
    };
    if !opts.flag("quiet") {
        for w in &opts.warnings {
            log::warn!("{w}");
        }
    }
    VERBOSE.store(opts.flag("verbose"), Ordering::Relaxed);
    let action_word = opts.get("action").unwrap_or("reboot").to_string();
    let Some(action) = Action::parse(&action_word) else {
        let shown = printable(&action_word, 40);
        return fail(format!(
            "unrecognised action '{shown}' (expected one of {})",
            Action::NAMES.join(", ")
        ));
    };
    if matches!(action, Action::Metadata | Action::Manpage) {
        return (
            Done {
                code: 0,
                stdout: metadata::render(agent.meta),
            },
            None,
        );
    }
    let secrets = |o: &Options| o.secrets();
    let result = (|| -> Result<Done, FenceError> {
        opts.check_types()?;
        for (script, target) in SCRIPTS {
            if let Some(s) = opts.get(script).filter(|s| !s.trim().is_empty()) {
                if opts.given(target).is_none() {
                    let table_name = opts.all().find(|o| o.name == *target).map(|o| o.name);
                    if let Some(name) = table_name {
                        let secret = run_script(s, script)?;
                        opts.set(name, secret);
                    }
                }
            }
        }
        let cfg = LoopCfg::from_options(&opts)?;
        let mut sw = (agent.build)(&opts)?;
        if action == Action::ValidateAll {
            return Ok(Done::ok("Success: options are valid"));
        }
        if agent.needs_plug
            && cfg.plugs.is_empty()
            && matches!(
                action,
                Action::On | Action::Off | Action::Reboot | Action::Status
            )
        {
            return Err(FenceError::Usage(
                "no plug given: set plug (or port) to the outlet number or name".into(),
            ));
        }
        if matches!(action, Action::Off | Action::Reboot) {
            let delay = secs(opts.seconds("delay")?);
            if !delay.is_zero() {
                log::info!("waiting {:.1}s (delay) before fencing", delay.as_secs_f64());
                clock.sleep(delay);
            }
        }
        execute(action, sw.as_mut(), &cfg, clock)
    })();
    let (done, err) = match result {
        Ok(d) => (d, None),
        Err(e) => {
            let msg = options::scrub(&e.to_string(), &secrets(&opts));
            fail(msg)
        }
    };
    if let Some(path) = opts.get("debug_file").filter(|p| !p.trim().is_empty()) {
        debug_record(path, &action_word, &done, err.as_deref());
    }
    (done, err)
}

/// `debug_file`: one record per run (action, exit status, output, error),
/// appended; everything in it has already been scrubbed of secrets.
fn debug_record(path: &str, action: &str, done: &Done, err: Option<&str>) {
    use std::io::Write;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut text = format!("{secs} action={action} exit={}\n", done.code);
    for line in done.stdout.lines() {
        text.push_str(&format!("{secs} stdout: {line}\n"));
    }
    if let Some(e) = err {
        text.push_str(&format!("{secs} error: {e}\n"));
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path);
    if let Err(e) = file.and_then(|mut f| f.write_all(text.as_bytes())) {
        log::warn!("debug_file {path}: {e}");
    }
}

/// Reads the process's input the way fencing.py does: stdin only when
/// there is no argument at all.
fn process_input() -> Input {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        let mut text = String::new();
        // Pacemaker sends a few hundred bytes; a megabyte is a mistake.
        let _ = std::io::stdin().take(1 << 20).read_to_string(&mut text);
        Input::Stdin(text)
    } else {
        Input::Args(args)
    }
}

/// `storha AGENT ACTION -p key=value`: the admin front door sets
/// `OCF_RESKEY_*`; the same options as on stdin, plus the action.
fn admin_input(action: &str, env: &OcfEnv) -> Input {
    let mut text = String::new();
    for (k, v) in env.params() {
        text.push_str(&format!("{k}={v}\n"));
    }
    text.push_str(&format!("action={action}\n"));
    Input::Stdin(text)
}

/// The registry's entry point for a fence agent. `main` passes the first
/// argument as `action`; a fence agent reads its own arguments instead,
/// unless it runs under `storha AGENT ACTION`.
pub fn main(agent: &FenceAgent, action: &str, env: &OcfEnv, _opts: RunOpts) -> Outcome {
    let argv0 = std::env::args().next().unwrap_or_default();
    let called_as = std::path::Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    let input = if called_as == "storha" || called_as.starts_with("storha-") {
        admin_input(action, env)
    } else {
        process_input()
    };
    let (done, err) = run_agent(agent, input, &RealClock::new());
    if let Some(e) = err {
        log::error!("Failed: {e}");
    }
    Outcome {
        status: match done.code {
            0 => OcfStatus::Success,
            2 => OcfStatus::ErrArgs,
            _ => OcfStatus::ErrGeneric,
        },
        stdout: done.stdout,
        reason: None,
        state: None,
    }
}

#[cfg(test)]
mod tests;
