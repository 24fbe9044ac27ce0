// SPDX-License-Identifier: GPL-2.0-or-later
//! SNMP v1 and v2c over UDP, written out by hand: a power strip needs Get,
//! GetNext and Set of integers and strings, which is a few dozen lines of
//! BER, far less than a general SNMP library and no net-snmp binaries.
//!
//! The APC tables are the PowerNet MIB's, the same OIDs and values that
//! fence-agents' fence_apc_snmp uses, so both agents agree on a device.

use super::usm;
use crate::fence::{FenceError, Options, Outlet, Power, PowerSwitch};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- BER ----

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OBJECT_ID: u8 = 0x06;
pub const SEQUENCE: u8 = 0x30;
pub const GET: u8 = 0xa0;
pub const GET_NEXT: u8 = 0xa1;
pub const RESPONSE: u8 = 0xa2;
pub const SET: u8 = 0xa3;
pub const NO_SUCH_OBJECT: u8 = 0x80;
pub const NO_SUCH_INSTANCE: u8 = 0x81;
pub const END_OF_MIB_VIEW: u8 = 0x82;

pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

pub fn int(v: i64) -> Vec<u8> {
    let b = v.to_be_bytes();
    // Shortest two's complement form: drop leading bytes that only repeat
    // the sign of the next one.
    let mut start = 0;
    while start < 7
        && ((b[start] == 0 && b[start + 1] & 0x80 == 0)
            || (b[start] == 0xff && b[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    tlv(INTEGER, &b[start..])
}

pub fn parse_oid(s: &str) -> Option<Vec<u32>> {
    let parts: Vec<u32> = s
        .trim()
        .trim_start_matches('.')
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts.len() < 2 || parts[0] > 2 || (parts[0] < 2 && parts[1] >= 40) {
        return None;
    }
    Some(parts)
}

pub fn oid_string(oid: &[u32]) -> String {
    let mut s = String::new();
    for p in oid {
        s.push('.');
        s.push_str(&p.to_string());
    }
    s
}

pub fn oid(parts: &[u32]) -> Vec<u8> {
    let mut v = Vec::new();
    let first = parts.first().copied().unwrap_or(0) * 40 + parts.get(1).copied().unwrap_or(0);
    let mut push = |mut n: u32| {
        let mut tmp = vec![(n & 0x7f) as u8];
        n >>= 7;
        while n > 0 {
            tmp.push(0x80 | (n & 0x7f) as u8);
            n >>= 7;
        }
        tmp.reverse();
        v.extend(tmp);
    };
    push(first);
    for p in parts.iter().skip(2) {
        push(*p);
    }
    tlv(OBJECT_ID, &v)
}

/// One decoded TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Splits `data` into its first TLV and the rest.
pub fn next_tlv(data: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let tag = *data.first().ok_or("truncated: no tag")?;
    let l0 = *data.get(1).ok_or("truncated: no length")?;
    let (len, hdr) = if l0 & 0x80 == 0 {
        (l0 as usize, 2)
    } else {
        let n = (l0 & 0x7f) as usize;
        if n == 0 || n > 4 {
            return Err("unsupported length form".into());
        }
        let bytes = data.get(2..2 + n).ok_or("truncated length")?;
        (
            bytes.iter().fold(0usize, |a, b| (a << 8) | *b as usize),
            2 + n,
        )
    };
    let value = data.get(hdr..hdr + len).ok_or("truncated value")?;
    Ok((Tlv { tag, value }, &data[hdr + len..]))
}

pub fn children(data: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let (t, r) = next_tlv(rest)?;
        out.push(t);
        rest = r;
    }
    Ok(out)
}

pub fn decode_int(v: &[u8]) -> Result<i64, String> {
    if v.is_empty() || v.len() > 8 {
        return Err("bad integer".into());
    }
    let mut n: i64 = if v[0] & 0x80 != 0 { -1 } else { 0 };
    for b in v {
        n = (n << 8) | *b as i64;
    }
    Ok(n)
}

pub fn decode_oid(v: &[u8]) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    let mut n: u32 = 0;
    for (i, b) in v.iter().enumerate() {
        n = n.checked_mul(128).ok_or("oid overflow")? | (b & 0x7f) as u32;
        if b & 0x80 == 0 {
            if out.is_empty() {
                let first = (n / 40).min(2);
                out.push(first);
                out.push(n - first * 40);
            } else {
                out.push(n);
            }
            n = 0;
        } else if i == v.len() - 1 {
            return Err("oid cut short".into());
        }
    }
    if out.is_empty() {
        return Err("empty oid".into());
    }
    Ok(out)
}

/// A variable's value as far as a power strip needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Str(Vec<u8>),
    Oid(Vec<u32>),
    Null,
    /// noSuchObject, noSuchInstance, endOfMibView (v2c).
    Missing(u8),
    Other(u8),
}

