// SPDX-License-Identifier: GPL-2.0-or-later
//! writeboost-cache: one dm-writeboost device, managed so that no dirty
//! block is ever lost.
//!
//! Reads go through the device-mapper ioctl interface and sysfs (monitor
//! runs no command at all unless it reports a changed node attribute);
//! every change goes through `dmsetup` on the runner, where it is logged
//! and bounded by the operation's deadline. The cache device is only ever
//! formatted when `format` says so, and only ever zeroed after a flush that
//! left no dirty block.

pub mod dm;
pub(crate) mod host;
mod params;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use crate::cmd::{Cancel, Cmd, CmdError};
use crate::ocf::attrs::NodeAttr;
use crate::ocf::{env, Action, Agent, AgentMeta, Ctx, Health, OcfError, Params};
use crate::{args_err, generic};
pub(crate) use dm::DevId;
use dm::{WbStatus, WbTable};
use host::{BlockDev, DirtyProbe, DmDevice, Host, System, HEAD};
use params::{Config, Flush, Format, DYNAMIC};
use serde_json::json;
use std::time::{Duration, Instant};

pub struct WriteboostCache;

/// Time kept back from a flush for removing the device afterwards.
const REMOVE_RESERVE: Duration = Duration::from_secs(2);
/// Time kept back from a full drain, besides the removal's, for the
/// superblock record to reach the last written-back segment: the kernel's
/// updater looks at its interval once a second.
const RECORD_RESERVE: Duration = Duration::from_secs(2);
/// How often the record is read while waiting for it.
const RECORD_POLL: Duration = Duration::from_millis(100);
/// The tunable that makes the kernel write the superblock record.
const SB_RECORD: &str = "update_sb_record_interval";
/// How often the dirty count is logged while `drop_caches` runs.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// How often it is read meanwhile, to end the drain in time (`cut_now`).
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// A node attribute is refreshed at least this often even when unchanged,
/// so a restarted attribute manager gets the value back.
const ATTR_REFRESH: Duration = Duration::from_secs(300);

fn dmsetup<'a>(args: impl IntoIterator<Item = &'a str>) -> Cmd {
    Cmd::new("dmsetup").args(args)
}

/// The running device, checked to be one writeboost target.
struct Live {
    dev: DevId,
    suspended: bool,
    open_count: i32,
    table: WbTable,
    status: WbStatus,
}

fn live(d: &DmDevice, name: &str) -> Result<Live, OcfError> {
    if !d.table.has_live_table() {
        return Err(generic!("{name} exists but has no active table"));
    }
    let (t, s) = match (d.table.targets.as_slice(), d.status.targets.as_slice()) {
        ([t], [s]) if t.target_type == "writeboost" && s.target_type == "writeboost" => (t, s),
        (ts, _) => {
            let types: Vec<&str> = ts.iter().map(|t| t.target_type.as_str()).collect();
            return Err(generic!(
                "/dev/mapper/{name} exists but is not a writeboost device (table: {})",
                if types.is_empty() {
                    "empty".to_string()
                } else {
                    types.join(", ")
                }
            ));
        }
    };
    let table = dm::parse_table(&t.params).map_err(|e| generic!("{name}: {e}"))?;
    let status = dm::parse_status(&s.params).map_err(|e| generic!("{name}: {e}"))?;
    Ok(Live {
        dev: d.table.dev,
        suspended: d.table.suspended() || d.status.suspended(),
        open_count: d.table.open_count,
        table,
        status,
    })
}

/// Why the live table is not the configured one, if it is not.
fn mismatch(l: &Live, cfg: &Config, backing: &BlockDev, cache: &BlockDev) -> Option<String> {
    if l.table.backing != backing.id || l.table.cache != cache.id {
        return Some(format!(
            "/dev/mapper/{} is writeboost over {} with cache {}, not over {} ({}) with cache {} ({})",
            cfg.name,
            l.table.backing,
            l.table.cache,
            cfg.backing_dev,
            backing.id,
            cfg.cache_dev,
            cache.id
        ));
    }
    None
}

