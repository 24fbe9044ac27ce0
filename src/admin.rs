// SPDX-License-Identifier: GPL-2.0-or-later
//! `storha` run under its own name: the sysadmin's front door.
//!
//! `storha <agent> <action> --param k=v ...` sets up the environment exactly
//! as Pacemaker's executor would and runs the action in this process, so a
//! failing resource can be reproduced by hand with the same parameters.

use crate::ocf::env;
use crate::ocf::{self, OcfEnv, RunOpts};
use crate::registry::{self, AGENTS};
use clap::builder::{PossibleValue, PossibleValuesParser, StringValueParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, ArgMatches, Command};
use clap_complete::Shell;
use std::ffi::OsString;
use std::time::Duration;

/// A parsed `storha AGENT ACTION` invocation.
#[derive(Debug, PartialEq, Eq)]
struct Invocation {
    agent: String,
    action: String,
    params: Vec<(String, String)>,
    instance: Option<String>,
    timeout: Duration,
    interval: Option<Duration>,
    json: bool,
}

/// What `storha --help` says before the list of commands.
const ABOUT: &str = "Pacemaker resource agents for a highly available NFS storage cluster";

const LONG_ABOUT: &str = "\
Pacemaker resource agents for a highly available NFS storage cluster.

`storha AGENT ACTION [OPTIONS]` runs an agent's action by hand with the \
environment Pacemaker's executor would give it (OCF_RESKEY_*, OCF_RESOURCE_INSTANCE, \
the timeout in ms, ...) and prints its OCF exit code by name; the exit status is that \
code.

Installed under an agent's name (e.g. /usr/lib/ocf/resource.d/storha/floating-ip) \
the binary is that OCF agent and takes only the action as its argument.";

/// The admin command line, in one definition: parsing, `--help`, the
/// shell completions and the storha(8) page are all made from it.
pub fn command() -> Command {
    let mut cmd = Command::new("storha")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .long_about(LONG_ABOUT)
        .override_usage("storha <COMMAND>\n       storha <AGENT> <ACTION> [OPTIONS]")
        .subcommand_value_name("COMMAND|AGENT")
        .arg_required_else_help(true)
        .allow_external_subcommands(true)
        .subcommand(Command::new("list").about("List the agents this binary provides"))
        .subcommand(
            Command::new("meta-data")
                .about("Print an agent's meta-data (OCF, or fence-agents' format)")
                .arg(
                    Arg::new("AGENT")
                        .required(true)
                        .value_parser(PossibleValuesParser::new(agent_names())),
                ),
        )
        .subcommand(
            Command::new("man")
                .about("Print a manual page (roff): storha, an agent or a page name")
                .arg(
                    Arg::new("NAME")
                        .required(true)
                        .value_parser(PossibleValuesParser::new(page_names())),
                ),
        )
        .subcommand(
            Command::new("status")
                .about("Show every layer of the stack on this node, with what is wrong")
                .long_about(
                    "Show the layers of the stack on this node in one screen, from cheap reads \
                     (dmsetup status, /proc/drbd, crm_mon, the CIB, the kernel's addresses): \
                     writeboost caches (dirty blocks, writeback lag), DRBD (connection, roles, \
                     disk states, resync), the floating IPs of the storha resources (where \
                     Pacemaker runs them, where the address is, its link), and what is wrong, \
                     in words. Exit status 0 when nothing is wrong, 1 otherwise.",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the report as JSON"),
                ),
        )
        .subcommand(
            Command::new("doctor")
                .about("Check that this node is ready to join the stack, with the fix for each problem")
                .long_about(
                    "Check that this node is ready to join the stack, reading only: kernel \
                     modules (drbd, dm_writeboost, nfsd, dm_mod), the tools and their versions \
                     (drbdadm, corosync, pacemakerd, exportfs, rpc.nfsd, rpc.mountd), the DRBD \
                     configuration (drbdadm sh-nop, drbdadm dump), node names that agree \
                     between uname, Pacemaker (crm_node -n), corosync.conf's nodelist and \
                     DRBD's on-sections, drbd.service and nfs-server.service not enabled at boot \
                     (Pacemaker owns them), the corosync links (corosync-cfgtool -s), time sync \
                     (timedatectl), the superblock of each writeboost-cache resource's \
                     cache_dev (read, never written) and the power strips of the fence_ipstrip \
                     devices (a monitor call each). Each check says ok, WARN or FAIL, what is \
                     wrong, and the fix. Exit status 0 when no check fails, 1 otherwise.",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the checks as JSON"),
                ),
        )
        .subcommand(
            Command::new("active")
                .about("List the storha resources Pacemaker runs on this node")
                .long_about(
                    "List the storha resources and fence devices Pacemaker runs on this node, \
                     from crm_mon. Exit status 0 when there are none (or Pacemaker is not \
                     running here), 1 when there are some or crm_mon cannot tell. The \
                     package's removal refuses on 1.",
                )
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the node and its active resources as JSON"),
                ),
        )
        .subcommand(
            Command::new("drbd-split-brain")
                .about("DRBD's split-brain handler: note the split brain for drbd-tuned's monitor")
                .long_about(
                    "Run by DRBD as the resource's split-brain handler (handlers { split-brain \
                     \"/usr/bin/storha drbd-split-brain\"; }), when DRBD found a split brain its \
                     after-sb policies did not resolve. Leaves a marker for the resource \
                     (DRBD_RESOURCE) in HA_RSCTMP, with the boot id, that drbd-tuned's monitor \
                     reports until the resource connects again, and logs an error to syslog. \
                     Resolves nothing. Exit status 0, or 1 when the marker cannot be written.",
                ),
        )
        .subcommand(
            Command::new("completions")
                .about("Print the shell completion script for bash or zsh")
                .arg(
                    Arg::new("SHELL")
                        .required(true)
                        .value_parser(["bash", "zsh"]),
                ),
        );
    for e in AGENTS {
        cmd = cmd.subcommand(agent_command(e));
    }
    cmd
}

