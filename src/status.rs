// SPDX-License-Identifier: GPL-2.0-or-later
//! `storha status`: the layers of the stack on this node in one screen,
//! from cheap reads only (`dmsetup status`, /proc/drbd, crm_mon and the
//! CIB's resources, the kernel's addresses over netlink), with what is
//! wrong in words. Nothing is changed and no agent action is run.
//!
//! First version: writeboost devices, DRBD 8.4 (/proc/drbd) and DRBD 9
//! (`drbdsetup status --json`), the floating IPs of the configured storha
//! resources.

use crate::agents::drbd_tuned::state::{parse_proc_drbd, parse_status_json, proc_version, Summary};
use crate::agents::writeboost_cache::dm::parse_status;
use crate::cluster;
use crate::cmd::{Cmd, CmdError, Runner};
use crate::net::netlink::{Netlink, OperState};
use serde::Serialize;
use std::fmt::Write;
use std::net::IpAddr;
use std::time::Duration;

/// A cache this full of dirty blocks is worth a word: writes soon go at the
/// backing disk's speed.
const DIRTY_WARN_PCT: f64 = 80.0;

/// One read: its text, or why there is nothing to read (not a fault), or
/// why it failed.
#[derive(Debug)]
pub enum Read {
    Got(String),
    Absent(String),
    Failed(String),
}

