// SPDX-License-Identifier: GPL-2.0-or-later
//! The actions against the simulated host: sequences of dmsetup commands,
//! refusals with their reasons, and the one invariant that matters: no
//! dirty block is ever lost (`World::lost` stays 0).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::sim::{Sim, CACHE_BLOCKS, HDD, NVME};
use super::*;
use crate::cmd::{FakeRunner, Runner};
use crate::ocf::{Deadline, OcfEnv, StateDir};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const TABLE: &str = "0 2097152 writeboost 254:16 259:0 14 writeback_threshold 70 \
    nr_max_batched_writeback 32 update_sb_record_interval 0 sync_data_interval 0 \
    read_cache_threshold 0 write_around_mode 0 nr_read_cache_cells 2048";

fn create_cmd(table: &str) -> String {
    format!("dmsetup create wb0 --table '{table}'")
}

static DIRS: AtomicUsize = AtomicUsize::new(0);

struct Setup {
    env: OcfEnv,
    params: Params,
    cfg: Config,
    deadline: Deadline,
}

fn setup(extra: &[(&str, &str)], pacemaker: bool) -> Setup {
    let dir = std::env::temp_dir().join(format!(
        "storha-wb-test-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::SeqCst)
    ));
    let mut pairs: Vec<(String, String)> = vec![
        ("OCF_RESKEY_name".into(), "wb0".into()),
        ("OCF_RESKEY_backing_dev".into(), HDD.into()),
        ("OCF_RESKEY_cache_dev".into(), NVME.into()),
        ("HA_RSCTMP".into(), dir.to_string_lossy().into_owned()),
    ];
    for (k, v) in extra {
        pairs.push((format!("OCF_RESKEY_{k}"), v.to_string()));
    }
    if pacemaker {
        pairs.push(("OCF_RESKEY_crm_feature_set".into(), "3.16.1".into()));
    }
    let env = OcfEnv::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let params = Params::from_env(params::PARAMS, &env).expect("valid parameters");
    let cfg = Config::from_params(&params).expect("valid configuration");
    Setup {
        env,
        params,
        cfg,
        deadline: Deadline::after(Duration::from_secs(30)),
    }
}

impl Setup {
    fn ctx<'a>(&'a self, sim: &'a Sim, action: Action) -> Ctx<'a> {
        self.ctx_with(sim, action)
    }
    fn ctx_with<'a>(&'a self, runner: &'a dyn Runner, action: Action) -> Ctx<'a> {
        Ctx {
            agent: "writeboost-cache",
            instance: "wb".into(),
            action,
            env: &self.env,
            params: self.params.clone(),
            deadline: self.deadline,
            state: StateDir::new(&self.env, "writeboost-cache", "wb"),
            runner,
        }
    }
    fn start(&self, sim: &Sim) -> Result<(), OcfError> {
        start_with(&self.ctx(sim, Action::Start), &self.cfg, sim)
    }
    fn stop(&self, sim: &Sim) -> Result<(), OcfError> {
        stop_with(&self.ctx(sim, Action::Stop), &self.cfg, sim)
    }
    fn monitor(&self, sim: &Sim) -> Result<Health, OcfError> {
        monitor_with(&self.ctx(sim, Action::Monitor), &self.cfg, sim)
    }
    fn reload(&self, sim: &Sim) -> Result<(), OcfError> {
        reload_with(&self.ctx(sim, Action::Reload), &self.cfg, sim)
    }
}

fn code(r: Result<impl std::fmt::Debug, OcfError>) -> (u8, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (e.status().code(), e.to_string()),
    }
}

fn no_loss(sim: &Sim) {
    assert_eq!(sim.w.borrow().lost, 0, "dirty blocks were destroyed");
}

#[test]
fn unformatted_cache_is_refused_by_default_and_nothing_runs() {
    let sim = Sim::new();
    let s = setup(&[], false);
    let (c, why) = code(s.start(&sim));
    assert_eq!(c, 2);
    assert!(
        why.contains("no dm-writeboost superblock and format=never"),
        "{why}"
    );
    assert!(why.contains(NVME), "{why}");
    assert!(sim.calls().is_empty(), "{:?}", sim.calls());
    assert_eq!(sim.cache(), (false, 0));
    assert_eq!(s.monitor(&sim).ok(), Some(Health::NotRunning));
}

#[test]
fn if_unformatted_formats_once_with_every_option_in_the_table() {
    let sim = Sim::new();
    let s = setup(&[("format", "if-unformatted")], false);
    s.start(&sim).expect("starts");
    assert_eq!(sim.calls(), vec![create_cmd(TABLE)]);
    assert!(sim.cache().0, "formatted");
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
    // Idempotent: a second start runs nothing.
    sim.clear_calls();
    s.start(&sim).expect("starts again");
    assert!(sim.calls().is_empty(), "{:?}", sim.calls());
}

