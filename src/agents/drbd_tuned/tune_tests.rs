// SPDX-License-Identifier: GPL-2.0-or-later
//! The tuning against a fake sysfs/procfs tree in a temporary directory:
//! applied, drift seen, restored byte for byte, also after a start killed
//! half way; a record of an earlier boot never restored; shared knobs
//! reference counted; conflicting values refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::cmd::FakeRunner;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

static DIRS: AtomicUsize = AtomicUsize::new(0);

const TCP_RMEM: &str = "4096\t131072\t6291456\n";
const QDISC_DEFAULT: &str = "qdisc fq_codel 0: root refcnt 2 limit 10240p flows 1024 quantum 1514 target 5ms interval 100ms memory_limit 32Mb ecn drop_batch 64 \n";
const QDISC_FQ: &str = "qdisc fq 8001: root refcnt 2 limit 10000p flow_limit 100p buckets 1024 orphan_mask 1023 quantum 3028b initial_quantum 15140b low_rate_threshold 550Kbit refill_delay 40ms timer_slack 10us horizon 10s horizon_drop \n";

struct Fake {
    root: PathBuf,
    state: PathBuf,
}

impl Fake {
    fn new() -> Fake {
        let base = std::env::temp_dir().join(format!(
            "storha-tune-test-{}-{}",
            std::process::id(),
            DIRS.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let f = Fake {
            state: base.join("run"),
            root,
        };
        f.put("proc/sys/kernel/random/boot_id", "3f1c-boot-a\n");
        f.put("proc/sys/net/core/rmem_max", "212992\n");
        f.put("proc/sys/net/core/wmem_max", "212992\n");
        f.put("proc/sys/net/ipv4/tcp_rmem", TCP_RMEM);
        f.put("proc/sys/net/ipv4/tcp_wmem", "4096\t16384\t4194304\n");
        for cpu in 0..3 {
            let d = format!("sys/devices/system/cpu/cpu{cpu}/cpufreq");
            f.put(&format!("{d}/scaling_governor"), "schedutil\n");
            f.put(
                &format!("{d}/scaling_available_governors"),
                "conservative ondemand userspace powersave performance schedutil \n",
            );
        }
        f.put("sys/devices/system/cpu/online", "0-2\n");
        f.put("sys/devices/system/cpu/cpufreq/boost", "1\n");
        f.put("sys/class/net/eth1/mtu", "1500\n");
        f.put("sys/class/net/eth1/device/local_cpulist", "0-1\n");
        for irq in [40, 41, 42] {
            f.put(
                &format!("sys/class/net/eth1/device/msi_irqs/{irq}"),
                "msix\n",
            );
            f.put(&format!("proc/irq/{irq}/smp_affinity_list"), "0-2\n");
        }
        f.put("sys/class/net/eth0/mtu", "1500\n");
        f.put(
            "etc/corosync/corosync.conf",
            "totem {\n\tversion: 2\n}\nnodelist {\n\tnode {\n\t\tring0_addr: 192.0.2.11 # eth0\n\t\tname: node1\n\t}\n}\n",
        );
        f
    }

    fn put(&self, rel: &str, text: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn get(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap()
    }

    fn tree(&self) -> Tree {
        Tree::fake(
            &self.root,
            vec![
                ("eth0".into(), "192.0.2.11".parse().unwrap(), 24),
                ("eth1".into(), "198.51.100.11".parse().unwrap(), 24),
            ],
        )
    }

    /// Every file of the tree with its exact bytes.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out);
        out
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        if let Some(base) = self.root.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

fn cfg(pairs: &[(&str, &str)]) -> Result<TuneConfig, OcfError> {
    let mut all = vec![("drbd_resource", "r0")];
    all.extend_from_slice(pairs);
    let p = Params::from_pairs(super::super::params::PARAMS, &all)?;
    TuneConfig::from_params(&p)
}

const HOST_KNOBS: &[(&str, &str)] = &[
    ("cpu_governor", "performance"),
    ("net_core_rmem_max", "67108864"),
    ("net_core_wmem_max", "67108864"),
    ("net_ipv4_tcp_rmem", "4096 87380 67108864"),
    ("net_ipv4_tcp_wmem", "4096  65536 67108864"),
    ("replication_nic", "eth1"),
    ("mtu", "9000"),
    ("irq_affinity", "local"),
];

fn tuner<'a>(
    f: &Fake,
    tree: &'a Tree,
    runner: &'a dyn Runner,
    user: &'a str,
    c: &'a TuneConfig,
) -> Tuner<'a> {
    Tuner {
        tree,
        runner,
        record: record_path(&f.state),
        user,
        cfg: c,
    }
}

const LIMIT: Duration = Duration::from_secs(2);

#[test]
fn everything_is_off_by_default_and_bad_values_are_refused() {
    let c = cfg(&[]).unwrap();
    assert!(c.is_empty() && !c.has_link_knobs());
    let c = cfg(HOST_KNOBS).unwrap();
    assert!(!c.is_empty() && c.has_link_knobs());
    assert!(c
        .sysctls
        .contains(&("/proc/sys/net/ipv4/tcp_wmem", "4096 65536 67108864".into())));
    for (bad, why) in [
        (vec![("mtu", "9000")], "need replication_nic"),
        (
            vec![("qdisc", "fq"), ("replication_nic", "eth1/../x")],
            "not an interface",
        ),
        (
            vec![("qdisc", "cake"), ("replication_nic", "eth1")],
            "only fq",
        ),
        (vec![("net_ipv4_tcp_rmem", "4096 87380")], "three positive"),
        (
            vec![("net_ipv4_tcp_rmem", "9000 87380 4096")],
            "must not decrease",
        ),
        (vec![("net_ipv4_tcp_wmem", "4096 x 1")], "three positive"),
        (
            vec![("cpu_governor", "perf;reboot")],
            "not a cpufreq governor",
        ),
        (
            vec![("irq_affinity", "0-3,x"), ("replication_nic", "eth1")],
            "neither a CPU list",
        ),
        (vec![("net_core_rmem_max", "12")], "out of range"),
        (
            vec![("mtu", "10"), ("replication_nic", "eth1")],
            "out of range",
        ),
    ] {
        let e = cfg(&bad).unwrap_err();
        assert_eq!(e.status().code(), 6, "{bad:?}");
        assert!(e.to_string().contains(why), "{bad:?}: {e}");
    }
}

#[test]
fn applied_then_restored_byte_for_byte() {
    let f = Fake::new();
    let before = f.snapshot();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c = cfg(HOST_KNOBS).unwrap();
    let t = tuner(&f, &tree, &r, "r0", &c);
    let warn = t.apply(None, LIMIT);
    assert!(warn.is_empty(), "{warn:?}");
    assert_eq!(
        f.get("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"),
        "performance\n"
    );
    assert_eq!(f.get("proc/sys/net/core/rmem_max"), "67108864\n");
    assert_eq!(f.get("proc/sys/net/ipv4/tcp_rmem"), "4096 87380 67108864\n");
    assert_eq!(f.get("sys/class/net/eth1/mtu"), "9000\n");
    assert_eq!(f.get("proc/irq/41/smp_affinity_list"), "0-1\n");
    assert_eq!(
        f.get("sys/class/net/eth0/mtu"),
        "1500\n",
        "another NIC untouched"
    );
    let (drift, mine) = t.verify(false);
    assert!(drift.is_empty(), "{drift:?}");
    assert_eq!(mine.len(), 3 + 4 + 1 + 3);
    // A second start (or a restart) changes nothing and keeps one user.
    assert!(t.apply(None, LIMIT).is_empty());
    let (rec, _) = t.load();
    assert!(rec.entries.values().all(|e| e.users == ["r0"]));
    assert_eq!(rec.boot_id, "3f1c-boot-a");

    let warn = t.restore(LIMIT);
    assert!(warn.is_empty(), "{warn:?}");
    assert_eq!(f.snapshot(), before, "restored byte for byte");
    assert!(!t.record.exists(), "empty record removed");
    // A stop with nothing recorded is a no-op.
    assert!(t.restore(LIMIT).is_empty());
}

#[test]
fn drift_by_hand_is_reported_and_the_original_still_restored() {
    let f = Fake::new();
    let before = f.snapshot();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c = cfg(HOST_KNOBS).unwrap();
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.apply(None, LIMIT).is_empty());
    f.put("proc/sys/net/core/wmem_max", "1048576\n");
    f.put(
        "sys/devices/system/cpu/cpu1/cpufreq/scaling_governor",
        "powersave\n",
    );
    let (drift, _) = t.verify(false);
    let seen: Vec<(&str, &str, &str)> = drift
        .iter()
        .map(|d| (d.what.as_str(), d.expected.as_str(), d.now.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("net.core.wmem_max", "67108864", "1048576"),
            ("CPU governor of cpu1", "performance", "powersave"),
        ]
    );
    assert!(t.restore(LIMIT).is_empty());
    assert_eq!(f.snapshot(), before);
}

#[test]
fn a_start_killed_half_way_is_restored_by_stop() {
    let f = Fake::new();
    let before = f.snapshot();
    let c = cfg(HOST_KNOBS).unwrap();
    for killed_at in [0, 1, 4, 7, 10] {
        let tree = f.tree();
        tree.crash_at_write.set(Some(killed_at));
        let r = FakeRunner::new();
        let t = tuner(&f, &tree, &r, "r0", &c);
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.apply(None, LIMIT)));
        assert!(died.is_err(), "the start was killed at write {killed_at}");
        assert!(
            t.record.exists(),
            "the record was written before the first knob"
        );
        // A new process (the stop) with the same tree.
        let tree = f.tree();
        let t = tuner(&f, &tree, &r, "r0", &c);
        assert!(t.restore(LIMIT).is_empty());
        assert_eq!(f.snapshot(), before, "killed at write {killed_at}");
        assert!(!t.record.exists());
    }
}

