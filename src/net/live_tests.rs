// SPDX-License-Identifier: GPL-2.0-or-later
//! Tests against the running kernel, each inside a private network
//! namespace so that nothing on the host is touched. They need root; as
//! another user they say so loudly and pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use nix::sched::{unshare, CloneFlags};
use serde_json::Value;

use super::netlink::*;
use super::packet::*;
use super::*;

/// A loud skip line, or a failure under CI (`CI` set), where no test may
/// pass by skipping.
fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}, and CI is set: refusing to skip"
    );
    eprintln!("\n*** SKIPPED: {why} ***\n");
}

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        skip("needs root (live network namespace test)");
        false
    }
}

/// Runs `f` on a new thread inside a fresh network namespace; the namespace
/// and the interfaces in it vanish when the thread ends.
fn in_netns(f: impl FnOnce() + Send + 'static) {
    let t = std::thread::spawn(move || match unshare(CloneFlags::CLONE_NEWNET) {
        Ok(()) => f(),
        // Root in a container without CAP_SYS_ADMIN.
        Err(nix::errno::Errno::EPERM) => skip("needs root with CAP_SYS_ADMIN (unshare: EPERM)"),
        Err(e) => panic!("unshare(CLONE_NEWNET): {e}"),
    });
    if let Err(p) = t.join() {
        std::panic::resume_unwind(p);
    }
}

/// Runs `ip` from the current thread, so inside its namespace.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip_json(args: &[&str]) -> Value {
    let mut a = vec!["-j"];
    a.extend_from_slice(args);
    serde_json::from_str(&ip(&a)).expect("ip -j output is JSON")
}

fn veth_pair(nl: &Netlink, a: &str, b: &str) -> (Link, Link) {
    ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
    let la = nl.link_by_name(a).unwrap().expect("first veth exists");
    let lb = nl.link_by_name(b).unwrap().expect("second veth exists");
    (la, lb)
}

#[test]
fn links_and_lookup() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, b) = veth_pair(&nl, "sth0", "sth1");
        let links = nl.links().unwrap();
        let names: Vec<&str> = links.iter().map(|l| l.name.as_str()).collect();
        assert!(names.contains(&"lo") && names.contains(&"sth0") && names.contains(&"sth1"));

        assert!(nl.link_by_name("nonexistent0").unwrap().is_none());
        assert!(nl.link_by_index(999_999).unwrap().is_none());
        assert!(matches!(
            nl.link_by_name("a/b"),
            Err(NetError::Invalid { .. })
        ));
        assert_eq!(nl.link_by_index(a.index).unwrap().as_ref(), Some(&a));

        // Compare with ip's view.
        let j = ip_json(&["link", "show", "sth0"]);
        let jl = &j[0];
        assert_eq!(jl["ifindex"].as_u64(), Some(u64::from(a.index)));
        assert_eq!(jl["mtu"].as_u64(), Some(u64::from(a.mtu)));
        let mac = a.mac.expect("veth has a MAC");
        let mac_text = mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(jl["address"].as_str(), Some(mac_text.as_str()));
        assert_eq!(a.arp_type, 1);
        assert!(!a.up);
        assert_eq!(a.oper_state, OperState::Down);

        nl.set_link_up(a.index).unwrap();
        let a2 = nl.link_by_name("sth0").unwrap().unwrap();
        assert!(a2.up);
        // The peer is still down, so no carrier yet.
        assert!(!a2.lower_up);
        assert_eq!(a2.oper_state, OperState::LowerLayerDown);
        nl.set_link_up(b.index).unwrap();
        let a3 = nl.link_by_name("sth0").unwrap().unwrap();
        assert!(a3.lower_up);
        assert_eq!(a3.oper_state, OperState::Up);
        let flags = ip_json(&["link", "show", "sth0"]);
        let f: Vec<&str> = flags[0]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(f.contains(&"UP") && f.contains(&"LOWER_UP"), "{f:?}");

        assert_eq!(
            nl.wait_oper_up(a.index, Duration::from_secs(3))
                .unwrap()
                .map(|l| l.oper_state),
            Some(OperState::Up)
        );
        nl.set_link_down(b.index).unwrap();
        assert!(!nl.link_by_index(b.index).unwrap().unwrap().up);
        let t = std::time::Instant::now();
        assert_eq!(
            nl.wait_oper_up(b.index, Duration::from_millis(100))
                .unwrap(),
            None
        );
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(
            nl.wait_oper_up(999_999, Duration::from_secs(1)).unwrap(),
            None
        );

        let e = nl.set_link_up(999_999).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    });
}

