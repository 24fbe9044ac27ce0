// SPDX-License-Identifier: GPL-2.0-or-later
//! fence_ipstrip under a real Pacemaker: the single-node cluster of scripts/pcmk-host.sh, the
//! user-facing example crm-examples/fence_ipstrip.crm pointed at the power strip emulator, and
//! the outlets checked in the emulator at every step:
//!
//! * `stonith_admin --metadata` shows the agent, `--list-installed` finds it in /usr/sbin;
//! * the stonith resource starts and its monitor reaches the strip;
//! * `stonith_admin --list node-a` names the device (pcmk_host_map);
//! * `--fence node-a` (off) switches both outlets of node-a's two power supplies off;
//! * `--reboot node-b` switches outlet 3 off, then on;
//! * with outlet 3 stuck ON, `--fence node-b` fails: fencing is reported only when confirmed;
//! * the same again with `device=espurna`, against ESPurna API 1.14 and 1.15 in turn;
//! * the strip's password never shows in `ps`, the CIB or Pacemaker's and corosync's logs.
//!
//! Run as root: `cargo test --release --test fence_pacemaker`. Without root it prints SKIPPED
//! and passes, unless CI is set, where it fails. The machine has one such cluster: the test
//! takes the lock /run/storha-pcmk.lock, waits while another running process owns the cluster
//! (`pcmk-host.sh in-use`), and only ever takes down the cluster it started. It restores
//! /usr/sbin/fence_ipstrip to what it was when it finishes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "emulator/harness.rs"]
mod harness;
mod pcmk_host;

use harness::{EmuOpts, Emulator, ESPURNA_FIRMWARES};
use pcmk_host::{describe, down_if_ours, loud, repo, run};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use std::{fs, thread};

const FENCE_LINK: &str = "/usr/sbin/fence_ipstrip";
const INSTALL_DIR: &str = "/run/storha-fence-test";
const LOGS: &[&str] = &[
    "/var/log/storha-pcmk/pacemaker.log",
    "/var/log/storha-pcmk/corosync.log",
];
const RSC: &str = "fence-strip";
const WHO: &str = "fence_pacemaker";

