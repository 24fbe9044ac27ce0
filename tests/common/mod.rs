// SPDX-License-Identifier: GPL-2.0-or-later
//! Helpers shared by the host integration tests.
//!
//! The tests run agents inside throw-away network namespaces joined by veth pairs, so that they
//! can add addresses, pull links down and sniff gratuitous ARPs without touching the host's
//! networking. Everything created here is removed in `Drop`, including when a test panics.
//!
//! The agent under test is a parameter (`Agent::under_test()`): by default the `storha` binary
//! behind a symlink named `floating-ip`; with `STORHA_TEST_AGENT=ipaddr2` (or a path) the same
//! scenarios run against another agent, such as the reference `ocf:heartbeat:IPaddr2`, which is
//! how the scenarios themselves are checked.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, Once};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The reference agent the scenarios are checked against.
pub const IPADDR2: &str = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2";

/// Generous default deadline for conditions polled by the tests: the machine is shared and busy,
/// and a deadline only costs time when something is actually wrong.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Deadline for one agent action (start of an IPv6 address waits for DAD, IPaddr2 polls in
/// 1-second steps, and the machine may be loaded).
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(90);

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// Writes straight to the process's stderr. The test harness captures `println!`/`eprintln!`
/// of passing tests; skip notices and the differential table must be visible regardless.
pub fn loud(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

/// Returns true when the test may run. Without root it prints a loud skip line and returns
/// false; when `CI` is set it panics instead, because CI must never pass by skipping.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: these tests need root (network namespaces), and CI is set: refusing to skip"
        );
    }
    loud(&format!("SKIPPED (needs root): {test}"));
    false
}

/// Fails loudly when a host tool the tests rely on is missing: a missing tool is a broken test
/// environment (`make deps`), not a reason to pass.
pub fn require_tool(tool: &str) {
    let found = PATH.split(':').any(|d| Path::new(d).join(tool).is_file());
    assert!(
        found,
        "required host tool `{tool}` not found in {PATH}: run scripts/install-deps.sh"
    );
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// Temporary directories (std only)

/// A directory under the system temp dir, removed with its contents on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "storha-test-{}-{}-{tag}",
            std::process::id(),
            unique()
        ));
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("creating temp dir {}: {e}", path.display()));
        // World-traversable: ocf-tester runs meta-data as `nobody` through this directory.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod temp dir {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Running commands

/// The outcome of a command: exit code (128+signal if killed), stdout, stderr.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Run {
    /// The texts of all `ocf-exit-reason:` lines on stderr.
    pub fn exit_reasons(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| {
                l.find("ocf-exit-reason:")
                    .map(|i| l[i + "ocf-exit-reason:".len()..].trim().to_string())
            })
            .collect()
    }

    /// A one-paragraph description used in assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "`{}` exited {} ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.code,
            ocf_name(self.code),
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }

    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            code,
            "expected exit {code} ({}), got:\n{}",
            ocf_name(code),
            self.describe()
        );
        self
    }

    /// Asserts a failure with one of `codes` and at least one non-empty exit reason.
    pub fn expect_failure(&self, codes: &[i32]) -> &Run {
        assert!(
            codes.contains(&self.code),
            "expected exit code in {codes:?}, got:\n{}",
            self.describe()
        );
        let reasons = self.exit_reasons();
        // Pacemaker shows the last such line; more than one means a confusing message.
        assert!(
            reasons.len() == 1 && !reasons[0].is_empty(),
            "a failure must print exactly one `ocf-exit-reason:<text>` line on stderr:\n{}",
            self.describe()
        );
        self
    }
}

pub fn ocf_name(code: i32) -> &'static str {
    match code {
        0 => "OCF_SUCCESS",
        1 => "OCF_ERR_GENERIC",
        2 => "OCF_ERR_ARGS",
        3 => "OCF_ERR_UNIMPLEMENTED",
        4 => "OCF_ERR_PERM",
        5 => "OCF_ERR_INSTALLED",
        6 => "OCF_ERR_CONFIGURED",
        7 => "OCF_NOT_RUNNING",
        8 => "OCF_RUNNING_PROMOTED",
        9 => "OCF_FAILED_PROMOTED",
        _ => "?",
    }
}

