// SPDX-License-Identifier: GPL-2.0-or-later
//! A simulated host for the action tests: block devices with a cache log,
//! device-mapper devices driven by the `dmsetup` commands the agent runs,
//! and the behaviour of dm-writeboost that matters for data safety:
//! creating over a cache without the magic, or in write-around mode,
//! formats it; the RAM buffer reaches the cache log only on suspend or
//! remove; drop_caches waits forever while the buffer holds data; the
//! superblock record is written only while update_sb_record_interval is
//! above 0, and a create replays every block written back after it as
//! dirty again. Every dirty block destroyed is counted in `lost`, which
//! must stay 0; every block replayed again after its writeback in
//! `replayed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::dm::{self, DevId, DmReply, Target};
use super::host::{BlockDev, DmDevice, Host, HEAD};
use crate::cmd::{Cmd, CmdError, Output, Runner};
use crate::ocf::OcfError;
use std::cell::RefCell;
use std::collections::BTreeMap;

pub struct Disk {
    pub path: String,
    pub id: DevId,
    pub sectors: u64,
    pub magic: bool,
    /// A full drain's mark in place of the superblock header.
    pub drained: bool,
    /// Dirty blocks in the cache log (for a cache device).
    pub logged_dirty: u64,
    /// The superblock record: the last segment id taken as written back.
    pub record: u64,
    /// Blocks written back in segments after the record: a create replays
    /// them as dirty.
    pub unrecorded: u64,
    pub users: Vec<String>,
}

pub struct Dev {
    pub id: DevId,
    pub backing: DevId,
    pub cache: DevId,
    pub params: String,
    pub target: String,
    pub suspended: bool,
    pub open_count: i32,
    pub users: Vec<String>,
    /// Dirty blocks still in the RAM buffer.
    pub rambuf: u64,
    /// last_writeback_id: one segment more for each drop_caches that wrote
    /// something back.
    pub wb_id: u64,
    pub tunables: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct World {
    pub module: bool,
    pub modprobe_ok: bool,
    pub disks: Vec<Disk>,
    pub devs: BTreeMap<String, Dev>,
    /// Blocks written back per drop_caches call.
    pub drain_per_call: u64,
    /// The time limit of every drop_caches call, in order.
    pub drop_limits: Vec<Option<std::time::Duration>>,
    pub lost: u64,
    /// Blocks written back, then replayed as dirty by a create (written
    /// back a second time, over whatever the backing disk got meanwhile).
    pub replayed: u64,
    /// Reads of the record before the updater writes it, once the
    /// interval is above 0 (its 1 s sleep).
    pub record_delay: u32,
    /// The updater never writes the record (a stuck cache device).
    pub record_stuck: bool,
    /// Reads of the record.
    pub record_reads: u32,
    record_wait: u32,
    pub calls: Vec<String>,
    pub zeroed: Vec<String>,
    /// Devices given a drain's mark.
    pub marked: Vec<String>,
    pub fail: Option<String>,
    next_minor: u32,
}

pub struct Sim {
    pub w: RefCell<World>,
}

pub const HDD: &str = "/dev/disk/by-id/virtio-hdd";
pub const NVME: &str = "/dev/disk/by-id/nvme-cache";
pub const HDD_ID: DevId = DevId {
    major: 254,
    minor: 16,
};
pub const NVME_ID: DevId = DevId {
    major: 259,
    minor: 0,
};
/// 256 MiB cache: (524288 - 2048) / 1024 segments of 127 blocks.
pub const CACHE_BLOCKS: u64 = 510 * 127;

impl Sim {
    pub fn new() -> Sim {
        let disk = |path: &str, id, sectors| Disk {
            path: path.into(),
            id,
            sectors,
            magic: false,
            drained: false,
            logged_dirty: 0,
            record: 0,
            unrecorded: 0,
            users: Vec::new(),
        };
        Sim {
            w: RefCell::new(World {
                module: true,
                modprobe_ok: true,
                disks: vec![disk(HDD, HDD_ID, 2_097_152), disk(NVME, NVME_ID, 524_288)],
                drain_per_call: u64::MAX,
                record_delay: 2,
                next_minor: 0,
                ..World::default()
            }),
        }
    }

