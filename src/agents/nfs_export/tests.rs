// SPDX-License-Identifier: GPL-2.0-or-later
//! The actions against a simulated host: which commands run in which
//! order, refusals with their reasons, and a monitor that runs none.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::cmd::{CmdError, FakeRunner, Output, Runner};
use crate::ocf::{Deadline, OcfEnv, StateDir};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;

type Effect = Box<dyn Fn(&FakeHost)>;

/// Files, processes and RPC answers of a pretend NFS server.
struct FakeHost {
    files: RefCell<BTreeMap<String, String>>,
    dirs: RefCell<Vec<String>>,
    procs: RefCell<Vec<(i32, String)>>,
    nfs_null: RefCell<Result<(), String>>,
    mountd: RefCell<Result<Vec<String>, String>>,
    /// Reads of the export cache left before it empties.
    cache_reads: RefCell<u32>,
    scopes: RefCell<Vec<String>>,
    bound: RefCell<bool>,
}

impl FakeHost {
    fn new() -> Self {
        let h = FakeHost {
            files: RefCell::default(),
            dirs: RefCell::default(),
            procs: RefCell::default(),
            nfs_null: RefCell::new(Ok(())),
            mountd: RefCell::new(Ok(Vec::new())),
            cache_reads: RefCell::default(),
            scopes: RefCell::default(),
            bound: RefCell::default(),
        };
        h.dirs.borrow_mut().push("/srv/a".into());
        h.dirs.borrow_mut().push("/srv/b".into());
        h
    }
    fn set(&self, path: &str, text: &str) {
        self.files.borrow_mut().insert(path.into(), text.into());
    }
    fn get(&self, path: &str) -> Option<String> {
        self.files.borrow().get(path).cloned()
    }
    fn proc_up(&self, comm: &str) {
        let n = 100 + self.procs.borrow().len() as i32;
        self.procs.borrow_mut().push((n, comm.into()));
    }
    fn proc_down(&self, comm: &str) {
        self.procs.borrow_mut().retain(|(_, c)| c != comm);
    }
    fn serving(&self) {
        self.set(THREADS, "8\n");
        for p in [MOUNTD, STATD, RPCBIND] {
            self.proc_up(p);
        }
    }
}

impl Host for FakeHost {
    fn read(&self, path: &str) -> Option<String> {
        if path == CACHE {
            let mut n = self.cache_reads.borrow_mut();
            if *n == 0 {
                return Some("#path domain(flags)\n".into());
            }
            *n -= 1;
        }
        self.get(path)
    }
    fn write(&self, path: &str, data: &str) -> Result<(), OcfError> {
        if path == UNLOCK || path == LEASE || path == GRACE {
            let key = format!("{path}#written");
            let old = self.get(&key).unwrap_or_default();
            self.set(&key, &format!("{old}{data}\n"));
            return Ok(());
        }
        self.set(path, data);
        Ok(())
    }
    fn exists(&self, path: &str) -> bool {
        self.files.borrow().contains_key(path) || self.is_dir(path)
    }
    fn is_dir(&self, path: &str) -> bool {
        self.dirs.borrow().iter().any(|d| d == path)
    }
    fn canonical(&self, path: &str) -> Option<String> {
        self.is_dir(path).then(|| path.to_string())
    }
    fn mkdir(&self, path: &str) -> Result<(), OcfError> {
        self.dirs.borrow_mut().push(path.into());
        Ok(())
    }
    fn copy_owner(&self, _path: &str, _like: &str) {}
    fn same_dir(&self, a: &str, b: &str) -> bool {
        b == VAR_LIB_NFS && a == "/srv/a/.state" && *self.bound.borrow()
    }
    fn processes(&self) -> Vec<(i32, String)> {
        self.procs.borrow().clone()
    }
    fn signal(&self, pid: i32, _hard: bool) -> bool {
        self.procs.borrow_mut().retain(|(p, _)| *p != pid);
        true
    }
    fn holders(&self, _prefix: &str) -> Vec<String> {
        vec!["nfsdcld (pid 321)".into()]
    }
    fn in_scope(
        &self,
        scope: &str,
        work: &mut dyn FnMut() -> Result<(), OcfError>,
    ) -> Result<(), OcfError> {
        self.scopes.borrow_mut().push(scope.into());
        work()
    }
    fn nfs_null(&self, _vers: u32, _limit: Duration) -> Result<(), String> {
        self.nfs_null.borrow().clone()
    }
    fn rpc_port(&self, _prog: u32, _vers: u32, _limit: Duration) -> Result<u16, String> {
        Ok(20048)
    }
    fn mountd_exports(&self, _limit: Duration) -> Result<Vec<String>, String> {
        self.mountd.borrow().clone()
    }
    fn is_local(&self, _ip: IpAddr) -> bool {
        true
    }
    fn has_name(&self, _ip: IpAddr) -> bool {
        true
    }
    fn sleep(&self, _d: Duration) {}
}

