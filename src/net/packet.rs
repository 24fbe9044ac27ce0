// SPDX-License-Identifier: GPL-2.0-or-later
//! Neighbour cache updates after an address moves (gratuitous ARP for
//! IPv4, unsolicited neighbour advertisements for IPv6) and RFC 5227 ARP
//! probes before an IPv4 address is taken, all built here and sent on raw
//! packet sockets bound to the interface.
//!
//! ARP choices: a [`ArpKind::Request`] is an RFC 5227 ARP announcement
//! (sender and target IP both the address, target hardware address zero),
//! the form the Linux kernel itself sends; heartbeat's send_arp also sends a
//! request but fills the target hardware address with the broadcast address,
//! which receivers ignore for requests. A [`ArpKind::Reply`] follows
//! `arping -A`: target hardware address = our own MAC, which Linux requires
//! before it treats a reply as gratuitous. Both go to the Ethernet
//! broadcast address and are padded to the 60-byte minimum frame.
//!
//! Only Ethernet-like links (6-byte hardware addresses) are handled.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;

use super::NetError;

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;

const ETH_HLEN: usize = 14;
const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// Ethernet destination for ff02::1 (RFC 2464: 33:33 + low 32 bits).
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// Minimum Ethernet frame without FCS; the ARP frame is padded to it.
pub const ARP_FRAME_LEN: usize = 60;
const IPV6_HLEN: usize = 40;
/// ICMPv6 NA (24 bytes) + target link-layer address option (8 bytes).
const NA_ICMP_LEN: usize = 32;
pub const NA_FRAME_LEN: usize = ETH_HLEN + IPV6_HLEN + NA_ICMP_LEN;

const IPPROTO_ICMPV6: u8 = 58;
const ICMPV6_NEIGHBOUR_ADVERT: u8 = 136;
const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
const ND_OPT_TARGET_LL_ADDR: u8 = 2;

const ARPHRD_ETHER: u16 = 1;
const ARPOP_REQUEST: u16 = 1;
const ARPOP_REPLY: u16 = 2;

/// Which gratuitous ARP to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArpKind {
    /// RFC 5227 announcement (ARP request); updates every neighbour's cache
    /// entry for the address. The default.
    #[default]
    Request,
    /// Unsolicited ARP reply, for the rare peers that only learn from
    /// replies.
    Reply,
}

fn ethernet_header(frame: &mut [u8], dst: [u8; 6], src: [u8; 6], ethertype: u16) {
    frame[0..6].copy_from_slice(&dst);
    frame[6..12].copy_from_slice(&src);
    frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// A complete gratuitous ARP frame announcing that `ip` is at `mac`.
pub fn garp_frame(mac: [u8; 6], ip: Ipv4Addr, kind: ArpKind) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    ethernet_header(&mut f, BROADCAST_MAC, mac, ETH_P_ARP);
    let a = &mut f[ETH_HLEN..];
    a[0..2].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
    a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    a[4] = 6;
    a[5] = 4;
    let (op, target_mac) = match kind {
        ArpKind::Request => (ARPOP_REQUEST, [0u8; 6]),
        ArpKind::Reply => (ARPOP_REPLY, mac),
    };
    a[6..8].copy_from_slice(&op.to_be_bytes());
    a[8..14].copy_from_slice(&mac);
    a[14..18].copy_from_slice(&ip.octets());
    a[18..24].copy_from_slice(&target_mac);
    a[24..28].copy_from_slice(&ip.octets());
    // The rest stays zero: padding up to the minimum frame size.
    f
}

/// Adds 16-bit big-endian words to a running one's complement sum (kept
/// unfolded in a u32; an odd trailing byte is padded with zero).
fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
        // Fold early so that long inputs never overflow.
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !fold(ones_sum(0, data))
}

/// The ICMPv6 checksum (RFC 8200 section 8.1): over the pseudo-header and
/// the ICMPv6 message, whose checksum field must be zero.
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut acc = ones_sum(0, &src.octets());
    acc = ones_sum(acc, &dst.octets());
    acc = ones_sum(acc, &(icmp.len() as u32).to_be_bytes());
    acc = ones_sum(acc, &[0, 0, 0, IPPROTO_ICMPV6]);
    acc = ones_sum(acc, icmp);
    !fold(acc)
}