impl Value {
    fn encode(&self) -> Vec<u8> {
        match self {
            Value::Int(i) => int(*i),
            Value::Str(s) => tlv(OCTET_STRING, s),
            Value::Oid(o) => oid(o),
            Value::Null | Value::Missing(_) | Value::Other(_) => tlv(NULL, &[]),
        }
    }
    fn decode(t: &Tlv) -> Result<Value, String> {
        Ok(match t.tag {
            INTEGER => Value::Int(decode_int(t.value)?),
            // Counter32, Gauge32, TimeTicks: unsigned, read as numbers.
            0x41..=0x43 => Value::Int(
                t.value
                    .iter()
                    .take(8)
                    .fold(0i64, |a, b| (a << 8) | *b as i64),
            ),
            OCTET_STRING => Value::Str(t.value.to_vec()),
            OBJECT_ID => Value::Oid(decode_oid(t.value)?),
            NULL => Value::Null,
            NO_SUCH_OBJECT | NO_SUCH_INSTANCE | END_OF_MIB_VIEW => Value::Missing(t.tag),
            other => Value::Other(other),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2c,
}

/// A v1/v2c message with one PDU.
pub fn encode_message(
    version: Version,
    community: &[u8],
    pdu: u8,
    request_id: i32,
    binds: &[(Vec<u32>, Value)],
) -> Vec<u8> {
    let mut m = int(match version {
        Version::V1 => 0,
        Version::V2c => 1,
    });
    m.extend(tlv(OCTET_STRING, community));
    m.extend(encode_pdu(pdu, request_id, binds));
    tlv(SEQUENCE, &m)
}

/// One PDU: request id, zero error status and index, the bindings.
pub fn encode_pdu(pdu: u8, request_id: i32, binds: &[(Vec<u32>, Value)]) -> Vec<u8> {
    let mut vbs = Vec::new();
    for (o, v) in binds {
        let mut vb = oid(o);
        vb.extend(v.encode());
        vbs.extend(tlv(SEQUENCE, &vb));
    }
    let mut p = int(request_id as i64);
    p.extend(int(0));
    p.extend(int(0));
    p.extend(tlv(SEQUENCE, &vbs));
    tlv(pdu, &p)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: i32,
    pub error_status: i64,
    pub error_index: i64,
    pub binds: Vec<(Vec<u32>, Value)>,
}

/// Decodes a PDU body (request id, error status and index, bindings).
pub fn decode_pdu(body: &[u8]) -> Result<Reply, String> {
    let parts = children(body)?;
    if parts.len() != 4 || parts[3].tag != SEQUENCE {
        return Err("PDU does not have 4 fields".into());
    }
    let mut binds = Vec::new();
    for vb in children(parts[3].value)? {
        let f = children(vb.value)?;
        if vb.tag != SEQUENCE || f.len() != 2 || f[0].tag != OBJECT_ID {
            return Err("bad variable binding".into());
        }
        binds.push((decode_oid(f[0].value)?, Value::decode(&f[1])?));
    }
    Ok(Reply {
        request_id: decode_int(parts[0].value)? as i32,
        error_status: decode_int(parts[1].value)?,
        error_index: decode_int(parts[2].value)?,
        binds,
    })
}

/// Decodes a whole v1/v2c response message.
pub fn decode_message(data: &[u8]) -> Result<(i64, Vec<u8>, u8, Reply), String> {
    let (top, _) = next_tlv(data)?;
    if top.tag != SEQUENCE {
        return Err("not an SNMP message".into());
    }
    let parts = children(top.value)?;
    if parts.len() != 3 || parts[0].tag != INTEGER || parts[1].tag != OCTET_STRING {
        return Err("not a v1/v2c message".into());
    }
    Ok((
        decode_int(parts[0].value)?,
        parts[1].value.to_vec(),
        parts[2].tag,
        decode_pdu(parts[2].value)?,
    ))
}

pub fn error_name(status: i64) -> &'static str {
    match status {
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        7 => "wrongType",
        8 => "wrongLength",
        9 => "wrongEncoding",
        10 => "wrongValue",
        11 => "noCreation",
        12 => "inconsistentValue",
        13 => "resourceUnavailable",
        14 => "commitFailed",
        15 => "undoFailed",
        16 => "authorizationError",
        17 => "notWritable",
        18 => "inconsistentName",
        _ => "unknown error",
    }
}

// ------------------------------------------------------------- client ----

pub struct Client {
    pub addr: SocketAddr,
    pub name: String,
    pub version: Version,
    pub community: Vec<u8>,
    /// SNMPv3: the user, and the engine once discovered.
    pub usm: Option<(usm::User, Option<usm::Engine>)>,
    pub timeout: Duration,
    pub retries: u32,
    next_id: i32,
}

/// What one datagram meant to a waiting request.
enum Heard<T> {
    Done(T),
    Ignore,
}

/// A v3 answer: a response, or a report with the agent's boots and time.
type V3Answer = Result<Reply, (i64, i64, Reply)>;

impl Client {
    pub fn new(
        host: &str,
        port: u16,
        version: Version,
        community: &str,
        timeout: Duration,
    ) -> Result<Client, FenceError> {
        let name = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| FenceError::Connect(format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| FenceError::Connect(format!("{host} has no address")))?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Client {
            addr,
            name,
            version,
            community: community.as_bytes().to_vec(),
            usm: None,
            timeout,
            retries: 1,
            next_id: (seed & 0x3fff_ffff) as i32,
        })
    }

    fn next_id(&mut self) -> i32 {
        self.next_id = self.next_id.wrapping_add(1) & 0x7fff_ffff;
        self.next_id
    }

    /// Sends `msg` (again on silence) until `accept` takes a datagram.
    fn exchange<T>(
        &self,
        msg: &[u8],
        mut accept: impl FnMut(&[u8]) -> Result<Heard<T>, FenceError>,
    ) -> Result<T, FenceError> {
        let bind = if self.addr.is_ipv6() {
            "[::]:0"
        } else {
            "0.0.0.0:0"
        };
        let sock = UdpSocket::bind(bind)
            .map_err(|e| FenceError::Connect(format!("cannot open a UDP socket: {e}")))?;
        sock.connect(self.addr)
            .map_err(|e| FenceError::Connect(format!("cannot reach {}: {e}", self.name)))?;
        let mut buf = vec![0u8; 65536];
        for _ in 0..=self.retries {
            sock.send(msg)
                .map_err(|e| FenceError::Connect(format!("cannot send to {}: {e}", self.name)))?;
            let until = Instant::now() + self.timeout;
            loop {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let _ = sock.set_read_timeout(Some(left));
                match sock.recv(&mut buf) {
                    Ok(n) => match accept(&buf[..n])? {
                        Heard::Done(t) => return Ok(t),
                        Heard::Ignore => continue,
                    },
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        return Err(FenceError::Connect(format!(
                            "{} refused SNMP (nothing listens on that port)",
                            self.name
                        )))
                    }
                    Err(e) => {
                        return Err(FenceError::Connect(format!(
                            "receiving from {}: {e}",
                            self.name
                        )))
                    }
                }
            }
        }
        // v1/v2c agents drop requests with a wrong community silently, so
        // silence is the only sign of it.
        Err(FenceError::Timeout(format!(
            "no SNMP reply from {} within {:.1}s, {} tries (check address, snmp_version and {})",
            self.name,
            self.timeout.as_secs_f64(),
            self.retries + 1,
            if self.usm.is_some() {
                "username"
            } else {
                "community"
            }
        )))
    }