#[test]
fn valid_cache_is_resumed_never_reformatted_whatever_the_policy() {
    for format in ["never", "if-unformatted"] {
        let sim = Sim::new().formatted(500);
        let s = setup(&[("format", format)], false);
        s.start(&sim).expect("resumes");
        assert_eq!(sim.calls(), vec![create_cmd(TABLE)]);
        assert_eq!(sim.dirty("wb0"), Some(500), "replayed");
        no_loss(&sim);
    }
}

#[test]
fn stop_with_dirty_blocks_keeps_them_for_the_next_start() {
    let sim = Sim::new().formatted(0);
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    sim.write("wb0", 300);
    sim.clear_calls();
    s.stop(&sim).expect("stops");
    assert_eq!(
        sim.calls(),
        vec![
            "dmsetup suspend wb0",
            "dmsetup resume wb0",
            "dmsetup remove --retry wb0"
        ]
    );
    assert_eq!(sim.cache(), (true, 300), "the buffer reached the cache log");
    assert_eq!(s.monitor(&sim).ok(), Some(Health::NotRunning));
    s.start(&sim).expect("starts again");
    assert_eq!(sim.dirty("wb0"), Some(300));
    no_loss(&sim);
    // Stop is idempotent.
    s.stop(&sim).expect("stops");
    sim.clear_calls();
    s.stop(&sim).expect("stops again");
    assert!(sim.calls().is_empty());
}

fn drop_caches_calls(calls: &[String]) -> usize {
    calls
        .iter()
        .filter(|c| c.as_str() == "dmsetup message wb0 0 drop_caches")
        .count()
}

#[test]
fn full_flush_is_one_drop_caches_over_the_whole_budget_and_only_then_zeroes() {
    let sim = Sim::new().formatted(1000);
    let s = setup(
        &[
            ("format", "if-unformatted"),
            ("flush_on_stop", "full"),
            ("zero_superblock_on_stop", "true"),
        ],
        false,
    );
    s.start(&sim).expect("starts");
    sim.write("wb0", 24);
    sim.clear_calls();
    s.stop(&sim).expect("stops");
    assert_eq!(
        sim.calls(),
        vec![
            "dmsetup suspend wb0",
            "dmsetup resume wb0",
            "dmsetup message wb0 0 update_sb_record_interval 1",
            "dmsetup message wb0 0 drop_caches",
            "dmsetup message wb0 0 update_sb_record_interval 0",
            "dmsetup remove --retry wb0",
        ]
    );
    // Not a 5 s slice: the whole 30 s deadline but the reserves of the
    // record and the removal, so force_drop stays set for the whole drain.
    let limits = sim.w.borrow().drop_limits.clone();
    let limit = limits[0].expect("bounded");
    let most = Duration::from_secs(30) - REMOVE_RESERVE - RECORD_RESERVE;
    assert!(
        limit <= most && limit > most - Duration::from_secs(2),
        "{limit:?}"
    );
    assert_eq!(sim.w.borrow().zeroed, vec![NVME.to_string()]);
    assert!(
        sim.w.borrow().marked.is_empty(),
        "zeroed when asked, not marked"
    );
    assert_eq!(sim.cache(), (false, 0));
    no_loss(&sim);
}

#[test]
fn a_drain_that_runs_out_of_time_is_never_resent() {
    // The FakeRunner answers the one drop_caches with the timeout the real
    // runner gives at its limit: another call is a failure of the test.
    let sim = Sim::new().formatted(1000);
    let s = setup(&[("flush_on_stop", "full")], false);
    s.start(&sim).expect("starts");
    let runner = FakeRunner::new().answer(
        "dmsetup message wb0 0 drop_caches",
        Err(CmdError::Timeout {
            cmd: "dmsetup message wb0 0 drop_caches".into(),
            secs: 28.0,
        }),
    );
    let ctx = s.ctx_with(&runner, Action::Stop);
    let left = drain(&ctx, &sim, "wb0", REMOVE_RESERVE).expect("drains");
    assert_eq!(left, 1000, "the status after the call decides");
    assert_eq!(runner.calls(), vec!["dmsetup message wb0 0 drop_caches"]);

    // A drop_caches that fails is an error, not a retry.
    let runner = FakeRunner::new().fails(
        "dmsetup message wb0 0 drop_caches",
        1,
        "device-mapper: message ioctl on wb0 failed: Input/output error",
    );
    let ctx = s.ctx_with(&runner, Action::Stop);
    let why = drain(&ctx, &sim, "wb0", REMOVE_RESERVE)
        .expect_err("fails")
        .to_string();
    assert!(why.contains("Input/output error"), "{why}");
}

