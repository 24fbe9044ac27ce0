// SPDX-License-Identifier: GPL-2.0-or-later
//! What the agent reads from and writes to the host without a command:
//! device-mapper state by ioctl, block devices by stat and sysfs, holders,
//! mounts, and the cache superblock (read and, only when asked, zeroed).
//! A trait, so the action logic runs against a simulated host in tests.

use super::dm::{self, DevId, DmReply, QueryError};
use crate::ocf::OcfError;
use crate::{args_err, generic};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// A block device the parameters name, resolved once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDev {
    pub path: String,
    pub id: DevId,
    /// Size in 512-byte sectors.
    pub sectors: u64,
}

/// A device-mapper device: its table and status, as the two ioctls give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmDevice {
    pub table: DmReply,
    pub status: DmReply,
}

/// How much of the cache device is read or zeroed: the superblock header
/// lives in the first sector; 4 KiB keeps O_DIRECT aligned on any device.
pub const HEAD: usize = 4096;

/// Reads a device's dirty-block count from another thread (`None` when it
/// cannot be read at that moment).
pub type DirtyProbe = Box<dyn Fn() -> Option<u64> + Send>;

pub trait Host {
    /// The device `name`; `Ok(None)` when it does not exist or device-mapper
    /// is not even loaded.
    fn query(&self, name: &str) -> Result<Option<DmDevice>, OcfError>;
    fn module_loaded(&self) -> bool;
    fn block_dev(&self, param: &str, path: &str) -> Result<BlockDev, OcfError>;
    /// Who uses the device (or a partition of it): holders in sysfs, with
    /// device-mapper names, and mounts. `except` is a dm name to ignore.
    fn users(&self, dev: DevId, except: Option<&str>) -> Vec<String>;
    /// Processes that have the device open, as "NAME (pid N)".
    fn openers(&self, dev: DevId) -> Vec<String>;
    /// The first `HEAD` bytes, read past the page cache.
    fn read_head(&self, dev: &BlockDev) -> Result<Vec<u8>, OcfError>;
    /// The superblock record (`dm::parse_record`), read past the page
    /// cache; works while the device is running.
    fn read_record(&self, dev: &BlockDev) -> Result<u64, OcfError>;
    /// Writes `block` (`HEAD` bytes: zeroes, or a drain's mark) over the
    /// first `HEAD` bytes, only if `dev.path` still is `dev.id` and nobody
    /// holds it.
    fn write_head(&self, dev: &BlockDev, block: &[u8]) -> Result<(), OcfError>;
    /// A probe of the dirty count of `name` that may run on another thread
    /// while this one waits for a command; `None` where there is none.
    fn dirty_probe(&self, name: &str) -> Option<DirtyProbe> {
        let _ = name;
        None
    }
}

/// The real host.
pub struct System;

fn io_err(what: &str, e: &std::io::Error) -> OcfError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => OcfError::Perm(format!("{what}: {e} (needs root)")),
        _ => generic!("{what}: {e}"),
    }
}

fn sysfs(dev: DevId) -> String {
    format!("/sys/dev/block/{dev}")
}

