// SPDX-License-Identifier: GPL-2.0-or-later
//! `ocf-tester` (resource-agents) against the floating-ip agent, for IPv4 and IPv6, each in its
//! own network namespace. ocf-tester is the upstream acceptance check for OCF agents: meta-data
//! as `nobody`, DTD validation, probes, idempotent start/stop, exit code 3 for what is not
//! implemented.

// A test reports failures by panicking.
#![allow(clippy::expect_used)]

mod common;

use common::*;

/// Runs ocf-tester inside the lab's agent namespace and checks it passed, and that the agent
/// left neither the address nor a process behind.
fn ocf_tester(test: &str, params: &[(&str, &str)], ip: &str) {
    if !require_root(test) {
        return;
    }
    require_tool("ocf-tester");
    require_tool("xmllint");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let mut argv: Vec<String> = vec!["ocf-tester".into(), "-n".into(), "fip".into()];
    for (k, v) in params {
        argv.push("-o".into());
        argv.push(format!("{k}={v}"));
    }
    // The path handed over is a file named floating-ip (a symlink to storha), as installed.
    argv.push(agent.path_str().to_string());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let rsctmp = agent.rsctmp().display().to_string();
    let r = lab.agent.exec_env(
        &argv,
        &[("OCF_ROOT", "/usr/lib/ocf"), ("HA_RSCTMP", rsctmp.as_str())],
    );
    assert!(
        r.code == 0 && r.stdout.contains("passed all tests"),
        "ocf-tester must pass:\n{}",
        r.describe()
    );
    let left: Vec<_> = lab
        .agent
        .all_addrs()
        .into_iter()
        .filter(|(_, a)| same_ip(&a.local, ip))
        .collect();
    assert!(
        left.is_empty(),
        "ocf-tester ends with a stop; {ip} is still configured: {left:?}"
    );
    lab.agent
        .wait_no_pids("no agent process to remain after ocf-tester");
}

#[test]
fn ocf_tester_passes_ipv4() {
    ocf_tester(
        "ocf_tester_passes_ipv4",
        &[("ip", "192.0.2.10"), ("nic", "fip0")],
        "192.0.2.10",
    );
}

#[test]
fn ocf_tester_passes_ipv6() {
    ocf_tester(
        "ocf_tester_passes_ipv6",
        &[
            ("ip", "2001:db8:1::10"),
            ("nic", "fip0"),
            ("cidr_netmask", "64"),
        ],
        "2001:db8:1::10",
    );
}

#[test]
fn ocf_tester_passes_ipv4_autodetected_nic() {
    ocf_tester(
        "ocf_tester_passes_ipv4_autodetected_nic",
        &[("ip", "192.0.2.11")],
        "192.0.2.11",
    );
}