#[test]
fn full_flush_out_of_time_leaves_the_rest_on_the_cache_and_never_zeroes() {
    let sim = Sim::new().formatted(1000);
    let mut s = setup(
        &[
            ("format", "if-unformatted"),
            ("flush_on_stop", "full"),
            ("zero_superblock_on_stop", "true"),
        ],
        false,
    );
    s.start(&sim).expect("starts");
    sim.w.borrow_mut().drain_per_call = 1;
    s.deadline = Deadline::after(REMOVE_RESERVE + RECORD_RESERVE + Duration::from_millis(400));
    sim.clear_calls();
    // The agent's semantics: the data is safe on the persistent cache, so
    // stop removes the device and succeeds (a failed stop would fence the
    // node for nothing); only the zeroing is refused.
    s.stop(&sim).expect("stops with dirty blocks left");
    assert_eq!(drop_caches_calls(&sim.calls()), 1, "{:?}", sim.calls());
    let limit = sim.w.borrow().drop_limits[0].expect("bounded");
    assert!(limit <= Duration::from_millis(400), "{limit:?}");
    assert!(sim.query("wb0").expect("query").is_none(), "removed");
    assert!(sim.w.borrow().zeroed.is_empty());
    assert!(sim.w.borrow().marked.is_empty());
    assert_eq!(sim.cache(), (true, 999));
    // The record is not waited for with blocks still dirty, and the
    // interval is set back before the removal.
    assert_eq!(sim.w.borrow().record_reads, 0);
    let calls = sim.calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        [
            "dmsetup message wb0 0 update_sb_record_interval 0",
            "dmsetup remove --retry wb0"
        ]
    );
    no_loss(&sim);
}

/// A started device with `dirty` blocks in its RAM buffer.
fn dirty_device(sim: &Sim, s: &Setup, dirty: u64) {
    s.start(sim).expect("starts");
    sim.write("wb0", dirty);
    sim.clear_calls();
}

fn replayed(sim: &Sim) -> u64 {
    sim.w.borrow().replayed
}

#[test]
fn full_drain_persists_the_record_so_the_next_start_replays_nothing() {
    let sim = Sim::new().formatted(1000);
    let s = setup(&[("flush_on_stop", "full")], false);
    dirty_device(&sim, &s, 24);
    s.stop(&sim).expect("stops");
    let calls = sim.calls();
    // Raised before the drain, set back to the configured 0 before the
    // removal, after the record was read back at the last segment.
    let at = |c: &str| calls.iter().position(|x| x == c).expect(c);
    assert!(
        at("dmsetup message wb0 0 update_sb_record_interval 1")
            < at("dmsetup message wb0 0 drop_caches")
    );
    assert_eq!(
        &calls[calls.len() - 2..],
        [
            "dmsetup message wb0 0 update_sb_record_interval 0",
            "dmsetup remove --retry wb0"
        ]
    );
    let (record_reads, record) = {
        let w = sim.w.borrow();
        (w.record_reads, w.disks[1].record)
    };
    assert_eq!(record, 1, "the segment id of the drain's one writeback");
    assert!(record_reads > 1, "read until the updater wrote it");
    // Confirmed clean: the superblock header gives way to the drain's mark.
    assert_eq!(sim.w.borrow().marked, vec![NVME.to_string()]);
    assert!(sim.w.borrow().zeroed.is_empty());
    assert_eq!(sim.cache(), (false, 0));
    // The start after it (format=never, the default) formats the marked
    // cache: nothing dirty, nothing written back again, no clean copy left
    // to hide what reached backing_dev meanwhile.
    s.start(&sim).expect("starts again");
    assert_eq!(sim.dirty("wb0"), Some(0));
    assert_eq!(replayed(&sim), 0);
    assert_eq!(sim.cache(), (true, 0), "formatted anew");
    assert!(!sim.w.borrow().disks[1].drained);
    no_loss(&sim);
}

