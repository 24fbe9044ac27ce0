// SPDX-License-Identifier: GPL-2.0-or-later
//! The OCF framework every agent shares.
//!
//! Order of work for one action, as resource-agents' `ocf_rarun` has it:
//! unknown action -> 3; meta-data / usage / methods without any parameter or
//! privilege; parameters from the table (required, typed) -> 6; the agent's
//! own configuration parsing (no commands run) -> 6 or 2; host checks; the
//! action. A broken environment answers 0 on stop and 7 on a probe. Every
//! failure leaves exactly one `ocf-exit-reason:` line on stderr.

pub mod attrs;
pub mod background;
pub mod env;
mod error;
pub mod logging;
pub mod metadata;
pub mod params;
mod status;

pub use env::OcfEnv;
pub use error::OcfError;
pub use metadata::{ActionSpec, AgentMeta};
pub use params::{Kind, ParamSpec, Params};
pub use status::{Health, OcfStatus};

/// The deadline lives below both the framework and the command runner.
pub use crate::deadline::Deadline;

use crate::cmd::{Runner, SystemRunner};
use std::path::PathBuf;

/// The actions storha knows, spelled only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Monitor,
    Status,
    MetaData,
    ValidateAll,
    Promote,
    Demote,
    Notify,
    Reload,
    MigrateTo,
    MigrateFrom,
    Usage,
    Methods,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "monitor" => Self::Monitor,
            "status" => Self::Status,
            "meta-data" | "meta_data" | "metadata" => Self::MetaData,
            "validate-all" => Self::ValidateAll,
            "promote" => Self::Promote,
            "demote" => Self::Demote,
            "notify" => Self::Notify,
            "reload" => Self::Reload,
            "migrate_to" => Self::MigrateTo,
            "migrate_from" => Self::MigrateFrom,
            "usage" | "help" => Self::Usage,
            "methods" => Self::Methods,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Monitor => "monitor",
            Self::Status => "status",
            Self::MetaData => "meta-data",
            Self::ValidateAll => "validate-all",
            Self::Promote => "promote",
            Self::Demote => "demote",
            Self::Notify => "notify",
            Self::Reload => "reload",
            Self::MigrateTo => "migrate_to",
            Self::MigrateFrom => "migrate_from",
            Self::Usage => "usage",
            Self::Methods => "methods",
        }
    }
}

/// Per-boot state files (`HA_RSCTMP`, `/run/resource-agents` by default),
/// named after the agent and the resource instance.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
    stem: String,
}

impl StateDir {
    pub fn new(env: &OcfEnv, agent: &str, instance: &str) -> Self {
        // An instance name is the resource id (XML ID syntax, plus ":N" for
        // unique clones); anything else is replaced so it cannot leave the dir.
        let safe: String = instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.:".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        StateDir {
            dir: PathBuf::from(env.rsctmp()),
            stem: format!("storha-{agent}-{safe}"),
        }
    }

    /// The directory itself, for files several resources share.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    pub fn path(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}.{suffix}", self.stem))
    }

    pub fn ensure(&self) -> Result<(), OcfError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            OcfError::Generic(format!(
                "cannot create state directory {}: {e}",
                self.dir.display()
            ))
        })
    }
}

/// Everything an action may use. Parameters are already checked against the
/// table; the agent's typed configuration is passed beside it.
pub struct Ctx<'a> {
    pub agent: &'static str,
    pub instance: String,
    pub action: Action,
    pub env: &'a OcfEnv,
    pub params: Params,
    pub deadline: Deadline,
    pub state: StateDir,
    pub runner: &'a dyn Runner,
}

impl Ctx<'_> {
    /// A monitor with no interval: Pacemaker's probe.
    pub fn is_probe(&self) -> bool {
        matches!(self.action, Action::Monitor | Action::Status) && self.env.interval_ms() == 0
    }
}

/// One OCF resource agent. Functions, not methods: an agent holds no state
/// between actions, everything it knows comes in through `Ctx` and `Config`.
pub trait Agent {
    type Config;

    fn meta() -> &'static AgentMeta;

    /// Typed configuration from the checked parameters. Pure: runs nothing
    /// and reads nothing from the system.
    fn config(params: &Params) -> Result<Self::Config, OcfError>;

    /// Checks against this host, before every action except meta-data.
    fn validate(_ctx: &Ctx, _cfg: &Self::Config) -> Result<(), OcfError> {
        Ok(())
    }

    fn start(ctx: &Ctx, cfg: &Self::Config) -> Result<(), OcfError>;
    fn stop(ctx: &Ctx, cfg: &Self::Config) -> Result<(), OcfError>;
    fn monitor(ctx: &Ctx, cfg: &Self::Config) -> Result<Health, OcfError>;