/// A strict fake runner whose commands also change the fake host.
struct Sim<'a> {
    host: &'a FakeHost,
    runner: FakeRunner,
    /// One per expected command, in order.
    effects: RefCell<std::collections::VecDeque<Option<Effect>>>,
}

impl<'a> Sim<'a> {
    fn new(host: &'a FakeHost) -> Self {
        Sim {
            host,
            runner: FakeRunner::new(),
            effects: RefCell::default(),
        }
    }
    fn ok(mut self, cmd: &str) -> Self {
        self.runner = self.runner.ok(cmd, "");
        self.effects.borrow_mut().push_back(None);
        self
    }
    fn ok_then(mut self, cmd: &str, f: impl Fn(&FakeHost) + 'static) -> Self {
        self.runner = self.runner.ok(cmd, "");
        self.effects.borrow_mut().push_back(Some(Box::new(f)));
        self
    }
    fn fails(mut self, cmd: &str, stderr: &str) -> Self {
        self.runner = self.runner.fails(cmd, 1, stderr);
        self.effects.borrow_mut().push_back(None);
        self
    }
}

impl Runner for Sim<'_> {
    fn output(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        let r = self.runner.output(cmd);
        let effect = self.effects.borrow_mut().pop_front().flatten();
        if let Some(f) = effect {
            f(self.host);
        }
        r
    }
}

fn env_of(extra: &[(&str, &str)]) -> OcfEnv {
    let mut pairs: Vec<(String, String)> = vec![
        ("OCF_RESOURCE_INSTANCE".into(), "p_nfs".into()),
        (
            "HA_RSCTMP".into(),
            std::env::temp_dir()
                .join(format!("storha-nfs-test-{}", std::process::id()))
                .to_string_lossy()
                .into_owned(),
        ),
    ];
    for (k, v) in extra {
        if k.starts_with("OCF_") {
            pairs.push((k.to_string(), v.to_string()));
        } else {
            pairs.push((format!("OCF_RESKEY_{k}"), v.to_string()));
        }
    }
    OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn cfg_of(pairs: &[(&str, &str)]) -> Result<Config, OcfError> {
    let p = Params::from_pairs(params::PARAMS, pairs)?;
    Config::from_params(&p)
}

const BASE: &[(&str, &str)] = &[
    ("directory", "/srv/a /srv/b"),
    ("clientspec", "192.168.77.0/24 client.example"),
    ("options", "rw,sync,no_root_squash"),
    ("fsid", "root 11"),
];

fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut v: Vec<(&str, &str)> = BASE
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    v.extend_from_slice(extra);
    v
}

fn run(
    action: Action,
    pairs: &[(&str, &str)],
    host: &FakeHost,
    runner: &dyn Runner,
) -> Result<Health, OcfError> {
    let env = env_of(pairs);
    let params = Params::from_env(params::PARAMS, &env)?;
    let cfg = Config::from_params(&params)?;
    let ctx = Ctx {
        agent: "nfs-export",
        instance: "p_nfs".into(),
        action,
        env: &env,
        params,
        deadline: Deadline::after(Duration::from_secs(30)),
        state: StateDir::new(&env, "nfs-export", "p_nfs"),
        runner,
    };
    match action {
        Action::Start => start_with(&ctx, &cfg, host).map(|()| Health::Running),
        Action::Stop => stop_with(&ctx, &cfg, host).map(|()| Health::NotRunning),
        _ => monitor_with(&ctx, &cfg, host),
    }
}

