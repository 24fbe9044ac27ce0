// SPDX-License-Identifier: GPL-2.0-or-later
//! The parsers on captured output, and the promotion score over the matrix
//! of states against the scores ocf:linbit:drbd's shell code gives for them
//! (each expected value is worked out from `drbd_update_master_score` and
//! the status functions of drbd.shellfuncs.sh, noted beside it).

use super::*;
use crate::agents::drbd_tuned::params::PeerPrimary;
use crate::agents::drbd_tuned::score::{decide, promoted_elsewhere, Inputs, ScoreOp};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../fixtures/", $name))
    };
}

fn minors(text: &str, which: &[u32]) -> Vec<Minor84> {
    parse_proc_drbd(text)
        .into_iter()
        .filter(|m| which.contains(&m.minor))
        .collect()
}

fn flags84(text: &str) -> Flags {
    let ms = minors(text, &[0]);
    Flags::from_84(&ms.iter().collect::<Vec<_>>())
}

fn flags9(text: &str) -> Flags {
    Flags::from_9(&parse_events2(text, "r0"))
}

const DEFAULT: Inputs = Inputs {
    scores: [0, 10, 1000, 10000],
    peer_primary: PeerPrimary::Ignore,
    unfence_if_all_uptodate: false,
    promoted_max: 1,
    pcmk_knows_primary_peer: true,
    have_score: true,
};

#[test]
fn proc_drbd_84_fields() {
    let text = fixture!("p84-synctarget.txt");
    assert_eq!(proc_version(text), Some(Version(8, 4, 11)));
    let m = parse_proc_drbd(text);
    assert_eq!(
        m,
        vec![Minor84 {
            minor: 0,
            cs: "SyncTarget".into(),
            role: "Secondary".into(),
            peer_role: "Primary".into(),
            disk: "Inconsistent".into(),
            peer_disk: "UpToDate".into(),
            synced_pct: Some(31.4),
        }]
    );
    let m = parse_proc_drbd(fixture!("p84-unconfigured-minor.txt"));
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].cs.as_str(), m[0].role.as_str()), ("Unconfigured", ""));
    assert!(parse_proc_drbd(fixture!("p84-down.txt")).is_empty());
    let two = parse_proc_drbd(fixture!("p84-two-resources.txt"));
    assert_eq!(two.len(), 2);
    assert_eq!((two[1].minor, two[1].cs.as_str()), (1, "StandAlone"));
    assert_eq!(
        proc_version("version: 9.2.12 (api:2/proto:86-122)\n"),
        Some(Version(9, 2, 12))
    );
    assert_eq!(proc_version("garbage"), None);
}

#[test]
fn events2_fields() {
    let r = parse_events2(fixture!("e9-synctarget.txt"), "r0");
    assert_eq!(r.role, "Secondary");
    assert_eq!(
        r.devices,
        vec![Device9 {
            volume: 0,
            minor: Some(0),
            disk: "Inconsistent".into(),
            client: false,
            quorum: Some(true)
        }]
    );
    assert_eq!(r.peers.len(), 1);
    assert_eq!(r.peers[0].name, "node1");
    assert_eq!(r.peers[0].role, "Primary");
    assert_eq!(r.peers[0].devices[0].replication, "SyncTarget");
    assert_eq!(r.peers[0].devices[0].done_pct, Some(31.45));

    let r = parse_events2(fixture!("e9-diskless-peer.txt"), "r0");
    assert_eq!(r.peers.len(), 2);
    assert!(r.peers[1].devices[0].peer_client);
    let r = parse_events2(fixture!("e9-diskless-client.txt"), "r0");
    assert!(r.devices[0].client && r.devices[0].disk == "Diskless");
    let r = parse_events2(fixture!("e9-quorum-lost.txt"), "r0");
    assert_eq!(r.devices[0].quorum, Some(false));
    // Down, or only another resource: unconfigured.
    assert!(Flags::from_9(&parse_events2(fixture!("e9-down.txt"), "r0")).unconfigured);
    assert!(Flags::from_9(&parse_events2(fixture!("e9-other-resource.txt"), "r0")).unconfigured);
    // A timestamp prefix is skipped.
    let r = parse_events2(
        "2026-12-02T07:00:00.000000+00:00 exists resource name:r0 role:Primary suspended:no\n",
        "r0",
    );
    assert_eq!(r.role, "Primary");
}