    fn promote(_ctx: &Ctx, _cfg: &Self::Config) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented("promote".into()))
    }
    fn demote(_ctx: &Ctx, _cfg: &Self::Config) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented("demote".into()))
    }
    fn notify(_ctx: &Ctx, _cfg: &Self::Config) -> Result<(), OcfError> {
        Ok(())
    }
    fn reload(_ctx: &Ctx, _cfg: &Self::Config) -> Result<(), OcfError> {
        Err(OcfError::Unimplemented("reload".into()))
    }

    /// What the agent sees of its resource, for `storha ... --json`.
    fn observe(ctx: &Ctx, cfg: &Self::Config) -> Result<serde_json::Value, OcfError>;
}

/// What running an action produced.
#[derive(Debug)]
pub struct Outcome {
    pub status: OcfStatus,
    /// Printed on stdout (meta-data, usage, methods).
    pub stdout: String,
    /// The exit reason, when the action failed.
    pub reason: Option<String>,
    /// The observed state, when asked for.
    pub state: Option<serde_json::Value>,
}

impl Outcome {
    fn status(status: OcfStatus) -> Self {
        Outcome {
            status,
            stdout: String::new(),
            reason: None,
            state: None,
        }
    }
    fn print(text: String) -> Self {
        Outcome {
            status: OcfStatus::Success,
            stdout: text,
            reason: None,
            state: None,
        }
    }
    fn failed(e: &OcfError) -> Self {
        Outcome {
            status: e.status(),
            stdout: String::new(),
            reason: Some(e.to_string()),
            state: None,
        }
    }
}

pub fn usage(meta: &AgentMeta) -> String {
    let names: Vec<&str> = meta.actions.iter().map(|a| a.name).collect();
    let mut seen = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    format!("usage: {} {{{}}}\n", meta.name, seen.join("|"))
}

/// Options for a run that do not come from the OCF environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOpts {
    /// Also observe the resource after the action (admin `--json`).
    pub observe: bool,
}

/// Runs one action of agent `A` with the real command runner.
pub fn run<A: Agent>(action: &str, env: &OcfEnv, opts: RunOpts) -> Outcome {
    let deadline = Deadline::for_operation(env.timeout());
    let runner = SystemRunner::new(deadline);
    run_with::<A>(action, env, &runner, deadline, opts)
}

