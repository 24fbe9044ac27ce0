// SPDX-License-Identifier: GPL-2.0-or-later
//! DRBD's state as the kernel and drbdsetup print it, parsed without side
//! effects: `/proc/drbd` of DRBD 8.4, `drbdsetup events2 --now` and
//! `drbdsetup status --json` of DRBD 9. From either comes `Flags`, the
//! summary ocf:linbit:drbd's score decision works on, computed the way its
//! shell functions compute it for that version (the two differ slightly).

use super::params::Version;
use serde_json::Value;

/// The first line of /proc/drbd: `version: 8.4.11 (api:1/proto:86-101)`.
pub fn proc_version(proc_drbd: &str) -> Option<Version> {
    let first = proc_drbd.lines().next()?;
    let v = first.strip_prefix("version:")?.trim();
    Version::parse_prefix(v)
}

/// One minor of DRBD 8.4 as /proc/drbd shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Minor84 {
    pub minor: u32,
    /// Connection state: Connected, StandAlone, WFConnection, SyncSource, ...
    pub cs: String,
    pub role: String,
    pub peer_role: String,
    pub disk: String,
    pub peer_disk: String,
    /// `sync'ed: 31.4%` while a resync runs.
    pub synced_pct: Option<f64>,
}

/// Every minor in /proc/drbd (DRBD 8.4). Lines it does not understand are
/// skipped; a minor with `cs:Unconfigured` has empty roles and disks.
pub fn parse_proc_drbd(text: &str) -> Vec<Minor84> {
    let mut out: Vec<Minor84> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some((num, rest)) = t.split_once(": cs:") {
            let Ok(minor) = num.trim().parse::<u32>() else {
                continue;
            };
            let mut m = Minor84 {
                minor,
                cs: String::new(),
                role: String::new(),
                peer_role: String::new(),
                disk: String::new(),
                peer_disk: String::new(),
                synced_pct: None,
            };
            let mut words = rest.split_whitespace();
            m.cs = words.next().unwrap_or_default().to_string();
            for w in words {
                if let Some(ro) = w.strip_prefix("ro:").or_else(|| w.strip_prefix("st:")) {
                    let (a, b) = ro.split_once('/').unwrap_or((ro, ""));
                    m.role = a.into();
                    m.peer_role = b.into();
                } else if let Some(ds) = w.strip_prefix("ds:").or_else(|| w.strip_prefix("ld:")) {
                    let (a, b) = ds.split_once('/').unwrap_or((ds, ""));
                    m.disk = a.into();
                    m.peer_disk = b.into();
                }
            }
            out.push(m);
        } else if let Some(pos) = t.find("sync'ed:") {
            let pct = t[pos + 8..].trim_start();
            let num: String = pct
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if let (Some(m), Ok(p)) = (out.last_mut(), num.parse::<f64>()) {
                m.synced_pct = Some(p);
            }
        }
    }
    out
}

/// One volume of a DRBD 9 resource, on this node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Device9 {
    pub volume: u32,
    pub minor: Option<u32>,
    pub disk: String,
    pub client: bool,
    pub quorum: Option<bool>,
}

/// One volume as a peer has it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerDevice9 {
    pub volume: u32,
    pub replication: String,
    pub peer_disk: String,
    pub peer_client: bool,
    /// Resync progress, when one runs.
    pub done_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Peer9 {
    pub node_id: Option<u32>,
    pub name: String,
    pub connection: String,
    pub role: String,
    pub devices: Vec<PeerDevice9>,
}

/// A DRBD 9 resource: `role` is empty when the resource does not exist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource9 {
    pub role: String,
    pub devices: Vec<Device9>,
    pub peers: Vec<Peer9>,
}

fn yes(v: &str) -> bool {
    v == "yes" || v == "true"
}

