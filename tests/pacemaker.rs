// SPDX-License-Identifier: GPL-2.0-or-later
//! floating-ip under a real Pacemaker: a single-node Corosync + Pacemaker cluster on this host
//! (scripts/pcmk-host.sh), the user-facing examples crm-examples/floating-ip.crm (IPv4) and
//! floating-ip-ipv6.crm loaded with crmsh, and the address checked in the kernel at every step:
//! start, recurring monitor, recovery after the address is removed by hand (IPv4), stop, delete.
//!
//! Run as root: `cargo test --release --test pacemaker`. Without root the test prints
//! "SKIPPED (needs root)" and passes, unless CI is set, where it fails.
//!
//! The machine has one such cluster: the test takes the lock /run/storha-pcmk.lock, waits while
//! another running process owns the cluster (`pcmk-host.sh in-use`), takes down a leftover
//! (e.g. the demo's with KEEP=1), and only ever takes down the cluster it started. It restores
//! /usr/lib/ocf/resource.d/storha/floating-ip to what it was when it finishes.
//!
//! STORHA_PCMK_TEST_AGENT (default ocf:storha:floating-ip) runs the same scenario with another
//! agent taking the same parameters, e.g. ocf:heartbeat:IPaddr2, to check the harness itself.

// A test reports failures by panicking.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod pcmk_host;

use pcmk_host::{describe, down_if_ours, loud, repo, run};

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// The veth created by scripts/pcmk-host.sh, and the namespace at its other end.
const NIC: &str = "sth-demo0";
const CLIENT_NS: &str = "sth-demo-client";
const OCF_PROVIDER_DIR: &str = "/usr/lib/ocf/resource.d/storha";
const OCF_LINK: &str = "/usr/lib/ocf/resource.d/storha/floating-ip";
const PACEMAKER_LOG: &str = "/var/log/storha-pcmk/pacemaker.log";
/// Where the binary under test is copied for the duration of the test.
const INSTALL_DIR: &str = "/run/storha-pacemaker-test";
const DEFAULT_AGENT: &str = "ocf:storha:floating-ip";
const WHO: &str = "pacemaker test";