    /// A cache formatted earlier that holds `dirty` logged blocks.
    pub fn formatted(self, dirty: u64) -> Sim {
        {
            let mut w = self.w.borrow_mut();
            let c = w.disks.iter_mut().find(|d| d.id == NVME_ID).expect("nvme");
            c.magic = true;
            c.logged_dirty = dirty;
        }
        self
    }

    pub fn cache(&self) -> (bool, u64) {
        let w = self.w.borrow();
        let c = w.disks.iter().find(|d| d.id == NVME_ID).expect("nvme");
        (c.magic, c.logged_dirty)
    }

    /// Writes `n` blocks through the device: they sit in the RAM buffer.
    pub fn write(&self, name: &str, n: u64) {
        let mut w = self.w.borrow_mut();
        w.devs.get_mut(name).expect("device").rambuf += n;
    }

    pub fn dirty(&self, name: &str) -> Option<u64> {
        let w = self.w.borrow();
        let d = w.devs.get(name)?;
        let logged = w
            .disks
            .iter()
            .find(|k| k.id == d.cache)
            .map_or(0, |k| k.logged_dirty);
        Some(logged + d.rambuf)
    }

    pub fn calls(&self) -> Vec<String> {
        self.w.borrow().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.w.borrow_mut().calls.clear();
    }

    /// A device of another kind under `name`.
    pub fn foreign(&self, name: &str, target: &str, params: &str) {
        let mut w = self.w.borrow_mut();
        w.devs.insert(
            name.into(),
            Dev {
                id: DevId {
                    major: 253,
                    minor: 9,
                },
                backing: HDD_ID,
                cache: NVME_ID,
                params: params.into(),
                target: target.into(),
                suspended: false,
                open_count: 0,
                users: Vec::new(),
                rambuf: 0,
                wb_id: 0,
                tunables: BTreeMap::new(),
            },
        );
    }
}

fn status_text(w: &World, d: &Dev) -> String {
    let logged = w
        .disks
        .iter()
        .find(|k| k.id == d.cache)
        .map_or(0, |k| k.logged_dirty);
    let t = |k: &str| d.tunables.get(k).copied().unwrap_or(0);
    format!(
        "0 {CACHE_BLOCKS} 510 {} {} {} {} {} 0 10 writeback_threshold {} nr_cur_batched_writeback 32 \
         sync_data_interval {} update_sb_record_interval {} read_cache_threshold {}",
        d.wb_id + 4,
        d.wb_id + 3,
        d.wb_id,
        logged + d.rambuf,
        ["0"; 16].join(" "),
        t("writeback_threshold"),
        t("sync_data_interval"),
        t("update_sb_record_interval"),
        t("read_cache_threshold"),
    )
}

fn reply(d: &Dev, params: String) -> DmReply {
    DmReply {
        flags: dm::DM_ACTIVE_PRESENT_FLAG | if d.suspended { dm::DM_SUSPEND_FLAG } else { 0 },
        open_count: d.open_count,
        dev: d.id,
        targets: vec![Target {
            start: 0,
            length: 2_097_152,
            target_type: d.target.clone(),
            params,
        }],
    }
}

impl Host for Sim {
    fn query(&self, name: &str) -> Result<Option<DmDevice>, OcfError> {
        let w = self.w.borrow();
        Ok(w.devs.get(name).map(|d| DmDevice {
            table: reply(d, d.params.clone()),
            status: reply(
                d,
                if d.target == "writeboost" {
                    status_text(&w, d)
                } else {
                    String::new()
                },
            ),
        }))
    }

    fn module_loaded(&self) -> bool {
        self.w.borrow().module
    }

    fn block_dev(&self, param: &str, path: &str) -> Result<BlockDev, OcfError> {
        let w = self.w.borrow();
        w.disks
            .iter()
            .find(|d| d.path == path)
            .map(|d| BlockDev {
                path: d.path.clone(),
                id: d.id,
                sectors: d.sectors,
            })
            .ok_or_else(|| OcfError::Args(format!("{param} {path} does not exist on this node")))
    }

