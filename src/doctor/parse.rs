// SPDX-License-Identifier: GPL-2.0-or-later
//! Pure readers of what `storha doctor` asks the host: tool versions,
//! `drbdadm dump`, corosync.conf's nodelist, `corosync-cfgtool -s`,
//! `timedatectl show`. Each takes the text as the tool printed it.

/// `DRBDADM_VERSION=9.22.0` and `DRBD_KERNEL_VERSION_CODE=0x08040b` of
/// `drbdadm --version`: (utilities, kernel module), each when present.
pub fn drbdadm_version(text: &str) -> (Option<String>, Option<String>) {
    let mut utils = None;
    let mut kernel = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("DRBDADM_VERSION=") {
            utils = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("DRBD_KERNEL_VERSION=") {
            kernel = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("DRBD_KERNEL_VERSION_CODE=") {
            if kernel.is_none() {
                kernel = version_code(v.trim());
            }
        }
    }
    (utils, kernel)
}

/// 0x08040b -> 8.4.11.
fn version_code(hex: &str) -> Option<String> {
    let n = u32::from_str_radix(hex.strip_prefix("0x")?, 16).ok()?;
    if n == 0 {
        return None;
    }
    Some(format!("{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff))
}

/// `Corosync Cluster Engine, version '3.1.7'` -> 3.1.7.
pub fn corosync_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains("version"))?;
    let v = line.rsplit("version").next()?.trim().trim_matches('\'');
    (!v.is_empty()).then(|| v.to_string())
}

/// `Pacemaker 2.1.5` -> 2.1.5.
pub fn pacemaker_version(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let v = line.strip_prefix("Pacemaker ")?.split_whitespace().next()?;
    Some(v.to_string())
}

/// The major number of a dotted version.
pub fn major(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

/// One resource of `drbdadm dump all`: its name, the hosts of its `on`
/// sections, and whether drbdadm said it ignores it on this node (no
/// section names this host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrbdResource {
    pub name: String,
    pub hosts: Vec<String>,
    pub ignored: bool,
    /// Where it is defined, as drbdadm says (`/etc/drbd.d/r0.res:1`).
    pub defined_at: Option<String>,
}

/// The resources of `drbdadm dump all`, which prints the configuration
/// normalized: `resource NAME {` at the start of a line, `on HOST {` one
/// level in, and before each resource the comments
/// `# resource NAME on NODE: ignored, not stacked` and `# defined at ...`.
pub fn drbd_dump(text: &str) -> Vec<DrbdResource> {
    let mut out: Vec<DrbdResource> = Vec::new();
    let mut ignored: Option<(String, bool)> = None;
    let mut defined_at = None;
    let mut depth: i32 = 0;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(c) = line.strip_prefix('#') {
            let c = c.trim();
            if let Some(rest) = c.strip_prefix("resource ") {
                if let Some((head, state)) = rest.split_once(':') {
                    let name = head.split_whitespace().next().unwrap_or("").to_string();
                    let state = state.trim();
                    ignored = Some((name, state.starts_with("ignored")));
                }
            } else if let Some(at) = c.strip_prefix("defined at ") {
                defined_at = Some(at.trim().to_string());
            }
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["resource", name, "{", ..] if depth == 0 => {
                let name = name.to_string();
                let ign = ignored.take().is_some_and(|(n, ign)| n == name && ign);
                out.push(DrbdResource {
                    name,
                    hosts: Vec::new(),
                    ignored: ign,
                    defined_at: defined_at.take(),
                });
            }
            ["on", hosts @ .., "{"] if depth == 1 => {
                if let Some(r) = out.last_mut() {
                    r.hosts.extend(hosts.iter().map(|h| h.to_string()));
                }
            }
            _ => {}
        }
        depth += line.matches('{').count() as i32;
        depth -= line.matches('}').count() as i32;
    }
    out
}

/// The node names of corosync.conf's `nodelist { node { name: ... } }`, or
/// each node's `ring0_addr` where it has no name (Pacemaker then uses
/// `uname -n`, which doctor compares separately).
pub fn corosync_nodelist(conf: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut cur_name: Option<String> = None;
    let mut cur_addr: Option<String> = None;
    for raw in conf.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_suffix('{') {
            stack.push(section.trim().to_string());
            if stack == ["nodelist", "node"] {
                cur_name = None;
                cur_addr = None;
            }
            continue;
        }
        if line == "}" {
            if stack == ["nodelist", "node"] {
                names.extend(cur_name.take().or(cur_addr.take()));
            }
            stack.pop();
            continue;
        }
        if stack == ["nodelist", "node"] {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim() {
                    "name" => cur_name = Some(v.trim().to_string()),
                    "ring0_addr" => cur_addr = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
    }
    names
}

/// One link of `corosync-cfgtool -s` and the nodes it does not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub addr: String,
    /// (node id, status) of every node but this one.
    pub peers: Vec<(String, String)>,
}

