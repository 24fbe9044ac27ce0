// SPDX-License-Identifier: GPL-2.0-or-later
//! fence_ipstrip against the power strip emulator (tests/emulator/ipstrip_emulator.py), run
//! the way pacemaker-fenced runs it: through a symlink named fence_ipstrip, options on stdin.
//!
//! Every device family gets every action and its exit code; every fault the emulator can
//! inject must end in exit 1 with a message that says what went wrong, never in a success;
//! fence-agents' own fence_apc_snmp (an independent SNMP client built on net-snmp) must switch
//! the emulated APC and agree with fence_ipstrip on every outlet; secrets never show in `ps`,
//! in the agent's output or in the emulator's log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "emulator/harness.rs"]
mod harness;

use harness::*;
use std::time::{Duration, Instant};

/// ESPurna is run against each firmware generation on its own (ESPURNA_FIRMWARES).
const FAMILIES: &[&str] = &["tasmota", "shelly", "netio", "apc", "snmp"];

#[test]
fn every_action_of_every_family() {
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    for family in FAMILIES {
        every_action(&emu, family);
    }
    emu.assert_no_secret_in_log();
}

#[test]
fn espurna_every_action_on_both_firmware_generations() {
    for firmware in ESPURNA_FIRMWARES {
        let Some(emu) = Emulator::start(&EmuOpts {
            espurna_firmware: firmware,
            ..EmuOpts::default()
        }) else {
            return;
        };
        every_action(&emu, "espurna");
        // The list reads the relays' real states, relay 0 first.
        emu.set(2, false);
        let r = emu.agent("espurna", "list-status", "", "");
        let want: Vec<String> = (0..OUTLETS)
            .map(|i| format!("{i},relay{i},{}", if i == 1 { "OFF" } else { "ON" }))
            .collect();
        assert_eq!(r.stdout.lines().collect::<Vec<_>>(), want, "{firmware}");
        emu.set(2, true);
        // method=cycle is refused before anything is sent; names are refused with the reason.
        emu.forget();
        for action in ["reboot", "validate-all"] {
            let r = emu.agent("espurna", action, "0", "method=cycle\n");
            r.expect_fail_any(
                &["ESPurna's HTTP API has no power-cycle order"],
                &format!("{firmware} {action} method=cycle"),
            );
        }
        let r = emu.agent("espurna", "off", "node1", "");
        r.expect_fail_any(&["does not report relay names"], firmware);
        assert_eq!(orders(&emu), 0, "{firmware}: nothing was switched");
        assert!(emu.is_on(1), "{firmware}");
        // A relay the device does not have is an error, not a state.
        let r = emu.agent("espurna", "status", "6", "");
        r.expect_fail_any(&["HTTP 404", "HTTP 500"], &format!("{firmware} relay 6"));
        emu.assert_no_secret_in_log();
    }
}

/// ESPurna's API as each firmware generation's source answers it (1.14: api.ino, relay.ino;
/// 1.15: api.cpp, relay.cpp): what fence_ipstrip relies on, and what made the old requests fail.
#[test]
fn espurna_emulator_answers_as_each_firmware() {
    for firmware in ESPURNA_FIRMWARES {
        let Some(emu) = Emulator::start(&EmuOpts {
            espurna_firmware: firmware,
            ..EmuOpts::default()
        }) else {
            return;
        };
        emu.set(2, false);
        let key = emu.password.clone();
        let get = |path: &str, accept: Option<&str>| {
            let h: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
            emu.http("GET", &format!("{path}?apikey={key}"), &h, "")
        };
        let form = ("Content-Type", "application/x-www-form-urlencoded");
        // Text for a single relay works on both: the common ground.
        for accept in [Some("text/plain"), None, Some("*/*")] {
            let (c, t, b) = get("/api/relay/0", accept);
            assert_eq!(
                (c, t.as_str(), b.as_str()),
                (200, "text/plain", "1"),
                "{firmware} {accept:?}"
            );
            assert_eq!(get("/api/relay/1", accept).2, "0", "{firmware}");
        }
        let put = |value: &str, ctype: (&str, &str)| {
            emu.http(
                "PUT",
                "/api/relay/3",
                &[("Accept", "text/plain"), ctype],
                &format!("apikey={key}&value={value}"),
            )
        };
        assert_eq!(put("0", form).2, "0", "{firmware}");
        assert!(!emu.is_on(4), "{firmware}: PUT switched relay 3");
        assert_eq!(put("1", form).2, "1", "{firmware}");
        // POST switches nothing on either (404 on 1.15, a plain read on restful 1.14).
        let (c, _, _) = emu.http(
            "POST",
            &format!("/api/relay/3?apikey={key}&value=0"),
            &[form],
            &format!("apikey={key}&value=0"),
        );
        assert!(emu.is_on(4), "{firmware}: POST switched ({c})");
        // The key in the query of a PUT is not read.
        let (c, _, _) = emu.http(
            "PUT",
            &format!("/api/relay/3?apikey={key}"),
            &[form],
            "value=0",
        );
        assert_eq!(c, 403, "{firmware}");
        assert!(emu.is_on(4), "{firmware}");
        let (c, _, _) = get("/api/relay/0", None);
        assert_eq!(c, 200);
        let (c, _, _) = emu.http("GET", "/api/relay/0?apikey=wrong", &[], "");
        assert_eq!(c, 403, "{firmware}: wrong key");
        if *firmware == "1.14" {
            // JSON only for an Accept of exactly application/json; no all-relays endpoint.
            let (c, _, b) = get("/api/relay/0", Some("application/json"));
            assert_eq!((c, b.as_str()), (200, "{ \"relay/0\": 1 }"));
            assert_eq!(
                get("/api/relay/0", Some("application/json, text/plain")).2,
                "1"
            );
            assert_eq!(get("/api/relay", Some("application/json")).0, 404);
            assert_eq!(get("/api/relay/6", None).0, 404);
        } else {
            // Text only for a single relay: 406 to the Accept fence_ipstrip used to send.
            let (c, t, b) = get("/api/relay/0", Some("application/json"));
            assert_eq!(
                (c, t.as_str(), b.as_str()),
                (406, "text/plain", "text/plain")
            );
            // JSON only for all relays, as relayStatus.
            let (c, t, b) = get("/api/relay", Some("application/json"));
            assert_eq!((c, t.as_str()), (200, "application/json"));
            assert_eq!(b, "{\"relayStatus\":[1,0,1,1,1,1]}");
            let (c, _, b) = get("/api/relay", Some("text/plain"));
            assert_eq!((c, b.as_str()), (406, "application/json"));
            let (c, _, _) = emu.http("GET", "/api/relay?apikey=wrong", &[], "");
            assert_eq!(c, 404, "the JSON handler does not take a wrong key");
            assert_eq!(get("/api/relay/6", None).0, 500);
            // PUT only as a form; a payload that is not a relay state fails.
            assert_eq!(put("0", ("Content-Type", "application/json")).0, 404);
            assert_eq!(put("maybe", form).0, 500);
            assert!(emu.is_on(4));
        }
    }
}