/// Runs `cmd` with stdout and stderr going to files, so that a background child which inherits
/// them (the gratuitous-ARP sender) cannot keep us waiting for EOF. Kills it after `timeout`.
pub fn run_command(mut cmd: Command, timeout: Duration) -> Run {
    let what = format!("{cmd:?}");
    let io = TempDir::new("io");
    let out_path = io.path().join("stdout");
    let err_path = io.path().join("stderr");
    let out =
        File::create(&out_path).unwrap_or_else(|e| panic!("creating {}: {e}", out_path.display()));
    let err =
        File::create(&err_path).unwrap_or_else(|e| panic!("creating {}: {e}", err_path.display()));
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{what} did not finish within {timeout:?}\nstdout so far:\n{}\nstderr so far:\n{}",
                    fs::read_to_string(&out_path).unwrap_or_default(),
                    fs::read_to_string(&err_path).unwrap_or_default()
                );
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    };
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Run {
        code,
        stdout: String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&fs::read(&err_path).unwrap_or_default()).into_owned(),
        what,
    }
}

/// A command with a clean, predictable environment (tests must not depend on the caller's).
pub fn clean_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().env("PATH", PATH).env("LC_ALL", "C");
    cmd
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

/// Serialises `ip netns add/del`: the first `add` sets up the /run/netns shared mount, and
/// concurrent first calls from parallel tests could stack mounts.
static NETNS_LOCK: Mutex<()> = Mutex::new(());
static SWEEP: Once = Once::new();