/// Static options of the live table that differ from the configuration.
fn static_mismatch(l: &Live, cfg: &Config) -> Option<String> {
    let want = [
        (
            "write_around_mode",
            u8::from(cfg.write_around_mode).to_string(),
        ),
        ("nr_read_cache_cells", cfg.nr_read_cache_cells.to_string()),
    ];
    let diff: Vec<String> = want
        .iter()
        .filter_map(|(k, v)| match l.table.arg(k) {
            Some(have) if have != v => Some(format!("{k} is {have}, configured {v}")),
            _ => None,
        })
        .collect();
    if diff.is_empty() {
        None
    } else {
        Some(format!(
            "/dev/mapper/{} runs with {}",
            cfg.name,
            diff.join(", ")
        ))
    }
}

fn devices(host: &dyn Host, cfg: &Config) -> Result<(BlockDev, BlockDev), OcfError> {
    Ok((
        host.block_dev("backing_dev", &cfg.backing_dev)?,
        host.block_dev("cache_dev", &cfg.cache_dev)?,
    ))
}

/// Host checks of validate-all and start: both devices exist here, are
/// block devices, differ, are big enough, and nothing but our own device
/// uses them.
fn check_host(host: &dyn Host, cfg: &Config) -> Result<(BlockDev, BlockDev), OcfError> {
    let (b, c) = devices(host, cfg)?;
    if b.id == c.id {
        return Err(args_err!(
            "backing_dev {} and cache_dev {} are the same device ({}): dm-writeboost would \
             format the data device as its cache",
            b.path,
            c.path,
            b.id
        ));
    }
    // The superblock area (1 MiB) and one 512 KiB segment.
    if c.sectors < 2048 + 1024 {
        return Err(args_err!(
            "cache_dev {} has {} sectors: too small for a dm-writeboost cache (at least 1.5 MiB)",
            c.path,
            c.sectors
        ));
    }
    for (param, d) in [("backing_dev", &b), ("cache_dev", &c)] {
        let users = host.users(d.id, Some(&cfg.name));
        if !users.is_empty() {
            return Err(args_err!(
                "{param} {} is in use by {}",
                d.path,
                users.join(", ")
            ));
        }
    }
    Ok((b, c))
}

fn create(
    ctx: &Ctx,
    cfg: &Config,
    b: &BlockDev,
    c: &BlockDev,
    cfg_wam: bool,
) -> Result<(), OcfError> {
    // Device numbers, not paths: the devices whose magic was just read are
    // exactly the ones the table gets, whatever a symlink points to now.
    let mut args = cfg.table_args();
    if !cfg_wam {
        for i in (1..args.len()).step_by(2) {
            if args[i] == "write_around_mode" {
                args[i + 1] = "0".into();
            }
        }
    }
    let table = format!(
        "0 {} writeboost {} {} {}",
        b.sectors,
        b.id,
        c.id,
        args.join(" ")
    );
    log::info!("creating {}: {table}", cfg.name);
    ctx.runner.run(&dmsetup([
        "create",
        cfg.name.as_str(),
        "--table",
        table.as_str(),
    ]))?;
    Ok(())
}

fn remove(ctx: &Ctx, name: &str) -> Result<(), OcfError> {
    // --retry: udev (blkid) or a monitoring tool may still have the device
    // open for a moment after the resume that flushed the buffer.
    ctx.runner.run(&dmsetup(["remove", "--retry", name]))?;
    Ok(())
}

/// Suspend and resume: postsuspend writes the RAM buffer to the cache log
/// and flushes the cache device. Without it drop_caches can wait forever.
fn flush_buffer(ctx: &Ctx, name: &str) -> Result<(), OcfError> {
    let r = ctx.runner.run(&dmsetup(["suspend", name]));
    // Whatever suspend did, never leave the device suspended: I/O to it
    // would block every layer above.
    let r2 = ctx.runner.run(&dmsetup(["resume", name]));
    r?;
    r2?;
    Ok(())
}

fn status_of(host: &dyn Host, name: &str) -> Result<Live, OcfError> {
    match host.query(name)? {
        Some(d) => live(&d, name),
        None => Err(generic!("{name} vanished")),
    }
}