/// What the reads found, before any judgement (the unit tests' input).
#[derive(Debug)]
pub struct Inputs {
    pub node: String,
    /// `dmsetup status --target writeboost`.
    pub dm_status: Read,
    /// /proc/drbd; None when the module is not loaded.
    pub proc_drbd: Option<String>,
    /// `drbdsetup status --json`, read only when /proc/drbd says DRBD 9.
    pub drbd9_json: Option<Read>,
    /// crm_mon's XML; Ok(None) when Pacemaker is not running here.
    pub crm_mon: Result<Option<String>, String>,
    /// The CIB's resources section, when Pacemaker runs.
    pub cib: Option<Result<String, String>>,
    /// This node's addresses: (interface, address, prefix, link up).
    pub addrs: Result<Vec<(String, IpAddr, u8, bool)>, String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Writeboost {
    pub name: String,
    pub dirty_blocks: u64,
    pub cache_blocks: u64,
    pub dirty_pct: f64,
    pub writeback_lag_segments: u64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Drbd {
    pub minor: u32,
    pub connection: String,
    pub role: String,
    pub peer_role: String,
    pub disk: String,
    pub peer_disk: String,
    pub synced_pct: Option<f64>,
}

/// A DRBD 9 resource, from `drbdsetup status --json` (drbd-tuned's reader).
#[derive(Debug, Serialize, PartialEq)]
pub struct Drbd9 {
    pub resource: String,
    #[serde(flatten)]
    pub state: Summary,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct FloatingIp {
    pub resource: String,
    pub ip: String,
    /// Where Pacemaker runs it.
    pub started_on: Vec<String>,
    /// The interface holding the address on this node, if any.
    pub here_on: Option<String>,
    pub link_up: Option<bool>,
}

#[derive(Debug, Serialize, Default)]
pub struct Report {
    pub node: String,
    pub pacemaker: bool,
    pub writeboost: Vec<Writeboost>,
    pub drbd: Vec<Drbd>,
    pub drbd9: Vec<Drbd9>,
    pub floating_ips: Vec<FloatingIp>,
    /// What is wrong, in words; empty when all is well.
    pub problems: Vec<String>,
    /// What could not be looked at, and why (not a fault of the stack).
    pub notes: Vec<String>,
}

/// Reads everything `report` judges. Each read is bounded and cheap.
pub fn gather(runner: &dyn Runner) -> Inputs {
    let dm = Cmd::new("dmsetup")
        .args(["status", "--target", "writeboost"])
        .timeout(Duration::from_secs(10));
    let dm_status = match runner.run(&dm) {
        Ok(o) => Read::Got(o.stdout),
        Err(CmdError::NotFound { .. }) => Read::Absent("dmsetup is not installed".into()),
        Err(CmdError::Failed { ref stderr, .. })
            if stderr.contains("device-mapper driver") || stderr.contains("mapper/control") =>
        {
            Read::Absent("the kernel has no device-mapper".into())
        }
        Err(e) => Read::Failed(e.to_string()),
    };
    let crm_mon = cluster::crm_mon_xml(runner);
    let cib = matches!(crm_mon, Ok(Some(_))).then(|| {
        runner
            .run(
                &Cmd::new("cibadmin")
                    .args(["--query", "--scope", "resources"])
                    .timeout(Duration::from_secs(30)),
            )
            .map(|o| o.stdout)
            .map_err(|e| e.to_string())
    });
    let node = cluster::node_name(runner);
    let proc_drbd = std::fs::read_to_string("/proc/drbd").ok();
    let drbd9_json = proc_drbd
        .as_deref()
        .and_then(proc_version)
        .filter(|v| v.0 >= 9)
        .map(|_| {
            let cmd = Cmd::new("drbdsetup")
                .args(["status", "--json"])
                .timeout(Duration::from_secs(10));
            match runner.run(&cmd) {
                Ok(o) => Read::Got(o.stdout),
                Err(CmdError::NotFound { .. }) => Read::Absent("drbdsetup is not installed".into()),
                Err(e) => Read::Failed(e.to_string()),
            }
        });
    Inputs {
        node,
        dm_status,
        proc_drbd,
        drbd9_json,
        crm_mon,
        cib,
        addrs: addresses(),
    }
}

fn addresses() -> Result<Vec<(String, IpAddr, u8, bool)>, String> {
    let nl = Netlink::open().map_err(|e| e.to_string())?;
    let links = nl.links().map_err(|e| e.to_string())?;
    let addrs = nl.addrs(None).map_err(|e| e.to_string())?;
    Ok(addrs
        .iter()
        .map(|a| {
            let link = links.iter().find(|l| l.index == a.ifindex);
            (
                link.map(|l| l.name.clone()).unwrap_or_default(),
                a.own_address(),
                a.prefix_len,
                link.is_some_and(|l| l.up && l.oper_state != OperState::Down),
            )
        })
        .collect())
}

/// Judges what was read.
pub fn report(inp: &Inputs) -> Report {
    let mut r = Report {
        node: inp.node.clone(),
        ..Report::default()
    };
    // Writeboost.
    match &inp.dm_status {
        Read::Absent(why) => r
            .notes
            .push(format!("{why}: writeboost devices not looked at")),
        Read::Failed(e) => r
            .problems
            .push(format!("cannot read the writeboost devices: {e}")),
        Read::Got(text) => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if line.trim() == "No devices found" {
                    continue;
                }
                let Some((name, rest)) = line.split_once(": ") else {
                    continue;
                };
                let mut f = rest.splitn(4, ' ');
                let (_, _, target, params) = (f.next(), f.next(), f.next(), f.next());
                if target != Some("writeboost") {
                    continue;
                }
                match parse_status(params.unwrap_or("")) {
                    Ok(s) => {
                        let w = Writeboost {
                            name: name.to_string(),
                            dirty_blocks: s.nr_dirty,
                            cache_blocks: s.nr_cache_blocks,
                            dirty_pct: (s.dirty_pct() * 10.0).round() / 10.0,
                            writeback_lag_segments: s.writeback_lag(),
                        };
                        if w.dirty_pct >= DIRTY_WARN_PCT {
                            r.problems.push(format!(
                                "writeboost {}: {:.1}% of the cache is dirty: writes will soon go at \
                                 the backing disk's speed (is writeback running?)",
                                w.name, w.dirty_pct
                            ));
                        }
                        r.writeboost.push(w);
                    }
                    Err(e) => r
                        .problems
                        .push(format!("writeboost {name}: status not understood: {e}")),
                }
            }
        }
    }
    // DRBD.
    match &inp.proc_drbd {
        None => r.notes.push("DRBD is not loaded (no /proc/drbd)".into()),
        Some(text) => {
            for m in parse_proc_drbd(text) {
                drbd_problems(&m, &mut r.problems);
                r.drbd.push(Drbd {
                    minor: m.minor,
                    connection: m.cs,
                    role: m.role,
                    peer_role: m.peer_role,
                    disk: m.disk,
                    peer_disk: m.peer_disk,
                    synced_pct: m.synced_pct,
                });
            }
            if r.drbd.is_empty() && text.starts_with("version: 9") {
                r.notes
                    .push("DRBD 9: /proc/drbd lists no devices; see drbdsetup status".into());
            }
        }
    }
    match &inp.drbd9_json {
        None => {}
        Some(Read::Absent(why)) => r.notes.push(format!("{why}: DRBD 9 not looked at")),
        Some(Read::Failed(e)) => r.problems.push(format!("cannot read DRBD 9's state: {e}")),
        Some(Read::Got(text)) => drbd9(&mut r, text),
    }
    // Pacemaker and the floating IPs.
    let placed = match &inp.crm_mon {
        Ok(None) => {
            r.notes
                .push("Pacemaker is not running on this node: resources not looked at".into());
            None
        }
        Err(e) => {
            r.problems.push(format!("cannot ask Pacemaker: {e}"));
            None
        }
        Ok(Some(xml)) => match cluster::parse_crm_mon_all(xml) {
            Ok(p) => Some(p),
            Err(e) => {
                r.problems
                    .push(format!("cannot read crm_mon's answer: {e}"));
                None
            }
        },
    };
    if let Some(placed) = placed {
        r.pacemaker = true;
        for p in placed.iter().filter(|p| p.failed) {
            r.problems.push(format!(
                "{} ({}) has failed{}",
                p.id,
                p.agent,
                if p.nodes.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", p.nodes.join(", "))
                }
            ));
        }
        match &inp.cib {
            Some(Ok(cib)) => match cluster::cib_primitives(cib, "floating-ip") {
                Ok(prims) => {
                    for (id, params) in prims {
                        floating_ip(&mut r, inp, &placed, &id, &params);
                    }
                }
                Err(e) => r.problems.push(format!("cannot read the CIB: {e}")),
            },
            Some(Err(e)) => r.problems.push(format!("cannot read the CIB: {e}")),
            None => {}
        }
    }
    r
}