    fn malformed(&self, why: &str) -> FenceError {
        FenceError::Protocol(format!("malformed SNMP reply from {}: {why}", self.name))
    }

    /// One request, retried on silence; the reply must carry our request
    /// id (a late answer to an earlier try is skipped).
    pub fn request(&mut self, pdu: u8, binds: &[(Vec<u32>, Value)]) -> Result<Reply, FenceError> {
        if crate::fence::verbose() {
            let what = match pdu {
                GET => "get",
                GET_NEXT => "getnext",
                SET => "set",
                _ => "request",
            };
            let oids: Vec<String> = binds.iter().map(|(o, _)| oid_string(o)).collect();
            log::info!("{}: SNMP {what} {}", self.name, oids.join(" "));
        }
        if self.usm.is_some() {
            return self.request_v3(pdu, binds);
        }
        let id = self.next_id();
        let msg = encode_message(self.version, &self.community, pdu, id, binds);
        self.exchange(&msg, |data| {
            let (_, _, tag, reply) = decode_message(data).map_err(|w| self.malformed(&w))?;
            Ok(if tag == RESPONSE && reply.request_id == id {
                Heard::Done(reply)
            } else {
                Heard::Ignore
            })
        })
    }

    /// RFC 3414 4: an empty, unauthenticated request makes the agent tell
    /// its engine id, boots and time in a report.
    fn discover(&mut self, user: &usm::User) -> Result<usm::Engine, FenceError> {
        let id = self.next_id();
        let msg = usm::discovery_request(id, id);
        let d = self.exchange(&msg, |data| {
            let d = usm::decode(data).map_err(|w| self.malformed(&w))?;
            Ok(if d.msg_id == i64::from(id) && !d.engine_id.is_empty() {
                Heard::Done(d)
            } else {
                Heard::Ignore
            })
        })?;
        log::info!(
            "{}: SNMPv3 engine {} (boots {}, time {})",
            self.name,
            usm::hex(&d.engine_id),
            d.boots,
            d.time
        );
        Ok(user.engine(&d.engine_id, d.boots, d.time))
    }