/// Writes every dirty block back with one `drop_caches` that may use all
/// of the deadline but `reserve`, until none is left or the time is spent.
/// Returns the dirty count last seen in the status.
///
/// One call, not slices: dm-writeboost 2.2.17 writes back unconditionally
/// only while `force_drop` is set, and the message sets it on entry and
/// clears it when the wait ends, also when a signal ends it (target.c
/// `writeboost_message`). With it clear, the writeback daemon sleeps 1 s
/// before looking again (daemon.c `do_writeback_proc`), so a drain cut
/// into 5 s slices lost up to a fifth of its time. The wait is
/// interruptible: killing `dmsetup` at the limit is harmless. The count
/// is read from another thread meanwhile, logged, and ends the call early
/// once the time left only covers the writeback batch in flight, which the
/// removal must wait for (`cut_now`).
fn drain(ctx: &Ctx, host: &dyn Host, name: &str, reserve: Duration) -> Result<u64, OcfError> {
    let started = Instant::now();
    let mut first = None;
    // The runner reports a timeout only once the limit, which is all the
    // time there was, is spent.
    let mut spent = false;
    loop {
        let dirty = status_of(host, name)?.status.nr_dirty;
        let first = *first.get_or_insert(dirty);
        if dirty == 0 {
            log::info!(
                "{name}: all {first} dirty blocks written back in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(0);
        }
        let left = ctx.deadline.remaining().saturating_sub(reserve);
        if spent || left < Duration::from_millis(200) {
            log::warn!(
                "{name}: {dirty} of {first} dirty blocks still on the cache when the time ran out \
                 ({:.1}s); they stay safe on the cache device and are replayed at the next start",
                started.elapsed().as_secs_f64()
            );
            return Ok(dirty);
        }
        log::info!(
            "{name}: writing back {dirty} dirty blocks (drop_caches, at most {:.0}s)",
            left.as_secs_f64()
        );
        let cut = Cancel::new();
        let cmd = dmsetup(["message", name, "0", "drop_caches"])
            .timeout(left)
            .cancel(&cut);
        let probe = host.dirty_probe(name);
        let deadline = ctx.deadline;
        let left_now = move || deadline.remaining().saturating_sub(reserve);
        let watch = Watch {
            name,
            first,
            started,
            probe_every: PROBE_EVERY,
            log_every: PROGRESS_EVERY,
            left: &left_now,
            cut: &cut,
        };
        // The kernel's wait in drop_caches is interruptible: ending dmsetup
        // ends it at once, and the dirty blocks left stay on the cache.
        let out = watched(&watch, probe, || ctx.runner.run(&cmd).map(|_| ()));
        match out {
            // Done, or new writes came in meanwhile: the status decides.
            Ok(()) => {}
            // Out of time, or ended early to leave the removal its time.
            Err(CmdError::Timeout { .. } | CmdError::Cancelled { .. }) => spent = true,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Whether to end the drain now, with `left` of the budget (less the
/// removal's reserve) still to go. Removing the device waits for the
/// writeback batch in flight: the target's destructor stops the writeback
/// daemon, which first finishes its batch (up to 32 segments, 4064 block
/// writes and a flush of the backing device; 6 s over the lab's slow disk,
/// where the 2 s reserve alone let the stop overrun its timeout). So what
/// is left must still cover one batch: the longest seen between two drops
/// of the dirty count, or the time since the last drop, as long as the
/// batch in flight has already run.
fn cut_now(left: Duration, longest: Duration, since_drop: Duration) -> bool {
    left <= longest.max(since_drop) + PROBE_EVERY
}

/// What the watcher of a drain needs.
struct Watch<'a> {
    name: &'a str,
    /// Dirty blocks when the drain began, at `started`.
    first: u64,
    started: Instant,
    probe_every: Duration,
    log_every: Duration,
    /// The drain's time left (deadline less the removal's reserve).
    left: &'a (dyn Fn() -> Duration + Sync),
    /// Set when the drain must end now (`cut_now`).
    cut: &'a Cancel,
}

/// Runs `work` on this thread while another one reads the dirty count
/// every `probe_every`, logs it every `log_every` (a kernel wait shows no
/// progress of its own) with the rate since the drain began, and sets
/// `cut` once the time left only covers the writeback batch in flight.
fn watched<T>(w: &Watch, probe: Option<DirtyProbe>, work: impl FnOnce() -> T) -> T {
    let Some(probe) = probe else {
        return work();
    };
    let (done, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            let name = w.name;
            let first = w.first;
            let mut last = first;
            let mut last_drop = Instant::now();
            let mut longest = Duration::ZERO;
            let mut logged = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wait.recv_timeout(w.probe_every)
            {
                let Some(dirty) = probe() else { continue };
                let now = Instant::now();
                if dirty < last {
                    longest = longest.max(now - last_drop);
                    last_drop = now;
                }
                last = dirty;
                let since = now - last_drop;
                if !w.cut.is_raised() && cut_now((w.left)(), longest, since) {
                    log::info!(
                        "{name}: ending the drain with {dirty} dirty blocks left: removing the \
                         device waits for the writeback batch in flight (batches took up to \
                         {:.0}s, this one has run {:.0}s)",
                        longest.as_secs_f64(),
                        since.as_secs_f64()
                    );
                    w.cut.raise();
                }
                if now - logged >= w.log_every {
                    logged = now;
                    let secs = w.started.elapsed().as_secs_f64();
                    let rate = first.saturating_sub(dirty) as f64 / secs.max(0.001);
                    let eta = if rate > 0.0 {
                        format!(", about {:.0}s to go", dirty as f64 / rate)
                    } else {
                        String::new()
                    };
                    log::info!(
                        "{name}: {dirty} of {first} dirty blocks left after {secs:.0}s \
                         ({rate:.0} blocks/s{eta})"
                    );
                }
            }
        });
        let out = work();
        drop(done);
        out
    })
}

/// The configured `update_sb_record_interval`.
fn sb_interval(cfg: &Config) -> u32 {
    DYNAMIC
        .iter()
        .zip(cfg.tunables)
        .find(|(k, _)| **k == SB_RECORD)
        .map_or(0, |(_, v)| v)
}

/// `update_sb_record_interval` of the running device, raised to 1 while a
/// full drain needs the record and set back to the configured value after.
struct SbRecord<'a> {
    ctx: &'a Ctx<'a>,
    name: &'a str,
    configured: u32,
    raised: bool,
}