/// A uniquely named network namespace with `lo` up, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn new() -> Netns {
        SWEEP.call_once(sweep_stale_namespaces);
        let name = format!("sth-{}-{}", std::process::id(), unique());
        {
            let _g = NETNS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            let r = run_command(ip_cmd(&["netns", "add", &name]), DEADLINE);
            assert_eq!(r.code, 0, "creating namespace {name}:\n{}", r.describe());
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `ip -n NS <args>`; panics with ip's stderr on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        let r = self.try_ip(args);
        assert_eq!(
            r.code,
            0,
            "ip in namespace {} failed:\n{}",
            self.name,
            r.describe()
        );
        r.stdout
    }

    pub fn try_ip(&self, args: &[&str]) -> Run {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_command(ip_cmd(&full), DEADLINE)
    }

    /// Runs `argv` inside the namespace (`ip netns exec`).
    pub fn exec(&self, argv: &[&str]) -> Run {
        self.exec_env(argv, &[])
    }

    pub fn exec_env(&self, argv: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = clean_command("ip");
        cmd.args(["netns", "exec", &self.name]).args(argv);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(cmd, ACTION_TIMEOUT)
    }

    /// The addresses on `dev`, parsed from `ip -j addr show dev DEV`.
    pub fn addrs(&self, dev: &str) -> Vec<Addr> {
        let links = self.links(&["addr", "show", "dev", dev]);
        links.iter().flat_map(Addr::from_link).collect()
    }

    /// All addresses in the namespace, with the interface they sit on.
    pub fn all_addrs(&self) -> Vec<(String, Addr)> {
        let links = self.links(&["addr", "show"]);
        let mut v = Vec::new();
        for l in &links {
            let ifname = l["ifname"].as_str().unwrap_or("?").to_string();
            for a in Addr::from_link(l) {
                v.push((ifname.clone(), a));
            }
        }
        v
    }

    /// A stable summary of the configured addresses (`dev address/prefix`), without link-local
    /// addresses, lifetimes or DAD state, which change on their own: for "nothing was added"
    /// checks.
    pub fn address_set(&self) -> BTreeSet<String> {
        self.all_addrs()
            .into_iter()
            .filter(|(_, a)| !a.is_link_local())
            .map(|(dev, a)| format!("{dev} {}/{}", a.local, a.prefixlen))
            .collect()
    }

    /// `ip -j <args>` parsed as the array of link objects it prints.
    pub fn links(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let out = self.ip(&full);
        let v: serde_json::Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("parsing `ip -j {}` output: {e}\n{out}", args.join(" ")));
        match v {
            serde_json::Value::Array(a) => a,
            other => panic!("`ip -j {}` printed a non-array: {other}", args.join(" ")),
        }
    }

    /// The link object of `dev` (`ip -j link show dev DEV`).
    pub fn link(&self, dev: &str) -> serde_json::Value {
        let mut l = self.links(&["link", "show", "dev", dev]);
        assert_eq!(l.len(), 1, "expected one link named {dev} in {}", self.name);
        l.remove(0)
    }

    pub fn mac(&self, dev: &str) -> String {
        let link = self.link(dev);
        link["address"]
            .as_str()
            .unwrap_or_else(|| panic!("{dev} has no MAC address in {}: {link}", self.name))
            .to_string()
    }

    /// Whether `dev` has no carrier (its veth peer is down): operstate DOWN with NO-CARRIER.
    pub fn no_carrier(&self, dev: &str) -> bool {
        let l = self.link(dev);
        l["flags"]
            .as_array()
            .map(|f| f.iter().any(|x| x == "NO-CARRIER"))
            .unwrap_or(false)
    }

    pub fn operstate(&self, dev: &str) -> String {
        self.link(dev)["operstate"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }

    /// The address `ip` on `dev`, if present.
    pub fn find_addr(&self, dev: &str, ip: &str) -> Option<Addr> {
        self.addrs(dev).into_iter().find(|a| same_ip(&a.local, ip))
    }

    /// Pids of processes whose network namespace is this one (e.g. a leftover ARP sender).
    pub fn pids(&self) -> Vec<i32> {
        let Ok(meta) = fs::metadata(self.path()) else {
            return Vec::new();
        };
        let want = format!("net:[{}]", meta.ino());
        let mut pids = Vec::new();
        let Ok(rd) = fs::read_dir("/proc") else {
            return pids;
        };
        for e in rd.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(link) = fs::read_link(e.path().join("ns/net")) {
                if link.to_string_lossy() == want {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// Describes the processes in the namespace, for assertion messages.
    pub fn describe_pids(&self) -> String {
        self.pids()
            .iter()
            .map(|p| {
                let cmd = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                let cmd: String = String::from_utf8_lossy(&cmd).replace('\0', " ");
                format!("{p}: {}", cmd.trim())
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until no process runs inside the namespace.
    pub fn wait_no_pids(&self, what: &str) {
        wait_for(what, DEADLINE, || self.pids().is_empty().then_some(()));
    }

    /// Waits until IPv6 duplicate address detection has finished for every address in the
    /// namespace (no `tentative` flag left).
    pub fn wait_dad_done(&self) {
        wait_for(&format!("DAD to finish in {}", self.name), DEADLINE, || {
            self.all_addrs()
                .iter()
                .all(|(_, a)| !a.flags.contains("tentative"))
                .then_some(())
        });
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _g = NETNS_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let r = run_command(ip_cmd(&["netns", "del", &self.name]), DEADLINE);
        if r.code != 0 {
            loud(&format!(
                "warning: could not delete namespace {}:\n{}",
                self.name,
                r.describe()
            ));
        }
    }
}

fn ip_cmd(args: &[&str]) -> Command {
    let mut cmd = clean_command("ip");
    cmd.args(args);
    cmd
}

/// Deletes `sth-<pid>-<n>` namespaces left behind by test processes that were killed before
/// their `Drop` could run (their pid no longer exists).
fn sweep_stale_namespaces() {
    let Ok(rd) = fs::read_dir("/run/netns") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("sth-") else {
            continue;
        };
        let Some((pid, _)) = rest.split_once('-') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run_command(ip_cmd(&["netns", "del", &name]), DEADLINE);
        }
    }
}

/// Compares two textual IP addresses by value (`2001:db8::1` == `2001:0db8:0::1`).
pub fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// A veth pair between the agent's namespace and the peer's, both ends up.
pub struct VethPair {
    pub agent_if: String,
    pub peer_if: String,
    pub agent_mac: String,
    pub peer_mac: String,
}

impl VethPair {
    /// Creates `agent_if` in `agent` and `peer_if` in `peer`. MACs are explicit so that twin
    /// setups (the differential test) are identical and frames are easy to check.
    pub fn new(
        agent: &Netns,
        agent_if: &str,
        agent_mac: &str,
        peer: &Netns,
        peer_if: &str,
        peer_mac: &str,
    ) -> VethPair {
        let r = run_command(
            ip_cmd(&[
                "link",
                "add",
                agent_if,
                "netns",
                agent.name(),
                "address",
                agent_mac,
                "type",
                "veth",
                "peer",
                "name",
                peer_if,
                "netns",
                peer.name(),
                "address",
                peer_mac,
            ]),
            DEADLINE,
        );
        assert_eq!(
            r.code,
            0,
            "creating veth {agent_if}/{peer_if}:\n{}",
            r.describe()
        );
        agent.ip(&["link", "set", agent_if, "up"]);
        peer.ip(&["link", "set", peer_if, "up"]);
        VethPair {
            agent_if: agent_if.to_string(),
            peer_if: peer_if.to_string(),
            agent_mac: agent_mac.to_string(),
            peer_mac: peer_mac.to_string(),
        }
    }
}

/// The usual test topology: the agent's namespace with `fip0`, a peer namespace with `peer0`,
/// the agent side holding a static 192.0.2.1/24 and 2001:db8:1::1/64 (nodad, so no waiting), the
/// peer 192.0.2.2/24 and 2001:db8:1::2/64.
pub struct Lab {
    pub agent: Netns,
    pub peer: Netns,
    pub veth: VethPair,
}

pub const AGENT_MAC: &str = "02:00:5e:00:00:01";
pub const PEER_MAC: &str = "02:00:5e:00:00:02";

impl Lab {
    pub fn new() -> Lab {
        let agent = Netns::new();
        let peer = Netns::new();
        let veth = VethPair::new(&agent, "fip0", AGENT_MAC, &peer, "peer0", PEER_MAC);
        agent.ip(&["addr", "add", "192.0.2.1/24", "dev", "fip0"]);
        agent.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            "fip0",
            "nodad",
        ]);
        peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "peer0"]);
        peer.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::2/64",
            "dev",
            "peer0",
            "nodad",
        ]);
        // The agent side must have carrier before anything is started (the veth peer comes up
        // asynchronously), or a link-status check would fail for reasons of the setup.
        wait_for("fip0 to have carrier", DEADLINE, || {
            (agent.operstate("fip0") == "UP").then_some(())
        });
        Lab { agent, peer, veth }
    }

    /// Non-link-local addresses on the agent's nic.
    pub fn agent_addrs(&self) -> Vec<Addr> {
        self.agent
            .addrs("fip0")
            .into_iter()
            .filter(|a| !a.is_link_local())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses as `ip -j addr` reports them

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Addr {
    pub family: String,
    pub local: String,
    pub prefixlen: u8,
    pub broadcast: Option<String>,
    pub scope: String,
    pub label: Option<String>,
    /// Every boolean attribute ip prints as true: secondary, nodad, noprefixroute, tentative,
    /// dadfailed, deprecated, ...
    pub flags: BTreeSet<String>,
    pub valid_lft: u64,
    pub preferred_lft: u64,
}

pub const FOREVER: u64 = 4294967295;

// Compact, `ip addr`-like: assertion messages list whole namespaces.
impl std::fmt::Debug for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lft = |v: u64| {
            if v == FOREVER {
                "forever".to_string()
            } else {
                format!("{v}s")
            }
        };
        write!(f, "{} {}/{}", self.family, self.local, self.prefixlen)?;
        if let Some(b) = &self.broadcast {
            write!(f, " brd {b}")?;
        }
        write!(f, " scope {}", self.scope)?;
        for fl in &self.flags {
            write!(f, " {fl}")?;
        }
        if let Some(l) = &self.label {
            write!(f, " label {l}")?;
        }
        write!(
            f,
            " valid_lft {} preferred_lft {}",
            lft(self.valid_lft),
            lft(self.preferred_lft)
        )
    }
}