/// `storha AGENT ACTION [OPTIONS]` for one agent.
fn agent_command(e: &'static registry::Entry) -> Command {
    let meta = (e.meta)();
    let mut params = String::new();
    for p in meta.params {
        params.push_str(&format!("  {:<24} {}\n", p.name, p.shortdesc));
    }
    let mut cmd = Command::new(e.name)
        .about(format!("Agent: {}", meta.shortdesc))
        .arg(
            Arg::new("ACTION")
                .required(true)
                .help("The action, as Pacemaker would call it")
                .value_parser(ActionParser(e.actions())),
        )
        .args(action_args());
    if !params.is_empty() {
        cmd = cmd.after_long_help(format!(
            "Parameters (see `storha man {}`):\n{params}",
            e.name
        ));
    }
    cmd
}

/// The options of `storha AGENT ACTION`, the same for every agent.
fn action_args() -> [Arg; 5] {
    [
        Arg::new("param")
            .short('p')
            .long("param")
            .value_name("NAME=VALUE")
            .action(ArgAction::Append)
            .value_parser(parse_param)
            .help("Instance parameter (OCF_RESKEY_NAME), repeatable"),
        Arg::new("instance")
            .short('i')
            .long("instance")
            .value_name("NAME")
            .help("Resource id (OCF_RESOURCE_INSTANCE) [default: AGENT]"),
        Arg::new("timeout")
            .short('t')
            .long("timeout")
            .value_name("TIME")
            .value_parser(parse_timeout)
            .help("Operation timeout, e.g. 90s, 2m, 500ms [default: 20s]"),
        Arg::new("interval")
            .long("interval")
            .value_name("TIME")
            .value_parser(parse_interval)
            .help("Run monitor as a recurring check at this interval [default: a probe]"),
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help("Print the action's result and the observed state as JSON"),
    ]
}

/// Any action is passed on (the agent answers an unknown one with
/// OCF_ERR_UNIMPLEMENTED, as under Pacemaker); the agent's own actions are
/// offered in help and shell completion.
#[derive(Clone)]
struct ActionParser(Vec<&'static str>);

impl TypedValueParser for ActionParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|a| PossibleValue::new(*a))))
    }
}

fn agent_names() -> Vec<&'static str> {
    AGENTS.iter().map(|e| e.name).collect()
}

/// What `storha man` answers to: storha, the agents' names, their pages' names.
fn page_names() -> Vec<String> {
    let mut v = vec!["storha".to_string()];
    for e in AGENTS {
        v.push(e.name.to_string());
        if let Some((p, _)) = crate::manpage::page_name(e) {
            if p != e.name {
                v.push(p);
            }
        }
    }
    v
}