impl SbRecord<'_> {
    fn set(&self, secs: u32) -> Result<(), OcfError> {
        let v = secs.to_string();
        self.ctx
            .runner
            .run(&dmsetup(["message", self.name, "0", SB_RECORD, v.as_str()]))?;
        Ok(())
    }

    /// Makes the kernel write the record every second; false (with a
    /// warning) when it cannot.
    fn raise(&mut self) -> bool {
        if self.raised || self.configured == 1 {
            return true;
        }
        match self.set(1) {
            Ok(()) => {
                self.raised = true;
                true
            }
            Err(e) => {
                log::warn!(
                    "{}: cannot make the kernel update the superblock record: {e}",
                    self.name
                );
                false
            }
        }
    }

    fn restore(self) {
        if self.raised {
            if let Err(e) = self.set(self.configured) {
                log::warn!(
                    "{}: could not set {SB_RECORD} back to {}: {e}",
                    self.name,
                    self.configured
                );
            }
        }
    }
}

/// The full drain of a stop: every dirty block written back, then the
/// superblock record persisted at the last written-back segment. Without
/// the record the next start replays the whole log, takes every block as
/// dirty again and writes it back a second time, over whatever reached the
/// backing disk meanwhile. The kernel writes the record only while
/// `update_sb_record_interval` is above 0 (0 is its default): it is set to
/// 1 for the drain, so that the record follows the writeback, and back to
/// the configured value at the end. Returns the dirty blocks left and
/// whether the record was seen, on the cache device, to cover every
/// written-back segment.
fn full_drain(
    ctx: &Ctx,
    cfg: &Config,
    host: &dyn Host,
    cache: &BlockDev,
    dirty: u64,
) -> Result<(u64, bool), OcfError> {
    let name = cfg.name.as_str();
    let mut sb = SbRecord {
        ctx,
        name,
        configured: sb_interval(cfg),
        raised: false,
    };
    let mut left = Ok(dirty);
    if dirty > 0 {
        sb.raise();
        left = drain(ctx, host, name, REMOVE_RESERVE + RECORD_RESERVE);
    }
    let recorded = matches!(left, Ok(0)) && persist_record(ctx, host, name, cache, &mut sb);
    sb.restore();
    Ok((left?, recorded))
}