impl Addr {
    pub fn from_link(link: &serde_json::Value) -> Vec<Addr> {
        let Some(infos) = link["addr_info"].as_array() else {
            return Vec::new();
        };
        infos
            .iter()
            .filter(|i| i.get("local").is_some())
            .map(|i| Addr {
                family: i["family"].as_str().unwrap_or("").to_string(),
                local: i["local"].as_str().unwrap_or("").to_string(),
                prefixlen: i["prefixlen"].as_u64().unwrap_or(0) as u8,
                broadcast: i["broadcast"].as_str().map(str::to_string),
                scope: i["scope"].as_str().unwrap_or("").to_string(),
                label: i["label"].as_str().map(str::to_string),
                flags: i
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(_, v)| v.as_bool() == Some(true))
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
                valid_lft: i["valid_life_time"].as_u64().unwrap_or(0),
                preferred_lft: i["preferred_life_time"].as_u64().unwrap_or(0),
            })
            .collect()
    }

    pub fn is_link_local(&self) -> bool {
        self.family == "inet6" && self.scope == "link"
    }

    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(flag)
    }
}

// ---------------------------------------------------------------------------------------------
// The agent runner

/// An OCF agent to run: storha's `floating-ip` (through a symlink of that name, since the
/// multi-call binary dispatches on argv[0]) or any other agent path. Each `Agent` has its own
/// HA_RSCTMP so parallel tests do not share pid files.
pub struct Agent {
    path: PathBuf,
    storha: bool,
    rsctmp: TempDir,
    _link_dir: Option<TempDir>,
    pub instance: String,
}