/// A complete unsolicited neighbour advertisement frame for `ip` at `mac`,
/// sent to all nodes with Override set so that caches replace stale
/// entries (RFC 4861 section 7.2.6).
pub fn unsolicited_na_frame(mac: [u8; 6], ip: Ipv6Addr) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    ethernet_header(&mut f, ALL_NODES_MAC, mac, ETH_P_IPV6);

    let (ip6, icmp) = f[ETH_HLEN..].split_at_mut(IPV6_HLEN);
    ip6[0] = 0x60; // version 6, traffic class and flow label zero
    ip6[4..6].copy_from_slice(&(NA_ICMP_LEN as u16).to_be_bytes());
    ip6[6] = IPPROTO_ICMPV6;
    ip6[7] = 255; // receivers drop ND packets with any other hop limit
    ip6[8..24].copy_from_slice(&ip.octets());
    ip6[24..40].copy_from_slice(&ALL_NODES.octets());

    icmp[0] = ICMPV6_NEIGHBOUR_ADVERT;
    icmp[1] = 0;
    icmp[4..8].copy_from_slice(&NA_FLAG_OVERRIDE.to_be_bytes());
    icmp[8..24].copy_from_slice(&ip.octets());
    icmp[24] = ND_OPT_TARGET_LL_ADDR;
    icmp[25] = 1; // option length in units of 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let sum = icmpv6_checksum(&ip, &ALL_NODES, icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    f
}

fn ll_sockaddr(ifindex: u32, protocol: u16, dst: [u8; 6]) -> Result<libc::sockaddr_ll, Errno> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sa.sll_family = libc::AF_PACKET as libc::c_ushort;
    sa.sll_protocol = protocol.to_be();
    sa.sll_ifindex = i32::try_from(ifindex).map_err(|_| Errno::ENODEV)?;
    sa.sll_halen = 6;
    sa.sll_addr[..6].copy_from_slice(&dst);
    Ok(sa)
}

/// A packet socket for `protocol` (0: receive nothing), bound to one
/// interface.
fn open_bound(
    op: &str,
    ifindex: u32,
    protocol: u16,
    flags: libc::c_int,
) -> Result<OwnedFd, NetError> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | flags,
            libc::c_int::from(protocol.to_be()),
        )
    };
    if raw < 0 {
        return Err(NetError::last_os(format!("{op}: open packet socket")));
    }
    // SAFETY: raw is a freshly created descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let sa = ll_sockaddr(ifindex, protocol, [0; 6]).map_err(|e| NetError::os(op, e))?;
    // SAFETY: sa is a valid sockaddr_ll and the length matches it.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(NetError::last_os(format!(
            "{op}: bind to ifindex {ifindex}"
        )));
    }
    Ok(fd)
}

/// A send-only packet socket bound to one interface. Protocol 0 means the
/// kernel queues no incoming frames on it.
struct PacketSender {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSender {
    fn open(op: &str, ifindex: u32) -> Result<PacketSender, NetError> {
        let fd = open_bound(op, ifindex, 0, 0)?;
        Ok(PacketSender { fd, ifindex })
    }

    fn send(&self, frame: &[u8], ethertype: u16) -> Result<(), Errno> {
        let dst: [u8; 6] = frame
            .get(0..6)
            .and_then(|d| d.try_into().ok())
            .ok_or(Errno::EINVAL)?;
        let sa = ll_sockaddr(self.ifindex, ethertype, dst)?;
        loop {
            // SAFETY: frame is a live buffer of frame.len() bytes and sa a
            // valid sockaddr_ll of the given length.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&sa as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return if n as usize == frame.len() {
                    Ok(())
                } else {
                    Err(Errno::EMSGSIZE)
                };
            }
            let e = Errno::last();
            if e != Errno::EINTR {
                return Err(e);
            }
        }
    }
}

