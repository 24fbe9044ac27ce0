// SPDX-License-Identifier: GPL-2.0-or-later
//! DRBD 9's RDMA transport over the soft-RoCE link of `soft_roce`.
//!
//! The transport of a DRBD 9 connection is chosen when the connection is
//! created (`net { transport "rdma"; }` in the resource), from the
//! configuration: the agent reads it with `drbdadm dump` before DRBD
//! connects, loads `drbd_transport_rdma` when the resource asks for it, and
//! checks that this node's address for the resource is on the replication
//! NIC that carries the rxe link. What it cannot fix is a warning, never a
//! failure. DRBD 8.4 has no RDMA transport.

use std::net::IpAddr;

/// What `drbdadm dump RES` says about the transport of the resource.
#[derive(Debug, PartialEq, Eq)]
pub struct Transport {
    /// "tcp" when the dump names none (DRBD's default).
    pub name: String,
    /// This node's address for the resource (`on HOST { address ... }`).
    pub address: Option<IpAddr>,
}

/// Parses `drbdadm dump` (drbd-utils 9 format) for `host`.
pub fn parse_dump(text: &str, host: &str) -> Transport {
    let mut name = None;
    let mut address = None;
    let mut in_host = false;
    let mut depth = 0usize;
    let mut host_depth = 0usize;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line
            .split_whitespace()
            .map(|w| w.trim_end_matches(';'))
            .collect();
        match words.as_slice() {
            ["on", h, "{", ..] if *h == host => {
                in_host = true;
                host_depth = depth + 1;
            }
            ["transport", t, ..] => name = Some(t.trim_matches('"').to_string()),
            ["address", rest @ ..] if in_host && address.is_none() => {
                // "address ipv4 10.0.0.1:7789" or "address 10.0.0.1:7789";
                // "ipv6 [fd00::1]:7789".
                let a = rest.last().copied().unwrap_or("");
                let ip = a
                    .rsplit_once(':')
                    .map_or(a, |(ip, _)| ip)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                address = ip.parse().ok();
            }
            _ => {}
        }
        depth += line.matches('{').count();
        depth = depth.saturating_sub(line.matches('}').count());
        if in_host && depth < host_depth {
            in_host = false;
        }
    }
    Transport {
        name: name.unwrap_or_else(|| "tcp".to_string()),
        address,
    }
}

/// What to do about the transport before DRBD connects: whether to load
/// the RDMA transport module, and the warnings.
pub fn plan(t: &Transport, res: &str, nic: &str, nic_addrs: &[IpAddr]) -> (bool, Vec<String>) {
    let mut warn = Vec::new();
    if t.name != "rdma" {
        warn.push(format!(
            "soft_roce: DRBD resource {res} uses the {} transport, so it does not replicate \
             over rxe_{nic}; set net {{ transport \"rdma\"; }} in the resource to use it",
            t.name
        ));
        return (false, warn);
    }
    match t.address {
        Some(a) if nic_addrs.contains(&a) => {}
        Some(a) => warn.push(format!(
            "soft_roce: this node's address {a} of DRBD resource {res} is not on {nic}, \
             which carries rxe_{nic}: the RDMA transport will not use the link"
        )),
        None => warn.push(format!(
            "soft_roce: no address of this node in DRBD resource {res}"
        )),
    }
    (true, warn)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    // Captured from drbd-utils 9.22's `drbdadm -c FILE dump r9` (DRBD 9
    // syntax, no module loaded) on a host named "vm".
    const RDMA: &str = include_str!("fixtures/dump9-rdma.txt");
    const TCP: &str = include_str!("fixtures/dump9-tcp.txt");

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_transport_and_this_nodes_address_from_drbdadm_dump() {
        assert_eq!(
            parse_dump(RDMA, "vm"),
            Transport {
                name: "rdma".into(),
                address: Some(ip("10.0.2.1"))
            }
        );
        assert_eq!(parse_dump(RDMA, "stor2").address, Some(ip("10.0.2.2")));
        assert_eq!(
            parse_dump(TCP, "vm"),
            Transport {
                name: "tcp".into(),
                address: Some(ip("10.0.2.1"))
            }
        );
        assert_eq!(parse_dump(TCP, "nohost").address, None);
        let v6 = "resource r {\n on vm {\n node-id 0;\n address ipv6 [fd00::1]:7789;\n }\n}\n";
        assert_eq!(parse_dump(v6, "vm").address, Some(ip("fd00::1")));
    }

    #[test]
    fn rdma_loads_the_transport_and_checks_the_address_is_on_the_nic() {
        let t = parse_dump(RDMA, "vm");
        assert_eq!(plan(&t, "r9", "eth1", &[ip("10.0.2.1")]), (true, vec![]));
        let (load, w) = plan(&t, "r9", "eth1", &[ip("10.0.9.1")]);
        assert!(
            load && w[0].contains("10.0.2.1 of DRBD resource r9 is not on eth1"),
            "{w:?}"
        );
        let (load, w) = plan(&parse_dump(TCP, "vm"), "r9", "eth1", &[ip("10.0.2.1")]);
        assert!(!load && w[0].contains("uses the tcp transport"), "{w:?}");
    }
}
