// SPDX-License-Identifier: GPL-2.0-or-later
//! Split brain, from what really says so: DRBD's own kernel message
//! ("Split-Brain detected but unresolved, dropping connection!", printed
//! where DRBD also calls its split-brain handler), never guessed from a
//! StandAlone connection, which a plain `drbdadm disconnect` gives too.
//! Only looked for while a connection is StandAlone; nothing here resolves
//! anything.
//!
//! DRBD also calls its `split-brain` handler at that moment. `storha
//! drbd-split-brain`, configured as that handler, leaves a per-boot marker
//! for the resource that monitor reports first; the kernel log stays the
//! fallback for nodes without the handler line.

use std::path::{Path, PathBuf};

/// DRBD's message for a split brain its after-sb policies did not solve.
pub const UNRESOLVED: &str = "Split-Brain detected but unresolved";

/// Whether a kernel log line is about the resource or one of its minors:
/// `drbd r0: ...`, `drbd r0 node2: ...`, `drbd r0/0 drbd0 node2: ...`
/// (DRBD 9), `block drbd0: ...` (DRBD 8.4).
fn ours(line: &str, res: &str, minors: &[u32]) -> bool {
    let by_res = [
        format!("drbd {res}:"),
        format!("drbd {res} "),
        format!("drbd {res}/"),
    ];
    if by_res.iter().any(|p| line.contains(p.as_str())) {
        return true;
    }
    minors
        .iter()
        .any(|m| line.contains(&format!("block drbd{m}:")) || line.contains(&format!(" drbd{m} ")))
}

/// The line saying so, when the resource's last word in the kernel log
/// is an unresolved split brain (no connection established after it).
pub fn from_kernel_log(lines: &[String], res: &str, minors: &[u32]) -> Option<String> {
    let mut found: Option<&String> = None;
    for l in lines.iter().filter(|l| ours(l, res, minors)) {
        if l.contains(UNRESOLVED) {
            found = Some(l);
        } else if l.contains("-> Connected )") {
            found = None;
        }
    }
    found.map(|l| l.trim().to_string())
}

/// The message of each record of /dev/kmsg that mentions DRBD (records
/// are `prio,seq,usec,flags;message`; continuation lines are skipped).
pub fn kmsg_messages(records: &[String]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r.split_once(';').map(|(_, m)| m))
        .filter_map(|m| m.lines().next())
        .filter(|m| m.contains("drbd"))
        .map(str::to_string)
        .collect()
}

/// The marker the handler leaves for a resource, in the agents' state
/// directory. Characters other than letters, digits, `-` and `_` are
/// written as `%XX`, so that no resource name can leave the directory and
/// no two names share a file.
pub fn marker_path(dir: &Path, res: &str) -> PathBuf {
    let mut name = String::from("storha-drbd-split-brain.");
    for b in res.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    dir.join(name)
}

/// What DRBD passes its handler, as far as the report uses it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HandlerCall {
    pub resource: String,
    pub minor: Option<String>,
    pub peer: Option<String>,
}

impl HandlerCall {
    /// From the handler's environment (`DRBD_RESOURCE`, `DRBD_MINOR` or
    /// DRBD 9's `DRBD_MINOR_n`, `DRBD_PEER` / `DRBD_PEER_ADDRESS`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let resource = nonempty("DRBD_RESOURCE").ok_or_else(|| {
            "DRBD_RESOURCE is not set: run as DRBD's split-brain handler \
             (handlers { split-brain \"/usr/bin/storha drbd-split-brain\"; })"
                .to_string()
        })?;
        if resource.len() > 128 || resource.chars().any(char::is_control) {
            return Err("DRBD_RESOURCE is not a resource name".to_string());
        }
        let minor = nonempty("DRBD_MINOR")
            .or_else(|| nonempty("DRBD_MINOR_0"))
            .filter(|m| m.chars().all(|c| c.is_ascii_digit()));
        let peer = nonempty("DRBD_PEER")
            .or_else(|| nonempty("DRBD_PEER_ADDRESS"))
            .filter(|p| p.len() <= 128 && !p.chars().any(char::is_control));
        Ok(HandlerCall {
            resource,
            minor,
            peer,
        })
    }

    /// The report line, as monitor shows it.
    pub fn line(&self, unix_secs: u64) -> String {
        let mut s = format!(
            "DRBD's split-brain handler ran for {} (unresolved split brain)",
            self.resource
        );
        if let Some(m) = &self.minor {
            s.push_str(&format!(", minor {m}"));
        }
        if let Some(p) = &self.peer {
            s.push_str(&format!(", peer {p}"));
        }
        s.push_str(&format!(", at {unix_secs} (unix time)"));
        s
    }
}