/// `drbdsetup events2 --now [--statistics] RES`: the `exists` lines of
/// `resource`. Lines of other resources and anything after `exists -` are
/// ignored.
pub fn parse_events2(text: &str, resource: &str) -> Resource9 {
    let mut r = Resource9::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        // events2 may prefix a timestamp when asked; skip it.
        let mut first = words.next();
        if first.is_some_and(|w| w != "exists" && w.contains('T')) {
            first = words.next();
        }
        if first != Some("exists") {
            continue;
        }
        let Some(object) = words.next() else { continue };
        if object == "-" {
            break;
        }
        let kv: Vec<(&str, &str)> = words.filter_map(|w| w.split_once(':')).collect();
        let get = |k: &str| kv.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
        if get("name") != Some(resource) {
            continue;
        }
        let num = |k: &str| get(k).and_then(|v| v.parse::<u32>().ok());
        match object {
            "resource" => r.role = get("role").unwrap_or_default().into(),
            "connection" => {
                let id = num("peer-node-id");
                let peer = Peer9 {
                    node_id: id,
                    name: get("conn-name").unwrap_or_default().into(),
                    connection: get("connection").unwrap_or_default().into(),
                    role: get("role").unwrap_or_default().into(),
                    devices: Vec::new(),
                };
                match r.peers.iter_mut().find(|p| p.node_id == id) {
                    Some(p) => {
                        let devices = std::mem::take(&mut p.devices);
                        *p = Peer9 { devices, ..peer };
                    }
                    None => r.peers.push(peer),
                }
            }
            "device" => r.devices.push(Device9 {
                volume: num("volume").unwrap_or(0),
                minor: num("minor"),
                disk: get("disk").unwrap_or_default().into(),
                client: get("client").is_some_and(yes),
                quorum: get("quorum").map(yes),
            }),
            "peer-device" => {
                let id = num("peer-node-id");
                let dev = PeerDevice9 {
                    volume: num("volume").unwrap_or(0),
                    replication: get("replication").unwrap_or_default().into(),
                    peer_disk: get("peer-disk").unwrap_or_default().into(),
                    peer_client: get("peer-client").is_some_and(yes),
                    done_pct: get("done").and_then(|v| v.parse().ok()),
                };
                match r.peers.iter_mut().find(|p| p.node_id == id) {
                    Some(p) => p.devices.push(dev),
                    // A peer device before its connection line: keep it.
                    None => r.peers.push(Peer9 {
                        node_id: id,
                        name: get("conn-name").unwrap_or_default().into(),
                        devices: vec![dev],
                        ..Peer9::default()
                    }),
                }
            }
            _ => {}
        }
    }
    r
}

/// `drbdsetup status --json RES`. `None` when the text is not that JSON;
/// an empty `role` when the resource is not in it.
pub fn parse_status_json(text: &str, resource: &str) -> Option<Resource9> {
    let v: Value = serde_json::from_str(text).ok()?;
    let list = v.as_array()?;
    let mut r = Resource9::default();
    let Some(res) = list
        .iter()
        .find(|x| x.get("name").and_then(Value::as_str) == Some(resource))
    else {
        return Some(r);
    };
    let s = |x: &Value, k: &str| {
        x.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let b = |x: &Value, k: &str| x.get(k).and_then(Value::as_bool);
    let n = |x: &Value, k: &str| {
        x.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    r.role = s(res, "role");
    for d in res
        .get("devices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        r.devices.push(Device9 {
            volume: n(d, "volume").unwrap_or(0),
            minor: n(d, "minor"),
            disk: s(d, "disk-state"),
            client: b(d, "client").unwrap_or(false),
            quorum: b(d, "quorum"),
        });
    }
    for c in res
        .get("connections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut p = Peer9 {
            node_id: n(c, "peer-node-id"),
            name: s(c, "name"),
            connection: s(c, "connection-state"),
            role: s(c, "peer-role"),
            devices: Vec::new(),
        };
        for pd in c
            .get("peer_devices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let replication = s(pd, "replication-state");
            let syncing = replication.starts_with("Sync") || replication.starts_with("PausedSync");
            p.devices.push(PeerDevice9 {
                volume: n(pd, "volume").unwrap_or(0),
                peer_disk: s(pd, "peer-disk-state"),
                peer_client: b(pd, "peer-client").unwrap_or(false),
                done_pct: if syncing {
                    pd.get("percent-in-sync").and_then(Value::as_f64)
                } else {
                    None
                },
                replication,
            });
        }
        r.peers.push(p);
    }
    Some(r)
}