fn every_action(emu: &Emulator, family: &str) {
    {
        let a = |action: &str, plug: &str| emu.agent(family, action, plug, "");
        // Outlets start ON; numbers are the emulator's outlet numbers (1-based) as the
        // family spells them.
        let p1 = emu.plug(family, 1);
        let p2 = emu.plug(family, 2);
        let r = a("status", &p1);
        r.expect(0, "Status: ON");
        let r = a("off", &p1);
        r.expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(1), "{family}: outlet 1 still on after off");
        a("status", &p1).expect(2, "Status: OFF");
        a("off", &p1).expect(0, "Success: Already OFF");
        a("on", &p1).expect(0, "Success: Powered ON");
        assert!(emu.is_on(1), "{family}: outlet 1 not on after on");
        a("on", &p1).expect(0, "Success: Already ON");

        emu.forget();
        a("reboot", &p1).expect(0, "Success: Rebooted");
        assert_eq!(
            emu.history(),
            vec![(1, false), (1, true)],
            "{family}: reboot is off then on"
        );

        // Dual power supplies: both must go off.
        let both = format!("{p1},{p2}");
        a("off", &both).expect(0, "Success: Powered OFF");
        assert!(
            !emu.is_on(1) && !emu.is_on(2),
            "{family}: both supplies off"
        );
        a("status", &both).expect(2, "Status: OFF");
        emu.set(2, true);
        a("status", &both).expect(0, "Status: ON");
        a("on", &both).expect(0, "Success: Powered ON");

        let r = a("list", "");
        r.expect(0, "");
        assert_eq!(
            r.stdout.lines().count(),
            OUTLETS as usize,
            "{family} list:\n{}",
            r.stdout
        );
        assert!(
            r.stdout.lines().all(|l| l.contains(',')),
            "{family}: {}",
            r.stdout
        );
        emu.set(3, false);
        let r = a("list-status", "");
        r.expect(0, "");
        let line3 = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("{},", emu.plug(family, 3))))
            .unwrap_or_else(|| panic!("{family}: outlet 3 missing:\n{}", r.stdout));
        assert!(line3.ends_with(",OFF"), "{family}: {line3}");
        emu.set(3, true);
        a("monitor", "").expect(0, "");
        a("validate-all", "").expect(0, "");
    }
}

#[test]
fn power_wait_and_slow_outlets_are_waited_for() {
    let Some(emu) = Emulator::start(&EmuOpts {
        switch_delay: 1.5,
        ..EmuOpts::default()
    }) else {
        return;
    };
    for family in ["tasmota", "apc"] {
        let p = emu.plug(family, 4);
        let t = Instant::now();
        emu.agent(
            family,
            "off",
            &p,
            "power_wait=0.5\nstonith_status_sleep=0.2\n",
        )
        .expect(0, "Success: Powered OFF");
        let took = t.elapsed();
        assert!(!emu.is_on(4));
        assert!(took >= Duration::from_millis(1500), "{family}: {took:?}");
        // A power_timeout shorter than the outlet needs is a failure, not a success, and the
        // outlet then does switch: the agent reported honestly that it had not seen it yet.
        let r = emu.agent(
            family,
            "on",
            &p,
            "power_timeout=0.5\nstonith_status_sleep=0.2\nretry_on=0\n",
        );
        r.expect_fail("timed out");
        assert!(r.stderr.contains("power ON"), "{}", r.stderr);
        std::thread::sleep(Duration::from_millis(1600));
        assert!(emu.is_on(4));
    }
}