fn parse_param(kv: &str) -> Result<(String, String), String> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE".to_string())?;
    if !valid_param_name(k) {
        return Err(format!("'{k}' is not a parameter name"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    parse_duration(v)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "not a time (e.g. 20s, 2m)".to_string())
}

fn parse_interval(v: &str) -> Result<Duration, String> {
    parse_duration(v).ok_or_else(|| "not a time (e.g. 10s, 1m)".to_string())
}

/// Durations as crmsh writes them: plain seconds or with a unit.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit.trim() {
        "" | "s" | "sec" => n.checked_mul(1000)?,
        "ms" | "msec" => n,
        "m" | "min" => n.checked_mul(60_000)?,
        "h" | "hr" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

fn valid_param_name(n: &str) -> bool {
    !n.is_empty() && n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The invocation of one agent's subcommand.
fn invocation(agent: &str, m: &ArgMatches) -> Invocation {
    Invocation {
        agent: agent.to_string(),
        action: m.get_one::<String>("ACTION").cloned().unwrap_or_default(),
        params: m
            .get_many::<(String, String)>("param")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
        instance: m.get_one::<String>("instance").cloned(),
        timeout: m
            .get_one::<Duration>("timeout")
            .copied()
            .unwrap_or(env::DEFAULT_TIMEOUT),
        interval: m.get_one::<Duration>("interval").copied(),
        json: m.get_flag("json"),
    }
}

/// Parses `storha ARGS...` (without the program name).
fn parse(args: &[OsString]) -> Result<Parsed, clap::Error> {
    let mut cmd = command();
    let m = cmd.try_get_matches_from_mut(
        std::iter::once(OsString::from("storha")).chain(args.iter().cloned()),
    )?;
    Ok(match m.subcommand() {
        Some(("list", _)) => Parsed::List,
        Some(("meta-data", s)) => {
            Parsed::MetaData(s.get_one::<String>("AGENT").cloned().unwrap_or_default())
        }
        Some(("man", s)) => Parsed::Man(s.get_one::<String>("NAME").cloned().unwrap_or_default()),
        Some(("status", s)) => Parsed::Status {
            json: s.get_flag("json"),
        },
        Some(("doctor", s)) => Parsed::Doctor {
            json: s.get_flag("json"),
        },
        Some(("active", s)) => Parsed::Active {
            json: s.get_flag("json"),
        },
        Some(("drbd-split-brain", _)) => Parsed::SplitBrain,
        Some(("completions", s)) => {
            Parsed::Completions(s.get_one::<String>("SHELL").cloned().unwrap_or_default())
        }
        Some((name, s)) if registry::find(name).is_some() => Parsed::Run(invocation(name, s)),
        Some((name, _)) => {
            return Err(cmd.error(
                ErrorKind::InvalidSubcommand,
                format!("unknown agent '{name}' (known: {})", names()),
            ))
        }
        None => {
            return Err(cmd.error(
                ErrorKind::MissingSubcommand,
                "expected a command or an agent",
            ))
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    List,
    MetaData(String),
    Man(String),
    Completions(String),
    Active { json: bool },
    SplitBrain,
    Status { json: bool },
    Doctor { json: bool },
    Run(Invocation),
}

/// Replaces the process environment's OCF variables with the invocation's,
/// so that commands the agent runs see what they would under Pacemaker.
fn set_environment(inv: &Invocation) {
    for (k, _) in std::env::vars_os() {
        if k.to_str()
            .is_some_and(|k| k.starts_with(env::RESKEY_PREFIX))
        {
            std::env::remove_var(k);
        }
    }
    if std::env::var_os(env::OCF_ROOT).is_none() {
        std::env::set_var(env::OCF_ROOT, env::DEFAULT_OCF_ROOT);
    }
    std::env::set_var(env::OCF_RA_VERSION_MAJOR, "1");
    std::env::set_var(env::OCF_RA_VERSION_MINOR, "1");
    std::env::set_var(env::OCF_RESOURCE_TYPE, &inv.agent);
    std::env::set_var(env::OCF_RESOURCE_PROVIDER, "storha");
    std::env::set_var(
        env::OCF_RESOURCE_INSTANCE,
        inv.instance.as_deref().unwrap_or(&inv.agent),
    );
    std::env::set_var(env::OCF_EXIT_REASON_PREFIX, env::DEFAULT_EXIT_REASON_PREFIX);
    std::env::set_var(env::META_TIMEOUT, inv.timeout.as_millis().to_string());
    if let Some(i) = inv.interval.filter(|i| !i.is_zero()) {
        std::env::set_var(env::META_INTERVAL, i.as_millis().to_string());
    }
    for (k, v) in &inv.params {
        std::env::set_var(format!("{}{k}", env::RESKEY_PREFIX), v);
    }
}

/// Returns the process exit code.
pub fn main(args: &[OsString]) -> u8 {
    let inv = match parse(args) {
        Ok(Parsed::Run(inv)) => inv,
        Ok(Parsed::List) => {
            for e in AGENTS {
                println!("{:<20} {}", e.name, (e.meta)().shortdesc);
            }
            return 0;
        }
        Ok(Parsed::MetaData(name)) => {
            print!(
                "{}",
                registry::find(&name)
                    .map(|e| e.metadata_xml())
                    .unwrap_or_default()
            );
            return 0;
        }
        Ok(Parsed::Man(name)) => {
            let Some(text) = crate::manpage::page(&name) else {
                return 2;
            };
            print!("{text}");
            return 0;
        }
        Ok(Parsed::Completions(shell)) => {
            let shell = if shell == "zsh" {
                Shell::Zsh
            } else {
                Shell::Bash
            };
            clap_complete::generate(shell, &mut command(), "storha", &mut std::io::stdout());
            return 0;
        }
        Ok(Parsed::Active { json }) => return active(json),
        Ok(Parsed::SplitBrain) => return crate::agents::drbd_tuned::split_brain_handler(),
        Ok(Parsed::Status { json }) => {
            let runner = crate::cmd::SystemRunner::new(crate::deadline::Deadline::after(
                Duration::from_secs(60),
            ));
            let report = crate::status::report(&crate::status::gather(&runner));
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", crate::status::text(&report));
            }
            return u8::from(!report.problems.is_empty());
        }
        Ok(Parsed::Doctor { json }) => {
            let runner = crate::cmd::SystemRunner::new(crate::deadline::Deadline::after(
                Duration::from_secs(120),
            ));
            let report = crate::doctor::judge(&crate::doctor::gather(&runner));
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                print!("{}", crate::doctor::text(&report));
            }
            return u8::from(report.failed > 0);
        }
        Err(e) => {
            // --help and --version are "errors" that print to stdout and exit 0.
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let Some(entry) = registry::find(&inv.agent) else {
        return 2;
    };
    set_environment(&inv);
    let env = OcfEnv::from_process();
    ocf::logging::init(entry.name, &env);
    let outcome = (entry.run)(&inv.action, &env, RunOpts { observe: inv.json });
    crate::print_reason(&env, outcome.reason.as_deref());
    if inv.json {
        let doc = serde_json::json!({
            "agent": inv.agent,
            "action": inv.action,
            "instance": inv.instance.as_deref().unwrap_or(&inv.agent),
            "exit_code": outcome.status.code(),
            "exit_name": outcome.status.name(),
            "reason": outcome.reason,
            "state": outcome.state,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print!("{}", outcome.stdout);
        if outcome.stdout.is_empty() {
            println!("{} {}: {}", inv.agent, inv.action, outcome.status);
        }
    }
    outcome.status.code()
}

/// `storha active`: 0 when nothing of storha runs here, 1 otherwise.
fn active(json: bool) -> u8 {
    use crate::cluster::{self, Here};
    let runner =
        crate::cmd::SystemRunner::new(crate::deadline::Deadline::after(Duration::from_secs(60)));
    let (doc, code, text) = match cluster::active_here(&runner) {
        Ok(Here::NoCluster) => (
            serde_json::json!({"cluster": false, "active": []}),
            0,
            "Pacemaker is not running on this node: no storha resource is active here".to_string(),
        ),
        Ok(Here::Active { node, resources }) if resources.is_empty() => (
            serde_json::json!({"cluster": true, "node": node, "active": []}),
            0,
            format!("no storha resource is active on {node}"),
        ),
        Ok(Here::Active { node, resources }) => {
            let mut text = format!("storha resources active on {node}:");
            for r in &resources {
                text.push_str(&format!("\n  {:<24} {:<32} {}", r.id, r.agent, r.role));
            }
            (
                serde_json::json!({"cluster": true, "node": node, "active": resources}),
                1,
                text,
            )
        }
        Err(e) => (
            serde_json::json!({"error": e}),
            1,
            format!("cannot tell which storha resources are active here: {e}"),
        ),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!("{text}");
    }
    code
}

fn names() -> String {
    AGENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn run_of(args: &[&str]) -> Invocation {
        match parse(&s(args)) {
            Ok(Parsed::Run(inv)) => inv,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn parses_a_full_invocation() {
        let inv = run_of(&[
            "floating-ip",
            "start",
            "--param",
            "ip=192.0.2.1",
            "-p",
            "nic=eth0",
            "--param=cidr_netmask=24",
            "--instance",
            "vip",
            "--timeout",
            "90s",
            "--interval",
            "10s",
            "--json",
        ]);
        assert_eq!(inv.agent, "floating-ip");
        assert_eq!(inv.action, "start");
        assert_eq!(
            inv.params,
            vec![
                ("ip".into(), "192.0.2.1".into()),
                ("nic".into(), "eth0".into()),
                ("cidr_netmask".into(), "24".into())
            ]
        );
        assert_eq!(inv.instance.as_deref(), Some("vip"));
        assert_eq!(inv.timeout, Duration::from_secs(90));
        assert_eq!(inv.interval, Some(Duration::from_secs(10)));
        assert!(inv.json);
    }

    #[test]
    fn value_may_contain_equals_signs() {
        let inv = run_of(&["floating-ip", "start", "-p", "options=rw,fsid=1"]);
        assert_eq!(inv.params, vec![("options".into(), "rw,fsid=1".into())]);
    }

    #[test]
    fn bad_options_are_errors() {
        let err = |args: &[&str]| parse(&s(args)).expect_err("an error").kind();
        assert_eq!(
            err(&[]),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(err(&["floating-ip"]), ErrorKind::MissingRequiredArgument);
        let a = |rest: &[&str]| err(&[&["floating-ip", "start"], rest].concat());
        assert_eq!(a(&["--param"]), ErrorKind::InvalidValue);
        assert_eq!(a(&["--param", "novalue"]), ErrorKind::ValueValidation);
        assert_eq!(a(&["--param", "bad-name=1"]), ErrorKind::ValueValidation);
        assert_eq!(a(&["--param", "a;b=1"]), ErrorKind::ValueValidation);
        assert_eq!(a(&["--timeout", "soon"]), ErrorKind::ValueValidation);
        assert_eq!(a(&["--timeout", "0"]), ErrorKind::ValueValidation);
        assert_eq!(a(&["--frobnicate"]), ErrorKind::UnknownArgument);
        assert_eq!(err(&["nope", "start"]), ErrorKind::InvalidSubcommand);
        assert_eq!(err(&["meta-data", "nope"]), ErrorKind::InvalidValue);
        assert_eq!(err(&["completions", "tcsh"]), ErrorKind::InvalidValue);
    }

    #[test]
    fn any_action_reaches_the_agent() {
        // The agent, not the command line, answers an unknown action (3).
        assert_eq!(run_of(&["floating-ip", "frobnicate"]).action, "frobnicate");
        let inv = run_of(&["drbd-tuned", "monitor"]);
        assert_eq!(inv.timeout, env::DEFAULT_TIMEOUT);
        assert_eq!((inv.interval, inv.json, inv.instance), (None, false, None));
    }

    #[test]
    fn admin_commands() {
        assert_eq!(parse(&s(&["list"])).ok(), Some(Parsed::List));
        assert_eq!(
            parse(&s(&["man", "ocf_storha_floating-ip"])).ok(),
            Some(Parsed::Man("ocf_storha_floating-ip".into()))
        );
        assert_eq!(
            parse(&s(&["completions", "zsh"])).ok(),
            Some(Parsed::Completions("zsh".into()))
        );
        assert_eq!(
            parse(&s(&["drbd-split-brain"])).ok(),
            Some(Parsed::SplitBrain)
        );
        assert_eq!(
            parse(&s(&["--version"])).expect_err("exits").kind(),
            ErrorKind::DisplayVersion
        );
    }

    #[test]
    fn durations_like_crmsh() {
        assert_eq!(parse_duration("20"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration("99999999999999999999"), None);
    }
}
