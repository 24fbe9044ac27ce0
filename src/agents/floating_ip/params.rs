// SPDX-License-Identifier: GPL-2.0-or-later
//! floating-ip's parameters: IPaddr2's names and meanings, so that switching
//! is a change of agent name only.

use crate::configured;
use crate::ocf::params::shown;
use crate::ocf::{ActionSpec, AgentMeta, Kind, OcfError, ParamSpec, Params};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

pub static PARAMS: &[ParamSpec] = &[
    ParamSpec::new("ip", Kind::String, "IPv4 or IPv6 address")
        .required()
        .unique()
        .long(
            "The floating address, IPv4 (dotted quad, 192.0.2.10) or IPv6 (2001:db8::10). \
             Written without a prefix length: see cidr_netmask.",
        ),
    ParamSpec::new("nic", Kind::String, "Network interface").long(
        "The interface to put the address on. If unset, the interface of the most specific \
         route that covers the address is used (unreachable, blackhole and prohibit routes \
         are ignored); if two interfaces match equally, the agent refuses to guess. \
         Required for IPv6 link-local addresses. An alternative name (ip link property add \
         ... altname) names its interface too. The legacy form nic:label is accepted.",
    ),
    ParamSpec::new("cidr_netmask", Kind::String, "Prefix length").long(
        "The prefix length (24, 64) or, for IPv4, a dotted-quad netmask (255.255.255.0). \
         If unset, the prefix of the route that selected the interface.",
    ),
    ParamSpec::new("broadcast", Kind::String, "IPv4 broadcast address").long(
        "IPv4 broadcast address, or + (all host bits set) or - (host bits cleared). \
         If unset, no broadcast address is set, as with ip addr add without brd.",
    ),
    ParamSpec::new("iflabel", Kind::String, "Interface label").long(
        "IPv4 label: the address is labelled nic:iflabel (15 characters at most in all), \
         as ifconfig-era tools show aliases. Letters, digits, '_', '.' and '-'.",
    ),
    ParamSpec::new(
        "arp_count",
        Kind::Integer { min: 0, max: 1000 },
        "Announcements on start",
    )
    .default("5")
    .long(
        "How many gratuitous ARPs (IPv4) or unsolicited neighbour advertisements (IPv6) \
             to send after adding the address, so that switches and peers learn where it \
             now lives. 0 sends none.",
    ),
    ParamSpec::new(
        "arp_interval",
        Kind::Integer { min: 1, max: 10000 },
        "Milliseconds between announcements",
    )
    .default("200")
    .long("Time between two announcements, in milliseconds."),
    ParamSpec::new(
        "arp_count_refresh",
        Kind::Integer { min: 0, max: 1000 },
        "Announcements on each monitor",
    )
    .default("0")
    .long(
        "Announcements to send on every monitor, for switches that forget (for instance \
             after a split brain healed). Sent by the monitor itself, with no child process.",
    ),
    ParamSpec::new("arp_bg", Kind::Boolean, "Announce in the background").long(
        "Send the start announcements from a background process (its own session, recorded \
         in a pid file so that stop ends it) so that start returns at once. Default: true \
         for IPv4, false for IPv6 (as IPaddr2).",
    ),
    ParamSpec::new(
        "arp_sender",
        Kind::String,
        "Accepted for IPaddr2 compatibility",
    )
    .long(
        "IPaddr2 chooses an external ARP program with this; floating-ip sends its own \
         packets on a raw socket and ignores it.",
    ),
    ParamSpec::new("run_arping", Kind::Boolean, "IPv4 duplicate address check")
        .default("false")
        .long(
            "Before adding an IPv4 address, probe for it on the network (RFC 5227 ARP probes, \
             sent by the agent) and refuse to start if another host answers.",
        ),
    ParamSpec::new(
        "nodad",
        Kind::Boolean,
        "Skip IPv6 duplicate address detection",
    )
    .default("false")
    .long("Add the IPv6 address with the nodad flag: usable at once, never checked."),
    ParamSpec::new("noprefixroute", Kind::Boolean, "No prefix route")
        .default("false")
        .long("Add the address without the route for its prefix (the noprefixroute flag)."),
    ParamSpec::new("preferred_lft", Kind::String, "IPv6 preferred lifetime")
        .default("forever")
        .long(
            "Preferred lifetime of an IPv6 address in seconds, or forever. 0 keeps the \
             address from being chosen as a source address (deprecated), which suits a \
             service address that must not carry the node's own traffic.",
        ),
    ParamSpec::new(
        "lvs_ipv6_addrlabel",
        Kind::Boolean,
        "Keep an IPv6 address from being a source address",
    )
    .default("true")
    .long(
        "Give an IPv6 address its own address label (lvs_ipv6_addrlabel_value) while it is \
             up, so that RFC 6724 source address selection keeps preferring the node's own \
             address for connections the node opens: without it, the newest address in a \
             subnet becomes their source. Ignored for IPv4.",
    ),
    ParamSpec::new(
        "lvs_ipv6_addrlabel_value",
        Kind::Integer {
            min: 0,
            max: 4_294_967_294,
        },
        "IPv6 address label",
    )
    .default("99")
    .long("The address label lvs_ipv6_addrlabel gives the address."),
    ParamSpec::new(
        "check_link_status",
        Kind::Boolean,
        "Monitor fails when the link is down",
    )
    .default("true")
    .long(
        "The monitor fails when the interface is administratively down or has lost its \
             carrier (operational state DOWN or LOWERLAYERDOWN), so the address moves to a \
             node whose link works.",
    ),
    ParamSpec::new("network_namespace", Kind::String, "Network namespace").long(
        "Name of a network namespace (as ip netns add made it, under /run/netns) to manage \
         the address in. The agent enters it itself; nothing is re-executed.",
    ),
    ParamSpec::new(
        "dad_timeout",
        Kind::Integer { min: 1, max: 600 },
        "Seconds to wait for IPv6 DAD",
    )
    .default("15")
    .long(
        "How long start waits for IPv6 duplicate address detection to finish, in seconds, \
             bounded by the start timeout. A failed detection removes the address and fails \
             the start.",
    ),
];

