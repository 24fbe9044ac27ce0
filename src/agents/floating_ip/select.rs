// SPDX-License-Identifier: GPL-2.0-or-later
//! Which interface and prefix an address belongs on, from the routing table
//! alone (pure: the caller dumps the routes). This is IPaddr2's findif.sh:
//! the most specific on-link route of the main table that covers the
//! address, with two fixes users asked for upstream: routes that drop
//! traffic (unreachable, blackhole, prohibit) never select an interface, and
//! a tie between two interfaces is an error rather than a silent pick.
//!
//! No covering route is OCF_ERR_GENERIC, as in IPaddr2: the base address may
//! be missing only for a while (networking still coming up, a flapping NIC),
//! and a hard error would ban the address from the node until a cleanup. A
//! tie is OCF_ERR_ARGS: this node's routes need a `nic` to settle it.

use crate::net::netlink::{prefix_contains, Route};
use crate::ocf::OcfError;
use crate::{args_err, generic};
use std::net::IpAddr;

const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;
const RT_SCOPE_LINK: u8 = 253;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub ifindex: u32,
    pub prefix: u8,
}

/// An on-link route in the main table that can carry the address.
fn usable(r: &Route, ip: &IpAddr, prefix: Option<u8>) -> bool {
    let Some(dst) = r.dst else { return false };
    r.table == RT_TABLE_MAIN
        && r.route_type == RTN_UNICAST
        && r.gateway.is_none()
        && r.oif.is_some()
        && r.dst_len > 0
        && (!ip.is_ipv4() || r.scope == RT_SCOPE_LINK)
        && prefix.map_or(true, |p| r.dst_len <= p)
        && prefix_contains(&dst, r.dst_len, ip)
}

