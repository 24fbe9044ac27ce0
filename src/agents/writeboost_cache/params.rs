// SPDX-License-Identifier: GPL-2.0-or-later
//! writeboost-cache's parameters and their typed form. Pure: nothing here
//! looks at the host.
//!
//! Pacemaker's legacy reload rule applies (meta-data version 1.0 with a
//! `reload` action): every parameter marked unique forces a stop and start
//! when it changes, every other one is applied by `reload`. The five
//! dynamic tunables of dm-writeboost are therefore the only non-unique
//! parameters that matter to the device; the policies (format, stop) are
//! read at the next start or stop and need no restart either.

use crate::configured;
use crate::ocf::params::shown;
use crate::ocf::{ActionSpec, AgentMeta, Kind, OcfError, ParamSpec, Params};

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("name", Kind::String, "Device-mapper device name")
        .required()
        .unique()
        .long(
            "Name of the device-mapper device to create: /dev/mapper/NAME. Letters, digits and \
             '_', '-', '.', '+'; at most 127 characters. Must be unique on the node.",
        ),
    ParamSpec::new("backing_dev", Kind::String, "Backing (slow) block device")
        .required()
        .unique()
        .long(
            "The slow device that holds the data, e.g. a disk or an md array. Use a stable \
             path (/dev/disk/by-id/..., /dev/disk/by-partuuid/...): /dev/sdX names can change \
             between boots, and the wrong device behind this name would be written to.",
        ),
    ParamSpec::new("cache_dev", Kind::String, "Cache (fast) block device")
        .required()
        .unique()
        .long(
            "The fast device (NVMe/SSD) that holds the cache log, including dirty blocks not yet \
             written to backing_dev. Use a stable /dev/disk/by-* path. Never format, partition \
             or wipe it while the cache may hold dirty blocks: that data exists nowhere else.",
        ),
    ParamSpec::new(
        "writeback_threshold",
        Kind::Integer { min: 0, max: 100 },
        "Background writeback threshold (%)",
    )
    .default("70")
    .long(
        "Background writeback runs while the load of the backing device is below this \
         percentage. 0 disables background writeback (dirty blocks then stay on the cache until \
         it fills or a full flush is asked for); the kernel's own default is 0, this agent's is \
         70, as the writeboost tools use. Changed live by reload.",
    ),
    ParamSpec::new(
        "nr_max_batched_writeback",
        Kind::Integer { min: 1, max: 32 },
        "Segments written back per batch",
    )
    .default("32")
    .long(
        "How many 512 KiB segments are written back to backing_dev in one batch, sorted by \
         address. Changed live by reload.",
    ),
    ParamSpec::new(
        "update_sb_record_interval",
        Kind::Integer { min: 0, max: 3600 },
        "Superblock record update interval (s)",
    )
    .default("0")
    .long(
        "Seconds between updates of the superblock record (how far writeback got). A shorter \
         interval makes the log replay at start shorter; 0 (the kernel's default) never updates \
         it, so every start replays the whole log. Changed live by reload.",
    ),
    ParamSpec::new(
        "sync_data_interval",
        Kind::Integer { min: 0, max: 3600 },
        "Periodic flush of the RAM buffer (s)",
    )
    .default("0")
    .long(
        "Seconds between forced flushes of the 512 KiB RAM buffer to the cache device. 0 relies \
         on the flushes the upper layers send (fsync, barriers), which is how every disk with a \
         volatile write cache behaves. Changed live by reload.",
    ),
    ParamSpec::new(
        "read_cache_threshold",
        Kind::Integer { min: 0, max: 127 },
        "Read caching threshold (4 KiB blocks)",
    )
    .default("0")
    .long(
        "Reads of up to this many contiguous 4 KiB blocks are staged into the cache; 0 \
         disables read caching. Changed live by reload.",
    ),
    ParamSpec::new(
        "write_around_mode",
        Kind::Boolean,
        "Write-around mode (static)",
    )
    .unique()
    .default("false")
    .long(
        "Writes go straight to backing_dev and the cache serves reads only. dm-writeboost \
             formats the cache whenever it is created in this mode, discarding any dirty blocks \
             it holds: on a cache with a valid superblock the agent therefore refuses to start \
             in this mode unless format=force (which writes every dirty block back first). \
             Needs a restart to change.",
    ),
    ParamSpec::new(
        "nr_read_cache_cells",
        Kind::Integer { min: 1, max: 2048 },
        "Read cache staging cells (static)",
    )
    .unique()
    .default("2048")
    .long("Number of 4 KiB cells that stage reads for read caching. Needs a restart to change."),
    ParamSpec::new("format", Kind::String, "When the cache may be formatted")
        .default("never")
        .long(
            "What start does with the cache device. never: a cache without a dm-writeboost \
             superblock is refused (formatting it is a deliberate act: set if-unformatted once, \
             or write the superblock with dmsetup yourself); a cache that the last stop \
             drained clean (flush_on_stop=full) carries a mark of its own and is formatted \
             anew. if-unformatted: a device without \
             the superblock magic is formatted; a valid cache is always resumed (its log is \
             replayed, dirty blocks included). force: every start begins with an empty cache; \
             a valid cache is first resumed and flushed to backing_dev until it holds no dirty \
             block, and only then formatted, so even force loses no data, but it needs a start \
             timeout long enough for the flush.",
        ),
    ParamSpec::new("flush_on_stop", Kind::String, "What stop writes back")
        .default("buffer")
        .long(
            "buffer: stop flushes the RAM buffer to the cache device (suspend and resume) and \
             removes the device; dirty blocks stay on the persistent cache and are replayed at \
             the next start on this node. Fast, and safe as long as the cache device is not \
             lost. full: stop also writes every dirty block back to backing_dev, watching the \
             count, within what is left of the stop timeout; if time runs out the device is \
             removed with the remaining dirty blocks safe on the cache and a warning is logged. \
             A full drain also has the superblock record written (update_sb_record_interval is 1 \
             during the drain, then the configured value again) and reads it back from cache_dev \
             before the removal. Once the status and the record both say that no dirty block \
             remains, the superblock header is replaced by a mark of storha's ('drained clean') \
             and the next start formats the cache anew, even with format=never: the clean \
             copies left in the log would otherwise be served to reads and hide whatever is \
             written to backing_dev without the cache in between, the reason to drain fully. \
             When the drain or the record cannot be confirmed in time a warning says so and the \
             superblock is kept: the next start replays the log, so backing_dev must not be \
             written without the cache before it. Make the stop timeout cover the worst-case \
             flush of a full cache.",
        ),
    ParamSpec::new(
        "zero_superblock_on_stop",
        Kind::Boolean,
        "Erase the cache superblock after a clean stop",
    )
    .default("false")
    .long(
        "After a full drain confirmed clean, zero the first 4 KiB of cache_dev instead of \
         writing the drain's mark there, so that the device looks blank (e.g. before it is \
         used for something else). Needs flush_on_stop=full and format other than never (the \
         next start has to format a blank device). Never done when any dirty block remained.",
    ),
    ParamSpec::new(
        "dirty_warn_pct",
        Kind::Integer { min: 0, max: 100 },
        "Dirty share of the cache that makes monitor report degraded",
    )
    .default("0")
    .long(
        "When the dirty blocks fill more than this percentage of the cache, monitor returns \
         OCF_DEGRADED (190): still running, shown as degraded by crm_mon. 0 disables the check.",
    ),
    ParamSpec::new(
        "node_attribute",
        Kind::String,
        "Node attribute for the dirty-block count",
    )
    .long(
        "Name of the transient node attribute monitor sets to the number of dirty cache blocks \
         (written only under Pacemaker and only when the value changed). Default: \
         writeboost-NAME-dirty. Letters, digits, '_', '-', '.'; empty to disable is not \
         possible, use a name you ignore.",
    ),
];