#[test]
fn only_the_drains_mark_lets_format_never_format() {
    // A device that merely lacks the magic is still refused.
    let sim = Sim::new();
    let s = setup(&[], false);
    let why = s.start(&sim).expect_err("refused").to_string();
    assert!(why.contains("format=never"), "{why}");
    assert!(sim.calls().is_empty());
    // A buffer-only stop keeps the superblock (dirty blocks stay on the
    // cache) and marks nothing.
    let sim = Sim::new().formatted(1000);
    dirty_device(&sim, &s, 24);
    s.stop(&sim).expect("stops");
    assert!(sim.w.borrow().marked.is_empty() && sim.w.borrow().zeroed.is_empty());
    assert!(sim.cache().0);
    s.start(&sim).expect("resumes");
    assert!(
        sim.dirty("wb0").expect("running") > 0,
        "replayed, not formatted"
    );
    no_loss(&sim);
}

#[test]
fn without_the_record_a_drained_cache_is_replayed_whole() {
    // What the record prevents, seen in the simulation: the same drain
    // with a cache device whose record never changes.
    let sim = Sim::new().formatted(1000);
    sim.w.borrow_mut().record_stuck = true;
    let mut s = setup(&[("flush_on_stop", "full")], false);
    dirty_device(&sim, &s, 24);
    s.deadline = Deadline::after(REMOVE_RESERVE + RECORD_RESERVE + Duration::from_millis(500));
    s.stop(&sim)
        .expect("stops: the data is on the backing disk");
    assert!(sim.query("wb0").expect("query").is_none(), "removed");
    assert!(sim.w.borrow().record_reads > 1);
    assert!(sim.w.borrow().marked.is_empty(), "unconfirmed: not marked");
    s.deadline = Deadline::after(Duration::from_secs(30));
    s.start(&sim).expect("starts again");
    assert_eq!(sim.dirty("wb0"), Some(1024));
    assert_eq!(replayed(&sim), 1024);
}

#[test]
fn an_unconfirmed_record_keeps_the_superblock_and_the_stop_in_time() {
    let sim = Sim::new().formatted(1000);
    sim.w.borrow_mut().record_stuck = true;
    let mut s = setup(
        &[
            ("format", "if-unformatted"),
            ("flush_on_stop", "full"),
            ("zero_superblock_on_stop", "true"),
        ],
        false,
    );
    dirty_device(&sim, &s, 24);
    s.deadline = Deadline::after(REMOVE_RESERVE + RECORD_RESERVE + Duration::from_millis(500));
    s.stop(&sim).expect("stops");
    assert!(
        s.deadline.remaining() >= REMOVE_RESERVE - RECORD_POLL * 2,
        "the wait left the removal its reserve: {:?}",
        s.deadline.remaining()
    );
    assert!(sim.query("wb0").expect("query").is_none(), "removed");
    assert!(sim.w.borrow().zeroed.is_empty(), "not zeroed");
    assert!(sim.w.borrow().marked.is_empty(), "not marked");
    assert_eq!(sim.cache(), (true, 0));
    let calls = sim.calls();
    assert_eq!(
        &calls[calls.len() - 2..],
        [
            "dmsetup message wb0 0 update_sb_record_interval 0",
            "dmsetup remove --retry wb0"
        ]
    );
    no_loss(&sim);
}

#[test]
fn a_record_that_cannot_be_raised_is_not_waited_for_nor_zeroed_over() {
    let sim = Sim::new().formatted(1000);
    let s = setup(
        &[
            ("format", "if-unformatted"),
            ("flush_on_stop", "full"),
            ("zero_superblock_on_stop", "true"),
        ],
        false,
    );
    dirty_device(&sim, &s, 24);
    sim.w.borrow_mut().fail = Some("dmsetup message wb0 0 update_sb_record_interval 1".into());
    s.stop(&sim).expect("stops: the drain itself worked");
    let calls = sim.calls();
    assert_eq!(drop_caches_calls(&calls), 1, "{calls:?}");
    assert!(
        !calls.contains(&"dmsetup message wb0 0 update_sb_record_interval 0".to_string()),
        "nothing to set back: {calls:?}"
    );
    assert!(sim.query("wb0").expect("query").is_none(), "removed");
    assert!(sim.w.borrow().zeroed.is_empty(), "not zeroed");
    assert!(sim.w.borrow().marked.is_empty(), "not marked");
    assert_eq!(sim.cache(), (true, 0));
    no_loss(&sim);
}

