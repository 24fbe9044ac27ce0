// SPDX-License-Identifier: GPL-2.0-or-later
//! drbd-tuned's parameters: ocf:linbit:drbd's names, defaults and meanings,
//! so that a configuration switches by changing only the agent. Pure:
//! nothing here looks at the host.

use crate::configured;
use crate::ocf::params::shown;
use crate::ocf::{ActionSpec, AgentMeta, Kind, OcfError, ParamSpec, Params};

/// LINBIT's default promotion scores: only Consistent, only remote
/// UpToDate, local UpToDate with the peer unknown, as good as it gets.
pub const DEFAULT_SCORES: [i64; 4] = [0, 10, 1000, 10000];
pub const DEFAULT_UNFENCE_ARGS: &str =
    "--quiet --flock-required --flock-timeout 0 --unfence-only-if-owner-match";

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("drbd_resource", Kind::String, "DRBD resource name")
        .required()
        .unique()
        .long(
            "The name of the DRBD resource in the DRBD configuration. Letters, digits and \
             '-', '%', '+', '.', '/', ':', '=', '@', '_' (the set ocf:linbit:drbd accepts), not \
             starting with '-'. DRBD's fence-peer handler (crm-fence-peer.9.sh) finds the clone \
             through this parameter's name, so it keeps LINBIT's spelling.",
        ),
    ParamSpec::new("drbdconf", Kind::String, "Path to the DRBD configuration")
        .default("/etc/drbd.conf")
        .long(
            "Full path of the drbd.conf file, passed to drbdadm with -c. Same characters as \
             drbd_resource; must be readable (else OCF_ERR_INSTALLED).",
        ),
    ParamSpec::new(
        "adjust_master_score",
        Kind::String,
        "Promotion scores for the four data states",
    )
    .default("0 10 1000 10000")
    .long(
        "Four non-decreasing whole numbers: the promotion score when the local disks are only \
         Consistent; when only a peer has UpToDate data; when the local data is UpToDate but a \
         peer's disk state is unknown (this node is Secondary); when the local data is UpToDate \
         and this node is Primary or every peer disk state is known. A score of 0 or less removes \
         the promotion score. As ocf:linbit:drbd does, a malformed list is forgiven: the default \
         applies and an error is logged (validate-all logs it too).",
    ),
    ParamSpec::new(
        "stop_outdates_secondary",
        Kind::Boolean,
        "Outdate this node on stop if a peer is Promoted",
    )
    .default("false")
    .long(
        "On stop (and in a post notification with an unknown peer disk) mark the local data \
         Outdated when the notification variables say that another node is Promoted and not \
         stopping. Relies on Pacemaker's notification variables, which older versions passed \
         stale; off by default, as in ocf:linbit:drbd.",
    ),
    ParamSpec::new(
        "ignore_missing_notifications",
        Kind::Boolean,
        "Allow running without notify=true",
    )
    .default("false")
    .long(
        "Without it, start and promote fail with OCF_ERR_CONFIGURED unless the clone has \
         notify=true: notifications let a restarted peer reconnect and keep the scores current.",
    ),
    ParamSpec::new(
        "wfc_timeout",
        Kind::String,
        "Seconds start waits for the connection",
    )
    .default("5")
    .long(
        "After bringing the resource up, start waits this many seconds for the connection \
         (wfc, degr-wfc and outdated-wfc timeouts). A value that is not a whole number means \
         not to wait, as in ocf:linbit:drbd.",
    ),
    ParamSpec::new(
        "remove_master_score_if_peer_primary",
        Kind::String,
        "Drop the promotion score while a healthy peer is Primary",
    )
    .default("false")
    .long(
        "true: while connected to a Primary peer with UpToDate disks, this node removes its \
         promotion score. unexpected: only when Pacemaker does not know of that Primary (found \
         with crm_resource --locate, which prints Promoted on Pacemaker 2.1 and Master before). \
         false: the ordinary scores.",
    ),
    ParamSpec::new(
        "fail_promote_early_if_peer_primary",
        Kind::Boolean,
        "Give up a promote at once when a peer is Primary",
    )
    .default("false")
    .long(
        "When a promote attempt failed and a peer is Primary without Pacemaker knowing of it, \
         fail the promote (and remove the score) instead of retrying until the timeout.",
    ),
    ParamSpec::new(
        "unfence_if_all_uptodate",
        Kind::Boolean,
        "Run the unfence-peer handler once all disks are UpToDate",
    )
    .default("false")
    .long(
        "When this node is Primary and every local and peer disk is UpToDate, call drbdadm \
         unfence-peer, which removes a fence constraint the fence-peer handler may have left.",
    ),
    ParamSpec::new(
        "unfence_extra_args",
        Kind::String,
        "Extra arguments for the unfence-peer handler",
    )
    .default(DEFAULT_UNFENCE_ARGS)
    .long(
        "Exported to the unfence-peer handler as OCF_RESKEY_unfence_extra_args. A string \
         (ocf:linbit:drbd's meta-data calls it boolean by mistake).",
    ),
    ParamSpec::new(
        "require_drbd_module_version_ge",
        Kind::String,
        "Lowest accepted DRBD kernel module version",
    )
    .default("8.0.0")
    .long(
        "Fail with OCF_ERR_INSTALLED if the DRBD kernel module is older than this (x.y.z, \
         inclusive). E.g. 9.0.16 requires DRBD 9.",
    ),
    ParamSpec::new(
        "require_drbd_module_version_lt",
        Kind::String,
        "Lowest refused DRBD kernel module version",
    )
    .default("10.0.0")
    .long(
        "Fail with OCF_ERR_INSTALLED if the DRBD kernel module is this version or newer (x.y.z, \
         exclusive). E.g. 9.0.0 requires DRBD 8.4.",
    ),
    ParamSpec::new(
        "connect_only_after_promote",
        Kind::Boolean,
        "Stay disconnected until promoted",
    )
    .default("false")
    .long(
        "Start attaches the disks but does not connect; promote connects afterwards. For \
         stacked setups without fencing on the lower layer; creates a new data generation on \
         every failover.",
    ),
    ParamSpec::new(
        "replication_nic",
        Kind::String,
        "Interface DRBD replicates over (for the link knobs)",
    )
    .long(
        "The network interface that carries this resource's replication. Needed by qdisc, \
         irq_affinity, mtu and soft_roce, which change it only before DRBD connects, and never \
         while a DRBD connection of this node is up or connecting or while the interface \
         carries a corosync ring address (a warning says so and the knob is left alone).",
    ),
    ParamSpec::new(
        "cpu_governor",
        Kind::String,
        "cpufreq governor for every CPU while the resource runs",
    )
    .long(
        "E.g. performance. Written to every CPU's cpufreq scaling_governor on start, restored \
         on stop. Off when empty (the default). Host-wide: shared with the other DRBD \
         resources of the node (restored when the last one stops); two resources asking \
         different values is a configuration error that validate-all reports.",
    ),
    ParamSpec::new(
        "net_core_rmem_max",
        Kind::Integer {
            min: 4096,
            max: 2_147_483_647,
        },
        "net.core.rmem_max while the resource runs",
    )
    .long(
        "Largest socket receive buffer, in bytes (at least DRBD's rcvbuf-size). Host-wide, \
         shared like cpu_governor. Off when empty (the default).",
    ),
    ParamSpec::new(
        "net_core_wmem_max",
        Kind::Integer {
            min: 4096,
            max: 2_147_483_647,
        },
        "net.core.wmem_max while the resource runs",
    )
    .long(
        "Largest socket send buffer, in bytes (at least DRBD's sndbuf-size). Host-wide, shared \
         like cpu_governor. Off when empty (the default).",
    ),
    ParamSpec::new(
        "net_ipv4_tcp_rmem",
        Kind::String,
        "net.ipv4.tcp_rmem (min default max) while the resource runs",
    )
    .long(
        "Three byte counts, min default max, not decreasing. tcp_mem is never touched. \
         Host-wide, shared like cpu_governor. Off when empty (the default).",
    ),
    ParamSpec::new(
        "net_ipv4_tcp_wmem",
        Kind::String,
        "net.ipv4.tcp_wmem (min default max) while the resource runs",
    )
    .long(
        "Three byte counts, min default max, not decreasing; keep max at or above DRBD's \
         sndbuf-size. Host-wide, shared like cpu_governor. Off when empty (the default).",
    ),
    ParamSpec::new("qdisc", Kind::String, "Root qdisc of replication_nic (fq)").long(
        "fq: the root qdisc of replication_nic is replaced by fq (TCP pacing) on start and \
             the kernel's default qdisc comes back on stop. A root qdisc someone configured \
             (not the kernel's default) is left alone with a warning. Off when empty (the \
             default).",
    ),
    ParamSpec::new(
        "irq_affinity",
        Kind::String,
        "CPUs for the interrupts of replication_nic's queues",
    )
    .long(
        "A CPU list (0-3,8) or local (the CPUs of the NIC's NUMA node): written to \
         /proc/irq/N/smp_affinity_list of each of the NIC's MSI interrupts, restored on stop. \
         irqbalance, if it runs, may move them again: monitor reports that as drift. Off when \
         empty (the default).",
    ),
    ParamSpec::new(
        "mtu",
        Kind::Integer {
            min: 68,
            max: 65535,
        },
        "MTU of replication_nic while the resource runs",
    )
    .long(
        "E.g. 9000 for jumbo frames; every switch port and peer must carry it. Set on start \
         before DRBD connects, restored on stop; under Pacemaker each node publishes it in the \
         node attribute drbd-RES-mtu and start warns when a peer's differs. Off when empty \
         (the default).",
    ),
    ParamSpec::new(
        "soft_roce",
        Kind::Boolean,
        "Create a soft-RoCE (rdma_rxe) link on replication_nic",
    )
    .default("false")
    .long(
        "Loads rdma_rxe and creates the RDMA link rxe_NIC on replication_nic on start, for \
         DRBD 9's RDMA transport (transport \"rdma\" in the resource). Removed on stop only \
         if this agent created it; an existing link on the NIC is used and left in place.",
    ),
    ParamSpec::new("drbd_max_buffers", Kind::String, "DRBD net option max-buffers")
        .long(
            "Buffers DRBD may use on the receiving side (e.g. 8000 for fast links). Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_max_epoch_size", Kind::String, "DRBD net option max-epoch-size")
        .long(
            "Most write requests between two barriers (e.g. 8000, with max-buffers). Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_sndbuf_size", Kind::String, "DRBD net option sndbuf-size")
        .long(
            "TCP send buffer (bytes, or with k/M; 0: the kernel tunes it). Keep net_core_wmem_max and the tcp_wmem max at or above it. Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_rcvbuf_size", Kind::String, "DRBD net option rcvbuf-size")
        .long(
            "TCP receive buffer (bytes, or with k/M; 0: the kernel tunes it). Keep net_core_rmem_max at or above it. Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_ping_int", Kind::String, "DRBD net option ping-int")
        .long(
            "Seconds of silence on the link before DRBD pings its peer. Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_ping_timeout", Kind::String, "DRBD net option ping-timeout")
        .long(
            "Tenths of a second a ping answer may take; with ping-int it decides how fast a dead peer is noticed, so how long a failover waits. Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_timeout", Kind::String, "DRBD net option timeout")
        .long(
            "Tenths of a second a peer may take to answer a request; must stay below connect-int and ping-int. Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_ko_count", Kind::String, "DRBD net option ko-count")
        .long(
            "How many timeouts a peer may take on one write before it is dropped (0: never). Applied to the running resource with drbdadm net-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_al_extents", Kind::String, "DRBD disk option al-extents")
        .long(
            "Size of the activity log (extents of 4 MiB): larger means fewer metadata writes, a longer resync after a Primary crash. Applied to the running resource with drbdadm disk-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
    ParamSpec::new("drbd_c_plan_ahead", Kind::String, "DRBD disk option c-plan-ahead")
        .long(
            "Tenths of a second the resync controller plans ahead (0: fixed resync-rate). Applied to the running resource with drbdadm disk-options after every \
             adjust (start, notification, reload), over the value of the DRBD configuration; \
             monitor reports when it differs. Off when empty (the default).",
        ),
];