/// The facts the promotion score and the monitor need, as ocf:linbit:drbd's
/// `drbd_set_status_variables` defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub unconfigured: bool,
    pub primary: bool,
    pub some_peer_primary: bool,
    pub diskless_client: bool,
    pub have_quorum: bool,
    pub pdsk_all_up_to_date: bool,
    pub pdsk_any_unknown: bool,
    pub some_peer_all_up_to_date: bool,
    pub some_peer_not_all_up_to_date: bool,
    pub disk_all_up_to_date: bool,
    pub disk_all_consistent: bool,
    pub disk_transitional: bool,
}

/// LINBIT's rule for local disk states, shared by both versions: what a
/// disk state does to (all up to date, all consistent, transitional).
fn local_disk(flags: &mut Flags, disk: &str, v9: bool) {
    match disk {
        "UpToDate" => return,
        "Diskless" | "Failed" | "Inconsistent" | "Outdated" => flags.disk_all_consistent = false,
        // Only the DRBD 9 code path knows Detaching.
        "Detaching" if v9 => flags.disk_all_consistent = false,
        "Attaching" | "Negotiating" => flags.disk_transitional = true,
        _ => {}
    }
    flags.disk_all_up_to_date = false;
}

impl Flags {
    fn fresh() -> Flags {
        Flags {
            have_quorum: true,
            disk_all_up_to_date: true,
            disk_all_consistent: true,
            ..Flags::default()
        }
    }

    /// DRBD 8.4: the minors of one resource (`_sh_status_process`).
    pub fn from_84(minors: &[&Minor84]) -> Flags {
        let mut f = Flags::fresh();
        let roles: Vec<&str> = minors.iter().map(|m| m.role.as_str()).collect();
        f.primary = roles.contains(&"Primary");
        f.unconfigured = !f.primary && !roles.contains(&"Secondary");
        f.some_peer_primary = minors.iter().any(|m| m.peer_role == "Primary");
        // Missing values read as DUnknown / Unconfigured, as sh-status has it.
        let unknown = |s: &str| {
            if s.is_empty() {
                "DUnknown".to_string()
            } else {
                s.to_string()
            }
        };
        let mut pdsks: Vec<String> = minors.iter().map(|m| unknown(&m.peer_disk)).collect();
        if pdsks.is_empty() {
            pdsks.push("DUnknown".into());
        }
        f.pdsk_all_up_to_date = true;
        for p in &pdsks {
            match p.as_str() {
                "UpToDate" => {}
                "DUnknown" => {
                    f.pdsk_all_up_to_date = false;
                    f.pdsk_any_unknown = true;
                    break;
                }
                _ => f.pdsk_all_up_to_date = false,
            }
        }
        let mut disks: Vec<&str> = minors
            .iter()
            .map(|m| {
                if m.disk.is_empty() {
                    "Unconfigured"
                } else {
                    m.disk.as_str()
                }
            })
            .collect();
        if disks.is_empty() {
            disks.push("Unconfigured");
        }
        for d in disks {
            local_disk(&mut f, d, false);
        }
        f.some_peer_all_up_to_date = f.pdsk_all_up_to_date;
        f.some_peer_not_all_up_to_date = !f.pdsk_all_up_to_date;
        f
    }

    /// DRBD 9 (`_drbd_set_status_variables_from_events2`).
    pub fn from_9(r: &Resource9) -> Flags {
        let mut f = Flags::fresh();
        f.primary = r.role == "Primary";
        f.unconfigured = r.role.is_empty() || r.role == "Unconfigured";
        f.some_peer_primary = r.peers.iter().any(|p| p.role == "Primary");
        let n_volumes = r.devices.len();
        let mut n_client = 0;
        for d in &r.devices {
            if d.disk == "Diskless" && d.client {
                n_client += 1;
                continue;
            }
            local_disk(&mut f, &d.disk, true);
            if d.quorum == Some(false) {
                f.have_quorum = false;
            }
        }
        f.diskless_client = n_volumes == n_client;
        for p in &r.peers {
            let clients = p.devices.iter().filter(|d| d.peer_client).count();
            let up = p
                .devices
                .iter()
                .filter(|d| d.peer_disk == "UpToDate")
                .count();
            let known = p
                .devices
                .iter()
                .filter(|d| !d.peer_disk.is_empty() && d.peer_disk != "DUnknown")
                .count();
            if clients == n_volumes {
                // A diskless client peer does not count for good data.
                continue;
            } else if up == n_volumes {
                f.some_peer_all_up_to_date = true;
            } else {
                f.some_peer_not_all_up_to_date = true;
            }
            if known != n_volumes {
                f.pdsk_any_unknown = true;
            }
        }
        f.pdsk_all_up_to_date = f.some_peer_all_up_to_date && !f.some_peer_not_all_up_to_date;
        f
    }
}

