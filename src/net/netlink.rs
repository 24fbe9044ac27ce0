// SPDX-License-Identifier: GPL-2.0-or-later
//! A small rtnetlink client: links, addresses and routes.
//!
//! Encoding and decoding are pure functions over byte buffers so they can be
//! tested on captured kernel answers; only [`Netlink`] touches a socket.
//! Netlink integers are in host byte order, except where a protocol address
//! is carried (those are in network order, as on the wire).

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use super::NetError;

// Message types and flags from <linux/netlink.h> and <linux/rtnetlink.h>.
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// In an NLMSG_ERROR: the echoed request was cut down to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an NLMSG_ERROR: extended ACK attributes follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWADDRLABEL: u16 = 72;
pub const RTM_DELADDRLABEL: u16 = 73;

const NLMSGERR_ATTR_MSG: u16 = 1;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

pub const IFF_UP: u32 = 0x1;
pub const IFF_BROADCAST: u32 = 0x2;
pub const IFF_LOOPBACK: u32 = 0x8;
pub const IFF_RUNNING: u32 = 0x40;
pub const IFF_NOARP: u32 = 0x80;
pub const IFF_MULTICAST: u32 = 0x1000;
pub const IFF_LOWER_UP: u32 = 0x1_0000;

pub const ARPHRD_ETHER: u16 = 1;
pub const ARPHRD_LOOPBACK: u16 = 772;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_EXT_MASK: u16 = 29;
const IFLA_ALT_IFNAME: u16 = 53;
/// Link counters are large and unused here; kernels that do not know the
/// bit ignore it.
const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const IFA_FLAGS: u16 = 8;

pub const IFA_F_SECONDARY: u32 = 0x01;
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_OPTIMISTIC: u32 = 0x04;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_HOMEADDRESS: u32 = 0x10;
pub const IFA_F_DEPRECATED: u32 = 0x20;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const IFA_F_PERMANENT: u32 = 0x80;
pub const IFA_F_MANAGETEMPADDR: u32 = 0x100;
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
pub const IFA_F_MCAUTOJOIN: u32 = 0x400;
pub const IFA_F_STABLE_PRIVACY: u32 = 0x800;

/// The lifetime value the kernel uses for "forever".
pub const LIFETIME_INFINITE: u32 = u32::MAX;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_PREFSRC: u16 = 7;
const RTA_TABLE: u16 = 15;

/// In a route lookup request: answer with the matching table entry.
const RTM_F_FIB_MATCH: u32 = 0x2000;

pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;

pub const RT_TABLE_MAIN: u32 = 254;
pub const RT_TABLE_LOCAL: u32 = 255;

pub const RTN_UNICAST: u8 = 1;
pub const RTN_LOCAL: u8 = 2;
pub const RTN_BROADCAST: u8 = 3;
pub const RTN_ANYCAST: u8 = 4;
pub const RTN_MULTICAST: u8 = 5;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;
pub const RTN_PROHIBIT: u8 = 8;
pub const RTN_THROW: u8 = 9;

const NLMSG_HDRLEN: usize = 16;
const NLA_HDRLEN: usize = 4;
/// Attribute type bits that are flags (nested, byte order), not the type.
const NLA_TYPE_MASK: u16 = 0x3fff;
const IFNAMSIZ: usize = 16;
/// Alternative names (`ip link property add ... altname`) may be longer.
const ALTIFNAMSIZ: usize = 128;
const IFAL_ADDRESS: u16 = 1;
const IFAL_LABEL: u16 = 2;

const SOL_NETLINK: libc::c_int = 270;
const NETLINK_EXT_ACK: libc::c_int = 11;

/// How long to wait for the kernel before giving up: a monitor must not hang.
const RECV_TIMEOUT_SECS: libc::time_t = 10;
/// How many times a dump is retried when the kernel reports that the object
/// list changed while it was being dumped.
const DUMP_ATTEMPTS: usize = 5;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// An address family the agents manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn af(self) -> u8 {
        match self {
            Family::V4 => AF_INET,
            Family::V6 => AF_INET6,
        }
    }

    fn from_af(af: u8) -> Option<Family> {
        match af {
            AF_INET => Some(Family::V4),
            AF_INET6 => Some(Family::V6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    fn max_prefix(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }
}

/// RFC 2863 operational state, as reported in IFLA_OPERSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    Unknown,
    NotPresent,
    Down,
    LowerLayerDown,
    Testing,
    Dormant,
    Up,
}

impl OperState {
    fn from_u8(v: u8) -> OperState {
        match v {
            1 => OperState::NotPresent,
            2 => OperState::Down,
            3 => OperState::LowerLayerDown,
            4 => OperState::Testing,
            5 => OperState::Dormant,
            6 => OperState::Up,
            _ => OperState::Unknown,
        }
    }
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFF_* flags.
    pub flags: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Carrier present (IFF_LOWER_UP).
    pub lower_up: bool,
    pub oper_state: OperState,
    /// The hardware address when it is a 6-byte (Ethernet-like) one.
    pub mac: Option<[u8; 6]>,
    /// The hardware address as reported, whatever its length.
    pub hw_addr: Vec<u8>,
    /// ARPHRD_* link type.
    pub arp_type: u16,
    pub mtu: u32,
    /// Index of the bond or bridge this link is enslaved to.
    pub master: Option<u32>,
}

/// An interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub ifindex: u32,
    pub family: Family,
    pub prefix_len: u8,
    /// IFA_ADDRESS: the prefix address, or the peer on point-to-point links.
    pub address: IpAddr,
    /// IFA_LOCAL: the interface's own address (IPv4, and IPv6 with a peer).
    pub local: Option<IpAddr>,
    pub broadcast: Option<Ipv4Addr>,
    pub label: Option<String>,
    /// IFA_F_* flags, from IFA_FLAGS when present (it holds the bits above
    /// the 8 that fit in the header).
    pub flags: u32,
    pub scope: u8,
    pub preferred_lft: u32,
    pub valid_lft: u32,
}