#[test]
fn delay_applies_to_off_and_reboot_only() {
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    let t = Instant::now();
    emu.agent("tasmota", "status", "1", "delay=2\n")
        .expect(0, "Status: ON");
    assert!(t.elapsed() < Duration::from_millis(1500));
    let t = Instant::now();
    emu.agent("tasmota", "off", "1", "delay=2\n")
        .expect(0, "Success: Powered OFF");
    assert!(t.elapsed() >= Duration::from_secs(2));
}

/// Every fault, every family, the actions that must never succeed through it.
fn fault_matrix(families: &[&str], opts: &EmuOpts) {
    let Some(emu) = Emulator::start(opts) else {
        return;
    };
    let quick = "shell_timeout=1\nlogin_timeout=1\npower_timeout=2\nstonith_status_sleep=0.2\n";
    let faults: &[(&str, &[&str])] = &[
        ("timeout", &["no reply from", "no SNMP reply"]),
        ("refuse", &["Connection refused", "refused SNMP"]),
        ("http500", &["HTTP 500", "genErr"]),
        ("malformed", &["malformed"]),
        ("auth", &["refused the credentials", "no SNMP reply"]),
        ("stuck", &["timed out after"]),
    ];
    for family in families {
        let p = emu.plug(family, 5);
        for (fault, words) in faults {
            emu.fault(fault, 5);
            let actions: &[&str] = if *fault == "stuck" {
                &["off", "reboot"]
            } else {
                &["status", "off", "on", "reboot", "list", "monitor"]
            };
            for action in actions {
                if *action == "on" {
                    // Make "on" have something to do.
                    emu.set(5, false);
                }
                let r = emu.agent(family, action, &p, quick);
                let msg = format!("{family} {action} with fault {fault}");
                r.expect_fail_any(words, &msg);
                if *fault == "stuck" {
                    assert!(emu.is_on(5), "{msg}: outlet must still be on");
                }
            }
            emu.clear();
            emu.set(5, true);
        }
        // Wrong credentials from our side, without any fault.
        if *family != "apc" && *family != "snmp" {
            let r = emu.agent_with_password(family, "status", &p, quick, "wrong-password-42");
            r.expect_fail_any(
                &["refused the credentials"],
                &format!("{family} wrong password"),
            );
            assert!(!r.all_output().contains("wrong-password-42"));
        } else {
            let r = emu.agent(family, "status", &p, &format!("{quick}community=notthis\n"));
            r.expect_fail_any(&["no SNMP reply"], &format!("{family} wrong community"));
            assert!(!r.all_output().contains("notthis"), "{}", r.all_output());
        }
    }
    emu.assert_no_secret_in_log();
}

#[test]
fn faults_http_espurna_firmware_1_14_and_tasmota() {
    fault_matrix(
        &["espurna", "tasmota"],
        &EmuOpts {
            espurna_firmware: "1.14",
            ..EmuOpts::default()
        },
    );
}

#[test]
fn faults_http_espurna_firmware_1_15() {
    fault_matrix(
        &["espurna"],
        &EmuOpts {
            espurna_firmware: "1.15",
            ..EmuOpts::default()
        },
    );
}

#[test]
fn faults_http_shelly_netio() {
    fault_matrix(&["shelly", "netio"], &EmuOpts::default());
}

#[test]
fn faults_snmp() {
    fault_matrix(&["apc", "snmp"], &EmuOpts::default());
}

#[test]
fn fence_apc_snmp_and_fence_ipstrip_agree() {
    if !have("/usr/sbin/fence_apc_snmp", "fence-agents") || !have("/usr/bin/snmpget", "snmp") {
        return;
    }
    for model in ["rpdu", "ms"] {
        let Some(emu) = Emulator::start(&EmuOpts {
            apc_model: model,
            ..EmuOpts::default()
        }) else {
            return;
        };
        for (i, on) in [(1, false), (2, true), (3, false), (4, true)] {
            emu.set(i, on);
        }
        for v in ["1", "2c"] {
            for i in 1..=4u32 {
                let ours = emu.agent(
                    "apc",
                    "status",
                    &i.to_string(),
                    &format!("snmp_version={v}\n"),
                );
                let theirs = emu.reference(&["-o", "status", "-n", &i.to_string(), "-d", v]);
                assert_eq!(
                    (ours.code, ours.stdout.trim()),
                    (theirs.code, theirs.stdout.trim()),
                    "{model} v{v} outlet {i}: ours {ours:?} theirs {theirs:?}"
                );
            }
        }
        // The reference switches, we read; we switch, the reference reads.
        emu.reference(&["-o", "off", "-n", "2"])
            .expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(2));
        emu.agent("apc", "status", "2", "").expect(2, "Status: OFF");
        emu.agent("apc", "on", "2", "")
            .expect(0, "Success: Powered ON");
        emu.reference(&["-o", "status", "-n", "2"])
            .expect(0, "Status: ON");
        emu.reference(&["-o", "reboot", "-n", "3"])
            .expect(0, "Success: Rebooted");
        emu.agent("apc", "status", "3", "").expect(0, "Status: ON");
        // Outlet names: the same plug by name for both.
        emu.agent("apc", "off", "node4", "")
            .expect(0, "Success: Powered OFF");
        emu.reference(&["-o", "status", "-n", "node4"])
            .expect(2, "Status: OFF");
        // Same outlet list (plug and name).
        let ours = emu.agent("apc", "list", "", "");
        let theirs = emu.reference(&["-o", "list"]);
        assert_eq!(ours.stdout, theirs.stdout, "{model}: list differs");
    }
}

