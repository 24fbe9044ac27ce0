// SPDX-License-Identifier: GPL-2.0-or-later
//! A small HTTP/1.1 client for power strips' web APIs.
//!
//! These devices run tiny embedded web servers: one request per
//! connection, `Connection: close`, small bodies, sometimes chunked,
//! sometimes no Content-Length at all. So the client sends one request,
//! reads to the end of the stream (bounded in size and time) and parses
//! that, which is what the servers handle best. HTTPS goes through rustls
//! and verifies the certificate unless `ssl_insecure` is set.
//!
//! Nothing here ever puts a credential in a message: errors name the host,
//! port and API path without its query string.

use crate::fence::FenceError;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Biggest reply accepted; a power strip's status page is a few KiB.
const MAX_REPLY: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    Verify,
    Insecure,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    /// Path and query; the query may hold credentials and is never shown.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Request {
        Request {
            method: "GET",
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Request {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn body(mut self, method: &'static str, content_type: &str, body: Vec<u8>) -> Request {
        self.method = method;
        self.headers
            .push(("Content-Type".to_string(), content_type.to_string()));
        self.body = body;
        self
    }
    /// The path without its query: what messages may show.
    pub fn shown(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `%XX`-escapes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Target {
    pub fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn connect(&self) -> Result<TcpStream, FenceError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| FenceError::Connect(format!("cannot resolve {}: {e}", self.host)))?
            .collect();
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, self.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        let why = match last {
            Some(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {
                format!(
                    "no answer within {:.1}s (login_timeout)",
                    self.connect_timeout.as_secs_f64()
                )
            }
            Some(e) => e.to_string(),
            None => "no address".to_string(),
        };
        Err(FenceError::Connect(format!(
            "cannot connect to {}: {why}",
            self.name()
        )))
    }

    /// Sends one request and reads the whole reply.
    pub fn send(&self, req: &Request) -> Result<Response, FenceError> {
        let tcp = self.connect()?;
        let _ = tcp.set_nodelay(true);
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: storha-fence_ipstrip\r\nConnection: close\r\n",
            req.method,
            req.path,
            if self.host.contains(':') {
                format!("[{}]", self.host)
            } else {
                self.host.clone()
            }
        );
        for (k, v) in &req.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !req.body.is_empty() || req.method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&req.body);
        let deadline = Instant::now() + self.io_timeout;
        let raw = match self.tls {
            Tls::None => exchange(tcp, &bytes, deadline),
            Tls::Verify | Tls::Insecure => {
                let conn = tls_client(&self.host, self.tls)?;
                let stream = rustls::StreamOwned::new(conn, tcp);
                exchange(stream, &bytes, deadline)
            }
        };
        let raw = raw.map_err(|e| self.io_error(req, e))?;
        let resp = parse_response(&raw).map_err(|why| {
            FenceError::Protocol(format!(
                "malformed HTTP reply from {} for {}: {why}",
                self.name(),
                req.shown()
            ))
        })?;
        if crate::fence::verbose() {
            log::info!(
                "{} {} {}: HTTP {}, {} bytes",
                self.name(),
                req.method,
                req.shown(),
                resp.status,
                resp.body.len()
            );
        }
        Ok(resp)
    }

    fn io_error(&self, req: &Request, e: std::io::Error) -> FenceError {
        let what = format!("{} {}", req.method, req.shown());
        match e.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => FenceError::Timeout(format!(
                "no reply from {} within {:.1}s for {what} (shell_timeout)",
                self.name(),
                self.io_timeout.as_secs_f64()
            )),
            ErrorKind::InvalidData if self.tls != Tls::None => FenceError::Connect(format!(
                "TLS with {} failed: {e} (set ssl_insecure to skip certificate checks)",
                self.name()
            )),
            _ => FenceError::Connect(format!("{what} to {} failed: {e}", self.name())),
        }
    }
}