fn find_json_addr<'a>(j: &'a Value, local: &str) -> &'a Value {
    j.as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["addr_info"].as_array().unwrap().iter())
        .find(|a| a["local"].as_str() == Some(local))
        .unwrap_or_else(|| panic!("{local} not in ip output {j}"))
}

#[test]
fn addresses_add_read_delete() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, _b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();

        let v4: IpAddr = "192.0.2.10".parse().unwrap();
        let mut req = AddAddr::new(a.index, v4, 24);
        req.broadcast = Some(Ipv4Addr::new(192, 0, 2, 255));
        req.label = Some("sth0:vip".into());
        nl.add_addr(&req).unwrap();

        let v6: IpAddr = "2001:db8::10".parse().unwrap();
        let mut req6 = AddAddr::new(a.index, v6, 64);
        req6.nodad = true;
        req6.noprefixroute = true;
        req6.preferred_lft = Some(0);
        nl.add_addr(&req6).unwrap();

        // A second, secondary IPv4 address in the same prefix.
        let v4b: IpAddr = "192.0.2.11".parse().unwrap();
        nl.add_addr(&AddAddr::new(a.index, v4b, 24)).unwrap();

        let all = nl.addrs(None).unwrap();
        let j = ip_json(&["addr", "show"]);

        let got4 = all.iter().find(|x| x.address == v4).expect("v4 listed");
        let j4 = find_json_addr(&j, "192.0.2.10");
        assert_eq!(got4.family, Family::V4);
        assert_eq!(got4.ifindex, a.index);
        assert_eq!(got4.local, Some(v4));
        assert_eq!(got4.own_address(), v4);
        assert_eq!(j4["family"], "inet");
        assert_eq!(j4["prefixlen"].as_u64(), Some(u64::from(got4.prefix_len)));
        assert_eq!(j4["broadcast"].as_str(), Some("192.0.2.255"));
        assert_eq!(got4.broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(j4["label"].as_str(), got4.label.as_deref());
        assert_eq!(got4.label.as_deref(), Some("sth0:vip"));
        assert_eq!(j4["scope"], "global");
        assert_eq!(got4.scope, 0);
        assert_eq!(got4.valid_lft, LIFETIME_INFINITE);
        assert_eq!(
            j4["valid_life_time"].as_u64(),
            Some(u64::from(got4.valid_lft))
        );
        assert!(got4.has_flag(IFA_F_PERMANENT));
        assert!(!got4.has_flag(IFA_F_SECONDARY));

        let got4b = all.iter().find(|x| x.address == v4b).expect("v4b listed");
        assert!(got4b.has_flag(IFA_F_SECONDARY));
        assert_eq!(find_json_addr(&j, "192.0.2.11")["secondary"], true);

        let got6 = all.iter().find(|x| x.address == v6).expect("v6 listed");
        let j6 = find_json_addr(&j, "2001:db8::10");
        assert_eq!(got6.family, Family::V6);
        assert_eq!(got6.prefix_len, 64);
        assert_eq!(j6["family"], "inet6");
        assert!(got6.has_flag(IFA_F_NODAD), "flags {:#x}", got6.flags);
        assert!(
            got6.has_flag(IFA_F_NOPREFIXROUTE),
            "flags {:#x}",
            got6.flags
        );
        assert!(got6.has_flag(IFA_F_DEPRECATED), "flags {:#x}", got6.flags);
        assert!(!got6.has_flag(IFA_F_TENTATIVE), "flags {:#x}", got6.flags);
        assert_eq!(j6["nodad"], true);
        assert_eq!(j6["noprefixroute"], true);
        assert_eq!(j6["deprecated"], true);
        assert_eq!(got6.preferred_lft, 0);
        assert_eq!(j6["preferred_life_time"].as_u64(), Some(0));
        assert_eq!(got6.valid_lft, LIFETIME_INFINITE);

        // Every address ip reports is also decoded, and vice versa.
        let ours: Vec<String> = all
            .iter()
            .map(|x| format!("{}/{}", x.own_address(), x.prefix_len))
            .collect();
        let theirs: Vec<String> = j
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| l["addr_info"].as_array().unwrap().iter())
            .map(|x| format!("{}/{}", x["local"].as_str().unwrap(), x["prefixlen"]))
            .collect();
        let (mut o, mut t) = (ours.clone(), theirs.clone());
        o.sort();
        t.sort();
        assert_eq!(o, t);

        // Family filter.
        assert!(nl
            .addrs(Some(Family::V4))
            .unwrap()
            .iter()
            .all(|x| x.family == Family::V4));
        assert!(nl
            .addrs(Some(Family::V6))
            .unwrap()
            .iter()
            .any(|x| x.address == v6));

        // Duplicates are refused with EEXIST.
        let e = nl.add_addr(&req).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");
        assert!(e.to_string().contains("File exists (EEXIST)"), "{e}");
        let e = nl.add_addr(&req6).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EEXIST), "{e}");

        // Bad interface.
        let e = nl
            .add_addr(&AddAddr::new(999_999, "192.0.2.99".parse().unwrap(), 24))
            .unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");

        // Invalid requests never reach the kernel.
        let e = nl.add_addr(&AddAddr::new(a.index, v4, 33)).unwrap_err();
        assert!(matches!(e, NetError::Invalid { .. }), "{e}");

        // Removing the secondary leaves the primary alone. (The other way
        // round, the kernel drops the secondaries too unless
        // promote_secondaries is set.)
        nl.del_addr(a.index, v4b, 24).unwrap();
        let left = nl.addrs(None).unwrap();
        assert!(!left.iter().any(|x| x.address == v4b));
        assert!(left.iter().any(|x| x.address == v4));
        nl.del_addr(a.index, v4, 24).unwrap();
        nl.del_addr(a.index, v6, 64).unwrap();
        let left = nl.addrs(None).unwrap();
        assert!(!left.iter().any(|x| x.address == v4 || x.address == v6));
        assert_eq!(
            ip_json(&["addr", "show", "sth0"])[0]["addr_info"]
                .as_array()
                .map(|v| v.iter().filter(|x| x["family"] == "inet").count()),
            Some(0)
        );
        let e = nl.del_addr(a.index, v4, 24).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EADDRNOTAVAIL), "{e}");
        let e = nl.del_addr(a.index, v6, 64).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EADDRNOTAVAIL), "{e}");
    });
}