#[test]
fn https_verifies_certificates_unless_told_not_to() {
    let Some(emu) = Emulator::start(&EmuOpts {
        https: true,
        ..EmuOpts::default()
    }) else {
        return;
    };
    let Some(port) = emu.https_port else { return };
    for family in ["shelly", "netio"] {
        let p = emu.plug(family, 1);
        let extra = format!("ssl=1\nipport={port}\nshell_timeout=2\n");
        let r = emu.agent(family, "status", &p, &extra);
        r.expect_fail_any(
            &["certificate", "UnknownIssuer"],
            &format!("{family} self-signed"),
        );
        let extra = format!("ssl_insecure=1\nipport={port}\n");
        emu.agent(family, "status", &p, &extra)
            .expect(0, "Status: ON");
        emu.agent(family, "off", &p, &extra)
            .expect(0, "Success: Powered OFF");
        emu.set(1, true);
    }
}

#[test]
fn command_line_alias_and_password_script() {
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    // By hand: getopt options; the password from a script, so not in argv.
    let script = emu.dir.join("pw.sh");
    std::fs::write(&script, format!("#!/bin/sh\necho '{}'\n", emu.password)).unwrap();
    let port = emu.http_port.to_string();
    let r = emu.cli(
        "fence_ipstrip",
        &[
            "-o",
            "status",
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "--device=shelly",
            "-n",
            "0",
            "-S",
            &format!("sh {}", script.display()),
        ],
    );
    r.expect(0, "Status: ON");
    // The other name answers the same.
    let r = emu.cli(
        "ipstrip-stonith",
        &[
            "--action=off",
            "--ip=127.0.0.1",
            "--ipport",
            &port,
            "--device",
            "tasmota",
            "--plug=1",
            "-S",
            &format!("sh {}", script.display()),
        ],
    );
    r.expect(0, "Success: Powered OFF");
    let r = emu.cli("fence_ipstrip", &["-o", "metadata"]);
    r.expect(0, "<resource-agent name=\"fence_ipstrip\"");
    let r = emu.cli("fence_ipstrip", &["--frobnicate"]);
    r.expect_fail("--frobnicate");
    // Old option names, comments and quotes on stdin.
    let text = format!(
        "# fencing request\noption=status\nipaddr=127.0.0.1\nipport={port}\ndevice=\"tasmota\"\n\
         login=admin\npasswd={}\nport=1\nnodename=node1\n",
        emu.password
    );
    let r = emu.stdin("fence_ipstrip", &text);
    r.expect(2, "Status: OFF");
}

#[test]
fn secrets_never_show_in_ps() {
    let Some(emu) = Emulator::start(&EmuOpts {
        switch_delay: 3.0,
        ..EmuOpts::default()
    }) else {
        return;
    };
    // While an agent waits for a slow outlet, look at every process's command line.
    let mut seen = Vec::new();
    std::thread::scope(|s| {
        let h = s.spawn(|| emu.agent("tasmota", "off", "6", "stonith_status_sleep=0.2\n"));
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(2) {
            let out = std::process::Command::new("ps")
                .args(["-eo", "pid,args"])
                .output()
                .expect("ps");
            seen.push(String::from_utf8_lossy(&out.stdout).into_owned());
            std::thread::sleep(Duration::from_millis(200));
        }
        h.join()
            .expect("agent thread")
            .expect(0, "Success: Powered OFF");
    });
    assert!(
        seen.iter().any(|p| p.contains("ipstrip_emulator")),
        "ps saw the emulator"
    );
    for p in &seen {
        for s in emu.secrets() {
            assert!(!p.contains(&s), "a secret is visible in ps");
        }
    }
    emu.assert_no_secret_in_log();
}

const V3_USERS: &[&str] = &[
    "u-noauth",
    "u-md5",
    "u-sha",
    "u-md5-des",
    "u-md5-aes",
    "u-sha-des",
    "u-sha-aes",
];