/// Writes the request, reads until the server closes, within the deadline.
fn exchange<S: Read + Write + SetTimeout>(
    mut s: S,
    req: &[u8],
    deadline: Instant,
) -> std::io::Result<Vec<u8>> {
    let left = |d: Instant| {
        let r = d.saturating_duration_since(Instant::now());
        if r.is_zero() {
            Err(std::io::Error::new(ErrorKind::TimedOut, "deadline"))
        } else {
            Ok(r)
        }
    };
    s.set_timeouts(left(deadline)?)?;
    s.write_all(req)?;
    s.flush()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        s.set_timeouts(left(deadline)?)?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > MAX_REPLY {
                    return Err(std::io::Error::new(
                        ErrorKind::InvalidData,
                        "reply too large",
                    ));
                }
            }
            // A server that closes without TLS close_notify still sent all
            // it had; the parser decides whether that was complete.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !out.is_empty() => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

trait SetTimeout {
    fn set_timeouts(&mut self, d: Duration) -> std::io::Result<()>;
}

impl SetTimeout for TcpStream {
    fn set_timeouts(&mut self, d: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(d))?;
        self.set_write_timeout(Some(d))
    }
}

impl SetTimeout for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn set_timeouts(&mut self, d: Duration) -> std::io::Result<()> {
        self.sock.set_timeouts(d)
    }
}

/// Parses a whole HTTP/1.x reply: status line, headers, then a body that
/// is chunked, sized by Content-Length, or whatever came before the close.
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            if raw.is_empty() {
                "empty reply".to_string()
            } else {
                "no end of headers".to_string()
            }
        })?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        let shown: String = status_line.chars().take(40).collect();
        return Err(format!("not an HTTP status line: '{shown}'"));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .filter(|c| (100..600).contains(c))
        .ok_or("bad status code")?;
    let mut headers = Vec::new();
    for l in lines {
        let (k, v) = l.split_once(':').ok_or("header line without ':'")?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let rest = &raw[end + 4..];
    let resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = resp
        .header("Transfer-Encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = resp.header("Content-Length") {
        let n: usize = len.trim().parse().map_err(|_| "bad Content-Length")?;
        if rest.len() < n {
            return Err(format!("body cut short ({} of {n} bytes)", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response { body, ..resp })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line missing")?;
        let line = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn tls_client(host: &str, tls: Tls) -> Result<rustls::ClientConnection, FenceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| FenceError::Usage(format!("TLS setup: {e}")))?;
    let config = if tls == Tls::Insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        // The system's own store too: strips usually carry certificates
        // from a local CA that the administrator installed there.
        for path in [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ] {
            if let Ok(pem) = std::fs::read(path) {
                for der in pem_certificates(&pem) {
                    let _ = roots.add(rustls::pki_types::CertificateDer::from(der));
                }
                break;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|_| FenceError::Usage(format!("'{host}' is not a valid TLS server name")))?;
    rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| FenceError::Connect(format!("TLS setup for {host}: {e}")))
}

/// The DER bodies of the PEM certificates in a bundle.
fn pem_certificates(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b64) = cur.take() {
                if let Some(der) = base64_decode(&b64) {
                    out.push(der);
                }
            }
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line);
        }
    }
    out
}

pub fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `ssl_insecure`: encryption without authentication of the server, which
/// the user asked for explicitly. Signatures are still checked so that the
/// handshake itself is sound.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_sized_and_chunked_replies() {
        let r =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra").expect("sized");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!(r.body, b"abcde");
        let r =
            parse_response(b"HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest a=b\r\n\r\nno")
                .expect("unsized");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Digest a=b"));
        assert_eq!(r.body, b"no");
    }

    #[test]
    fn malformed_replies_are_errors() {
        for raw in [
            &b""[..],
            b"garbage",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n",
        ] {
            assert!(
                parse_response(raw).is_err(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn encoding_and_base64() {
        assert_eq!(encode("Power1 On"), "Power1%20On");
        assert_eq!(encode("a&b=c/é"), "a%26b%3Dc%2F%C3%A9");
        assert_eq!(base64_encode(b"admin:secret"), "YWRtaW46c2VjcmV0");
        assert_eq!(base64_encode(b"ab"), "YWI=");
        assert_eq!(
            base64_decode("YWRtaW46c2VjcmV0"),
            Some(b"admin:secret".to_vec())
        );
        let r = Request::get("/cm?user=a&password=b");
        assert_eq!(r.shown(), "/cm");
    }
}