pub static ACTIONS: &[ActionSpec] = &[
    // Start replays the cache log: the whole cache device is read, so the
    // time grows with its size (minutes for a large NVMe).
    ActionSpec::new("start", 600),
    ActionSpec::new("stop", 600),
    ActionSpec::new("monitor", 30).interval(20).depth(0),
    ActionSpec::new("status", 30),
    ActionSpec::new("reload", 30),
    ActionSpec::new("meta-data", 5),
    ActionSpec::new("validate-all", 30),
];

pub static META: AgentMeta = AgentMeta {
    name: "writeboost-cache",
    shortdesc: "dm-writeboost log-structured write cache",
    longdesc: "Manages one dm-writeboost device: a slow backing device with a fast cache device \
in front of it, as /dev/mapper/NAME. Run it as a clone (one instance per node, clone-node-max=1) \
below DRBD or LVM, ordered before them.

Start loads the dm-writeboost target, reads the superblock magic of cache_dev, and resumes a valid \
cache (its log, dirty blocks included, is replayed: this reads the whole cache device and can take \
minutes on a large one, so give start a timeout that covers it). A cache without the magic is only \
formatted when format allows it. All options are passed in the table line at creation.

Monitor reads the device through the device-mapper ioctl interface without running a command, \
checks that it is active, not suspended, and writeboost over the configured devices, and reports \
the dirty-block count and cache use (a transient node attribute and the --json observed state).

Stop refuses while anything holds the device (DRBD, LVM, a mount, an open file), flushes the RAM \
buffer, optionally writes all dirty blocks back within the stop timeout, and removes the device. \
It never formats or zeroes anything unless asked; after a full drain confirmed clean it \
replaces the superblock header with a mark, so that the next start formats the cache and \
reads come from the backing device.

Reload changes the five dynamic tunables live with device-mapper messages.",
    params: PARAMS,
    actions: ACTIONS,
};