/// Per-action environment additions (meta attributes and the like).
pub type Env<'a> = &'a [(&'a str, &'a str)];

impl Agent {
    /// The storha binary built by cargo for this test run.
    pub fn storha_binary() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_storha"))
    }

    /// storha's floating-ip: a symlink named `floating-ip` to the binary in a temp dir.
    pub fn storha() -> Agent {
        let dir = TempDir::new("agent");
        let link = dir.path().join("floating-ip");
        std::os::unix::fs::symlink(Self::storha_binary(), &link)
            .unwrap_or_else(|e| panic!("symlinking {}: {e}", link.display()));
        Agent {
            path: link,
            storha: true,
            rsctmp: TempDir::new("rsctmp"),
            _link_dir: Some(dir),
            instance: instance_name(),
        }
    }

    pub fn at(path: &str) -> Agent {
        assert!(
            Path::new(path).is_file(),
            "agent {path} not found (resource-agents installed? scripts/install-deps.sh)"
        );
        Agent {
            path: PathBuf::from(path),
            storha: false,
            rsctmp: TempDir::new("rsctmp"),
            _link_dir: None,
            instance: instance_name(),
        }
    }

    pub fn ipaddr2() -> Agent {
        Agent::at(IPADDR2)
    }

    /// The agent the scenarios run against: `STORHA_TEST_AGENT` = `ipaddr2` or a path to an
    /// agent, else storha's floating-ip.
    pub fn under_test() -> Agent {
        match std::env::var("STORHA_TEST_AGENT") {
            Ok(s) if s.eq_ignore_ascii_case("ipaddr2") => Agent::ipaddr2(),
            Ok(s) if !s.is_empty() && s != "storha" => Agent::at(&s),
            _ => Agent::storha(),
        }
    }

    pub fn is_storha(&self) -> bool {
        self.storha
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn path_str(&self) -> &str {
        self.path
            .to_str()
            .unwrap_or_else(|| panic!("agent path {} is not UTF-8", self.path.display()))
    }

    pub fn rsctmp(&self) -> &Path {
        self.rsctmp.path()
    }

    /// The environment an action gets, as Pacemaker would set it (minus what varies per call).
    pub fn base_env(&self) -> Vec<(String, String)> {
        vec![
            ("OCF_ROOT".into(), "/usr/lib/ocf".into()),
            ("HA_RSCTMP".into(), self.rsctmp.path().display().to_string()),
            ("OCF_RESOURCE_INSTANCE".into(), self.instance.clone()),
            ("OCF_RESKEY_CRM_meta_timeout".into(), "20000".into()),
        ]
    }

    fn command(
        &self,
        ns: Option<&Netns>,
        action: &str,
        params: &[(&str, &str)],
        env: Env,
    ) -> Command {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = clean_command("ip");
                c.args(["netns", "exec", ns.name()]).arg(&self.path);
                c
            }
            None => clean_command(self.path_str()),
        };
        cmd.arg(action);
        for (k, v) in self.base_env() {
            cmd.env(k, v);
        }
        for (k, v) in params {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `action` with `params` (as OCF_RESKEY_*) and extra `env`, inside `ns`.
    pub fn run_env(&self, ns: &Netns, action: &str, params: &[(&str, &str)], env: Env) -> Run {
        let mut r = run_command(self.command(Some(ns), action, params, env), ACTION_TIMEOUT);
        r.what = self.summary(Some(ns), action, params, env);
        r
    }

    /// What an assertion message needs to reproduce a run by hand, without the boilerplate
    /// environment.
    fn summary(
        &self,
        ns: Option<&Netns>,
        action: &str,
        params: &[(&str, &str)],
        env: Env,
    ) -> String {
        let mut s = String::new();
        if let Some(ns) = ns {
            s.push_str(&format!("ip netns exec {} ", ns.name()));
        }
        for (k, v) in params {
            s.push_str(&format!("OCF_RESKEY_{k}={v:?} "));
        }
        for (k, v) in env {
            s.push_str(&format!("{k}={v:?} "));
        }
        s.push_str(&format!("{} {action}", self.path.display()));
        s
    }

    pub fn run(&self, ns: &Netns, action: &str, params: &[(&str, &str)]) -> Run {
        self.run_env(ns, action, params, &[])
    }

    /// Runs in the caller's (root) namespace: for `network_namespace` and meta-data.
    pub fn run_here(&self, action: &str, params: &[(&str, &str)], env: Env) -> Run {
        let mut r = run_command(self.command(None, action, params, env), ACTION_TIMEOUT);
        r.what = self.summary(None, action, params, env);
        r
    }

    /// A recurring monitor (interval set).
    pub fn monitor(&self, ns: &Netns, params: &[(&str, &str)]) -> Run {
        self.run_env(
            ns,
            "monitor",
            params,
            &[("OCF_RESKEY_CRM_meta_interval", "10000")],
        )
    }

    /// A probe: monitor without an interval.
    pub fn probe(&self, ns: &Netns, params: &[(&str, &str)]) -> Run {
        self.run(ns, "monitor", params)
    }
}