#[test]
fn a_record_of_an_earlier_boot_is_never_restored() {
    let f = Fake::new();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c = cfg(&[("net_core_rmem_max", "67108864")]).unwrap();
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.apply(None, LIMIT).is_empty());
    // The node rebooted; the kernel's value happens to be the tuned one, and
    // the record (a persistent state directory) survived.
    f.put("proc/sys/kernel/random/boot_id", "9e2d-boot-b\n");
    f.put("proc/sys/net/core/rmem_max", "33554432\n");
    assert!(t.verify(false).1.is_empty(), "nothing of this boot applied");
    assert!(t.restore(LIMIT).is_empty());
    assert_eq!(
        f.get("proc/sys/net/core/rmem_max"),
        "33554432\n",
        "not written"
    );
    assert!(!t.record.exists(), "the stale record is dropped");
    // A start in the new boot records the new boot's original.
    assert!(t.apply(None, LIMIT).is_empty());
    assert_eq!(
        t.load().0.entries["/proc/sys/net/core/rmem_max"].original,
        "33554432\n"
    );
    assert!(t.restore(LIMIT).is_empty());
    assert_eq!(f.get("proc/sys/net/core/rmem_max"), "33554432\n");
}

#[test]
fn shared_knobs_are_reference_counted() {
    let f = Fake::new();
    let before = f.snapshot();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c0 = cfg(&[
        ("net_core_rmem_max", "67108864"),
        ("cpu_governor", "performance"),
    ])
    .unwrap();
    let c1 = cfg(&[
        ("net_core_rmem_max", "67108864"),
        ("net_core_wmem_max", "8388608"),
    ])
    .unwrap();
    let t0 = tuner(&f, &tree, &r, "r0", &c0);
    let t1 = tuner(&f, &tree, &r, "r1", &c1);
    assert!(t0.apply(None, LIMIT).is_empty());
    assert!(t1.apply(None, LIMIT).is_empty());
    assert_eq!(
        t0.load().0.entries["/proc/sys/net/core/rmem_max"].users,
        ["r0", "r1"]
    );
    assert!(t0.restore(LIMIT).is_empty());
    assert_eq!(
        f.get("proc/sys/net/core/rmem_max"),
        "67108864\n",
        "r1 still uses it"
    );
    assert_eq!(
        f.get("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "schedutil\n",
        "r0's own knob restored"
    );
    assert!(t1.restore(LIMIT).is_empty());
    assert_eq!(f.snapshot(), before);
}

#[test]
fn two_resources_asking_different_values_conflict() {
    let f = Fake::new();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c0 = cfg(&[("net_core_rmem_max", "67108864")]).unwrap();
    let c1 = cfg(&[
        ("net_core_rmem_max", "8388608"),
        ("net_core_wmem_max", "8388608"),
    ])
    .unwrap();
    let t0 = tuner(&f, &tree, &r, "r0", &c0);
    let t1 = tuner(&f, &tree, &r, "r1", &c1);
    assert!(t0.apply(None, LIMIT).is_empty());
    let conflicts = t1.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert!(
        conflicts[0].contains(
            "net.core.rmem_max: DRBD resource r0 uses '67108864', this one asks '8388608'"
        ),
        "{conflicts:?}"
    );
    assert!(t0.conflicts().is_empty());
    // A start despite it: a warning, the first resource's value stays, the
    // rest is applied.
    let warn = t1.apply(None, LIMIT);
    assert!(warn.len() == 1 && warn[0].contains("conflict"), "{warn:?}");
    assert_eq!(f.get("proc/sys/net/core/rmem_max"), "67108864\n");
    assert_eq!(f.get("proc/sys/net/core/wmem_max"), "8388608\n");
}

#[test]
fn a_live_link_is_left_alone_and_corosync_rings_are_seen() {
    let f = Fake::new();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c = cfg(HOST_KNOBS).unwrap();
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert_eq!(t.link_live(None), None, "eth1 carries no ring");
    assert_eq!(
        t.link_live(Some("DRBD minor 1 is Connected".into()))
            .as_deref(),
        Some("DRBD minor 1 is Connected")
    );
    let on_ring = cfg(&[("replication_nic", "eth0"), ("mtu", "9000")]).unwrap();
    let t0 = tuner(&f, &tree, &r, "r0", &on_ring);
    assert!(t0
        .link_live(None)
        .is_some_and(|w| w.contains("eth0 carries the corosync ring (ring0_addr: 192.0.2.11)")));
    f.put(
        "etc/corosync/corosync.conf",
        "totem {\n\tinterface {\n\t\tbindnetaddr: 198.51.100.0\n\t}\n}\n",
    );
    assert!(t.link_live(None).is_some_and(|w| w.contains("bindnetaddr")));

    let warn = t.apply(Some("DRBD minor 1 is Connected".into()), LIMIT);
    assert_eq!(warn.len(), 4, "MTU and three IRQs: {warn:?}");
    assert!(warn[0].contains("MTU of eth1 not changed: DRBD minor 1 is Connected"));
    assert_eq!(f.get("sys/class/net/eth1/mtu"), "1500\n");
    assert_eq!(f.get("proc/irq/40/smp_affinity_list"), "0-2\n");
    assert_eq!(
        f.get("proc/sys/net/core/rmem_max"),
        "67108864\n",
        "host knobs applied"
    );
}

#[test]
fn missing_cpufreq_and_interrupts_are_warnings() {
    let f = Fake::new();
    std::fs::remove_dir_all(f.root.join("sys/devices/system/cpu/cpu0")).unwrap();
    std::fs::remove_dir_all(f.root.join("sys/devices/system/cpu/cpu1")).unwrap();
    std::fs::remove_dir_all(f.root.join("sys/devices/system/cpu/cpu2")).unwrap();
    std::fs::remove_dir_all(f.root.join("sys/class/net/eth1/device/msi_irqs")).unwrap();
    let tree = f.tree();
    let r = FakeRunner::new();
    let c = cfg(&[
        ("cpu_governor", "performance"),
        ("replication_nic", "eth1"),
        ("irq_affinity", "0"),
    ])
    .unwrap();
    let t = tuner(&f, &tree, &r, "r0", &c);
    let warn = t.apply(None, LIMIT);
    assert_eq!(warn.len(), 2, "{warn:?}");
    assert!(warn[0].contains("no CPU with cpufreq"));
    assert!(warn[1].contains("no MSI interrupts"));
    let c = cfg(&[("replication_nic", "nosuch0"), ("mtu", "9000")]).unwrap();
    let warn = tuner(&f, &tree, &r, "r0", &c).apply(None, LIMIT);
    assert!(warn[0].contains("no such interface"), "{warn:?}");
}

#[test]
fn the_fq_qdisc_replaces_only_a_default_one_and_the_default_comes_back() {
    let f = Fake::new();
    let tree = f.tree();
    let c = cfg(&[("replication_nic", "eth1"), ("qdisc", "fq")]).unwrap();
    let show = "tc qdisc show dev eth1";
    let r = FakeRunner::new()
        .ok(show, QDISC_DEFAULT)
        .ok("tc qdisc replace dev eth1 root fq", "")
        .ok(show, QDISC_FQ);
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.apply(None, LIMIT).is_empty());
    let e = &t.load().0.entries["qdisc:eth1"];
    assert_eq!(
        (e.original.as_str(), e.applied.as_str()),
        (QDISC_DEFAULT, "fq")
    );
    drop(r);
    // Monitor: no program unless asked; drift when someone replaced it.
    let r = FakeRunner::new().ok(show, QDISC_DEFAULT);
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.verify(false).0.is_empty());
    let (drift, _) = t.verify(true);
    assert_eq!(drift[0].now, "fq_codel");
    drop(r);
    let r = FakeRunner::new()
        .ok(show, QDISC_FQ)
        .ok("tc qdisc del dev eth1 root", "")
        .ok(show, QDISC_DEFAULT);
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.restore(LIMIT).is_empty());
    assert!(!t.record.exists());
    drop(r);
    // A qdisc someone configured is left alone.
    let r = FakeRunner::new().ok(show, "qdisc htb 1: root refcnt 2 r2q 10 default 0x10\n");
    let t = tuner(&f, &tree, &r, "r0", &c);
    let warn = t.apply(None, LIMIT);
    assert!(warn[0].contains("configured by someone else"), "{warn:?}");
    assert!(!t.record.exists());
}