#[test]
fn status_json_gives_the_same_state_as_events2() {
    let j = parse_status_json(fixture!("s9-connected-primary.json"), "r0").unwrap();
    let e = parse_events2(fixture!("e9-connected-primary.txt"), "r0");
    assert_eq!(Flags::from_9(&j), Flags::from_9(&e));
    assert_eq!(j.role, "Primary");
    assert_eq!(
        j.peers[0].devices[0].done_pct, None,
        "no resync, no percentage"
    );

    let j = parse_status_json(fixture!("s9-three-nodes-sync.json"), "r0").unwrap();
    assert_eq!(j.devices[0].disk, "Inconsistent");
    assert_eq!(j.peers.len(), 2);
    assert_eq!(j.peers[0].devices[0].done_pct, Some(31.45));
    assert_eq!(j.peers[1].devices[0].replication, "PausedSyncT");
    assert_eq!(decide(&Flags::from_9(&j), &DEFAULT).op, ScoreOp::Set(10));
    let s = Summary::from_9(&j);
    assert!(
        s.line()
            .contains("node1 Connected Primary UpToDate SyncTarget 31.4%"),
        "{}",
        s.line()
    );

    assert!(parse_status_json("not json", "r0").is_none());
    assert!(parse_status_json("[]", "r0").is_some_and(|r| r.role.is_empty()));
}

/// (fixture, what LINBIT's code computes, expected score op)
fn matrix_84() -> Vec<(&'static str, &'static str, ScoreOp)> {
    use ScoreOp::*;
    vec![
        (
            fixture!("p84-connected-primary.txt"),
            "disk all UpToDate, Primary: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-connected-secondary.txt"),
            "UpToDate, peer disk known: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-both-secondary.txt"),
            "UpToDate, peer disk known: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-standalone-secondary.txt"),
            "UpToDate, pdsk DUnknown: local_ok",
            Set(1000),
        ),
        (
            fixture!("p84-standalone-primary.txt"),
            "UpToDate, Primary: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-wfconnection-secondary.txt"),
            "UpToDate, pdsk DUnknown: local_ok",
            Set(1000),
        ),
        (
            fixture!("p84-wfconnection-outdated.txt"),
            "Outdated: not consistent, no peer: remove",
            Remove,
        ),
        (
            fixture!("p84-wfconnection-consistent.txt"),
            "Consistent: only_consistent 0 -> remove",
            Remove,
        ),
        (
            fixture!("p84-standalone-inconsistent.txt"),
            "Inconsistent, no peer: remove",
            Remove,
        ),
        (
            fixture!("p84-synctarget.txt"),
            "peer UpToDate: only_remote",
            Set(10),
        ),
        (
            fixture!("p84-syncsource-primary.txt"),
            "UpToDate Primary: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-syncsource-secondary.txt"),
            "UpToDate, pdsk Inconsistent is known: as_good",
            Set(10000),
        ),
        (
            fixture!("p84-diskless-connected.txt"),
            "8.4 is never a diskless client; peer UpToDate: only_remote",
            Set(10),
        ),
        (
            fixture!("p84-negotiating.txt"),
            "peer UpToDate is checked before transitional: only_remote",
            Set(10),
        ),
        (fixture!("p84-attaching.txt"), "transitional: leave", Leave),
        (
            fixture!("p84-unconfigured-minor.txt"),
            "Unconfigured disk: not up to date, consistent: 0 -> remove",
            Remove,
        ),
    ]
}