fn send_repeated(
    op: &str,
    ifindex: u32,
    frame: &[u8],
    ethertype: u16,
    count: u32,
    interval: Duration,
) -> Result<u32, NetError> {
    if count == 0 {
        return Ok(0);
    }
    let sender = PacketSender::open(op, ifindex)?;
    for i in 0..count {
        if i > 0 {
            std::thread::sleep(interval);
        }
        sender.send(frame, ethertype).map_err(|e| {
            NetError::os(
                format!("{op}: packet {} of {count} on ifindex {ifindex}", i + 1),
                e,
            )
        })?;
    }
    Ok(count)
}

/// Sends `count` gratuitous ARPs for `ip`, `interval` apart; returns how
/// many were sent.
pub fn send_garp(
    ifindex: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
    count: u32,
    interval: Duration,
    kind: ArpKind,
) -> Result<u32, NetError> {
    let op = format!("send gratuitous ARP for {ip}");
    send_repeated(
        &op,
        ifindex,
        &garp_frame(mac, ip, kind),
        ETH_P_ARP,
        count,
        interval,
    )
}

/// Sends `count` unsolicited neighbour advertisements for `ip`, `interval`
/// apart; returns how many were sent.
pub fn send_unsolicited_na(
    ifindex: u32,
    mac: [u8; 6],
    ip: Ipv6Addr,
    count: u32,
    interval: Duration,
) -> Result<u32, NetError> {
    let op = format!("send unsolicited neighbour advertisement for {ip}");
    send_repeated(
        &op,
        ifindex,
        &unsolicited_na_frame(mac, ip),
        ETH_P_IPV6,
        count,
        interval,
    )
}

/// Gratuitous ARP or unsolicited NA, whichever fits the address family
/// (`arp_kind` matters for IPv4 only).
pub fn send_announcements(
    ifindex: u32,
    mac: [u8; 6],
    ip: IpAddr,
    count: u32,
    interval: Duration,
    arp_kind: ArpKind,
) -> Result<u32, NetError> {
    match ip {
        IpAddr::V4(v4) => send_garp(ifindex, mac, v4, count, interval, arp_kind),
        IpAddr::V6(v6) => send_unsolicited_na(ifindex, mac, v6, count, interval),
    }
}

/// An RFC 5227 ARP probe asking whether anyone holds `ip`: sender IP
/// 0.0.0.0 so that no neighbour cache learns anything from it, target
/// hardware address zero.
pub fn arp_probe_frame(mac: [u8; 6], ip: Ipv4Addr) -> [u8; ARP_FRAME_LEN] {
    let mut f = garp_frame(mac, ip, ArpKind::Request);
    f[ETH_HLEN + 14..ETH_HLEN + 18].fill(0);
    f
}

/// Whether a received frame shows another host using `ip`, and if so its
/// hardware address: an ARP request or reply sent from `ip`, or another
/// host's probe for `ip` (RFC 5227 section 2.1.1: both probing at once).
/// Frames carrying our own hardware address are ours and never conflict.
pub fn arp_conflict(frame: &[u8], our_mac: [u8; 6], ip: Ipv4Addr) -> Option<[u8; 6]> {
    let a = frame.get(ETH_HLEN..ETH_HLEN + 28)?;
    if frame.get(12..14)? != ETH_P_ARP.to_be_bytes()
        || a[0..2] != ARPHRD_ETHER.to_be_bytes()
        || a[2..4] != ETH_P_IP.to_be_bytes()
        || a[4] != 6
        || a[5] != 4
    {
        return None;
    }
    let op = u16::from_be_bytes([a[6], a[7]]);
    let sha: [u8; 6] = a[8..14].try_into().ok()?;
    let spa = &a[14..18];
    let tpa = &a[24..28];
    if sha == our_mac {
        return None;
    }
    let from_ip = spa == ip.octets() && (op == ARPOP_REQUEST || op == ARPOP_REPLY);
    let rival_probe = op == ARPOP_REQUEST && spa == [0; 4] && tpa == ip.octets();
    (from_ip || rival_probe).then_some(sha)
}

/// A socket that receives the ARP frames of one interface.
struct ArpListener {
    fd: OwnedFd,
}