pub fn run_with<A: Agent>(
    action: &str,
    env: &OcfEnv,
    runner: &dyn Runner,
    deadline: Deadline,
    opts: RunOpts,
) -> Outcome {
    let meta = A::meta();
    let act = match Action::parse(action) {
        Some(Action::MetaData) => return Outcome::print(metadata::render(meta)),
        Some(Action::Usage) => return Outcome::print(usage(meta)),
        Some(Action::Methods) => {
            let mut names: Vec<&str> = meta.actions.iter().map(|a| a.name).collect();
            names.dedup();
            return Outcome::print(names.join("\n") + "\n");
        }
        Some(a) if meta.supports(a.name()) => a,
        _ => {
            let e = OcfError::Unimplemented(action.chars().take(40).collect());
            let mut o = Outcome::failed(&e);
            o.stdout = String::new();
            o.reason = Some(format!("{e}; {}", usage(meta).trim()));
            return o;
        }
    };
    let instance = env.instance().unwrap_or(meta.name).to_string();
    let probe = matches!(act, Action::Monitor | Action::Status) && env.interval_ms() == 0;
    // Names only: values may one day be secrets, and logs are world-readable.
    let given: Vec<&str> = env.params().map(|(k, _)| k).collect();
    log::debug!(
        "{} of {instance}{}: timeout {} ms, {:.1} s left, parameters set: {}",
        act.name(),
        if probe { " (probe)" } else { "" },
        env.timeout().as_millis(),
        deadline.remaining().as_secs_f64(),
        if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" ")
        }
    );

    // A broken environment is not a failure for stop (nothing of ours can be
    // running with it) nor for a probe (the resource is simply not here).
    let soften = |e: OcfError| -> Outcome {
        if e.is_environment() && act == Action::Stop {
            log::info!("{e}; nothing to stop");
            Outcome::status(OcfStatus::Success)
        } else if e.is_environment() && probe {
            log::info!("{e}; probe reports not running");
            Outcome::status(OcfStatus::NotRunning)
        } else {
            log::error!("{e}");
            Outcome::failed(&e)
        }
    };

    let params = match Params::from_env(meta.params, env) {
        Ok(p) => p,
        Err(e) => return soften(e),
    };
    let cfg = match A::config(&params) {
        Ok(c) => c,
        Err(e) => return soften(e),
    };
    let ctx = Ctx {
        agent: meta.name,
        state: StateDir::new(env, meta.name, &instance),
        instance,
        action: act,
        env,
        params,
        deadline,
        runner,
    };
    if let Err(e) = A::validate(&ctx, &cfg) {
        return soften(e);
    }
    let result = match act {
        Action::Start => A::start(&ctx, &cfg).map(|()| OcfStatus::Success),
        Action::Stop => A::stop(&ctx, &cfg).map(|()| OcfStatus::Success),
        Action::Monitor | Action::Status => A::monitor(&ctx, &cfg).map(Health::status),
        Action::ValidateAll => Ok(OcfStatus::Success),
        Action::Promote => A::promote(&ctx, &cfg).map(|()| OcfStatus::Success),
        Action::Demote => A::demote(&ctx, &cfg).map(|()| OcfStatus::Success),
        Action::Notify => match A::notify(&ctx, &cfg) {
            Ok(()) => Ok(OcfStatus::Success),
            // A failed notify changes nothing in Pacemaker; log and succeed.
            Err(e) => {
                log::warn!("notify: {e}");
                Ok(OcfStatus::Success)
            }
        },
        Action::Reload => A::reload(&ctx, &cfg).map(|()| OcfStatus::Success),
        Action::MigrateTo | Action::MigrateFrom => Err(OcfError::Unimplemented(act.name().into())),
        Action::MetaData | Action::Usage | Action::Methods => Ok(OcfStatus::Success),
    };
    let mut outcome = match result {
        Ok(s) => Outcome::status(s),
        Err(e) if probe && e.is_environment() => soften(e),
        Err(e) if act == Action::Stop && e.is_environment() => soften(e),
        Err(e) => {
            log::error!("{}: {e}", act.name());
            Outcome::failed(&e)
        }
    };
    if opts.observe {
        outcome.state = Some(A::observe(&ctx, &cfg).unwrap_or_else(
            |e| serde_json::json!({ "error": e.to_string(), "exit_code": e.status().code() }),
        ));
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::{Cmd, FakeRunner};
    use std::cell::Cell;
    use std::time::Duration;

    /// A test agent whose resource is a flag in a thread-local, driven
    /// through the real framework with a strict fake runner.
    struct Toy;
    thread_local!(static UP: Cell<bool> = const { Cell::new(false) });

    static PARAMS: &[ParamSpec] = &[
        ParamSpec::new("name", Kind::String, "Name")
            .required()
            .unique()
            .long("A name."),
        ParamSpec::new("size", Kind::Integer { min: 1, max: 100 }, "Size")
            .default("10")
            .long("S."),
    ];
    static ACTIONS: &[ActionSpec] = &[
        ActionSpec::new("start", 20),
        ActionSpec::new("stop", 20),
        ActionSpec::new("monitor", 20).interval(10).depth(0),
        ActionSpec::new("status", 20),
        ActionSpec::new("meta-data", 5),
        ActionSpec::new("validate-all", 20),
        ActionSpec::new("notify", 5),
    ];
    static META: AgentMeta = AgentMeta {
        name: "toy",
        shortdesc: "Toy",
        longdesc: "A toy agent.",
        params: PARAMS,
        actions: ACTIONS,
    };

    impl Agent for Toy {
        type Config = String;
        fn meta() -> &'static AgentMeta {
            &META
        }
        fn config(p: &Params) -> Result<String, OcfError> {
            let n = p.get("name").unwrap_or_default();
            if n == "bad" {
                return Err(OcfError::Configured("name must not be bad".into()));
            }
            Ok(n.to_string())
        }
        fn validate(ctx: &Ctx, cfg: &String) -> Result<(), OcfError> {
            if cfg == "elsewhere" {
                return Err(OcfError::Args(format!("{cfg} does not exist on this node")));
            }
            if cfg == "probe-me" {
                ctx.runner.run(&Cmd::new("true"))?;
            }
            Ok(())
        }
        fn start(_: &Ctx, _: &String) -> Result<(), OcfError> {
            UP.with(|u| u.set(true));
            Ok(())
        }
        fn stop(_: &Ctx, _: &String) -> Result<(), OcfError> {
            UP.with(|u| u.set(false));
            Ok(())
        }
        fn monitor(_: &Ctx, _: &String) -> Result<Health, OcfError> {
            Ok(if UP.with(Cell::get) {
                Health::Running
            } else {
                Health::NotRunning
            })
        }
        fn observe(_: &Ctx, cfg: &String) -> Result<serde_json::Value, OcfError> {
            Ok(serde_json::json!({ "name": cfg, "up": UP.with(Cell::get) }))
        }
    }

    fn go(action: &str, pairs: &[(&str, &str)]) -> Outcome {
        let env = OcfEnv::from_pairs(pairs.iter().copied());
        let runner = FakeRunner::new();
        run_with::<Toy>(
            action,
            &env,
            &runner,
            Deadline::after(Duration::from_secs(5)),
            RunOpts::default(),
        )
    }

    const NAME: (&str, &str) = ("OCF_RESKEY_name", "x");
    const RECURRING: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "10000");

    #[test]
    fn life_cycle_is_idempotent() {
        assert_eq!(
            go("monitor", &[NAME, RECURRING]).status,
            OcfStatus::NotRunning
        );
        assert_eq!(go("start", &[NAME]).status, OcfStatus::Success);
        assert_eq!(go("start", &[NAME]).status, OcfStatus::Success);
        assert_eq!(go("monitor", &[NAME, RECURRING]).status, OcfStatus::Success);
        assert_eq!(go("status", &[NAME]).status, OcfStatus::Success);
        assert_eq!(go("stop", &[NAME]).status, OcfStatus::Success);
        assert_eq!(go("stop", &[NAME]).status, OcfStatus::Success);
        assert_eq!(go("monitor", &[NAME]).status, OcfStatus::NotRunning);
    }

    #[test]
    fn unknown_and_unsupported_actions_are_3_with_usage() {
        for a in [
            "bogus",
            "promote",
            "demote",
            "migrate_to",
            "reload",
            "",
            "start; reboot",
        ] {
            let o = go(a, &[NAME]);
            assert_eq!(o.status, OcfStatus::ErrUnimplemented, "{a}");
            assert!(
                o.reason
                    .as_deref()
                    .is_some_and(|r| r.contains("usage: toy")),
                "{a}"
            );
        }
    }

    #[test]
    fn meta_data_needs_no_parameters() {
        let o = go("meta-data", &[]);
        assert_eq!(o.status, OcfStatus::Success);
        assert!(o.stdout.contains("<resource-agent name=\"toy\""));
        assert!(go("usage", &[])
            .stdout
            .starts_with("usage: toy {start|stop|monitor"));
        assert_eq!(go("methods", &[]).stdout.lines().count(), ACTIONS.len());
    }

    #[test]
    fn notify_without_variables_succeeds() {
        assert_eq!(go("notify", &[NAME]).status, OcfStatus::Success);
    }

    #[test]
    fn missing_or_bad_parameters_are_6_but_softened_on_stop_and_probe() {
        for pairs in [
            &[][..],
            &[("OCF_RESKEY_name", "bad")][..],
            &[NAME, ("OCF_RESKEY_size", "0")][..],
        ] {
            let o = go("start", pairs);
            assert_eq!(o.status, OcfStatus::ErrConfigured, "{pairs:?}");
            assert!(o.reason.is_some());
            assert_eq!(go("validate-all", pairs).status, OcfStatus::ErrConfigured);
            assert_eq!(go("stop", pairs).status, OcfStatus::Success);
            assert_eq!(go("monitor", pairs).status, OcfStatus::NotRunning);
            let o = go("monitor", &[pairs, &[RECURRING]].concat());
            assert_eq!(
                o.status,
                OcfStatus::ErrConfigured,
                "recurring monitor is not softened"
            );
        }
    }

    #[test]
    fn host_errors_are_2_and_softened_the_same_way() {
        let e = [("OCF_RESKEY_name", "elsewhere")];
        let o = go("start", &e);
        assert_eq!(o.status, OcfStatus::ErrArgs);
        assert_eq!(
            o.reason.as_deref(),
            Some("elsewhere does not exist on this node")
        );
        assert_eq!(go("stop", &e).status, OcfStatus::Success);
        assert_eq!(go("monitor", &e).status, OcfStatus::NotRunning);
    }

    #[test]
    #[should_panic(expected = "unexpected command `true`")]
    fn commands_go_through_the_injected_runner() {
        go("start", &[("OCF_RESKEY_name", "probe-me")]);
    }

    #[test]
    fn state_file_names_cannot_escape_the_directory() {
        let env = OcfEnv::from_pairs([("HA_RSCTMP", "/tmp/x")]);
        let s = StateDir::new(&env, "floating-ip", "../../etc/passwd");
        assert_eq!(
            s.path("pid"),
            PathBuf::from("/tmp/x/storha-floating-ip-.._.._etc_passwd.pid")
        );
        let s = StateDir::new(&OcfEnv::from_pairs([]), "a", "r:1");
        assert_eq!(
            s.path("x"),
            PathBuf::from("/run/resource-agents/storha-a-r:1.x")
        );
    }

    #[test]
    fn observe_reports_state() {
        let env = OcfEnv::from_pairs([NAME]);
        let runner = FakeRunner::new();
        let o = run_with::<Toy>(
            "validate-all",
            &env,
            &runner,
            Deadline::after(Duration::from_secs(5)),
            RunOpts { observe: true },
        );
        assert_eq!(o.state, Some(serde_json::json!({"name": "x", "up": false})));
    }
}