impl Addr {
    /// The address configured on this host: IFA_LOCAL when present, since on
    /// point-to-point links IFA_ADDRESS is the remote end.
    pub fn own_address(&self) -> IpAddr {
        self.local.unwrap_or(self.address)
    }

    pub fn has_flag(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// A routing table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub family: Family,
    pub dst: Option<IpAddr>,
    pub dst_len: u8,
    pub oif: Option<u32>,
    pub gateway: Option<IpAddr>,
    pub prefsrc: Option<IpAddr>,
    /// RTA_TABLE when present (table ids above 255), else the header's.
    pub table: u32,
    // Multipath routes (RTA_MULTIPATH) are listed with oif and gateway
    // None: their next hops are not decoded.
    /// RTN_* type.
    pub route_type: u8,
    pub scope: u8,
    pub protocol: u8,
    pub priority: Option<u32>,
}

impl Route {
    /// Whether `addr` falls inside this route's destination prefix (a
    /// route without destination is a default route and covers everything
    /// of its family).
    pub fn contains(&self, addr: &IpAddr) -> bool {
        let Some(dst) = self.dst else {
            return Family::of(addr) == self.family;
        };
        prefix_contains(&dst, self.dst_len, addr)
    }
}

/// Whether `addr` lies in `net`/`len`; addresses of different families
/// never match.
pub fn prefix_contains(net: &IpAddr, len: u8, addr: &IpAddr) -> bool {
    fn masked_eq(a: &[u8], b: &[u8], len: u8) -> bool {
        let len = usize::from(len).min(a.len() * 8);
        let (whole, rest) = (len / 8, len % 8);
        if a[..whole] != b[..whole] {
            return false;
        }
        if rest == 0 {
            return true;
        }
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => masked_eq(&n.octets(), &a.octets(), len),
        (IpAddr::V6(n), IpAddr::V6(a)) => masked_eq(&n.octets(), &a.octets(), len),
        _ => false,
    }
}

/// What to add with [`Netlink::add_addr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddAddr {
    pub ifindex: u32,
    pub address: IpAddr,
    pub prefix_len: u8,
    /// IPv4 only.
    pub broadcast: Option<Ipv4Addr>,
    /// IPv4 only; the kernel wants it to start with the interface name.
    pub label: Option<String>,
    /// Skip duplicate address detection (IPv6).
    pub nodad: bool,
    /// Do not create the prefix route for the address.
    pub noprefixroute: bool,
    /// Preferred lifetime in seconds; None keeps the address preferred
    /// forever. The valid lifetime is always forever.
    pub preferred_lft: Option<u32>,
}

impl AddAddr {
    pub fn new(ifindex: u32, address: IpAddr, prefix_len: u8) -> AddAddr {
        AddAddr {
            ifindex,
            address,
            prefix_len,
            broadcast: None,
            label: None,
            nodad: false,
            noprefixroute: false,
            preferred_lft: None,
        }
    }
}

// ---------------------------------------------------------------------------
// Encoding

/// Builds one netlink message: header, family header, attributes.
pub(crate) struct MsgBuilder {
    buf: Vec<u8>,
}

impl MsgBuilder {
    pub fn new(kind: u16, flags: u16, seq: u32) -> MsgBuilder {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // the kernel fills in the port
        MsgBuilder { buf }
    }

    fn pad(&mut self) {
        let n = align4(self.buf.len());
        self.buf.resize(n, 0);
    }