#[test]
fn routes_dump() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, _b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();
        nl.add_addr(&AddAddr::new(a.index, "192.0.2.10".parse().unwrap(), 24))
            .unwrap();
        ip(&["route", "add", "blackhole", "198.51.100.0/24"]);
        ip(&[
            "route",
            "add",
            "unreachable",
            "203.0.113.0/24",
            "metric",
            "7",
        ]);
        ip(&[
            "route",
            "add",
            "default",
            "via",
            "192.0.2.1",
            "table",
            "1000",
        ]);
        ip(&["-6", "route", "add", "blackhole", "2001:db8:dead::/48"]);

        let r4 = nl.routes(Family::V4).unwrap();
        let bh = r4
            .iter()
            .find(|r| r.dst == Some("198.51.100.0".parse().unwrap()))
            .expect("blackhole route listed");
        assert_eq!(bh.route_type, RTN_BLACKHOLE);
        assert_eq!(bh.dst_len, 24);
        assert_eq!(bh.table, RT_TABLE_MAIN);
        assert_eq!(bh.oif, None);

        let un = r4
            .iter()
            .find(|r| r.dst == Some("203.0.113.0".parse().unwrap()))
            .expect("unreachable route listed");
        assert_eq!(un.route_type, RTN_UNREACHABLE);
        assert_eq!(un.priority, Some(7));

        let def = r4
            .iter()
            .find(|r| r.table == 1000)
            .expect("route in table 1000");
        assert_eq!(def.dst, None);
        assert_eq!(def.dst_len, 0);
        assert_eq!(def.gateway, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(def.oif, Some(a.index));

        let link = r4
            .iter()
            .find(|r| r.dst == Some("192.0.2.0".parse().unwrap()) && r.table == RT_TABLE_MAIN)
            .expect("prefix route");
        assert_eq!(link.route_type, RTN_UNICAST);
        assert_eq!(link.oif, Some(a.index));
        assert_eq!(link.prefsrc, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(link.scope, 253); // RT_SCOPE_LINK

        let local = r4
            .iter()
            .find(|r| r.dst == Some("192.0.2.10".parse().unwrap()) && r.table == RT_TABLE_LOCAL)
            .expect("local table route");
        assert_eq!(local.route_type, RTN_LOCAL);

        // Same set of routes as ip sees in all tables.
        let j = ip_json(&["-4", "route", "show", "table", "all"]);
        assert_eq!(j.as_array().unwrap().len(), r4.len(), "{j}\n{r4:#?}");

        // What the kernel would use, with the matching entry's prefix.
        let via = nl
            .route_get("192.0.2.99".parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(via.dst, Some("192.0.2.0".parse().unwrap()));
        assert_eq!(via.dst_len, 24);
        assert_eq!(via.oif, Some(a.index));
        assert_eq!(via.table, RT_TABLE_MAIN);
        let e = nl.route_get("198.51.100.1".parse().unwrap()).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "blackhole: {e}");
        let e = nl.route_get("203.0.113.1".parse().unwrap()).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EHOSTUNREACH), "unreachable: {e}");
        assert_eq!(
            nl.route_get("2001:db8:1::1".parse().unwrap()).unwrap(),
            None
        );
        let j = ip_json(&["route", "get", "fibmatch", "192.0.2.99"]);
        assert_eq!(j[0]["dst"], "192.0.2.0/24");
        assert_eq!(j[0]["dev"], "sth0");

        let r6 = nl.routes(Family::V6).unwrap();
        let bh6 = r6
            .iter()
            .find(|r| r.dst == Some("2001:db8:dead::".parse().unwrap()))
            .expect("v6 blackhole");
        assert_eq!(bh6.route_type, RTN_BLACKHOLE);
        assert_eq!(bh6.dst_len, 48);
        assert!(r6.iter().all(|r| r.family == Family::V6));
    });
}