/// `corosync-cfgtool -s` (Corosync 3, knet):
/// ```text
/// LINK ID 0 udp
///     addr    = 192.168.77.11
///     status:
///         nodeid:          1:  localhost
///         nodeid:          2:  connected
/// ```
pub fn cfgtool_links(text: &str) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("LINK ID ") {
            out.push(Link {
                id: rest.split_whitespace().next().unwrap_or("").to_string(),
                addr: String::new(),
                peers: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("addr") {
            if let Some(l) = out.last_mut() {
                l.addr = rest.trim().trim_start_matches('=').trim().to_string();
            }
        } else if let Some(rest) = line.strip_prefix("nodeid:") {
            let Some((id, status)) = rest.split_once(':') else {
                continue;
            };
            let status = status.trim().to_string();
            if status == "localhost" {
                continue;
            }
            if let Some(l) = out.last_mut() {
                l.peers.push((id.trim().to_string(), status));
            }
        }
    }
    out
}

/// `timedatectl show`'s `KEY=value` lines: (NTP service on, clock
/// synchronized).
pub fn timedatectl(text: &str) -> (Option<bool>, Option<bool>) {
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim() == "yes")
    };
    (get("NTP"), get("NTPSynchronized"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured in the lab (Debian 12, drbd-utils 9.22, DRBD 8.4.11,
    // Corosync 3.1.7, Pacemaker 2.1.5).
    const VERSION: &str = include_str!("fixtures/drbdadm-version.txt");
    const DUMP: &str = include_str!("fixtures/drbdadm-dump.txt");
    const DUMP_IGNORED: &str = include_str!("fixtures/drbdadm-dump-ignored.txt");
    const CFGTOOL: &str = include_str!("fixtures/corosync-cfgtool-s.txt");
    const CONF: &str = include_str!("fixtures/corosync.conf");

    #[test]
    fn versions() {
        assert_eq!(
            drbdadm_version(VERSION),
            (Some("9.22.0".into()), Some("8.4.11".into()))
        );
        assert_eq!(
            corosync_version(include_str!("fixtures/corosync-v.txt")).as_deref(),
            Some("3.1.7")
        );
        assert_eq!(
            pacemaker_version(include_str!("fixtures/pacemakerd-version.txt")).as_deref(),
            Some("2.1.5")
        );
        assert_eq!(major("3.1.7"), Some(3));
        assert_eq!(
            drbdadm_version("DRBD_KERNEL_VERSION_CODE=0x000000\n"),
            (None, None)
        );
        assert_eq!(corosync_version(""), None);
        assert_eq!(pacemaker_version("garbage"), None);
    }

    #[test]
    fn drbd_dump_hosts_and_ignored() {
        assert_eq!(
            drbd_dump(DUMP),
            vec![DrbdResource {
                name: "r9".into(),
                hosts: vec!["node1".into(), "node2".into()],
                ignored: false,
                defined_at: Some("/etc/drbd.d/r9.res:1".into()),
            }]
        );
        let r = drbd_dump(DUMP_IGNORED);
        assert_eq!(r.len(), 1);
        assert!(r[0].ignored);
        assert_eq!(r[0].hosts, ["nodeY", "nodeX"]);
        assert!(drbd_dump("").is_empty());
    }

    #[test]
    fn drbd_dump_of_drbd9_sections() {
        let text = "resource r0 {\n    on alpha {\n        node-id 0;\n        volume 0 {\n            device minor 0;\n        }\n    }\n    on beta {\n        node-id 1;\n    }\n    connection {\n        host alpha address 10.0.0.1:7789;\n    }\n}\n";
        assert_eq!(drbd_dump(text)[0].hosts, ["alpha", "beta"]);
    }

    #[test]
    fn corosync_names() {
        assert_eq!(corosync_nodelist(CONF), ["node1", "node2"]);
        let noname =
            "nodelist {\n  node {\n    ring0_addr: 10.0.0.1 # first\n    nodeid: 1\n  }\n}\n";
        assert_eq!(corosync_nodelist(noname), ["10.0.0.1"]);
        assert!(corosync_nodelist("totem {\n}\n").is_empty());
    }

    #[test]
    fn cfgtool() {
        assert_eq!(
            cfgtool_links(CFGTOOL),
            vec![Link {
                id: "0".into(),
                addr: "192.168.77.11".into(),
                peers: vec![("2".into(), "connected".into())],
            }]
        );
        // The capture with the peer's status as Corosync 3.1 prints a lost one.
        let down = CFGTOOL.replace("2:\tconnected", "2:\tdisconnected");
        assert_eq!(cfgtool_links(&down)[0].peers[0].1, "disconnected");
    }

    #[test]
    fn time_sync() {
        assert_eq!(
            timedatectl(include_str!("fixtures/timedatectl-show.txt")),
            (Some(false), Some(false))
        );
        assert_eq!(
            timedatectl("NTP=yes\nNTPSynchronized=yes\n"),
            (Some(true), Some(true))
        );
        assert_eq!(timedatectl(""), (None, None));
    }
}