    /// Appends the fixed family header (ifinfomsg, ifaddrmsg, rtmsg).
    pub fn header(&mut self, bytes: &[u8]) -> &mut MsgBuilder {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends one attribute. Payloads here are addresses, names and
    /// integers, far below the 64 KiB an attribute length can describe.
    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut MsgBuilder {
        let len = (NLA_HDRLEN + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    pub fn attr_u32(&mut self, kind: u16, v: u32) -> &mut MsgBuilder {
        self.attr(kind, &v.to_ne_bytes())
    }

    /// A NUL-terminated string attribute, as the kernel expects for names.
    pub fn attr_str(&mut self, kind: u16, s: &str) -> &mut MsgBuilder {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.attr(kind, &data)
    }

    /// Returns the message with its length filled in, leaving the builder
    /// empty.
    pub fn finish(&mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        if let Some(field) = self.buf.get_mut(0..4) {
            field.copy_from_slice(&len.to_ne_bytes());
        }
        std::mem::take(&mut self.buf)
    }
}

fn ifinfomsg(family: u8, index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    // h[2..4]: ifi_type, left 0 in requests
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

fn ifaddrmsg(family: u8, prefix_len: u8, flags: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = family;
    h[1] = prefix_len;
    h[2] = flags;
    h[3] = scope;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

fn rtmsg(family: u8) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = family;
    h
}

fn ip_bytes(addr: &IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

pub fn encode_getlink_dump(seq: u32) -> Vec<u8> {
    MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .header(&ifinfomsg(AF_UNSPEC, 0, 0, 0))
        .attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
        .finish()
}

fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['\0', '/']) {
        return Err(format!(
            "{name:?} is not an interface name (1 to {} bytes, no '/')",
            IFNAMSIZ - 1
        ));
    }
    Ok(())
}

/// Looks an interface up by name. The kernel finds alternative names too
/// (`altname`, Linux 5.5 and later); one too long for IFLA_IFNAME goes in
/// IFLA_ALT_IFNAME.
pub fn encode_getlink_by_name(name: &str, seq: u32) -> Result<Vec<u8>, String> {
    let attr = if name.len() < IFNAMSIZ {
        check_ifname(name)?;
        IFLA_IFNAME
    } else if name.len() < ALTIFNAMSIZ && !name.contains(['\0', '/']) {
        IFLA_ALT_IFNAME
    } else {
        return Err(format!(
            "{name:?} is not an interface name (1 to {} bytes, no '/')",
            ALTIFNAMSIZ - 1
        ));
    };
    Ok(MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq)
        .header(&ifinfomsg(AF_UNSPEC, 0, 0, 0))
        .attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
        .attr_str(attr, name)
        .finish())
}

/// Adds (or, with `add` false, removes) the IPv6 address label `label` for
/// the single address `addr` (a /128 entry of the policy table RFC 6724
/// source address selection reads, as `ip addrlabel add prefix ADDR label N`).
pub fn encode_addrlabel(
    add: bool,
    addr: &std::net::Ipv6Addr,
    label: u32,
    seq: u32,
) -> Result<Vec<u8>, String> {
    if label == u32::MAX {
        return Err("address label 4294967295 is reserved".into());
    }
    let (kind, flags) = if add {
        (
            RTM_NEWADDRLABEL,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
    } else {
        (RTM_DELADDRLABEL, NLM_F_REQUEST | NLM_F_ACK)
    };
    // struct ifaddrlblmsg: family, reserved, prefix length, flags, ifindex, seq.
    let mut hdr = [0u8; 12];
    hdr[0] = AF_INET6;
    hdr[2] = 128;
    Ok(MsgBuilder::new(kind, flags, seq)
        .header(&hdr)
        .attr(IFAL_ADDRESS, &addr.octets())
        .attr_u32(IFAL_LABEL, label)
        .finish())
}

pub fn encode_getlink_by_index(index: u32, seq: u32) -> Vec<u8> {
    MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq)
        .header(&ifinfomsg(AF_UNSPEC, index, 0, 0))
        .attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
        .finish()
}

pub fn encode_getaddr_dump(family: Option<Family>, seq: u32) -> Vec<u8> {
    let af = family.map_or(AF_UNSPEC, Family::af);
    MsgBuilder::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .header(&ifaddrmsg(af, 0, 0, 0, 0))
        .finish()
}

pub fn encode_getroute_dump(family: Family, seq: u32) -> Vec<u8> {
    MsgBuilder::new(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq)
        .header(&rtmsg(family.af()))
        .finish()
}

/// Asks for the FIB entry matching `dst` rather than a route synthesised
/// for that one host, so the answer carries the real prefix and table.
pub fn encode_route_get(dst: &IpAddr, seq: u32) -> Vec<u8> {
    let family = Family::of(dst);
    let mut h = rtmsg(family.af());
    h[1] = family.max_prefix();
    h[8..12].copy_from_slice(&RTM_F_FIB_MATCH.to_ne_bytes());
    MsgBuilder::new(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, seq)
        .header(&h)
        .attr(RTA_DST, &ip_bytes(dst))
        .finish()
}

/// Sets or clears IFF_UP only: `change` tells the kernel which flag bits the
/// request is about, so the others are left alone.
pub fn encode_set_link_flags(index: u32, up: bool, seq: u32) -> Vec<u8> {
    let flags = if up { IFF_UP } else { 0 };
    MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq)
        .header(&ifinfomsg(AF_UNSPEC, index, flags, IFF_UP))
        .finish()
}

fn check_prefix(family: Family, prefix_len: u8) -> Result<(), String> {
    if prefix_len > family.max_prefix() {
        return Err(format!(
            "prefix length {prefix_len} exceeds {}",
            family.max_prefix()
        ));
    }
    Ok(())
}

pub fn encode_newaddr(req: &AddAddr, seq: u32) -> Result<Vec<u8>, String> {
    let family = Family::of(&req.address);
    check_prefix(family, req.prefix_len)?;
    if family == Family::V6 && req.broadcast.is_some() {
        return Err("a broadcast address exists only for IPv4".into());
    }
    if let Some(label) = &req.label {
        if family == Family::V6 {
            return Err("address labels exist only for IPv4".into());
        }
        if label.is_empty() || label.len() >= IFNAMSIZ || label.contains('\0') {
            return Err(format!(
                "label {label:?} must be 1 to {} bytes",
                IFNAMSIZ - 1
            ));
        }
    }
    let mut flags = 0u32;
    if req.nodad {
        flags |= IFA_F_NODAD;
    }
    if req.noprefixroute {
        flags |= IFA_F_NOPREFIXROUTE;
    }
    let ip = ip_bytes(&req.address);
    let mut b = MsgBuilder::new(
        RTM_NEWADDR,
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
    );
    b.header(&ifaddrmsg(
        family.af(),
        req.prefix_len,
        (flags & 0xff) as u8,
        0,
        req.ifindex,
    ));
    // Like `ip addr add`: without a peer, the local and prefix addresses are
    // the same.
    b.attr(IFA_LOCAL, &ip).attr(IFA_ADDRESS, &ip);
    if let Some(brd) = req.broadcast {
        b.attr(IFA_BROADCAST, &brd.octets());
    }
    if let Some(label) = &req.label {
        b.attr_str(IFA_LABEL, label);
    }
    if flags > 0xff {
        b.attr_u32(IFA_FLAGS, flags);
    }
    if let Some(preferred) = req.preferred_lft {
        let mut ci = [0u8; 16];
        ci[0..4].copy_from_slice(&preferred.to_ne_bytes());
        ci[4..8].copy_from_slice(&LIFETIME_INFINITE.to_ne_bytes());
        b.attr(IFA_CACHEINFO, &ci);
    }
    Ok(b.finish())
}

pub fn encode_deladdr(
    ifindex: u32,
    addr: &IpAddr,
    prefix_len: u8,
    seq: u32,
) -> Result<Vec<u8>, String> {
    let family = Family::of(addr);
    check_prefix(family, prefix_len)?;
    let ip = ip_bytes(addr);
    Ok(MsgBuilder::new(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq)
        .header(&ifaddrmsg(family.af(), prefix_len, 0, 0, ifindex))
        .attr(IFA_LOCAL, &ip)
        .attr(IFA_ADDRESS, &ip)
        .finish())
}

// ---------------------------------------------------------------------------
// Decoding

/// One message inside a datagram, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

fn ne_u16(b: &[u8], off: usize) -> Result<u16, String> {
    b.get(off..off + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_ne_bytes)
        .ok_or_else(|| format!("need 2 bytes at offset {off}, have {}", b.len()))
}

fn ne_u32(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or_else(|| format!("need 4 bytes at offset {off}, have {}", b.len()))
}

/// Splits a datagram into its messages.
pub fn parse_messages(buf: &[u8]) -> Result<Vec<NlMsg<'_>>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < NLMSG_HDRLEN {
            return Err(format!(
                "truncated message header at offset {off}: {} bytes",
                rest.len()
            ));
        }
        let len = ne_u32(rest, 0)? as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(format!(
                "message at offset {off} claims {len} bytes, {} available",
                rest.len()
            ));
        }
        out.push(NlMsg {
            kind: ne_u16(rest, 4)?,
            flags: ne_u16(rest, 6)?,
            seq: ne_u32(rest, 8)?,
            pid: ne_u32(rest, 12)?,
            payload: &rest[NLMSG_HDRLEN..len],
        });
        off += align4(len).min(rest.len());
    }
    Ok(out)
}

