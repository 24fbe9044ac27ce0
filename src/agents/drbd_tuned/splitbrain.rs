// SPDX-License-Identifier: GPL-2.0-or-later
//! Split brain, from what really says so: DRBD's own kernel message
//! ("Split-Brain detected but unresolved, dropping connection!", printed
//! where DRBD also calls its split-brain handler), never guessed from a
//! StandAlone connection, which a plain `drbdadm disconnect` gives too.
//! Only looked for while a connection is StandAlone; nothing here resolves
//! anything.

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
}