/// Writes the marker: the boot id on the first line, the report on the
/// second (a marker of an earlier boot is never reported).
pub fn record(
    dir: &Path,
    call: &HandlerCall,
    boot_id: &str,
    unix_secs: u64,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = marker_path(dir, &call.resource);
    let tmp = path.with_extension("tmp");
    let text = format!("{boot_id}\n{}\n", call.line(unix_secs));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The handler's report for the resource, when its marker is of this boot.
pub fn from_handler(dir: &Path, res: &str, boot_id: &str) -> Option<String> {
    let text = std::fs::read_to_string(marker_path(dir, res)).ok()?;
    let (boot, line) = text.split_once('\n')?;
    (!boot_id.is_empty() && boot.trim() == boot_id)
        .then(|| line.trim().to_string())
        .filter(|l| !l.is_empty())
}

/// Forgets the handler's report (the resource connected again).
pub fn clear_handler(dir: &Path, res: &str) {
    let _ = std::fs::remove_file(marker_path(dir, res));
}

/// What an operator does about it, for the log and `--json`.
pub fn advice(res: &str) -> String {
    format!(
        "resolve by hand (the agent never discards data): on the node whose changes are to be \
         thrown away, drbdadm secondary {res} && drbdadm connect --discard-my-data {res}; on \
         the other, drbdadm connect {res}"
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn an_unresolved_split_brain_is_found_until_the_next_connection() {
        let log = lines(
            "drbd r0: conn( WFReportParams -> Connected )\n\
             block drbd0: role( Secondary -> Primary )\n\
             drbd r0: conn( Connected -> Disconnecting )\n\
             block drbd0: Split-Brain detected but unresolved, dropping connection!\n\
             block drbd0: helper command: /sbin/drbdadm split-brain minor-0\n\
             drbd r0: conn( WFReportParams -> Disconnecting )\n",
        );
        assert_eq!(
            from_kernel_log(&log, "r0", &[0]).as_deref(),
            Some("block drbd0: Split-Brain detected but unresolved, dropping connection!")
        );
        assert_eq!(from_kernel_log(&log, "r1", &[1]), None, "another resource");
        let mut later = log.clone();
        later.push("drbd r0: conn( WFReportParams -> Connected )".into());
        assert_eq!(from_kernel_log(&later, "r0", &[0]), None, "resolved since");
    }

    #[test]
    fn a_plain_disconnect_is_not_a_split_brain() {
        let log = lines(
            "drbd r0: conn( WFReportParams -> Connected )\n\
             drbd r0: conn( Connected -> Disconnecting )\n\
             drbd r0: conn( Disconnecting -> StandAlone )\n",
        );
        assert_eq!(from_kernel_log(&log, "r0", &[0]), None);
    }

    #[test]
    fn drbd9_lines_and_kmsg_records() {
        let log = lines(
            "drbd r0 node2: conn( Connecting -> Connected ) peer( Unknown -> Secondary )\n\
             drbd r0/0 drbd1 node2: Split-Brain detected but unresolved, dropping connection!\n",
        );
        assert!(from_kernel_log(&log, "r0", &[1]).is_some());
        assert!(from_kernel_log(&log, "r00", &[2]).is_none());
        let recs = lines(
            "6,1022,5230112,-;drbd r0: conn( Connected -> Disconnecting )\n\
             2,1023,5230200,-;block drbd0: Split-Brain detected but unresolved, dropping connection!\n\
             6,1024,5230300,-;virtio_net virtio0 eth0: renamed",
        );
        assert_eq!(kmsg_messages(&recs).len(), 2);
        assert!(advice("r0").contains("connect --discard-my-data r0"));
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("storha-sb-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn the_handler_leaves_a_marker_of_this_boot_only() {
        let dir = tmpdir("marker");
        let env = |k: &str| match k {
            "DRBD_RESOURCE" => Some("r0".to_string()),
            "DRBD_MINOR" => Some("0".to_string()),
            "DRBD_PEER_ADDRESS" => Some("192.168.77.12".to_string()),
            _ => None,
        };
        let call = HandlerCall::from_env(env).unwrap();
        let path = record(&dir, &call, "boot-a", 1_700_000_000).unwrap();
        assert_eq!(path, dir.join("storha-drbd-split-brain.r0"));
        let got = from_handler(&dir, "r0", "boot-a").unwrap();
        assert_eq!(
            got,
            "DRBD's split-brain handler ran for r0 (unresolved split brain), minor 0, \
             peer 192.168.77.12, at 1700000000 (unix time)"
        );
        assert_eq!(from_handler(&dir, "r1", "boot-a"), None, "another resource");
        assert_eq!(from_handler(&dir, "r0", "boot-b"), None, "an earlier boot");
        assert_eq!(from_handler(&dir, "r0", ""), None, "no boot id");
        clear_handler(&dir, "r0");
        assert_eq!(from_handler(&dir, "r0", "boot-a"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_handler_needs_a_resource_and_keeps_names_inside_the_directory() {
        assert!(HandlerCall::from_env(|_| None)
            .unwrap_err()
            .contains("split-brain handler"));
        assert!(
            HandlerCall::from_env(|k| (k == "DRBD_RESOURCE").then(|| "r\n0".to_string())).is_err()
        );
        let dir = Path::new("/run/x");
        assert_eq!(
            marker_path(dir, "../etc/r 0"),
            dir.join("storha-drbd-split-brain.%2E%2E%2Fetc%2Fr%200")
        );
        assert_ne!(marker_path(dir, "r/0"), marker_path(dir, "r_0"));
        // DRBD 9 names the minors of its volumes DRBD_MINOR_n; a bad minor is left out.
        let c = HandlerCall::from_env(|k| match k {
            "DRBD_RESOURCE" => Some("r0".into()),
            "DRBD_MINOR_0" => Some("3".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.minor.as_deref(), Some("3"));
        let c = HandlerCall::from_env(|k| match k {
            "DRBD_RESOURCE" => Some("r0".into()),
            "DRBD_MINOR" => Some("0; rm".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.minor, None);
    }
}
