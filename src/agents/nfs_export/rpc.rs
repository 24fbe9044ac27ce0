// SPDX-License-Identifier: GPL-2.0-or-later
//! A small ONC RPC (RFC 5531) client over TCP, enough for the deep
//! monitor: the portmapper's GETPORT, a NULL call to nfsd, and mountd's
//! EXPORT call. No rpcinfo or showmount fork; every socket operation is
//! bounded by the time given. Encoding and decoding are pure functions,
//! tested on captured bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const PORTMAP: u32 = 100_000;
pub const NFS: u32 = 100_003;
pub const MOUNT: u32 = 100_005;
pub const STATUS: u32 = 100_024;
const PMAP_GETPORT: u32 = 3;
const MOUNTPROC3_EXPORT: u32 = 5;
const IPPROTO_TCP: u32 = 6;
/// Longest reply accepted: an export list of a few thousand entries.
const MAX_REPLY: usize = 1 << 20;

/// The call message with AUTH_NONE credentials and verifier, in one
/// record-marked fragment.
pub fn encode_call(xid: u32, prog: u32, vers: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(40 + args.len());
    for w in [xid, 0, 2, prog, vers, proc_, 0, 0, 0, 0] {
        body.extend_from_slice(&w.to_be_bytes());
    }
    body.extend_from_slice(args);
    let mut out = Vec::with_capacity(4 + body.len());
    let mark = 0x8000_0000u32 | u32::try_from(body.len()).unwrap_or(0);
    out.extend_from_slice(&mark.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A reader of XDR words and opaque data.
pub struct Xdr<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Xdr<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Xdr { buf, pos: 0 }
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        let b = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or("reply too short")?;
        self.pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn opaque(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()? as usize;
        let padded = len.checked_add(3).ok_or("bad length")? & !3;
        let b = self
            .buf
            .get(self.pos..self.pos + len)
            .ok_or("reply too short")?;
        if self.pos + padded > self.buf.len() {
            return Err("reply too short".into());
        }
        self.pos += padded;
        Ok(b)
    }

    pub fn string(&mut self) -> Result<String, String> {
        Ok(String::from_utf8_lossy(self.opaque()?).into_owned())
    }
}

/// Checks the reply header (matching xid, accepted, SUCCESS) and returns
/// the results that follow it.
pub fn decode_reply(xid: u32, msg: &[u8]) -> Result<&[u8], String> {
    let mut x = Xdr::new(msg);
    if x.u32()? != xid {
        return Err("reply to another call (xid mismatch)".into());
    }
    if x.u32()? != 1 {
        return Err("not a reply".into());
    }
    match x.u32()? {
        0 => {}
        1 => return Err("call denied (auth or RPC version mismatch)".into()),
        n => return Err(format!("bad reply status {n}")),
    }
    let _flavor = x.u32()?;
    let _verf = x.opaque()?;
    match x.u32()? {
        0 => Ok(&msg[x.pos..]),
        1 => Err("program unavailable".into()),
        2 => Err("program version mismatch".into()),
        3 => Err("procedure unavailable".into()),
        4 => Err("garbage arguments".into()),
        5 => Err("system error".into()),
        n => Err(format!("accept status {n}")),
    }
}

/// MOUNTPROC3_EXPORT's result: the exported directories.
pub fn decode_exports(res: &[u8]) -> Result<Vec<String>, String> {
    let mut x = Xdr::new(res);
    let mut dirs = Vec::new();
    while x.u32()? == 1 {
        dirs.push(x.string()?);
        while x.u32()? == 1 {
            let _group = x.opaque()?;
        }
        if dirs.len() > 100_000 {
            return Err("export list too long".into());
        }
    }
    Ok(dirs)
}

/// Reads one record (all its fragments) from the stream.
fn read_record(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let mut mark = [0u8; 4];
        s.read_exact(&mut mark).map_err(|e| e.to_string())?;
        let m = u32::from_be_bytes(mark);
        let len = (m & 0x7fff_ffff) as usize;
        if out.len() + len > MAX_REPLY {
            return Err("reply too long".into());
        }
        let start = out.len();
        out.resize(start + len, 0);
        s.read_exact(&mut out[start..]).map_err(|e| e.to_string())?;
        if m & 0x8000_0000 != 0 {
            return Ok(out);
        }
    }
}

fn xid() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    t ^ std::process::id().rotate_left(16)
}

/// One call over a fresh TCP connection, within `limit`.
pub fn call(
    addr: SocketAddr,
    prog: u32,
    vers: u32,
    proc_: u32,
    args: &[u8],
    limit: Duration,
) -> Result<Vec<u8>, String> {
    let started = Instant::now();
    if limit.is_zero() {
        return Err("no time left".into());
    }
    let mut s =
        TcpStream::connect_timeout(&addr, limit).map_err(|e| format!("connect {addr}: {e}"))?;
    let left = limit
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
    let id = xid();
    s.write_all(&encode_call(id, prog, vers, proc_, args))
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let msg = read_record(&mut s).map_err(|e| format!("reply from {addr}: {e}"))?;
    decode_reply(id, &msg).map(<[u8]>::to_vec)
}