pub static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", 240),
    ActionSpec::new("reload", 30),
    ActionSpec::new("promote", 90),
    ActionSpec::new("demote", 90),
    ActionSpec::new("notify", 90),
    ActionSpec::new("stop", 100),
    ActionSpec::new("monitor", 20)
        .interval(20)
        .role("Unpromoted"),
    ActionSpec::new("monitor", 20).interval(10).role("Promoted"),
    ActionSpec::new("status", 20),
    ActionSpec::new("meta-data", 5),
    ActionSpec::new("validate-all", 30),
];

pub static META: AgentMeta = AgentMeta {
    name: "drbd-tuned",
    shortdesc: "DRBD replicated block device (promotable, replaces ocf:linbit:drbd)",
    longdesc: "Manages one DRBD resource as a promotable clone (promoted-max=1, \
clone-node-max=1, notify=true), with ocf:linbit:drbd's parameters, actions, default timeouts and \
promotion scores, so that switching means changing only the agent name. DRBD 8.4 and DRBD 9 \
(quorum, diskless clients, three or more nodes); the version is read from /proc/drbd once per \
action.

Monitor answers 8 on the Primary, 0 on a Secondary and 7 when the resource is down. Replication \
states (StandAlone, connecting, Outdated, Inconsistent, a resync) never fail the monitor, exactly \
as with ocf:linbit:drbd: a failing monitor on a disconnected Primary would demote the only good \
copy. They are logged when they change and shown in the observed state. On DRBD 8.4 the state \
is read from /proc/drbd without starting a program; on DRBD 9 with one drbdsetup call.

The promotion score is set with crm_attribute --promotion, only when it changes, and written \
again when Pacemaker has purged the node's transient attributes; it is removed on stop, without \
quorum and when no UpToDate data is reachable. Every drbdadm, drbdsetup and crm_attribute call \
is bounded by what is left of the operation's timeout.

Like ocf:linbit:drbd, this agent forgives where forgiving is safer: a malformed \
adjust_master_score falls back to the default with an error logged; a probe of a resource \
missing from the configuration answers not running; a stop whose configuration is broken still \
takes the device down (drbdsetup down) so that the node is not fenced.

Start loads the module, brings the resource up (adjust), waits wfc_timeout for the connection, \
demotes if it finds itself Primary and sets the score. Promote retries until its timeout but \
gives up at once when DRBD has no access to UpToDate data (drbdadm exit 17); a promote that \
failed early waits out the rest of 15 s so that recovery cannot spin. With fencing \
resource-and-stonith the fence-peer handler runs inside the promote: give promote a timeout \
longer than the handler's. Stop demotes, takes the resource down, names what holds the device \
open, retries until its timeout, and never fails for a resource that is already down.",
    params: PARAMS,
    actions: ACTIONS,
};