/// Splits an attribute area into (type, payload) pairs. Flag bits are
/// stripped from the type; callers ignore types they do not know.
pub fn parse_attrs(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < NLA_HDRLEN {
            return Err(format!("truncated attribute header at offset {off}"));
        }
        let len = ne_u16(rest, 0)? as usize;
        let kind = ne_u16(rest, 2)? & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            return Err(format!(
                "attribute {kind} at offset {off} claims {len} bytes, {} available",
                rest.len()
            ));
        }
        out.push((kind, &rest[NLA_HDRLEN..len]));
        off += align4(len).min(rest.len());
    }
    Ok(out)
}

fn attr_u32(kind: u16, data: &[u8]) -> Result<u32, String> {
    match data.try_into() {
        Ok(b) => Ok(u32::from_ne_bytes(b)),
        Err(_) => Err(format!("attribute {kind}: {} bytes, want 4", data.len())),
    }
}

fn attr_string(data: &[u8]) -> String {
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

fn attr_ip(family: Family, kind: u16, data: &[u8]) -> Result<IpAddr, String> {
    match family {
        Family::V4 => <[u8; 4]>::try_from(data)
            .map(|b| IpAddr::V4(Ipv4Addr::from(b)))
            .map_err(|_| format!("attribute {kind}: {} bytes for an IPv4 address", data.len())),
        Family::V6 => <[u8; 16]>::try_from(data)
            .map(|b| IpAddr::V6(Ipv6Addr::from(b)))
            .map_err(|_| format!("attribute {kind}: {} bytes for an IPv6 address", data.len())),
    }
}

/// Decodes an RTM_NEWLINK payload.
pub fn decode_link(payload: &[u8]) -> Result<Link, String> {
    if payload.len() < 16 {
        return Err(format!("ifinfomsg truncated: {} bytes", payload.len()));
    }
    let arp_type = ne_u16(payload, 2)?;
    let index = ne_u32(payload, 4)?;
    let flags = ne_u32(payload, 8)?;
    let mut link = Link {
        index,
        name: String::new(),
        flags,
        up: flags & IFF_UP != 0,
        lower_up: flags & IFF_LOWER_UP != 0,
        oper_state: OperState::Unknown,
        mac: None,
        hw_addr: Vec::new(),
        arp_type,
        mtu: 0,
        master: None,
    };
    for (kind, data) in parse_attrs(&payload[16..])? {
        match kind {
            IFLA_IFNAME => link.name = attr_string(data),
            IFLA_ADDRESS => {
                link.hw_addr = data.to_vec();
                link.mac = <[u8; 6]>::try_from(data).ok();
            }
            IFLA_MTU => link.mtu = attr_u32(kind, data)?,
            IFLA_MASTER => link.master = Some(attr_u32(kind, data)?),
            IFLA_OPERSTATE => {
                let v = data
                    .first()
                    .ok_or_else(|| "empty IFLA_OPERSTATE".to_string())?;
                link.oper_state = OperState::from_u8(*v);
            }
            _ => {}
        }
    }
    Ok(link)
}

/// Decodes an RTM_NEWADDR payload; addresses of families other than IPv4
/// and IPv6 give None.
pub fn decode_addr(payload: &[u8]) -> Result<Option<Addr>, String> {
    if payload.len() < 8 {
        return Err(format!("ifaddrmsg truncated: {} bytes", payload.len()));
    }
    let Some(family) = Family::from_af(payload[0]) else {
        return Ok(None);
    };
    let prefix_len = payload[1];
    let mut flags = u32::from(payload[2]);
    let scope = payload[3];
    let ifindex = ne_u32(payload, 4)?;
    let mut address = None;
    let mut local = None;
    let mut broadcast = None;
    let mut label = None;
    let mut preferred_lft = LIFETIME_INFINITE;
    let mut valid_lft = LIFETIME_INFINITE;
    for (kind, data) in parse_attrs(&payload[8..])? {
        match kind {
            IFA_ADDRESS => address = Some(attr_ip(family, kind, data)?),
            IFA_LOCAL => local = Some(attr_ip(family, kind, data)?),
            IFA_BROADCAST => {
                if let IpAddr::V4(b) = attr_ip(Family::V4, kind, data)? {
                    broadcast = Some(b);
                }
            }
            IFA_LABEL => label = Some(attr_string(data)),
            IFA_FLAGS => flags = attr_u32(kind, data)?,
            IFA_CACHEINFO => {
                if data.len() < 8 {
                    return Err(format!("IFA_CACHEINFO truncated: {} bytes", data.len()));
                }
                preferred_lft = ne_u32(data, 0)?;
                valid_lft = ne_u32(data, 4)?;
            }
            _ => {}
        }
    }
    let address = address.or(local).ok_or_else(|| {
        format!("address on ifindex {ifindex} has neither IFA_ADDRESS nor IFA_LOCAL")
    })?;
    Ok(Some(Addr {
        ifindex,
        family,
        prefix_len,
        address,
        local,
        broadcast,
        label,
        flags,
        scope,
        preferred_lft,
        valid_lft,
    }))
}

/// Decodes an RTM_NEWROUTE payload; families other than IPv4 and IPv6 give
/// None.
pub fn decode_route(payload: &[u8]) -> Result<Option<Route>, String> {
    if payload.len() < 12 {
        return Err(format!("rtmsg truncated: {} bytes", payload.len()));
    }
    let Some(family) = Family::from_af(payload[0]) else {
        return Ok(None);
    };
    let mut route = Route {
        family,
        dst: None,
        dst_len: payload[1],
        oif: None,
        gateway: None,
        prefsrc: None,
        table: u32::from(payload[4]),
        protocol: payload[5],
        scope: payload[6],
        route_type: payload[7],
        priority: None,
    };
    for (kind, data) in parse_attrs(&payload[12..])? {
        match kind {
            RTA_DST => route.dst = Some(attr_ip(family, kind, data)?),
            RTA_OIF => route.oif = Some(attr_u32(kind, data)?),
            RTA_GATEWAY => route.gateway = Some(attr_ip(family, kind, data)?),
            RTA_PREFSRC => route.prefsrc = Some(attr_ip(family, kind, data)?),
            RTA_PRIORITY => route.priority = Some(attr_u32(kind, data)?),
            RTA_TABLE => route.table = attr_u32(kind, data)?,
            _ => {}
        }
    }
    Ok(Some(route))
}

/// Decodes an NLMSG_ERROR payload into (errno, extended ACK message);
/// errno 0 is a plain acknowledgement.
pub fn decode_error(flags: u16, payload: &[u8]) -> Result<(i32, Option<String>), String> {
    let code = ne_u32(payload, 0)? as i32;
    let errno = code.checked_neg().unwrap_or(i32::MAX);
    let mut msg = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        // The echoed request follows the code; its length is in its header,
        // unless the kernel capped the echo to the header alone.
        let echoed = if flags & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            ne_u32(payload, 4)? as usize
        };
        let start = 4 + align4(echoed);
        // The explanation is a bonus: if it cannot be parsed, the errno
        // alone still says what happened.
        if let Some(Ok(attrs)) = payload.get(start..).map(parse_attrs) {
            msg = attrs
                .into_iter()
                .find(|(kind, _)| *kind == NLMSGERR_ATTR_MSG)
                .map(|(_, data)| attr_string(data));
        }
    }
    Ok((errno, msg))
}