/// The TCP port `prog` `vers` is registered on at the portmapper of `host`
/// (0: not registered).
pub fn getport(
    host: std::net::IpAddr,
    prog: u32,
    vers: u32,
    limit: Duration,
) -> Result<u16, String> {
    let mut args = Vec::new();
    for w in [prog, vers, IPPROTO_TCP, 0] {
        args.extend_from_slice(&w.to_be_bytes());
    }
    let res = call(
        SocketAddr::new(host, 111),
        PORTMAP,
        2,
        PMAP_GETPORT,
        &args,
        limit,
    )
    .map_err(|e| format!("portmapper: {e}"))?;
    let port = Xdr::new(&res).u32()?;
    u16::try_from(port).map_err(|_| format!("portmapper answered port {port}"))
}

/// mountd's export list, asked of the mountd registered at `host`.
pub fn mountd_exports(host: std::net::IpAddr, limit: Duration) -> Result<Vec<String>, String> {
    let started = Instant::now();
    let port = getport(host, MOUNT, 3, limit)?;
    if port == 0 {
        return Err("mountd (100005 v3) is not registered with rpcbind".into());
    }
    let res = call(
        SocketAddr::new(host, port),
        MOUNT,
        3,
        MOUNTPROC3_EXPORT,
        &[],
        limit.saturating_sub(started.elapsed()),
    )
    .map_err(|e| format!("mountd EXPORT call: {e}"))?;
    decode_exports(&res)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn call_is_record_marked_with_auth_none() {
        let c = encode_call(0x01020304, NFS, 3, 0, &[]);
        assert_eq!(c.len(), 44);
        assert_eq!(&c[..4], &[0x80, 0, 0, 40]);
        assert_eq!(&c[4..8], &[1, 2, 3, 4]);
        assert_eq!(&c[16..20], &NFS.to_be_bytes());
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_be_bytes()).collect()
    }

    #[test]
    fn reply_header_is_checked() {
        let ok = words(&[7, 1, 0, 0, 0, 0, 42]);
        assert_eq!(decode_reply(7, &ok).unwrap(), &42u32.to_be_bytes());
        assert!(decode_reply(8, &ok).unwrap_err().contains("xid"));
        let unavail = words(&[7, 1, 0, 0, 0, 1]);
        assert_eq!(
            decode_reply(7, &unavail).unwrap_err(),
            "program unavailable"
        );
        let denied = words(&[7, 1, 1, 0]);
        assert!(decode_reply(7, &denied).unwrap_err().contains("denied"));
        assert!(decode_reply(7, &[0, 0]).is_err());
    }

    #[test]
    fn export_list_decodes() {
        // Captured shape: two exports, the first with two groups.
        let mut b = words(&[1]);
        b.extend(words(&[8]));
        b.extend(b"/srv/nfs");
        b.extend(words(&[1, 15]));
        b.extend(b"192.168.77.0/24\0");
        b.extend(words(&[1, 1]));
        b.extend(b"*\0\0\0");
        b.extend(words(&[0, 1, 5]));
        b.extend(b"/data\0\0\0");
        b.extend(words(&[0, 0]));
        assert_eq!(decode_exports(&b).unwrap(), vec!["/srv/nfs", "/data"]);
        assert!(decode_exports(&words(&[1, 100])).is_err());
        assert_eq!(decode_exports(&words(&[0])).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn nothing_listening_is_an_error_not_a_hang() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let e = call(addr, NFS, 3, 0, &[], Duration::from_secs(2)).unwrap_err();
        assert!(e.contains("connect"), "{e}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let t = Instant::now();
        let e = call(addr, NFS, 3, 0, &[], Duration::from_millis(300)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(2), "{e}");
        drop(l);
    }

    #[test]
    fn a_real_exchange_over_tcp() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let rec = read_record(&mut s).unwrap();
            let id = u32::from_be_bytes([rec[0], rec[1], rec[2], rec[3]]);
            // Reply in two fragments.
            let body = words(&[id, 1, 0, 0, 0, 0]);
            let (a, b) = body.split_at(8);
            s.write_all(&(a.len() as u32).to_be_bytes()).unwrap();
            s.write_all(a).unwrap();
            s.write_all(&(0x8000_0000u32 | b.len() as u32).to_be_bytes())
                .unwrap();
            s.write_all(b).unwrap();
        });
        let r = call(addr, NFS, 3, 0, &[], Duration::from_secs(5)).unwrap();
        assert!(r.is_empty());
        h.join().unwrap();
    }
}