#[test]
fn a_configured_interval_is_restored_and_one_is_left_alone() {
    // 60: raised to 1 for the drain, then back to 60.
    let sim = Sim::new().formatted(500);
    let s = setup(
        &[
            ("flush_on_stop", "full"),
            ("update_sb_record_interval", "60"),
        ],
        false,
    );
    dirty_device(&sim, &s, 0);
    s.stop(&sim).expect("stops");
    let calls = sim.calls();
    assert!(calls.contains(&"dmsetup message wb0 0 update_sb_record_interval 60".to_string()));
    assert_eq!(sim.w.borrow().disks[1].record, 1);
    // 1: the kernel already writes it every second; no message at all.
    let sim = Sim::new().formatted(500);
    let s = setup(
        &[
            ("flush_on_stop", "full"),
            ("update_sb_record_interval", "1"),
        ],
        false,
    );
    dirty_device(&sim, &s, 0);
    s.stop(&sim).expect("stops");
    assert!(
        !sim.calls()
            .iter()
            .any(|c| c.contains("update_sb_record_interval")),
        "{:?}",
        sim.calls()
    );
    assert_eq!(sim.w.borrow().disks[1].record, 1);
    s.start(&sim).expect("starts");
    assert_eq!(sim.dirty("wb0"), Some(0));
}

#[test]
fn a_clean_cache_with_a_current_record_needs_no_message() {
    // Nothing dirty and the record already at the last written-back
    // segment: a full stop only reads it.
    let sim = Sim::new().formatted(0);
    let s = setup(&[("flush_on_stop", "full")], false);
    dirty_device(&sim, &s, 0);
    s.stop(&sim).expect("stops");
    assert_eq!(
        sim.calls(),
        vec![
            "dmsetup suspend wb0",
            "dmsetup resume wb0",
            "dmsetup remove --retry wb0"
        ]
    );
    assert_eq!(sim.w.borrow().record_reads, 1);
}

#[test]
fn a_clean_cache_with_a_stale_record_gets_it_written() {
    // Written back earlier (background writeback, or a drain of a stop
    // that could not confirm the record) but not recorded: a full stop
    // with nothing to drain still brings the record up to date.
    let sim = Sim::new().formatted(300);
    let s = setup(&[("flush_on_stop", "full")], false);
    dirty_device(&sim, &s, 0);
    // Written back while running, as the writeback daemon would.
    sim.w.borrow_mut().record_stuck = true;
    assert!(drain(&s.ctx(&sim, Action::Stop), &sim, "wb0", REMOVE_RESERVE).is_ok());
    sim.w.borrow_mut().record_stuck = false;
    sim.clear_calls();
    s.stop(&sim).expect("stops");
    assert_eq!(
        sim.calls(),
        vec![
            "dmsetup suspend wb0",
            "dmsetup resume wb0",
            "dmsetup message wb0 0 update_sb_record_interval 1",
            "dmsetup message wb0 0 update_sb_record_interval 0",
            "dmsetup remove --retry wb0"
        ]
    );
    s.start(&sim).expect("starts");
    assert_eq!(sim.dirty("wb0"), Some(0));
    assert_eq!(replayed(&sim), 0);
}

#[test]
fn progress_is_read_on_another_thread_while_the_call_waits() {
    let reads = Arc::new(AtomicUsize::new(0));
    let r = reads.clone();
    let probe: DirtyProbe = Box::new(move || {
        let n = r.fetch_add(1, Ordering::SeqCst) as u64 + 1;
        Some(1000u64.saturating_sub(n * 100))
    });
    let cut = crate::cmd::Cancel::new();
    let plenty = || Duration::from_secs(3600);
    let watch = Watch {
        name: "wb0",
        first: 1000,
        started: Instant::now(),
        probe_every: Duration::from_millis(5),
        log_every: Duration::from_millis(5),
        left: &plenty,
        cut: &cut,
    };
    let out = watched(&watch, Some(probe), || {
        std::thread::sleep(Duration::from_millis(100));
        "done"
    });
    assert_eq!(out, "done");
    let n = reads.load(Ordering::SeqCst);
    assert!(n >= 2, "probed {n} times");
    assert!(!cut.is_raised(), "plenty of time: never cut");
    // The watcher has ended with the call: nothing reads afterwards.
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(reads.load(Ordering::SeqCst), n);
    // Without a probe the work just runs.
    assert_eq!(watched(&watch, None, || 7), 7);
}