impl ArpListener {
    fn open(op: &str, ifindex: u32) -> Result<ArpListener, NetError> {
        let fd = open_bound(op, ifindex, ETH_P_ARP, libc::SOCK_NONBLOCK)?;
        Ok(ArpListener { fd })
    }

    /// Reads frames until `deadline`, returning the first one `check`
    /// accepts. Frames this host sent itself are skipped.
    fn watch<T>(
        &self,
        op: &str,
        deadline: std::time::Instant,
        check: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, NetError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let mut buf = [0u8; 256];
        loop {
            // Drain whatever is queued.
            loop {
                // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut fromlen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                // SAFETY: buf is a live writable buffer of its length and
                // from/fromlen describe a writable sockaddr_ll.
                let n = unsafe {
                    libc::recvfrom(
                        self.fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_ll).cast(),
                        &mut fromlen,
                    )
                };
                if n < 0 {
                    match Errno::last() {
                        Errno::EAGAIN => break,
                        Errno::EINTR => continue,
                        e => return Err(NetError::os(format!("{op}: receive"), e)),
                    }
                }
                if from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let len = (n as usize).min(buf.len());
                if let Some(found) = check(&buf[..len]) {
                    return Ok(Some(found));
                }
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let ms = (deadline - now).as_millis().clamp(1, u128::from(u16::MAX)) as u16;
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(NetError::os(format!("{op}: poll"), e)),
            }
        }
    }
}