/// remove_master_score_if_peer_primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerPrimary {
    Ignore,
    Always,
    Unexpected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub resource: String,
    pub drbdconf: String,
    /// only Consistent, only remote, local ok, as good as it gets.
    pub scores: [i64; 4],
    /// Why the given adjust_master_score was replaced by the default.
    pub scores_fallback: Option<String>,
    pub stop_outdates_secondary: bool,
    pub ignore_missing_notifications: bool,
    /// Seconds to wait for the connection; `None`: do not wait.
    pub wfc_timeout: Option<u32>,
    pub peer_primary: PeerPrimary,
    pub fail_promote_early_if_peer_primary: bool,
    pub unfence_if_all_uptodate: bool,
    pub unfence_extra_args: String,
    pub version_ge: Option<Version>,
    pub version_lt: Option<Version>,
    pub connect_only_after_promote: bool,
    pub tune: super::tune::TuneConfig,
    /// DRBD net options (name, value), applied with drbdadm net-options.
    pub drbd_net: Vec<(&'static str, String)>,
    /// DRBD disk options, applied with drbdadm disk-options.
    pub drbd_disk: Vec<(&'static str, String)>,
}

/// The DRBD options drbd-tuned sets: parameter, DRBD's name, net or disk,
/// whether a size unit (k, M, G) is allowed.
pub const DRBD_OPTIONS: [(&str, &str, bool, bool); 10] = [
    ("drbd_max_buffers", "max-buffers", true, false),
    ("drbd_max_epoch_size", "max-epoch-size", true, false),
    ("drbd_sndbuf_size", "sndbuf-size", true, true),
    ("drbd_rcvbuf_size", "rcvbuf-size", true, true),
    ("drbd_ping_int", "ping-int", true, false),
    ("drbd_ping_timeout", "ping-timeout", true, false),
    ("drbd_timeout", "timeout", true, false),
    ("drbd_ko_count", "ko-count", true, false),
    ("drbd_al_extents", "al-extents", false, false),
    ("drbd_c_plan_ahead", "c-plan-ahead", false, false),
];

/// A DRBD version x.y.z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// Exactly `x.y.z` (the form the require_* parameters take).
    pub fn parse_exact(s: &str) -> Option<Version> {
        let mut it = s.split('.');
        let mut n = || -> Option<u32> {
            let p = it.next()?;
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let v = Version(n()?, n()?, n()?);
        it.next().is_none().then_some(v)
    }

    /// The leading `x.y.z` of a version string such as `8.4.11` or
    /// `9.2.12-rc.1` (what /proc/drbd and modinfo print).
    pub fn parse_prefix(s: &str) -> Option<Version> {
        let end = s
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len());
        let core: Vec<&str> = s[..end].split('.').take(3).collect();
        match core.as_slice() {
            [a, b, c] => Some(Version(a.parse().ok()?, b.parse().ok()?, c.parse().ok()?)),
            _ => None,
        }
    }
}