pub static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", 20),
    ActionSpec::new("stop", 20),
    ActionSpec::new("status", 20),
    ActionSpec::new("monitor", 20).interval(10).depth(0),
    ActionSpec::new("meta-data", 5),
    ActionSpec::new("validate-all", 20),
];

pub static META: AgentMeta = AgentMeta {
    name: "floating-ip",
    shortdesc: "Floating IPv4/IPv6 service address",
    longdesc: "Manages a floating IP address (IPv4 or IPv6) that clients reach a service \
        through and that moves with it between nodes. Compatible with IPaddr2's parameters; \
        talks to the kernel over netlink and raw sockets, so the monitor runs no other \
        program. Start announces the address with gratuitous ARP or unsolicited neighbour \
        advertisements; an IPv6 start waits for duplicate address detection and fails \
        cleanly when the address is taken.",
    params: PARAMS,
    actions: ACTIONS,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broadcast {
    None,
    /// `+`: host bits set.
    Plus,
    /// `-`: host bits cleared.
    Minus,
    Addr(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub ip: IpAddr,
    pub nic: Option<String>,
    pub iflabel: Option<String>,
    pub prefix: Option<u8>,
    pub broadcast: Broadcast,
    pub arp_count: u32,
    pub arp_interval: Duration,
    pub arp_count_refresh: u32,
    pub arp_bg: bool,
    pub run_arping: bool,
    pub nodad: bool,
    pub noprefixroute: bool,
    /// None: forever.
    pub preferred_lft: Option<u32>,
    pub check_link_status: bool,
    /// IPv6 only: the address label that keeps the address from being a
    /// source address, if any.
    pub addrlabel: Option<u32>,
    pub netns: Option<String>,
    pub dad_timeout: Duration,
}

/// Names the agent accepts (interface names, labels, namespaces): the
/// characters real names use, so that a typo or a hostile value fails here
/// with a reason instead of later. Interface names are at most 15 bytes
/// (IFNAMSIZ - 1); the kernel would take nearly any byte.
fn check_word(what: &str, v: &str, max: usize) -> Result<(), OcfError> {
    if !v.is_empty()
        && v.len() <= max
        && v != "."
        && v != ".."
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        Ok(())
    } else {
        Err(configured!(
            "{what}={} is not a valid name (1-{max} letters, digits, '_', '.', '-')",
            shown(v)
        ))
    }
}

/// Prefix length from `24`, `/24` or (IPv4) `255.255.255.0`.
pub fn parse_prefix(v: &str, ip: &IpAddr) -> Result<u8, OcfError> {
    let max: u8 = if ip.is_ipv4() { 32 } else { 128 };
    let v = v.trim();
    let bare = v.strip_prefix('/').unwrap_or(v);
    if let Ok(n) = bare.parse::<u8>() {
        if n <= max && !bare.starts_with('+') {
            return Ok(n);
        }
        return Err(configured!(
            "cidr_netmask={} is out of range (0 to {max})",
            shown(v)
        ));
    }
    if ip.is_ipv4() {
        if let Ok(mask) = bare.parse::<Ipv4Addr>() {
            let bits = u32::from(mask);
            let len = bits.leading_ones();
            if bits.checked_shl(len).unwrap_or(0) == 0 {
                log::warn!("cidr_netmask={v} is a dotted quad; using /{len}");
                return Ok(len as u8);
            }
            return Err(configured!(
                "cidr_netmask={} is not a contiguous netmask",
                shown(v)
            ));
        }
    }
    Err(configured!(
        "cidr_netmask={} is not a prefix length (0 to {max})",
        shown(v)
    ))
}

fn parse_ip(v: &str) -> Result<IpAddr, OcfError> {
    // IPaddr2 users sometimes write the address with its prefix; say so
    // instead of "not an address".
    if v.split_once('/')
        .is_some_and(|(a, _)| a.trim().parse::<IpAddr>().is_ok())
    {
        return Err(configured!(
            "ip={} must be a bare address: put the prefix length in cidr_netmask",
            shown(v)
        ));
    }
    let ip: IpAddr = v
        .trim()
        .parse()
        .map_err(|_| configured!("ip={} is not an IPv4 or IPv6 address", shown(v)))?;
    let bad = match ip {
        IpAddr::V4(a) => a.is_unspecified() || a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_unspecified() || a.is_multicast() || a.is_loopback(),
    };
    if bad {
        return Err(configured!(
            "ip={ip} cannot be a service address (unspecified, multicast or broadcast)"
        ));
    }
    Ok(ip)
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, OcfError> {
        let ip = parse_ip(p.get("ip").unwrap_or_default())?;
        let mut nic = p.get("nic").map(str::to_string);
        let mut iflabel = p.get("iflabel").map(str::to_string);
        // The deprecated nic:label spelling IPaddr2 still accepts.
        if let Some((base, label)) = nic.clone().as_deref().and_then(|n| n.split_once(':')) {
            log::warn!("nic={base}:{label} is deprecated; use nic={base} iflabel={label}");
            if iflabel.is_none() {
                iflabel = Some(label.to_string());
            }
            nic = Some(base.to_string());
        }
        if let Some(n) = &nic {
            // 15 bytes for a name, up to 127 for an alternative name.
            check_word("nic", n, 127)?;
        }
        if let Some(l) = &iflabel {
            if ip.is_ipv6() {
                return Err(configured!("iflabel is for IPv4 addresses only"));
            }
            check_word("iflabel", l, 14)?;
            if let Some(n) = &nic {
                check_label_len(n, l)?;
            }
        }
        if is_link_local(&ip) && ip.is_ipv6() && nic.is_none() {
            return Err(configured!(
                "nic is required for the link-local address {ip}"
            ));
        }
        let prefix = p
            .get("cidr_netmask")
            .map(|v| parse_prefix(v, &ip))
            .transpose()?;
        let broadcast = match p.get("broadcast").map(str::trim) {
            None => Broadcast::None,
            Some(_) if ip.is_ipv6() => {
                return Err(configured!("broadcast is for IPv4 addresses only"))
            }
            Some("+") => Broadcast::Plus,
            Some("-") => Broadcast::Minus,
            Some(b) => Broadcast::Addr(b.parse().map_err(|_| {
                configured!("broadcast={} is not an IPv4 address, + or -", shown(b))
            })?),
        };
        let preferred_lft = match p.get("preferred_lft").map(str::trim) {
            None | Some("forever") => None,
            Some(v) => {
                let n: u32 = v.parse().ok().filter(|n| *n < u32::MAX).ok_or_else(|| {
                    configured!(
                        "preferred_lft={} is not a number of seconds or forever",
                        shown(v)
                    )
                })?;
                if ip.is_ipv4() {
                    return Err(configured!("preferred_lft is for IPv6 addresses only"));
                }
                Some(n)
            }
        };
        let netns = p.get("network_namespace").map(str::to_string);
        if let Some(n) = &netns {
            check_word("network_namespace", n, 255)?;
        }
        let int = |name: &str| p.int(name).and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        Ok(Config {
            arp_bg: if p.is_set("arp_bg") {
                p.flag("arp_bg")
            } else {
                ip.is_ipv4()
            },
            ip,
            nic,
            iflabel,
            prefix,
            broadcast,
            arp_count: int("arp_count"),
            arp_interval: Duration::from_millis(u64::from(int("arp_interval"))),
            arp_count_refresh: int("arp_count_refresh"),
            run_arping: p.flag("run_arping"),
            nodad: p.flag("nodad"),
            noprefixroute: p.flag("noprefixroute"),
            preferred_lft,
            check_link_status: p.flag("check_link_status"),
            addrlabel: (ip.is_ipv6() && p.flag("lvs_ipv6_addrlabel")).then(|| {
                p.int("lvs_ipv6_addrlabel_value")
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(99)
            }),
            netns,
            dad_timeout: Duration::from_secs(u64::from(int("dad_timeout"))),
        })
    }

    /// The label as the kernel stores it.
    pub fn label_for(&self, nic: &str) -> Option<String> {
        self.iflabel.as_ref().map(|l| format!("{nic}:{l}"))
    }
}

pub fn check_label_len(nic: &str, label: &str) -> Result<(), OcfError> {
    let full = format!("{nic}:{label}");
    if full.len() > 15 {
        return Err(configured!(
            "interface label {full} is {} characters long (at most 15)",
            full.len()
        ));
    }
    Ok(())
}

/// The broadcast address to set, if any.
pub fn broadcast_for(b: Broadcast, ip: &IpAddr, prefix: u8) -> Option<Ipv4Addr> {
    let IpAddr::V4(v4) = ip else { return None };
    let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    match b {
        Broadcast::None => None,
        Broadcast::Addr(a) => Some(a),
        Broadcast::Plus => Some(Ipv4Addr::from(u32::from(*v4) | host_mask)),
        Broadcast::Minus => Some(Ipv4Addr::from(u32::from(*v4) & !host_mask)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, OcfError> {
        Config::from_params(&Params::from_pairs(PARAMS, pairs)?)
    }

    fn refused(pairs: &[(&str, &str)]) -> String {
        match cfg(pairs) {
            Ok(c) => panic!("{pairs:?} accepted as {c:?}"),
            Err(e) => {
                assert_eq!(e.status().code(), 6, "{pairs:?}: {e}");
                e.to_string()
            }
        }
    }

    #[test]
    fn table_and_meta_invariants() {
        crate::ocf::metadata::check_meta(&META);
    }

    #[test]
    fn defaults_match_ipaddr2() {
        let c = cfg(&[("ip", "192.0.2.10")]).expect("valid");
        assert_eq!(c.arp_count, 5);
        assert_eq!(c.arp_interval, Duration::from_millis(200));
        assert_eq!(c.arp_count_refresh, 0);
        assert!(c.arp_bg && c.check_link_status && !c.nodad && !c.run_arping);
        assert_eq!(
            (c.nic, c.prefix, c.broadcast, c.preferred_lft),
            (None, None, Broadcast::None, None)
        );
        assert_eq!(c.addrlabel, None, "address labels are IPv6 only");
        let c = cfg(&[("ip", "2001:db8::10")]).expect("valid");
        assert!(!c.arp_bg, "IPv6 announces in the foreground by default");
        // IPaddr2's default since resource-agents 4.15 (4.12 had false).
        assert_eq!(c.addrlabel, Some(99));
        let c = cfg(&[("ip", "2001:db8::10"), ("lvs_ipv6_addrlabel_value", "7")]).expect("valid");
        assert_eq!(c.addrlabel, Some(7));
        let c = cfg(&[("ip", "2001:db8::10"), ("lvs_ipv6_addrlabel", "false")]).expect("valid");
        assert_eq!(c.addrlabel, None);
        // An alternative name may be longer than an interface name.
        let long = "x".repeat(127);
        let c = cfg(&[("ip", "192.0.2.1"), ("nic", &long)]).expect("valid");
        assert_eq!(c.nic.as_deref(), Some(long.as_str()));
    }

    #[test]
    fn netmask_forms() {
        let v4: IpAddr = "192.0.2.1".parse().expect("ip");
        let v6: IpAddr = "2001:db8::1".parse().expect("ip");
        assert_eq!(parse_prefix("24", &v4).ok(), Some(24));
        assert_eq!(parse_prefix("/16", &v4).ok(), Some(16));
        assert_eq!(parse_prefix("255.255.255.0", &v4).ok(), Some(24));
        assert_eq!(parse_prefix("255.255.255.255", &v4).ok(), Some(32));
        assert_eq!(parse_prefix("0.0.0.0", &v4).ok(), Some(0));
        assert_eq!(parse_prefix("64", &v6).ok(), Some(64));
        assert_eq!(parse_prefix("128", &v6).ok(), Some(128));
        for bad in ["33", "255.0.255.0", "abc", "-1", "+24", "", "24a"] {
            assert!(parse_prefix(bad, &v4).is_err(), "{bad}");
        }
        assert!(parse_prefix("129", &v6).is_err());
        assert!(parse_prefix("255.255.255.0", &v6).is_err());
    }

    #[test]
    fn legacy_nic_label_form() {
        let c = cfg(&[("ip", "192.0.2.10"), ("nic", "eth0:vip")]).expect("valid");
        assert_eq!(c.nic.as_deref(), Some("eth0"));
        assert_eq!(c.label_for("eth0").as_deref(), Some("eth0:vip"));
    }

    #[test]
    fn broadcast_forms() {
        let ip: IpAddr = "192.0.2.10".parse().expect("ip");
        assert_eq!(
            broadcast_for(Broadcast::Plus, &ip, 24),
            Some(Ipv4Addr::new(192, 0, 2, 255))
        );
        assert_eq!(
            broadcast_for(Broadcast::Minus, &ip, 24),
            Some(Ipv4Addr::new(192, 0, 2, 0))
        );
        assert_eq!(
            broadcast_for(Broadcast::Plus, &ip, 32),
            Some(Ipv4Addr::new(192, 0, 2, 10))
        );
        assert_eq!(
            broadcast_for(Broadcast::Plus, &ip, 0),
            Some(Ipv4Addr::BROADCAST)
        );
        assert_eq!(broadcast_for(Broadcast::None, &ip, 24), None);
        let c = cfg(&[("ip", "192.0.2.10"), ("broadcast", "192.0.2.127")]).expect("valid");
        assert_eq!(c.broadcast, Broadcast::Addr(Ipv4Addr::new(192, 0, 2, 127)));
    }

    #[test]
    fn hostile_and_broken_values_are_refused_with_reasons() {
        assert!(refused(&[]).contains("required parameter ip"));
        assert!(refused(&[("ip", "1.2.3.4; touch /tmp/pwned")]).contains("not an IPv4 or IPv6"));
        assert!(refused(&[("ip", "$(reboot)")]).contains("not an IPv4"));
        assert!(refused(&[("ip", "`id`")]).contains("not an IPv4"));
        assert!(refused(&[("ip", "192.0.2.1/24")]).contains("cidr_netmask"));
        assert!(refused(&[("ip", "0.0.0.0")]).contains("cannot be a service address"));
        assert!(refused(&[("ip", "224.0.0.1")]).contains("cannot be a service address"));
        assert!(refused(&[("ip", "ff02::1")]).contains("cannot be a service address"));
        assert!(
            refused(&[("ip", "192.0.2.1"), ("nic", &"x".repeat(128))]).contains("not a valid name")
        );
        assert!(
            refused(&[("ip", "192.0.2.1"), ("nic", "eth0;reboot")]).contains("not a valid name")
        );
        assert!(refused(&[("ip", "192.0.2.1"), ("nic", "../etc")]).contains("not a valid name"));
        assert!(refused(&[
            ("ip", "192.0.2.1"),
            ("nic", "eth0"),
            ("iflabel", "averyverylonglabel")
        ])
        .contains("not a valid name"));
        assert!(refused(&[
            ("ip", "192.0.2.1"),
            ("nic", "eth0"),
            ("iflabel", "01234567890")
        ])
        .contains("at most 15"));
        assert!(refused(&[("ip", "192.0.2.1"), ("iflabel", "a b")]).contains("iflabel"));
        assert!(refused(&[("ip", "192.0.2.1"), ("arp_count", "-1")]).contains("out of range"));
        assert!(refused(&[("ip", "192.0.2.1"), ("arp_count", "abc")]).contains("whole number"));
        assert!(refused(&[("ip", "192.0.2.1"), ("cidr_netmask", "33")]).contains("out of range"));
        assert!(
            refused(&[("ip", "192.0.2.1"), ("cidr_netmask", "255.0.255.0")]).contains("contiguous")
        );
        assert!(refused(&[("ip", "192.0.2.1"), ("broadcast", "x")]).contains("broadcast"));
        assert!(refused(&[("ip", "192.0.2.1\nreboot")]).contains("control character"));
        assert!(refused(&[("ip", "192.0.2.1"), ("nodad", "perhaps")]).contains("not a boolean"));
        assert!(
            refused(&[("ip", "2001:db8::1"), ("preferred_lft", "soon")]).contains("preferred_lft")
        );
        assert!(refused(&[("ip", "192.0.2.1"), ("preferred_lft", "0")]).contains("IPv6"));
        assert!(refused(&[("ip", "fe80::1")]).contains("nic is required"));
        assert!(refused(&[
            ("ip", "192.0.2.1"),
            ("network_namespace", "../../proc/1/ns/net")
        ])
        .contains("network_namespace"));
        assert!(refused(&[("ip", "2001:db8::1"), ("broadcast", "+")]).contains("IPv4"));
    }
}