/// Waits, within the deadline but the removal's reserve, until the
/// superblock record read from the cache device names the last
/// written-back segment of the status (read again each time: the batch
/// that wrote the last dirty block counts its segments just after). The
/// interval is raised only when the record is behind. Logs the outcome;
/// true when the record covers the writeback.
fn persist_record(
    ctx: &Ctx,
    host: &dyn Host,
    name: &str,
    cache: &BlockDev,
    sb: &mut SbRecord,
) -> bool {
    let started = Instant::now();
    let (record, target) = loop {
        let target = match status_of(host, name) {
            Ok(l) => l.status.last_writeback_id,
            Err(e) => {
                log::warn!("{name}: cannot read the status to check the superblock record: {e}");
                return false;
            }
        };
        let record = match host.read_record(cache) {
            Ok(r) => r,
            Err(e) => {
                log::warn!("{name}: cannot read the superblock record: {e}");
                return false;
            }
        };
        if record >= target {
            log::info!(
                "{name}: superblock record on {} at segment {record} (last written back \
                 {target}) after {:.1}s: the next start replays no block already written back",
                cache.path,
                started.elapsed().as_secs_f64()
            );
            return true;
        }
        if !sb.raise() || ctx.deadline.remaining() <= REMOVE_RESERVE + RECORD_POLL {
            break (record, target);
        }
        std::thread::sleep(RECORD_POLL);
    };
    log::warn!(
        "{name}: the superblock record on {} names segment {record}, not the last written-back \
         segment {target}, after {:.1}s: the next start replays the log and writes its blocks \
         back to the backing disk again, over anything written there meanwhile; do not write \
         to the backing disk without the cache before that start",
        cache.path,
        started.elapsed().as_secs_f64()
    );
    false
}

/// The dirty-count node attribute, written only when it changed (or is
/// old), so that a monitor usually runs no command at all.
fn dirty_attr(cfg: &Config) -> NodeAttr<'_> {
    NodeAttr {
        name: cfg.node_attribute.as_str(),
        cache: "dirty",
        refresh: ATTR_REFRESH,
    }
}

fn report_dirty(ctx: &Ctx, cfg: &Config, dirty: u64) {
    dirty_attr(cfg).report(ctx, &dirty.to_string());
}

fn clear_attribute(ctx: &Ctx, cfg: &Config) {
    dirty_attr(cfg).clear(ctx);
}