/// The characters ocf:linbit:drbd allows in resource names and paths.
fn linbit_charset(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-%+./:=@_".contains(c))
}

/// LINBIT's rule for adjust_master_score: four whole numbers, none with a
/// character other than a digit, never decreasing.
pub fn parse_scores(s: &str) -> Result<[i64; 4], String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let mut out = [0i64; 4];
    if words.len() != 4 {
        return Err(format!(
            "adjust_master_score needs 4 values, found {}",
            words.len()
        ));
    }
    for (i, w) in words.iter().enumerate() {
        if w.len() > 12 || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "adjust_master_score value {} is not a whole number",
                shown(w)
            ));
        }
        out[i] = w
            .parse()
            .map_err(|_| format!("bad adjust_master_score value {}", shown(w)))?;
        if i > 0 && out[i] < out[i - 1] {
            return Err(format!(
                "adjust_master_score values must not decrease ({} > {})",
                out[i - 1],
                out[i]
            ));
        }
    }
    Ok(out)
}

/// The DRBD options of one kind that are set: a whole number, with a size
/// unit where DRBD takes one.
fn drbd_options(p: &Params, net: bool) -> Result<Vec<(&'static str, String)>, OcfError> {
    let mut out = Vec::new();
    for (param, name, is_net, unit) in DRBD_OPTIONS {
        if is_net != net {
            continue;
        }
        let Some(v) = p.get(param).map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let digits = if unit {
            v.strip_suffix(['k', 'K', 'm', 'M', 'g', 'G']).unwrap_or(v)
        } else {
            v
        };
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(configured!(
                "{param}={} is not a whole number{}",
                shown(v),
                if unit { " (with k, M or G)" } else { "" }
            ));
        }
        out.push((name, v.to_string()));
    }
    Ok(out)
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, OcfError> {
        let get = |n: &str| p.get(n).unwrap_or_default().trim().to_string();
        let resource = get("drbd_resource");
        if resource.is_empty() {
            return Err(configured!("No resource name specified"));
        }
        if !linbit_charset(&resource) || resource.starts_with('-') || resource.len() > 128 {
            return Err(configured!(
                "drbd_resource={} is not a DRBD resource name: only letters, digits and \
                 -%+./:=@_ (not starting with '-'), at most 128 characters",
                shown(&resource)
            ));
        }
        let drbdconf = get("drbdconf");
        if !linbit_charset(&drbdconf) || drbdconf.starts_with('-') {
            return Err(configured!(
                "drbdconf={} may only contain letters, digits and -%+./:=@_ (not starting \
                 with '-')",
                shown(&drbdconf)
            ));
        }
        let (scores, scores_fallback) = match parse_scores(&get("adjust_master_score")) {
            Ok(s) => (s, None),
            Err(why) => (DEFAULT_SCORES, Some(why)),
        };
        let wfc = get("wfc_timeout");
        let wfc_timeout =
            if !wfc.is_empty() && wfc.len() <= 9 && wfc.bytes().all(|b| b.is_ascii_digit()) {
                wfc.parse().ok()
            } else {
                None
            };
        let peer_primary = match get("remove_master_score_if_peer_primary").as_str() {
            "unexpected" => PeerPrimary::Unexpected,
            v if crate::ocf::env::is_true(v) => PeerPrimary::Always,
            v if crate::ocf::env::is_false(v) => PeerPrimary::Ignore,
            v => {
                return Err(configured!(
                    "remove_master_score_if_peer_primary={} is not one of true, false, unexpected",
                    shown(v)
                ))
            }
        };
        let version = |n: &str| -> Result<Option<Version>, OcfError> {
            let v = get(n);
            if v.is_empty() {
                return Ok(None);
            }
            Version::parse_exact(&v)
                .map(Some)
                .ok_or_else(|| configured!("{n}: invalid version format {} (x.y.z)", shown(&v)))
        };
        Ok(Config {
            resource,
            drbdconf,
            scores,
            scores_fallback,
            stop_outdates_secondary: p.flag("stop_outdates_secondary"),
            ignore_missing_notifications: p.flag("ignore_missing_notifications"),
            wfc_timeout,
            peer_primary,
            fail_promote_early_if_peer_primary: p.flag("fail_promote_early_if_peer_primary"),
            unfence_if_all_uptodate: p.flag("unfence_if_all_uptodate"),
            unfence_extra_args: get("unfence_extra_args"),
            version_ge: version("require_drbd_module_version_ge")?,
            version_lt: version("require_drbd_module_version_lt")?,
            connect_only_after_promote: p.flag("connect_only_after_promote"),
            tune: super::tune::TuneConfig::from_params(p)?,
            drbd_net: drbd_options(p, true)?,
            drbd_disk: drbd_options(p, false)?,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cfg(extra: &[(&str, &str)]) -> Result<Config, OcfError> {
        let mut pairs = vec![("drbd_resource", "r0")];
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
    fn table_and_meta_invariants() {
        crate::ocf::metadata::check_meta(&META);
    }

    #[test]
    fn linbit_defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.resource, "r0");
        assert_eq!(c.drbdconf, "/etc/drbd.conf");
        assert_eq!(c.scores, [0, 10, 1000, 10000]);
        assert_eq!(c.scores_fallback, None);
        assert_eq!(c.wfc_timeout, Some(5));
        assert_eq!(c.peer_primary, PeerPrimary::Ignore);
        assert_eq!(c.version_ge, Some(Version(8, 0, 0)));
        assert_eq!(c.version_lt, Some(Version(10, 0, 0)));
        assert_eq!(c.unfence_extra_args, DEFAULT_UNFENCE_ARGS);
        assert!(!c.stop_outdates_secondary && !c.ignore_missing_notifications);
        assert!(!c.fail_promote_early_if_peer_primary && !c.unfence_if_all_uptodate);
        assert!(!c.connect_only_after_promote);
    }

    #[test]
    fn bad_score_lists_fall_back_to_the_default_with_a_reason() {
        for (bad, why) in [
            ("0 10 1000", "needs 4 values, found 3"),
            ("0 10 1000 10000 5", "found 5"),
            ("0 10 x 10000", "'x' is not a whole number"),
            ("0 -10 1000 10000", "'-10' is not a whole number"),
            ("0 1000 10 10000", "must not decrease (1000 > 10)"),
        ] {
            let c = cfg(&[("adjust_master_score", bad)]).unwrap();
            assert_eq!(c.scores, DEFAULT_SCORES, "{bad}");
            assert!(
                c.scores_fallback.as_deref().unwrap().contains(why),
                "{bad}: {:?}",
                c.scores_fallback
            );
        }
        let c = cfg(&[("adjust_master_score", " 5 5  100 200 ")]).unwrap();
        assert_eq!(c.scores, [5, 5, 100, 200]);
        assert!(c.scores_fallback.is_none());
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in [
            "r0;reboot",
            "$(id)",
            "r 0",
            "-c/tmp/x",
            "r0`x`",
            "a|b",
            "r0'",
            "*",
        ] {
            let why = refused(&[("drbd_resource", bad)]);
            assert!(why.contains("not a DRBD resource name"), "{bad}: {why}");
        }
        for bad in ["/etc/drbd.conf;x", "-v", "/etc/$HOME"] {
            assert!(refused(&[("drbdconf", bad)]).contains("drbdconf="), "{bad}");
        }
        assert!(cfg(&[("drbd_resource", "res-1.a_b:c=d@e%f+g/h")]).is_ok());
    }

    #[test]
    fn wfc_timeout_that_is_not_a_number_means_no_wait() {
        assert_eq!(cfg(&[("wfc_timeout", "30")]).unwrap().wfc_timeout, Some(30));
        assert_eq!(cfg(&[("wfc_timeout", "3s")]).unwrap().wfc_timeout, None);
        assert_eq!(cfg(&[("wfc_timeout", "0")]).unwrap().wfc_timeout, Some(0));
    }

    #[test]
    fn peer_primary_values_and_versions() {
        let pp = |v| {
            cfg(&[("remove_master_score_if_peer_primary", v)])
                .unwrap()
                .peer_primary
        };
        assert_eq!(pp("true"), PeerPrimary::Always);
        assert_eq!(pp("yes"), PeerPrimary::Always);
        assert_eq!(pp("unexpected"), PeerPrimary::Unexpected);
        assert_eq!(pp("no"), PeerPrimary::Ignore);
        assert!(refused(&[("remove_master_score_if_peer_primary", "maybe")]).contains("unexpected"));
        assert_eq!(
            cfg(&[("require_drbd_module_version_ge", "9.0.16")])
                .unwrap()
                .version_ge,
            Some(Version(9, 0, 16))
        );
        for bad in ["9.0", "9.0.x", "9.0.16.1", "v9.0.0", "9..0"] {
            assert!(
                refused(&[("require_drbd_module_version_lt", bad)]).contains("invalid version"),
                "{bad}"
            );
        }
        assert_eq!(Version::parse_prefix("8.4.11"), Some(Version(8, 4, 11)));
        assert_eq!(
            Version::parse_prefix("9.2.12-rc.1"),
            Some(Version(9, 2, 12))
        );
        assert_eq!(Version::parse_prefix("8.4"), None);
        assert!(Version(8, 4, 11) < Version(9, 0, 0));
    }
}