/// Chooses the interface and prefix for `ip`. `nic` and `prefix` are what
/// the user configured; `name_of` names interfaces in error messages.
pub fn choose(
    ip: &IpAddr,
    nic: Option<(u32, &str)>,
    prefix: Option<u8>,
    routes: &[Route],
    name_of: &dyn Fn(u32) -> String,
) -> Result<Choice, OcfError> {
    if let (Some((ifindex, _)), Some(prefix)) = (nic, prefix) {
        return Ok(Choice { ifindex, prefix });
    }
    let candidates: Vec<&Route> = routes
        .iter()
        .filter(|r| usable(r, ip, prefix))
        .filter(|r| nic.map_or(true, |(i, _)| r.oif == Some(i)))
        .collect();
    let Some(best_len) = candidates.iter().map(|r| r.dst_len).max() else {
        let missing = match (nic, prefix) {
            (None, None) => "nic and cidr_netmask",
            (None, Some(_)) => "nic",
            _ => "cidr_netmask",
        };
        let on = nic.map(|(_, n)| format!(" on {n}")).unwrap_or_default();
        return Err(generic!(
            "no interface{on} can carry {ip}: no route{on} covers it (no base address in its subnet?); set {missing} to place it without one"
        ));
    };
    let mut best: Vec<&Route> = candidates
        .into_iter()
        .filter(|r| r.dst_len == best_len)
        .collect();
    best.sort_by_key(|r| r.oif);
    best.dedup_by_key(|r| r.oif);
    if best.len() > 1 {
        let names: Vec<String> = best.iter().filter_map(|r| r.oif).map(name_of).collect();
        return Err(args_err!(
            "{ip} is covered by /{best_len} routes on {}: set nic to choose",
            names.join(" and ")
        ));
    }
    let route = best[0];
    Ok(Choice {
        ifindex: nic.map(|(i, _)| i).or(route.oif).unwrap_or(0),
        prefix: prefix.unwrap_or(route.dst_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::netlink::Family;

    fn route(dst: &str, len: u8, oif: u32) -> Route {
        let dst: IpAddr = dst.parse().expect("ip");
        Route {
            family: Family::of(&dst),
            dst: Some(dst),
            dst_len: len,
            oif: Some(oif),
            gateway: None,
            prefsrc: None,
            table: RT_TABLE_MAIN,
            route_type: RTN_UNICAST,
            scope: if dst.is_ipv4() { RT_SCOPE_LINK } else { 0 },
            protocol: 2,
            priority: None,
        }
    }

    fn name(i: u32) -> String {
        format!("eth{i}")
    }

    fn pick(
        ip: &str,
        nic: Option<(u32, &str)>,
        prefix: Option<u8>,
        routes: &[Route],
    ) -> Result<Choice, OcfError> {
        choose(&ip.parse().expect("ip"), nic, prefix, routes, &name)
    }

    #[test]
    fn most_specific_route_wins() {
        let routes = [route("192.0.2.0", 24, 1), route("192.0.2.0", 25, 2)];
        assert_eq!(
            pick("192.0.2.10", None, None, &routes).ok(),
            Some(Choice {
                ifindex: 2,
                prefix: 25
            })
        );
        assert_eq!(
            pick("192.0.2.200", None, None, &routes).ok(),
            Some(Choice {
                ifindex: 1,
                prefix: 24
            })
        );
    }

    #[test]
    fn drop_routes_gateways_and_other_tables_never_select() {
        let mut blackhole = route("192.0.2.0", 26, 3);
        blackhole.route_type = 6;
        let mut unreachable = route("192.0.2.0", 27, 4);
        unreachable.route_type = 7;
        let mut via = route("192.0.2.0", 28, 5);
        via.gateway = Some("198.51.100.1".parse().expect("ip"));
        via.scope = 0;
        let mut local = route("192.0.2.0", 29, 6);
        local.table = 255;
        let routes = [
            route("192.0.2.0", 24, 1),
            blackhole,
            unreachable,
            via,
            local,
        ];
        assert_eq!(
            pick("192.0.2.1", None, None, &routes).ok(),
            Some(Choice {
                ifindex: 1,
                prefix: 24
            })
        );
    }

    #[test]
    fn a_tie_between_interfaces_is_an_error() {
        let routes = [route("192.0.2.0", 24, 1), route("192.0.2.0", 24, 2)];
        let e = pick("192.0.2.1", None, None, &routes).expect_err("ambiguous");
        assert_eq!(e.status().code(), 2);
        assert_eq!(
            e.to_string(),
            "192.0.2.1 is covered by /24 routes on eth1 and eth2: set nic to choose"
        );
        // Naming the interface settles it.
        assert_eq!(
            pick("192.0.2.1", Some((2, "eth2")), None, &routes).ok(),
            Some(Choice {
                ifindex: 2,
                prefix: 24
            })
        );
    }

    #[test]
    fn configured_values_are_respected() {
        let routes = [route("192.0.2.0", 24, 1)];
        assert_eq!(
            pick("192.0.2.1", None, Some(26), &routes).ok(),
            Some(Choice {
                ifindex: 1,
                prefix: 26
            })
        );
        // A prefix shorter than every route's: nothing matches, as `ip route list match`.
        assert!(pick("192.0.2.1", None, Some(16), &routes).is_err());
        // nic and prefix both given need no route at all.
        assert_eq!(
            pick("203.0.113.1", Some((9, "eth9")), Some(32), &[]).ok(),
            Some(Choice {
                ifindex: 9,
                prefix: 32
            })
        );
        let e = pick("203.0.113.1", Some((9, "eth9")), None, &routes).expect_err("no route");
        assert_eq!(e.status().code(), 1, "soft: the base address may come back");
        assert_eq!(
            e.to_string(),
            "no interface on eth9 can carry 203.0.113.1: no route on eth9 covers it (no base address in its subnet?); set cidr_netmask to place it without one"
        );
        let e = pick("203.0.113.1", None, None, &routes).expect_err("no route");
        assert_eq!(e.status().code(), 1);
        assert!(
            e.to_string()
                .ends_with("set nic and cidr_netmask to place it without one"),
            "{e}"
        );
        // A prefix no route fits is the same node-local, possibly passing, condition.
        let e = pick("192.0.2.1", None, Some(16), &routes).expect_err("no route");
        assert_eq!(e.status().code(), 1);
    }

    #[test]
    fn ipv6_routes_have_universe_scope() {
        let routes = [route("2001:db8::", 64, 3), route("2001:db8::", 48, 4)];
        assert_eq!(
            pick("2001:db8::10", None, None, &routes).ok(),
            Some(Choice {
                ifindex: 3,
                prefix: 64
            })
        );
    }
}
