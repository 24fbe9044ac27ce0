// SPDX-License-Identifier: GPL-2.0-or-later
//! Host integration tests of the `floating-ip` OCF agent in real network namespaces.
//!
//! Every scenario builds its own namespaces (`common::Lab`: the agent's `fip0` veth'd to a
//! peer's `peer0`), so the tests run in parallel and leave nothing behind. The agent is
//! `common::Agent::under_test()`: storha by default, `STORHA_TEST_AGENT=ipaddr2` to check a
//! scenario against the reference agent.

// A test reports failures by panicking.
#![allow(clippy::expect_used)]

mod common;

use common::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

macro_rules! root_or_skip {
    ($name:expr) => {
        if !require_root($name) {
            return;
        }
    };
}

/// Asserts that exactly one copy of `ip` exists in the namespace, on `dev`, and returns it.
fn only_on(ns: &Netns, dev: &str, ip: &str) -> Addr {
    let all = ns.all_addrs();
    let hits: Vec<_> = all.iter().filter(|(_, a)| same_ip(&a.local, ip)).collect();
    assert_eq!(
        hits.len(),
        1,
        "expected {ip} exactly once in the namespace, found: {hits:#?}"
    );
    assert_eq!(
        hits[0].0, dev,
        "{ip} is on {} instead of {dev}: {hits:#?}",
        hits[0].0
    );
    hits[0].1.clone()
}

fn absent(ns: &Netns, ip: &str) {
    let all = ns.all_addrs();
    assert!(
        !all.iter().any(|(_, a)| same_ip(&a.local, ip)),
        "{ip} must not be configured anywhere in the namespace: {all:#?}"
    );
}

