// SPDX-License-Identifier: GPL-2.0-or-later
//! Differential test: for each parameter set and each environment, the reference agent
//! (ocf:heartbeat:IPaddr2) runs in one lab and storha's floating-ip in an identical twin lab,
//! through the same actions (validate-all, probe, start, recurring monitor, stop, probe). The
//! exit code of every action must be the same, and so must the kernel state each leaves
//! (addresses, the nic's link state, routes, IPv6 address labels) after start and after stop.
//!
//! The environments include failing ones: no base address in the subnet, a cidr_netmask no base
//! address fits, a nic holding no base address, a nic this node does not have; IPv4 and IPv6.
//! Where floating-ip answers differently on purpose, the difference is in `DEVIATIONS`, with
//! its reason (the README lists the same); any other difference fails, and so does a listed
//! deviation that no longer happens.
//!
//! What legitimately differs is normalised away: interface indexes, link-local addresses and
//! remaining lifetimes (only "forever", "0" or "finite" is compared).
//!
//! IPaddr2 runs with `lvs_ipv6_addrlabel=true` for IPv6 unless a case sets it: its default
//! since resource-agents 4.15 (the fix for the floating address becoming the node's IPv6
//! source address), and floating-ip's. The installed 4.12 still defaults to false.

// A test reports failures by panicking.
#![allow(clippy::expect_used)]

mod common;

use common::*;
use std::collections::BTreeSet;

/// The environment both twin labs are put in before a case runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Setup {
    /// `common::Lab`: fip0 with 192.0.2.1/24 and 2001:db8:1::1/64.
    Base,
    /// The IPv4 base address removed: no interface can carry 192.0.2.0/24.
    NoBase4,
    /// The IPv4 base address removed with `promote_secondaries` on, so that an address in its
    /// subnet stays (the kernel otherwise deletes the secondaries with their primary).
    NoBase4Promote,
    /// The IPv6 base address removed.
    NoBase6,
    /// A second interface, fip1 (a veth with its peer in the same namespace), up, with no
    /// address.
    SpareNic,
    /// fip1 as in `SpareNic`, and 198.51.100.0/24 routed on-link through fip0 (metric 10) and
    /// fip1 (metric 20): two equally specific routes.
    TwoRoutes,
}

fn prepare(lab: &Lab, setup: Setup) {
    match setup {
        Setup::Base => {}
        Setup::NoBase4 => {
            lab.agent
                .ip(&["addr", "del", "192.0.2.1/24", "dev", "fip0"]);
        }
        Setup::NoBase4Promote => {
            lab.agent
                .exec(&["sysctl", "-qw", "net.ipv4.conf.fip0.promote_secondaries=1"])
                .expect_code(0);
            lab.agent
                .ip(&["addr", "del", "192.0.2.1/24", "dev", "fip0"]);
        }
        Setup::NoBase6 => {
            lab.agent
                .ip(&["-6", "addr", "del", "2001:db8:1::1/64", "dev", "fip0"]);
        }
        Setup::TwoRoutes => {
            prepare(lab, Setup::SpareNic);
            for (dev, metric) in [("fip0", "10"), ("fip1", "20")] {
                lab.agent.ip(&[
                    "route",
                    "add",
                    "198.51.100.0/24",
                    "dev",
                    dev,
                    "metric",
                    metric,
                ]);
            }
        }
        Setup::SpareNic => {
            lab.agent.ip(&[
                "link",
                "add",
                "fip1",
                "address",
                "02:00:5e:00:01:01",
                "type",
                "veth",
                "peer",
                "name",
                "fip1p",
                "address",
                "02:00:5e:00:01:02",
            ]);
            lab.agent.ip(&["link", "set", "fip1", "up"]);
            lab.agent.ip(&["link", "set", "fip1p", "up"]);
            lab.agent.wait_dad_done();
        }
    }
}