/// Deletes a named namespace created by a test, even if the test fails.
struct NamedNetns(String);

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn enter_named_netns() {
    if !is_root() {
        return;
    }
    let name = format!("storha-test-{}", std::process::id());
    ip(&["netns", "add", &name]);
    let guard = NamedNetns(name.clone());
    let n = name.clone();
    let t = std::thread::spawn(move || {
        enter_netns(&n).unwrap();
        let here = std::fs::metadata("/proc/thread-self/ns/net").unwrap();
        let there = std::fs::metadata(format!("/run/netns/{n}")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(here.ino(), there.ino());
        // A fresh namespace has only a loopback interface.
        let nl = Netlink::open().unwrap();
        let links = nl.links().unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].name, "lo");
    });
    let r = t.join();
    drop(guard);
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

fn recv_socket(ifindex: u32, protocol: u16) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: test helper; plain socket/bind/setsockopt calls, results checked.
    unsafe {
        let fd = libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(protocol.to_be()),
        );
        assert!(fd >= 0, "packet socket: {}", Errno::last());
        let mut sa: libc::sockaddr_ll = std::mem::zeroed();
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = protocol.to_be();
        sa.sll_ifindex = ifindex as i32;
        let rc = libc::bind(
            fd,
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "bind: {}", Errno::last());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 500_000,
        };
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as u32,
        );
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}

/// Every frame received until the socket has been quiet for its timeout.
fn drain(fd: &std::os::fd::OwnedFd) -> Vec<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        // SAFETY: buf is a live writable buffer of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return out;
        }
        out.push(buf[..n as usize].to_vec());
    }
}

fn wait_oper_up(nl: &Netlink, index: u32) {
    let link = nl.wait_oper_up(index, Duration::from_secs(3)).unwrap();
    assert!(
        link.is_some(),
        "ifindex {index} never became operationally up"
    );
}

const FAKE_MAC: &str = "02:00:00:00:00:01";

fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The link-layer address sth1's neighbour table holds for `addr`.
fn neigh_lladdr(addr: &str) -> String {
    let j = ip_json(&["neigh", "show", addr, "dev", "sth1"]);
    j[0]["lladdr"].as_str().unwrap_or_default().to_string()
}

#[test]
fn gratuitous_arp_on_veth() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();
        nl.set_link_up(b.index).unwrap();
        wait_oper_up(&nl, a.index);
        let mac = a.mac.unwrap();
        let ip4 = Ipv4Addr::new(192, 0, 2, 10);
        // Linux treats an ARP as gratuitous only if the sender address is
        // unicast by the receiver's local table, which exists once the
        // receiver has an IPv4 address.
        ip(&["addr", "add", "192.0.2.20/24", "dev", "sth1"]);
        for kind in [ArpKind::Request, ArpKind::Reply] {
            // A stale entry with another MAC on the receiving side: the
            // kernel replaces it (within its lock time, too) only if it
            // accepts the frame as a gratuitous ARP.
            ip(&[
                "neigh",
                "replace",
                "192.0.2.10",
                "lladdr",
                FAKE_MAC,
                "dev",
                "sth1",
                "nud",
                "stale",
            ]);
            assert_eq!(neigh_lladdr("192.0.2.10"), FAKE_MAC);
            let rx = recv_socket(b.index, ETH_P_ARP);
            let sent = send_garp(a.index, mac, ip4, 3, Duration::from_millis(20), kind).unwrap();
            assert_eq!(sent, 3);
            let frames: Vec<Vec<u8>> = drain(&rx)
                .into_iter()
                .filter(|f| f.len() >= 42 && f[28..32] == ip4.octets())
                .collect();
            assert_eq!(frames.len(), 3, "{kind:?}");
            for f in &frames {
                assert_eq!(f[..], garp_frame(mac, ip4, kind)[..f.len()]);
                assert_eq!(&f[0..6], &[0xff; 6]);
                assert_eq!(&f[6..12], &mac);
                assert_eq!(&f[22..28], &mac);
                assert_eq!(&f[38..42], &ip4.octets());
            }
            assert_eq!(neigh_lladdr("192.0.2.10"), mac_text(&mac), "{kind:?}");
        }
        assert_eq!(
            send_garp(a.index, mac, ip4, 0, Duration::ZERO, ArpKind::Request).unwrap(),
            0
        );
        let e = send_garp(999_999, mac, ip4, 1, Duration::ZERO, ArpKind::Request).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
        nl.set_link_down(a.index).unwrap();
        let e = send_garp(a.index, mac, ip4, 1, Duration::ZERO, ArpKind::Request).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENETDOWN), "{e}");
    });
}

#[test]
fn unsolicited_na_on_veth() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();
        nl.set_link_up(b.index).unwrap();
        wait_oper_up(&nl, a.index);
        let mac = a.mac.unwrap();
        let ip6: Ipv6Addr = "2001:db8::10".parse().unwrap();
        ip(&[
            "-6",
            "neigh",
            "replace",
            "2001:db8::10",
            "lladdr",
            FAKE_MAC,
            "dev",
            "sth1",
            "nud",
            "stale",
        ]);
        assert_eq!(neigh_lladdr("2001:db8::10"), FAKE_MAC);
        let rx = recv_socket(b.index, ETH_P_IPV6);
        let sent = send_announcements(
            a.index,
            mac,
            IpAddr::V6(ip6),
            3,
            Duration::from_millis(20),
            ArpKind::Request,
        )
        .unwrap();
        assert_eq!(sent, 3);
        // The kernel sends its own traffic (MLD, DAD) on the new link too.
        let frames: Vec<Vec<u8>> = drain(&rx)
            .into_iter()
            .filter(|f| f.len() >= 86 && f[54] == 136 && f[62..78] == ip6.octets())
            .collect();
        assert_eq!(frames.len(), 3);
        let expected = unsolicited_na_frame(mac, ip6);
        for f in &frames {
            assert_eq!(f[..], expected[..]);
            let icmp = &f[54..86];
            let src = Ipv6Addr::from(<[u8; 16]>::try_from(&f[22..38]).unwrap());
            let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&f[38..54]).unwrap());
            // Summing a message that includes its correct checksum gives 0.
            assert_eq!(icmpv6_checksum(&src, &dst, icmp), 0);
        }
        // The receiving kernel checked hop limit and checksum and honoured
        // the Override flag.
        assert_eq!(neigh_lladdr("2001:db8::10"), mac_text(&mac));
    });
}