/// What the monitor reports beside its exit code: the replication state in
/// words, for the log, a node attribute and `--json`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Summary {
    pub role: String,
    pub disks: Vec<String>,
    pub peers: Vec<PeerSummary>,
    pub quorum: bool,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct PeerSummary {
    pub name: String,
    pub connection: String,
    pub role: String,
    pub disks: Vec<String>,
    pub replication: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resync_pct: Option<f64>,
}

impl Summary {
    pub fn from_84(minors: &[&Minor84]) -> Summary {
        let role = if minors.iter().any(|m| m.role == "Primary") {
            "Primary"
        } else if minors.iter().any(|m| m.role == "Secondary") {
            "Secondary"
        } else {
            "Unconfigured"
        };
        Summary {
            role: role.into(),
            disks: minors.iter().map(|m| m.disk.clone()).collect(),
            peers: vec![PeerSummary {
                name: String::new(),
                connection: minors.first().map(|m| m.cs.clone()).unwrap_or_default(),
                role: minors
                    .first()
                    .map(|m| m.peer_role.clone())
                    .unwrap_or_default(),
                disks: minors.iter().map(|m| m.peer_disk.clone()).collect(),
                replication: minors.iter().map(|m| m.cs.clone()).collect(),
                resync_pct: minors.iter().find_map(|m| m.synced_pct),
            }],
            quorum: true,
        }
    }

    pub fn from_9(r: &Resource9) -> Summary {
        Summary {
            role: if r.role.is_empty() {
                "Unconfigured".into()
            } else {
                r.role.clone()
            },
            disks: r.devices.iter().map(|d| d.disk.clone()).collect(),
            peers: r
                .peers
                .iter()
                .map(|p| PeerSummary {
                    name: p.name.clone(),
                    connection: p.connection.clone(),
                    role: p.role.clone(),
                    disks: p.devices.iter().map(|d| d.peer_disk.clone()).collect(),
                    replication: p.devices.iter().map(|d| d.replication.clone()).collect(),
                    resync_pct: p.devices.iter().find_map(|d| d.done_pct),
                })
                .collect(),
            quorum: !r.devices.iter().any(|d| d.quorum == Some(false)),
        }
    }

    /// One line: `Primary UpToDate; node2 Connected Secondary UpToDate`,
    /// with the resync percentage and quorum loss when they apply.
    pub fn line(&self) -> String {
        let mut s = format!("{} {}", self.role, self.disks.join(","));
        if !self.quorum {
            s.push_str(" (no quorum)");
        }
        for p in &self.peers {
            s.push_str("; ");
            if !p.name.is_empty() {
                s.push_str(&p.name);
                s.push(' ');
            }
            s.push_str(&format!(
                "{} {} {}",
                p.connection,
                p.role,
                p.disks.join(",")
            ));
            let repl: Vec<&String> = p
                .replication
                .iter()
                .filter(|r| *r != "Established" && **r != p.connection)
                .collect();
            if !repl.is_empty() {
                let r: Vec<&str> = repl.iter().map(|s| s.as_str()).collect();
                s.push_str(&format!(" {}", r.join(",")));
            }
            if let Some(pct) = p.resync_pct {
                s.push_str(&format!(" {pct:.1}%"));
            }
        }
        s
    }

    /// Whether the state is anything but a healthy, connected replication.
    pub fn degraded_reason(&self) -> Option<String> {
        let healthy_peer = |p: &PeerSummary| {
            p.connection == "Connected"
                && p.disks.iter().all(|d| d == "UpToDate")
                && p.replication
                    .iter()
                    .all(|r| r == "Established" || r == "Connected")
        };
        let ok = self.quorum
            && self.disks.iter().all(|d| d == "UpToDate")
            && self.peers.iter().all(healthy_peer);
        (!ok).then(|| self.line())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