fn check(prog: &str, args: &[&str]) -> String {
    let o = run(prog, args);
    assert!(o.status.success(), "{}", describe(prog, args, &o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for(what: &str, timeout: Duration, mut probe: impl FnMut() -> bool) {
    let t = Instant::now();
    while !probe() {
        if t.elapsed() > timeout {
            let mon = run("crm_mon", &["-1", "-r"]);
            panic!(
                "timed out after {timeout:?} waiting for {what}\n{}",
                String::from_utf8_lossy(&mon.stdout)
            );
        }
        thread::sleep(Duration::from_millis(500));
    }
}

struct Harness {
    previous_link: Option<PathBuf>,
    /// Whether we ran `up`: `down` is only run on a cluster this test started.
    started: bool,
    /// The cluster lock, released when the harness is dropped (after `down`).
    _lock: fs::File,
}

impl Harness {
    fn install_agent(&mut self) {
        self.previous_link = pcmk_host::install_copy(
            Path::new(env!("CARGO_BIN_EXE_storha")),
            INSTALL_DIR,
            FENCE_LINK,
        );
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if thread::panicking() {
            loud(&format!("{WHO}: FAILED, cleaning up"));
        }
        if self.started {
            let _ = run("crm", &["configure", "delete", "--force", RSC]);
            down_if_ours(WHO);
        }
        pcmk_host::restore_link(FENCE_LINK, self.previous_link.as_ref(), INSTALL_DIR);
    }
}

/// The example with this test's strip address, port and password file, a short
/// power_timeout and a frequent monitor; the definition itself is the user's.
fn adapted_example(port: u16, pw_file: &Path) -> String {
    let text = fs::read_to_string(repo().join("crm-examples/fence_ipstrip.crm")).expect("example");
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let line = line
            .replace("ip=192.0.2.50", &format!("ip=127.0.0.1 ipport={port}"))
            .replace(
                "password_script=\"cat /etc/storha/fence-strip.secret\"",
                &format!("password_script=\"cat {}\"", pw_file.display()),
            )
            .replace(
                "power_timeout=20",
                "power_timeout=3 stonith_status_sleep=0.5",
            )
            .replace("interval=60s", "interval=5s");
        out.push_str(&line);
        out.push('\n');
    }
    assert!(
        out.contains(&format!("ipport={port}")),
        "example changed shape:\n{out}"
    );
    assert!(
        out.contains(&pw_file.display().to_string()),
        "example changed shape:\n{out}"
    );
    out
}

fn started(xml: &str) -> bool {
    xml.lines().any(|l| {
        l.contains(&format!("<resource id=\"{RSC}\""))
            && l.contains("role=\"Started\"")
            && l.contains("active=\"true\"")
            && l.contains("failed=\"false\"")
    })
}

fn stonith_admin(args: &[&str]) -> Output {
    run("stonith_admin", args)
}

#[test]
fn fence_ipstrip_under_pacemaker() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Pacemaker test needs root in CI"
        );
        loud("SKIPPED (needs root): fence_ipstrip_under_pacemaker");
        return;
    }
    for tool in ["pacemakerd", "corosync", "stonith_admin", "crm", "crm_mon"] {
        let found = ["/usr/sbin", "/usr/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "{tool} missing (scripts/install-deps.sh), and CI is set: refusing to skip"
            );
            loud(&format!(
                "SKIPPED: {tool} missing (scripts/install-deps.sh)"
            ));
            return;
        }
    }
    let lock = pcmk_host::lock_cluster(WHO);
    pcmk_host::wait_until_not_in_use(WHO);
    let Some(emu) = Emulator::start(&EmuOpts {
        switch_delay: 0.5,
        ..EmuOpts::default()
    }) else {
        return;
    };
    let mut h = Harness {
        previous_link: None,
        started: false,
        _lock: lock,
    };
    h.install_agent();

    // The fencer lists fence_* in /usr/sbin and shows our meta-data.
    let meta = check("stonith_admin", &["--metadata", "-a", "fence_ipstrip"]);
    assert!(
        meta.contains("<resource-agent name=\"fence_ipstrip\""),
        "{meta}"
    );
    assert!(meta.contains("<parameter name=\"plug\""), "{meta}");
    let installed = check("stonith_admin", &["--list-installed"]);
    assert!(
        installed.lines().any(|l| l.trim() == "fence_ipstrip"),
        "{installed}"
    );

    h.started = true;
    check(&pcmk_host::script(), &["up"]);

    let pw_file = emu.dir.join("fence-strip.secret");
    fs::write(&pw_file, format!("{}\n", emu.password)).expect("password file");
    let crm_file = emu.dir.join("fence_ipstrip.crm");
    fs::write(&crm_file, adapted_example(emu.http_port, &pw_file)).expect("crm file");
    check(
        "crm",
        &["configure", "load", "update", crm_file.to_str().unwrap()],
    );

    // Started, and the monitor reached the strip (it lists outlets with Power0).
    let log = || fs::read_to_string(emu.dir.join("emulator.log")).unwrap_or_default();
    let before = log().matches("GET /cm").count();
    wait_for(&format!("{RSC} started"), Duration::from_secs(90), || {
        let o = run("crm_mon", &["-1", "--output-as=xml"]);
        started(&String::from_utf8_lossy(&o.stdout))
    });
    wait_for(
        "a monitor request at the strip",
        Duration::from_secs(30),
        || log().matches("GET /cm").count() > before,
    );

    let list = check("stonith_admin", &["--list", "node-a"]);
    assert!(list.contains(RSC), "stonith_admin --list node-a:\n{list}");
    let list = check("stonith_admin", &["--list", "node-b"]);
    assert!(list.contains(RSC), "stonith_admin --list node-b:\n{list}");

    // --fence node-a: both supplies, watched in ps meanwhile.
    emu.forget();
    let mut ps_seen = Vec::new();
    let off = thread::scope(|s| {
        let t = s.spawn(|| stonith_admin(&["--fence", "node-a", "--timeout", "60"]));
        while !t.is_finished() {
            let o = run("ps", &["-eo", "pid,args"]);
            ps_seen.push(String::from_utf8_lossy(&o.stdout).into_owned());
            thread::sleep(Duration::from_millis(100));
        }
        t.join().expect("stonith_admin thread")
    });
    assert!(
        off.status.success(),
        "{}",
        describe("stonith_admin", &["--fence", "node-a"], &off)
    );
    assert!(
        !emu.is_on(1) && !emu.is_on(2),
        "node-a's outlets after --off"
    );
    assert!(emu.is_on(3), "node-b untouched");
    let mut h1 = emu.history();
    h1.sort();
    assert_eq!(h1, vec![(1, false), (2, false)]);

    // --reboot node-b: off, then on again.
    emu.forget();
    let r = stonith_admin(&["--reboot", "node-b", "--timeout", "60"]);
    assert!(
        r.status.success(),
        "{}",
        describe("stonith_admin", &["--reboot", "node-b"], &r)
    );
    assert_eq!(emu.history(), vec![(3, false), (3, true)]);
    assert!(emu.is_on(3));

    // An outlet that stays on: fencing must fail, however often Pacemaker retries.
    emu.fault("stuck", 3);
    let t = Instant::now();
    let r = stonith_admin(&["--fence", "node-b", "--timeout", "40"]);
    assert!(
        !r.status.success(),
        "fencing reported success with the outlet stuck ON:\n{}",
        describe("stonith_admin", &["--fence", "node-b"], &r)
    );
    assert!(emu.is_on(3));
    loud(&format!(
        "fence_pacemaker: stuck outlet reported as failed fencing after {:.1}s",
        t.elapsed().as_secs_f64()
    ));
    emu.clear();
    // The fencer's history keeps the confirmed reboot.
    let hist = check("stonith_admin", &["--history", "node-b"]);
    assert!(hist.contains("reboot of node-b successful"), "{hist}");

    // The same definition with device=espurna, against each ESPurna API generation in turn
    // (relays count from 0: the host map names relays 0,1 and 2, the emulator's outlets 1-3).
    let mut secrets = emu.secrets();
    for firmware in ESPURNA_FIRMWARES {
        espurna_under_pacemaker(firmware, &mut secrets);
    }

    // No secret anywhere a user or another process could read it.
    let cib = check("cibadmin", &["-Q"]);
    for secret in secrets {
        assert!(!cib.contains(&secret), "a secret is in the CIB");
        for p in &ps_seen {
            assert!(!p.contains(&secret), "a secret is visible in ps");
        }
        for l in LOGS {
            let text = fs::read_to_string(l).unwrap_or_default();
            assert!(!text.contains(&secret), "a secret is in {l}");
        }
    }
    let agent_lines = fs::read_to_string(LOGS[0])
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("fence_ipstrip"))
        .count();
    assert!(
        agent_lines > 0,
        "the agent's messages reach Pacemaker's log"
    );
}