/// What start may do with the cache device's superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Never,
    IfUnformatted,
    Force,
}

/// What stop writes back before removing the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    Buffer,
    Full,
}

/// The five tunables dm-writeboost accepts as messages on a live device,
/// in the order they appear in the table line.
pub const DYNAMIC: [&str; 5] = [
    "writeback_threshold",
    "nr_max_batched_writeback",
    "update_sb_record_interval",
    "sync_data_interval",
    "read_cache_threshold",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub name: String,
    pub backing_dev: String,
    pub cache_dev: String,
    /// Values of `DYNAMIC`, same order.
    pub tunables: [u32; 5],
    pub write_around_mode: bool,
    pub nr_read_cache_cells: u32,
    pub format: Format,
    pub flush_on_stop: Flush,
    pub zero_superblock_on_stop: bool,
    pub dirty_warn_pct: u32,
    pub node_attribute: String,
}

/// Longest device-mapper name (DM_NAME_LEN is 128 with the NUL).
const MAX_NAME: usize = 127;

fn check_name(name: &str) -> Result<(), OcfError> {
    if name.len() > MAX_NAME {
        return Err(configured!(
            "name is {} characters long (device-mapper allows {MAX_NAME})",
            name.len()
        ));
    }
    if name == "." || name == ".." || name == "control" {
        return Err(configured!(
            "name={} is reserved in /dev/mapper",
            shown(name)
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.+".contains(c))
    {
        return Err(configured!(
            "name={} may only contain letters, digits, '_', '-', '.' and '+'",
            shown(name)
        ));
    }
    Ok(())
}

/// Device paths must be absolute paths under /dev without `..`, so that a
/// parameter can never point the agent at a regular file or another tree.
fn check_dev_path(param: &str, path: &str) -> Result<(), OcfError> {
    if !path.starts_with("/dev/") {
        return Err(configured!(
            "{param}={} is not a path under /dev/ (use /dev/disk/by-id/... or similar)",
            shown(path)
        ));
    }
    if path.split('/').any(|c| c == ".." || c == ".") {
        return Err(configured!(
            "{param}={} contains '.' or '..' components",
            shown(path)
        ));
    }
    if path.chars().any(char::is_whitespace) {
        return Err(configured!("{param}={} contains white space", shown(path)));
    }
    Ok(())
}

fn attr_ok(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 200
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, OcfError> {
        let get = |n: &str| p.get(n).unwrap_or_default().trim().to_string();
        let name = get("name");
        check_name(&name)?;
        let backing_dev = get("backing_dev");
        let cache_dev = get("cache_dev");
        check_dev_path("backing_dev", &backing_dev)?;
        check_dev_path("cache_dev", &cache_dev)?;
        if backing_dev == cache_dev {
            return Err(configured!(
                "backing_dev and cache_dev are the same path {}: dm-writeboost would format \
                 the data device as its cache",
                shown(&backing_dev)
            ));
        }
        let int = |n: &str| -> u32 {
            // The framework has range-checked every integer against the
            // table, all of whose ranges are within u32.
            p.int(n).and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
        };
        let tunables = DYNAMIC.map(int);
        let format = match get("format").as_str() {
            "never" => Format::Never,
            "if-unformatted" => Format::IfUnformatted,
            "force" => Format::Force,
            other => {
                return Err(configured!(
                    "format={} is not one of never, if-unformatted, force",
                    shown(other)
                ))
            }
        };
        let flush_on_stop = match get("flush_on_stop").as_str() {
            "buffer" => Flush::Buffer,
            "full" => Flush::Full,
            other => {
                return Err(configured!(
                    "flush_on_stop={} is not one of buffer, full",
                    shown(other)
                ))
            }
        };
        let zero_superblock_on_stop = p.flag("zero_superblock_on_stop");
        if zero_superblock_on_stop && flush_on_stop != Flush::Full {
            return Err(configured!(
                "zero_superblock_on_stop=true needs flush_on_stop=full: the superblock may only \
                 be erased after every dirty block was written back"
            ));
        }
        if zero_superblock_on_stop && format == Format::Never {
            return Err(configured!(
                "zero_superblock_on_stop=true with format=never would leave a cache that the \
                 next start refuses; set format=if-unformatted"
            ));
        }
        let node_attribute = match p.get("node_attribute").map(str::trim) {
            Some(a) if !a.is_empty() => a.to_string(),
            _ => format!("writeboost-{name}-dirty"),
        };
        if !attr_ok(&node_attribute) {
            return Err(configured!(
                "node_attribute={} may only contain letters, digits, '_', '-' and '.'",
                shown(&node_attribute)
            ));
        }
        Ok(Config {
            name,
            backing_dev,
            cache_dev,
            tunables,
            write_around_mode: p.flag("write_around_mode"),
            nr_read_cache_cells: int("nr_read_cache_cells"),
            format,
            flush_on_stop,
            zero_superblock_on_stop,
            dirty_warn_pct: int("dirty_warn_pct"),
            node_attribute,
        })
    }

    /// The optional arguments of the table line: every tunable, always, so
    /// the device never runs with a kernel default the operator did not see,
    /// and nothing has to be set by message after creation.
    pub fn table_args(&self) -> Vec<String> {
        let mut kv: Vec<(String, String)> = DYNAMIC
            .iter()
            .zip(self.tunables)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        kv.push((
            "write_around_mode".into(),
            u8::from(self.write_around_mode).to_string(),
        ));
        kv.push((
            "nr_read_cache_cells".into(),
            self.nr_read_cache_cells.to_string(),
        ));
        let mut out = vec![(kv.len() * 2).to_string()];
        for (k, v) in kv {
            out.push(k);
            out.push(v);
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cfg(extra: &[(&str, &str)]) -> Result<Config, OcfError> {
        let mut pairs = vec![
            ("name", "wb0"),
            ("backing_dev", "/dev/disk/by-id/hdd"),
            ("cache_dev", "/dev/disk/by-id/nvme"),
        ];
        pairs.extend_from_slice(extra);
        let p = Params::from_pairs(PARAMS, &pairs)?;
        Config::from_params(&p)
    }

    fn refused(extra: &[(&str, &str)]) -> String {
        match cfg(extra) {
            Err(e) => {
                assert_eq!(e.status().code(), 6, "{e}");
                e.to_string()
            }
            Ok(c) => panic!("{extra:?} accepted: {c:?}"),
        }
    }

    #[test]
    fn meta_data_invariants() {
        crate::ocf::metadata::check_meta(&META);
        // Legacy reload: devices and static options force a restart,
        // the dynamic tunables must not.
        for p in PARAMS {
            let must_restart = [
                "name",
                "backing_dev",
                "cache_dev",
                "write_around_mode",
                "nr_read_cache_cells",
            ]
            .contains(&p.name);
            assert_eq!(p.unique, must_restart, "{}", p.name);
        }
        assert!(META.supports("reload"));
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).expect("valid");
        assert_eq!(c.tunables, [70, 32, 0, 0, 0]);
        assert_eq!(c.format, Format::Never);
        assert_eq!(c.flush_on_stop, Flush::Buffer);
        assert!(!c.zero_superblock_on_stop && !c.write_around_mode);
        assert_eq!(c.nr_read_cache_cells, 2048);
        assert_eq!(c.node_attribute, "writeboost-wb0-dirty");
        assert_eq!(
            c.table_args().join(" "),
            "14 writeback_threshold 70 nr_max_batched_writeback 32 \
             update_sb_record_interval 0 sync_data_interval 0 read_cache_threshold 0 \
             write_around_mode 0 nr_read_cache_cells 2048"
        );
    }

    #[test]
    fn policies_parse() {
        let c = cfg(&[
            ("format", "if-unformatted"),
            ("flush_on_stop", "full"),
            ("zero_superblock_on_stop", "yes"),
            ("write_around_mode", "true"),
            ("writeback_threshold", "0"),
        ])
        .expect("valid");
        assert_eq!(c.format, Format::IfUnformatted);
        assert_eq!(c.flush_on_stop, Flush::Full);
        assert!(c.zero_superblock_on_stop && c.write_around_mode);
        assert!(c.table_args().join(" ").contains("write_around_mode 1"));
        assert_eq!(
            cfg(&[("format", "force")]).map(|c| c.format).ok(),
            Some(Format::Force)
        );
    }

    #[test]
    fn hostile_and_broken_values_are_refused_with_a_reason() {
        assert!(refused(&[("name", "a/b")]).contains("may only contain"));
        assert!(refused(&[("name", "..")]).contains("reserved"));
        assert!(refused(&[("name", "control")]).contains("reserved"));
        assert!(refused(&[("name", "x;reboot")]).contains("may only contain"));
        assert!(refused(&[("name", &"n".repeat(128))]).contains("127"));
        assert!(refused(&[("backing_dev", "/etc/passwd")]).contains("not a path under /dev/"));
        assert!(refused(&[("backing_dev", "sda")]).contains("not a path under /dev/"));
        assert!(refused(&[("cache_dev", "/dev/../etc/shadow")]).contains("'..'"));
        assert!(refused(&[("cache_dev", "/dev/x y")]).contains("white space"));
        assert!(refused(&[("cache_dev", "/dev/disk/by-id/hdd")]).contains("same path"));
        assert!(refused(&[("format", "always")]).contains("not one of never"));
        assert!(refused(&[("flush_on_stop", "none")]).contains("not one of buffer"));
        assert!(refused(&[("zero_superblock_on_stop", "true")]).contains("flush_on_stop=full"));
        assert!(refused(&[
            ("zero_superblock_on_stop", "true"),
            ("flush_on_stop", "full")
        ])
        .contains("format=never"));
        assert!(refused(&[("writeback_threshold", "101")]).contains("0 to 100"));
        assert!(refused(&[("nr_max_batched_writeback", "0")]).contains("1 to 32"));
        assert!(refused(&[("update_sb_record_interval", "3601")]).contains("0 to 3600"));
        assert!(refused(&[("sync_data_interval", "-1")]).contains("out of range"));
        assert!(refused(&[("read_cache_threshold", "128")]).contains("0 to 127"));
        assert!(refused(&[("nr_read_cache_cells", "4096")]).contains("1 to 2048"));
        assert!(refused(&[("write_around_mode", "2")]).contains("not a boolean"));
        assert!(refused(&[("node_attribute", "a b")]).contains("node_attribute"));
        assert!(refused(&[("backing_dev", "")]).contains("required parameter backing_dev"));
    }
}