const ETAB_BOTH: &str = "/srv/a\t192.168.77.0/24(rw,sync,fsid=0)\n\
/srv/a\tclient.example(rw,sync,fsid=0)\n\
/srv/b\t192.168.77.0/24(rw,sync,fsid=11)\n\
/srv/b\tclient.example(rw,sync,fsid=11)\n";

fn configured_reason(pairs: &[(&str, &str)]) -> String {
    match cfg_of(pairs) {
        Err(e) => {
            assert_eq!(e.status().code(), 6, "{pairs:?}: {e}");
            e.to_string()
        }
        Ok(c) => panic!("{pairs:?} accepted: {c:?}"),
    }
}

#[test]
fn table_and_meta_data_are_consistent() {
    crate::ocf::params::check_table(params::PARAMS);
    crate::ocf::metadata::check_meta(&params::META);
}

#[test]
fn several_exports_clients_and_fsids() {
    let c = cfg_of(BASE).unwrap();
    assert_eq!(c.exports.len(), 2);
    assert_eq!(c.exports[0].fsid, params::Fsid::Root);
    assert_eq!(c.exports[1].fsid, params::Fsid::Num(11));
    assert_eq!(c.clients.len(), 2);
    assert_eq!(
        c.options_for(&c.exports[1]),
        "rw,sync,no_root_squash,fsid=11"
    );
    // exportfs' increment of a single integer.
    let c = cfg_of(&with(&[
        ("fsid", "20"),
        ("directory", "/srv/a/ /srv/b /srv/c"),
    ]))
    .unwrap();
    let ids: Vec<String> = c.exports.iter().map(|e| e.fsid.option()).collect();
    assert_eq!(ids, ["20", "21", "22"]);
    assert_eq!(c.exports[0].dir, "/srv/a");
    // UUIDs, and the fsid from options for one directory.
    let c = cfg_of(&with(&[
        ("directory", "/srv/a"),
        ("fsid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
    ]))
    .unwrap();
    assert!(matches!(c.exports[0].fsid, params::Fsid::Uuid { .. }));
    assert!(c.exports[0]
        .fsid
        .matches("3F2504E04F8911D39A0C0305E82C3301"));
    let c = cfg_of(&[
        ("directory", "/srv/a"),
        ("clientspec", "*"),
        ("options", "ro,fsid=7"),
    ])
    .unwrap();
    assert_eq!(c.exports[0].fsid, params::Fsid::Num(7));
    assert_eq!(c.options, vec!["ro"]);
    // The fsid parameter wins over options, as in exportfs.
    let c = cfg_of(&with(&[
        ("directory", "/srv/a"),
        ("fsid", "5"),
        ("options", "rw,fsid=9"),
    ]))
    .unwrap();
    assert_eq!(c.options_for(&c.exports[0]), "rw,fsid=5");
}

#[test]
fn client_specifications() {
    for ok in [
        "*",
        "@trusted",
        "host.example.org",
        "*.example.org",
        "node?",
        "192.0.2.10",
        "192.0.2.0/24",
        "192.0.2.0/255.255.255.0",
        "[2001:db8::1]",
        "[2001:db8::]/64",
    ] {
        params::parse_client(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert_eq!(
        params::parse_client("[2001:db8::]/64").unwrap().table,
        "2001:db8::/64"
    );
    for bad in [
        "192.0.2.0/33",
        "192.0.2.256",
        "192.0.2.0/255.0.255.0",
        "2001:db8::/64",
        "[2001:db8::]/129",
        "[nope]",
        "@",
        "@a;b",
        "-host",
        "host_(rw)",
        "a:b",
        "",
    ] {
        assert!(params::parse_client(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn hostile_and_broken_parameters_are_refused_with_a_reason() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("directory", "/srv/a;touch /tmp/x")], "contains ';'"),
        (&[("directory", "/srv/../etc")], "'..' component"),
        (&[("directory", "srv/a")], "not an absolute path"),
        (&[("directory", "/srv/a /srv/a")], "given twice"),
        (&[("options", "rw 10.0.0.0/8(rw)")], "contains ' '"),
        (&[("options", "rw),*(rw")], "contains ')'"),
        (&[("options", "rw;reboot")], "contains ';'"),
        (&[("options", "rw,async")], "async"),
        (&[("options", "rw,bogus")], "unknown export option"),
        (&[("options", "rw=1")], "takes no value"),
        (&[("options", "anonuid=x")], "not valid"),
        (&[("clientspec", "10.0.0.0/8;x")], "not valid"),
        (&[("fsid", "1,2")], "cannot contain a comma"),
        (&[("fsid", "abc 2")], "neither an integer"),
        (&[("fsid", "3 3")], "same fsid"),
        (&[("fsid", "root 0")], "same fsid"),
        (&[("fsid", "1 2 3")], "3 values for 2 directories"),
        (
            &[("fsid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301")],
            "use integer fsid",
        ),
        (&[("fsid", "")], "fsid is not set"),
        (&[("nfs_server_scope", "a b")], "nfs_server_scope"),
        (&[("nfs_ip", "192.0.2.300")], "not an IP address"),
        (
            &[("nfs_shared_infodir", "/var/lib/nfs/x")],
            "cannot be /var/lib/nfs",
        ),
        (&[("rmtab_backup", "../x")], "relative path"),
    ];
    for (extra, want) in cases {
        let reason = configured_reason(&with(extra));
        assert!(reason.contains(want), "{extra:?}: {reason}");
    }
    // A newline never reaches the agent: the framework refuses it.
    let e =
        Params::from_pairs(params::PARAMS, &with(&[("options", "rw\n/etc *(rw)")])).unwrap_err();
    assert_eq!(e.status().code(), 6);
    // async is accepted when forced.
    assert!(cfg_of(&with(&[("options", "rw,async"), ("allow_async", "true")])).is_ok());
}

#[test]
fn unmanaged_start_exports_every_pair_and_is_checked_against_etab() {
    let h = FakeHost::new();
    let p = with(&[("manage_server", "false"), ("rmtab_backup", "none")]);
    let sim = Sim::new(&h)
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=0 192.168.77.0/24:/srv/a")
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=0 client.example:/srv/a")
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=11 192.168.77.0/24:/srv/b")
        .ok_then(
            "exportfs -v -o rw,sync,no_root_squash,fsid=11 client.example:/srv/b",
            |h| h.set(ETAB, ETAB_BOTH),
        );
    run(Action::Start, &p, &h, &sim).unwrap();
}

#[test]
fn start_failures_name_their_cause() {
    let h = FakeHost::new();
    let p = with(&[
        ("manage_server", "false"),
        ("directory", "/srv/a /srv/missing"),
        ("fsid", "1 2"),
    ]);
    let e = run(Action::Start, &p, &h, &FakeRunner::new()).unwrap_err();
    assert_eq!(e.status().code(), 6);
    assert_eq!(e.to_string(), "/srv/missing does not exist");
    // create_directory makes it.
    let p = with(&[
        ("manage_server", "false"),
        ("directory", "/srv/new"),
        ("fsid", "1"),
        ("clientspec", "*"),
        ("create_directory", "true"),
    ]);
    let sim = Sim::new(&h).fails(
        "exportfs -v -o rw,sync,no_root_squash,fsid=1 *:/srv/new",
        "exportfs: /srv/new does not support NFS export",
    );
    let e = run(Action::Start, &p, &h, &sim).unwrap_err();
    assert!(h.is_dir("/srv/new"));
    assert_eq!(e.status().code(), 1);
    assert!(e.to_string().contains("does not support NFS export"), "{e}");
    // exportfs says yes but the table disagrees.
    let sim = Sim::new(&h).ok("exportfs -v -o rw,sync,no_root_squash,fsid=1 *:/srv/new");
    let e = run(Action::Start, &p, &h, &sim).unwrap_err();
    assert!(e.to_string().contains("lacks *:/srv/new"), "{e}");
}

#[test]
fn monitor_runs_no_program() {
    let h = FakeHost::new();
    let unmanaged = with(&[("manage_server", "false")]);
    // FakeRunner panics at any command.
    let none = FakeRunner::new();
    assert!(matches!(
        run(Action::Monitor, &unmanaged, &h, &none),
        Ok(Health::NotRunning)
    ));
    h.set(ETAB, ETAB_BOTH);
    assert!(matches!(
        run(Action::Monitor, &unmanaged, &h, &none),
        Ok(Health::Running)
    ));
    // One pair gone: a failure naming it.
    h.set(
        ETAB,
        &ETAB_BOTH.replace("/srv/b\tclient.example(rw,sync,fsid=11)\n", ""),
    );
    let e = run(Action::Monitor, &unmanaged, &h, &none).unwrap_err();
    assert_eq!(e.to_string(), "not exported: client.example:/srv/b");
    // The wrong fsid is not our export.
    h.set(ETAB, &ETAB_BOTH.replace("fsid=11", "fsid=12"));
    assert!(run(Action::Monitor, &unmanaged, &h, &none).is_err());

    // Managed: threads and daemons.
    h.set(ETAB, ETAB_BOTH);
    let managed = BASE.to_vec();
    h.set(THREADS, "0\n");
    let e = run(Action::Monitor, &managed, &h, &none).unwrap_err();
    assert!(e.to_string().contains("nfsd has no threads"), "{e}");
    h.serving();
    if on_path(NFSDCLD).is_ok() {
        h.proc_up(NFSDCLD);
    }
    assert!(matches!(
        run(Action::Monitor, &managed, &h, &none),
        Ok(Health::Running)
    ));
    h.proc_down(MOUNTD);
    let e = run(Action::Monitor, &managed, &h, &none).unwrap_err();
    assert_eq!(e.to_string(), "NFS server: rpc.mountd not running");
    h.proc_up(MOUNTD);
    // Nothing exported while the server runs: not running.
    h.set(ETAB, "");
    assert!(matches!(
        run(Action::Monitor, &managed, &h, &none),
        Ok(Health::NotRunning)
    ));
}

#[test]
fn deep_monitor_makes_real_calls_and_reports_their_failures() {
    let h = FakeHost::new();
    h.set(ETAB, ETAB_BOTH);
    h.serving();
    if on_path(NFSDCLD).is_ok() {
        h.proc_up(NFSDCLD);
    }
    let mut deep = BASE.to_vec();
    deep.push(("OCF_CHECK_LEVEL", "10"));
    let none = FakeRunner::new();
    *h.mountd.borrow_mut() = Ok(vec!["/srv/a".into(), "/srv/b".into()]);
    assert!(matches!(
        run(Action::Monitor, &deep, &h, &none),
        Ok(Health::Running)
    ));
    *h.mountd.borrow_mut() = Ok(vec!["/srv/a".into()]);
    let e = run(Action::Monitor, &deep, &h, &none).unwrap_err();
    assert!(e.to_string().contains("does not list /srv/b"), "{e}");
    *h.mountd.borrow_mut() = Err("reply from 127.0.0.1:20048: timed out".into());
    let e = run(Action::Monitor, &deep, &h, &none).unwrap_err();
    assert!(e.to_string().contains("rpc.mountd does not answer"), "{e}");
    *h.nfs_null.borrow_mut() = Err("connect 127.0.0.1:2049: refused".into());
    let e = run(Action::Monitor, &deep, &h, &none).unwrap_err();
    assert!(e.to_string().contains("RPC NULL call"), "{e}");
    // Level 0 sees none of it.
    assert!(matches!(
        run(Action::Monitor, BASE, &h, &none),
        Ok(Health::Running)
    ));
}

#[test]
fn managed_start_order_and_server_scope() {
    let h = FakeHost::new();
    h.set(THREADS, "0\n");
    h.set(
        MOUNTINFO,
        "91 25 0:44 / /run/rpc_pipefs rw - rpc_pipefs sunrpc rw\n",
    );
    h.proc_up(RPCBIND);
    let cld = on_path(NFSDCLD).is_ok();
    let p = with(&[
        ("nfs_shared_infodir", "/srv/a/.state"),
        ("nfs_server_scope", "nfs-scope"),
        ("lease_time", "30"),
        ("grace_time", "40"),
        ("threads", "4"),
        ("rmtab_backup", "none"),
    ]);
    let mut sim = Sim::new(&h)
        .ok_then("mount --bind /srv/a/.state /var/lib/nfs", |h| {
            *h.bound.borrow_mut() = true;
        })
        .ok_then("rpc.statd --no-notify", |h| h.proc_up(STATD));
    if cld {
        sim = sim.ok_then("nfsdcld", |h| h.proc_up(NFSDCLD));
    }
    let sim = sim
        .ok_then("rpc.mountd", |h| h.proc_up(MOUNTD))
        .ok_then("rpc.nfsd 4", |h| h.set(THREADS, "4\n"));
    let mut cmds: Vec<String> = [
        "exportfs -v -o rw,sync,no_root_squash,fsid=0 192.168.77.0/24:/srv/a",
        "exportfs -v -o rw,sync,no_root_squash,fsid=0 client.example:/srv/a",
        "exportfs -v -o rw,sync,no_root_squash,fsid=11 192.168.77.0/24:/srv/b",
    ]
    .map(String::from)
    .to_vec();
    let mut sim = sim;
    for c in cmds.drain(..) {
        sim = sim.ok(&c);
    }
    let sim = sim.ok_then(
        "exportfs -v -o rw,sync,no_root_squash,fsid=11 client.example:/srv/b",
        |h| h.set(ETAB, ETAB_BOTH),
    );
    run(Action::Start, &p, &h, &sim).unwrap();
    assert_eq!(*h.scopes.borrow(), vec!["nfs-scope"]);
    assert_eq!(h.get(&format!("{LEASE}#written")).as_deref(), Some("30\n"));
    assert_eq!(h.get(&format!("{GRACE}#written")).as_deref(), Some("40\n"));
    assert!(h.is_dir("/srv/a/.state/sm") && h.is_dir("/srv/a/.state/nfsdcld"));
    assert_eq!(h.get("/srv/a/.state/etab").as_deref(), Some(""));

    // Started again: the server is up, only exportfs runs (idempotent).
    let sim = Sim::new(&h)
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=0 192.168.77.0/24:/srv/a")
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=0 client.example:/srv/a")
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=11 192.168.77.0/24:/srv/b")
        .ok("exportfs -v -o rw,sync,no_root_squash,fsid=11 client.example:/srv/b");
    run(Action::Start, &p, &h, &sim).unwrap();
    assert_eq!(h.scopes.borrow().len(), 1, "no second thread start");
}

#[test]
fn default_scope_is_the_resource_name() {
    assert_eq!(params::default_scope("p_nfs"), "p_nfs");
    assert_eq!(params::default_scope("nfs:1"), "nfs-1");
    assert_eq!(params::default_scope(""), "nfs-export");
}

#[test]
fn stop_unexports_unlocks_flushes_and_stops_the_server_in_reverse() {
    let h = FakeHost::new();
    h.set(ETAB, ETAB_BOTH);
    h.serving();
    h.proc_up(NFSDCLD);
    *h.bound.borrow_mut() = true;
    *h.cache_reads.borrow_mut() = 2;
    h.set(CACHE, "/srv/b\t192.168.77.0/24(rw,fsid=11,sec=1)\n");
    h.set(UNLOCK, "");
    h.set(RMTAB, "192.168.77.50:/srv/b:0x00000001\n");
    let p = with(&[("nfs_shared_infodir", "/srv/a/.state")]);
    let sim = Sim::new(&h)
        .ok("exportfs -v -u 192.168.77.0/24:/srv/a")
        .ok("exportfs -v -u client.example:/srv/a")
        .ok("exportfs -v -u 192.168.77.0/24:/srv/b")
        .ok_then("exportfs -v -u client.example:/srv/b", |h| h.set(ETAB, ""))
        .ok("exportfs -f")
        .ok("exportfs -f")
        .ok_then("rpc.nfsd 0", |h| h.set(THREADS, "0\n"))
        .fails(
            "umount /var/lib/nfs",
            "umount: /var/lib/nfs: target is busy.",
        )
        .ok_then("umount /var/lib/nfs", |h| *h.bound.borrow_mut() = false);
    run(Action::Stop, &p, &h, &sim).unwrap();
    assert_eq!(
        h.get(&format!("{UNLOCK}#written")).as_deref(),
        Some("/srv/a\n/srv/b\n")
    );
    assert_eq!(
        h.get("/srv/b/.rmtab").as_deref(),
        Some("192.168.77.50:/srv/b:0x00000001\n")
    );
    assert!(h.processes().is_empty() || h.pids(RPCBIND).len() == h.processes().len());
    // Stopped again: nothing to do, nothing run.
    run(Action::Stop, &p, &h, &FakeRunner::new()).unwrap();
}

#[test]
fn a_busy_bind_mount_names_its_holders_when_time_runs_out() {
    let h = FakeHost::new();
    *h.bound.borrow_mut() = true;
    h.set(THREADS, "0\n");
    let p = with(&[
        ("nfs_shared_infodir", "/srv/a/.state"),
        ("rmtab_backup", "none"),
    ]);
    let env = env_of(&p);
    let params = Params::from_env(params::PARAMS, &env).unwrap();
    let cfg = Config::from_params(&params).unwrap();
    let sim = Sim::new(&h).fails(
        "umount /var/lib/nfs",
        "umount: /var/lib/nfs: target is busy.",
    );
    let ctx = Ctx {
        agent: "nfs-export",
        instance: "p_nfs".into(),
        action: Action::Stop,
        env: &env,
        params,
        deadline: Deadline::after(Duration::from_millis(500)),
        state: StateDir::new(&env, "nfs-export", "p_nfs"),
        runner: &sim,
    };
    let e = stop_with(&ctx, &cfg, &h).unwrap_err();
    assert_eq!(e.status().code(), 1);
    assert!(e.to_string().contains("held by nfsdcld (pid 321)"), "{e}");
}

#[test]
fn unmanaged_stop_fails_when_the_cache_keeps_the_export() {
    let h = FakeHost::new();
    h.set(CACHE, "/srv/a\t*(ro,fsid=0)\n");
    *h.cache_reads.borrow_mut() = 1000;
    let p = with(&[("manage_server", "false"), ("rmtab_backup", "none")]);
    let mut sim = Sim::new(&h);
    for _ in 0..50 {
        sim = sim.ok("exportfs -f");
    }
    let e = run(Action::Stop, &p, &h, &sim).unwrap_err();
    assert!(
        e.to_string().contains("export cache still holds *:/srv/a"),
        "{e}"
    );
}

#[test]
fn the_pid_cache_counts_only_live_daemons_under_their_names() {
    let procs = vec![
        (1, "systemd".to_string()),
        (40, MOUNTD.to_string()),
        (41, NFSDCLD.to_string()),
    ];
    let text = host::pid_cache_text(&procs, &[MOUNTD, NFSDCLD, STATD]);
    assert_eq!(text, format!("{MOUNTD} 40\n{NFSDCLD} 41\n"));
    let comm = |p: i32| {
        procs
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    };
    assert!(host::cached_alive(&text, &[MOUNTD, NFSDCLD], comm));
    // A daemon the cache does not name, or a pid reused by another program,
    // is not taken for alive (the caller then scans /proc).
    assert!(!host::cached_alive(&text, &[MOUNTD, STATD], comm));
    let reused = |p: i32| if p == 40 { "bash".to_string() } else { comm(p) };
    assert!(!host::cached_alive(&text, &[MOUNTD], reused));
    assert!(!host::cached_alive("", &[MOUNTD], comm));
    assert!(!host::cached_alive("rpc.mountd x\n", &[MOUNTD], comm));
}