fn start_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let name = cfg.name.as_str();
    if let Some(d) = host.query(name)? {
        let l = live(&d, name).map_err(|e| args_err!("{e}; refusing to touch it"))?;
        let (b, c) = devices(host, cfg)?;
        if let Some(why) = mismatch(&l, cfg, &b, &c).or_else(|| static_mismatch(&l, cfg)) {
            return Err(args_err!("{why}; refusing to touch it"));
        }
        if l.suspended {
            log::info!("{name} is running but suspended; resuming it");
            ctx.runner.run(&dmsetup(["resume", name]))?;
        } else {
            log::info!("{name} is already running over {} and {}", b.path, c.path);
        }
        return verify_started(host, cfg, &b, &c);
    }
    let (b, c) = check_host(host, cfg)?;
    let head = host.read_head(&c)?;
    let formatted = dm::has_magic(&head);
    // The mark of a confirmed full drain: the log held no dirty block, so
    // formatting loses nothing, and it must be formatted (its clean copies
    // would hide what was written to backing_dev since).
    let drained = !formatted && dm::is_drained(&head);
    // Refusals first: they need neither the module nor any change.
    match (formatted, cfg.format) {
        (true, Format::Force) => {}
        (true, _) if cfg.write_around_mode => {
            return Err(args_err!(
                "cache_dev {} holds a dm-writeboost cache and write_around_mode=true would \
                 reformat it, discarding its dirty blocks; set format=force to write them back \
                 first, or write_around_mode=false",
                c.path
            ));
        }
        (false, Format::Never) if !drained => {
            return Err(args_err!(
                "cache_dev {} has no dm-writeboost superblock and format=never: refusing to \
                 format it; set format=if-unformatted to format it",
                c.path
            ));
        }
        _ => {}
    }
    if !host.module_loaded() {
        log::info!("loading dm-writeboost");
        ctx.runner
            .run(&Cmd::new("modprobe").arg("dm-writeboost"))
            .map_err(|e| OcfError::NotInstalled(format!("dm-writeboost is not available: {e}")))?;
    }
    match (formatted, cfg.format) {
        (true, Format::Force) => {
            log::warn!(
                "format=force: resuming the cache on {} to write its dirty blocks back before \
                 formatting it",
                c.path
            );
            create(ctx, cfg, &b, &c, false)?;
            flush_buffer(ctx, name)?;
            // Keep time for the removal and the second creation.
            let left = drain(ctx, host, name, REMOVE_RESERVE * 3)?;
            remove(ctx, name)?;
            if left > 0 {
                return Err(generic!(
                    "format=force: {left} dirty blocks were not written back within the start \
                     timeout; the cache on {} was left intact (nothing lost); raise the start \
                     timeout or use format=if-unformatted",
                    c.path
                ));
            }
            host.write_head(&c, &[0; HEAD])?;
            log::warn!(
                "formatting {} as a new cache (it held no dirty block)",
                c.path
            );
        }
        (true, _) => log::info!(
            "resuming the cache on {}: replaying its log (reads the whole cache device)",
            c.path
        ),
        (false, _) if drained => log::info!(
            "cache_dev {} was drained clean by the last stop (every dirty block written back, \
             the superblock record confirmed): formatting it as a new cache, so that reads come \
             from backing_dev {}",
            c.path,
            b.path
        ),
        (false, _) => log::warn!(
            "cache_dev {} has no dm-writeboost superblock: formatting it as a new cache",
            c.path
        ),
    }
    create(ctx, cfg, &b, &c, cfg.write_around_mode)?;
    verify_started(host, cfg, &b, &c)
}

/// Start returns only once a monitor would agree.
fn verify_started(
    host: &dyn Host,
    cfg: &Config,
    b: &BlockDev,
    c: &BlockDev,
) -> Result<(), OcfError> {
    let l = status_of(host, &cfg.name)?;
    if let Some(why) = mismatch(&l, cfg, b, c) {
        return Err(generic!("{why}"));
    }
    if l.suspended {
        return Err(generic!("{} is suspended after start", cfg.name));
    }
    log::info!(
        "{} running: {} of {} cache blocks dirty",
        cfg.name,
        l.status.nr_dirty,
        l.status.nr_cache_blocks
    );
    Ok(())
}