#[test]
fn snmp_v3_every_security_level_and_protocol() {
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    let crypto = have_python_crypto();
    for user in V3_USERS
        .iter()
        .filter(|u| crypto || u.matches('-').count() < 2)
    {
        let o = emu.v3_options(user);
        emu.agent("apc", "status", "1", &o).expect(0, "Status: ON");
        emu.agent("apc", "off", "1", &o)
            .expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(1), "{user}: outlet 1 still on");
        emu.agent("apc", "status", "1", &o).expect(2, "Status: OFF");
        emu.agent("apc", "on", "1", &o)
            .expect(0, "Success: Powered ON");
        emu.agent("apc", "list-status", "", &o)
            .expect(0, "1,node1,ON");
    }
    let quick = "shell_timeout=1\n";
    let strong = emu.v3_options(if crypto { "u-sha-aes" } else { "u-sha" });
    let cases = [
        (
            format!("{strong}password=Wrong-password-1\n"),
            "wrong authentication password",
        ),
        (
            format!("{strong}snmp_priv_passwd=Wrong-privacy-1\n"),
            "wrong privacy password",
        ),
        (
            format!("{strong}username=u-nobody\n"),
            "unknown SNMPv3 user",
        ),
        (
            format!("{strong}snmp_sec_level=authNoPriv\n"),
            "security level is not allowed",
        ),
    ];
    for (opts, word) in &cases {
        for action in ["status", "off"] {
            let r = emu.agent("apc", action, "1", &format!("{quick}{opts}"));
            r.expect_fail_any(&[word], &format!("v3 {action}: {word}"));
            assert!(!r.all_output().contains("Wrong-p"), "{}", r.all_output());
        }
    }
    assert!(emu.is_on(1));
    emu.fault("auth", 0);
    emu.agent("apc", "off", "1", &format!("{quick}{strong}"))
        .expect_fail_any(&["wrong authentication password"], "v3 auth fault");
    emu.fault("timeout", 0);
    emu.agent("apc", "off", "1", &format!("{quick}{strong}"))
        .expect_fail_any(&["no SNMP reply"], "v3 timeout fault");
    emu.clear();
    assert!(emu.is_on(1));
    emu.assert_no_secret_in_log();
}

#[test]
fn fence_apc_snmp_v3_agrees() {
    if !have("/usr/sbin/fence_apc_snmp", "fence-agents") || !have("/usr/bin/snmpget", "snmp") {
        return;
    }
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    let crypto = have_python_crypto();
    let users: &[&str] = if crypto {
        &["u-md5-des", "u-sha-aes", "u-sha", "u-noauth"]
    } else {
        &["u-sha", "u-md5", "u-noauth"]
    };
    for user in users {
        let o = emu.v3_options(user);
        let kv: Vec<&str> = o.lines().collect();
        let reference = |extra: &[&str]| {
            let mut args = kv.clone();
            args.extend_from_slice(extra);
            emu.reference(&args)
        };
        emu.set(1, false);
        emu.set(2, true);
        for i in ["1", "2"] {
            let ours = emu.agent("apc", "status", i, &o);
            let theirs = reference(&["-o", "status", "-n", i]);
            assert_eq!(
                (ours.code, ours.stdout.trim()),
                (theirs.code, theirs.stdout.trim()),
                "{user} outlet {i}: ours {ours:?} theirs {theirs:?}"
            );
        }
        reference(&["-o", "off", "-n", "2"]).expect(0, "Success: Powered OFF");
        emu.agent("apc", "status", "2", &o).expect(2, "Status: OFF");
        emu.agent("apc", "on", "2", &o)
            .expect(0, "Success: Powered ON");
        reference(&["-o", "status", "-n", "2"]).expect(0, "Status: ON");
    }
}

#[test]
fn outlets_drive_a_hook_like_lab_power() {
    let record = std::env::temp_dir().join(format!("ipstrip-hook-{}", std::process::id()));
    let _ = std::fs::remove_file(&record);
    let Some(emu) = Emulator::start(&EmuOpts {
        hook: Some(format!(
            "sh -c 'echo {{outlet}} {{name}} {{state}} >> {}'",
            record.display()
        )),
        ..EmuOpts::default()
    }) else {
        return;
    };
    emu.agent("apc", "reboot", "2", "")
        .expect(0, "Success: Rebooted");
    emu.agent("shelly", "off", "2", "")
        .expect(0, "Success: Powered OFF");
    let text = std::fs::read_to_string(&record).unwrap_or_default();
    let _ = std::fs::remove_file(&record);
    assert_eq!(text, "2 node2 off\n2 node2 on\n3 node3 off\n");
}

/// What a family's power-cycle order is called in the emulator's /state "cycles".
fn cycle_order(family: &str, model: &str) -> String {
    match family {
        "tasmota" => "tasmota Backlog".into(),
        "shelly" => "shelly Switch.Set on=false toggle_after=".into(),
        "netio" => "netio Action 2 (short off)".into(),
        _ => format!("apc {model} reboot (3)"),
    }
}

fn orders(emu: &Emulator) -> u64 {
    emu.state()["orders"].as_u64().expect("orders")
}