    fn users(&self, dev: DevId, except: Option<&str>) -> Vec<String> {
        let w = self.w.borrow();
        let mut out = Vec::new();
        if let Some(d) = w.disks.iter().find(|d| d.id == dev) {
            out.extend(d.users.iter().cloned());
        }
        for (name, d) in &w.devs {
            if d.id == dev {
                out.extend(d.users.iter().cloned());
            }
            if (d.backing == dev || d.cache == dev) && Some(name.as_str()) != except {
                out.push(format!("dm-{} ({name})", d.id.minor));
            }
        }
        out
    }

    fn openers(&self, dev: DevId) -> Vec<String> {
        let w = self.w.borrow();
        w.devs
            .values()
            .filter(|d| d.id == dev && d.open_count > 0)
            .map(|_| "dd (pid 4242)".to_string())
            .collect()
    }

    fn read_head(&self, dev: &BlockDev) -> Result<Vec<u8>, OcfError> {
        let w = self.w.borrow();
        let d = w.disks.iter().find(|d| d.id == dev.id).expect("known disk");
        let mut head = vec![0u8; HEAD];
        if d.magic {
            head[..4].copy_from_slice(&dm::MAGIC);
        } else if d.drained {
            head = dm::drained_block(HEAD, "sim");
        }
        Ok(head)
    }

    fn read_record(&self, dev: &BlockDev) -> Result<u64, OcfError> {
        let mut w = self.w.borrow_mut();
        w.record_reads += 1;
        // The updater of a running device over this cache writes the
        // record every interval; it wakes `record_delay` reads after the
        // interval was raised from 0.
        let running = w
            .devs
            .values()
            .find(|d| d.cache == dev.id && d.target == "writeboost")
            .map(|d| {
                (
                    d.wb_id,
                    d.tunables
                        .get("update_sb_record_interval")
                        .copied()
                        .unwrap_or(0),
                )
            });
        let mut write = None;
        if let Some((wb_id, interval)) = running {
            if interval > 0 && !w.record_stuck {
                if w.record_wait == 0 {
                    write = Some(wb_id);
                } else {
                    w.record_wait -= 1;
                }
            }
        }
        let d = w
            .disks
            .iter_mut()
            .find(|d| d.id == dev.id)
            .expect("known disk");
        if let Some(id) = write {
            d.record = id;
            d.unrecorded = 0;
        }
        Ok(d.record)
    }