#[test]
fn ipv4_start_monitor_stop_lifecycle() {
    root_or_skip!("ipv4_start_monitor_stop_lifecycle");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let p = [
        ("ip", "192.0.2.10"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("broadcast", "192.0.2.255"),
        ("iflabel", "vip"),
    ];
    let before = lab.agent_addrs();

    agent.probe(&lab.agent, &p).expect_code(7);
    agent.run(&lab.agent, "validate-all", &p).expect_code(0);
    agent.run(&lab.agent, "start", &p).expect_code(0);
    let a = only_on(&lab.agent, "fip0", "192.0.2.10");
    assert_eq!(a.family, "inet");
    assert_eq!(a.prefixlen, 24, "prefix: {a:?}");
    assert_eq!(
        a.broadcast.as_deref(),
        Some("192.0.2.255"),
        "broadcast: {a:?}"
    );
    assert_eq!(a.label.as_deref(), Some("fip0:vip"), "label: {a:?}");
    assert_eq!(
        a.valid_lft, FOREVER,
        "a floating address must not expire: {a:?}"
    );
    assert!(lab.agent.link("fip0")["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .any(|f| f == "UP"));

    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.probe(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "status", &p).expect_code(0);

    // start is idempotent: success, and still exactly one copy of the address.
    agent.run(&lab.agent, "start", &p).expect_code(0);
    only_on(&lab.agent, "fip0", "192.0.2.10");
    agent.monitor(&lab.agent, &p).expect_code(0);

    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.10");
    assert_eq!(
        lab.agent_addrs(),
        before,
        "stop must leave the nic's other addresses alone"
    );
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    agent.monitor(&lab.agent, &p).expect_code(7);
    agent.probe(&lab.agent, &p).expect_code(7);
    agent.run(&lab.agent, "status", &p).expect_code(7);
    lab.agent
        .wait_no_pids("no agent process to remain after stop");
}

/// Adds a second veth (`fip1` <-> `peer1`) whose route, 192.0.2.128/25, is more specific than
/// fip0's 192.0.2.0/24.
fn two_nic_lab() -> Lab {
    let lab = Lab::new();
    VethPair::new(
        &lab.agent,
        "fip1",
        "02:00:5e:00:01:01",
        &lab.peer,
        "peer1",
        "02:00:5e:00:01:02",
    );
    lab.agent
        .ip(&["addr", "add", "192.0.2.129/25", "dev", "fip1"]);
    wait_for("fip1 to have carrier", DEADLINE, || {
        (lab.agent.operstate("fip1") == "UP").then_some(())
    });
    lab
}

#[test]
fn nic_autodetect_picks_most_specific_route() {
    root_or_skip!("nic_autodetect_picks_most_specific_route");
    let lab = two_nic_lab();

    // 192.0.2.200 matches 192.0.2.0/24 (fip0) and 192.0.2.128/25 (fip1): the /25 wins, and the
    // prefix length comes from that route.
    let a1 = Agent::under_test();
    let p1 = [("ip", "192.0.2.200")];
    a1.run(&lab.agent, "validate-all", &p1).expect_code(0);
    a1.run(&lab.agent, "start", &p1).expect_code(0);
    let got = only_on(&lab.agent, "fip1", "192.0.2.200");
    assert_eq!(
        got.prefixlen, 25,
        "cidr_netmask must come from the matching route: {got:?}"
    );
    a1.monitor(&lab.agent, &p1).expect_code(0);

    // 192.0.2.20 only matches the /24.
    let a2 = Agent::under_test();
    let p2 = [("ip", "192.0.2.20")];
    a2.run(&lab.agent, "start", &p2).expect_code(0);
    let got = only_on(&lab.agent, "fip0", "192.0.2.20");
    assert_eq!(
        got.prefixlen, 24,
        "cidr_netmask must come from the matching route: {got:?}"
    );

    a1.run(&lab.agent, "stop", &p1).expect_code(0);
    a2.run(&lab.agent, "stop", &p2).expect_code(0);
    absent(&lab.agent, "192.0.2.200");
    absent(&lab.agent, "192.0.2.20");
}

#[test]
fn nic_autodetect_ignores_blackhole_unreachable_prohibit_routes() {
    root_or_skip!("nic_autodetect_ignores_blackhole_unreachable_prohibit_routes");
    let lab = two_nic_lab();
    // More specific than any link route, but they lead nowhere: the agent must not pick them
    // (they have no device) nor fail because of them.
    lab.agent
        .ip(&["route", "add", "blackhole", "192.0.2.192/26"]);
    lab.agent
        .ip(&["route", "add", "unreachable", "192.0.2.200/30"]);
    lab.agent
        .ip(&["route", "add", "prohibit", "192.0.2.200/32"]);
    let agent = Agent::under_test();
    let p = [("ip", "192.0.2.201")];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    let got = only_on(&lab.agent, "fip1", "192.0.2.201");
    assert_eq!(got.prefixlen, 25, "{got:?}");
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.201");
}

#[test]
fn nic_autodetect_ambiguous_route_is_a_configuration_error() {
    root_or_skip!("nic_autodetect_ambiguous_route_is_a_configuration_error");
    let lab = two_nic_lab();
    // The same prefix reachable through two nics (different metrics): guessing would move the
    // address to whichever the kernel lists first.
    lab.agent.ip(&[
        "route",
        "add",
        "198.51.100.0/24",
        "dev",
        "fip0",
        "metric",
        "10",
    ]);
    lab.agent.ip(&[
        "route",
        "add",
        "198.51.100.0/24",
        "dev",
        "fip1",
        "metric",
        "20",
    ]);
    let agent = Agent::under_test();
    let p = [("ip", "198.51.100.10")];
    let before = lab.agent.address_set();
    // start first: it is what must not guess; validate-all must agree with it.
    agent.run(&lab.agent, "start", &p).expect_failure(&[2, 6]);
    agent
        .run(&lab.agent, "validate-all", &p)
        .expect_failure(&[2, 6]);
    assert_eq!(
        lab.agent.address_set(),
        before,
        "a refused start must not add anything"
    );
    // With the nic named, the same address is fine.
    let pn = [("ip", "198.51.100.10"), ("nic", "fip1")];
    agent.run(&lab.agent, "start", &pn).expect_code(0);
    let got = only_on(&lab.agent, "fip1", "198.51.100.10");
    assert_eq!(got.prefixlen, 24, "{got:?}");
    agent.run(&lab.agent, "stop", &pn).expect_code(0);
    absent(&lab.agent, "198.51.100.10");
}

#[test]
fn nic_autodetect_without_matching_route_fails() {
    root_or_skip!("nic_autodetect_without_matching_route_fails");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let p = [("ip", "203.0.113.5")];
    let before = lab.agent.address_set();
    // No route on this node may still mean a route on another one, or one that is coming
    // back (networking starting, a flapping NIC): a soft error (1), as IPaddr2 answers, so
    // that Pacemaker retries or moves the address instead of banning it from the node.
    agent.run(&lab.agent, "start", &p).expect_failure(&[1]);
    agent
        .run(&lab.agent, "validate-all", &p)
        .expect_failure(&[1]);
    agent.monitor(&lab.agent, &p).expect_failure(&[1]);
    agent.probe(&lab.agent, &p).expect_code(7);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    assert_eq!(lab.agent.address_set(), before);
    // A nic this node lacks: also soft (IPaddr2's 6 would stop the resource everywhere).
    let pn = [("ip", "192.0.2.96"), ("nic", "nosuch0")];
    agent.run(&lab.agent, "start", &pn).expect_failure(&[1]);
    agent
        .run(&lab.agent, "validate-all", &pn)
        .expect_failure(&[1]);
    assert_eq!(lab.agent.address_set(), before);
}

#[test]
fn cidr_netmask_auto_and_dotted_quad() {
    root_or_skip!("cidr_netmask_auto_and_dotted_quad");
    // Each variant in its own lab: an address with a longer prefix adds a more specific route,
    // which would change what "auto" means for the others.
    let cases: [(&str, Option<&str>, u8); 4] = [
        ("192.0.2.11", None, 24),
        ("192.0.2.12", Some("255.255.255.128"), 25),
        ("192.0.2.13", Some("32"), 32),
        ("192.0.2.14", Some("255.255.0.0"), 16),
    ];
    for (ip, mask, want) in cases {
        let lab = Lab::new();
        let agent = Agent::under_test();
        let mut p = vec![("ip", ip), ("nic", "fip0"), ("arp_count", "1")];
        if let Some(m) = mask {
            p.push(("cidr_netmask", m));
        }
        agent.run(&lab.agent, "validate-all", &p).expect_code(0);
        agent.run(&lab.agent, "start", &p).expect_code(0);
        let got = only_on(&lab.agent, "fip0", ip);
        assert_eq!(got.prefixlen, want, "cidr_netmask={mask:?}: {got:?}");
        agent.monitor(&lab.agent, &p).expect_code(0);
        agent.run(&lab.agent, "stop", &p).expect_code(0);
        absent(&lab.agent, ip);
    }
}

#[test]
fn stop_removes_address_when_routes_changed_since_start() {
    root_or_skip!("stop_removes_address_when_routes_changed_since_start");
    let lab = Lab::new();
    let agent = Agent::under_test();
    // Started with the prefix taken from the /24 route...
    let p = [("ip", "192.0.2.21"), ("nic", "fip0")];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    assert_eq!(only_on(&lab.agent, "fip0", "192.0.2.21").prefixlen, 24);
    // ...then a more specific route appears (another resource, an administrator). The address
    // the agent added is still there and still ours: monitor and stop must find it.
    lab.agent.ip(&[
        "route",
        "add",
        "192.0.2.0/25",
        "dev",
        "fip0",
        "metric",
        "50",
    ]);
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.21");
    agent.probe(&lab.agent, &p).expect_code(7);
}

/// Checks one gratuitous ARP against the contract: announcing `ip` from the agent nic's MAC,
/// to broadcast, sender IP = target IP.
fn check_garp(a: &Arp, ip: Ipv4Addr) {
    assert_eq!(
        mac_str(&a.eth_dst),
        "ff:ff:ff:ff:ff:ff",
        "gARP must be broadcast: {a:?}"
    );
    assert_eq!(
        mac_str(&a.eth_src),
        AGENT_MAC,
        "gARP must come from the nic's MAC: {a:?}"
    );
    assert_eq!(
        mac_str(&a.sender_mac),
        AGENT_MAC,
        "ARP sender MAC must be the nic's MAC: {a:?}"
    );
    assert_eq!(a.sender_ip, ip, "{a:?}");
    assert_eq!(
        a.target_ip, ip,
        "gratuitous ARP: target IP = sender IP: {a:?}"
    );
    assert!(
        a.op == 1 || a.op == 2,
        "ARP opcode must be request or reply: {a:?}"
    );
}

/// Checks the announcements for `ip`: every frame is a well-formed gARP, there are exactly
/// `count` requests (the contract), and replies, if any, come one per request (heartbeat's
/// send_arp sends a request and a reply per round; both update neighbours' caches).
fn check_garps(arps: &[Arp], ip: Ipv4Addr, count: usize) {
    for a in arps {
        check_garp(a, ip);
    }
    let requests = arps.iter().filter(|a| a.op == 1).count();
    let replies = arps.iter().filter(|a| a.op == 2).count();
    assert_eq!(
        requests, count,
        "expected exactly {count} gratuitous ARP requests, got {arps:#?}"
    );
    assert!(
        replies == 0 || replies == count,
        "gratuitous ARP replies must be 0 or {count}, got {arps:#?}"
    );
}

/// Starts the address with `extra` parameters while capturing on the peer; waits for `count`
/// gARPs and for the sender to finish; returns all the gARPs for the address.
fn garps_on_start(
    lab: &Lab,
    agent: &Agent,
    p: &[(&str, &str)],
    ip: Ipv4Addr,
    count: usize,
) -> Vec<Arp> {
    let cap = Capture::start(&lab.peer, "peer0");
    agent.run(&lab.agent, "start", p).expect_code(0);
    cap.wait_until(
        &format!("{count} gratuitous ARPs for {ip} on the peer"),
        Duration::from_secs(60),
        |f| arps_for(f, ip).iter().filter(|a| a.op == 1).count() >= count,
    );
    // The sender has finished once no process is left in the agent's namespace; after that,
    // one more short wait lets a frame still in the veth arrive, so extra frames are counted.
    lab.agent
        .wait_no_pids("the gratuitous ARP sender to finish");
    std::thread::sleep(Duration::from_millis(300));
    arps_for(&cap.finish(), ip)
}

#[test]
fn gratuitous_arps_count_and_content() {
    root_or_skip!("gratuitous_arps_count_and_content");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let ip = Ipv4Addr::new(192, 0, 2, 10);
    let p = [
        ("ip", "192.0.2.10"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("arp_count", "3"),
        ("arp_interval", "100"),
    ];
    let arps = garps_on_start(&lab, &agent, &p, ip, 3);
    check_garps(&arps, ip, 3);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn gratuitous_arps_default_count_is_five() {
    root_or_skip!("gratuitous_arps_default_count_is_five");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let ip = Ipv4Addr::new(192, 0, 2, 14);
    let p = [("ip", "192.0.2.14"), ("nic", "fip0")];
    let arps = garps_on_start(&lab, &agent, &p, ip, 5);
    check_garps(&arps, ip, 5);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn garp_sender_runs_in_background_and_stop_ends_it() {
    root_or_skip!("garp_sender_runs_in_background_and_stop_ends_it");
    let lab = Lab::new();
    let agent = Agent::under_test();
    // 40 x 500 ms = 20 s of announcements: start must return long before that.
    let p = [
        ("ip", "192.0.2.15"),
        ("nic", "fip0"),
        ("arp_count", "40"),
        ("arp_interval", "500"),
    ];
    let cap = Capture::start(&lab.peer, "peer0");
    agent.run(&lab.agent, "start", &p).expect_code(0);
    let pids = lab.agent.pids();
    assert!(
        !pids.is_empty(),
        "start returned, so the 20-second gARP sender must still be running in the background \
         (did start send synchronously?)"
    );
    // stop may run in a new agent process: the sender must be findable through a pid file
    // under HA_RSCTMP.
    let recorded: Vec<i32> = std::fs::read_dir(agent.rsctmp())
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| t.trim().parse::<i32>().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        pids.iter().any(|p| recorded.contains(p)),
        "no pid file under HA_RSCTMP ({}) names the sender; recorded {recorded:?}, running:\n{}",
        agent.rsctmp().display(),
        lab.agent.describe_pids()
    );
    if agent.is_storha() {
        // Detached with setsid: not in the session of whoever ran the agent, so killing the
        // agent's session or process group on timeout does not take the sender down mid-way,
        // and the sender holds no controlling terminal.
        let ours = nix::unistd::getsid(None).expect("getsid").as_raw();
        for p in &pids {
            let sid = session_of(*p);
            assert!(
                sid.is_some() && sid != Some(ours),
                "background sender {p} must run in its own session (setsid); sid {sid:?}, ours {ours}"
            );
        }
    }
    cap.wait_until("a first gARP", DEADLINE, |f| {
        !arps_for(f, Ipv4Addr::new(192, 0, 2, 15)).is_empty()
    });
    // Stopping while the sender runs is the point of this test.
    assert!(
        !lab.agent.pids().is_empty(),
        "the gARP sender ended before stop:\n{}",
        lab.agent.describe_pids()
    );
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    lab.agent
        .wait_no_pids("stop to end the background gARP sender");
    absent(&lab.agent, "192.0.2.15");
    let n = arps_for(&cap.finish(), Ipv4Addr::new(192, 0, 2, 15))
        .iter()
        .filter(|a| a.op == 1)
        .count();
    assert!(
        n < 40,
        "stop must interrupt the sender, yet all {n} gARPs were sent"
    );
}

/// The session id of `pid`, from /proc/PID/stat (the field after state, ppid, pgrp).
fn session_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn arp_count_refresh_sends_garps_on_monitor() {
    root_or_skip!("arp_count_refresh_sends_garps_on_monitor");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let ip = Ipv4Addr::new(192, 0, 2, 16);
    let p = [
        ("ip", "192.0.2.16"),
        ("nic", "fip0"),
        ("arp_count", "1"),
        ("arp_interval", "100"),
        ("arp_count_refresh", "2"),
    ];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    lab.agent
        .wait_no_pids("the start-time gARP sender to finish");
    let cap = Capture::start(&lab.peer, "peer0");
    agent.monitor(&lab.agent, &p).expect_code(0);
    cap.wait_until("2 refresh gARPs", DEADLINE, |f| {
        arps_for(f, ip).iter().filter(|a| a.op == 1).count() >= 2
    });
    lab.agent.wait_no_pids("the refresh gARP sender to finish");
    std::thread::sleep(Duration::from_millis(300));
    check_garps(&arps_for(&cap.finish(), ip), ip, 2);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn monitor_starts_no_child_process() {
    root_or_skip!("monitor_starts_no_child_process");
    let agent = Agent::under_test();
    if !agent.is_storha() {
        loud("SKIPPED (storha-only contract: monitor without child processes): monitor_starts_no_child_process");
        return;
    }
    require_tool("strace");
    let lab = Lab::new();
    let p = [("ip", "192.0.2.17"), ("nic", "fip0"), ("arp_count", "1")];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    lab.agent.wait_no_pids("the gARP sender to finish");
    let trace = TempDir::new("strace");
    let out = trace.path().join("trace");
    let out_s = out.to_str().expect("utf-8 path");
    let mut argv = vec![
        "strace",
        "-f",
        "-qq",
        "-e",
        "trace=execve,execveat,fork,vfork,clone,clone3",
        "-o",
        out_s,
    ];
    argv.push(agent.path_str());
    argv.push("monitor");
    let mut env: Vec<(String, String)> = agent.base_env();
    env.push(("OCF_RESKEY_CRM_meta_interval".into(), "10000".into()));
    for (k, v) in p {
        env.push((format!("OCF_RESKEY_{k}"), v.to_string()));
    }
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    lab.agent.exec_env(&argv, &env_ref).expect_code(0);
    let t = std::fs::read_to_string(&out).expect("reading strace output");
    let execs = t
        .lines()
        .filter(|l| l.contains("execve(") || l.contains("execveat("))
        .count();
    let forks = t
        .lines()
        .filter(|l| {
            l.contains("fork(")
                || ((l.contains("clone(") || l.contains("clone3(")) && !l.contains("CLONE_THREAD"))
        })
        .count();
    assert_eq!(execs, 1, "monitor must not execute other programs:\n{t}");
    assert_eq!(forks, 0, "monitor must not fork:\n{t}");
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn run_arping_detects_ipv4_duplicate() {
    root_or_skip!("run_arping_detects_ipv4_duplicate");
    let lab = Lab::new();
    lab.peer
        .ip(&["addr", "add", "192.0.2.30/24", "dev", "peer0"]);
    let agent = Agent::under_test();
    let p = [
        ("ip", "192.0.2.30"),
        ("nic", "fip0"),
        ("run_arping", "true"),
    ];
    let r = agent.run(&lab.agent, "start", &p);
    assert_ne!(
        r.code,
        0,
        "the address is in use on the peer; start must fail:\n{}",
        r.describe()
    );
    r.expect_failure(&[1, 2, 6]);
    absent(&lab.agent, "192.0.2.30");
    // Without the check the address is added (the agent trusts the cluster).
    let free = [
        ("ip", "192.0.2.31"),
        ("nic", "fip0"),
        ("run_arping", "true"),
    ];
    agent.run(&lab.agent, "start", &free).expect_code(0);
    only_on(&lab.agent, "fip0", "192.0.2.31");
    agent.run(&lab.agent, "stop", &free).expect_code(0);
}

#[test]
fn ipv6_start_flags_and_lifecycle() {
    root_or_skip!("ipv6_start_flags_and_lifecycle");
    let lab = Lab::new();

    // Defaults: prefix from the route, DAD performed and finished before start returns,
    // preferred lifetime forever.
    let a1 = Agent::under_test();
    let p1 = [("ip", "2001:db8:1::10"), ("nic", "fip0")];
    a1.run(&lab.agent, "start", &p1).expect_code(0);
    let got = only_on(&lab.agent, "fip0", "2001:db8:1::10");
    assert_eq!(got.family, "inet6");
    assert_eq!(got.prefixlen, 64, "{got:?}");
    for f in [
        "nodad",
        "noprefixroute",
        "tentative",
        "dadfailed",
        "deprecated",
    ] {
        assert!(!got.has(f), "unexpected flag {f}: {got:?}");
    }
    assert_eq!(got.preferred_lft, FOREVER, "{got:?}");
    assert_eq!(got.valid_lft, FOREVER, "{got:?}");
    a1.monitor(&lab.agent, &p1).expect_code(0);

    // Every IPv6 option at once.
    let a2 = Agent::under_test();
    let p2 = [
        ("ip", "2001:db8:1::11"),
        ("nic", "fip0"),
        ("cidr_netmask", "64"),
        ("nodad", "true"),
        ("noprefixroute", "true"),
        ("preferred_lft", "0"),
    ];
    a2.run(&lab.agent, "validate-all", &p2).expect_code(0);
    a2.run(&lab.agent, "start", &p2).expect_code(0);
    let got = only_on(&lab.agent, "fip0", "2001:db8:1::11");
    assert!(got.has("nodad"), "nodad requested: {got:?}");
    assert!(got.has("noprefixroute"), "noprefixroute requested: {got:?}");
    assert_eq!(got.preferred_lft, 0, "preferred_lft=0 requested: {got:?}");
    assert_eq!(got.valid_lft, FOREVER, "{got:?}");
    a2.monitor(&lab.agent, &p2).expect_code(0);
    a2.run(&lab.agent, "start", &p2).expect_code(0);
    only_on(&lab.agent, "fip0", "2001:db8:1::11");

    // A non-canonical spelling names the same address (monitor must find it).
    let a3 = Agent::under_test();
    let p3 = [
        ("ip", "2001:0db8:0001:0000:0000:0000:0000:0012"),
        ("nic", "fip0"),
        ("nodad", "true"),
        ("cidr_netmask", "128"),
    ];
    a3.run(&lab.agent, "start", &p3).expect_code(0);
    assert_eq!(only_on(&lab.agent, "fip0", "2001:db8:1::12").prefixlen, 128);
    a3.monitor(&lab.agent, &p3).expect_code(0);

    for (a, p) in [(&a1, &p1[..]), (&a2, &p2[..]), (&a3, &p3[..])] {
        a.run(&lab.agent, "stop", p).expect_code(0);
        a.run(&lab.agent, "stop", p).expect_code(0);
        a.monitor(&lab.agent, p).expect_code(7);
    }
    for ip in ["2001:db8:1::10", "2001:db8:1::11", "2001:db8:1::12"] {
        absent(&lab.agent, ip);
    }
    only_on(&lab.agent, "fip0", "2001:db8:1::1");
}

#[test]
fn ipv6_unsolicited_neighbour_advertisements() {
    root_or_skip!("ipv6_unsolicited_neighbour_advertisements");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let ip: Ipv6Addr = "2001:db8:1::20".parse().expect("literal");
    let p = [
        ("ip", "2001:db8:1::20"),
        ("nic", "fip0"),
        ("nodad", "true"),
        ("arp_count", "3"),
        ("arp_interval", "100"),
    ];
    let cap = Capture::start(&lab.peer, "peer0");
    agent.run(&lab.agent, "start", &p).expect_code(0);
    cap.wait_until(
        "3 unsolicited NAs on the peer",
        Duration::from_secs(60),
        |f| nas_for(f, ip).len() >= 3,
    );
    lab.agent.wait_no_pids("the NA sender to finish");
    std::thread::sleep(Duration::from_millis(300));
    let nas = nas_for(&cap.finish(), ip);
    assert_eq!(
        nas.len(),
        3,
        "arp_count=3 must send exactly 3 unsolicited NAs: {nas:#?}"
    );
    for n in &nas {
        assert_eq!(
            n.ip_dst,
            "ff02::1".parse::<Ipv6Addr>().expect("literal"),
            "to all-nodes: {n:?}"
        );
        assert_eq!(mac_str(&n.eth_dst), "33:33:00:00:00:01", "{n:?}");
        assert_eq!(mac_str(&n.eth_src), AGENT_MAC, "{n:?}");
        assert_eq!(
            n.hop_limit, 255,
            "receivers drop NDP with hop limit != 255: {n:?}"
        );
        assert!(
            n.override_flag,
            "unsolicited NA must set the override flag: {n:?}"
        );
        assert!(
            !n.solicited,
            "unsolicited NA must not set the solicited flag: {n:?}"
        );
        assert_eq!(
            n.target_lladdr.map(|m| mac_str(&m)).as_deref(),
            Some(AGENT_MAC),
            "target link-layer option: {n:?}"
        );
    }
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn ipv6_dad_failure_fails_start_and_cleans_up() {
    root_or_skip!("ipv6_dad_failure_fails_start_and_cleans_up");
    let lab = Lab::new();
    // The peer owns the address first, with DAD done, so it defends it.
    lab.peer
        .ip(&["-6", "addr", "add", "2001:db8:1::30/64", "dev", "peer0"]);
    lab.peer.wait_dad_done();
    let agent = Agent::under_test();
    let p = [
        ("ip", "2001:db8:1::30"),
        ("nic", "fip0"),
        ("cidr_netmask", "64"),
    ];
    let r = agent.run(&lab.agent, "start", &p);
    assert_ne!(
        r.code,
        0,
        "a duplicate IPv6 address must fail start:\n{}",
        r.describe()
    );
    r.expect_failure(&[1, 2, 6]);
    let reasons = r.exit_reasons().join(" | ").to_lowercase();
    assert!(
        reasons.contains("duplicate address") || reasons.contains("dad"),
        "the exit reason must say that duplicate address detection failed, got: {reasons:?}\n{}",
        r.describe()
    );
    absent(&lab.agent, "2001:db8:1::30");
    agent.probe(&lab.agent, &p).expect_code(7);
    lab.agent
        .wait_no_pids("no agent process to remain after a failed start");
}

#[test]
fn link_down_fails_monitor_unless_check_link_status_false() {
    root_or_skip!("link_down_fails_monitor_unless_check_link_status_false");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let p = [("ip", "192.0.2.40"), ("nic", "fip0"), ("arp_count", "1")];
    let p_nocheck = [
        ("ip", "192.0.2.40"),
        ("nic", "fip0"),
        ("arp_count", "1"),
        ("check_link_status", "false"),
    ];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    agent.monitor(&lab.agent, &p).expect_code(0);

    // Carrier lost: the peer end goes down, fip0 stays administratively up.
    lab.peer.ip(&["link", "set", "peer0", "down"]);
    wait_for("fip0 to lose carrier", DEADLINE, || {
        lab.agent.no_carrier("fip0").then_some(())
    });
    agent.monitor(&lab.agent, &p).expect_failure(&[1]);
    agent.monitor(&lab.agent, &p_nocheck).expect_code(0);

    // Carrier back: healthy again.
    lab.peer.ip(&["link", "set", "peer0", "up"]);
    wait_for("fip0 to regain carrier", DEADLINE, || {
        (lab.agent.operstate("fip0") == "UP").then_some(())
    });
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.40");
}

#[test]
fn vanished_nic_stop_succeeds_and_probe_reports_not_running() {
    root_or_skip!("vanished_nic_stop_succeeds_and_probe_reports_not_running");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let p = [
        ("ip", "192.0.2.50"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("arp_count", "1"),
    ];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    lab.agent.wait_no_pids("the gARP sender to finish");
    lab.agent.ip(&["link", "del", "fip0"]);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    agent.probe(&lab.agent, &p).expect_code(7);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn network_namespace_parameter() {
    root_or_skip!("network_namespace_parameter");
    let lab = Lab::new();
    let agent = Agent::under_test();
    // The agent runs in the host's namespace and must enter the named one itself: fip0 exists
    // only there, so an agent ignoring the parameter fails instead of touching the host.
    let p = [
        ("ip", "192.0.2.60"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("network_namespace", lab.agent.name()),
        ("arp_count", "1"),
    ];
    agent.run_here("validate-all", &p, &[]).expect_code(0);
    agent.run_here("start", &p, &[]).expect_code(0);
    only_on(&lab.agent, "fip0", "192.0.2.60");
    agent
        .run_here("monitor", &p, &[("OCF_RESKEY_CRM_meta_interval", "10000")])
        .expect_code(0);
    agent.run_here("stop", &p, &[]).expect_code(0);
    absent(&lab.agent, "192.0.2.60");
    agent.run_here("monitor", &p, &[]).expect_code(7);
}

#[test]
fn hostile_parameters_are_rejected_and_run_nothing() {
    root_or_skip!("hostile_parameters_are_rejected_and_run_nothing");
    let lab = Lab::new();
    let scratch = TempDir::new("canary");
    let canary = scratch.path().join("pwned");
    let c = canary.display().to_string();
    let long_nic = "n".repeat(300);
    let semi = format!("192.0.2.70; touch {c}");
    let dollar = format!("$(touch {c})");
    let tick = format!("`touch {c}`");
    let nic_semi = format!("fip0; touch {c}");
    let cidr_semi = format!("24; touch {c}");
    let brd_dollar = format!("$(touch {c})");
    let label_tick = format!("`touch {c}`");
    let intv_tick = format!("200`touch {c}`");
    let lft_semi = format!("forever; touch {c}");
    let base: [(&str, &str); 2] = [("ip", "192.0.2.70"), ("nic", "fip0")];
    let with = |k: &'static str, v: &str| -> Vec<(&'static str, String)> {
        let mut p: Vec<(&'static str, String)> = base
            .iter()
            .filter(|(bk, _)| *bk != k)
            .map(|(bk, bv)| (*bk, bv.to_string()))
            .collect();
        p.push((k, v.to_string()));
        p
    };
    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        ("ip with ;", with("ip", &semi)),
        ("ip with $()", with("ip", &dollar)),
        ("ip with backticks", with("ip", &tick)),
        ("ip with newline", with("ip", "192.0.2.70\n192.0.2.71")),
        ("nic with ;", with("nic", &nic_semi)),
        ("nic with $()", with("nic", &dollar)),
        ("nic of 300 chars", with("nic", &long_nic)),
        ("nic with newline", with("nic", "fip0\nlo")),
        ("iflabel with backticks", with("iflabel", &label_tick)),
        (
            "iflabel over 15 chars in all",
            with("iflabel", "labeltoolong1"),
        ),
        ("iflabel with newline", with("iflabel", "a\nb")),
        ("cidr_netmask with ;", with("cidr_netmask", &cidr_semi)),
        ("cidr_netmask=33", with("cidr_netmask", "33")),
        (
            "cidr_netmask=255.0.255.0",
            with("cidr_netmask", "255.0.255.0"),
        ),
        ("broadcast with $()", with("broadcast", &brd_dollar)),
        ("arp_count=-1", with("arp_count", "-1")),
        ("arp_count=abc", with("arp_count", "abc")),
        (
            "arp_interval with backticks",
            with("arp_interval", &intv_tick),
        ),
        (
            "preferred_lft with ;",
            vec![
                ("ip", "2001:db8:1::70".into()),
                ("nic", "fip0".into()),
                ("preferred_lft", lft_semi.clone()),
            ],
        ),
        ("missing ip", vec![("nic", "fip0".into())]),
    ];
    let agent = Agent::under_test();
    let before = lab.agent.address_set();
    let mut failures = Vec::new();
    for (name, params) in &cases {
        let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for action in ["validate-all", "start"] {
            let r = agent.run(&lab.agent, action, &p);
            let ok_code = r.code == 2 || r.code == 6;
            let reasons = r.exit_reasons();
            let has_reason = reasons.len() == 1 && !reasons[0].is_empty();
            let canary_made = canary.exists();
            let now = lab.agent.address_set();
            if !ok_code || !has_reason || canary_made || now != before {
                failures.push(format!(
                    "[{name}] {action}: exit {} (want 2 or 6), exit reason {}, canary {}, addresses {}\n{}",
                    r.code,
                    if has_reason { "present" } else { "MISSING or not exactly one" },
                    if canary_made { "CREATED" } else { "absent" },
                    if now == before { "unchanged" } else { "CHANGED" },
                    r.describe()
                ));
                // Undo so that later cases are judged on their own.
                let _ = std::fs::remove_file(&canary);
                for entry in now.difference(&before) {
                    if let Some((dev, addr)) = entry.split_once(' ') {
                        let _ = lab.agent.try_ip(&["addr", "del", addr, "dev", dev]);
                    }
                }
            }
        }
    }
    // An injected command could also run late, from a background child: judge the canary
    // once more after every process in the namespace has ended.
    lab.agent
        .wait_no_pids("no process to remain after the hostile-parameter runs");
    assert!(
        !canary.exists(),
        "a hostile parameter was executed by a background process (canary {c} created)"
    );
    assert!(
        failures.is_empty(),
        "{} hostile-parameter checks failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn unsupported_actions_exit_3() {
    root_or_skip!("unsupported_actions_exit_3");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let p = [("ip", "192.0.2.80"), ("nic", "fip0")];
    for action in [
        "frobnicate",
        "promote",
        "demote",
        "migrate_to",
        "migrate_from",
        "reload",
    ] {
        let r = agent.run(&lab.agent, action, &p);
        assert_eq!(r.code, 3, "action {action}:\n{}", r.describe());
    }
    absent(&lab.agent, "192.0.2.80");
}

#[test]
fn meta_data_as_nobody_is_valid() {
    root_or_skip!("meta_data_as_nobody_is_valid");
    require_tool("runuser");
    require_tool("xmllint");
    let agent = Agent::under_test();
    // No OCF_RESKEY_* and no OCF_RESOURCE_INSTANCE: meta-data must need nothing.
    let mut cmd = clean_command("runuser");
    cmd.args(["-u", "nobody", "--"])
        .arg(agent.path())
        .arg("meta-data")
        .env("OCF_ROOT", "/usr/lib/ocf");
    let r = run_command(cmd, ACTION_TIMEOUT);
    r.expect_code(0);
    assert!(
        r.stdout.trim_start().starts_with("<?xml"),
        "meta-data must print XML:\n{}",
        r.describe()
    );

    let dir = TempDir::new("xml");
    let xml = dir.path().join("meta.xml");
    std::fs::write(&xml, &r.stdout).expect("writing meta-data");
    // Same check as ocf-tester: validate against ra-api-1.dtd from /usr/share/resource-agents.
    let mut v = clean_command("sh");
    v.arg("-c").arg(format!(
        "cd /usr/share/resource-agents && xmllint --noout --valid - < '{}'",
        xml.display()
    ));
    let vr = run_command(v, ACTION_TIMEOUT);
    assert_eq!(
        vr.code,
        0,
        "meta-data does not validate against ra-api-1.dtd:\n{}\n{}",
        vr.describe(),
        r.stdout
    );

    let mut params = vec![
        "ip",
        "nic",
        "cidr_netmask",
        "broadcast",
        "iflabel",
        "arp_count",
        "arp_interval",
        "arp_count_refresh",
        "run_arping",
        "nodad",
        "noprefixroute",
        "preferred_lft",
        "network_namespace",
    ];
    if agent.is_storha() {
        params.push("check_link_status");
    }
    for name in params {
        assert!(
            r.stdout.contains(&format!("<parameter name=\"{name}\"")),
            "meta-data must declare parameter {name}"
        );
    }
    for action in ["start", "stop", "monitor", "meta-data", "validate-all"] {
        assert!(
            r.stdout.contains(&format!("<action name=\"{action}\"")),
            "meta-data must declare action {action}"
        );
    }
}

#[test]
fn admin_mode_json() {
    root_or_skip!("admin_mode_json");
    let agent = Agent::under_test();
    if !agent.is_storha() {
        loud("SKIPPED (storha-only: admin mode): admin_mode_json");
        return;
    }
    let lab = Lab::new();
    let bin = Agent::storha_binary();
    let bin = bin.to_str().expect("utf-8 path");
    let rsctmp = agent.rsctmp().display().to_string();
    let env = [("HA_RSCTMP", rsctmp.as_str())];
    let args = |action: &'static str| -> Vec<&str> {
        vec![
            bin,
            "floating-ip",
            action,
            "--param",
            "ip=192.0.2.90",
            "--param",
            "nic=fip0",
            "--param",
            "arp_count=1",
            "--instance",
            "adm",
            "--timeout",
            "20s",
            "--json",
        ]
    };
    let r = lab.agent.exec_env(&args("start"), &env);
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("--json must print JSON on stdout ({e}):\n{}", r.describe()));
    assert!(
        v.to_string().contains("192.0.2.90"),
        "the observed state must show the address: {v}"
    );
    only_on(&lab.agent, "fip0", "192.0.2.90");
    lab.agent.exec_env(&args("monitor"), &env).expect_code(0);
    lab.agent.exec_env(&args("stop"), &env).expect_code(0);
    absent(&lab.agent, "192.0.2.90");
    let r = lab.agent.exec_env(&args("monitor"), &env);
    r.expect_code(7);
    serde_json::from_str::<serde_json::Value>(&r.stdout)
        .unwrap_or_else(|e| panic!("--json must print JSON on stdout ({e}):\n{}", r.describe()));
}

#[test]
fn usage_and_methods() {
    root_or_skip!("usage_and_methods");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let r = agent.run(&lab.agent, "usage", &[]);
    r.expect_code(0);
    assert!(
        r.stdout.contains("start") && r.stdout.contains("stop") && r.stdout.contains("monitor"),
        "usage must name the actions:\n{}",
        r.describe()
    );
    if agent.is_storha() {
        // `methods` (OCF 1.1 convention, used by crmsh) lists the supported actions, one a line.
        let r = agent.run(&lab.agent, "methods", &[]);
        r.expect_code(0);
        let lines: Vec<&str> = r.stdout.lines().map(str::trim).collect();
        for a in ["start", "stop", "monitor", "meta-data", "validate-all"] {
            assert!(
                lines.contains(&a),
                "methods must list {a}:\n{}",
                r.describe()
            );
        }
        for a in ["promote", "demote", "migrate_to"] {
            assert!(
                !lines.contains(&a),
                "methods must not list unsupported {a}:\n{}",
                r.describe()
            );
        }
    }
}

#[test]
fn start_brings_the_nic_up() {
    root_or_skip!("start_brings_the_nic_up");
    let lab = Lab::new();
    lab.agent.ip(&["link", "set", "fip0", "down"]);
    let agent = Agent::under_test();
    let p = [
        ("ip", "192.0.2.91"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("arp_count", "1"),
    ];
    // An administratively down nic is not a reason to fail: start sets it up.
    agent.run(&lab.agent, "start", &p).expect_code(0);
    let link = lab.agent.link("fip0");
    assert!(
        link["flags"]
            .as_array()
            .map(|f| f.iter().any(|x| x == "UP"))
            .unwrap_or(false),
        "start must set the nic up: {link}"
    );
    only_on(&lab.agent, "fip0", "192.0.2.91");
    wait_for("fip0 to have carrier again", DEADLINE, || {
        (lab.agent.operstate("fip0") == "UP").then_some(())
    });
    agent.monitor(&lab.agent, &p).expect_code(0);

    // Administratively down after start: the address is unusable, monitor must say so.
    lab.agent.ip(&["link", "set", "fip0", "down"]);
    agent.monitor(&lab.agent, &p).expect_failure(&[1, 7]);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.91");
}

#[test]
fn monitor_looks_on_the_configured_nic() {
    root_or_skip!("monitor_looks_on_the_configured_nic");
    let lab = two_nic_lab();
    // Someone configured the address by hand on the other nic: the resource (nic=fip0) is not
    // running as configured. "Not running" (7) or "failed" (1, with a reason) are both honest;
    // "running" is not.
    lab.agent
        .ip(&["addr", "add", "192.0.2.150/25", "dev", "fip1"]);
    let agent = Agent::under_test();
    let p = [
        ("ip", "192.0.2.150"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
    ];
    for r in [agent.probe(&lab.agent, &p), agent.monitor(&lab.agent, &p)] {
        if r.code != 7 {
            r.expect_failure(&[1]);
        }
    }
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    assert!(
        lab.agent.find_addr("fip0", "192.0.2.150").is_none(),
        "stop must leave nothing on fip0"
    );
    let r = agent.probe(&lab.agent, &p);
    assert_ne!(
        r.code,
        0,
        "after stop the resource must not be reported running:\n{}",
        r.describe()
    );
}

#[test]
fn ipv6_link_local_needs_nic() {
    root_or_skip!("ipv6_link_local_needs_nic");
    let lab = Lab::new();
    let agent = Agent::under_test();
    // fe80::/64 exists on every IPv6 nic: without nic the choice would be arbitrary.
    let p = [("ip", "fe80::10")];
    agent.run(&lab.agent, "start", &p).expect_failure(&[2, 6]);
    absent(&lab.agent, "fe80::10");
    let pn = [("ip", "fe80::10"), ("nic", "fip0"), ("nodad", "true")];
    agent.run(&lab.agent, "start", &pn).expect_code(0);
    let got = only_on(&lab.agent, "fip0", "fe80::10");
    assert_eq!(got.prefixlen, 64, "{got:?}");
    agent.monitor(&lab.agent, &pn).expect_code(0);
    agent.run(&lab.agent, "stop", &pn).expect_code(0);
    absent(&lab.agent, "fe80::10");
}

#[test]
fn arp_interval_spaces_the_announcements() {
    root_or_skip!("arp_interval_spaces_the_announcements");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let ip = Ipv4Addr::new(192, 0, 2, 92);
    let p = [
        ("ip", "192.0.2.92"),
        ("nic", "fip0"),
        ("arp_count", "4"),
        ("arp_interval", "400"),
    ];
    let cap = Capture::start(&lab.peer, "peer0");
    agent.run(&lab.agent, "start", &p).expect_code(0);
    cap.wait_until("4 gARP requests", Duration::from_secs(60), |f| {
        arp_request_times(f, ip).len() >= 4
    });
    lab.agent.wait_no_pids("the gARP sender to finish");
    let frames = cap.finish();
    check_garps(&arps_for(&frames, ip), ip, 4);
    // Kernel receive timestamps of the 4 requests must span at least 3 intervals: a loaded
    // machine only stretches the schedule (10% slack for timer rounding). The span, not each
    // gap, because a sender keeping an absolute schedule catches up after a late send.
    let times = arp_request_times(&frames, ip);
    let span = times[times.len() - 1].saturating_sub(times[0]);
    assert!(
        span >= Duration::from_millis(3 * 400 * 9 / 10),
        "arp_interval=400 with 4 announcements must take at least ~1.2 s, took {span:?} ({times:?})"
    );
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

#[test]
fn stop_ends_only_its_own_sender() {
    root_or_skip!("stop_ends_only_its_own_sender");
    let lab = Lab::new();
    // Two resources on the same nic, each announcing for 20 s.
    let (a, b) = (Agent::under_test(), Agent::under_test());
    let pa = [
        ("ip", "192.0.2.93"),
        ("nic", "fip0"),
        ("arp_count", "40"),
        ("arp_interval", "500"),
    ];
    let pb = [
        ("ip", "192.0.2.94"),
        ("nic", "fip0"),
        ("arp_count", "40"),
        ("arp_interval", "500"),
    ];
    a.run(&lab.agent, "start", &pa).expect_code(0);
    let after_a = lab.agent.pids();
    b.run(&lab.agent, "start", &pb).expect_code(0);
    let b_senders: Vec<i32> = lab
        .agent
        .pids()
        .into_iter()
        .filter(|p| !after_a.contains(p))
        .collect();
    assert!(
        !b_senders.is_empty(),
        "b's sender must be running:\n{}",
        lab.agent.describe_pids()
    );
    a.run(&lab.agent, "stop", &pa).expect_code(0);
    absent(&lab.agent, "192.0.2.93");
    only_on(&lab.agent, "fip0", "192.0.2.94");
    let still: Vec<i32> = lab.agent.pids();
    assert!(
        b_senders.iter().all(|p| still.contains(p)),
        "stopping a must not end b's sender {b_senders:?}; running now:\n{}",
        lab.agent.describe_pids()
    );
    // And b's announcements continue.
    let cap = Capture::start(&lab.peer, "peer0");
    cap.wait_until("b's gARPs to continue after a's stop", DEADLINE, |f| {
        !arps_for(f, Ipv4Addr::new(192, 0, 2, 94)).is_empty()
    });
    b.run(&lab.agent, "stop", &pb).expect_code(0);
    lab.agent.wait_no_pids("b's stop to end its sender");
    absent(&lab.agent, "192.0.2.94");
}

#[test]
fn probe_with_a_nic_that_never_existed() {
    root_or_skip!("probe_with_a_nic_that_never_existed");
    let lab = Lab::new();
    let agent = Agent::under_test();
    // Pacemaker probes every node, including those without this nic; only "not running" (or
    // "not installed here") keeps the resource allowed elsewhere.
    let p = [
        ("ip", "192.0.2.95"),
        ("nic", "nosuch0"),
        ("cidr_netmask", "24"),
    ];
    let r = agent.probe(&lab.agent, &p);
    assert!(
        r.code == 7 || r.code == 5,
        "probe must answer 7 (or 5):\n{}",
        r.describe()
    );
    agent.run(&lab.agent, "stop", &p).expect_code(0);
}

/// The capture parsers themselves, on hand-built frames (no root needed): a wrong parser would
/// make the gARP/NA tests pass or fail for the wrong reason.
#[test]
fn frame_parsers_decode_known_frames() {
    let mac = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x01];
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&mac);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&mac);
    arp.extend_from_slice(&[192, 0, 2, 10]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[192, 0, 2, 10]);
    arp.resize(60, 0); // Ethernet padding
    let a = parse_arp(&arp).expect("an ARP request");
    assert_eq!(a.op, 1);
    assert_eq!(mac_str(&a.eth_dst), "ff:ff:ff:ff:ff:ff");
    assert_eq!(mac_str(&a.sender_mac), AGENT_MAC);
    assert_eq!(a.sender_ip, Ipv4Addr::new(192, 0, 2, 10));
    assert_eq!(a.target_ip, Ipv4Addr::new(192, 0, 2, 10));
    assert!(parse_na(&arp).is_none());

    let target: Ipv6Addr = "2001:db8:1::20".parse().expect("literal");
    let mut na = vec![0x33, 0x33, 0, 0, 0, 1];
    na.extend_from_slice(&mac);
    na.extend_from_slice(&[0x86, 0xdd]);
    na.extend_from_slice(&[0x60, 0, 0, 0, 0, 32, 58, 255]); // version, payload 32, ICMPv6, hlim
    na.extend_from_slice(&target.octets()); // source
    na.extend_from_slice(&"ff02::1".parse::<Ipv6Addr>().expect("literal").octets());
    na.extend_from_slice(&[136, 0, 0, 0, 0x20, 0, 0, 0]); // type, code, checksum, flags O
    na.extend_from_slice(&target.octets());
    na.extend_from_slice(&[2, 1]); // target link-layer address option, 8 bytes
    na.extend_from_slice(&mac);
    let n = parse_na(&na).expect("a neighbour advertisement");
    assert!(n.override_flag && !n.solicited && !n.router);
    assert_eq!(n.hop_limit, 255);
    assert_eq!(n.target, target);
    assert_eq!(n.ip_dst, "ff02::1".parse::<Ipv6Addr>().expect("literal"));
    assert_eq!(
        n.target_lladdr.map(|m| mac_str(&m)).as_deref(),
        Some(AGENT_MAC)
    );
    assert!(parse_arp(&na).is_none());
    na[54] = 135; // a neighbour solicitation is not an advertisement
    assert!(parse_na(&na).is_none());
}

// ---------------------------------------------------------------------------------------------
// Faults IPaddr2's users reported in 2024-2026 (ClusterLabs/resource-agents), one test each.

/// A veth pair with both ends in the agent's namespace: `name` up without carrier (its peer
/// stays down), for "some other interface is down".
fn add_carrierless(ns: &Netns, name: &str, peer: &str) {
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", peer]);
    ns.ip(&["link", "set", name, "up"]);
}

/// resource-agents #2027: `nic` given as one of the interface's alternative names. IPaddr2's
/// monitor compared it with the name `ip addr` prints and reported a running address as not
/// running. Both a short altname and one longer than an interface name may be (IFNAMSIZ).
#[test]
fn nic_may_be_an_alternative_name() {
    root_or_skip!("nic_may_be_an_alternative_name");
    let lab = Lab::new();
    let long = "fip0-service-network"; // 20 bytes: longer than any interface name
    for alt in ["fipalt0", long] {
        lab.agent
            .ip(&["link", "property", "add", "dev", "fip0", "altname", alt]);
    }
    let agent = Agent::under_test();
    for (ip, nic, label) in [
        ("192.0.2.160", "fipalt0", Some("a")),
        ("192.0.2.161", long, None),
        ("2001:db8:1::161", long, None),
    ] {
        let mut p = vec![("ip", ip), ("nic", nic), ("arp_count", "1")];
        if let Some(l) = label {
            p.push(("iflabel", l));
        }
        agent.run(&lab.agent, "validate-all", &p).expect_code(0);
        agent.probe(&lab.agent, &p).expect_code(7);
        agent.run(&lab.agent, "start", &p).expect_code(0);
        let got = only_on(&lab.agent, "fip0", ip);
        if label.is_some() {
            // The label is built on the interface's name, which is what the kernel checks.
            assert_eq!(got.label.as_deref(), Some("fip0:a"), "{got:?}");
        }
        agent.monitor(&lab.agent, &p).expect_code(0);
        agent.probe(&lab.agent, &p).expect_code(0);
        agent.run(&lab.agent, "stop", &p).expect_code(0);
        absent(&lab.agent, ip);
        agent.probe(&lab.agent, &p).expect_code(7);
    }
}

/// resource-agents #2188: with another interface down (no carrier) or carrying an altname,
/// IPaddr2 ran `ip link show dev` with an empty name and then matched DOWN on every
/// interface's line, answering "not installed" (5) for an address that was fine.
#[test]
fn other_interfaces_down_or_with_altnames_change_nothing() {
    root_or_skip!("other_interfaces_down_or_with_altnames_change_nothing");
    let lab = Lab::new();
    add_carrierless(&lab.agent, "spare0", "spare0p");
    lab.agent.ip(&[
        "link",
        "property",
        "add",
        "dev",
        "spare0",
        "altname",
        "sparealt0",
    ]);
    lab.agent.ip(&[
        "link", "add", "spare1", "type", "veth", "peer", "name", "spare1p",
    ]);
    lab.agent.ip(&[
        "link",
        "property",
        "add",
        "dev",
        "spare1",
        "altname",
        "sparealt1",
    ]);
    assert!(lab.agent.no_carrier("spare0"), "spare0 must lack carrier");
    assert_eq!(lab.agent.operstate("spare1"), "DOWN");
    let agent = Agent::under_test();
    for p in [
        vec![("ip", "192.0.2.162"), ("arp_count", "1")],
        vec![("ip", "192.0.2.163"), ("nic", "fip0"), ("arp_count", "1")],
        vec![
            ("ip", "2001:db8:1::163"),
            ("nic", "fip0"),
            ("nodad", "true"),
        ],
    ] {
        let ip = p[0].1;
        agent.probe(&lab.agent, &p).expect_code(7);
        agent.run(&lab.agent, "validate-all", &p).expect_code(0);
        agent.run(&lab.agent, "start", &p).expect_code(0);
        only_on(&lab.agent, "fip0", ip);
        // check_link_status is on by default: only fip0's link may count.
        agent.monitor(&lab.agent, &p).expect_code(0);
        agent.probe(&lab.agent, &p).expect_code(0);
        agent.run(&lab.agent, "stop", &p).expect_code(0);
        absent(&lab.agent, ip);
        agent.monitor(&lab.agent, &p).expect_code(7);
    }
}

/// resource-agents #2161: an interface named like an `ip` keyword (`primary`, `secondary`)
/// was read as the keyword, so IPaddr2 looked at every interface (and failed when another
/// one was down).
#[test]
fn nic_named_like_an_ip_keyword() {
    root_or_skip!("nic_named_like_an_ip_keyword");
    let lab = Lab::new();
    lab.agent.ip(&["link", "set", "fip0", "down"]);
    lab.agent.ip(&["link", "set", "fip0", "name", "primary"]);
    lab.agent.ip(&["link", "set", "primary", "up"]);
    // Another interface, down, named like a keyword too.
    lab.agent.ip(&[
        "link",
        "add",
        "secondary",
        "type",
        "veth",
        "peer",
        "name",
        "label",
    ]);
    wait_for("primary to have carrier", DEADLINE, || {
        (lab.agent.operstate("primary") == "UP").then_some(())
    });
    let agent = Agent::under_test();
    for p in [
        vec![
            ("ip", "192.0.2.164"),
            ("nic", "primary"),
            ("arp_count", "1"),
        ],
        vec![("ip", "192.0.2.165"), ("arp_count", "1")],
    ] {
        let ip = p[0].1;
        agent.run(&lab.agent, "validate-all", &p).expect_code(0);
        agent.probe(&lab.agent, &p).expect_code(7);
        agent.run(&lab.agent, "start", &p).expect_code(0);
        let got = only_on(&lab.agent, "primary", ip);
        assert_eq!(got.prefixlen, 24, "{got:?}");
        agent.monitor(&lab.agent, &p).expect_code(0);
        agent.run(&lab.agent, "stop", &p).expect_code(0);
        absent(&lab.agent, ip);
        agent.monitor(&lab.agent, &p).expect_code(7);
    }
    // A nic named "secondary" that is down: start brings it up, as IPaddr2 does.
    let p = [
        ("ip", "198.51.100.164"),
        ("nic", "secondary"),
        ("cidr_netmask", "24"),
        ("arp_count", "1"),
        ("check_link_status", "false"),
    ];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    only_on(&lab.agent, "secondary", "198.51.100.164");
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "198.51.100.164");
}

/// resource-agents #1985: the address was put on the interface by hand before start, without
/// the label the resource sets. IPaddr2 took it for its own and reported a start (and every
/// monitor) as successful although the address was not as configured.
#[test]
fn address_added_by_hand_before_start() {
    root_or_skip!("address_added_by_hand_before_start");
    let lab = Lab::new();
    let agent = Agent::under_test();
    lab.agent
        .ip(&["addr", "add", "192.0.2.170/24", "dev", "fip0"]);
    let p = [
        ("ip", "192.0.2.170"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("iflabel", "vip"),
        ("arp_count", "1"),
    ];
    // Not running as configured: a probe must not say "running" (Pacemaker would then never
    // start it), and start must not claim what it did not do.
    let r = agent.probe(&lab.agent, &p);
    r.expect_failure(&[1]);
    assert!(r.exit_reasons()[0].contains("fip0:vip"), "{}", r.describe());
    let r = agent.run(&lab.agent, "start", &p);
    r.expect_failure(&[1]);
    assert!(r.exit_reasons()[0].contains("fip0:vip"), "{}", r.describe());
    agent.monitor(&lab.agent, &p).expect_failure(&[1]);
    let got = only_on(&lab.agent, "fip0", "192.0.2.170");
    assert_eq!(
        got.label.as_deref(),
        Some("fip0"),
        "start left it alone: {got:?}"
    );
    // Pacemaker's recovery, stop then start, ends with the address as configured.
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.170");
    agent.run(&lab.agent, "start", &p).expect_code(0);
    let got = only_on(&lab.agent, "fip0", "192.0.2.170");
    assert_eq!(got.label.as_deref(), Some("fip0:vip"), "{got:?}");
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "192.0.2.170");

    // By hand exactly as configured (no label asked for): that is the resource, running.
    lab.agent
        .ip(&["addr", "add", "192.0.2.171/24", "dev", "fip0"]);
    let q = [
        ("ip", "192.0.2.171"),
        ("nic", "fip0"),
        ("cidr_netmask", "24"),
        ("arp_count", "1"),
    ];
    agent.probe(&lab.agent, &q).expect_code(0);
    agent.run(&lab.agent, "start", &q).expect_code(0);
    agent.monitor(&lab.agent, &q).expect_code(0);
    agent.run(&lab.agent, "stop", &q).expect_code(0);
    absent(&lab.agent, "192.0.2.171");
}

/// The source address the kernel picks in `ns` for traffic to `dst` (`ip route get`).
fn source_for(ns: &Netns, dst: &str) -> String {
    let r = ns.links(&["-6", "route", "get", dst]);
    r.first()
        .and_then(|x| x["prefsrc"].as_str())
        .unwrap_or_else(|| panic!("no prefsrc in `ip -6 route get {dst}`: {r:?}"))
        .to_string()
}

/// resource-agents #1951: an IPv6 floating address in the node's subnet became the source
/// address of the node's own connections (Linux prefers the newest address among equals), so
/// they broke when it moved away. floating-ip gives the address its own address label, as
/// IPaddr2 does by default since 4.15.
#[test]
fn ipv6_floating_address_is_not_the_nodes_source_address() {
    root_or_skip!("ipv6_floating_address_is_not_the_nodes_source_address");
    let lab = Lab::new();
    let agent = Agent::under_test();
    let peer = "2001:db8:1::2";
    assert_eq!(source_for(&lab.agent, peer), "2001:db8:1::1");
    // ::3 shares more leading bits with the peer than the base address does, and is newer.
    let unlabelled = [
        ("ip", "2001:db8:1::3"),
        ("nic", "fip0"),
        ("nodad", "true"),
        ("lvs_ipv6_addrlabel", "false"),
    ];
    // The fault, reproduced: without the label the floating address is the source.
    agent.run(&lab.agent, "start", &unlabelled).expect_code(0);
    assert_eq!(
        source_for(&lab.agent, peer),
        "2001:db8:1::3",
        "the kernel no longer prefers the newest address: this test proves nothing"
    );
    agent.run(&lab.agent, "stop", &unlabelled).expect_code(0);

    let p = [("ip", "2001:db8:1::3"), ("nic", "fip0"), ("nodad", "true")];
    agent.run(&lab.agent, "start", &p).expect_code(0);
    only_on(&lab.agent, "fip0", "2001:db8:1::3");
    assert_eq!(source_for(&lab.agent, peer), "2001:db8:1::1");
    let labels = lab.agent.links(&["addrlabel", "list"]);
    assert!(
        labels
            .iter()
            .any(|l| l["address"] == "2001:db8:1::3" && l["prefixlen"] == 128 && l["label"] == 99),
        "an address label 99 for 2001:db8:1::3/128: {labels:?}"
    );
    agent.monitor(&lab.agent, &p).expect_code(0);
    agent.run(&lab.agent, "stop", &p).expect_code(0);
    absent(&lab.agent, "2001:db8:1::3");
    let labels = lab.agent.links(&["addrlabel", "list"]);
    assert!(
        !labels.iter().any(|l| l["address"] == "2001:db8:1::3"),
        "stop removes the label entry: {labels:?}"
    );
}