/// IPv4 duplicate address detection (RFC 5227 probing, like `arping -D`):
/// sends `count` ARP probes for `ip`, `interval` apart, and listens until
/// `wait` after the last one. Returns the hardware address of a host that
/// uses `ip`, or None if nobody answered. Run it before adding the address:
/// a host answers probes only for addresses it has.
pub fn arp_probe(
    ifindex: u32,
    mac: [u8; 6],
    ip: Ipv4Addr,
    count: u32,
    interval: Duration,
    wait: Duration,
) -> Result<Option<[u8; 6]>, NetError> {
    let op = format!("probe for {ip} on ifindex {ifindex}");
    if count == 0 {
        return Ok(None);
    }
    // Listen before the first probe, so that no answer can slip past.
    let listener = ArpListener::open(&op, ifindex)?;
    let sender = PacketSender::open(&op, ifindex)?;
    let frame = arp_probe_frame(mac, ip);
    for i in 0..count {
        sender
            .send(&frame, ETH_P_ARP)
            .map_err(|e| NetError::os(format!("{op}: probe {} of {count}", i + 1), e))?;
        let pause = if i + 1 == count { wait } else { interval };
        let deadline = std::time::Instant::now() + pause;
        if let Some(owner) = listener.watch(&op, deadline, |f| arp_conflict(f, mac, ip))? {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

    /// A second, deliberately plain implementation: sum every big-endian
    /// word in a u64 and fold once at the end.
    fn reference_checksum(parts: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = parts.concat();
        let mut sum: u64 = 0;
        let mut i = 0;
        while i < bytes.len() {
            let hi = u64::from(bytes[i]);
            let lo = u64::from(*bytes.get(i + 1).unwrap_or(&0));
            sum += (hi << 8) | lo;
            i += 2;
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn checksum_known_vectors() {
        // RFC 1071 section 3: the words sum to 0xddf2.
        let v = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&v), !0xddf2);
        // A classic IPv4 header whose checksum field (zeroed here) is b861.
        let ip = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(internet_checksum(&ip), 0xb861);
        let mut with = ip;
        with[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(internet_checksum(&with), 0);
        // Odd length: the last byte is the high half of a padded word.
        assert_eq!(internet_checksum(&[0x01]), !0x0100);
        assert_eq!(internet_checksum(&[]), 0xffff);
        // Long input with many carries.
        let big = vec![0xffu8; 100_001];
        assert_eq!(internet_checksum(&big), reference_checksum(&[&big]));
    }

    #[test]
    fn gratuitous_arp_request_bytes() {
        let ip = Ipv4Addr::new(192, 0, 2, 10);
        let f = garp_frame(MAC, ip, ArpKind::Request);
        assert_eq!(f.len(), 60);
        assert_eq!(&f[0..6], &[0xff; 6], "Ethernet broadcast");
        assert_eq!(&f[6..12], &MAC, "Ethernet source");
        assert_eq!(&f[12..14], &[0x08, 0x06], "EtherType ARP");
        assert_eq!(&f[14..16], &[0x00, 0x01], "htype Ethernet");
        assert_eq!(&f[16..18], &[0x08, 0x00], "ptype IPv4");
        assert_eq!((f[18], f[19]), (6, 4), "address lengths");
        assert_eq!(&f[20..22], &[0x00, 0x01], "opcode request");
        assert_eq!(&f[22..28], &MAC, "sender MAC");
        assert_eq!(&f[28..32], &[192, 0, 2, 10], "sender IP");
        assert_eq!(&f[32..38], &[0; 6], "target MAC zero (RFC 5227)");
        assert_eq!(&f[38..42], &[192, 0, 2, 10], "target IP = sender IP");
        assert!(f[42..].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn gratuitous_arp_reply_bytes() {
        let ip = Ipv4Addr::new(198, 51, 100, 7);
        let f = garp_frame(MAC, ip, ArpKind::Reply);
        let req = garp_frame(MAC, ip, ArpKind::Request);
        assert_eq!(&f[20..22], &[0x00, 0x02], "opcode reply");
        // Linux counts a reply as gratuitous only if target MAC = sender MAC.
        assert_eq!(&f[32..38], &MAC);
        assert_eq!(&f[0..6], &[0xff; 6]);
        // Everything else is as in the request.
        assert_eq!(f[..20], req[..20]);
        assert_eq!(f[22..32], req[22..32]);
        assert_eq!(f[38..], req[38..]);
        assert_eq!(ArpKind::default(), ArpKind::Request);
    }

    #[test]
    fn unsolicited_na_bytes() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let f = unsolicited_na_frame(MAC, ip);
        assert_eq!(f.len(), 86);
        assert_eq!(
            &f[0..6],
            &[0x33, 0x33, 0, 0, 0, 1],
            "all-nodes multicast MAC"
        );
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x86, 0xdd], "EtherType IPv6");
        // IPv6 header at 14.
        assert_eq!(&f[14..18], &[0x60, 0, 0, 0], "version 6, no class/flow");
        assert_eq!(&f[18..20], &[0, 32], "payload length");
        assert_eq!(f[20], 58, "next header ICMPv6");
        assert_eq!(f[21], 255, "hop limit");
        assert_eq!(&f[22..38], &ip.octets(), "source = the address");
        assert_eq!(
            &f[38..54],
            &[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            "destination ff02::1"
        );
        // ICMPv6 at 54.
        assert_eq!((f[54], f[55]), (136, 0), "type NA, code 0");
        assert_eq!(&f[58..62], &[0x20, 0, 0, 0], "Override only");
        assert_eq!(&f[62..78], &ip.octets(), "target");
        assert_eq!((f[78], f[79]), (2, 1), "target link-layer option, 8 bytes");
        assert_eq!(&f[80..86], &MAC);

        // Checksum by the reference implementation over an explicitly
        // assembled pseudo-header.
        let mut icmp = f[54..86].to_vec();
        let stored = u16::from_be_bytes([icmp[2], icmp[3]]);
        icmp[2] = 0;
        icmp[3] = 0;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&f[22..38]);
        pseudo.extend_from_slice(&f[38..54]);
        pseudo.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
        assert_eq!(stored, reference_checksum(&[&pseudo, &icmp]));
        assert_ne!(stored, 0);
        assert_eq!(
            icmpv6_checksum(&ip, &"ff02::1".parse().unwrap(), &icmp),
            stored
        );
    }

    #[test]
    fn unsolicited_na_checksum_tracks_inputs() {
        let a = unsolicited_na_frame(MAC, "2001:db8::10".parse().unwrap());
        let b = unsolicited_na_frame(MAC, "2001:db8::11".parse().unwrap());
        let c = unsolicited_na_frame([0x02, 0, 0, 0, 0, 1], "2001:db8::10".parse().unwrap());
        assert_ne!(a[56..58], b[56..58]);
        assert_ne!(a[56..58], c[56..58]);
        for f in [a, b, c] {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&f[22..54]);
            pseudo.extend_from_slice(&[0, 0, 0, 32, 0, 0, 0, 58]);
            // Including the stored checksum, the sum verifies to zero.
            assert_eq!(reference_checksum(&[&pseudo, &f[54..86]]), 0);
        }
    }

    #[test]
    fn arp_probe_bytes() {
        let ip = Ipv4Addr::new(192, 0, 2, 30);
        let f = arp_probe_frame(MAC, ip);
        assert_eq!(&f[0..6], &[0xff; 6]);
        assert_eq!(&f[6..12], &MAC);
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[20..22], &[0, 1], "request");
        assert_eq!(&f[22..28], &MAC, "sender MAC");
        assert_eq!(&f[28..32], &[0, 0, 0, 0], "sender IP unspecified");
        assert_eq!(&f[32..38], &[0; 6], "target MAC zero");
        assert_eq!(&f[38..42], &[192, 0, 2, 30], "target IP");
        assert!(f[42..].iter().all(|&b| b == 0));
    }

    #[test]
    fn arp_conflicts() {
        let ip = Ipv4Addr::new(192, 0, 2, 30);
        let other = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];
        // Another host's gratuitous ARP or reply from the address.
        assert_eq!(
            arp_conflict(&garp_frame(other, ip, ArpKind::Request), MAC, ip),
            Some(other)
        );
        assert_eq!(
            arp_conflict(&garp_frame(other, ip, ArpKind::Reply), MAC, ip),
            Some(other)
        );
        // A reply to our probe: sender IP = the address, target IP 0.
        let mut reply = garp_frame(other, ip, ArpKind::Reply);
        reply[32..38].copy_from_slice(&MAC);
        reply[38..42].fill(0);
        assert_eq!(arp_conflict(&reply, MAC, ip), Some(other));
        // Another host probing for the same address at the same time.
        assert_eq!(
            arp_conflict(&arp_probe_frame(other, ip), MAC, ip),
            Some(other)
        );
        // Our own frames, other addresses, and non-ARP frames are not.
        assert_eq!(arp_conflict(&arp_probe_frame(MAC, ip), MAC, ip), None);
        assert_eq!(
            arp_conflict(&garp_frame(MAC, ip, ArpKind::Request), MAC, ip),
            None
        );
        let elsewhere = Ipv4Addr::new(192, 0, 2, 31);
        assert_eq!(
            arp_conflict(&garp_frame(other, elsewhere, ArpKind::Request), MAC, ip),
            None
        );
        assert_eq!(
            arp_conflict(&arp_probe_frame(other, elsewhere), MAC, ip),
            None
        );
        // Somebody asking who has the address is not using it.
        let mut query = garp_frame(other, elsewhere, ArpKind::Request);
        query[38..42].copy_from_slice(&ip.octets());
        assert_eq!(arp_conflict(&query, MAC, ip), None);
        let mut op3 = garp_frame(other, ip, ArpKind::Request);
        op3[21] = 3; // RARP request
        assert_eq!(arp_conflict(&op3, MAC, ip), None);
        let mut not_arp = garp_frame(other, ip, ArpKind::Request);
        not_arp[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
        assert_eq!(arp_conflict(&not_arp, MAC, ip), None);
        let f = garp_frame(other, ip, ArpKind::Request);
        for cut in 0..42 {
            assert_eq!(arp_conflict(&f[..cut], MAC, ip), None, "cut {cut}");
        }
        assert_eq!(arp_conflict(&f[..42], MAC, ip), Some(other));
    }

    #[test]
    fn zero_count_sends_nothing_and_opens_nothing() {
        // ifindex 0 would fail to bind; count 0 must not even try.
        assert_eq!(
            send_garp(
                0,
                MAC,
                Ipv4Addr::LOCALHOST,
                0,
                Duration::ZERO,
                ArpKind::Request
            )
            .unwrap(),
            0
        );
        assert_eq!(
            send_unsolicited_na(0, MAC, Ipv6Addr::LOCALHOST, 0, Duration::ZERO).unwrap(),
            0
        );
    }
}
