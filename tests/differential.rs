// SPDX-License-Identifier: GPL-2.0-or-later
//! Differential test: for each parameter set, the reference agent (ocf:heartbeat:IPaddr2) runs
//! in one lab and storha's floating-ip in an identical twin lab; the kernel state each leaves
//! (addresses, the nic's link state, routes) must be the same after start and after stop.
//!
//! What legitimately differs is normalised away: interface indexes, link-local addresses and
//! remaining lifetimes (only "forever", "0" or "finite" is compared).

// A test reports failures by panicking.
#![allow(clippy::expect_used)]

mod common;

use common::*;
use std::collections::BTreeSet;

struct Case {
    name: &'static str,
    params: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "v4 nic+cidr auto",
        params: &[("ip", "192.0.2.10")],
    },
    Case {
        name: "v4 cidr 24",
        params: &[
            ("ip", "192.0.2.11"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        name: "v4 cidr 32",
        params: &[
            ("ip", "192.0.2.12"),
            ("nic", "fip0"),
            ("cidr_netmask", "32"),
        ],
    },
    Case {
        name: "v4 label",
        params: &[("ip", "192.0.2.13"), ("nic", "fip0"), ("iflabel", "vip")],
    },
    Case {
        name: "v4 broadcast",
        params: &[
            ("ip", "192.0.2.14"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
            ("broadcast", "192.0.2.255"),
        ],
    },
    Case {
        name: "v4 dotted netmask",
        params: &[
            ("ip", "192.0.2.15"),
            ("nic", "fip0"),
            ("cidr_netmask", "255.255.255.128"),
        ],
    },
    Case {
        name: "v4 off-subnet, cidr 24",
        params: &[
            ("ip", "198.51.100.7"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        name: "v4 cidr 25+brd+label",
        params: &[
            ("ip", "192.0.2.200"),
            ("nic", "fip0"),
            ("cidr_netmask", "25"),
            ("broadcast", "192.0.2.255"),
            ("iflabel", "a"),
        ],
    },
    Case {
        name: "v6 nic+cidr auto",
        params: &[("ip", "2001:db8:1::10")],
    },
    Case {
        name: "v6 nodad",
        params: &[("ip", "2001:db8:1::11"), ("nic", "fip0"), ("nodad", "true")],
    },
    Case {
        name: "v6 noprefixroute",
        params: &[
            ("ip", "2001:db8:1::12"),
            ("nic", "fip0"),
            ("cidr_netmask", "64"),
            ("noprefixroute", "true"),
        ],
    },
    Case {
        name: "v6 preferred_lft=0",
        params: &[
            ("ip", "2001:db8:1::13"),
            ("nic", "fip0"),
            ("preferred_lft", "0"),
        ],
    },
    Case {
        name: "v6 preferred_lft=3600",
        params: &[
            ("ip", "2001:db8:1::15"),
            ("nic", "fip0"),
            ("nodad", "true"),
            ("preferred_lft", "3600"),
        ],
    },
    Case {
        name: "v6 /128 nodad noprefix",
        params: &[
            ("ip", "2001:db8:2::1"),
            ("nic", "fip0"),
            ("cidr_netmask", "128"),
            ("nodad", "true"),
            ("noprefixroute", "true"),
        ],
    },
    Case {
        name: "v6 non-canonical ip",
        params: &[
            ("ip", "2001:0db8:0001:0000:0000:0000:0000:0014"),
            ("nic", "fip0"),
            ("nodad", "true"),
        ],
    },
];

fn lifetime(v: u64) -> &'static str {
    match v {
        FOREVER => "forever",
        0 => "0",
        _ => "finite",
    }
}

/// The normalised kernel state of a lab's agent side, one line per fact.
fn state(ns: &Netns) -> BTreeSet<String> {
    let mut s = BTreeSet::new();
    for (dev, a) in ns.all_addrs() {
        if a.is_link_local() || dev == "lo" {
            continue;
        }
        let local: std::net::IpAddr = a.local.parse().expect("ip prints valid addresses");
        let flags: Vec<&str> = a.flags.iter().map(String::as_str).collect();
        s.insert(format!(
            "addr {dev} {local}/{} brd={} scope={} label={} flags=[{}] valid={} preferred={}",
            a.prefixlen,
            a.broadcast.as_deref().unwrap_or("-"),
            a.scope,
            a.label.as_deref().unwrap_or("-"),
            flags.join(","),
            lifetime(a.valid_lft),
            lifetime(a.preferred_lft),
        ));
    }
    let link = ns.link("fip0");
    let mut lflags: Vec<String> = link["flags"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    lflags.sort();
    s.insert(format!(
        "link fip0 flags=[{}] operstate={}",
        lflags.join(","),
        link["operstate"].as_str().unwrap_or("?")
    ));
    for fam in ["-4", "-6"] {
        for r in ns.links(&[fam, "route", "show", "table", "all"]) {
            let dst = r["dst"].as_str().unwrap_or("?");
            // Link-local and multicast routes come from the kernel on link-up, not from agents.
            if dst.starts_with("fe80:")
                || dst.starts_with("ff00:")
                || dst.starts_with("ff") && fam == "-6"
            {
                continue;
            }
            let mut obj = r.as_object().cloned().unwrap_or_default();
            obj.remove("expires");
            s.insert(format!("route{fam} {}", serde_json::Value::Object(obj)));
        }
    }
    s
}

fn diff(a: &BTreeSet<String>, b: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for x in a.difference(b) {
        out.push_str(&format!("    IPaddr2 only:     {x}\n"));
    }
    for x in b.difference(a) {
        out.push_str(&format!("    floating-ip only: {x}\n"));
    }
    out
}

#[test]
fn floating_ip_matches_ipaddr2() {
    if !require_root("floating_ip_matches_ipaddr2") {
        return;
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for case in CASES {
        let (ref_lab, our_lab) = (Lab::new(), Lab::new());
        let (reference, ours) = (Agent::ipaddr2(), Agent::storha());
        let base = state(&ref_lab.agent);
        assert_eq!(
            base,
            state(&our_lab.agent),
            "twin labs must start identical"
        );

        let r1 = reference.run(&ref_lab.agent, "start", case.params);
        let r2 = ours.run(&our_lab.agent, "start", case.params);
        let (s1, s2) = (state(&ref_lab.agent), state(&our_lab.agent));
        let started = if r1.code != 0 {
            problems.push(format!(
                "[{}] IPaddr2 start failed, the case is wrong:\n{}",
                case.name,
                r1.describe()
            ));
            "REF FAILED"
        } else if r2.code != 0 {
            problems.push(format!(
                "[{}] floating-ip start failed:\n{}",
                case.name,
                r2.describe()
            ));
            "START FAILED"
        } else if s1 != s2 {
            problems.push(format!(
                "[{}] state after start differs:\n{}",
                case.name,
                diff(&s1, &s2)
            ));
            "DIFF"
        } else if s1 == base {
            problems.push(format!("[{}] start changed nothing", case.name));
            "NO CHANGE"
        } else {
            "same"
        };
        let added: Vec<String> = s2
            .difference(&base)
            .filter(|l| l.starts_with("addr"))
            .cloned()
            .collect();

        let q1 = reference.run(&ref_lab.agent, "stop", case.params);
        let q2 = ours.run(&our_lab.agent, "stop", case.params);
        ref_lab
            .agent
            .wait_no_pids("IPaddr2's background sender to end");
        our_lab
            .agent
            .wait_no_pids("floating-ip's background sender to end");
        let (t1, t2) = (state(&ref_lab.agent), state(&our_lab.agent));
        let stopped = if q1.code != 0 || q2.code != 0 {
            problems.push(format!(
                "[{}] stop failed:\n{}\n{}",
                case.name,
                q1.describe(),
                q2.describe()
            ));
            "STOP FAILED"
        } else if t1 != t2 {
            problems.push(format!(
                "[{}] state after stop differs:\n{}",
                case.name,
                diff(&t1, &t2)
            ));
            "DIFF"
        } else if t2
            .iter()
            .filter(|l| l.starts_with("addr"))
            .ne(base.iter().filter(|l| l.starts_with("addr")))
        {
            problems.push(format!(
                "[{}] addresses after stop differ from before start:\n{}",
                case.name,
                diff(&base, &t2)
            ));
            "LEFTOVER"
        } else {
            "same"
        };
        let params: Vec<String> = case
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        rows.push((
            case.name,
            params.join(" "),
            started,
            stopped,
            added.join("; "),
        ));
    }

    let mut table = String::from("\ndifferential: IPaddr2 vs floating-ip\n");
    table.push_str(&format!(
        "{:<24} {:<12} {:<12} {:<70} {}\n",
        "case", "after start", "after stop", "parameters", "added (floating-ip)"
    ));
    for (name, params, started, stopped, added) in &rows {
        table.push_str(&format!(
            "{name:<24} {started:<12} {stopped:<12} {params:<70} {added}\n"
        ));
    }
    loud(&table);
    assert!(CASES.len() >= 8);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