#[test]
fn the_drain_ends_while_the_time_left_still_covers_a_writeback_batch() {
    let s = Duration::from_secs;
    // Plenty left: go on.
    assert!(!cut_now(s(60), s(10), s(3)));
    // Batches took 10 s: ending at 11 s left (10 + a probe) leaves the
    // removal time to wait for the one in flight.
    assert!(cut_now(s(11), s(10), s(3)));
    assert!(!cut_now(s(12), s(10), s(3)));
    // No batch finished yet: the one in flight has run 8 s at least, so
    // the drain ends at about half the budget (the lab's 20 s stop).
    assert!(cut_now(s(9), Duration::ZERO, s(8)));
    assert!(!cut_now(s(10), Duration::ZERO, s(8)));
    // A fast disk: batches of milliseconds keep the drain to the end.
    assert!(!cut_now(
        Duration::from_millis(1500),
        Duration::from_millis(20),
        Duration::ZERO
    ));

    // The watcher sets `cut` from what it reads: a count that drops every
    // 20 ms, and a budget that shrinks below one such step plus a probe.
    let step = Arc::new(AtomicUsize::new(0));
    let st = step.clone();
    let probe: DirtyProbe = Box::new(move || {
        std::thread::sleep(Duration::from_millis(20));
        Some(1000 - 10 * st.fetch_add(1, Ordering::SeqCst) as u64)
    });
    let cut = crate::cmd::Cancel::new();
    let began = Instant::now();
    // PROBE_EVERY (1 s) is part of the margin: 1.2 s of budget is cut at
    // once, with a step of 20 ms.
    let left = move || Duration::from_millis(1200).saturating_sub(began.elapsed());
    let watch = Watch {
        name: "wb0",
        first: 1000,
        started: Instant::now(),
        probe_every: Duration::from_millis(1),
        log_every: Duration::from_secs(60),
        left: &left,
        cut: &cut,
    };
    let waited = watched(&watch, Some(probe), || {
        let t = Instant::now();
        while !cut.is_raised() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        t.elapsed()
    });
    assert!(cut.is_raised());
    assert!(waited < Duration::from_secs(1), "cut after {waited:?}");
}

#[test]
fn stop_under_a_holder_or_mount_refuses_and_touches_nothing() {
    for user in ["drbd0", "mount /srv/data", "dm-7 (vg-lv)"] {
        let sim = Sim::new().formatted(0);
        let s = setup(&[], false);
        s.start(&sim).expect("starts");
        sim.write("wb0", 5);
        sim.w
            .borrow_mut()
            .devs
            .get_mut("wb0")
            .expect("dev")
            .users
            .push(user.into());
        sim.clear_calls();
        let (c, why) = code(s.stop(&sim));
        assert_eq!(c, 1);
        assert!(why.contains(user) && why.contains("still in use"), "{why}");
        assert!(sim.calls().is_empty(), "{:?}", sim.calls());
        assert_eq!(sim.dirty("wb0"), Some(5));
    }
    let sim = Sim::new().formatted(0);
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    sim.w
        .borrow_mut()
        .devs
        .get_mut("wb0")
        .expect("dev")
        .open_count = 1;
    sim.clear_calls();
    let (_, why) = code(s.stop(&sim));
    assert!(
        why.contains("held open 1 time(s) by dd (pid 4242)"),
        "{why}"
    );
    assert!(sim.calls().is_empty());
}

#[test]
fn write_around_on_a_valid_cache_needs_force_which_drains_first() {
    let sim = Sim::new().formatted(700);
    let s = setup(
        &[("write_around_mode", "true"), ("format", "if-unformatted")],
        false,
    );
    let (c, why) = code(s.start(&sim));
    assert_eq!(c, 2);
    assert!(
        why.contains("write_around_mode=true would reformat"),
        "{why}"
    );
    assert!(sim.calls().is_empty());

    let s = setup(&[("write_around_mode", "true"), ("format", "force")], false);
    s.start(&sim).expect("starts after writing everything back");
    let calls = sim.calls();
    assert_eq!(
        calls[0],
        create_cmd(TABLE),
        "first resumed without write-around"
    );
    assert!(calls.iter().any(|c| c.ends_with("drop_caches")));
    let last = calls.last().expect("calls");
    assert!(last.contains("write_around_mode 1"), "{last}");
    assert_eq!(sim.w.borrow().zeroed, vec![NVME.to_string()]);
    no_loss(&sim);
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
}

#[test]
fn force_that_cannot_drain_in_time_fails_and_keeps_the_cache() {
    let sim = Sim::new().formatted(700);
    sim.w.borrow_mut().drain_per_call = 1;
    let mut s = setup(&[("format", "force")], false);
    s.deadline = Deadline::after(REMOVE_RESERVE * 3 + Duration::from_millis(300));
    let (c, why) = code(s.start(&sim));
    assert_eq!(c, 1);
    assert!(why.contains("left intact"), "{why}");
    assert!(
        why.contains("699 dirty blocks were not written back"),
        "{why}"
    );
    assert_eq!(drop_caches_calls(&sim.calls()), 1, "{:?}", sim.calls());
    assert!(sim.query("wb0").expect("query").is_none());
    assert!(sim.cache().0 && sim.cache().1 > 0);
    assert!(sim.w.borrow().zeroed.is_empty());
    no_loss(&sim);
}