    fn write_head(&self, dev: &BlockDev, block: &[u8]) -> Result<(), OcfError> {
        let mut w = self.w.borrow_mut();
        if w.devs
            .values()
            .any(|d| d.cache == dev.id || d.backing == dev.id)
        {
            return Err(OcfError::Generic(format!("{}: busy", dev.path)));
        }
        let d = w
            .disks
            .iter_mut()
            .find(|d| d.id == dev.id)
            .expect("known disk");
        assert_eq!(block.len(), HEAD);
        assert!(!dm::has_magic(block), "the agent never writes a superblock");
        let lost = d.logged_dirty;
        d.magic = false;
        d.drained = dm::is_drained(block);
        d.logged_dirty = 0;
        d.unrecorded = 0;
        let path = d.path.clone();
        w.lost += lost;
        if dm::is_drained(block) {
            w.marked.push(path);
        } else {
            assert!(block.iter().all(|b| *b == 0), "zeroes or a mark");
            w.zeroed.push(path);
        }
        Ok(())
    }
}

fn ok() -> Result<Output, CmdError> {
    Ok(Output::default())
}

fn failed(stderr: &str) -> Result<Output, CmdError> {
    Ok(Output {
        status: 1,
        stdout: String::new(),
        stderr: stderr.into(),
    })
}

impl Runner for Sim {
    fn output(&self, cmd: &Cmd) -> Result<Output, CmdError> {
        let shown = cmd.display();
        let mut w = self.w.borrow_mut();
        w.calls.push(shown.clone());
        if w.fail.as_deref() == Some(shown.as_str()) {
            return failed("simulated failure");
        }
        let a: Vec<&str> = cmd
            .args
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "--retry")
            .collect();
        match (cmd.program.as_str(), a.as_slice()) {
            ("modprobe", ["dm-writeboost"]) => {
                if w.modprobe_ok {
                    w.module = true;
                    ok()
                } else {
                    failed("modprobe: FATAL: Module dm-writeboost not found")
                }
            }
            ("attrd_updater", _) => ok(),
            ("dmsetup", ["create", name, "--table", table]) => {
                if w.devs.contains_key(*name) {
                    return failed("device-mapper: create ioctl failed: Device or resource busy");
                }
                let t: Vec<&str> = table.split(' ').collect();
                assert_eq!(t.get(2), Some(&"writeboost"), "{table}");
                let params = t[3..].join(" ");
                let parsed = dm::parse_table(&params).expect("valid table");
                let mut tunables = BTreeMap::new();
                for (k, v) in &parsed.args {
                    tunables.insert(k.clone(), v.parse().expect("number"));
                }
                let wam = tunables.get("write_around_mode") == Some(&1);
                let cache = w
                    .disks
                    .iter_mut()
                    .find(|d| d.id == parsed.cache)
                    .expect("cache");
                let mut lost = 0;
                let mut replayed = 0;
                if !cache.magic || wam {
                    lost = cache.logged_dirty;
                    cache.magic = true;
                    cache.drained = false;
                    cache.logged_dirty = 0;
                    cache.record = 0;
                    cache.unrecorded = 0;
                } else {
                    // The replay: every block after the record is dirty.
                    replayed = cache.unrecorded;
                    cache.logged_dirty += replayed;
                    cache.unrecorded = 0;
                }
                let wb_id = cache.record;
                w.lost += lost;
                w.replayed += replayed;
                w.next_minor += 1;
                let id = DevId {
                    major: 253,
                    minor: w.next_minor,
                };
                w.devs.insert(
                    name.to_string(),
                    Dev {
                        id,
                        backing: parsed.backing,
                        cache: parsed.cache,
                        params,
                        target: "writeboost".into(),
                        suspended: false,
                        open_count: 0,
                        users: Vec::new(),
                        rambuf: 0,
                        wb_id,
                        tunables,
                    },
                );
                ok()
            }
            ("dmsetup", [verb @ ("suspend" | "resume" | "remove"), name]) => {
                let Some(d) = w.devs.get_mut(*name) else {
                    return failed("Device does not exist.");
                };
                if *verb == "remove" && (d.open_count > 0 || !d.users.is_empty()) {
                    return failed("device-mapper: remove ioctl failed: Device or resource busy");
                }
                let (cache, flushed) = (d.cache, d.rambuf);
                if *verb != "resume" {
                    d.rambuf = 0;
                }
                d.suspended = *verb == "suspend";
                if *verb != "resume" {
                    if let Some(c) = w.disks.iter_mut().find(|k| k.id == cache) {
                        c.logged_dirty += flushed;
                    }
                }
                if *verb == "remove" {
                    w.devs.remove(*name);
                }
                ok()
            }
            ("dmsetup", ["message", name, "0", "drop_caches"]) => {
                let per = w.drain_per_call;
                w.drop_limits.push(cmd.timeout);
                let Some(d) = w.devs.get(*name) else {
                    return failed("Device does not exist.");
                };
                let timeout = CmdError::Timeout {
                    cmd: shown.clone(),
                    secs: 0.0,
                };
                // The known hang: unflushed buffer data is never written back.
                if d.rambuf > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    return Err(timeout);
                }
                let cache = d.cache;
                let c = w.disks.iter_mut().find(|k| k.id == cache).expect("cache");
                let n = c.logged_dirty.min(per);
                c.logged_dirty -= n;
                c.unrecorded += n;
                let done = c.logged_dirty == 0;
                if n > 0 {
                    w.devs.get_mut(*name).expect("device").wb_id += 1;
                }
                if done {
                    ok()
                } else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    Err(timeout)
                }
            }
            ("dmsetup", ["message", name, "0", key, value]) => {
                let Some(d) = w.devs.get_mut(*name) else {
                    return failed("Device does not exist.");
                };
                if matches!(*key, "write_around_mode" | "nr_read_cache_cells") {
                    return failed("is a static option");
                }
                let v: u64 = value.parse().expect("number");
                let was = d.tunables.insert(key.to_string(), v).unwrap_or(0);
                if *key == "update_sb_record_interval" && was == 0 && v > 0 {
                    w.record_wait = w.record_delay;
                }
                ok()
            }
            _ => panic!("Sim: unexpected command `{shown}`"),
        }
    }
}