#[test]
fn arp_probe_finds_the_owner() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();
        nl.set_link_up(b.index).unwrap();
        wait_oper_up(&nl, a.index);
        wait_oper_up(&nl, b.index);
        nl.add_addr(&AddAddr::new(b.index, "192.0.2.30".parse().unwrap(), 24))
            .unwrap();
        let mac = a.mac.unwrap();
        let wait = Duration::from_millis(300);

        let t = std::time::Instant::now();
        let owner = arp_probe(a.index, mac, Ipv4Addr::new(192, 0, 2, 30), 3, wait, wait).unwrap();
        assert_eq!(owner, b.mac, "sth1 answers for its address");
        assert!(
            t.elapsed() < Duration::from_millis(600),
            "returns at the first answer"
        );

        let t = std::time::Instant::now();
        let nobody = arp_probe(
            a.index,
            mac,
            Ipv4Addr::new(192, 0, 2, 31),
            2,
            Duration::from_millis(100),
            wait,
        )
        .unwrap();
        assert_eq!(nobody, None);
        assert!(t.elapsed() >= Duration::from_millis(400));

        assert_eq!(
            arp_probe(a.index, mac, Ipv4Addr::new(192, 0, 2, 30), 0, wait, wait).unwrap(),
            None
        );
        // The probe taught the other side nothing (sender IP 0.0.0.0).
        let j = ip_json(&["neigh", "show", "dev", "sth1"]);
        assert!(
            !j.as_array()
                .unwrap()
                .iter()
                .any(|n| n["lladdr"] == mac_text(&mac)
                    && n["dst"].as_str().is_some_and(|d| d.starts_with("192.0.2."))),
            "{j}"
        );
        let e = arp_probe(999_999, mac, Ipv4Addr::new(192, 0, 2, 30), 1, wait, wait).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
    });
}

/// Prints raw netlink answers in a namespace set up like the fixtures in
/// netlink_tests.rs; run with --ignored --nocapture to refresh them.
#[test]
#[ignore]
fn capture_fixtures() {
    if !is_root() {
        return;
    }
    in_netns(|| {
        let nl = Netlink::open().unwrap();
        let (a, _b) = veth_pair(&nl, "sth0", "sth1");
        nl.set_link_up(a.index).unwrap();
        let mut r = AddAddr::new(a.index, "192.0.2.10".parse().unwrap(), 24);
        r.label = Some("sth0:vip".into());
        r.broadcast = Some(Ipv4Addr::new(192, 0, 2, 255));
        nl.add_addr(&r).unwrap();
        let mut r6 = AddAddr::new(a.index, "2001:db8::10".parse().unwrap(), 64);
        r6.nodad = true;
        r6.noprefixroute = true;
        r6.preferred_lft = Some(0);
        nl.add_addr(&r6).unwrap();
        ip(&["route", "add", "blackhole", "198.51.100.0/24"]);
        let show = |name: &str, d: Vec<Vec<u8>>| {
            for (i, g) in d.iter().enumerate() {
                let hex: String = g.iter().map(|b| format!("{b:02x}")).collect();
                println!("{name}[{i}] ({} bytes): {hex}", g.len());
            }
        };
        show(
            "addrs",
            nl.capture(|s| encode_getaddr_dump(None, s)).unwrap(),
        );
        show(
            "routes4",
            nl.capture(|s| encode_getroute_dump(Family::V4, s)).unwrap(),
        );
        show("links", nl.capture(encode_getlink_dump).unwrap());
        show(
            "eexist",
            nl.capture(|s| encode_newaddr(&r, s).unwrap()).unwrap(),
        );
        show(
            "getlink_enodev",
            nl.capture(|s| encode_getlink_by_name("nope0", s).unwrap())
                .unwrap(),
        );
        show(
            "setlink_ack",
            nl.capture(|s| encode_set_link_flags(a.index, true, s))
                .unwrap(),
        );
    });
}