fn instance_name() -> String {
    format!("fip-{}", unique())
}

// ---------------------------------------------------------------------------------------------
// Packet capture on the peer side

/// A captured frame (only ARP and ICMPv6 neighbour advertisements are kept).
#[derive(Debug, Clone)]
pub struct Frame {
    pub data: Vec<u8>,
    pub at: Instant,
    /// When the kernel received the frame (SIOCGSTAMP), since the epoch: unlike `at`, not
    /// delayed by the capture thread being scheduled late, so spacing can be measured.
    pub kernel_ts: Option<Duration>,
}

/// An AF_PACKET socket inside a namespace, bound to one interface, collecting incoming ARP
/// frames and ICMPv6 neighbour advertisements on a thread that has joined that namespace
/// (setns affects only the calling thread, so the rest of the test stays where it is).
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts capturing on `ifname` in `ns`; returns once the socket is bound, so that nothing
    /// sent afterwards can be missed.
    pub fn start(ns: &Netns, ifname: &str) -> Capture {
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let nspath = ns.path();
        let ifname = ifname.to_string();
        let (f2, s2) = (frames.clone(), stop.clone());
        let handle = thread::spawn(move || {
            let sock = match open_capture_socket(&nspath, &ifname) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            capture_loop(&sock, &f2, &s2);
        });
        match ready_rx.recv_timeout(DEADLINE) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("packet capture in {}: {e}", ns.name()),
            Err(e) => panic!("packet capture in {} did not get ready: {e}", ns.name()),
        }
        Capture {
            frames,
            stop,
            handle: Some(handle),
        }
    }

    /// A snapshot of what was captured so far.
    pub fn frames(&self) -> Vec<Frame> {
        self.frames
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `pred` holds on the frames captured so far; panics after `timeout`.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Frame]) -> bool,
    ) -> Vec<Frame> {
        wait_for(what, timeout, || {
            let f = self.frames();
            pred(&f).then_some(f)
        })
    }

    /// Stops capturing and returns everything captured.
    pub fn finish(mut self) -> Vec<Frame> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.frames()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Fd(i32);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn open_capture_socket(nspath: &Path, ifname: &str) -> Result<Fd, String> {
    let nsfile = File::open(nspath).map_err(|e| format!("opening {}: {e}", nspath.display()))?;
    nix::sched::setns(&nsfile, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns into {}: {e}", nspath.display()))?;
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the result is checked below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            proto as i32,
        )
    };
    if fd < 0 {
        return Err(format!(
            "socket(AF_PACKET): {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = Fd(fd);
    let cname =
        std::ffi::CString::new(ifname).map_err(|_| "interface name contains NUL".to_string())?;
    // SAFETY: cname is a valid NUL-terminated string; this thread is now in the namespace.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!(
            "no interface {ifname}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: sockaddr_ll is plain old data; zeroed is a valid initial value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: sll is a properly initialised sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.0,
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if rc < 0 {
        return Err(format!(
            "bind to {ifname}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // A short receive timeout lets the loop notice the stop flag.
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    // SAFETY: tv is a valid timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        )
    };
    if rc < 0 {
        return Err(format!("SO_RCVTIMEO: {}", std::io::Error::last_os_error()));
    }
    Ok(fd)
}

/// `SIOCGSTAMP` from <linux/sockios.h> (0x8906 on 64-bit targets; libc does not export it).
const SIOCGSTAMP: libc::c_ulong = 0x8906;

fn capture_loop(sock: &Fd, frames: &Mutex<Vec<Frame>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        // SAFETY: sockaddr_ll is plain old data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut fromlen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: buf and from are valid for the lengths passed.
        let n = unsafe {
            libc::recvfrom(
                sock.0,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
                &mut from as *mut libc::sockaddr_ll as *mut libc::sockaddr,
                &mut fromlen,
            )
        };
        if n < 0 {
            continue; // timeout (EAGAIN) or EINTR: check the stop flag again
        }
        // Only what arrives at the peer counts, not what the peer itself sends.
        if from.sll_pkttype == libc::PACKET_OUTGOING {
            continue;
        }
        let data = &buf[..n as usize];
        if parse_arp(data).is_some() || parse_na(data).is_some() {
            let mut tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            };
            // SAFETY: SIOCGSTAMP writes one timeval, the timestamp of the last frame read.
            let rc = unsafe { libc::ioctl(sock.0, SIOCGSTAMP as _, &mut tv as *mut libc::timeval) };
            let kernel_ts = (rc == 0)
                .then(|| Duration::new(tv.tv_sec as u64, (tv.tv_usec as u32).saturating_mul(1000)));
            frames
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Frame {
                    data: data.to_vec(),
                    at: Instant::now(),
                    kernel_ts,
                });
        }
    }
}

pub fn mac_str(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn mac6(b: &[u8]) -> [u8; 6] {
    let mut m = [0u8; 6];
    m.copy_from_slice(&b[..6]);
    m
}

/// An Ethernet ARP frame (IPv4 over Ethernet).
#[derive(Clone, PartialEq, Eq)]
pub struct Arp {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    /// 1 = request, 2 = reply.
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

// One line per frame keeps assertion messages about several frames readable.
impl std::fmt::Debug for Arp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ARP {} {} -> {}: sender {} {}, target {} {}",
            match self.op {
                1 => "request".to_string(),
                2 => "reply".to_string(),
                o => format!("op={o}"),
            },
            mac_str(&self.eth_src),
            mac_str(&self.eth_dst),
            mac_str(&self.sender_mac),
            self.sender_ip,
            mac_str(&self.target_mac),
            self.target_ip
        )
    }
}

