// SPDX-License-Identifier: GPL-2.0-or-later
//! `storha` run under its own name: the sysadmin's front door.
//!
//! `storha <agent> <action> --param k=v ...` sets up the environment exactly
//! as Pacemaker's executor would and runs the action in this process, so a
//! failing resource can be reproduced by hand with the same parameters.

use crate::ocf::env;
use crate::ocf::{self, OcfEnv, RunOpts};
use crate::registry::{self, AGENTS};
use std::time::Duration;

const HELP: &str = "\
storha: Pacemaker resource agents for a highly available NFS storage cluster

usage:
  storha list                          agents this binary provides
  storha meta-data AGENT               print the agent's OCF meta-data
  storha man AGENT|storha              print a manual page (roff)
  storha AGENT ACTION [options]        run an action as Pacemaker would
  storha --help | --version

options for AGENT ACTION:
  -p, --param NAME=VALUE   instance parameter (OCF_RESKEY_NAME), repeatable
  -i, --instance NAME      resource id (OCF_RESOURCE_INSTANCE), default AGENT
  -t, --timeout TIME       operation timeout, default 20s (e.g. 90s, 2m, 500ms)
      --interval TIME      run monitor as a recurring check (default: a probe)
      --json               print the action's result and the observed state as JSON

Installed under an agent's name (e.g. /usr/lib/ocf/resource.d/storha/floating-ip)
the binary is that OCF agent and takes only the action as its argument.
The exit status is the OCF exit code.
";

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

fn parse(args: &[String]) -> Result<Invocation, String> {
    let (agent, action) = match args {
        [a, b, ..] => (a.clone(), b.clone()),
        _ => return Err("expected AGENT ACTION".into()),
    };
    let mut inv = Invocation {
        agent,
        action,
        params: Vec::new(),
        instance: None,
        timeout: env::DEFAULT_TIMEOUT,
        interval: None,
        json: false,
    };
    let mut it = args[2..].iter();
    while let Some(opt) = it.next() {
        let (flag, inline) = match opt.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (opt.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{flag} needs {what}"))
        };
        match flag {
            "-p" | "--param" => {
                let kv = value("NAME=VALUE")?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or(format!("--param {kv}: expected NAME=VALUE"))?;
                if !valid_param_name(k) {
                    return Err(format!("--param: '{k}' is not a parameter name"));
                }
                inv.params.push((k.to_string(), v.to_string()));
            }
            "-i" | "--instance" => inv.instance = Some(value("a resource id")?),
            "-t" | "--timeout" => {
                let v = value("a time")?;
                inv.timeout = parse_duration(&v)
                    .filter(|d| !d.is_zero())
                    .ok_or(format!("--timeout {v}: not a time (e.g. 20s, 2m)"))?;
            }
            "--interval" => {
                let v = value("a time")?;
                inv.interval =
                    Some(parse_duration(&v).ok_or(format!("--interval {v}: not a time"))?);
            }
            "--json" => inv.json = true,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(inv)
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
pub fn main(args: &[String]) -> u8 {
    match args.first().map(String::as_str) {
        None | Some("-h" | "--help" | "help") => {
            print!("{HELP}");
            return if args.is_empty() { 2 } else { 0 };
        }
        Some("-V" | "--version" | "version") => {
            println!("storha {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Some("list") => {
            for e in AGENTS {
                println!("{:<20} {}", e.name, (e.meta)().shortdesc);
            }
            return 0;
        }
        Some("meta-data") => {
            let Some(entry) = args.get(1).and_then(|n| registry::find(n)) else {
                eprintln!("storha: meta-data needs an agent name ({})", names());
                return 2;
            };
            print!("{}", entry.metadata_xml());
            return 0;
        }
        Some("man") => {
            let Some(text) = args.get(1).and_then(|n| crate::manpage::page(n, HELP)) else {
                eprintln!("storha: man needs an agent name or storha ({})", names());
                return 2;
            };
            print!("{text}");
            return 0;
        }
        Some(_) => {}
    }
    let inv = match parse(args) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("storha: {e}\n\n{HELP}");
            return 2;
        }
    };
    let Some(entry) = registry::find(&inv.agent) else {
        eprintln!("storha: unknown agent '{}' (known: {})", inv.agent, names());
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

fn names() -> String {
    AGENTS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_a_full_invocation() {
        let inv = parse(&s(&[
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
        ]))
        .expect("parses");
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
        let inv = parse(&s(&["a", "start", "-p", "options=rw,fsid=1"])).expect("parses");
        assert_eq!(inv.params, vec![("options".into(), "rw,fsid=1".into())]);
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(parse(&s(&["a"])).is_err());
        assert!(parse(&s(&["a", "start", "--param"])).is_err());
        assert!(parse(&s(&["a", "start", "--param", "novalue"])).is_err());
        assert!(parse(&s(&["a", "start", "--param", "bad-name=1"])).is_err());
        assert!(parse(&s(&["a", "start", "--param", "a;b=1"])).is_err());
        assert!(parse(&s(&["a", "start", "--timeout", "soon"])).is_err());
        assert!(parse(&s(&["a", "start", "--timeout", "0"])).is_err());
        assert!(parse(&s(&["a", "start", "--frobnicate"])).is_err());
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
