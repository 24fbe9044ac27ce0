// SPDX-License-Identifier: GPL-2.0-or-later
//! Device-mapper and dm-writeboost text and binary formats, as pure
//! functions: the status and table lines, the cache superblock magic,
//! /proc/self/mountinfo, and the DM_TABLE_STATUS ioctl buffer. The one
//! system call that uses the buffer is at the bottom, behind `query`.

use std::fmt;

/// A block device number, as the kernel prints it (`major:minor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DevId {
    pub major: u32,
    pub minor: u32,
}

impl DevId {
    pub fn parse(s: &str) -> Option<DevId> {
        let (a, b) = s.trim().split_once(':')?;
        Some(DevId {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }

    /// From the kernel's "huge" encoding that dm_ioctl.dev carries (the
    /// same split glibc's major()/minor() make).
    pub fn from_encoded(dev: u64) -> DevId {
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        DevId {
            major: u32::try_from(major).unwrap_or(u32::MAX),
            minor: u32::try_from(minor & 0xffff_ffff).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for DevId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// What `dmsetup status` shows after `start len writeboost`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WbStatus {
    pub cursor_pos: u64,
    pub nr_cache_blocks: u64,
    pub nr_segments: u64,
    pub current_id: u64,
    pub last_flushed_id: u64,
    pub last_writeback_id: u64,
    pub nr_dirty: u64,
    /// The 16 I/O counters, indexed by write(3) hit(2) on_buffer(1) fullsize(0).
    pub stats: [u64; 16],
    pub nr_partial_flushed: u64,
    /// The key/value pairs after the count (writeback_threshold, ...).
    pub tunables: Vec<(String, u64)>,
}

impl WbStatus {
    /// Share of the cache's blocks that are dirty, in percent.
    pub fn dirty_pct(&self) -> f64 {
        if self.nr_cache_blocks == 0 {
            0.0
        } else {
            self.nr_dirty as f64 * 100.0 / self.nr_cache_blocks as f64
        }
    }

    /// Segments written to the cache log but not yet written back.
    pub fn writeback_lag(&self) -> u64 {
        self.last_flushed_id.saturating_sub(self.last_writeback_id)
    }

    pub fn tunable(&self, key: &str) -> Option<u64> {
        self.tunables
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }
}

/// Parses the target's status parameters (the text after the target name).
/// Extra trailing fields from a newer module are tolerated; missing or
/// non-numeric fields are an error naming the field.
pub fn parse_status(params: &str) -> Result<WbStatus, String> {
    let mut it = params.split_ascii_whitespace();
    let mut num = |what: &str| -> Result<u64, String> {
        let tok = it
            .next()
            .ok_or_else(|| format!("status line ends before {what}"))?;
        tok.parse()
            .map_err(|_| format!("status field {what} is not a number: '{tok}'"))
    };
    let mut s = WbStatus {
        cursor_pos: num("cursor_pos")?,
        nr_cache_blocks: num("nr_cache_blocks")?,
        nr_segments: num("nr_segments")?,
        current_id: num("current_id")?,
        last_flushed_id: num("last_flushed_id")?,
        last_writeback_id: num("last_writeback_id")?,
        nr_dirty: num("nr_dirty_cache_blocks")?,
        ..WbStatus::default()
    };
    for i in 0..16 {
        s.stats[i] = num("a statistics counter")?;
    }
    s.nr_partial_flushed = num("nr_partial_flushed")?;
    // The tunables are optional: older modules end the line here.
    let rest: Vec<&str> = it.collect();
    if let Some((count, kv)) = rest.split_first() {
        let n: usize = count
            .parse()
            .map_err(|_| format!("tunable count is not a number: '{count}'"))?;
        if n > kv.len() || n % 2 != 0 {
            return Err(format!(
                "tunable count {n} does not match {} values",
                kv.len()
            ));
        }
        for pair in kv[..n].chunks(2) {
            let v = pair[1]
                .parse()
                .map_err(|_| format!("tunable {} is not a number: '{}'", pair[0], pair[1]))?;
            s.tunables.push((pair[0].to_string(), v));
        }
    }
    Ok(s)
}

/// One line of `dmsetup status NAME` (`start len target params`).
#[cfg(test)]
pub fn parse_status_line(line: &str) -> Result<WbStatus, String> {
    let mut it = line.trim().splitn(4, ' ');
    let (_, _, target) = (it.next(), it.next(), it.next());
    match target {
        Some("writeboost") => parse_status(it.next().unwrap_or("")),
        Some(t) => Err(format!("target is {t}, not writeboost")),
        None => Err("empty status line".into()),
    }
}

/// What `dmsetup table` shows for a writeboost target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WbTable {
    pub backing: DevId,
    pub cache: DevId,
    /// Optional arguments as given at creation, without their count.
    pub args: Vec<(String, String)>,
}

impl WbTable {
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

pub fn parse_table(params: &str) -> Result<WbTable, String> {
    let toks: Vec<&str> = params.split_ascii_whitespace().collect();
    let dev = |i: usize, what: &str| {
        toks.get(i)
            .and_then(|t| DevId::parse(t))
            .ok_or_else(|| format!("table has no {what} device number: '{params}'"))
    };
    let backing = dev(0, "backing")?;
    let cache = dev(1, "cache")?;
    let mut rest = &toks[2..];
    if let Some(first) = rest.first() {
        if first.parse::<usize>().is_ok() {
            rest = &rest[1..];
        }
    }
    let args = rest
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_string(), c[1].to_string()))
        .collect();
    Ok(WbTable {
        backing,
        cache,
        args,
    })
}

/// `WB_MAGIC` (0x57427374, "WBst") as it lies little-endian at offset 0 of
/// a formatted cache device.
pub const MAGIC: [u8; 4] = [0x74, 0x73, 0x42, 0x57];

pub fn has_magic(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(&MAGIC)
}

/// What a full drain leaves in place of the superblock header once every
/// dirty block is on the backing device and the record says so: no
/// dm-writeboost magic, so the kernel formats the device at its next
/// creation (the clean copies in the log would otherwise be served to reads
/// and hide anything written to the backing device meanwhile), and this
/// mark, by which the next start knows that the device held a cache this
/// agent drained, and may format it even under format=never. Plain text:
/// `head -c 200` on the device says what happened.
pub const DRAINED_MARK: &[u8] = b"storha writeboost-cache: drained clean, no dirty block\n";

/// The `len`-byte block written over the superblock header after a
/// confirmed full drain: the mark, a line of details, zeroes.
pub fn drained_block(len: usize, details: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(DRAINED_MARK);
    b.extend(
        details
            .bytes()
            .filter(|c| c.is_ascii_graphic() || *c == b' '),
    );
    b.push(b'\n');
    b.resize(len, 0);
    b
}

/// True for a device whose first bytes are a full drain's mark.
pub fn is_drained(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(DRAINED_MARK)
}

/// Byte offset of the 4 KiB block that ends the 1 MiB superblock area: the
/// kernel writes it whole (sectors 2040-2047, with FUA) when it updates the
/// superblock record (daemon.c `update_superblock_record`).
pub const RECORD_BLOCK: u64 = 2040 * 512;
/// Where the record lies in that block: the first bytes of sector 2047.
const RECORD_AT: usize = 7 * 512;

/// The superblock record, `last_writeback_segment_id` (little-endian u64):
/// at the next start, segments up to this id are taken as written back and
/// only later ones are replayed as dirty (metadata.c
/// `infer_last_writeback_id`). `None` for a block too short to hold it.
pub fn parse_record(block: &[u8]) -> Option<u64> {
    let b = block.get(RECORD_AT..RECORD_AT + 8)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// (device, mount point) of every mount in /proc/self/mountinfo. The mount
/// point is unescaped (`\040` is a space) so it can be shown as is.
pub fn parse_mountinfo(text: &str) -> Vec<(DevId, String)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            Some((
                DevId::parse(f.get(2)?)?,
                crate::agents::procfs::unescape(f.get(4)?),
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// DM_TABLE_STATUS through /dev/mapper/control: a monitor without a child
// process. Layouts from <linux/dm-ioctl.h>, interface version 4.

/// sizeof(struct dm_ioctl).
pub const DM_IOCTL_SIZE: usize = 312;
/// sizeof(struct dm_target_spec).
pub const DM_SPEC_SIZE: usize = 40;
const DM_NAME_LEN: usize = 128;
const OFF_DATA_SIZE: usize = 12;
const OFF_DATA_START: usize = 16;
const OFF_TARGET_COUNT: usize = 20;
const OFF_OPEN_COUNT: usize = 24;
const OFF_FLAGS: usize = 28;
const OFF_DEV: usize = 40;
const OFF_NAME: usize = 48;

pub const DM_SUSPEND_FLAG: u32 = 1 << 1;
pub const DM_STATUS_TABLE_FLAG: u32 = 1 << 4;
pub const DM_ACTIVE_PRESENT_FLAG: u32 = 1 << 5;
pub const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;
pub const DM_NOFLUSH_FLAG: u32 = 1 << 11;

/// _IOWR(0xfd, DM_TABLE_STATUS_CMD = 12, struct dm_ioctl).
pub const DM_TABLE_STATUS: u64 = (3 << 30) | ((DM_IOCTL_SIZE as u64) << 16) | (0xfd << 8) | 12;

/// One target of a table as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub start: u64,
    pub length: u64,
    pub target_type: String,
    pub params: String,
}

/// The decoded answer to DM_TABLE_STATUS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmReply {
    pub flags: u32,
    pub open_count: i32,
    pub dev: DevId,
    pub targets: Vec<Target>,
}

impl DmReply {
    pub fn suspended(&self) -> bool {
        self.flags & DM_SUSPEND_FLAG != 0
    }
    pub fn has_live_table(&self) -> bool {
        self.flags & DM_ACTIVE_PRESENT_FLAG != 0
    }
}

/// The request buffer: header with version 4.0.0, the name, the flags.
pub fn encode_request(name: &str, flags: u32, size: usize) -> Result<Vec<u8>, String> {
    if name.is_empty() || name.len() >= DM_NAME_LEN || name.contains('\0') {
        return Err(format!("invalid device-mapper name '{name}'"));
    }
    let size = size.max(DM_IOCTL_SIZE);
    let mut b = vec![0u8; size];
    b[0..4].copy_from_slice(&4u32.to_ne_bytes());
    let size32 = u32::try_from(size).map_err(|_| "buffer too large".to_string())?;
    b[OFF_DATA_SIZE..OFF_DATA_SIZE + 4].copy_from_slice(&size32.to_ne_bytes());
    b[OFF_DATA_START..OFF_DATA_START + 4].copy_from_slice(&(DM_IOCTL_SIZE as u32).to_ne_bytes());
    b[OFF_FLAGS..OFF_FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
    b[OFF_NAME..OFF_NAME + name.len()].copy_from_slice(name.as_bytes());
    Ok(b)
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off + 8)?.try_into().ok()?))
}
fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes the kernel's answer. Every offset is bounds-checked: a short or
/// garbled buffer is an error, never a panic.
pub fn decode_reply(b: &[u8]) -> Result<DmReply, String> {
    let bad = || "malformed device-mapper ioctl reply".to_string();
    if b.len() < DM_IOCTL_SIZE {
        return Err(bad());
    }
    let flags = u32_at(b, OFF_FLAGS).ok_or_else(bad)?;
    if flags & DM_BUFFER_FULL_FLAG != 0 {
        return Err("buffer full".into());
    }
    let data_start = u32_at(b, OFF_DATA_START).ok_or_else(bad)? as usize;
    if data_start < DM_IOCTL_SIZE {
        return Err(bad());
    }
    let data_size = (u32_at(b, OFF_DATA_SIZE).ok_or_else(bad)? as usize).min(b.len());
    let count = u32_at(b, OFF_TARGET_COUNT).ok_or_else(bad)?;
    let open_count = i32::from_ne_bytes(
        b.get(OFF_OPEN_COUNT..OFF_OPEN_COUNT + 4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(bad)?,
    );
    let dev = DevId::from_encoded(u64_at(b, OFF_DEV).ok_or_else(bad)?);
    let mut targets = Vec::new();
    let mut off = data_start;
    for _ in 0..count.min(1024) {
        if off
            .checked_add(DM_SPEC_SIZE)
            .map_or(true, |end| end > data_size)
        {
            return Err(bad());
        }
        let start = u64_at(b, off).ok_or_else(bad)?;
        let length = u64_at(b, off + 8).ok_or_else(bad)?;
        let next = u32_at(b, off + 20).ok_or_else(bad)? as usize;
        let target_type = cstr(&b[off + 24..off + DM_SPEC_SIZE]);
        let params = cstr(&b[off + DM_SPEC_SIZE..data_size]);
        targets.push(Target {
            start,
            length,
            target_type,
            params,
        });
        // For DM_TABLE_STATUS, `next` counts from the first spec.
        let following = data_start.saturating_add(next);
        if following <= off {
            break;
        }
        off = following;
    }
    Ok(DmReply {
        flags,
        open_count,
        dev,
        targets,
    })
}

/// Why a query found no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// /dev/mapper/control does not exist: device-mapper is not loaded, so
    /// no device of ours can exist either.
    NoControl,
    Perm(String),
    Other(String),
}

/// Status (`table == false`) or table of the device `name`; `Ok(None)` when
/// no such device exists.
pub fn query(name: &str, table: bool) -> Result<Option<DmReply>, QueryError> {
    use std::os::fd::AsRawFd;
    let control = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/mapper/control")
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(QueryError::NoControl),
        // The node exists (udev, or a dmsetup package made it) but no driver
        // is behind it: device-mapper is not in this kernel.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::ENXIO)) => {
            return Err(QueryError::NoControl)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(QueryError::Perm(format!(
                "/dev/mapper/control: {e} (device-mapper needs root)"
            )))
        }
        Err(e) => return Err(QueryError::Other(format!("/dev/mapper/control: {e}"))),
    };
    // The status of a writeboost device is about 200 bytes; start with room
    // for that and grow when the kernel says the buffer was too small.
    let mut size = 16 * 1024;
    for _ in 0..4 {
        let flags = if table {
            DM_STATUS_TABLE_FLAG
        } else {
            DM_NOFLUSH_FLAG
        };
        let mut buf = encode_request(name, flags, size).map_err(QueryError::Other)?;
        // SAFETY: `buf` is a live, writable allocation of `size` bytes that
        // starts with a struct dm_ioctl whose data_size field says exactly
        // `size`; the kernel writes only within data_size. The request code
        // is DM_TABLE_STATUS for a 312-byte dm_ioctl, matching the header.
        let rc = unsafe {
            libc::ioctl(
                control.as_raw_fd(),
                DM_TABLE_STATUS as libc::c_ulong,
                buf.as_mut_ptr(),
            )
        };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENXIO) => Ok(None),
                Some(libc::EPERM | libc::EACCES) => Err(QueryError::Perm(format!(
                    "device-mapper ioctl on {name}: {e} (needs root)"
                ))),
                _ => Err(QueryError::Other(format!(
                    "device-mapper ioctl on {name}: {e}"
                ))),
            };
        }
        match decode_reply(&buf) {
            Err(e) if e == "buffer full" => size *= 4,
            Err(e) => return Err(QueryError::Other(e)),
            Ok(r) => return Ok(Some(r)),
        }
    }
    Err(QueryError::Other(format!(
        "device-mapper status of {name} does not fit in {size} bytes"
    )))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // From a writeboost 2.2.17 device over a 1 GiB backing disk with a
    // 256 MiB cache, after writing 3 MiB with writeback held back.
    const STATUS: &str = "0 2097152 writeboost 1282 65024 254 6 5 0 768 \
        0 0 0 0 0 0 12 0 0 0 0 0 768 0 0 0 3 10 writeback_threshold 0 \
        nr_cur_batched_writeback 32 sync_data_interval 0 update_sb_record_interval 0 \
        read_cache_threshold 0";

    #[test]
    fn status_line_fields() {
        let s = parse_status_line(STATUS).expect("parses");
        assert_eq!(s.cursor_pos, 1282);
        assert_eq!(s.nr_cache_blocks, 65024);
        assert_eq!(s.nr_segments, 254);
        assert_eq!(
            (s.current_id, s.last_flushed_id, s.last_writeback_id),
            (6, 5, 0)
        );
        assert_eq!(s.nr_dirty, 768);
        assert_eq!(s.stats[6], 12);
        assert_eq!(s.stats[12], 768);
        assert_eq!(s.nr_partial_flushed, 3);
        assert_eq!(s.tunable("writeback_threshold"), Some(0));
        assert_eq!(s.tunable("nr_cur_batched_writeback"), Some(32));
        assert_eq!(s.tunables.len(), 5);
        assert_eq!(s.writeback_lag(), 5);
        assert!((s.dirty_pct() - 1.181).abs() < 0.01);
    }

    #[test]
    fn status_sample_from_the_tools() {
        // dm-writeboost-tools' sample status, which predates the tunables.
        let line = "0 204800 writeboost 2 762 6 73 73 67 391 12 224 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        let s = parse_status_line(line).expect("parses");
        assert_eq!(s.nr_dirty, 391);
        assert!(s.tunables.is_empty());
    }

    #[test]
    fn status_errors_name_the_field() {
        assert!(parse_status("1 2 3")
            .unwrap_err()
            .contains("before current_id"));
        assert!(parse_status("1 2 3 4 5 6 x")
            .unwrap_err()
            .contains("nr_dirty_cache_blocks"));
        assert!(parse_status_line("0 10 linear 8:16 0")
            .unwrap_err()
            .contains("linear"));
        assert!(parse_status_line("").is_err());
        let bad_count = format!("{} 9 a 1", "0 ".repeat(24));
        assert!(parse_status(&bad_count).unwrap_err().contains("count 9"));
    }

    #[test]
    fn table_line() {
        let t = parse_table(
            "254:16 259:0 14 writeback_threshold 70 nr_max_batched_writeback 32 \
             update_sb_record_interval 60 sync_data_interval 0 read_cache_threshold 0 \
             write_around_mode 0 nr_read_cache_cells 2048",
        )
        .expect("parses");
        assert_eq!(
            t.backing,
            DevId {
                major: 254,
                minor: 16
            }
        );
        assert_eq!(
            t.cache,
            DevId {
                major: 259,
                minor: 0
            }
        );
        assert_eq!(t.arg("write_around_mode"), Some("0"));
        assert_eq!(t.arg("nr_read_cache_cells"), Some("2048"));
        let t = parse_table("8:16 8:32").expect("no options");
        assert!(t.args.is_empty());
        assert!(parse_table("/dev/sdb 8:32").is_err());
        assert!(parse_table("").is_err());
    }

    #[test]
    fn magic() {
        assert!(has_magic(&[0x74, 0x73, 0x42, 0x57, 0, 0]));
        assert!(has_magic(b"tsBW"));
        assert!(!has_magic(&[0; 512]));
        assert!(!has_magic(&[0x57, 0x42, 0x73, 0x74]));
        assert!(!has_magic(&[0x74, 0x73]));
    }

    #[test]
    fn drained_mark() {
        let b = drained_block(4096, "name wb0 record 12\nrm -rf /");
        assert_eq!(b.len(), 4096);
        assert!(is_drained(&b) && !has_magic(&b));
        let text = String::from_utf8_lossy(&b[..DRAINED_MARK.len() + 40]).to_string();
        assert!(text.contains("name wb0 record 12rm -rf /\n"), "{text}");
        assert!(!is_drained(&[0; 4096]));
        assert!(!is_drained(&drained_block(4096, "")[1..]));
        let mut formatted = vec![0u8; 4096];
        formatted[..4].copy_from_slice(&MAGIC);
        assert!(!is_drained(&formatted));
    }

    #[test]
    fn superblock_record() {
        // The last 4 KiB of the superblock area as the kernel writes it:
        // zeroes, then the id in sector 2047.
        let mut block = vec![0u8; 4096];
        block[3584..3592].copy_from_slice(&[0x2a, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_record(&block), Some(298));
        assert_eq!(parse_record(&[0u8; 4096]), Some(0));
        assert_eq!(parse_record(&block[..3590]), None);
        assert_eq!(RECORD_BLOCK % 4096, 0, "aligned for O_DIRECT");
        assert_eq!(RECORD_BLOCK + 3584, 2047 * 512);
    }

    #[test]
    fn mountinfo() {
        let text = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    40 22 253:3 / /mnt/my\\040data rw - ext4 /dev/mapper/wb0 rw\n\
                    garbage\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1],
            (
                DevId {
                    major: 253,
                    minor: 3
                },
                "/mnt/my data".into()
            )
        );
    }

    #[test]
    fn dev_encoding() {
        // new_encode_dev(MKDEV(253, 3)) and a minor above 255.
        assert_eq!(
            DevId::from_encoded(0xfd03),
            DevId {
                major: 253,
                minor: 3
            }
        );
        let enc = (300u64 & 0xff) | (259 << 8) | ((300u64 & !0xff) << 12);
        assert_eq!(
            DevId::from_encoded(enc),
            DevId {
                major: 259,
                minor: 300
            }
        );
    }

    #[test]
    fn ioctl_request_code_and_layout() {
        assert_eq!(DM_TABLE_STATUS, 0xc138_fd0c);
        let b = encode_request("wb0", DM_STATUS_TABLE_FLAG, 1024).expect("ok");
        assert_eq!(b.len(), 1024);
        assert_eq!(u32_at(&b, 0), Some(4));
        assert_eq!(u32_at(&b, OFF_DATA_SIZE), Some(1024));
        assert_eq!(u32_at(&b, OFF_DATA_START), Some(312));
        assert_eq!(u32_at(&b, OFF_FLAGS), Some(DM_STATUS_TABLE_FLAG));
        assert_eq!(&b[OFF_NAME..OFF_NAME + 4], b"wb0\0");
        assert!(encode_request("", 0, 1024).is_err());
        assert!(encode_request(&"n".repeat(128), 0, 1024).is_err());
    }

    /// A reply as the kernel lays it out, to check the decoder.
    fn reply(flags: u32, open: i32, targets: &[(&str, &str)]) -> Vec<u8> {
        let mut b = encode_request("wb0", 0, 4096).expect("ok");
        b[OFF_FLAGS..OFF_FLAGS + 4].copy_from_slice(&flags.to_ne_bytes());
        b[OFF_OPEN_COUNT..OFF_OPEN_COUNT + 4].copy_from_slice(&open.to_ne_bytes());
        b[OFF_TARGET_COUNT..OFF_TARGET_COUNT + 4]
            .copy_from_slice(&(targets.len() as u32).to_ne_bytes());
        b[OFF_DEV..OFF_DEV + 8].copy_from_slice(&0xfd03u64.to_ne_bytes());
        let mut off = DM_IOCTL_SIZE;
        for (i, (ty, params)) in targets.iter().enumerate() {
            b[off..off + 8].copy_from_slice(&(i as u64 * 100).to_ne_bytes());
            b[off + 8..off + 16].copy_from_slice(&100u64.to_ne_bytes());
            b[off + 24..off + 24 + ty.len()].copy_from_slice(ty.as_bytes());
            let p = off + DM_SPEC_SIZE;
            b[p..p + params.len()].copy_from_slice(params.as_bytes());
            let next = (p + params.len() + 1).div_ceil(8) * 8;
            b[off + 20..off + 24].copy_from_slice(&((next - DM_IOCTL_SIZE) as u32).to_ne_bytes());
            off = next;
        }
        b
    }

    #[test]
    fn decode_reply_reads_flags_dev_and_targets() {
        let b = reply(
            DM_ACTIVE_PRESENT_FLAG,
            1,
            &[("writeboost", "1 2 3"), ("linear", "8:1 0")],
        );
        let r = decode_reply(&b).expect("decodes");
        assert!(r.has_live_table() && !r.suspended());
        assert_eq!(r.open_count, 1);
        assert_eq!(
            r.dev,
            DevId {
                major: 253,
                minor: 3
            }
        );
        assert_eq!(r.targets.len(), 2);
        assert_eq!(r.targets[0].target_type, "writeboost");
        assert_eq!(r.targets[0].params, "1 2 3");
        assert_eq!(r.targets[1].start, 100);
        assert_eq!(r.targets[1].params, "8:1 0");
        let r = decode_reply(&reply(DM_ACTIVE_PRESENT_FLAG | DM_SUSPEND_FLAG, 0, &[]))
            .expect("decodes");
        assert!(r.suspended() && r.targets.is_empty());
    }

    #[test]
    fn decode_reply_never_panics_on_garbage() {
        assert!(decode_reply(&[]).is_err());
        assert!(decode_reply(&[0u8; 100]).is_err());
        assert_eq!(
            decode_reply(&reply(DM_BUFFER_FULL_FLAG, 0, &[])),
            Err("buffer full".into())
        );
        // A target count far beyond the buffer.
        let mut b = reply(0, 0, &[("writeboost", "x")]);
        b[OFF_TARGET_COUNT..OFF_TARGET_COUNT + 4].copy_from_slice(&1000u32.to_ne_bytes());
        let _ = decode_reply(&b);
        // data_start pointing past the end.
        let mut b = reply(0, 0, &[("writeboost", "x")]);
        b[OFF_DATA_START..OFF_DATA_START + 4].copy_from_slice(&u32::MAX.to_ne_bytes());
        assert!(decode_reply(&b).is_err());
        for cut in [0, 10, 50, 311, 312, 340, 360] {
            let b = reply(0, 0, &[("writeboost", "abc")]);
            let _ = decode_reply(&b[..cut]);
        }
    }
}