    fn request_v3(&mut self, pdu: u8, binds: &[(Vec<u32>, Value)]) -> Result<Reply, FenceError> {
        let Some((user, engine)) = self.usm.clone() else {
            return Err(FenceError::Usage("SNMPv3 without a user".into()));
        };
        let mut engine = match engine {
            Some(e) => e,
            None => self.discover(&user)?,
        };
        // One resynchronisation: an agent whose clock we do not know yet
        // answers the first signed request with its boots and time.
        for attempt in 0..2 {
            let id = self.next_id();
            let pdu_bytes = encode_pdu(pdu, id, binds);
            let salt = (u64::from(self.next_id() as u32) << 32) | u64::from(id as u32);
            let msg = user.request(id, &engine, &pdu_bytes, salt);
            let name = self.name.clone();
            let heard: V3Answer = self.exchange(&msg, |data| {
                let d = usm::decode(data).map_err(|w| self.malformed(&w))?;
                if d.msg_id != i64::from(id) {
                    return Ok(Heard::Ignore);
                }
                let (tag, reply) = user.open(&engine, &d, &name)?;
                if tag == usm::REPORT {
                    return Ok(Heard::Done(Err((d.boots, d.time, reply))));
                }
                Ok(if tag == RESPONSE && reply.request_id == id {
                    Heard::Done(Ok(reply))
                } else {
                    Heard::Ignore
                })
            })?;
            match heard {
                Ok(reply) => {
                    self.usm = Some((user, Some(engine)));
                    return Ok(reply);
                }
                Err((boots, time, report))
                    if attempt == 0 && usm::is_report_for(&report, usm::NOT_IN_TIME_WINDOW) =>
                {
                    engine.boots = boots;
                    engine.time = time;
                    engine.at = Instant::now();
                }
                Err((_, _, report)) => return Err(usm::report_error(&report, &self.name)),
            }
        }
        Err(FenceError::Auth(format!(
            "{}: SNMPv3 clocks stay out of step (not in time window)",
            self.name
        )))
    }

    fn checked(
        &mut self,
        pdu: u8,
        binds: &[(Vec<u32>, Value)],
        what: &str,
    ) -> Result<Reply, FenceError> {
        let r = self.request(pdu, binds)?;
        if r.error_status != 0 {
            let e = error_name(r.error_status);
            let msg = format!("{} answered {e} to {what}", self.name);
            return Err(if matches!(r.error_status, 6 | 16) {
                FenceError::Auth(format!("{msg}: the community or user may not write"))
            } else {
                FenceError::Device(msg)
            });
        }
        Ok(r)
    }

    pub fn get(&mut self, o: &[u32]) -> Result<Value, FenceError> {
        let what = format!("get {}", oid_string(o));
        let r = self.checked(GET, &[(o.to_vec(), Value::Null)], &what)?;
        match r.binds.into_iter().next() {
            Some((_, Value::Missing(_))) => Err(FenceError::Device(format!(
                "{} has no object {}",
                self.name,
                oid_string(o)
            ))),
            Some((_, v)) => Ok(v),
            None => Err(FenceError::Protocol(format!(
                "{}: empty reply to {what}",
                self.name
            ))),
        }
    }

    pub fn set(&mut self, o: &[u32], v: i64) -> Result<(), FenceError> {
        let what = format!("set {} = {v}", oid_string(o));
        self.checked(SET, &[(o.to_vec(), Value::Int(v))], &what)
            .map(|_| ())
    }