fn stop_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let name = cfg.name.as_str();
    let Some(d) = host.query(name)? else {
        log::info!("{name} does not exist; stopped");
        clear_attribute(ctx, cfg);
        return Ok(());
    };
    let l = live(&d, name).map_err(|e| generic!("{e}; not removing it"))?;
    // The configured paths may no longer resolve (a by-id link gone with a
    // failed disk); the device is still ours by name and target type.
    let configured = devices(host, cfg);
    match &configured {
        Ok((b, c)) => {
            if let Some(why) = mismatch(&l, cfg, b, c) {
                return Err(generic!("{why}; not removing it"));
            }
            if let Some(why) = static_mismatch(&l, cfg) {
                log::warn!("{why}; stopping it anyway");
            }
        }
        Err(e) => log::warn!("{e}; stopping {name} by its name"),
    }
    let users = host.users(l.dev, None);
    if !users.is_empty() {
        return Err(generic!(
            "{name} is still in use by {}: stop those first (order them after this resource)",
            users.join(", ")
        ));
    }
    if l.open_count > 0 {
        let procs = host.openers(l.dev);
        return Err(generic!(
            "{name} is held open {} time(s) by {}; not removing it",
            l.open_count,
            if procs.is_empty() {
                "the kernel (DRBD attached to it?)".to_string()
            } else {
                procs.join(", ")
            }
        ));
    }
    if l.suspended {
        log::info!("{name} is suspended; resuming it before the flush");
    }
    flush_buffer(ctx, name)?;
    let mut dirty = status_of(host, name)?.status.nr_dirty;
    // Only the device the table used, checked again on the open file.
    let cache = BlockDev {
        path: cfg.cache_dev.clone(),
        id: l.table.cache,
        sectors: 0,
    };
    let mut recorded = false;
    if cfg.flush_on_stop == Flush::Full {
        (dirty, recorded) = full_drain(ctx, cfg, host, &cache, dirty)?;
    }
    log::info!("removing {name} ({dirty} dirty blocks stay on the cache)");
    remove(ctx, name)?;
    if host.query(name)?.is_some() {
        return Err(generic!("{name} still exists after dmsetup remove"));
    }
    clear_attribute(ctx, cfg);
    if cfg.flush_on_stop == Flush::Full {
        invalidate_drained(cfg, host, &cache, dirty, recorded)?;
    }
    Ok(())
}

/// After a full drain, with the device removed: a cache that holds no dirty
/// block, by its status and by the superblock record read back from the
/// device, is worth nothing but its clean copies, and those go stale the
/// moment backing_dev is written without the cache (the reason to drain
/// fully). Its superblock header is replaced by the drain's mark (or zeroed
/// when asked), so that the next start formats it and reads come from
/// backing_dev. Never done while a dirty block may remain.
fn invalidate_drained(
    cfg: &Config,
    host: &dyn Host,
    cache: &BlockDev,
    dirty: u64,
    recorded: bool,
) -> Result<(), OcfError> {
    let name = cfg.name.as_str();
    let stale = "the cache keeps its superblock and the clean copies of the drained blocks, \
                 which the next start serves to reads: do not write backing_dev without the \
                 cache before then";
    if dirty != 0 {
        log::warn!("{name}: {dirty} dirty blocks remain on the cache; {stale}");
    } else if !recorded {
        log::warn!("{name}: the superblock record could not be confirmed; {stale}");
    } else if cfg.zero_superblock_on_stop {
        host.write_head(cache, &[0; HEAD])?;
        log::info!("zeroed the superblock of {} ({})", cache.path, cache.id);
    } else {
        let details = format!(
            "resource {name} backing_dev {} cache_dev {} ({})",
            cfg.backing_dev, cache.path, cache.id
        );
        match host.write_head(cache, &dm::drained_block(HEAD, &details)) {
            Ok(()) => log::info!(
                "{name}: marked {} ({}) drained: the next start formats it, and reads come \
                 from backing_dev",
                cache.path,
                cache.id
            ),
            // The device is removed and every block is on backing_dev: the
            // stop itself succeeded, and failing it would fence the node.
            Err(e) => log::warn!("{name}: cannot mark the drained cache: {e}; {stale}"),
        }
    }
    Ok(())
}

fn monitor_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<Health, OcfError> {
    let name = cfg.name.as_str();
    let Some(d) = host.query(name)? else {
        return Ok(Health::NotRunning);
    };
    let l = live(&d, name)?;
    let (b, c) = devices(host, cfg).map_err(|e| generic!("{name} is running but {e}"))?;
    if let Some(why) = mismatch(&l, cfg, &b, &c).or_else(|| static_mismatch(&l, cfg)) {
        return Err(generic!("{why}"));
    }
    if l.suspended {
        return Err(generic!("{name} is suspended: all I/O to it is blocked"));
    }
    report_dirty(ctx, cfg, l.status.nr_dirty);
    let pct = l.status.dirty_pct();
    if cfg.dirty_warn_pct > 0 && pct > f64::from(cfg.dirty_warn_pct) {
        log::warn!(
            "{name}: {:.1}% of the cache is dirty ({} blocks), above dirty_warn_pct={}",
            pct,
            l.status.nr_dirty,
            cfg.dirty_warn_pct
        );
        return Ok(Health::Degraded);
    }
    Ok(Health::Running)
}