/// Every resource of `drbdsetup status --json`, judged as drbd-tuned judges
/// its own (a degraded state is said in the same words as its log).
fn drbd9(r: &mut Report, text: &str) {
    let names: Vec<String> = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.as_array().map(|l| {
                l.iter()
                    .filter_map(|x| x.get("name")?.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default();
    if names.is_empty() && !text.trim_start().starts_with('[') {
        r.problems
            .push("drbdsetup status --json: the answer is not JSON".into());
        return;
    }
    for name in names {
        let Some(res) = parse_status_json(text, &name) else {
            continue;
        };
        let state = Summary::from_9(&res);
        if let Some(why) = state.degraded_reason() {
            r.problems.push(format!("DRBD {name}: not healthy: {why}"));
        }
        r.drbd9.push(Drbd9 {
            resource: name,
            state,
        });
    }
}

fn drbd_problems(m: &crate::agents::drbd_tuned::state::Minor84, out: &mut Vec<String>) {
    let dev = format!("drbd{}", m.minor);
    match m.cs.as_str() {
        "Connected" => {}
        "SyncSource" | "SyncTarget" | "PausedSyncS" | "PausedSyncT" => out.push(format!(
            "{dev}: resync in progress ({}){}",
            m.cs,
            m.synced_pct
                .map(|p| format!(", {p:.1}% done"))
                .unwrap_or_default()
        )),
        "StandAlone" => out.push(format!(
            "{dev}: StandAlone, not even trying to reach its peer (split brain? \
             see drbdadm connect)"
        )),
        "WFConnection" => out.push(format!(
            "{dev}: waiting for its peer, which does not answer"
        )),
        "Unconfigured" => {}
        other => out.push(format!("{dev}: connection state {other}")),
    }
    if m.cs != "Unconfigured" && m.disk != "UpToDate" && !m.disk.is_empty() {
        out.push(format!("{dev}: the local disk is {}, not UpToDate", m.disk));
    }
    if m.cs == "Connected" && m.peer_disk != "UpToDate" && !m.peer_disk.is_empty() {
        out.push(format!(
            "{dev}: the peer's disk is {}, not UpToDate",
            m.peer_disk
        ));
    }
    if m.role == "Primary" && m.peer_role == "Primary" {
        out.push(format!("{dev}: both nodes are Primary"));
    }
}

fn floating_ip(
    r: &mut Report,
    inp: &Inputs,
    placed: &[cluster::Placed],
    id: &str,
    params: &[(String, String)],
) {
    let ip = params
        .iter()
        .find(|(k, _)| k == "ip")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let started_on: Vec<String> = placed
        .iter()
        .filter(|p| p.id == id && p.active)
        .flat_map(|p| p.nodes.clone())
        .collect();
    let addr: Option<IpAddr> = ip.parse().ok();
    let held = match (&inp.addrs, addr) {
        (Ok(list), Some(a)) => list.iter().find(|(_, x, _, _)| *x == a),
        _ => None,
    };
    let here = started_on.contains(&inp.node);
    if let Err(e) = &inp.addrs {
        r.problems
            .push(format!("cannot list this node's addresses: {e}"));
    } else if here && held.is_none() {
        r.problems.push(format!(
            "{id}: Pacemaker runs it here but {ip} is on no interface of {}",
            inp.node
        ));
    } else if !here && held.is_some() {
        r.problems.push(format!(
            "{id}: {ip} is on {} here, but Pacemaker runs {id} {}: a duplicate address?",
            held.map(|h| h.0.as_str()).unwrap_or(""),
            if started_on.is_empty() {
                "nowhere".to_string()
            } else {
                format!("on {}", started_on.join(", "))
            }
        ));
    }
    if let Some((nic, _, _, false)) = held {
        r.problems
            .push(format!("{id}: {ip} is on {nic}, whose link is down"));
    }
    r.floating_ips.push(FloatingIp {
        resource: id.to_string(),
        ip,
        started_on,
        here_on: held.map(|h| h.0.clone()),
        link_up: held.map(|h| h.3),
    });
}

/// The report as a person reads it.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "node {}{}",
        r.node,
        if r.pacemaker {
            ""
        } else {
            " (Pacemaker not running)"
        }
    );
    s.push_str("\nwriteboost caches\n");
    if r.writeboost.is_empty() {
        s.push_str("  none\n");
    }
    for w in &r.writeboost {
        let _ = writeln!(
            s,
            "  {:<20} dirty {}/{} blocks ({:.1}%), writeback lag {} segments",
            w.name, w.dirty_blocks, w.cache_blocks, w.dirty_pct, w.writeback_lag_segments
        );
    }
    s.push_str("\nDRBD\n");
    if r.drbd.is_empty() && r.drbd9.is_empty() {
        s.push_str("  none\n");
    }
    for d in &r.drbd {
        let _ = writeln!(
            s,
            "  drbd{:<3} {:<12} {}/{} {}/{}{}",
            d.minor,
            d.connection,
            d.role,
            d.peer_role,
            d.disk,
            d.peer_disk,
            d.synced_pct
                .map(|p| format!(" synced {p:.1}%"))
                .unwrap_or_default()
        );
    }
    for d in &r.drbd9 {
        let _ = writeln!(s, "  {:<8} {}", d.resource, d.state.line());
    }
    s.push_str("\nfloating IPs\n");
    if r.floating_ips.is_empty() {
        s.push_str("  none configured\n");
    }
    for f in &r.floating_ips {
        let _ = writeln!(
            s,
            "  {:<20} {:<24} {}{}",
            f.resource,
            f.ip,
            if f.started_on.is_empty() {
                "stopped".to_string()
            } else {
                format!("started on {}", f.started_on.join(", "))
            },
            match (&f.here_on, f.link_up) {
                (Some(nic), Some(true)) => format!(", here on {nic} (link up)"),
                (Some(nic), _) => format!(", here on {nic} (link down)"),
                _ => String::new(),
            }
        );
    }
    if !r.notes.is_empty() {
        s.push_str("\nnot looked at\n");
        for n in &r.notes {
            let _ = writeln!(s, "  - {n}");
        }
    }
    if r.problems.is_empty() {
        s.push_str("\nno problem seen\n");
    } else {
        let _ = writeln!(s, "\n{} problem(s):", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(s, "  - {p}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: &str = r#"<pacemaker-result><resources>
  <resource id="vip" resource_agent="ocf:storha:floating-ip" role="Started" active="true" failed="false">
    <node name="node1" id="1" cached="true"/>
  </resource>
  <resource id="vip2" resource_agent="ocf:storha:floating-ip" role="Stopped" active="false" failed="false"/>
</resources></pacemaker-result>"#;

    const CIB: &str = r#"<resources>
  <primitive id="vip" class="ocf" provider="storha" type="floating-ip">
    <instance_attributes id="a"><nvpair id="b" name="ip" value="192.0.2.10"/></instance_attributes>
  </primitive>
  <primitive id="vip2" class="ocf" provider="storha" type="floating-ip">
    <instance_attributes id="c"><nvpair id="d" name="ip" value="192.0.2.20"/></instance_attributes>
  </primitive>
</resources>"#;

    fn wb_line(dirty: u64) -> String {
        format!(
            "wbdev: 0 524288 writeboost 1 32768 128 40 40 39 {dirty} {} 0 6 \
             writeback_threshold 0 nr_max_batched_writeback 32 update_sb_record_interval 0\n",
            "0 ".repeat(16)
        )
    }

    fn inputs() -> Inputs {
        Inputs {
            node: "node1".into(),
            dm_status: Read::Got(wb_line(100)),
            proc_drbd: Some(
                "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r-----\n    ns:0 nr:0 dw:0 dr:0\n".into(),
            ),
            drbd9_json: None,
            crm_mon: Ok(Some(MON.into())),
            cib: Some(Ok(CIB.into())),
            addrs: Ok(vec![("eth0".into(), "192.0.2.10".parse().expect("ip"), 24, true)]),
        }
    }

    #[test]
    fn a_healthy_node_has_no_problem() {
        let r = report(&inputs());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.writeboost.len(), 1);
        assert_eq!(r.writeboost[0].dirty_blocks, 100);
        assert_eq!(r.drbd[0].role, "Primary");
        assert_eq!(r.floating_ips.len(), 2);
        assert_eq!(r.floating_ips[0].here_on.as_deref(), Some("eth0"));
        let t = text(&r);
        assert!(t.contains("no problem seen"), "{t}");
        assert!(
            t.contains("started on node1, here on eth0 (link up)"),
            "{t}"
        );
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["floating_ips"][1]["resource"], "vip2");
    }

    #[test]
    fn what_is_wrong_is_said_in_words() {
        let mut i = inputs();
        i.dm_status = Read::Got(wb_line(30000));
        i.proc_drbd = Some(
            "version: 8.4.11\n 0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n\t[==>.......] sync'ed: 25.3% (100/200)M\n".into(),
        );
        i.addrs = Ok(vec![(
            "eth0".into(),
            "192.0.2.20".parse().expect("ip"),
            24,
            false,
        )]);
        let r = report(&i);
        let all = r.problems.join("\n");
        assert!(all.contains("wbdev: 91.6% of the cache is dirty"), "{all}");
        assert!(
            all.contains("drbd0: resync in progress (SyncSource), 25.3% done"),
            "{all}"
        );
        assert!(
            all.contains("the peer's disk") || all.contains("resync"),
            "{all}"
        );
        assert!(
            all.contains("vip: Pacemaker runs it here but 192.0.2.10 is on no interface of node1"),
            "{all}"
        );
        assert!(
            all.contains("vip2: 192.0.2.20 is on eth0 here, but Pacemaker runs vip2 nowhere"),
            "{all}"
        );
        assert!(all.contains("whose link is down"), "{all}");
    }

    #[test]
    fn without_pacemaker_or_drbd_it_says_so() {
        let mut i = inputs();
        i.crm_mon = Ok(None);
        i.cib = None;
        i.proc_drbd = None;
        i.dm_status = Read::Absent("dmsetup is not installed".into());
        let r = report(&i);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.notes.len(), 3, "{:?}", r.notes);
        assert!(text(&r).contains("(Pacemaker not running)"));
    }

    #[test]
    fn drbd9_resources_come_from_drbdsetup_status_json() {
        let mut i = inputs();
        i.proc_drbd = Some("version: 9.2.8 (api:2/proto:86-122)\n".into());
        i.drbd9_json = Some(Read::Got(
            include_str!("agents/drbd_tuned/fixtures/s9-connected-primary.json").into(),
        ));
        let r = report(&i);
        assert!(r.drbd.is_empty());
        assert_eq!(r.drbd9.len(), 1, "{:?}", r.drbd9);
        assert_eq!(r.drbd9[0].state.role, "Primary");
        assert!(
            !r.problems.iter().any(|p| p.starts_with("DRBD ")),
            "{:?}",
            r.problems
        );
        let t = text(&r);
        assert!(t.contains(&r.drbd9[0].state.line()), "{t}");
        let j = serde_json::to_value(&r).expect("json");
        assert_eq!(j["drbd9"][0]["role"], "Primary");

        i.drbd9_json = Some(Read::Got(
            include_str!("agents/drbd_tuned/fixtures/s9-three-nodes-sync.json").into(),
        ));
        let r = report(&i);
        assert!(
            r.problems
                .iter()
                .any(|p| p.starts_with("DRBD r0: not healthy")),
            "{:?}",
            r.problems
        );
        i.drbd9_json = Some(Read::Got("garbage".into()));
        assert!(report(&i).problems.iter().any(|p| p.contains("not JSON")));
    }
}