/// Why a request failed, before it is given its operation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Kernel { errno: i32, ext_ack: Option<String> },
    Malformed(String),
}

/// Accumulates the kernel's answer to one request, datagram by datagram.
#[derive(Debug)]
pub struct Collector {
    seq: u32,
    /// (message type, payload) of every data message answering the request.
    pub msgs: Vec<(u16, Vec<u8>)>,
    /// The kernel flagged the dump as inconsistent: objects changed while
    /// it was being produced, so it must be redone.
    pub interrupted: bool,
}

impl Collector {
    pub fn new(seq: u32) -> Collector {
        Collector {
            seq,
            msgs: Vec::new(),
            interrupted: false,
        }
    }

    /// Takes one datagram; Ok(true) once the answer is complete. Messages
    /// with another sequence number are left-overs of an earlier request
    /// that timed out, and are dropped.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<bool, Failure> {
        let msgs = parse_messages(datagram).map_err(Failure::Malformed)?;
        for m in msgs {
            if m.seq != self.seq {
                continue;
            }
            if m.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match m.kind {
                NLMSG_NOOP => {}
                NLMSG_ERROR => {
                    let (errno, ext_ack) =
                        decode_error(m.flags, m.payload).map_err(Failure::Malformed)?;
                    if errno != 0 {
                        return Err(Failure::Kernel { errno, ext_ack });
                    }
                    return Ok(true);
                }
                NLMSG_DONE => {
                    // A dump's final status travels in the DONE message.
                    if let Ok(code) = ne_u32(m.payload, 0) {
                        let code = code as i32;
                        if code < 0 {
                            return Err(Failure::Kernel {
                                errno: code.checked_neg().unwrap_or(i32::MAX),
                                ext_ack: None,
                            });
                        }
                    }
                    return Ok(true);
                }
                NLMSG_OVERRUN => {
                    return Err(Failure::Malformed("kernel reported overrun".into()));
                }
                kind => {
                    // Non-dump requests always ask for an ACK, so their
                    // answer too ends with an NLMSG_ERROR, never here.
                    self.msgs.push((kind, m.payload.to_vec()));
                }
            }
        }
        Ok(false)
    }
}