fn reload_with(ctx: &Ctx, cfg: &Config, host: &dyn Host) -> Result<(), OcfError> {
    let name = cfg.name.as_str();
    let Some(d) = host.query(name)? else {
        log::info!("{name} is not running; the new values apply at its next start");
        return Ok(());
    };
    let l = live(&d, name)?;
    let (b, c) = devices(host, cfg)?;
    if let Some(why) = mismatch(&l, cfg, &b, &c) {
        return Err(generic!("{why}"));
    }
    for (key, value) in DYNAMIC.iter().zip(cfg.tunables) {
        // The status shows the current batch size, not the configured
        // maximum: that one is always sent.
        if l.status.tunable(key) == Some(u64::from(value)) {
            continue;
        }
        let v = value.to_string();
        log::info!("{name}: setting {key} to {v}");
        ctx.runner
            .run(&dmsetup(["message", name, "0", key, v.as_str()]))?;
    }
    let now = status_of(host, name)?;
    for (key, value) in DYNAMIC.iter().zip(cfg.tunables) {
        if let Some(got) = now.status.tunable(key) {
            if *key != "nr_max_batched_writeback" && got != u64::from(value) {
                return Err(generic!(
                    "{name}: {key} is {got} after setting it to {value}"
                ));
            }
        }
    }
    Ok(())
}

fn observe_with(cfg: &Config, host: &dyn Host) -> Result<serde_json::Value, OcfError> {
    let name = cfg.name.as_str();
    let mut v = json!({ "name": name, "running": false });
    if let Some(d) = host.query(name)? {
        let l = live(&d, name)?;
        let s = &l.status;
        v = json!({
            "name": name,
            "running": true,
            "dev": l.dev.to_string(),
            "suspended": l.suspended,
            "open_count": l.open_count,
            "backing": l.table.backing.to_string(),
            "cache": l.table.cache.to_string(),
            "table_args": l.table.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "dirty_blocks": s.nr_dirty,
            "dirty_bytes": s.nr_dirty * 4096,
            "cache_blocks": s.nr_cache_blocks,
            "dirty_pct": (s.dirty_pct() * 100.0).round() / 100.0,
            "segments": s.nr_segments,
            "writeback_lag_segments": s.writeback_lag(),
            "tunables": s.tunables.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "users": host.users(l.dev, None),
        });
    }
    if let Ok(c) = host.block_dev("cache_dev", &cfg.cache_dev) {
        v["cache_dev"] = json!(c.path);
        if let Ok(head) = host.read_head(&c) {
            v["cache_superblock"] = json!(dm::has_magic(&head));
            v["cache_drained"] = json!(dm::is_drained(&head));
        }
    }
    Ok(v)
}

impl Agent for WriteboostCache {
    type Config = Config;

    fn meta() -> &'static AgentMeta {
        &params::META
    }

    fn config(p: &Params) -> Result<Config, OcfError> {
        Config::from_params(p)
    }

    /// Host checks only where they are needed: stop, monitor and reload
    /// look at the device itself, so a missing path cannot make a stop
    /// report success while the device is still up.
    fn validate(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        // OCF 1.1 check level 0 (consistency only) when asked for
        // explicitly; by default validate-all also checks this host.
        if ctx.action == Action::ValidateAll && ctx.env.get(env::OCF_CHECK_LEVEL) != Some("0") {
            check_host(&System, cfg)?;
        }
        Ok(())
    }

    fn start(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        start_with(ctx, cfg, &System)
    }

    fn stop(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        stop_with(ctx, cfg, &System)
    }

    fn monitor(ctx: &Ctx, cfg: &Config) -> Result<Health, OcfError> {
        monitor_with(ctx, cfg, &System)
    }

    fn reload(ctx: &Ctx, cfg: &Config) -> Result<(), OcfError> {
        reload_with(ctx, cfg, &System)
    }

    fn observe(_ctx: &Ctx, cfg: &Config) -> Result<serde_json::Value, OcfError> {
        observe_with(cfg, &System)
    }
}