    /// GetNext from `base` while the answers stay under it.
    pub fn walk(&mut self, base: &[u32]) -> Result<Vec<(Vec<u32>, Value)>, FenceError> {
        let mut out = Vec::new();
        let mut cur = base.to_vec();
        while out.len() < 4096 {
            let r = self.request(GET_NEXT, &[(cur.clone(), Value::Null)])?;
            // noSuchName from a v1 agent marks the end of its MIB.
            if r.error_status == 2 {
                break;
            }
            if r.error_status != 0 {
                return Err(FenceError::Device(format!(
                    "{} answered {} walking {}",
                    self.name,
                    error_name(r.error_status),
                    oid_string(base)
                )));
            }
            let Some((o, v)) = r.binds.into_iter().next() else {
                break;
            };
            if !o.starts_with(base) || matches!(v, Value::Missing(_)) || o <= cur {
                break;
            }
            cur = o.clone();
            out.push((o, v));
        }
        Ok(out)
    }
}

// ------------------------------------------------------------- models ----

/// Where a strip keeps outlet state and commands: `{}` in an OID is the
/// outlet number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: &'static str,
    pub status: String,
    pub control: String,
    pub names: Option<String>,
    pub state_on: i64,
    pub state_off: i64,
    pub turn_on: i64,
    pub turn_off: i64,
    /// The command value that power-cycles an outlet (`method=cycle`).
    pub turn_cycle: Option<i64>,
}

pub const SYS_OBJECT_ID: &str = ".1.3.6.1.2.1.1.2.0";

pub fn apc_rpdu() -> Model {
    Model {
        name: "APC rack PDU",
        status: ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.{}".into(),
        control: ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.{}".into(),
        names: Some(".1.3.6.1.4.1.318.1.1.12.3.5.1.1.2".into()),
        state_on: 1,
        state_off: 2,
        turn_on: 1,
        turn_off: 2,
        // rPDUOutletControlOutletCommand immediateReboot(3).
        turn_cycle: Some(3),
    }
}

pub fn apc_ms() -> Model {
    Model {
        name: "APC MasterSwitch",
        status: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.{}".into(),
        control: ".1.3.6.1.4.1.318.1.1.4.4.2.1.3.{}".into(),
        names: Some(".1.3.6.1.4.1.318.1.1.4.4.2.1.4".into()),
        state_on: 1,
        state_off: 2,
        turn_on: 1,
        turn_off: 2,
        // sPDUOutletCtl outletReboot(3).
        turn_cycle: Some(3),
    }
}

/// MasterSwitch with firmware 6: MasterSwitch state, rack PDU commands.
pub fn apc_ms6() -> Model {
    Model {
        name: "APC MasterSwitch (firmware 6)",
        control: apc_rpdu().control,
        ..apc_ms()
    }
}

/// The model for an APC sysObjectID, as fence_apc_snmp chooses it.
pub fn apc_model_for(sys_object_id: &[u32]) -> Result<Model, FenceError> {
    match oid_string(sys_object_id).as_str() {
        ".1.3.6.1.4.1.318.1.3.4.5" => Ok(apc_rpdu()),
        ".1.3.6.1.4.1.318.1.3.4.6" => Ok(apc_ms6()),
        ".1.3.6.1.4.1.318.1.3.4.4" => Err(FenceError::Usage(
            "APC MasterSwitch Plus (switch:outlet numbering) is not supported; use fence_apc_snmp"
                .into(),
        )),
        _ => Ok(apc_ms()),
    }
}

fn fill(template: &str, n: u32) -> Result<Vec<u32>, FenceError> {
    parse_oid(&template.replace("{}", &n.to_string()))
        .ok_or_else(|| FenceError::Usage(format!("'{template}' is not an OID")))
}

/// The table under which a per-outlet OID template lives.
fn table_of(template: &str) -> Option<Vec<u32>> {
    template.strip_suffix(".{}").and_then(parse_oid)
}

pub struct SnmpStrip {
    pub client: Client,
    /// `None` until detected (device=apc asks the strip what it is).
    pub model: Option<Model>,
}

impl SnmpStrip {
    fn model(&mut self) -> Result<Model, FenceError> {
        if let Some(m) = &self.model {
            return Ok(m.clone());
        }
        let id = match self
            .client
            .get(&parse_oid(SYS_OBJECT_ID).unwrap_or_default())?
        {
            Value::Oid(o) => o,
            _ => Vec::new(),
        };
        let m = apc_model_for(&id)?;
        log::info!(
            "{}: sysObjectID {} is {}",
            self.client.name,
            oid_string(&id),
            m.name
        );
        self.model = Some(m.clone());
        Ok(m)
    }