// ---------------------------------------------------------------------------
// Socket

/// A NETLINK_ROUTE socket. Not shared between threads: requests are
/// matched to answers by a per-socket sequence number.
pub struct Netlink {
    fd: OwnedFd,
    seq: Cell<u32>,
}

fn nl_sockaddr() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value
    // (port 0 = the kernel, no multicast groups).
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace (so call
    /// [`super::enter_netns`] first when managing another namespace).
    pub fn open() -> Result<Netlink, NetError> {
        let op = "open rtnetlink socket";
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(NetError::last_os(op));
        }
        // SAFETY: raw is a freshly created descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // Extended ACKs add the kernel's own explanation to errors; kernels
        // without them refuse the option, which is harmless.
        let one: libc::c_int = 1;
        // SAFETY: the option value points to a live c_int of the given size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_EXT_ACK,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let tv = libc::timeval {
            tv_sec: RECV_TIMEOUT_SECS,
            tv_usec: 0,
        };
        // SAFETY: the option value points to a live timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(NetError::last_os(format!("{op}: set receive timeout")));
        }
        let sa = nl_sockaddr();
        // SAFETY: sa is a valid sockaddr_nl and the length matches it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(NetError::last_os(format!("{op}: bind")));
        }
        Ok(Netlink {
            fd,
            seq: Cell::new(1),
        })
    }

    fn next_seq(&self) -> u32 {
        let s = self.seq.get();
        self.seq.set(s.wrapping_add(1).max(1));
        s
    }

    fn send(&self, op: &str, msg: &[u8]) -> Result<(), NetError> {
        let sa = nl_sockaddr();
        loop {
            // SAFETY: msg is a live buffer of msg.len() bytes and sa a valid
            // sockaddr_nl of the given length.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let e = Errno::last();
            if e != Errno::EINTR {
                return Err(NetError::os(format!("{op}: send"), e));
            }
        }
    }

    /// Receives one datagram from the kernel, whatever its size.
    fn recv(&self, op: &str, buf: &mut Vec<u8>) -> Result<usize, NetError> {
        loop {
            let mut sa = nl_sockaddr();
            let mut salen = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
            // Peek with MSG_TRUNC first to learn the datagram's real size, so
            // that a large dump part is never cut short.
            // SAFETY: buf is a live buffer of buf.len() bytes; sa/salen
            // describe a writable sockaddr_nl.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK | libc::MSG_TRUNC,
                    (&mut sa as *mut libc::sockaddr_nl).cast(),
                    &mut salen,
                )
            };
            if n < 0 {
                let e = Errno::last();
                if e == Errno::EINTR {
                    continue;
                }
                if e == Errno::EAGAIN {
                    return Err(NetError::os(
                        format!("{op}: no answer from the kernel within {RECV_TIMEOUT_SECS} s"),
                        e,
                    ));
                }
                return Err(NetError::os(format!("{op}: receive"), e));
            }
            let n = n as usize;
            if n > buf.len() {
                buf.resize(n, 0);
                continue;
            }
            // SAFETY: as above.
            let got = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sa as *mut libc::sockaddr_nl).cast(),
                    &mut salen,
                )
            };
            if got < 0 {
                let e = Errno::last();
                if e == Errno::EINTR {
                    continue;
                }
                return Err(NetError::os(format!("{op}: receive"), e));
            }
            // Only the kernel (port 0) answers requests; anything else is
            // another process writing to our port and is ignored.
            if sa.nl_pid != 0 {
                continue;
            }
            return Ok(got as usize);
        }
    }

    /// Sends one request (already encoded with sequence number `seq`) and
    /// collects its answer.
    fn exchange(&self, op: &str, seq: u32, msg: &[u8]) -> Result<Collector, NetError> {
        self.send(op, msg)?;
        let mut col = Collector::new(seq);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = self.recv(op, &mut buf)?;
            match col.feed(&buf[..n]) {
                Ok(true) => return Ok(col),
                Ok(false) => {}
                Err(Failure::Kernel { errno, ext_ack }) => {
                    return Err(NetError::Kernel {
                        op: op.to_string(),
                        errno,
                        ext_ack,
                    })
                }
                Err(Failure::Malformed(detail)) => return Err(malformed(op, detail)),
            }
        }
    }

    /// Encodes a request with a fresh sequence number and exchanges it;
    /// encoding errors are the caller's invalid arguments.
    fn request(
        &self,
        op: &str,
        encode: impl Fn(u32) -> Result<Vec<u8>, String>,
    ) -> Result<Collector, NetError> {
        let seq = self.next_seq();
        let msg = encode(seq).map_err(|detail| NetError::Invalid {
            op: op.to_string(),
            detail,
        })?;
        self.exchange(op, seq, &msg)
    }

    /// Runs a dump, redoing it if the kernel says it was inconsistent, and
    /// returns the payloads of the messages of type `kind`.
    fn dump(
        &self,
        op: &str,
        kind: u16,
        encode: impl Fn(u32) -> Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, NetError> {
        for _ in 0..DUMP_ATTEMPTS {
            let col = self.request(op, |seq| Ok(encode(seq)))?;
            if !col.interrupted {
                return Ok(col
                    .msgs
                    .into_iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, p)| p)
                    .collect());
            }
        }
        Err(NetError::Os {
            op: format!("{op}: objects kept changing during {DUMP_ATTEMPTS} dumps"),
            errno: libc::EINTR,
        })
    }

    /// All interfaces.
    pub fn links(&self) -> Result<Vec<Link>, NetError> {
        let op = "list links";
        self.dump(op, RTM_NEWLINK, encode_getlink_dump)?
            .iter()
            .map(|p| decode_link(p).map_err(|d| malformed(op, d)))
            .collect()
    }

    fn one_link(
        &self,
        op: &str,
        encode: impl Fn(u32) -> Result<Vec<u8>, String>,
    ) -> Result<Option<Link>, NetError> {
        match self.request(op, encode) {
            Ok(col) => col
                .msgs
                .iter()
                .find(|(kind, _)| *kind == RTM_NEWLINK)
                .map(|(_, p)| decode_link(p).map_err(|d| malformed(op, d)))
                .transpose(),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The interface with this name, or None if there is none. A string
    /// that cannot be an interface name is an Invalid error.
    pub fn link_by_name(&self, name: &str) -> Result<Option<Link>, NetError> {
        let op = format!("look up link {name:?}");
        self.one_link(&op, |seq| encode_getlink_by_name(name, seq))
    }

    /// The interface with this index, or None if there is none.
    pub fn link_by_index(&self, index: u32) -> Result<Option<Link>, NetError> {
        let op = format!("look up link index {index}");
        self.one_link(&op, |seq| Ok(encode_getlink_by_index(index, seq)))
    }

    /// Waits until the interface can really transmit, polling every 10 ms
    /// up to `timeout`; returns the link once it can, None if it did not in
    /// time (or vanished).
    ///
    /// Right after a link comes up (or gets its carrier), the kernel keeps
    /// it on a transmit queue that silently discards frames until its link
    /// watcher has run, which also moves the operational state to UP; an
    /// announcement sent in that window reports success yet never leaves.
    /// Links without carrier reporting stay in operational state UNKNOWN,
    /// which counts as ready once they have a carrier.
    pub fn wait_oper_up(
        &self,
        ifindex: u32,
        timeout: std::time::Duration,
    ) -> Result<Option<Link>, NetError> {
        let start = std::time::Instant::now();
        loop {
            let Some(link) = self.link_by_index(ifindex)? else {
                return Ok(None);
            };
            let ready = link.up
                && (link.oper_state == OperState::Up
                    || (link.oper_state == OperState::Unknown && link.lower_up));
            if ready {
                return Ok(Some(link));
            }
            if start.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// All addresses, of one family or of both.
    pub fn addrs(&self, family: Option<Family>) -> Result<Vec<Addr>, NetError> {
        let op = "list addresses";
        let mut out = Vec::new();
        for p in self.dump(op, RTM_NEWADDR, |seq| encode_getaddr_dump(family, seq))? {
            if let Some(a) = decode_addr(&p).map_err(|d| malformed(op, d))? {
                if family.map_or(true, |f| f == a.family) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    /// All routes of a family, in every table (main and local included).
    pub fn routes(&self, family: Family) -> Result<Vec<Route>, NetError> {
        let op = "list routes";
        let mut out = Vec::new();
        for p in self.dump(op, RTM_NEWROUTE, |seq| encode_getroute_dump(family, seq))? {
            if let Some(r) = decode_route(&p).map_err(|d| malformed(op, d))? {
                if r.family == family {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// The routing table entry the kernel would use to reach `dst` (what
    /// `ip route get fibmatch` shows), or None when no route matches at all
    /// (ENETUNREACH). A matching route that refuses traffic is an error,
    /// as with `ip route get`: EINVAL for blackhole, EHOSTUNREACH for
    /// unreachable, EACCES for prohibit.
    pub fn route_get(&self, dst: IpAddr) -> Result<Option<Route>, NetError> {
        let op = format!("look up route to {dst}");
        match self.request(&op, |seq| Ok(encode_route_get(&dst, seq))) {
            Ok(col) => col
                .msgs
                .iter()
                .find(|(kind, _)| *kind == RTM_NEWROUTE)
                .map(|(_, p)| decode_route(p).map_err(|d| malformed(&op, d)))
                .transpose()
                .map(Option::flatten),
            Err(e) if e.errno() == Some(libc::ENETUNREACH) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn change(
        &self,
        op: &str,
        encode: impl Fn(u32) -> Result<Vec<u8>, String>,
    ) -> Result<(), NetError> {
        self.request(op, encode).map(|_| ())
    }

    /// Adds an address; fails with EEXIST if it is already there.
    pub fn add_addr(&self, req: &AddAddr) -> Result<(), NetError> {
        let op = format!(
            "add address {}/{} on ifindex {}",
            req.address, req.prefix_len, req.ifindex
        );
        self.change(&op, |seq| encode_newaddr(req, seq))
    }

    /// Removes an address; fails with EADDRNOTAVAIL if it is not there.
    pub fn del_addr(&self, ifindex: u32, addr: IpAddr, prefix_len: u8) -> Result<(), NetError> {
        let op = format!("delete address {addr}/{prefix_len} on ifindex {ifindex}");
        self.change(&op, |seq| encode_deladdr(ifindex, &addr, prefix_len, seq))
    }

    /// Gives the IPv6 address `addr` its own address label; fails with
    /// EEXIST if the table already has an entry for exactly that address.
    pub fn add_addrlabel(&self, addr: &std::net::Ipv6Addr, label: u32) -> Result<(), NetError> {
        let op = format!("add address label {label} for {addr}");
        self.change(&op, |seq| encode_addrlabel(true, addr, label, seq))
    }

    /// Removes the address label entry of `addr`; fails with ESRCH if there
    /// is none.
    pub fn del_addrlabel(&self, addr: &std::net::Ipv6Addr, label: u32) -> Result<(), NetError> {
        let op = format!("delete address label {label} for {addr}");
        self.change(&op, |seq| encode_addrlabel(false, addr, label, seq))
    }

    /// Brings an interface administratively up.
    pub fn set_link_up(&self, ifindex: u32) -> Result<(), NetError> {
        let op = format!("set link index {ifindex} up");
        self.change(&op, |seq| Ok(encode_set_link_flags(ifindex, true, seq)))
    }

    /// Brings an interface administratively down.
    pub fn set_link_down(&self, ifindex: u32) -> Result<(), NetError> {
        let op = format!("set link index {ifindex} down");
        self.change(&op, |seq| Ok(encode_set_link_flags(ifindex, false, seq)))
    }
}

fn malformed(op: &str, detail: String) -> NetError {
    NetError::Malformed {
        op: op.to_string(),
        detail,
    }
}

#[cfg(test)]
impl Netlink {
    /// Like transact, but returns the raw datagrams: used to record fixtures.
    pub(crate) fn capture(&self, build: impl Fn(u32) -> Vec<u8>) -> Result<Vec<Vec<u8>>, NetError> {
        let op = "capture";
        let seq = self.next_seq();
        self.send(op, &build(seq))?;
        let mut col = Collector::new(seq);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = self.recv(op, &mut buf)?;
            out.push(buf[..n].to_vec());
            match col.feed(&buf[..n]) {
                Ok(false) => {}
                _ => return Ok(out),
            }
        }
    }
}