struct Case {
    name: &'static str,
    setup: Setup,
    /// What changes under the running resource, between start and the monitor.
    after_start: Setup,
    params: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 nic+cidr auto",
        params: &[("ip", "192.0.2.10")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 cidr 24",
        params: &[
            ("ip", "192.0.2.11"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 cidr 32",
        params: &[
            ("ip", "192.0.2.12"),
            ("nic", "fip0"),
            ("cidr_netmask", "32"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 label",
        params: &[("ip", "192.0.2.13"), ("nic", "fip0"), ("iflabel", "vip")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 broadcast",
        params: &[
            ("ip", "192.0.2.14"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
            ("broadcast", "192.0.2.255"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 dotted netmask",
        params: &[
            ("ip", "192.0.2.15"),
            ("nic", "fip0"),
            ("cidr_netmask", "255.255.255.128"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 off-subnet, cidr 24",
        params: &[
            ("ip", "198.51.100.7"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
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
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 nic+cidr auto",
        params: &[("ip", "2001:db8:1::10")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 nodad",
        params: &[("ip", "2001:db8:1::11"), ("nic", "fip0"), ("nodad", "true")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 noprefixroute",
        params: &[
            ("ip", "2001:db8:1::12"),
            ("nic", "fip0"),
            ("cidr_netmask", "64"),
            ("noprefixroute", "true"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 preferred_lft=0",
        params: &[
            ("ip", "2001:db8:1::13"),
            ("nic", "fip0"),
            ("preferred_lft", "0"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 preferred_lft=3600",
        params: &[
            ("ip", "2001:db8:1::15"),
            ("nic", "fip0"),
            ("nodad", "true"),
            ("preferred_lft", "3600"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
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
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 non-canonical ip",
        params: &[
            ("ip", "2001:0db8:0001:0000:0000:0000:0000:0014"),
            ("nic", "fip0"),
            ("nodad", "true"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 addrlabel off",
        params: &[
            ("ip", "2001:db8:1::16"),
            ("nic", "fip0"),
            ("nodad", "true"),
            ("lvs_ipv6_addrlabel", "false"),
        ],
    },
    // No base address: no interface of the node can carry the address.
    Case {
        setup: Setup::NoBase4,
        after_start: Setup::Base,
        name: "v4 no base",
        params: &[("ip", "192.0.2.20")],
    },
    Case {
        setup: Setup::NoBase4,
        after_start: Setup::Base,
        name: "v4 no base, nic",
        params: &[("ip", "192.0.2.21"), ("nic", "fip0")],
    },
    Case {
        setup: Setup::NoBase4,
        after_start: Setup::Base,
        name: "v4 no base, cidr",
        params: &[("ip", "192.0.2.22"), ("cidr_netmask", "24")],
    },
    Case {
        setup: Setup::NoBase4,
        after_start: Setup::Base,
        name: "v4 no base, nic+cidr",
        params: &[
            ("ip", "192.0.2.23"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        setup: Setup::NoBase6,
        after_start: Setup::Base,
        name: "v6 no base",
        params: &[("ip", "2001:db8:1::20")],
    },
    Case {
        setup: Setup::NoBase6,
        after_start: Setup::Base,
        name: "v6 no base, nic",
        params: &[("ip", "2001:db8:1::21"), ("nic", "fip0")],
    },
    Case {
        setup: Setup::NoBase6,
        after_start: Setup::Base,
        name: "v6 no base, cidr",
        params: &[("ip", "2001:db8:1::22"), ("cidr_netmask", "64")],
    },
    Case {
        setup: Setup::NoBase6,
        after_start: Setup::Base,
        name: "v6 no base, nic+cidr",
        params: &[
            ("ip", "2001:db8:1::23"),
            ("nic", "fip0"),
            ("cidr_netmask", "64"),
            ("nodad", "true"),
        ],
    },
    // A cidr_netmask that fits no base address (shorter than the subnet's).
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 wrong prefix",
        params: &[("ip", "192.0.2.30"), ("cidr_netmask", "16")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 wrong prefix, nic",
        params: &[
            ("ip", "192.0.2.31"),
            ("nic", "fip0"),
            ("cidr_netmask", "16"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 wrong prefix",
        params: &[("ip", "2001:db8:1::30"), ("cidr_netmask", "48")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 wrong prefix, nic",
        params: &[
            ("ip", "2001:db8:1::31"),
            ("nic", "fip0"),
            ("cidr_netmask", "48"),
            ("nodad", "true"),
        ],
    },
    // A nic that holds no base address.
    Case {
        setup: Setup::SpareNic,
        after_start: Setup::Base,
        name: "v4 wrong nic",
        params: &[("ip", "192.0.2.40"), ("nic", "fip1")],
    },
    Case {
        setup: Setup::SpareNic,
        after_start: Setup::Base,
        name: "v4 wrong nic, cidr",
        params: &[
            ("ip", "192.0.2.41"),
            ("nic", "fip1"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        setup: Setup::SpareNic,
        after_start: Setup::Base,
        name: "v6 wrong nic",
        params: &[("ip", "2001:db8:1::40"), ("nic", "fip1")],
    },
    Case {
        setup: Setup::SpareNic,
        after_start: Setup::Base,
        name: "v6 wrong nic, cidr",
        params: &[
            ("ip", "2001:db8:1::41"),
            ("nic", "fip1"),
            ("cidr_netmask", "64"),
            ("nodad", "true"),
        ],
    },
    // A nic this node does not have.
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 missing nic",
        params: &[("ip", "192.0.2.50"), ("nic", "nosuch0")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 missing nic, cidr",
        params: &[
            ("ip", "192.0.2.51"),
            ("nic", "nosuch0"),
            ("cidr_netmask", "24"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 missing nic",
        params: &[("ip", "2001:db8:1::50"), ("nic", "nosuch0")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v6 missing nic, cidr",
        params: &[
            ("ip", "2001:db8:1::51"),
            ("nic", "nosuch0"),
            ("cidr_netmask", "64"),
        ],
    },
    // Two interfaces with equally specific routes, and no nic.
    Case {
        setup: Setup::TwoRoutes,
        after_start: Setup::Base,
        name: "v4 two equal routes",
        params: &[("ip", "198.51.100.10")],
    },
    // The base address goes away under a running address.
    Case {
        setup: Setup::Base,
        after_start: Setup::NoBase4,
        name: "v4 base gone later",
        params: &[("ip", "192.0.2.25"), ("nic", "fip0")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::NoBase4Promote,
        name: "v4 base gone later, promoted",
        params: &[("ip", "192.0.2.27"), ("nic", "fip0")],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::NoBase4Promote,
        name: "v4 noprefixroute, base gone later",
        params: &[
            ("ip", "192.0.2.26"),
            ("nic", "fip0"),
            ("noprefixroute", "true"),
        ],
    },
    Case {
        setup: Setup::Base,
        after_start: Setup::NoBase6,
        name: "v6 noprefixroute, base gone later",
        params: &[
            ("ip", "2001:db8:1::26"),
            ("nic", "fip0"),
            ("nodad", "true"),
            ("noprefixroute", "true"),
        ],
    },
    // A network namespace this node does not have.
    Case {
        setup: Setup::Base,
        after_start: Setup::Base,
        name: "v4 missing netns",
        params: &[
            ("ip", "192.0.2.60"),
            ("nic", "fip0"),
            ("cidr_netmask", "24"),
            ("network_namespace", "sth-nosuch-ns"),
        ],
    },
];

/// Where floating-ip's exit code differs from IPaddr2's on purpose: (case, action, IPaddr2's
/// code, floating-ip's code, why). The README's floating-ip section lists the same.
const MISSING_NIC: &str = "a nic missing on this node is node-local and may be passing (a VLAN, \
    bond or renamed NIC not there yet): IPaddr2's OCF_ERR_CONFIGURED stops the resource on \
    every node; floating-ip's OCF_ERR_GENERIC lets Pacemaker move it";
const MISSING_NETNS: &str = "IPaddr2 re-executes itself with `ip netns exec`, which exits 255 \
    (no OCF code) for a namespace that does not exist, in every action: a failed stop gets the \
    node fenced. floating-ip answers as for a missing nic: soft failure for start, \
    validate-all and the recurring monitor, not running for a probe, success for stop";
/// Where the state floating-ip leaves differs from IPaddr2's on purpose: (case, action, why).
const LEAVES_ADDRESS: &str = "IPaddr2's stop looks for a route to find the interface again and, \
    finding none, reports success but leaves the address up: a node Pacemaker takes for \
    stopped keeps the service address, which then exists twice once started elsewhere. \
    floating-ip's stop removes the address wherever the configured nic holds it";
const TIE: &str = "with two equally specific routes IPaddr2 takes whichever `ip route` lists \
    last, which may be the wrong network; floating-ip refuses, naming both interfaces, with \
    OCF_ERR_ARGS: this node's routes need a nic to settle it";
const STATE_DEVIATIONS: &[(&str, &str, &str)] = &[
    ("v4 two equal routes", "start", TIE),
    // Removing the address IPaddr2 put on fip1 took the route to 198.51.100.0/24 through fip1
    // with it (the kernel deletes the prefix route of a removed primary address).
    ("v4 two equal routes", "stop", TIE),
    ("v4 noprefixroute, base gone later", "stop", LEAVES_ADDRESS),
];
const DEVIATIONS: &[(&str, &str, i32, i32, &str)] = &[
    ("v4 two equal routes", "validate-all", 0, 2, TIE),
    ("v4 two equal routes", "start", 0, 2, TIE),
    ("v4 two equal routes", "monitor", 0, 7, TIE),
    ("v4 missing netns", "validate-all", 255, 1, MISSING_NETNS),
    ("v4 missing netns", "probe", 255, 7, MISSING_NETNS),
    ("v4 missing netns", "start", 255, 1, MISSING_NETNS),
    ("v4 missing netns", "monitor", 255, 1, MISSING_NETNS),
    ("v4 missing netns", "stop", 255, 0, MISSING_NETNS),
    (
        "v4 missing netns",
        "probe after stop",
        255,
        7,
        MISSING_NETNS,
    ),
    ("v4 missing nic", "validate-all", 6, 1, MISSING_NIC),
    ("v4 missing nic", "start", 6, 1, MISSING_NIC),
    ("v4 missing nic, cidr", "validate-all", 6, 1, MISSING_NIC),
    ("v4 missing nic, cidr", "start", 6, 1, MISSING_NIC),
    ("v6 missing nic", "validate-all", 6, 1, MISSING_NIC),
    ("v6 missing nic", "start", 6, 1, MISSING_NIC),
    ("v6 missing nic, cidr", "validate-all", 6, 1, MISSING_NIC),
    ("v6 missing nic, cidr", "start", 6, 1, MISSING_NIC),
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
    for l in ns.links(&["addrlabel", "list"]) {
        s.insert(format!("addrlabel {l}"));
    }
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

/// The addresses and address labels of a state: what an agent itself adds and removes (routes
/// also change with the kernel's own bookkeeping when a base address goes away).
fn addresses(s: &BTreeSet<String>) -> BTreeSet<String> {
    s.iter()
        .filter(|l| l.starts_with("addr"))
        .cloned()
        .collect()
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

/// The actions of one case, in order, as Pacemaker could run them on a node.
const ACTIONS: &[&str] = &[
    "validate-all",
    "probe",
    "start",
    "monitor",
    "stop",
    "probe after stop",
];

fn act(agent: &Agent, ns: &Netns, action: &str, params: &[(&str, &str)]) -> Run {
    match action {
        "probe" | "probe after stop" => agent.probe(ns, params),
        "monitor" => agent.monitor(ns, params),
        a => agent.run(ns, a, params),
    }
}

/// IPaddr2's parameters for a case: the case's, plus its current default for IPv6 labels.
fn reference_params(case: &Case) -> Vec<(&'static str, &'static str)> {
    let mut p = case.params.to_vec();
    let v6 = case
        .params
        .iter()
        .any(|(k, v)| *k == "ip" && v.contains(':'));
    if v6 && !p.iter().any(|(k, _)| *k == "lvs_ipv6_addrlabel") {
        p.push(("lvs_ipv6_addrlabel", "true"));
    }
    p
}

fn deviation(
    case: &str,
    action: &str,
) -> Option<&'static (&'static str, &'static str, i32, i32, &'static str)> {
    DEVIATIONS.iter().find(|d| d.0 == case && d.1 == action)
}

#[test]
fn deviation_tables_are_well_formed() {
    for d in STATE_DEVIATIONS {
        assert!(
            CASES.iter().any(|c| c.name == d.0) && ["start", "stop"].contains(&d.1),
            "state deviation {d:?} names no case and action"
        );
    }
    for d in DEVIATIONS {
        assert!(
            CASES.iter().any(|c| c.name == d.0) && ACTIONS.contains(&d.1),
            "deviation {d:?} names no case and action"
        );
        assert_ne!(d.2, d.3, "{d:?} is no deviation");
        assert!(!d.4.is_empty());
        // Never a code that bans the resource from more nodes than IPaddr2's does.
        assert!(
            ![5, 6].contains(&d.3),
            "{d:?}: a deviation must not answer with a cluster-wide error"
        );
    }
}

#[test]
fn floating_ip_matches_ipaddr2() {
    if !require_root("floating_ip_matches_ipaddr2") {
        return;
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut seen_deviations = BTreeSet::new();
    let mut seen_states = BTreeSet::new();
    for case in CASES {
        let (ref_lab, our_lab) = (Lab::new(), Lab::new());
        prepare(&ref_lab, case.setup);
        prepare(&our_lab, case.setup);
        let (reference, ours) = (Agent::ipaddr2(), Agent::storha());
        let ref_params = reference_params(case);
        let base = state(&ref_lab.agent);
        assert_eq!(
            base,
            state(&our_lab.agent),
            "[{}] twin labs must start identical",
            case.name
        );
        // What stop must come back to: the environment as the case left it, without the
        // address (a third lab, never touched by an agent, when something changed after start).
        let expected_after_stop = if case.after_start == Setup::Base {
            base.clone()
        } else {
            let control = Lab::new();
            prepare(&control, case.setup);
            prepare(&control, case.after_start);
            state(&control.agent)
        };
        let mut codes = Vec::new();
        let mut after_start = "";
        let mut after_stop = "";
        let mut added = Vec::new();
        for action in ACTIONS {
            let r1 = act(&reference, &ref_lab.agent, action, &ref_params);
            let r2 = act(&ours, &our_lab.agent, action, case.params);
            if *action == "stop" {
                ref_lab
                    .agent
                    .wait_no_pids("IPaddr2's background sender to end");
                our_lab
                    .agent
                    .wait_no_pids("floating-ip's background sender to end");
            }
            match deviation(case.name, action) {
                Some(d) if (r1.code, r2.code) == (d.2, d.3) => {
                    seen_deviations.insert((d.0, d.1));
                    codes.push(format!("{}:{}/{}*", action, r1.code, r2.code));
                }
                Some(d) => {
                    problems.push(format!(
                        "[{}] {action}: listed deviation {}/{} did not happen, got {}/{}:\n{}\n{}",
                        case.name,
                        d.2,
                        d.3,
                        r1.code,
                        r2.code,
                        r1.describe(),
                        r2.describe()
                    ));
                    codes.push(format!("{}:{}/{}!", action, r1.code, r2.code));
                }
                None if r1.code != r2.code => {
                    problems.push(format!(
                        "[{}] {action}: exit codes differ (IPaddr2 {}, floating-ip {}):\n{}\n{}",
                        case.name,
                        r1.code,
                        r2.code,
                        r1.describe(),
                        r2.describe()
                    ));
                    codes.push(format!("{}:{}/{}!", action, r1.code, r2.code));
                }
                None => codes.push(format!("{}:{}", action, r1.code)),
            }
            // A failure must say why (Pacemaker shows the reason), in floating-ip always.
            if ![0, 7].contains(&r2.code) && r2.exit_reasons().len() != 1 {
                problems.push(format!(
                    "[{}] {action}: floating-ip failed without exactly one exit reason:\n{}",
                    case.name,
                    r2.describe()
                ));
            }
            if *action == "start" || *action == "stop" {
                let (s1, s2) = (state(&ref_lab.agent), state(&our_lab.agent));
                let state_deviation = STATE_DEVIATIONS
                    .iter()
                    .find(|d| d.0 == case.name && d.1 == *action);
                let verdict = if let Some(d) = state_deviation {
                    if s1 == s2 {
                        problems.push(format!(
                            "[{}] listed state deviation after {action} did not happen: {d:?}",
                            case.name
                        ));
                        "SAME!"
                    } else if addresses(&s2) != addresses(&expected_after_stop) {
                        problems.push(format!(
                            "[{}] state after {action}, beside the listed deviation:\n{}",
                            case.name,
                            diff(&expected_after_stop, &s2)
                        ));
                        "LEFTOVER"
                    } else {
                        seen_states.insert((d.0, d.1));
                        "deviation*"
                    }
                } else if s1 != s2 {
                    problems.push(format!(
                        "[{}] state after {action} differs:\n{}",
                        case.name,
                        diff(&s1, &s2)
                    ));
                    "DIFF"
                } else if *action == "start" && r2.code == 0 && s2 == base {
                    problems.push(format!(
                        "[{}] a successful start changed nothing",
                        case.name
                    ));
                    "NO CHANGE"
                } else if *action == "start" && r2.code != 0 && s2 != base {
                    problems.push(format!(
                        "[{}] a failed start left changes:\n{}",
                        case.name,
                        diff(&base, &s2)
                    ));
                    "LEFTOVER"
                } else if *action == "stop" && addresses(&s2) != addresses(&expected_after_stop) {
                    problems.push(format!(
                        "[{}] state after stop differs from before start:\n{}",
                        case.name,
                        diff(&expected_after_stop, &s2)
                    ));
                    "LEFTOVER"
                } else {
                    "same"
                };
                if *action == "start" {
                    prepare(&ref_lab, case.after_start);
                    prepare(&our_lab, case.after_start);
                    after_start = verdict;
                    added = s2
                        .difference(&base)
                        .filter(|l| l.starts_with("addr "))
                        .cloned()
                        .collect();
                } else {
                    after_stop = verdict;
                }
            }
        }
        rows.push((
            case.name,
            after_start,
            after_stop,
            codes.join(" "),
            added.join("; "),
        ));
    }
    for d in DEVIATIONS {
        if !seen_deviations.contains(&(d.0, d.1)) && !problems.iter().any(|p| p.contains(d.0)) {
            problems.push(format!("listed deviation {d:?} was not observed"));
        }
    }

    for d in STATE_DEVIATIONS {
        if !seen_states.contains(&(d.0, d.1)) && !problems.iter().any(|p| p.contains(d.0)) {
            problems.push(format!("listed state deviation {d:?} was not observed"));
        }
    }
    let mut table = String::from(
        "\ndifferential: IPaddr2 vs floating-ip (exit codes: same code, or IPaddr2/floating-ip; * listed deviation, ! difference)\n",
    );
    table.push_str(&format!(
        "{:<24} {:<10} {:<10} {:<78} {}\n",
        "case", "start", "stop", "exit codes", "added (floating-ip)"
    ));
    for (name, started, stopped, codes, added) in &rows {
        table.push_str(&format!(
            "{name:<24} {started:<10} {stopped:<10} {codes:<78} {added}\n"
        ));
    }
    loud(&table);
    assert!(CASES.iter().filter(|c| c.setup != Setup::Base).count() >= 12);
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