fn matrix_9() -> Vec<(&'static str, &'static str, ScoreOp)> {
    use ScoreOp::*;
    vec![
        (
            fixture!("e9-connected-primary.txt"),
            "UpToDate Primary: as_good",
            Set(10000),
        ),
        (
            fixture!("e9-connected-secondary.txt"),
            "UpToDate, every peer disk known: as_good",
            Set(10000),
        ),
        (
            fixture!("e9-standalone.txt"),
            "peer disk DUnknown: local_ok",
            Set(1000),
        ),
        (
            fixture!("e9-connecting.txt"),
            "peer disk DUnknown: local_ok",
            Set(1000),
        ),
        (
            fixture!("e9-outdated.txt"),
            "Outdated, no peer UpToDate: remove",
            Remove,
        ),
        (
            fixture!("e9-inconsistent.txt"),
            "Inconsistent, no peer: remove",
            Remove,
        ),
        (
            fixture!("e9-synctarget.txt"),
            "peer UpToDate: only_remote",
            Set(10),
        ),
        (
            fixture!("e9-syncsource.txt"),
            "UpToDate Primary: as_good",
            Set(10000),
        ),
        (
            fixture!("e9-three-nodes.txt"),
            "UpToDate, both peers known: as_good",
            Set(10000),
        ),
        (
            fixture!("e9-three-nodes-one-connecting.txt"),
            "one peer DUnknown: local_ok",
            Set(1000),
        ),
        (
            fixture!("e9-diskless-peer.txt"),
            "diskless client peer ignored: as_good",
            Set(10000),
        ),
        (
            fixture!("e9-diskless-client.txt"),
            "diskless client, all peers UpToDate: as_good-1",
            Set(9999),
        ),
        (
            fixture!("e9-diskless-client-one-peer.txt"),
            "diskless client, some peer UpToDate: local_ok-1",
            Set(999),
        ),
        (
            fixture!("e9-diskless-client-no-data.txt"),
            "diskless client without good data: remove",
            Remove,
        ),
        (fixture!("e9-quorum-lost.txt"), "no quorum: remove", Remove),
        (
            fixture!("e9-down.txt"),
            "unconfigured, no devices: diskless client (0 == 0) without data: remove",
            Remove,
        ),
    ]
}

#[test]
fn promotion_scores_match_linbit_over_the_state_matrix() {
    for (text, why, want) in matrix_84() {
        assert_eq!(
            decide(&flags84(text), &DEFAULT).op,
            want,
            "8.4 {why}:\n{text}"
        );
    }
    for (text, why, want) in matrix_9() {
        assert_eq!(decide(&flags9(text), &DEFAULT).op, want, "9 {why}:\n{text}");
    }
}

#[test]
fn custom_scores_and_the_consistent_case() {
    let i = Inputs {
        scores: [5, 50, 500, 5000],
        ..DEFAULT
    };
    assert_eq!(
        decide(&flags84(fixture!("p84-wfconnection-consistent.txt")), &i).op,
        ScoreOp::Set(5)
    );
    assert_eq!(
        decide(&flags84(fixture!("p84-synctarget.txt")), &i).op,
        ScoreOp::Set(50)
    );
    assert_eq!(
        decide(&flags9(fixture!("e9-diskless-client.txt")), &i).op,
        ScoreOp::Set(4999)
    );
    // A diskless Primary with access to good data: as_good - 1.
    let mut f = flags9(fixture!("e9-diskless-client-one-peer.txt"));
    f.primary = true;
    assert_eq!(decide(&f, &i).op, ScoreOp::Set(4999));
}

#[test]
fn peer_primary_rules() {
    let sec84 = flags84(fixture!("p84-connected-secondary.txt"));
    let sec9 = flags9(fixture!("e9-connected-secondary.txt"));
    let always = Inputs {
        peer_primary: PeerPrimary::Always,
        ..DEFAULT
    };
    assert_eq!(decide(&sec84, &always).op, ScoreOp::Remove);
    assert_eq!(decide(&sec9, &always).op, ScoreOp::Remove);
    // The peer is Primary but not healthy (SyncSource to us is fine: it
    // has UpToDate data); here: peer Primary with Inconsistent disk.
    let mut f = sec9;
    f.some_peer_all_up_to_date = false;
    f.pdsk_all_up_to_date = false;
    assert_ne!(decide(&f, &always).op, ScoreOp::Remove);
    // The Primary itself is never affected.
    let prim = flags9(fixture!("e9-connected-primary.txt"));
    assert_eq!(decide(&prim, &always).op, ScoreOp::Set(10000));

    let unexpected = Inputs {
        peer_primary: PeerPrimary::Unexpected,
        ..DEFAULT
    };
    // Pacemaker knows the Primary: ordinary score.
    assert_eq!(decide(&sec9, &unexpected).op, ScoreOp::Set(10000));
    // Pacemaker does not: the score goes, if there is one.
    let unknown = Inputs {
        pcmk_knows_primary_peer: false,
        ..unexpected
    };
    assert_eq!(decide(&sec9, &unknown).op, ScoreOp::Remove);
    assert_eq!(
        decide(
            &sec9,
            &Inputs {
                have_score: false,
                ..unknown
            }
        )
        .op,
        ScoreOp::Leave
    );
    // Two primaries allowed: nothing is unexpected.
    assert_eq!(
        decide(
            &sec9,
            &Inputs {
                promoted_max: 2,
                ..unknown
            }
        )
        .op,
        ScoreOp::Set(10000)
    );
}