#[test]
fn reboot_method_cycle_is_one_order_the_strip_carries_out() {
    for model in ["rpdu", "ms"] {
        let Some(emu) = Emulator::start(&EmuOpts {
            apc_model: model,
            cycle_time: Some(1.0),
            ..EmuOpts::default()
        }) else {
            return;
        };
        let families: &[&str] = if model == "rpdu" {
            &["tasmota", "shelly", "netio", "apc", "snmp"]
        } else {
            &["apc"]
        };
        for family in families {
            // Tasmota and Shelly carry cycle_time=1 in the order, and the agent polls at a
            // third of it; APC and NETIO keep the emulator's own 1 s, unknown to the agent,
            // so stonith_status_sleep is set shorter than it.
            let cycle = "method=cycle\ncycle_time=1\ncontrol_cycle=3\nstonith_status_sleep=0.2\n";
            let p = emu.plug(family, 1);
            emu.forget();
            let t = Instant::now();
            emu.agent(family, "reboot", &p, cycle)
                .expect(0, "Success: Rebooted");
            // One order, seen OFF: the agent does not wait for the outlet to come back.
            assert!(
                t.elapsed() < Duration::from_millis(2500),
                "{family}: {:?}",
                t.elapsed()
            );
            let c = emu.cycles();
            assert_eq!(c.len(), 1, "{family}: one cycle order: {c:?}");
            assert_eq!(c[0].0, 1, "{family}: {c:?}");
            assert!(
                c[0].1.starts_with(&cycle_order(family, model)),
                "{family}: {c:?}"
            );
            if *family == "tasmota" {
                assert_eq!(c[0].1, "tasmota Backlog Power1 Off; Delay 10; Power1 On");
            }
            if *family == "shelly" {
                assert!(c[0].1.ends_with("toggle_after=1.0"), "{c:?}");
            }
            // The strip really turned the outlet off, then on again by itself.
            assert_eq!(
                emu.wait_history(2, 8.0),
                vec![(1, false), (1, true)],
                "{family}: a cycle is off then on"
            );
            assert!(emu.is_on(1), "{family}");
            assert_eq!(
                orders(&emu),
                2,
                "{family}: the strip's off and on, nothing else"
            );

            // By name, on a plug already off: nothing to cycle, it is only switched on.
            if *family != "snmp" {
                emu.set(3, false);
                emu.forget();
                emu.agent(family, "reboot", "node3", cycle)
                    .expect(0, "Success: Rebooted");
                assert!(emu.cycles().is_empty(), "{family}: {:?}", emu.cycles());
                assert_eq!(emu.wait_history(1, 3.0), vec![(3, true)], "{family}");
            }

            // The default stays a confirmed off, then on, with no cycle order.
            emu.forget();
            emu.agent(family, "reboot", &p, "control_cycle=3\n")
                .expect(0, "Success: Rebooted");
            assert!(
                emu.cycles().is_empty(),
                "{family}: onoff sent a cycle order"
            );
            assert_eq!(emu.history(), vec![(1, false), (1, true)], "{family}");
        }
        if model == "ms" {
            continue;
        }

        // Dual supplies are not cycled (the off windows of two orders need not overlap):
        // both outlets off and confirmed OFF together, then on, as with method=onoff.
        for (family, plugs) in [
            ("shelly", "node4,node5"),
            ("tasmota", "4,5"),
            ("apc", "4,5"),
        ] {
            dual_supplies_cycle_is_a_verified_onoff(&emu, family, plugs);
        }

        // A refused order is a failure, retried retry_on times, never a success.
        let quick = "shell_timeout=1\nlogin_timeout=1\nretry_on=1\n";
        for family in ["tasmota", "shelly", "netio", "apc"] {
            let p = emu.plug(family, 2);
            emu.forget();
            emu.fault("http500", 0);
            let r = emu.agent(family, "reboot", &p, &format!("method=cycle\n{quick}"));
            emu.clear();
            r.expect_fail_any(&["HTTP 500", "genErr"], &format!("{family} cycle, http500"));
            assert!(emu.history().is_empty() && emu.cycles().is_empty());
        }
        emu.forget();
        emu.fault("timeout", 0);
        let r = emu.agent("tasmota", "reboot", "2", &format!("method=cycle\n{quick}"));
        emu.clear();
        r.expect_fail_any(&["no reply from"], "tasmota cycle, timeout");
        assert!(emu.history().is_empty() && emu.cycles().is_empty());

        // A strip that takes the order and leaves the outlet on: method=cycle watches the
        // outlet, never sees it OFF, and fails; no fault may end in a success.
        emu.fault("stuck", 6);
        emu.forget();
        let r = emu.agent(
            "apc",
            "reboot",
            "6",
            &format!("method=cycle\n{}", quick_stuck()),
        );
        r.expect_fail(
            "outlet 6 was never seen OFF after the power-cycle order; the strip may not have \
             cut the power",
        );
        assert!(!r.all_output().contains("Success"), "{}", r.all_output());
        assert_eq!(emu.cycles().len(), 1);
        emu.agent("apc", "reboot", "6", quick_stuck())
            .expect_fail("timed out after");
        emu.clear();
        assert!(emu.is_on(6));
        // The strip's own timer of that cycle (an on, for an outlet that stayed on) has
        // fired before the order count is reset: the ignored off, the timer's on, the
        // ignored off of onoff.
        let t = Instant::now();
        while orders(&emu) < 3 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(orders(&emu), 3);

        // Families and options that cannot cycle are refused before anything is sent.
        emu.forget();
        for (family, extra, word) in [
            (
                "espurna",
                "method=cycle\n",
                "ESPurna's HTTP API has no power-cycle order",
            ),
            ("snmp", "method=cycle\n", "needs control_cycle"),
            (
                "tasmota",
                "method=cycle\ncycle_time=0.1\n",
                "cycle_time=0.1",
            ),
            (
                "tasmota",
                "method=cycle\ncycle_time=400\n",
                "cycle_time=400",
            ),
            ("tasmota", "method=restart\n", "one of onoff, cycle"),
        ] {
            let p = emu.plug(family, 1);
            for action in ["reboot", "validate-all"] {
                let r = emu.agent(family, action, &p, extra);
                r.expect_fail_any(&[word], &format!("{family} {action} {extra:?}"));
            }
        }
        assert_eq!(orders(&emu), 0, "nothing was switched");
        assert!(emu.is_on(1));
        emu.assert_no_secret_in_log();
    }
}

