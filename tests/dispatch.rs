// SPDX-License-Identifier: GPL-2.0-or-later
//! The multi-call binary as it is installed: chosen by the link's own name,
//! and `storha` itself as the admin front door.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_storha");

/// A link to the binary under `name` in a fresh temporary directory.
fn link(name: &str) -> (PathBuf, PathBuf) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("storha-dispatch-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(BIN, &path).expect("symlink");
    (dir, path)
}

fn run(path: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(path);
    c.args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn agent_is_chosen_by_link_name_not_resolved_path() {
    let (dir, path) = link("floating-ip");
    let out = run(&path, &["meta-data"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("<resource-agent name=\"floating-ip\""));
    let out = run(&path, &["usage"], &[]);
    assert!(text(&out.stdout).starts_with("usage: floating-ip {start|stop|status|monitor"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_link_name_is_a_clear_error() {
    let (dir, path) = link("no-such-agent");
    let out = run(&path, &["start"], &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(
        err.contains("ocf-exit-reason:unknown agent name 'no-such-agent'"),
        "{err}"
    );
    assert!(err.contains("floating-ip"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_or_missing_action_is_3_with_one_exit_reason() {
    let (dir, path) = link("floating-ip");
    for args in [
        &["frobnicate"][..],
        &[][..],
        &["promote"][..],
        &["reload"][..],
    ] {
        let out = run(&path, args, &[("OCF_RESKEY_ip", "192.0.2.1")]);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = text(&out.stderr);
        let reasons: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("ocf-exit-reason:"))
            .collect();
        assert_eq!(reasons.len(), 1, "{args:?}: {err}");
        assert!(reasons[0].contains("usage: floating-ip"), "{err}");
    }
    // Extra arguments after the action are ignored, as OCF requires.
    let out = run(&path, &["meta-data", "extra"], &[]);
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn exit_reason_prefix_is_honoured() {
    let (dir, path) = link("floating-ip");
    let out = run(
        &path,
        &["validate-all"],
        &[("OCF_EXIT_REASON_PREFIX", "WHY:")],
    );
    assert_eq!(out.status.code(), Some(6));
    assert!(
        text(&out.stderr).contains("WHY:required parameter ip is not set"),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn admin_front_door() {
    let bin = PathBuf::from(BIN);
    let out = run(&bin, &["list"], &[]);
    assert!(out.status.success());
    assert!(text(&out.stdout)
        .lines()
        .any(|l| l.starts_with("floating-ip ")));
    let out = run(&bin, &["--version"], &[]);
    assert_eq!(
        text(&out.stdout).trim(),
        format!("storha {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(&bin, &["--help"], &[]);
    assert!(out.status.success() && text(&out.stdout).contains("storha AGENT ACTION"));
    let out = run(&bin, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&bin, &["meta-data", "floating-ip"], &[]);
    assert!(text(&out.stdout).contains("<parameter name=\"ip\" unique=\"1\" required=\"1\">"));
    let out = run(&bin, &["meta-data", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&bin, &["nope", "start"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown agent 'nope'"));
    let out = run(&bin, &["floating-ip", "start", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unexpected argument '--bogus'"));
}

/// `storha completions bash` completes agents, their actions and options.
#[test]
fn bash_completion_offers_agents_actions_and_options() {
    let complete = |words: &[&str]| -> String {
        let script = format!(
            "source <('{BIN}' completions bash) && COMP_WORDS=({}) && COMP_CWORD={} && \
             _storha storha \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\" && \
             echo \"${{COMPREPLY[*]}}\"",
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        let out = run(std::path::Path::new("/bin/bash"), &["-c", &script], &[]);
        assert!(out.status.success(), "{out:?}");
        text(&out.stdout)
    };
    let top = complete(&["storha", ""]);
    for w in [
        "list",
        "meta-data",
        "man",
        "completions",
        "floating-ip",
        "fence_ipstrip",
    ] {
        assert!(
            top.split(' ').any(|x| x.trim() == w),
            "{w} not offered: {top}"
        );
    }
    let actions = complete(&["storha", "drbd-tuned", ""]);
    for w in ["start", "promote", "monitor", "--param", "--timeout"] {
        assert!(actions.split(' ').any(|x| x.trim() == w), "{w}: {actions}");
    }
    let zsh = run(&PathBuf::from(BIN), &["completions", "zsh"], &[]);
    assert!(text(&zsh.stdout).starts_with("#compdef storha"));
}

/// `storha status --json` on a host without Pacemaker (crm_mon answers "not
/// connected") and without dmsetup: a report that says what it could not
/// look at, and no error.
#[test]
fn status_without_a_cluster_says_what_it_did_not_look_at() {
    let (dir, _) = link("unused");
    let mon = dir.join("crm_mon");
    std::fs::write(&mon, "#!/bin/sh\necho '<pacemaker-result/>'\nexit 102\n").unwrap();
    std::fs::set_permissions(&mon, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:/bin", dir.display());
    let out = run(
        &PathBuf::from(BIN),
        &["status", "--json"],
        &[("PATH", &path)],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["pacemaker"], false, "{doc}");
    let notes = doc["notes"].to_string();
    assert!(notes.contains("Pacemaker is not running"), "{notes}");
    assert!(notes.contains("dmsetup is not installed"), "{notes}");
    assert_eq!(
        out.status.code(),
        Some(i32::from(
            doc["problems"].as_array().is_some_and(|p| !p.is_empty())
        )),
        "exit 1 exactly when a problem is reported"
    );
    let out = run(&PathBuf::from(BIN), &["status"], &[("PATH", &path)]);
    assert!(text(&out.stdout).contains("not looked at"), "{out:?}");
    let out = run(&PathBuf::from(BIN), &["active"], &[("PATH", &path)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// `storha doctor --json` where none of the cluster's tools is on PATH:
/// each missing one is a failed check with the package that brings it, and
/// the exit status is 1.
#[test]
fn doctor_without_the_tools_fails_and_says_what_to_install() {
    let (dir, _) = link("unused");
    let path = dir.display().to_string();
    let out = run(
        &PathBuf::from(BIN),
        &["doctor", "--json"],
        &[("PATH", &path)],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let checks = doc["checks"].as_array().expect("checks");
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {doc}"))
    };
    assert_eq!(find("tool drbdadm")["status"], "fail", "{doc}");
    assert_eq!(find("tool drbdadm")["fix"], "apt install drbd-utils");
    assert_eq!(find("tool corosync")["status"], "fail");
    assert_eq!(find("tool pacemaker")["status"], "fail");
    assert!(doc["failed"].as_u64().is_some_and(|n| n >= 3), "{doc}");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = run(&PathBuf::from(BIN), &["doctor"], &[("PATH", &path)]);
    let t = text(&out.stdout);
    assert!(t.contains("FAIL  tool drbdadm"), "{t}");
    assert!(t.contains("fix: apt install drbd-utils"), "{t}");
    assert!(t.contains("NOT ready"), "{t}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn admin_sets_the_ocf_environment_and_reports_the_code() {
    let bin = PathBuf::from(BIN);
    // Stale parameters in the caller's environment must not leak in.
    let out = run(
        &bin,
        &["floating-ip", "validate-all", "--param", "ip=not-an-ip"],
        &[("OCF_RESKEY_ip", "192.0.2.1")],
    );
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(
        text(&out.stdout).trim(),
        "floating-ip validate-all: 6 (OCF_ERR_CONFIGURED)"
    );
    assert!(
        text(&out.stderr).contains("ocf-exit-reason:ip='not-an-ip' is not an IPv4 or IPv6 address")
    );

    let out = run(
        &bin,
        &[
            "floating-ip",
            "validate-all",
            "-p",
            "ip=192.0.2.1",
            "-p",
            "nic=lo",
            "-p",
            "cidr_netmask=32",
            "--json",
        ],
        &[],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["exit_name"], "OCF_SUCCESS");
    assert_eq!(doc["state"]["ip"], "192.0.2.1");
    assert_eq!(doc["state"]["present"], false);
}

/// ocf_log's routing: under Pacemaker (stdin not a terminal) messages go to
/// HA_LOGFILE, debug only with HA_debug, and then to HA_DEBUGLOG.
#[test]
fn logging_follows_ha_variables() {
    let (dir, path) = link("floating-ip");
    let log = dir.join("pacemaker.log");
    let dbg = dir.join("debug.log");
    let (log_s, dbg_s) = (log.to_str().expect("path"), dbg.to_str().expect("path"));
    // Check level 0: consistency only, the host's routes are not looked at.
    let base = [
        ("OCF_RESKEY_ip", "192.0.2.1"),
        ("OCF_RESKEY_colour", "blue"),
        ("OCF_RESOURCE_INSTANCE", "vip"),
        ("OCF_CHECK_LEVEL", "0"),
    ];

    let out = run(
        &path,
        &["validate-all"],
        &[&base[..], &[("HA_LOGFILE", log_s)]].concat(),
    );
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&log).expect("HA_LOGFILE written");
    assert!(
        text.contains("floating-ip(vip)["),
        "tag names agent and instance: {text}"
    );
    assert!(
        text.contains("WARNING: ignoring unknown parameter colour"),
        "{text}"
    );
    assert!(!text.contains("DEBUG"), "no debug without HA_debug: {text}");
    assert!(
        out.stderr.is_empty(),
        "nothing on stderr when HA_LOGFILE is set: {out:?}"
    );

    let env = [
        &base[..],
        &[
            ("HA_LOGFILE", log_s),
            ("HA_DEBUGLOG", dbg_s),
            ("HA_debug", "1"),
        ],
    ]
    .concat();
    let out = run(&path, &["validate-all"], &env);
    assert!(out.status.success());
    let debug = std::fs::read_to_string(&dbg).expect("HA_DEBUGLOG written");
    assert!(
        debug.contains("DEBUG: validate-all of vip: timeout 20000 ms"),
        "{debug}"
    );
    assert!(
        debug.contains("parameters set: colour ip"),
        "names, never values: {debug}"
    );
    assert!(
        !debug.contains("would go on"),
        "level 0 looks at no route: {debug}"
    );
    assert!(
        !debug.contains("192.0.2.1"),
        "parameter values never logged: {debug}"
    );

    // Neither set: stderr, with a timestamp, as ocf_log does.
    let out = run(&path, &["validate-all"], &base);
    assert!(
        text_of(&out.stderr).contains("floating-ip(vip)["),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