#[test]
fn a_soft_roce_link_is_removed_only_if_the_agent_created_it() {
    let f = Fake::new();
    let tree = f.tree();
    let c = cfg(&[("replication_nic", "eth1"), ("soft_roce", "true")]).unwrap();
    let r = FakeRunner::new()
        .ok("modprobe rdma_rxe", "")
        .ok("rdma link add rxe_eth1 type rxe netdev eth1", "");
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.apply(None, LIMIT).is_empty());
    drop(r);
    // The kernel shows it.
    f.put("sys/class/infiniband/rxe_eth1/parent", "eth1\n");
    let r = FakeRunner::new().ok("rdma link delete rxe_eth1", "");
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.verify(false).0.is_empty());
    assert!(t.restore(LIMIT).is_empty());
    drop(r);
    // One that was there before is used and kept.
    f.put("sys/class/infiniband/rxe0/parent", "eth1\n");
    std::fs::remove_dir_all(f.root.join("sys/class/infiniband/rxe_eth1")).unwrap();
    let r = FakeRunner::new();
    let t = tuner(&f, &tree, &r, "r0", &c);
    assert!(t.apply(None, LIMIT).is_empty());
    assert_eq!(t.load().0.entries["rxe:eth1"].original, "present rxe0");
    assert!(t.restore(LIMIT).is_empty());
    assert!(f.root.join("sys/class/infiniband/rxe0").exists());
}