/// method=cycle on a host with two plugs (outlets 4 and 5): no cycle order is sent; the
/// history shows both outlets OFF before either comes back ON, and the reboot succeeds.
fn dual_supplies_cycle_is_a_verified_onoff(emu: &Emulator, family: &str, plugs: &str) {
    emu.forget();
    let r = emu.agent(
        family,
        "reboot",
        plugs,
        "method=cycle\ncycle_time=1\ncontrol_cycle=3\nstonith_status_sleep=0.2\n",
    );
    r.expect(0, "Success: Rebooted");
    assert!(
        r.stderr.contains(
            "method=cycle with 2 plugs: power-cycle windows cannot be made to overlap; \
             rebooting with a verified off then on"
        ),
        "{family}: {r:#?}"
    );
    assert!(emu.cycles().is_empty(), "{family}: {:?}", emu.cycles());
    let h = emu.history();
    assert_eq!(h.len(), 4, "{family}: {h:?}");
    let first_on = h.iter().position(|e| e.1).expect("on");
    for o in [4, 5] {
        let mine: Vec<bool> = h.iter().filter(|e| e.0 == o).map(|e| e.1).collect();
        assert_eq!(mine, vec![false, true], "{family} outlet {o}: {h:?}");
        let off = h.iter().position(|e| *e == (o, false)).expect("off");
        assert!(off < first_on, "{family}: both OFF before either ON: {h:?}");
    }
    assert!(emu.is_on(4) && emu.is_on(5), "{family}");
}

fn quick_stuck() -> &'static str {
    "power_timeout=1\nstonith_status_sleep=0.2\n"
}

#[test]
fn named_outlets_every_family_that_reports_names() {
    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    for family in ["tasmota", "shelly", "netio", "apc"] {
        let a = |action: &str, plug: &str| emu.agent(family, action, plug, "");
        let n2 = emu.plug(family, 2);
        a("status", "node2").expect(0, "Status: ON");
        a("off", "node2").expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(2), "{family}: node2 still on");
        assert!(emu.is_on(1) && emu.is_on(3), "{family}: only node2");
        a("status", "node2").expect(2, "Status: OFF");
        a("on", "node2").expect(0, "Success: Powered ON");
        assert!(emu.is_on(2));
        // Numbers keep working, and mix with names.
        a("status", &n2).expect(0, "Status: ON");
        a("off", &format!("node1,{n2}")).expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(1) && !emu.is_on(2), "{family}");
        a("on", &format!("{},node2", emu.plug(family, 1))).expect(0, "Success: Powered ON");
        emu.forget();
        a("reboot", "node3").expect(0, "Success: Rebooted");
        assert_eq!(emu.history(), vec![(3, false), (3, true)], "{family}");

        // list and list-status: number,name as the strip reports it.
        let r = a("list", "");
        r.expect(0, "");
        let want: Vec<String> = (1..=OUTLETS)
            .map(|i| format!("{},node{i}", emu.plug(family, i)))
            .collect();
        assert_eq!(r.stdout.lines().collect::<Vec<_>>(), want, "{family}");
        emu.set(4, false);
        let r = a("list-status", "");
        assert!(
            r.stdout
                .lines()
                .any(|l| l == format!("{},node4,OFF", emu.plug(family, 4))),
            "{family}: {}",
            r.stdout
        );
        emu.set(4, true);

        // An unknown name: exit 1, a message naming what there is, nothing switched.
        emu.forget();
        let before = orders(&emu);
        for action in ["off", "reboot", "on", "status"] {
            let r = a(action, "node9");
            r.expect_fail_any(&["no outlet named 'node9'"], &format!("{family} {action}"));
            // Both supplies by name, one of them unknown: the known one is not touched.
            let r = a(action, "node1,node9");
            r.expect_fail_any(
                &["no outlet named 'node9'"],
                &format!("{family} {action} pair"),
            );
        }
        let r = emu.agent(family, "reboot", "node9", "method=cycle\n");
        r.expect_fail_any(&["no outlet named 'node9'"], &format!("{family} cycle"));
        assert_eq!(orders(&emu), before, "{family}: nothing switched");
        assert!(
            emu.history().is_empty() && emu.cycles().is_empty(),
            "{family}"
        );
        if family != "apc" {
            let r = a("off", "node9");
            assert!(
                r.stderr.contains("node1"),
                "{family}: lists names: {}",
                r.stderr
            );
        }
    }
    // ESPurna's API has no names: numbers only, and a name is refused with the reason.
    let r = emu.agent("espurna", "off", "node1", "");
    r.expect_fail_any(&["does not report relay names"], "espurna by name");
    assert!(emu.is_on(1));
    let r = emu.agent("espurna", "list", "", "");
    r.expect(0, "0,relay0\n");
    emu.assert_no_secret_in_log();
}