#[test]
fn unfence_only_when_primary_and_everything_up_to_date() {
    let i = Inputs {
        unfence_if_all_uptodate: true,
        ..DEFAULT
    };
    assert!(decide(&flags9(fixture!("e9-connected-primary.txt")), &i).unfence);
    assert!(decide(&flags84(fixture!("p84-connected-primary.txt")), &i).unfence);
    assert!(!decide(&flags9(fixture!("e9-syncsource.txt")), &i).unfence);
    assert!(!decide(&flags84(fixture!("p84-standalone-primary.txt")), &i).unfence);
    assert!(!decide(&flags9(fixture!("e9-connected-secondary.txt")), &i).unfence);
    assert!(!decide(&flags9(fixture!("e9-connected-primary.txt")), &DEFAULT).unfence);
}

#[test]
fn locate_reads_both_spellings_of_the_promoted_role() {
    // Pacemaker 2.1.5 (what drbd-utils 9.22 misses) and older.
    let new =
        "resource p_drbd is running on: node1 Promoted\nresource p_drbd is running on: node2\n";
    let old =
        "resource p_drbd is running on: node1 Master\nresource p_drbd is running on: node2 \n";
    assert_eq!(promoted_elsewhere(new, "node2"), Some("node1".into()));
    assert_eq!(promoted_elsewhere(old, "node2"), Some("node1".into()));
    assert_eq!(
        promoted_elsewhere(new, "NODE1"),
        None,
        "ourselves, case-insensitive"
    );
    assert_eq!(
        promoted_elsewhere("resource p_drbd is NOT running\n", "node2"),
        None
    );
}

#[test]
fn flags_of_the_main_states() {
    let f = flags84(fixture!("p84-connected-primary.txt"));
    assert!(f.primary && !f.unconfigured && f.disk_all_up_to_date && f.pdsk_all_up_to_date);
    let f = flags84(fixture!("p84-standalone-secondary.txt"));
    assert!(!f.primary && f.pdsk_any_unknown && !f.some_peer_primary);
    let f = flags84(fixture!("p84-down.txt"));
    assert!(f.unconfigured);
    let f = flags9(fixture!("e9-connected-secondary.txt"));
    assert!(f.some_peer_primary && !f.primary && f.have_quorum && !f.diskless_client);
    let f = flags9(fixture!("e9-quorum-lost.txt"));
    assert!(!f.have_quorum);
}

#[test]
fn summaries_name_the_replication_state() {
    let ms = minors(fixture!("p84-synctarget.txt"), &[0]);
    let s = Summary::from_84(&ms.iter().collect::<Vec<_>>());
    assert_eq!(
        s.line(),
        "Secondary Inconsistent; SyncTarget Primary UpToDate 31.4%"
    );
    assert!(s.degraded_reason().is_some());
    let ms = minors(fixture!("p84-connected-primary.txt"), &[0]);
    let s = Summary::from_84(&ms.iter().collect::<Vec<_>>());
    assert_eq!(s.degraded_reason(), None);
    let s = Summary::from_9(&parse_events2(fixture!("e9-quorum-lost.txt"), "r0"));
    assert!(
        s.line()
            .starts_with("Secondary UpToDate (no quorum); node1 Connecting Unknown DUnknown Off"),
        "{}",
        s.line()
    );
    let s = Summary::from_9(&parse_events2(fixture!("e9-three-nodes.txt"), "r0"));
    assert_eq!(s.degraded_reason(), None, "{}", s.line());
    let s = Summary::from_9(&parse_events2(fixture!("e9-syncsource.txt"), "r0"));
    assert!(s.line().contains("SyncSource 69.7%"), "{}", s.line());
}