    /// An outlet number, or the outlet whose name is `plug`.
    fn outlet(&mut self, plug: &str) -> Result<u32, FenceError> {
        if let Ok(n) = plug.trim().parse::<u32>() {
            if n == 0 {
                return Err(FenceError::Usage("plug 0: outlets count from 1".into()));
            }
            return Ok(n);
        }
        let m = self.model()?;
        let names = m.names.as_deref().and_then(parse_oid).ok_or_else(|| {
            FenceError::Usage(format!(
                "plug '{plug}' is not a number and the device has no names table"
            ))
        })?;
        let mut hits = Vec::new();
        for (o, v) in self.client.walk(&names)? {
            if let (Value::Str(s), Some(n)) = (v, o.last()) {
                if String::from_utf8_lossy(&s).trim_matches('"') == plug {
                    hits.push(*n);
                }
            }
        }
        match hits.as_slice() {
            [n] => Ok(*n),
            [] => Err(FenceError::Usage(format!(
                "no outlet named '{plug}' on {}; nothing was switched",
                self.client.name
            ))),
            many => Err(FenceError::Usage(format!(
                "outlet name '{plug}' is ambiguous on {}: outlets {} all have it; use the \
                 number (nothing was switched)",
                self.client.name,
                many.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::Str(s) => String::from_utf8_lossy(s).trim().parse().ok(),
        _ => None,
    }
}

impl PowerSwitch for SnmpStrip {
    fn status(&mut self, plug: &str) -> Result<Power, FenceError> {
        let n = self.outlet(plug)?;
        let m = self.model()?;
        let o = fill(&m.status, n)?;
        let v = self.client.get(&o)?;
        match as_int(&v) {
            Some(s) if s == m.state_on => Ok(Power::On),
            Some(s) if s == m.state_off => Ok(Power::Off),
            _ => Err(FenceError::Protocol(format!(
                "{}: outlet {n} state {} is neither ON ({}) nor OFF ({})",
                self.client.name,
                match &v {
                    Value::Int(i) => i.to_string(),
                    other => format!("{other:?}").chars().take(40).collect(),
                },
                m.state_on,
                m.state_off
            ))),
        }
    }

    fn set(&mut self, plug: &str, power: Power) -> Result<(), FenceError> {
        let n = self.outlet(plug)?;
        let m = self.model()?;
        let o = fill(&m.control, n)?;
        self.client.set(
            &o,
            if power == Power::On {
                m.turn_on
            } else {
                m.turn_off
            },
        )
    }

    fn cycle(&mut self, plug: &str) -> Result<(), FenceError> {
        let n = self.outlet(plug)?;
        let m = self.model()?;
        let v = m.turn_cycle.ok_or_else(|| {
            FenceError::Usage(format!(
                "{} has no power-cycle command; use method=onoff",
                m.name
            ))
        })?;
        let o = fill(&m.control, n)?;
        self.client.set(&o, v)
    }

    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        let m = self.model()?;
        let states: Vec<(Vec<u32>, Value)> = match table_of(&m.status) {
            Some(t) => self.client.walk(&t)?,
            None => Vec::new(),
        };
        let state_of = |n: u32| {
            states
                .iter()
                .find(|(o, _)| o.last() == Some(&n))
                .and_then(|(_, v)| as_int(v))
                .and_then(|s| {
                    if s == m.state_on {
                        Some(Power::On)
                    } else if s == m.state_off {
                        Some(Power::Off)
                    } else {
                        None
                    }
                })
        };
        let mut out = Vec::new();
        if let Some(names) = m.names.as_deref().and_then(parse_oid) {
            for (o, v) in self.client.walk(&names)? {
                let Some(n) = o.last().copied() else { continue };
                let alias = match v {
                    Value::Str(s) => String::from_utf8_lossy(&s).trim_matches('"').to_string(),
                    _ => String::new(),
                };
                out.push(Outlet {
                    plug: n.to_string(),
                    alias,
                    power: state_of(n),
                });
            }
        } else {
            for (o, _) in &states {
                if let Some(n) = o.last().copied() {
                    out.push(Outlet {
                        plug: n.to_string(),
                        alias: format!("outlet{n}"),
                        power: state_of(n),
                    });
                }
            }
        }
        if out.is_empty() {
            return Err(FenceError::Protocol(format!(
                "{} lists no outlets ({})",
                self.client.name, m.name
            )));
        }
        Ok(out)
    }
}

/// A generic strip: status/control OIDs from the options. `%d` in an OID
/// stands for the outlet; without it the outlet is appended.
fn generic_model(o: &Options) -> Result<Model, FenceError> {
    let template = |s: &str| {
        let t = if s.contains("%d") {
            s.replace("%d", "{}")
        } else {
            format!("{}.{{}}", s.trim_end_matches('.'))
        };
        if parse_oid(&t.replace("{}", "1")).is_none() {
            return Err(FenceError::Usage(format!("'{s}' is not an OID")));
        }
        Ok(t)
    };
    let status = o
        .get("status_oid")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| FenceError::Usage("device=snmp needs status_oid".into()))?;
    let status = template(status)?;
    let control = match o.get("control_oid").filter(|s| !s.trim().is_empty()) {
        Some(c) => template(c)?,
        None => status.clone(),
    };
    let names = match o.get("names_oid").filter(|s| !s.trim().is_empty()) {
        Some(n) => Some(oid_string(&parse_oid(n).ok_or_else(|| {
            FenceError::Usage(format!("names_oid '{n}' is not an OID"))
        })?)),
        None => None,
    };
    let int = |k: &str| -> Result<i64, FenceError> { Ok(o.integer(k)?.unwrap_or(0)) };
    if o.get("method") == Some("cycle") && o.get("control_cycle").is_none() {
        return Err(FenceError::Usage(
            "method=cycle with device=snmp needs control_cycle, the strip's command value \
             for a power cycle (or use method=onoff)"
                .into(),
        ));
    }
    let m = Model {
        name: "generic SNMP strip",
        status,
        control,
        names,
        state_on: int("status_on")?,
        state_off: int("status_off")?,
        turn_on: int("control_on")?,
        turn_off: int("control_off")?,
        turn_cycle: o.integer("control_cycle")?,
    };
    if m.state_on == m.state_off {
        return Err(FenceError::Usage(
            "status_on and status_off must differ".into(),
        ));
    }
    Ok(m)
}

/// The SNMPv3 user from the options. Without snmp_sec_level the level
/// follows from the passwords given, as fence-agents does it.
fn v3_user(o: &Options) -> Result<usm::User, FenceError> {
    let name = o
        .get("username")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| FenceError::Usage("snmp_version=3 needs username".into()))?;
    let password = o.get("password").filter(|p| !p.is_empty());
    let priv_password = o.get("snmp_priv_passwd").filter(|p| !p.is_empty());
    let level = match o.get("snmp_sec_level") {
        Some(l) => l,
        None if priv_password.is_some() && password.is_some() => "authPriv",
        None if password.is_some() => "authNoPriv",
        None => "noAuthNoPriv",
    };
    let auth_prot = match o.get("snmp_auth_prot") {
        Some("SHA") => usm::AuthProt::Sha,
        _ => usm::AuthProt::Md5,
    };
    let priv_prot = match o.get("snmp_priv_prot") {
        Some("AES") => usm::PrivProt::Aes,
        _ => usm::PrivProt::Des,
    };
    // RFC 3414 11.2: agents refuse shorter passwords anyway.
    let checked = |what: &str, p: Option<&str>| -> Result<String, FenceError> {
        match p {
            Some(p) if p.len() >= 8 => Ok(p.to_string()),
            Some(_) => Err(FenceError::Usage(format!(
                "{what} must have at least 8 characters"
            ))),
            None => Err(FenceError::Usage(format!(
                "snmp_sec_level={level} needs {what}"
            ))),
        }
    };
    let auth = match level {
        "authNoPriv" | "authPriv" => Some((auth_prot, checked("password", password)?)),
        _ => None,
    };
    let privacy = match level {
        "authPriv" => Some((priv_prot, checked("snmp_priv_passwd", priv_password)?)),
        _ => None,
    };
    Ok(usm::User {
        name: name.to_string(),
        auth,
        privacy,
    })
}

pub fn build(
    o: &Options,
    device: &str,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<Box<dyn PowerSwitch>, FenceError> {
    let model = match device {
        "apc" => None,
        "apc-rpdu" => Some(apc_rpdu()),
        "apc-ms" => Some(apc_ms()),
        "snmp" => Some(generic_model(o)?),
        other => return Err(FenceError::Usage(format!("unknown device '{other}'"))),
    };
    let v3 = o.get("snmp_version") == Some("3");
    let version = match o.get("snmp_version").unwrap_or("1") {
        "2c" => Version::V2c,
        _ => Version::V1,
    };
    let community = o.get("community").unwrap_or("private");
    let mut client = Client::new(host, port, version, community, timeout)?;
    if v3 {
        client.usm = Some((v3_user(o)?, None));
    }
    Ok(Box::new(SnmpStrip { client, model }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn ber_round_trips() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(127), [2, 1, 127]);
        assert_eq!(int(128), [2, 2, 0, 128]);
        assert_eq!(int(-1), [2, 1, 0xff]);
        assert_eq!(int(-129), [2, 2, 0xff, 0x7f]);
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            1 << 31,
            i64::from(i32::MIN),
        ] {
            let e = int(v);
            let (t, _) = next_tlv(&e).expect("tlv");
            assert_eq!(decode_int(t.value), Ok(v));
        }
        let o = parse_oid(".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.200000").expect("oid");
        let e = oid(&o);
        assert_eq!(&e[..4], &[6, 18, 0x2b, 6]);
        let (t, _) = next_tlv(&e).expect("tlv");
        assert_eq!(decode_oid(t.value), Ok(o));
        assert!(parse_oid("1.3.x").is_none());
        assert!(parse_oid("5.1").is_none());
        let long = tlv(OCTET_STRING, &[b'a'; 300]);
        assert_eq!(&long[..4], &[4, 0x82, 1, 44]);
    }

    /// A GetResponse written out byte by byte from RFC 1157's layout: v1,
    /// community "private", sysObjectID of an APC rack PDU.
    #[test]
    fn decodes_a_response_laid_out_by_hand() {
        let hex = "3035020100040770726976617465a2270204123456780201000201003019\
                   301706082b06010201010200060b2b06010401823e01030405";
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect();
        let (ver, comm, tag, reply) = decode_message(&raw).expect("decodes");
        assert_eq!((ver, comm.as_slice(), tag), (0, &b"private"[..], RESPONSE));
        assert_eq!(reply.request_id, 0x12345678);
        assert_eq!(reply.binds[0].0, parse_oid(SYS_OBJECT_ID).expect("oid"));
        let Value::Oid(id) = &reply.binds[0].1 else {
            panic!("not an oid")
        };
        assert_eq!(apc_model_for(id).expect("model"), apc_rpdu());
    }

    #[test]
    fn encode_then_decode_a_set() {
        let o = parse_oid(".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3").expect("oid");
        let m = encode_message(
            Version::V2c,
            b"private",
            SET,
            42,
            &[(o.clone(), Value::Int(2))],
        );
        let (ver, _, tag, r) = decode_message(&m).expect("decodes");
        assert_eq!((ver, tag, r.request_id), (1, SET, 42));
        assert_eq!(r.binds, vec![(o, Value::Int(2))]);
        for bad in [
            &m[..m.len() - 1],
            &[0x30, 0x00][..],
            &[0x02, 0x01, 0x00][..],
            &[][..],
        ] {
            assert!(decode_message(bad).is_err());
        }
    }

    #[test]
    fn models_and_generic_options() {
        assert_eq!(
            apc_model_for(&[1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 6])
                .expect("ms6")
                .control,
            apc_rpdu().control
        );
        assert!(apc_model_for(&[1, 3, 6, 1, 4, 1, 318, 1, 3, 4, 4]).is_err());
        assert_eq!(
            apc_model_for(&[1, 3, 6, 1, 4, 1, 9])
                .expect("fallback")
                .name,
            "APC MasterSwitch"
        );
        let o = Options::parse_stdin(
            super::super::TABLE,
            "status_oid=.1.3.6.1.4.1.99.1.%d.2\ncontrol_oid=1.3.6.1.4.1.99.2\nstatus_on=5\nstatus_off=6\n",
        );
        let m = generic_model(&o).expect("model");
        assert_eq!(
            fill(&m.status, 3).expect("oid"),
            parse_oid(".1.3.6.1.4.1.99.1.3.2").expect("oid")
        );
        assert_eq!(
            fill(&m.control, 3).expect("oid"),
            parse_oid(".1.3.6.1.4.1.99.2.3").expect("oid")
        );
        assert_eq!(table_of(&m.control), parse_oid(".1.3.6.1.4.1.99.2"));
        assert_eq!((m.state_on, m.state_off), (5, 6));
        for bad in ["", "status_oid=nope\n", "status_oid=1.3.6\nstatus_on=2\n"] {
            assert!(
                generic_model(&Options::parse_stdin(super::super::TABLE, bad)).is_err(),
                "{bad}"
            );
        }
    }
}