fn read_trim(p: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// An aligned block for O_DIRECT I/O.
#[repr(C, align(4096))]
struct Aligned([u8; HEAD]);

impl Host for System {
    fn query(&self, name: &str) -> Result<Option<DmDevice>, OcfError> {
        let one = |table: bool| match dm::query(name, table) {
            Ok(r) => Ok(r),
            Err(QueryError::NoControl) => Ok(None),
            Err(QueryError::Perm(m)) => Err(OcfError::Perm(m)),
            Err(QueryError::Other(m)) => Err(OcfError::Generic(m)),
        };
        let Some(table) = one(true)? else {
            return Ok(None);
        };
        // Removed between the two calls: gone.
        let Some(status) = one(false)? else {
            return Ok(None);
        };
        Ok(Some(DmDevice { table, status }))
    }

    fn module_loaded(&self) -> bool {
        Path::new("/sys/module/dm_writeboost").exists()
    }

    fn block_dev(&self, param: &str, path: &str) -> Result<BlockDev, OcfError> {
        let md = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(args_err!("{param} {path} does not exist on this node"))
            }
            Err(e) => return Err(io_err(path, &e)),
        };
        if !md.file_type().is_block_device() {
            return Err(args_err!("{param} {path} is not a block device"));
        }
        let rdev = md.rdev();
        let id = DevId {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
        };
        let sectors = read_trim(format!("{}/size", sysfs(id)))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| generic!("cannot read the size of {path} ({id}) from sysfs"))?;
        Ok(BlockDev {
            path: path.to_string(),
            id,
            sectors,
        })
    }

    fn users(&self, dev: DevId, except: Option<&str>) -> Vec<String> {
        let mut ids = vec![dev];
        // A whole disk is in use when one of its partitions is.
        if let Ok(rd) = std::fs::read_dir(sysfs(dev)) {
            for e in rd.flatten() {
                if e.path().join("partition").exists() {
                    if let Some(id) = read_trim(e.path().join("dev")).and_then(|s| DevId::parse(&s))
                    {
                        ids.push(id);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for id in &ids {
            if let Ok(rd) = std::fs::read_dir(format!("{}/holders", sysfs(*id))) {
                for e in rd.flatten() {
                    let kname = e.file_name().to_string_lossy().into_owned();
                    let dmname = read_trim(format!("/sys/block/{kname}/dm/name"));
                    if dmname.is_some() && dmname.as_deref() == except {
                        continue;
                    }
                    out.push(match dmname {
                        Some(n) => format!("{kname} ({n})"),
                        None => kname,
                    });
                }
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for (id, mp) in dm::parse_mountinfo(&mounts) {
            if ids.contains(&id) {
                out.push(format!("mount {mp}"));
            }
        }
        if let Ok(swaps) = std::fs::read_to_string("/proc/swaps") {
            for line in swaps.lines().skip(1) {
                if let Some(p) = line.split_whitespace().next() {
                    if let Ok(m) = std::fs::metadata(p) {
                        let r = m.rdev();
                        if m.file_type().is_block_device()
                            && ids.contains(&DevId {
                                major: libc::major(r),
                                minor: libc::minor(r),
                            })
                        {
                            out.push(format!("swap {p}"));
                        }
                    }
                }
            }
        }
        out
    }

    fn openers(&self, dev: DevId) -> Vec<String> {
        // Only asked for when a stop finds the device open: a walk over
        // /proc is acceptable there, and names the culprit in the reason.
        let mut out = Vec::new();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return out;
        };
        let me = std::process::id().to_string();
        for p in procs.flatten() {
            let pid = p.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            let holds = fds.flatten().any(|fd| {
                std::fs::metadata(fd.path()).is_ok_and(|m| {
                    m.file_type().is_block_device()
                        && libc::major(m.rdev()) == dev.major
                        && libc::minor(m.rdev()) == dev.minor
                })
            });
            if holds {
                let comm = read_trim(p.path().join("comm")).unwrap_or_default();
                out.push(format!("{comm} (pid {pid})"));
            }
        }
        out
    }

    fn read_head(&self, dev: &BlockDev) -> Result<Vec<u8>, OcfError> {
        // O_DIRECT: the page cache of the raw device can hold a stale copy
        // from before dm-writeboost wrote its superblock with its own I/O,
        // and a stale "no magic" would mean a format.
        read_block(dev, 0, "the superblock")
    }

    fn read_record(&self, dev: &BlockDev) -> Result<u64, OcfError> {
        // O_DIRECT for the same reason: the kernel writes the record past
        // any page cache of the raw device.
        let block = read_block(dev, dm::RECORD_BLOCK, "the superblock record")?;
        dm::parse_record(&block)
            .ok_or_else(|| generic!("short read of the superblock record of {}", dev.path))
    }

    fn write_head(&self, dev: &BlockDev, block: &[u8]) -> Result<(), OcfError> {
        // O_EXCL on a block device: the open fails while anything (a
        // device-mapper table, a mount) holds it.
        let mut f = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_EXCL | libc::O_SYNC)
            .open(&dev.path)
            .map_err(|e| io_err(&format!("opening {} exclusively", dev.path), &e))?;
        check_same(&f, dev)?;
        let mut buf = Box::new(Aligned([0; HEAD]));
        let n = block.len().min(HEAD);
        buf.0[..n].copy_from_slice(&block[..n]);
        f.write_all(&buf.0)
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err(&format!("writing the superblock of {}", dev.path), &e))
    }

    fn dirty_probe(&self, name: &str) -> Option<DirtyProbe> {
        // The status ioctl takes no lock a running `dmsetup message` holds
        // (both only read the live table), so it answers during drop_caches.
        let name = name.to_string();
        Some(Box::new(move || match dm::query(&name, false) {
            Ok(Some(r)) => match r.targets.as_slice() {
                [t] if t.target_type == "writeboost" => {
                    dm::parse_status(&t.params).ok().map(|s| s.nr_dirty)
                }
                _ => None,
            },
            _ => None,
        }))
    }
}

/// `HEAD` bytes at `offset` (a multiple of `HEAD`), read with O_DIRECT
/// from the device the checks were made on.
fn read_block(dev: &BlockDev, offset: u64, what: &str) -> Result<Vec<u8>, OcfError> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&dev.path)
        .map_err(|e| io_err(&dev.path, &e))?;
    check_same(&f, dev)?;
    let mut buf = Box::new(Aligned([0; HEAD]));
    f.read_exact_at(&mut buf.0, offset)
        .map_err(|e| io_err(&format!("reading {what} of {}", dev.path), &e))?;
    Ok(buf.0.to_vec())
}

/// The opened file must still be the device the checks were made on (a
/// /dev/disk/by-* link can be re-pointed by udev at any moment).
fn check_same(f: &File, dev: &BlockDev) -> Result<(), OcfError> {
    let md = f.metadata().map_err(|e| io_err(&dev.path, &e))?;
    let r = md.rdev();
    let now = DevId {
        major: libc::major(r),
        minor: libc::minor(r),
    };
    if !md.file_type().is_block_device() || now != dev.id {
        return Err(generic!(
            "{} changed under us: now {now}, expected {}",
            dev.path,
            dev.id
        ));
    }
    Ok(())
}