impl std::fmt::Debug for Na {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NA {} -> {}: {} -> {} hlim {} flags {}{}{} target {} tlla {}",
            mac_str(&self.eth_src),
            mac_str(&self.eth_dst),
            self.ip_src,
            self.ip_dst,
            self.hop_limit,
            if self.router { "R" } else { "-" },
            if self.solicited { "S" } else { "-" },
            if self.override_flag { "O" } else { "-" },
            self.target,
            self.target_lladdr
                .map(|m| mac_str(&m))
                .unwrap_or_else(|| "none".into())
        )
    }
}

pub fn parse_arp(f: &[u8]) -> Option<Arp> {
    if f.len() < 14 + 28 || f[12..14] != [0x08, 0x06] {
        return None;
    }
    let a = &f[14..];
    // htype Ethernet, ptype IPv4, hlen 6, plen 4
    if a[0..2] != [0, 1] || a[2..4] != [0x08, 0x00] || a[4] != 6 || a[5] != 4 {
        return None;
    }
    Some(Arp {
        eth_dst: mac6(&f[0..6]),
        eth_src: mac6(&f[6..12]),
        op: u16::from_be_bytes([a[6], a[7]]),
        sender_mac: mac6(&a[8..14]),
        sender_ip: Ipv4Addr::new(a[14], a[15], a[16], a[17]),
        target_mac: mac6(&a[18..24]),
        target_ip: Ipv4Addr::new(a[24], a[25], a[26], a[27]),
    })
}