/// Runs a command that must succeed; returns its stdout.
fn check(prog: &str, args: &[&str]) -> String {
    let out = run(prog, args);
    if !out.status.success() {
        panic!("{}\n{}", describe(prog, args, &out), diagnostics());
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a human needs to see when something went wrong.
fn diagnostics() -> String {
    let mut s = String::from("===== diagnostics\n");
    for (prog, args) in [
        ("crm_mon", &["-1", "-r", "-f", "-o"][..]),
        ("ip", &["addr", "show", "dev", NIC][..]),
    ] {
        let out = run(prog, args);
        s += &format!(
            "--- {prog} {}\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    s += &format!("--- tail of {PACEMAKER_LOG}\n");
    match fs::read_to_string(PACEMAKER_LOG) {
        Ok(log) => {
            let lines: Vec<&str> = log.lines().collect();
            for l in &lines[lines.len().saturating_sub(60)..] {
                s += l;
                s.push('\n');
            }
        }
        Err(e) => s += &format!("(cannot read: {e})\n"),
    }
    s
}

/// Polls `probe` every 500 ms until it returns Ok(true); Err(msg) aborts at once (a definite
/// failure, e.g. a failed operation recorded by Pacemaker). Panics with diagnostics on timeout.
fn wait_for(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<bool, String>) {
    let t0 = Instant::now();
    loop {
        match probe() {
            Ok(true) => {
                eprintln!(
                    "pacemaker test: {what}: ok after {:.1} s",
                    t0.elapsed().as_secs_f64()
                );
                return;
            }
            Ok(false) => {}
            Err(msg) => panic!("{what}: {msg}\n{}", diagnostics()),
        }
        if t0.elapsed() > timeout {
            panic!(
                "{what}: not reached within {} s\n{}",
                timeout.as_secs(),
                diagnostics()
            );
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// Value of attribute `name` in the start tag `tag` (crm_mon's XML is machine-written: attributes
/// are always `name="value"` with a space before).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Start tags `<elem ...>` whose `attr_name` equals `value`.
fn tags<'a>(xml: &'a str, elem: &str, attr_name: &str, value: &str) -> Vec<&'a str> {
    let open = format!("<{elem} ");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i..];
        let end = after.find('>').map_or(after.len(), |e| e + 1);
        let tag = &after[..end];
        if attr(tag, attr_name) == Some(value) {
            found.push(tag);
        }
        rest = &after[end..];
    }
    found
}

/// crm_mon's XML with the operation history and failures.
fn crm_mon_xml() -> Result<String, String> {
    let out = run("crm_mon", &["-1", "--output-as=xml", "--include=all"]);
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        // Transient (e.g. while the CIB is being replaced): report as "not yet".
        Err(String::new())
    }
}

/// One floating address: an example file and the values the test gives it (free addresses of
/// the demo link made by scripts/pcmk-host.sh).
struct Vip {
    rsc: &'static str,
    example: &'static str,
    ip: &'static str,
    prefix: u64,
}

const VIP4: Vip = Vip {
    rsc: "vip",
    example: "crm-examples/floating-ip.crm",
    ip: "198.51.100.10",
    prefix: 24,
};
const VIP6: Vip = Vip {
    rsc: "vip6",
    example: "crm-examples/floating-ip-ipv6.crm",
    ip: "2001:db8:5707::10",
    prefix: 64,
};

struct RscState {
    role: String,
    active: bool,
    failed: bool,
}

impl Vip {
    fn state(&self, xml: &str) -> Option<RscState> {
        let tag = *tags(xml, "resource", "id", self.rsc).first()?;
        Some(RscState {
            role: attr(tag, "role").unwrap_or("").to_string(),
            active: attr(tag, "active") == Some("true"),
            failed: attr(tag, "failed") == Some("true"),
        })
    }

    fn started(&self, xml: &str) -> bool {
        self.state(xml)
            .is_some_and(|s| s.role == "Started" && s.active && !s.failed)
    }

    /// Failed operations Pacemaker recorded for the resource (`<failure op_key="vip_...">`).
    fn failures(&self, xml: &str) -> Vec<String> {
        let prefix = format!("{}_", self.rsc);
        let mut v = Vec::new();
        let mut rest = xml;
        while let Some(i) = rest.find("<failure ") {
            let after = &rest[i..];
            let end = after.find('>').map_or(after.len(), |e| e + 1);
            let tag = &after[..end];
            if attr(tag, "op_key").is_some_and(|k| k.starts_with(&prefix)) {
                v.push(tag.to_string());
            }
            rest = &after[end..];
        }
        v
    }

    /// Whether the recurring monitor (interval 10 s in the examples) completed with rc 0.
    fn monitor_ok(&self, xml: &str) -> bool {
        // This resource's history: from its resource_history tag to the closing one.
        let Some(start) = xml.find(&format!("<resource_history id=\"{}\"", self.rsc)) else {
            return false;
        };
        let section = &xml[start..];
        let section = &section[..section.find("</resource_history>").unwrap_or(section.len())];
        tags(section, "operation_history", "task", "monitor")
            .iter()
            .any(|t| attr(t, "interval") == Some("10000ms") && attr(t, "rc") == Some("0"))
    }

    /// Whether ip/prefix is on NIC, per the kernel (`ip -j addr`). Addresses are compared as
    /// addresses, not strings (IPv6 has many spellings).
    fn present(&self) -> bool {
        let want: IpAddr = self.ip.parse().expect("valid test address");
        let out = run("ip", &["-j", "addr", "show", "dev", NIC]);
        if !out.status.success() {
            return false;
        }
        let v: serde_json::Value = match serde_json::from_slice(&out.stdout) {
            Ok(v) => v,
            Err(_) => return false,
        };
        v.as_array().into_iter().flatten().any(|link| {
            link["addr_info"].as_array().into_iter().flatten().any(|a| {
                a["local"].as_str().and_then(|l| l.parse::<IpAddr>().ok()) == Some(want)
                    && a["prefixlen"].as_u64() == Some(self.prefix)
            })
        })
    }

    /// The example's definition with this test's `ip=`, `nic=`, `cidr_netmask=` and agent,
    /// keeping the file itself user-facing. Comment lines are left alone.
    fn adapted_example(&self, agent: &str) -> String {
        let text = fs::read_to_string(repo().join(self.example))
            .unwrap_or_else(|e| panic!("read {}: {e}", self.example));
        let mut out = String::new();
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                out += line;
            } else {
                let words: Vec<String> = line
                    .split(' ')
                    .map(|w| {
                        if w.starts_with("ip=") {
                            format!("ip={}", self.ip)
                        } else if w.starts_with("nic=") {
                            format!("nic={NIC}")
                        } else if w.starts_with("cidr_netmask=") {
                            format!("cidr_netmask={}", self.prefix)
                        } else if w == DEFAULT_AGENT {
                            agent.to_string()
                        } else {
                            w.to_string()
                        }
                    })
                    .collect();
                out += &words.join(" ");
            }
            out.push('\n');
        }
        out
    }

    /// Loads the example with crmsh and waits until Pacemaker has started the resource, the
    /// address is in the kernel, the recurring monitor passed and the address answers pings.
    fn load_and_start(&self, agent: &str, crm_file: &Path) {
        assert!(
            !self.present(),
            "{} is on {NIC} before {} exists",
            self.ip,
            self.rsc
        );
        fs::write(crm_file, self.adapted_example(agent)).expect("write the adapted example");
        check(
            "crm",
            &[
                "configure",
                "load",
                "update",
                crm_file.to_str().expect("utf-8 path"),
            ],
        );
        let shown = check("crm", &["configure", "show", self.rsc]);
        assert!(
            shown.contains(agent.rsplit(':').next().unwrap_or(agent))
                && shown.contains(&format!("nic={NIC}")),
            "loaded definition:\n{shown}"
        );
        wait_for(
            &format!(
                "{} Started, {}/{} on {NIC}, monitor ok",
                self.rsc, self.ip, self.prefix
            ),
            Duration::from_secs(60),
            || {
                let Ok(xml) = crm_mon_xml() else {
                    return Ok(false);
                };
                let f = self.failures(&xml);
                if !f.is_empty() {
                    return Err(format!(
                        "Pacemaker recorded failed operations:\n{}",
                        f.join("\n")
                    ));
                }
                Ok(self.started(&xml) && self.present() && self.monitor_ok(&xml))
            },
        );
        // The address answers on the link (from the client side of the veth).
        check(
            "ip",
            &[
                "netns", "exec", CLIENT_NS, "ping", "-c", "1", "-W", "2", self.ip,
            ],
        );
    }

    /// `crm resource stop`, then the address must leave the kernel; then the resource is
    /// deleted from the configuration.
    fn stop_and_delete(&self) {
        check("crm", &["resource", "stop", self.rsc]);
        wait_for(
            &format!("{} Stopped, {} gone from {NIC}", self.rsc, self.ip),
            Duration::from_secs(60),
            || {
                let Ok(xml) = crm_mon_xml() else {
                    return Ok(false);
                };
                let f = self.failures(&xml);
                if !f.is_empty() {
                    return Err(format!(
                        "Pacemaker recorded failed operations:\n{}",
                        f.join("\n")
                    ));
                }
                let stopped = self
                    .state(&xml)
                    .is_some_and(|s| s.role == "Stopped" && !s.active);
                Ok(stopped && !self.present())
            },
        );
        check("crm", &["configure", "delete", self.rsc]);
        wait_for(
            &format!("{} gone from the CIB", self.rsc),
            Duration::from_secs(30),
            || {
                let out = run("cibadmin", &["-Q", "-o", "resources"]);
                Ok(out.status.success()
                    && !String::from_utf8_lossy(&out.stdout)
                        .contains(&format!("id=\"{}\"", self.rsc)))
            },
        );
        assert!(
            !self.present(),
            "{} still on {NIC} after its resource was deleted",
            self.ip
        );
    }
}