#[test]
fn a_different_table_under_the_name_is_refused() {
    let sim = Sim::new().formatted(0);
    sim.foreign("wb0", "linear", "254:16 0");
    let s = setup(&[], false);
    let (c, why) = code(s.start(&sim));
    assert_eq!(c, 2);
    assert!(
        why.contains("not a writeboost device (table: linear)"),
        "{why}"
    );
    let (c, why) = code(s.stop(&sim));
    assert_eq!(c, 1, "stop must not pretend: {why}");
    assert!(why.contains("not removing it"));
    assert!(code(s.monitor(&sim)).1.contains("not a writeboost"));

    let sim = Sim::new().formatted(0);
    sim.foreign("wb0", "writeboost", "8:0 8:16 0");
    let (_, why) = code(s.start(&sim));
    assert!(why.contains("writeboost over 8:0 with cache 8:16"), "{why}");
    assert!(code(s.stop(&sim)).1.contains("not removing it"));
    assert!(sim.calls().is_empty());
}

#[test]
fn static_options_differing_from_the_live_table_are_reported() {
    let sim = Sim::new().formatted(0);
    setup(&[], false).start(&sim).expect("starts");
    let s = setup(&[("nr_read_cache_cells", "64")], false);
    let (_, why) = code(s.monitor(&sim));
    assert!(
        why.contains("nr_read_cache_cells is 2048, configured 64"),
        "{why}"
    );
    assert!(code(s.start(&sim)).1.contains("refusing"));
}

#[test]
fn missing_module_is_loaded_or_reported_as_not_installed() {
    let sim = Sim::new().formatted(0);
    sim.w.borrow_mut().module = false;
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    assert_eq!(sim.calls()[0], "modprobe dm-writeboost");

    let sim = Sim::new().formatted(0);
    {
        let mut w = sim.w.borrow_mut();
        w.module = false;
        w.modprobe_ok = false;
    }
    let (c, why) = code(s.start(&sim));
    assert_eq!(c, 5);
    assert!(why.contains("Module dm-writeboost not found"), "{why}");
}

#[test]
fn start_refuses_devices_that_are_missing_the_same_or_in_use() {
    let sim = Sim::new().formatted(0);
    let s = setup(&[("backing_dev", "/dev/disk/by-id/gone")], false);
    let (c, why) = code(s.start(&sim));
    assert_eq!(
        (c, why.as_str()),
        (
            2,
            "backing_dev /dev/disk/by-id/gone does not exist on this node"
        )
    );

    let sim = Sim::new().formatted(0);
    sim.w.borrow_mut().disks[0].users.push("mount /mnt".into());
    let (c, why) = code(setup(&[], false).start(&sim));
    assert_eq!(c, 2);
    assert!(
        why.contains("backing_dev /dev/disk/by-id/virtio-hdd is in use by mount /mnt"),
        "{why}"
    );

    let sim = Sim::new().formatted(0);
    {
        let mut w = sim.w.borrow_mut();
        let id = w.disks[1].id;
        w.disks[0].id = id;
    }
    assert!(code(setup(&[], false).start(&sim))
        .1
        .contains("are the same device"));
    assert!(sim.calls().is_empty());
}

#[test]
fn suspended_device_fails_monitor_and_is_resumed_by_start_and_stop() {
    let sim = Sim::new().formatted(0);
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    sim.w
        .borrow_mut()
        .devs
        .get_mut("wb0")
        .expect("dev")
        .suspended = true;
    assert!(code(s.monitor(&sim)).1.contains("suspended"));
    sim.clear_calls();
    s.start(&sim).expect("start resumes it");
    assert_eq!(sim.calls(), vec!["dmsetup resume wb0"]);
    sim.w
        .borrow_mut()
        .devs
        .get_mut("wb0")
        .expect("dev")
        .suspended = true;
    s.stop(&sim).expect("stops");
    assert!(sim.query("wb0").expect("q").is_none());
}

#[test]
fn monitor_runs_no_command_and_reports_the_attribute_only_when_it_changes() {
    let sim = Sim::new().formatted(10);
    let quiet = setup(&[], false);
    quiet.start(&sim).expect("starts");
    sim.clear_calls();
    assert_eq!(quiet.monitor(&sim).ok(), Some(Health::Running));
    assert!(sim.calls().is_empty(), "outside Pacemaker: no command");

    let s = setup(&[], true);
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
    assert_eq!(
        sim.calls(),
        vec!["attrd_updater -n writeboost-wb0-dirty -U 10"]
    );
    sim.clear_calls();
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
    assert!(sim.calls().is_empty(), "unchanged: no command");
    sim.write("wb0", 5);
    s.monitor(&sim).expect("runs");
    assert_eq!(
        sim.calls(),
        vec!["attrd_updater -n writeboost-wb0-dirty -U 15"]
    );
    sim.clear_calls();
    s.stop(&sim).expect("stops");
    assert_eq!(
        sim.calls().last().map(String::as_str),
        Some("attrd_updater -n writeboost-wb0-dirty -D")
    );
}