/// An ICMPv6 neighbour advertisement (type 136) in an Ethernet frame.
#[derive(Clone, PartialEq, Eq)]
pub struct Na {
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub ip_src: Ipv6Addr,
    pub ip_dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The target link-layer address option (type 2), if present.
    pub target_lladdr: Option<[u8; 6]>,
}

pub fn parse_na(f: &[u8]) -> Option<Na> {
    if f.len() < 14 + 40 + 24 || f[12..14] != [0x86, 0xdd] {
        return None;
    }
    let ip = &f[14..];
    if ip[0] >> 4 != 6 || ip[6] != 58 {
        return None; // not ICMPv6 directly after the fixed header (NA carries no extension header)
    }
    let plen = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    let icmp = &ip[40..];
    if icmp.len() < 24 || icmp[0] != 136 || icmp[1] != 0 {
        return None;
    }
    let icmp = &icmp[..plen.min(icmp.len())];
    let v6 = |b: &[u8]| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        Ipv6Addr::from(a)
    };
    let mut target_lladdr = None;
    let mut opts = &icmp[24..];
    while opts.len() >= 8 {
        let len = opts[1] as usize * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if opts[0] == 2 && len >= 8 {
            target_lladdr = Some(mac6(&opts[2..8]));
        }
        opts = &opts[len..];
    }
    Some(Na {
        eth_dst: mac6(&f[0..6]),
        eth_src: mac6(&f[6..12]),
        ip_src: v6(&ip[8..24]),
        ip_dst: v6(&ip[24..40]),
        hop_limit: ip[7],
        router: icmp[4] & 0x80 != 0,
        solicited: icmp[4] & 0x40 != 0,
        override_flag: icmp[4] & 0x20 != 0,
        target: v6(&icmp[8..24]),
        target_lladdr,
    })
}

/// Kernel receive times of the gratuitous ARP requests for `ip`, in arrival order.
pub fn arp_request_times(frames: &[Frame], ip: Ipv4Addr) -> Vec<Duration> {
    frames
        .iter()
        .filter(|f| parse_arp(&f.data).is_some_and(|a| a.sender_ip == ip && a.op == 1))
        .map(|f| f.kernel_ts.expect("SIOCGSTAMP gave a receive timestamp"))
        .collect()
}

/// The ARP frames in `frames` announcing `ip`.
pub fn arps_for(frames: &[Frame], ip: Ipv4Addr) -> Vec<Arp> {
    frames
        .iter()
        .filter_map(|f| parse_arp(&f.data))
        .filter(|a| a.sender_ip == ip)
        .collect()
}

/// The neighbour advertisements in `frames` for target `ip`.
pub fn nas_for(frames: &[Frame], ip: Ipv6Addr) -> Vec<Na> {
    frames
        .iter()
        .filter_map(|f| parse_na(&f.data))
        .filter(|n| n.target == ip)
        .collect()
}
