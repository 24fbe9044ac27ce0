// SPDX-License-Identifier: GPL-2.0-or-later
//! The promotion score: ocf:linbit:drbd's decision tree
//! (`drbd_update_master_score`) as a pure function of the state flags.
//!
//! One deliberate difference from drbd-utils 9.22: whether Pacemaker knows
//! of a Promoted peer is read from `crm_resource --locate` in both spellings
//! Pacemaker has used ("Master" before 2.1, "Promoted" since); 9.22 only
//! looks for "Master" and so treats every Primary as unknown to Pacemaker on
//! Pacemaker 2.1 (fixed upstream in 0a014f2). This follows the intent.

use super::params::PeerPrimary;
use super::state::Flags;

/// What to do with the node's promotion score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreOp {
    Set(i64),
    Remove,
    /// A transitional disk state: keep whatever is set.
    Leave,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub op: ScoreOp,
    /// Call `drbdadm unfence-peer` (unfence_if_all_uptodate).
    pub unfence: bool,
    pub why: &'static str,
}

/// What the decision needs besides the flags.
#[derive(Debug, Clone, Copy)]
pub struct Inputs {
    /// only Consistent, only remote UpToDate, local ok, as good as it gets.
    pub scores: [i64; 4],
    pub peer_primary: PeerPrimary,
    pub unfence_if_all_uptodate: bool,
    /// promoted-max (LINBIT's master-max), 1 when not given.
    pub promoted_max: u32,
    /// Another node is Promoted according to Pacemaker. Only asked for with
    /// `PeerPrimary::Unexpected`.
    pub pcmk_knows_primary_peer: bool,
    /// A score is currently set (only matters for the "unexpected" case,
    /// which removes a score only if there is one).
    pub have_score: bool,
}

/// A score of 0 or less means no score (`set_master_score`).
fn set(n: i64, why: &'static str) -> Decision {
    Decision {
        op: if n <= 0 {
            ScoreOp::Remove
        } else {
            ScoreOp::Set(n)
        },
        unfence: false,
        why,
    }
}

fn remove(why: &'static str) -> Decision {
    Decision {
        op: ScoreOp::Remove,
        unfence: false,
        why,
    }
}

/// `unexpected_primary_rejects_promote`: single-primary, not Primary here,
/// a peer is Primary, and Pacemaker does not know of a Promoted peer.
pub fn unexpected_primary(f: &Flags, i: &Inputs) -> bool {
    i.promoted_max == 1 && !f.primary && f.some_peer_primary && !i.pcmk_knows_primary_peer
}

pub fn decide(f: &Flags, i: &Inputs) -> Decision {
    let [only_consistent, only_remote, local_ok, as_good] = i.scores;
    if !f.have_quorum {
        return remove("no quorum");
    }
    // removed_master_score_because_peer_is_primary
    if i.peer_primary != PeerPrimary::Ignore
        && !f.primary
        && f.some_peer_primary
        && f.some_peer_all_up_to_date
    {
        match i.peer_primary {
            PeerPrimary::Unexpected if unexpected_primary(f, i) => {
                return Decision {
                    op: if i.have_score {
                        ScoreOp::Remove
                    } else {
                        ScoreOp::Leave
                    },
                    unfence: false,
                    why: "connected to a Primary that Pacemaker does not know about",
                };
            }
            PeerPrimary::Unexpected => {}
            _ => return remove("connected to a healthy Primary peer"),
        }
    }
    if f.diskless_client {
        return if f.primary && f.some_peer_all_up_to_date {
            set(as_good - 1, "diskless Primary with access to UpToDate data")
        } else if f.pdsk_all_up_to_date {
            set(as_good - 1, "diskless client, all peer disks UpToDate")
        } else if f.some_peer_all_up_to_date {
            set(local_ok - 1, "diskless client, some peer UpToDate")
        } else {
            remove("diskless client without access to UpToDate data")
        };
    }
    if f.disk_all_up_to_date {
        if f.primary {
            let mut d = set(as_good, "Primary with UpToDate disks");
            d.unfence = i.unfence_if_all_uptodate && f.pdsk_all_up_to_date;
            return d;
        }
        return if f.pdsk_any_unknown {
            set(local_ok, "UpToDate, a peer disk state unknown")
        } else {
            set(as_good, "UpToDate, all peer disk states known")
        };
    }
    if f.some_peer_all_up_to_date {
        return set(only_remote, "only a peer has UpToDate data");
    }
    if f.disk_transitional {
        return Decision {
            op: ScoreOp::Leave,
            unfence: false,
            why: "disk state in transition",
        };
    }
    if f.disk_all_consistent {
        return set(only_consistent, "local data only Consistent");
    }
    remove("no UpToDate data reachable")
}

/// Whether `crm_resource --resource R --locate` names a Promoted instance
/// on a node other than `me`. Lines look like
/// `resource p_drbd is running on: node1 Promoted` (Pacemaker 2.1) or
/// `... node1 Master` (older).
pub fn promoted_elsewhere(locate: &str, me: &str) -> Option<String> {
    locate.lines().find_map(|l| {
        let (_, rest) = l.split_once("is running on:")?;
        let mut w = rest.split_whitespace();
        let node = w.next()?;
        let role = w.next()?;
        ((role == "Promoted" || role == "Master") && !node.eq_ignore_ascii_case(me))
            .then(|| node.to_string())
    })
}
