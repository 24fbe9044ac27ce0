// SPDX-License-Identifier: GPL-2.0-or-later
//! Test side of the power strip emulator: start it on loopback with fresh random secrets,
//! drive its control API, run fence_ipstrip (through a symlink, options on stdin) and
//! fence-agents' fence_apc_snmp against it, and stop it on drop.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const OUTLETS: u32 = 6;

/// The generic SNMP family is tested with the APC rack PDU's OIDs given as options.
const GENERIC: &str = "status_oid=.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4\n\
                       control_oid=.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4\n\
                       names_oid=.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2\n";

/// A loud skip line; under CI (`CI` set), where nothing may pass by skipping, a failure.
fn loud(msg: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{msg}: CI is set, refusing to skip"
    );
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Whether a tool the test needs is installed; says so loudly when it is not.
pub fn have(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    loud(&format!(
        "SKIPPED: {path} missing (install the Debian package {package})"
    ));
    false
}

/// Whether the emulator can do SNMPv3 privacy (Debian python3-pycryptodome).
pub fn have_python_crypto() -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import Cryptodome.Cipher.AES"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        loud("SKIPPED: SNMPv3 privacy users (install the Debian package python3-pycryptodome)");
    }
    ok
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .expect("urandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[derive(Clone)]
pub struct EmuOpts {
    pub switch_delay: f64,
    pub apc_model: &'static str,
    pub https: bool,
    /// Command run by the emulator on each state change (its --hook).
    pub hook: Option<String>,
    /// Outlet names (its --names); node1..node6 when not given.
    pub names: Option<Vec<String>>,
    /// Seconds an APC reboot or a NETIO short off keeps the outlet off (its --cycle-time).
    pub cycle_time: Option<f64>,
    /// ESPurna API generation (its --espurna-firmware): "1.14" (1.13 and 1.14) or "1.15".
    pub espurna_firmware: &'static str,
    /// HTTP status of Tasmota's "Need user" reply (its --tasmota-auth-reply): 401, or 200 as
    /// older firmware answered.
    pub tasmota_auth_reply: u16,
}

/// The ESPurna API generations the emulator speaks, oldest first.
pub const ESPURNA_FIRMWARES: &[&str] = &["1.14", "1.15"];

impl Default for EmuOpts {
    fn default() -> Self {
        EmuOpts {
            switch_delay: 0.0,
            apc_model: "rpdu",
            https: false,
            hook: None,
            names: None,
            cycle_time: None,
            espurna_firmware: "1.15",
            tasmota_auth_reply: 401,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn expect(&self, code: i32, stdout_has: &str) {
        assert!(
            self.code == code && self.stdout.contains(stdout_has),
            "expected exit {code} and '{stdout_has}', got {self:#?}"
        );
    }

    #[track_caller]
    pub fn expect_fail(&self, word: &str) {
        self.expect_fail_any(&[word], "");
    }

    /// Exit 1, no success or status line, and a message with one of `words`.
    #[track_caller]
    pub fn expect_fail_any(&self, words: &[&str], what: &str) {
        assert_eq!(self.code, 1, "{what}: must fail with exit 1: {self:#?}");
        assert!(
            !self.stdout.contains("Success") && !self.stdout.contains("Status:"),
            "{what}: no success output on failure: {self:#?}"
        );
        assert!(
            words.iter().any(|w| self.stderr.contains(w)),
            "{what}: message should say one of {words:?}: {self:#?}"
        );
    }
}

pub struct Emulator {
    child: Child,
    pub dir: PathBuf,
    pub http_port: u16,
    pub https_port: Option<u16>,
    pub snmp_port: u16,
    control_port: u16,
    pub password: String,
    pub community: String,
    pub priv_password: String,
    /// The password of the NETIO user `reader`, who may only read.
    pub ro_password: String,
    outputs: Mutex<Vec<String>>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Emulator {
    /// Starts an emulator with outlets 1..=6 named node1..node6, all ON.
    pub fn start(opts: &EmuOpts) -> Option<Emulator> {
        let python = if Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let dir = std::env::temp_dir().join(format!(
            "ipstrip-test-{}-{}",
            std::process::id(),
            random_hex(4)
        ));
        std::fs::create_dir_all(dir.join("bin")).expect("temp dir");
        for name in ["fence_ipstrip", "ipstrip-stonith"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_storha"), dir.join("bin").join(name))
                .expect("symlink");
        }
        let password = format!("Emu-Pa55-{}", random_hex(6));
        let community = format!("comm-{}", random_hex(6));
        let priv_password = format!("Priv-{}", random_hex(6));
        let ro_password = format!("Read-{}", random_hex(6));
        std::fs::write(
            dir.join("secrets"),
            format!(
                "password={password}\nusername=admin\ncommunity={community}\npriv_password={priv_password}\n\
                 ro_username=reader\nro_password={ro_password}\n"
            ),
        )
        .expect("secrets");
        let names: Vec<String> = opts
            .names
            .clone()
            .unwrap_or_else(|| (1..=OUTLETS).map(|i| format!("node{i}")).collect());
        let mut cmd = Command::new(python);
        cmd.arg(repo().join("tests/emulator/ipstrip_emulator.py"))
            .args([
                "--http",
                "0",
                "--snmp",
                "0",
                "--outlets",
                &OUTLETS.to_string(),
            ])
            .args(["--names", &names.join(",")])
            .args(["--switch-delay", &opts.switch_delay.to_string()])
            .args(["--apc-model", opts.apc_model])
            .args(["--espurna-firmware", opts.espurna_firmware])
            .args(["--tasmota-auth-reply", &opts.tasmota_auth_reply.to_string()])
            .arg("--secrets")
            .arg(dir.join("secrets"))
            .arg("--ready-file")
            .arg(dir.join("ready"));
        if let Some(h) = &opts.hook {
            cmd.args(["--hook", h]);
        }
        if let Some(t) = opts.cycle_time {
            cmd.args(["--cycle-time", &t.to_string()]);
        }
        if opts.https {
            if !have("/usr/bin/openssl", "openssl") {
                return None;
            }
            let out = Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                ])
                .args([
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1",
                ])
                .arg("-keyout")
                .arg(dir.join("key.pem"))
                .arg("-out")
                .arg(dir.join("cert.pem"))
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            cmd.args(["--https", "0"])
                .arg("--cert")
                .arg(dir.join("cert.pem"))
                .arg("--key")
                .arg(dir.join("key.pem"));
        }
        let log = std::fs::File::create(dir.join("emulator.log")).expect("log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the emulator");
        let mut emu = Emulator {
            child,
            dir: dir.clone(),
            http_port: 0,
            https_port: None,
            snmp_port: 0,
            control_port: 0,
            password,
            community,
            priv_password,
            ro_password,
            outputs: Mutex::new(Vec::new()),
        };
        let t = Instant::now();
        let ready = loop {
            if let Ok(s) = std::fs::read_to_string(dir.join("ready")) {
                break s;
            }
            if let Ok(Some(st)) = emu.child.try_wait() {
                panic!(
                    "emulator exited ({st}): {}",
                    std::fs::read_to_string(dir.join("emulator.log")).unwrap_or_default()
                );
            }
            assert!(t.elapsed() < Duration::from_secs(20), "emulator not ready");
            std::thread::sleep(Duration::from_millis(50));
        };
        let v: serde_json::Value = serde_json::from_str(&ready).expect("ready file");
        let port = |k: &str| v.get(k).and_then(|p| p.as_u64()).map(|p| p as u16);
        emu.http_port = port("http").expect("http port");
        emu.snmp_port = port("snmp").expect("snmp port");
        emu.https_port = port("https");
        emu.control_port = port("control").expect("control port");
        Some(emu)
    }

    pub fn secrets(&self) -> Vec<String> {
        vec![
            self.password.clone(),
            self.community.clone(),
            self.priv_password.clone(),
            self.ro_password.clone(),
        ]
    }

    fn control(&self, method: &str, path: &str, body: &str) -> serde_json::Value {
        let mut s = TcpStream::connect(("127.0.0.1", self.control_port)).expect("control API");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: emu\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("control request");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("control reply");
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|_| panic!("control reply: {out}"))
    }

    /// One raw HTTP request to the strip's HTTP face: (status, content type, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).expect("HTTP face");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: emu\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        write!(s, "{head}Content-Length: {}\r\n\r\n{body}", body.len()).expect("request");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("reply");
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("status line: {out}"));
        let ctype = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or("")
            .to_string();
        (status, ctype, body.to_string())
    }

    pub fn state(&self) -> serde_json::Value {
        self.control("GET", "/state", "")
    }

    pub fn is_on(&self, outlet: u32) -> bool {
        self.state()["outlets"][outlet.to_string()]["on"]
            .as_bool()
            .expect("outlet state")
    }

    pub fn set(&self, outlet: u32, on: bool) {
        self.control(
            "POST",
            "/set",
            &format!("{{\"outlet\": {outlet}, \"on\": {on}}}"),
        );
    }

    pub fn fault(&self, fault: &str, outlet: u32) {
        self.control(
            "POST",
            "/fault",
            &format!("{{\"fault\": \"{fault}\", \"outlet\": {outlet}}}"),
        );
    }

    pub fn clear(&self) {
        self.control("POST", "/clear", "");
    }

    pub fn forget(&self) {
        self.control("POST", "/forget", "");
    }

    /// State changes since the last `forget`, as (outlet, on).
    pub fn history(&self) -> Vec<(u32, bool)> {
        self.state()["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|e| {
                (
                    e[0].as_u64().expect("outlet") as u32,
                    e[1].as_bool().expect("on"),
                )
            })
            .collect()
    }

    /// Power-cycle orders since the last `forget`, as (outlet, order as the emulator names it).
    pub fn cycles(&self) -> Vec<(u32, String)> {
        self.state()["cycles"]
            .as_array()
            .expect("cycles")
            .iter()
            .map(|e| {
                (
                    e[0].as_u64().expect("outlet") as u32,
                    e[1].as_str().expect("order").to_string(),
                )
            })
            .collect()
    }

    /// Waits until the history holds `n` state changes (a cycle ends on the device's own
    /// timer, after the agent has returned), at most `secs` seconds.
    pub fn wait_history(&self, n: usize, secs: f64) -> Vec<(u32, bool)> {
        let t = Instant::now();
        loop {
            let h = self.history();
            if h.len() >= n || t.elapsed() > Duration::from_secs_f64(secs) {
                return h;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Outlet `n` as the family numbers it (ESPurna relays and Shelly ids count from 0).
    pub fn plug(&self, family: &str, n: u32) -> String {
        match family {
            "espurna" | "shelly" => (n - 1).to_string(),
            _ => n.to_string(),
        }
    }

    fn options(&self, family: &str, password: &str) -> String {
        match family {
            "apc" => format!(
                "device=apc\nipport={}\ncommunity={}\n",
                self.snmp_port, self.community
            ),
            "snmp" => format!(
                "device=snmp\nipport={}\ncommunity={}\n{GENERIC}",
                self.snmp_port, self.community
            ),
            f => format!(
                "device={f}\nipport={}\nusername=admin\npassword={password}\n",
                self.http_port
            ),
        }
    }

    pub fn agent(&self, family: &str, action: &str, plug: &str, extra: &str) -> Run {
        self.agent_with_password(family, action, plug, extra, &self.password.clone())
    }

    /// Runs fence_ipstrip as pacemaker-fenced does: no argument, options on stdin.
    pub fn agent_with_password(
        &self,
        family: &str,
        action: &str,
        plug: &str,
        extra: &str,
        password: &str,
    ) -> Run {
        let mut text = format!(
            "action={action}\nip=127.0.0.1\n{}nodename=test-node\n",
            self.options(family, password)
        );
        if !plug.is_empty() {
            text.push_str(&format!("plug={plug}\n"));
        }
        text.push_str(extra);
        self.stdin("fence_ipstrip", &text)
    }

    pub fn stdin(&self, name: &str, text: &str) -> Run {
        let r = run(
            Command::new(self.dir.join("bin").join(name)).env("PCMK_service", "pacemaker-fenced"),
            Some(text),
        );
        self.outputs.lock().expect("lock").push(r.all_output());
        r
    }

    pub fn cli(&self, name: &str, args: &[&str]) -> Run {
        let r = run(
            Command::new(self.dir.join("bin").join(name)).args(args),
            None,
        );
        self.outputs.lock().expect("lock").push(r.all_output());
        r
    }

    /// fence-agents' fence_apc_snmp on the emulator's SNMP face, options on stdin.
    pub fn reference(&self, args: &[&str]) -> Run {
        let mut text = format!(
            "ip=127.0.0.1\nipport={}\ncommunity={}\n",
            self.snmp_port, self.community
        );
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let key = match *a {
                "-o" => "action",
                "-n" => "plug",
                "-d" => "snmp_version",
                kv if kv.contains('=') => {
                    text.push_str(&format!("{kv}\n"));
                    continue;
                }
                other => panic!("reference: unknown option {other}"),
            };
            text.push_str(&format!("{key}={}\n", it.next().copied().unwrap_or("")));
        }
        run(&mut Command::new("/usr/sbin/fence_apc_snmp"), Some(&text))
    }

    /// Options for the emulator's SNMPv3 user `user` (u-noauth, u-md5, u-sha-aes...).
    pub fn v3_options(&self, user: &str) -> String {
        let parts: Vec<&str> = user.split('-').collect();
        let auth = match parts.get(1) {
            Some(&"sha") => "SHA",
            _ => "MD5",
        };
        let (level, privacy) = match (parts.get(1), parts.get(2)) {
            (Some(&"noauth"), _) => ("noAuthNoPriv", "DES"),
            (_, None) => ("authNoPriv", "DES"),
            (_, Some(&"aes")) => ("authPriv", "AES"),
            (_, Some(_)) => ("authPriv", "DES"),
        };
        format!(
            "snmp_version=3\nusername={user}\nsnmp_sec_level={level}\nsnmp_auth_prot={auth}\n\
             snmp_priv_prot={privacy}\npassword={}\nsnmp_priv_passwd={}\n",
            self.password, self.priv_password
        )
    }

    #[track_caller]
    pub fn assert_no_secret_in_log(&self) {
        let log = std::fs::read_to_string(self.dir.join("emulator.log")).unwrap_or_default();
        let outputs = self.outputs.lock().expect("lock");
        assert!(!outputs.is_empty(), "nothing was run");
        for s in self.secrets() {
            assert!(!log.contains(&s), "a secret is in the emulator's log");
            for o in outputs.iter() {
                assert!(!o.contains(&s), "a secret is in the agent's output:\n{o}");
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a command with an optional stdin text, killed after two minutes.
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(text) = stdin {
        let mut w = child.stdin.take().expect("stdin");
        w.write_all(text.as_bytes()).expect("write stdin");
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: o.join().unwrap_or_default(),
        stderr: e.join().unwrap_or_default(),
    }
}