#[test]
fn monitor_degrades_above_dirty_warn_pct() {
    let sim = Sim::new().formatted(CACHE_BLOCKS / 2);
    let s = setup(&[("dirty_warn_pct", "40")], false);
    s.start(&sim).expect("starts");
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Degraded));
    let s = setup(&[("dirty_warn_pct", "60")], false);
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
}

#[test]
fn reload_sends_only_changed_tunables_as_messages() {
    let sim = Sim::new().formatted(0);
    setup(&[], false).start(&sim).expect("starts");
    sim.clear_calls();
    let s = setup(
        &[("writeback_threshold", "20"), ("read_cache_threshold", "8")],
        false,
    );
    s.reload(&sim).expect("reloads");
    assert_eq!(
        sim.calls(),
        vec![
            "dmsetup message wb0 0 writeback_threshold 20",
            "dmsetup message wb0 0 nr_max_batched_writeback 32",
            "dmsetup message wb0 0 read_cache_threshold 8",
        ]
    );
    assert_eq!(s.monitor(&sim).ok(), Some(Health::Running));
    // Not running: nothing to do, the values apply at the next start.
    let sim = Sim::new();
    s.reload(&sim).expect("nothing to reload");
    assert!(sim.calls().is_empty());
}

#[test]
fn failed_suspend_still_resumes() {
    let sim = Sim::new().formatted(0);
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    sim.w.borrow_mut().fail = Some("dmsetup suspend wb0".into());
    sim.clear_calls();
    let (c, why) = code(s.stop(&sim));
    assert_eq!(c, 1);
    assert!(why.contains("dmsetup suspend wb0: exit 1"), "{why}");
    assert_eq!(
        sim.calls(),
        vec!["dmsetup suspend wb0", "dmsetup resume wb0"]
    );
    assert!(sim.query("wb0").expect("q").is_some());
}

#[test]
fn observe_reports_dirty_blocks_and_use() {
    let sim = Sim::new().formatted(127);
    let s = setup(&[], false);
    s.start(&sim).expect("starts");
    let v = observe_with(&s.cfg, &sim).expect("observes");
    assert_eq!(v["running"], true);
    assert_eq!(v["dirty_blocks"], 127);
    assert_eq!(v["dirty_bytes"], 127 * 4096);
    assert_eq!(v["cache_blocks"], CACHE_BLOCKS);
    assert_eq!(v["backing"], "254:16");
    assert_eq!(v["cache_superblock"], true);
    assert_eq!(v["tunables"]["writeback_threshold"], 70);
}

#[test]
fn through_the_framework_broken_parameters_touch_nothing() {
    // The framework path with the real System host: parameters are refused
    // before any host access, and stop/probe are softened.
    use crate::cmd::FakeRunner;
    use crate::ocf::{run_with, OcfStatus, RunOpts};
    let go = |action: &str, pairs: &[(&str, &str)]| {
        let env = OcfEnv::from_pairs(pairs.iter().copied());
        let runner = FakeRunner::new();
        run_with::<WriteboostCache>(
            action,
            &env,
            &runner,
            Deadline::after(Duration::from_secs(5)),
            RunOpts::default(),
        )
    };
    let hostile = [
        ("OCF_RESKEY_name", "wb0; reboot"),
        ("OCF_RESKEY_backing_dev", "/dev/sda"),
        ("OCF_RESKEY_cache_dev", "/dev/nvme0n1"),
    ];
    let o = go("start", &hostile);
    assert_eq!(o.status, OcfStatus::ErrConfigured);
    assert!(o
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("may only contain")));
    assert_eq!(go("stop", &hostile).status, OcfStatus::Success);
    assert_eq!(go("monitor", &hostile).status, OcfStatus::NotRunning);
    assert_eq!(go("validate-all", &[]).status, OcfStatus::ErrConfigured);
    let o = go("meta-data", &[]);
    assert!(o
        .stdout
        .contains("<parameter name=\"cache_dev\" unique=\"1\" required=\"1\">"));
    assert!(o.stdout.contains("<action name=\"reload\""));
}