#[test]
fn flush_options_and_attribute_lists_are_read() {
    let dump = "resource r0 {\n    disk {\n        disk-flushes no;\n        md-flushes      no;\n    }\n}\n";
    assert_eq!(
        unsafe_flush_options(dump),
        vec!["disk-flushes no", "md-flushes no"]
    );
    assert!(unsafe_flush_options("disk { disk-flushes yes; }\n").is_empty());
    assert_eq!(
        unsafe_flush_options("\tno-disk-flushes;\n"),
        vec!["disk-flushes no"]
    );
    let all = "name=\"drbd-r0-mtu\" host=\"node1\" value=\"9000\"\nname=\"drbd-r0-mtu\" host=\"node2\" value=\"1500\"\n";
    assert_eq!(
        parse_attrd_all(all),
        vec![
            ("node1".into(), "9000".into()),
            ("node2".into(), "1500".into())
        ]
    );
    assert_eq!(root_qdisc(QDISC_DEFAULT), Some(("fq_codel".into(), true)));
    assert_eq!(root_qdisc(QDISC_FQ), Some(("fq".into(), false)));
    assert_eq!(
        root_qdisc("qdisc mq 0: root \nqdisc fq_codel 0: parent :2 limit 10240p\n"),
        Some(("mq".into(), true))
    );
    assert!(is_cpulist("0-3,8,10-11") && !is_cpulist("0-") && !is_cpulist(""));
}

#[test]
fn drbd_options_are_compared_with_drbdsetup_show() {
    let show = "resource r0 {\n    options {\n    }\n    net {\n        max-buffers     \t2048;\n        sndbuf-size     \t2097152;\n        ko-count        \t4;\n    }\n    _this_host {\n        volume 0 {\n            disk {\n                al-extents      \t3389;\n            }\n        }\n    }\n}\n";
    let want = [
        ("max-buffers", "8000".to_string()),
        ("sndbuf-size", "2M".to_string()),
        ("ko-count", "4".to_string()),
        ("al-extents", "3389".to_string()),
        ("ping-int", "10".to_string()),
    ];
    let refs: Vec<&(&str, String)> = want.iter().collect();
    let d = drbd_show_drift(show, &refs);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (
            d[0].what.as_str(),
            d[0].expected.as_str(),
            d[0].now.as_str()
        ),
        ("DRBD max-buffers", "8000", "2048")
    );
}