#[test]
fn ambiguous_outlet_names_switch_nothing() {
    let names: Vec<String> = ["web", "db", "web", "spare", "db-b", "spare"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let Some(emu) = Emulator::start(&EmuOpts {
        names: Some(names),
        ..EmuOpts::default()
    }) else {
        return;
    };
    for family in ["tasmota", "shelly", "netio", "apc"] {
        emu.forget();
        let both = format!("{}, {}", emu.plug(family, 1), emu.plug(family, 3));
        for action in ["off", "reboot", "status", "on"] {
            for extra in ["", "method=cycle\n"] {
                let r = emu.agent(family, action, "web", extra);
                let msg = format!("{family} {action} {extra:?}");
                r.expect_fail_any(&["outlet name 'web' is ambiguous"], &msg);
                assert!(r.stderr.contains(&both), "{msg}: {}", r.stderr);
                assert!(r.stderr.contains("use the number"), "{msg}: {}", r.stderr);
            }
        }
        assert_eq!(orders(&emu), 0, "{family}: nothing switched");
        assert!(emu.history().is_empty() && emu.cycles().is_empty());
        // A unique name next to them, and a prefix of another name, are fine.
        emu.agent(family, "off", "db", "")
            .expect(0, "Success: Powered OFF");
        assert!(!emu.is_on(2) && emu.is_on(5), "{family}: only db, not db-b");
        emu.set(2, true);
    }
}

/// Tasmota and NETIO as their firmware answers (support_command.ino and xdrv_01_9_webserver.ino
/// of arendst/Tasmota; NETIO's JSON API status codes): a wrong password answered with HTTP 200
/// by older Tasmota, an index the device does not have, Backlog queued unchecked, a NETIO user
/// who may only read.
#[test]
fn tasmota_and_netio_answers_as_their_firmware_gives_them() {
    for code in [401u16, 200] {
        let Some(emu) = Emulator::start(&EmuOpts {
            tasmota_auth_reply: code,
            ..EmuOpts::default()
        }) else {
            return;
        };
        for (action, extra) in [
            ("status", ""),
            ("off", ""),
            ("list", ""),
            ("monitor", ""),
            ("reboot", "method=cycle\n"),
        ] {
            let r = emu.agent_with_password("tasmota", action, "1", extra, "wrong-password-42");
            r.expect_fail_any(
                &["refused the credentials"],
                &format!("HTTP {code} {action} {extra:?}"),
            );
            assert!(!r.all_output().contains("wrong-password-42"));
        }
        assert_eq!(orders(&emu), 0, "HTTP {code}: nothing was switched");
        assert!(emu.cycles().is_empty(), "HTTP {code}");
    }

    let Some(emu) = Emulator::start(&EmuOpts::default()) else {
        return;
    };
    let cm = |cmnd: &str| {
        let (c, _, b) = emu.http(
            "GET",
            &format!(
                "/cm?user=admin&password={}&cmnd={}",
                emu.password,
                cmnd.replace(' ', "%20").replace(';', "%3B")
            ),
            &[],
            "",
        );
        assert_eq!(c, 200, "{cmnd}: {b}");
        serde_json::from_str::<serde_json::Value>(&b).unwrap_or_else(|_| panic!("{cmnd}: {b}"))
    };
    // An index above the relay count: CmndPower leaves the reply at {"Command":"Error"}.
    assert_eq!(cm("Power9"), serde_json::json!({"Command": "Error"}));
    let r = emu.agent("tasmota", "status", "9", "");
    r.expect_fail_any(&["refused Power9"], "tasmota Power9");
    // An argument that is no state shows the state.
    assert_eq!(cm("Power2 maybe"), serde_json::json!({"POWER2": "ON"}));
    // Backlog is queued unchecked and answered {}; a Delay out of range sets no delay, and an
    // order for a relay the device does not have does nothing.
    emu.forget();
    assert_eq!(
        cm("Backlog Power2 Off; Delay 0; Power9 On; Power2 On"),
        serde_json::json!({})
    );
    assert_eq!(emu.wait_history(2, 5.0), vec![(2, false), (2, true)]);
    assert_eq!(cm("Backlog"), serde_json::json!({"Backlog": "Empty"}));

    // NETIO: a user with read access only reads, and is refused a switch with the reason.
    emu.forget();
    let reader = format!("username=reader\npassword={}\n", emu.ro_password);
    emu.agent("netio", "status", "1", &reader)
        .expect(0, "Status: ON");
    emu.agent("netio", "list", "", &reader).expect(0, "1,node1");
    for action in ["off", "reboot"] {
        let r = emu.agent("netio", action, "1", &reader);
        r.expect_fail_any(
            &["the JSON API user may only read; give a user with write access"],
            &format!("netio read-only {action}"),
        );
    }
    let r = emu.agent("netio", "reboot", "1", &format!("{reader}method=cycle\n"));
    r.expect_fail_any(&["may only read"], "netio read-only cycle");
    assert!(emu.is_on(1));
    assert_eq!(orders(&emu), 0, "the reader switched nothing");
    emu.assert_no_secret_in_log();
}