/// Points the stonith resource at an ESPurna emulator of API generation `firmware`: the
/// monitor reaches it, `--reboot node-b` is relay 2 off then on, `--fence node-a` switches
/// relays 0 and 1 off, and with relay 2 stuck ON `--fence node-b` fails.
fn espurna_under_pacemaker(firmware: &'static str, secrets: &mut Vec<String>) {
    let Some(esp) = Emulator::start(&EmuOpts {
        switch_delay: 0.5,
        espurna_firmware: firmware,
        ..EmuOpts::default()
    }) else {
        panic!("ESPurna {firmware}: emulator did not start");
    };
    secrets.extend(esp.secrets());
    let pw_file = esp.dir.join("fence-strip.secret");
    fs::write(&pw_file, format!("{}\n", esp.password)).expect("password file");
    let crm = adapted_example(esp.http_port, &pw_file)
        .replace("device=tasmota", "device=espurna")
        .replace(
            "pcmk_host_map=\"node-a:1,2;node-b:3\"",
            "pcmk_host_map=\"node-a:0,1;node-b:2\"",
        );
    assert!(
        crm.contains("device=espurna") && crm.contains("node-b:2\""),
        "example changed shape:\n{crm}"
    );
    let crm_file = esp.dir.join("fence_ipstrip.crm");
    fs::write(&crm_file, crm).expect("crm file");
    check(
        "crm",
        &["configure", "load", "update", crm_file.to_str().unwrap()],
    );
    let log = || fs::read_to_string(esp.dir.join("emulator.log")).unwrap_or_default();
    wait_for(
        &format!("{RSC} started on ESPurna {firmware}, its monitor at the strip"),
        Duration::from_secs(90),
        || {
            let o = run("crm_mon", &["-1", "--output-as=xml"]);
            log().contains("GET /api/relay") && started(&String::from_utf8_lossy(&o.stdout))
        },
    );

    esp.forget();
    let r = stonith_admin(&["--reboot", "node-b", "--timeout", "60"]);
    assert!(
        r.status.success(),
        "ESPurna {firmware}: {}",
        describe("stonith_admin", &["--reboot", "node-b"], &r)
    );
    assert_eq!(
        esp.history(),
        vec![(3, false), (3, true)],
        "ESPurna {firmware}"
    );

    esp.forget();
    let r = stonith_admin(&["--fence", "node-a", "--timeout", "60"]);
    assert!(
        r.status.success(),
        "ESPurna {firmware}: {}",
        describe("stonith_admin", &["--fence", "node-a"], &r)
    );
    assert!(
        !esp.is_on(1) && !esp.is_on(2) && esp.is_on(3),
        "ESPurna {firmware}: node-a's relays off, node-b's on"
    );

    esp.fault("stuck", 3);
    let r = stonith_admin(&["--fence", "node-b", "--timeout", "40"]);
    assert!(
        !r.status.success(),
        "ESPurna {firmware}: fencing reported success with relay 2 stuck ON:\n{}",
        describe("stonith_admin", &["--fence", "node-b"], &r)
    );
    assert!(esp.is_on(3), "ESPurna {firmware}");
    esp.clear();
    let hist = check("stonith_admin", &["--history", "node-a"]);
    assert!(
        hist.contains("off of node-a successful"),
        "ESPurna {firmware}: {hist}"
    );
}