/// Everything the test changed on the host, undone on drop (also when the test panics):
/// the resource, the cluster, the demo link, and the agent's symlink.
struct Harness {
    previous_link: Option<PathBuf>,
    created_provider_dir: bool,
    crm_file: PathBuf,
    /// The cluster lock, released after the cluster is down (fields drop after `drop`).
    _lock: fs::File,
}

impl Harness {
    fn install_agent(&mut self, bin: &Path) {
        // A possibly older /usr/bin/storha is neither used nor overwritten.
        if !Path::new(OCF_PROVIDER_DIR).is_dir() {
            fs::create_dir_all(OCF_PROVIDER_DIR).expect("create the storha OCF provider directory");
            self.created_provider_dir = true;
        }
        self.previous_link = pcmk_host::install_copy(bin, INSTALL_DIR, OCF_LINK);
        eprintln!(
            "pacemaker test: {OCF_LINK} -> {INSTALL_DIR}/storha (copy of {})",
            bin.display()
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if thread::panicking() {
            loud(&format!("{WHO}: FAILED, cleaning up"));
        }
        // Best effort: the cluster goes away with `down` anyway (which stops the resource
        // first), but deleting it explicitly exercises a normal user's path.
        for v in [&VIP4, &VIP6] {
            let _ = run("crm", &["configure", "delete", "--force", v.rsc]);
        }
        down_if_ours(WHO);
        let previous = self.previous_link.take();
        pcmk_host::restore_link(OCF_LINK, previous.as_ref(), INSTALL_DIR);
        if previous.is_none() && self.created_provider_dir {
            let _ = fs::remove_dir(OCF_PROVIDER_DIR);
        }
        let _ = fs::remove_file(&self.crm_file);
    }
}

#[test]
fn floating_ip_under_pacemaker() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        if env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("the Pacemaker integration test needs root, and CI is set");
        }
        // Written to the stderr handle rather than with eprintln!, which the test harness
        // captures and hides for a passing test: a skip must be seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"\n*** tests/pacemaker.rs: SKIPPED (needs root): floating-ip under Pacemaker was NOT tested ***\n",
        );
        return;
    }
    let agent = env::var("STORHA_PCMK_TEST_AGENT").unwrap_or_else(|_| DEFAULT_AGENT.to_string());
    let script = pcmk_host::script();
    let script = script.as_str();

    // The machine has one cluster: queue behind other users of it (see scripts/pcmk-host.sh).
    let lock = pcmk_host::lock_cluster(WHO);
    pcmk_host::wait_until_not_in_use(WHO);
    // A clean slate: a cluster left by the demo (KEEP=1) or an interrupted run carries state.
    check(script, &["down"]);
    let mut h = Harness {
        previous_link: None,
        created_provider_dir: false,
        crm_file: env::temp_dir().join(format!("storha-pacemaker-test-{}.crm", std::process::id())),
        _lock: lock,
    };
    let t0 = Instant::now();
    check(script, &["up"]);
    eprintln!(
        "pacemaker test: cluster up in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    h.install_agent(Path::new(env!("CARGO_BIN_EXE_storha")));
    // Pacemaker must find the agent and get valid meta-data from it, also as the unprivileged
    // user its controller runs as (it reads every agent's meta-data as hacluster).
    check("crm_resource", &["--show-metadata", &agent]);
    let agent_path = match agent.split(':').collect::<Vec<_>>()[..] {
        ["ocf", provider, kind] => format!("/usr/lib/ocf/resource.d/{provider}/{kind}"),
        _ => panic!("STORHA_PCMK_TEST_AGENT must be ocf:PROVIDER:TYPE, not {agent}"),
    };
    check(
        "runuser",
        &["-u", "hacluster", "--", &agent_path, "meta-data"],
    );

    // IPv4, the user-facing example as the README shows it.
    let v = &VIP4;
    v.load_and_start(&agent, &h.crm_file);

    // The address vanishes behind the cluster's back: the recurring monitor must report "not
    // running" (7) and Pacemaker must put the address back.
    check(
        "ip",
        &["addr", "del", &format!("{}/{}", v.ip, v.prefix), "dev", NIC],
    );
    wait_for(
        "monitor reports the removed address as not running (7), Pacemaker restores it",
        Duration::from_secs(60),
        || {
            let Ok(xml) = crm_mon_xml() else {
                return Ok(false);
            };
            let f = v.failures(&xml);
            if let Some(bad) = f
                .iter()
                .find(|t| attr(t, "task") != Some("monitor") || attr(t, "exitcode") != Some("7"))
            {
                return Err(format!("unexpected failure: {bad}"));
            }
            let started = v
                .state(&xml)
                .is_some_and(|s| s.role == "Started" && s.active);
            Ok(!f.is_empty() && started && v.present())
        },
    );
    check("crm", &["resource", "cleanup", v.rsc]);
    wait_for(
        "failure cleared, still Started",
        Duration::from_secs(60),
        || {
            let Ok(xml) = crm_mon_xml() else {
                return Ok(false);
            };
            Ok(v.failures(&xml).is_empty() && v.started(&xml) && v.present() && v.monitor_ok(&xml))
        },
    );
    v.stop_and_delete();

    // IPv6: duplicate address detection and neighbour advertisements on start.
    VIP6.load_and_start(&agent, &h.crm_file);
    VIP6.stop_and_delete();

    drop(h);
    assert!(
        !Path::new("/sys/class/net").join(NIC).exists(),
        "pcmk-host.sh down left {NIC} behind"
    );
    eprintln!(
        "pacemaker test: passed in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
