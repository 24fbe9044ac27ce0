// SPDX-License-Identifier: GPL-2.0-or-later
//! The HTTP families: ESPurna's relay API, Tasmota's `cm?cmnd=`, Shelly
//! Gen2 RPC and NETIO's JSON API. Each one is a request builder and a reply
//! parser around the shared client; parsers are pure and tested on replies
//! as the devices write them.

use super::http::{base64_encode, encode, Request, Response, Target};
use crate::fence::{printable, FenceError, Outlet, Power, PowerSwitch};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Espurna,
    Tasmota,
    Shelly,
    Netio,
}

pub struct WebStrip {
    pub kind: Kind,
    pub target: Target,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `method=cycle`: how long the outlet stays off, where the order says.
    pub cycle_time: Duration,
    /// Outlet names as the strip reports them, read once per run.
    pub names: Option<Vec<(u32, String)>>,
}

fn parse_json(r: &Response, what: &str) -> Result<Value, FenceError> {
    serde_json::from_slice(&r.body).map_err(|_| {
        FenceError::Protocol(format!(
            "malformed reply to {what}: expected JSON, got {} bytes starting '{}'",
            r.body.len(),
            String::from_utf8_lossy(&r.body[..r.body.len().min(24)])
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
        ))
    })
}

fn power_of(v: &Value) -> Option<Power> {
    match v {
        Value::Bool(true) => Some(Power::On),
        Value::Bool(false) => Some(Power::Off),
        Value::Number(n) if n.as_i64() == Some(1) => Some(Power::On),
        Value::Number(n) if n.as_i64() == Some(0) => Some(Power::Off),
        Value::String(s) => match s.trim().to_ascii_uppercase().as_str() {
            "ON" | "1" | "TRUE" => Some(Power::On),
            "OFF" | "0" | "FALSE" => Some(Power::Off),
            _ => None,
        },
        _ => None,
    }
}

fn check_plug_number(plug: &str, min: u32) -> Result<u32, FenceError> {
    plug.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n >= min && *n < 1000)
        .ok_or_else(|| {
            FenceError::Usage(format!(
                "plug '{plug}' is not an outlet number (from {min})"
            ))
        })
}

/// ESPurna's reply to `/api/relay/N` as plain text: `0` or `1`, the relay's
/// target state. Every firmware from 1.13 on answers so when asked for
/// `text/plain` (1.13 and 1.14 answer JSON only to an Accept of exactly
/// `application/json`; 1.15 serves this endpoint as text only and answers
/// 406 to an Accept without `text/plain` or `*/*`).
pub fn espurna_text_state(body: &str) -> Option<Power> {
    match body.trim() {
        "1" => Some(Power::On),
        "0" => Some(Power::Off),
        _ => None,
    }
}

/// ESPurna 1.15's all-relays endpoint `/api/relay` (JSON only):
/// `{"relayStatus":[1,0,...]}`, relay 0 first. 1.13 and 1.14 have no such
/// endpoint (404).
pub fn espurna_relay_status(v: &Value) -> Option<Vec<Option<Power>>> {
    let list = v.get("relayStatus")?.as_array()?;
    Some(list.iter().map(power_of).collect())
}

/// ESPurna counts at most this many relays (1.15's RelaysMax).
const ESPURNA_RELAYS_MAX: u32 = 32;

/// Tasmota: `{"POWER1":"ON"}`; a single-relay device answers `POWER`.
pub fn tasmota_state(r: &Value, relay: u32) -> Option<Power> {
    r.get(format!("POWER{relay}"))
        .or_else(|| if relay == 1 { r.get("POWER") } else { None })
        .and_then(power_of)
}

pub fn tasmota_list(r: &Value) -> Vec<Outlet> {
    let mut out: Vec<(u32, Outlet)> = Vec::new();
    if let Some(map) = r.as_object() {
        for (k, v) in map {
            let n = if k == "POWER" {
                Some(1)
            } else {
                k.strip_prefix("POWER").and_then(|n| n.parse::<u32>().ok())
            };
            if let Some(n) = n {
                out.push((
                    n,
                    Outlet {
                        plug: n.to_string(),
                        alias: format!("relay{n}"),
                        power: power_of(v),
                    },
                ));
            }
        }
    }
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, o)| o).collect()
}

/// Tasmota `Status`: `{"Status":{..,"FriendlyName":["a","b"],..}}`, one
/// name per relay, relay 1 first.
pub fn tasmota_names(r: &Value) -> Option<Vec<(u32, String)>> {
    let names = r.get("Status")?.get("FriendlyName")?.as_array()?;
    Some(
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((i as u32 + 1, n.as_str()?.to_string())))
            .collect(),
    )
}

/// Shelly Gen2 `Shelly.GetConfig`: one `switch:N` object per output, with
/// the `name` set in the device (null when none is).
pub fn shelly_names(r: &Value) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    if let Some(map) = r.as_object() {
        for (k, v) in map {
            let id = k
                .strip_prefix("switch:")
                .and_then(|n| n.parse::<u32>().ok());
            if let (Some(id), Some(name)) = (id, v.get("name").and_then(Value::as_str)) {
                out.push((id, name.to_string()));
            }
        }
    }
    out.sort_by_key(|(n, _)| *n);
    out
}

/// The outlet called `name` in `names`: exactly one, or an error that says
/// which names there are (none matched) or which outlets share it.
pub fn outlet_named(names: &[(u32, String)], name: &str, device: &str) -> Result<u32, FenceError> {
    let hits: Vec<u32> = names
        .iter()
        .filter(|(_, n)| n.trim() == name)
        .map(|(i, _)| *i)
        .collect();
    let shown = |s: &str| printable(s, 40);
    match hits.as_slice() {
        [n] => Ok(*n),
        [] => {
            let known: Vec<String> = names
                .iter()
                .filter(|(_, n)| !n.trim().is_empty())
                .take(16)
                .map(|(i, n)| format!("{i}={}", shown(n)))
                .collect();
            Err(FenceError::Usage(format!(
                "no outlet named '{}' on {device} ({}); nothing was switched",
                shown(name),
                if known.is_empty() {
                    "it reports no outlet names".to_string()
                } else {
                    format!("it has {}", known.join(", "))
                }
            )))
        }
        many => {
            Err(FenceError::Usage(format!(
            "outlet name '{}' is ambiguous on {device}: outlets {} all have it; use the number \
             (nothing was switched)",
            shown(name),
            many.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        )))
        }
    }
}

/// Tasmota's answer to a command it does not take: `{"Command":"Unknown"}`
/// or `{"Command":"Error"}`.
fn tasmota_refused(r: &Value) -> Option<&str> {
    r.get("Command").and_then(Value::as_str)
}

/// Tasmota's answer to missing or wrong credentials:
/// `{"WARNING":"Need user=<username>&password=<password>"}`, with HTTP 401
/// from current firmware and HTTP 200 from older firmware.
pub fn tasmota_needs_login(r: &Value) -> bool {
    r.get("WARNING")
        .and_then(Value::as_str)
        .is_some_and(|w| w.starts_with("Need user="))
}

/// Shelly Gen2: `Switch.GetStatus` answers `{"id":0,"output":true,...}`.
pub fn shelly_state(r: &Value) -> Option<Power> {
    r.get("output").and_then(power_of)
}

/// `Shelly.GetStatus` holds one `switch:N` object per output.
pub fn shelly_list(r: &Value) -> Vec<Outlet> {
    let mut out: Vec<(u32, Outlet)> = Vec::new();
    if let Some(map) = r.as_object() {
        for (k, v) in map {
            if let Some(n) = k
                .strip_prefix("switch:")
                .and_then(|n| n.parse::<u32>().ok())
            {
                out.push((
                    n,
                    Outlet {
                        plug: n.to_string(),
                        alias: k.clone(),
                        power: v.get("output").and_then(power_of),
                    },
                ));
            }
        }
    }
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, o)| o).collect()
}

/// NETIO JSON API: `Outputs` is a list of `{"ID":1,"Name":"..","State":1}`.
pub fn netio_outputs(r: &Value) -> Option<Vec<Outlet>> {
    let outs = r.get("Outputs")?.as_array()?;
    let mut list = Vec::new();
    for o in outs {
        let id = o.get("ID")?.as_u64()?;
        list.push(Outlet {
            plug: id.to_string(),
            alias: o
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            power: o.get("State").and_then(power_of),
        });
    }
    Some(list)
}

/// The parameters of a `WWW-Authenticate: Digest ...` challenge.
pub fn digest_params(h: &str) -> Option<Vec<(String, String)>> {
    let rest = h.trim().strip_prefix("Digest")?.trim();
    let mut out = Vec::new();
    let mut s = rest;
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        out.push((k, v.to_string()));
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(out)
}

fn hex_sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RFC 7616 digest response with SHA-256 and qop=auth, what Shelly Gen2
/// devices require. Returns the `Authorization` header value.
pub fn digest_authorization(
    challenge: &[(String, String)],
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
) -> Result<String, String> {
    let get = |k: &str| {
        challenge
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let realm = get("realm").ok_or("digest challenge without realm")?;
    let nonce = get("nonce").ok_or("digest challenge without nonce")?;
    let alg = get("algorithm").unwrap_or("SHA-256");
    if !alg.eq_ignore_ascii_case("SHA-256") {
        return Err(format!(
            "digest algorithm {alg} is not supported (SHA-256 only)"
        ));
    }
    let nc = "00000001";
    let ha1 = hex_sha256(&format!("{user}:{realm}:{password}"));
    let ha2 = hex_sha256(&format!("{method}:{uri}"));
    let response = hex_sha256(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let mut h = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         algorithm=SHA-256, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    );
    if let Some(o) = get("opaque") {
        h.push_str(&format!(", opaque=\"{o}\""));
    }
    Ok(h)
}

fn cnonce() -> String {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}{:x}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
        t & 0xffff
    )
}

/// `list` shows the strip's name for an outlet where it has one.
fn name_outlets(list: &mut [Outlet], names: &[(u32, String)]) {
    for o in list.iter_mut() {
        if let Some((_, n)) = names
            .iter()
            .find(|(i, n)| i.to_string() == o.plug && !n.trim().is_empty())
        {
            o.alias = n.trim().to_string();
        }
    }
}

impl WebStrip {
    fn password(&self) -> &str {
        self.password.as_deref().unwrap_or("")
    }

    /// Sends a request, with Basic or Digest credentials as the family
    /// wants, and turns HTTP errors into messages that say what to check.
    fn call(&self, req: Request, what: &str) -> Result<Response, FenceError> {
        let r = self.send(req)?;
        self.check(r, what)
    }

    /// Sends a request with the family's credentials; any HTTP status.
    fn send(&self, mut req: Request) -> Result<Response, FenceError> {
        if self.kind == Kind::Netio {
            if let Some(u) = &self.username {
                let cred = base64_encode(format!("{u}:{}", self.password()).as_bytes());
                req = req.header("Authorization", &format!("Basic {cred}"));
            }
        }
        let mut r = self.target.send(&req)?;
        if r.status == 401 && self.kind == Kind::Shelly && self.password.is_some() {
            let challenge = r
                .header("WWW-Authenticate")
                .and_then(digest_params)
                .ok_or_else(|| {
                    FenceError::Protocol(format!(
                        "{} asked for credentials without a digest challenge",
                        self.target.name()
                    ))
                })?;
            let user = self.username.as_deref().unwrap_or("admin");
            let auth = digest_authorization(
                &challenge,
                user,
                self.password(),
                req.method,
                &req.path,
                &cnonce(),
            )
            .map_err(FenceError::Protocol)?;
            r = self
                .target
                .send(&req.clone().header("Authorization", &auth))?;
        }
        Ok(r)
    }

    /// A 2xx reply, or the error its status means.
    fn check(&self, r: Response, what: &str) -> Result<Response, FenceError> {
        match r.status {
            200..=299 => Ok(r),
            401 | 403 => Err(FenceError::Auth(format!(
                "{} refused the credentials for {what} (HTTP {}): check username and password",
                self.target.name(),
                r.status
            ))),
            s => {
                let detail = printable(&r.text(), 120);
                Err(FenceError::Device(format!(
                    "{} answered HTTP {s} to {what}{}{}",
                    self.target.name(),
                    if detail.is_empty() { "" } else { ": " },
                    detail
                )))
            }
        }
    }

    fn refused(&self, what: &str, r: &Response) -> FenceError {
        let body = printable(&r.text(), 80);
        FenceError::Device(format!("{} refused {what}: '{body}'", self.target.name()))
    }

    fn bad(&self, what: &str, r: &Response) -> FenceError {
        let body = printable(&r.text(), 80);
        FenceError::Protocol(format!(
            "malformed reply from {} to {what}: '{body}'",
            self.target.name()
        ))
    }

    fn tasmota_cmd(&self, cmnd: &str) -> Request {
        let mut q = String::from("/cm?");
        if let Some(p) = &self.password {
            q.push_str(&format!(
                "user={}&password={}&",
                encode(self.username.as_deref().unwrap_or("admin")),
                encode(p)
            ));
        }
        q.push_str(&format!("cmnd={}", encode(cmnd)));
        Request::get(q)
    }

    /// An ESPurna API request. GET carries `apikey` in the query; PUT carries
    /// it and `value` in a form body, where both firmware generations read
    /// them (neither takes POST, and 1.15 takes PUT only as exactly
    /// `application/x-www-form-urlencoded`).
    fn espurna(&self, path: &str, value: Option<u8>, accept: &str) -> Request {
        let key = encode(self.password());
        match value {
            None => Request::get(format!("{path}?apikey={key}")),
            Some(v) => Request::get(path).body(
                "PUT",
                "application/x-www-form-urlencoded",
                format!("apikey={key}&value={v}").into_bytes(),
            ),
        }
        .header("Accept", accept)
    }

    /// One relay's state, asked for as text (both generations).
    fn espurna_relay(&self, n: u32, value: Option<u8>, what: &str) -> Result<Power, FenceError> {
        let req = self.espurna(&format!("/api/relay/{n}"), value, "text/plain");
        let r = self.call(req, what)?;
        espurna_text_state(&r.text()).ok_or_else(|| self.bad(what, &r))
    }

    /// All relays: 1.15's `/api/relay` in one request; where the device has
    /// no such endpoint (1.13, 1.14: 404), relay by relay from 0 until one
    /// does not exist (404 on 1.13 and 1.14, 500 on 1.15).
    fn espurna_list(&self) -> Result<Vec<Option<Power>>, FenceError> {
        let what = "relay list (/api/relay)";
        let r = self.send(self.espurna("/api/relay", None, "application/json"))?;
        if r.status != 404 {
            let r = self.check(r, what)?;
            let v = parse_json(&r, what)?;
            return espurna_relay_status(&v).ok_or_else(|| self.bad(what, &r));
        }
        let mut out = Vec::new();
        for n in 0..ESPURNA_RELAYS_MAX {
            let what = format!("relay {n} status");
            let r = self.send(self.espurna(&format!("/api/relay/{n}"), None, "text/plain"))?;
            if n > 0 && (r.status == 404 || r.status == 500) {
                break;
            }
            let r = self.check(r, &what)?;
            out.push(Some(
                espurna_text_state(&r.text()).ok_or_else(|| self.bad(&what, &r))?,
            ));
        }
        Ok(out)
    }

    /// Outlet names as the strip reports them (cached for the run).
    fn names(&mut self) -> Result<Vec<(u32, String)>, FenceError> {
        if let Some(n) = &self.names {
            return Ok(n.clone());
        }
        let names = match self.kind {
            // Relay names (relayName) only go out over MQTT.
            Kind::Espurna => Vec::new(),
            // Firmware without a FriendlyName list answers Status all the
            // same; its outlets then have numbers only.
            Kind::Tasmota => tasmota_names(&self.tasmota("Status")?.1).unwrap_or_default(),
            Kind::Shelly => {
                let what = "Shelly.GetConfig";
                let r = self.call(Request::get("/rpc/Shelly.GetConfig"), what)?;
                shelly_names(&parse_json(&r, what)?)
            }
            Kind::Netio => self
                .netio_status()?
                .into_iter()
                .filter_map(|o| Some((o.plug.parse().ok()?, o.alias)))
                .collect(),
        };
        self.names = Some(names.clone());
        Ok(names)
    }

    /// One Tasmota command and its JSON reply. Older firmware refuses a
    /// wrong password with HTTP 200 and a warning instead of 401; that is a
    /// credentials error too.
    fn tasmota(&self, what: &str) -> Result<(Response, Value), FenceError> {
        let r = self.call(self.tasmota_cmd(what), what)?;
        let v = parse_json(&r, what)?;
        if tasmota_needs_login(&v) {
            return Err(FenceError::Auth(format!(
                "{} refused the credentials for {what} (\"Need user=...&password=...\"): \
                 check username and password",
                self.target.name()
            )));
        }
        // An index the device does not have, or an argument it does not
        // take: {"Command":"Error"} (or "Unknown").
        if tasmota_refused(&v).is_some() {
            return Err(self.refused(what, &r));
        }
        Ok((r, v))
    }

    /// One Tasmota order; a reply that says Unknown or Error is a refusal.
    /// Backlog is queued unchecked and answered `{}` (older firmware: a
    /// warning to enable weblog): the outlet is watched to see it done.
    fn tasmota_order(&mut self, what: String) -> Result<(), FenceError> {
        self.tasmota(&what).map(|_| ())
    }

    /// Shelly Gen2 `Switch.Set` of switch `n` with the given query
    /// arguments; a reply without `was_on` is not Shelly's.
    fn shelly_switch_set(&mut self, n: u32, args: &str) -> Result<(), FenceError> {
        let what = format!("Switch.Set id={n} {}", args.replace('&', " "));
        let r = self.call(
            Request::get(format!("/rpc/Switch.Set?id={n}&{args}")),
            &what,
        )?;
        let v = parse_json(&r, &what)?;
        if v.get("was_on").is_none() {
            return Err(self.bad(&what, &r));
        }
        Ok(())
    }

    /// A NETIO JSON API action (0 off, 1 on, 2 short off) on output `n`.
    fn netio_action(&mut self, n: u32, action: u8, what: &str) -> Result<(), FenceError> {
        let body = serde_json::json!({"Outputs": [{"ID": n, "Action": action}]});
        let r = self.send(Request::get("/netio.json").body(
            "POST",
            "application/json",
            body.to_string().into_bytes(),
        ))?;
        // The JSON API answers 403 to a write by a user it lets only read.
        if r.status == 403 {
            return Err(FenceError::Auth(format!(
                "{} refused {what} (HTTP 403): the JSON API user may only read; give a user \
                 with write access",
                self.target.name()
            )));
        }
        let r = self.check(r, what)?;
        parse_json(&r, what).map(|_| ())
    }

    /// The outlet a plug means: a number as the family counts them, or a
    /// name the strip reports. Numbers always mean numbers.
    fn outlet(&mut self, plug: &str) -> Result<u32, FenceError> {
        let p = plug.trim();
        let min = match self.kind {
            Kind::Espurna | Kind::Shelly => 0,
            Kind::Tasmota | Kind::Netio => 1,
        };
        if p.parse::<u32>().is_ok() || p.is_empty() {
            return check_plug_number(p, min);
        }
        if self.kind == Kind::Espurna {
            return Err(FenceError::Usage(format!(
                "plug '{}' is not a relay number (from 0): ESPurna's HTTP API does not report \
                 relay names, so outlets can only be given by number",
                printable(p, 40)
            )));
        }
        let names = self.names()?;
        outlet_named(&names, p, &self.target.name())
    }

    fn netio_status(&self) -> Result<Vec<Outlet>, FenceError> {
        let r = self.call(Request::get("/netio.json"), "GET /netio.json")?;
        let v = parse_json(&r, "GET /netio.json")?;
        netio_outputs(&v).ok_or_else(|| self.bad("GET /netio.json (no Outputs list)", &r))
    }
}

impl PowerSwitch for WebStrip {
    fn status(&mut self, plug: &str) -> Result<Power, FenceError> {
        match self.kind {
            Kind::Espurna => {
                let n = self.outlet(plug)?;
                self.espurna_relay(n, None, &format!("relay {n} status"))
            }
            Kind::Tasmota => {
                let n = self.outlet(plug)?;
                let what = format!("Power{n}");
                let (r, v) = self.tasmota(&what)?;
                tasmota_state(&v, n).ok_or_else(|| self.bad(&what, &r))
            }
            Kind::Shelly => {
                let n = self.outlet(plug)?;
                let what = format!("Switch.GetStatus id={n}");
                let r = self.call(Request::get(format!("/rpc/Switch.GetStatus?id={n}")), &what)?;
                let v = parse_json(&r, &what)?;
                shelly_state(&v).ok_or_else(|| self.bad(&what, &r))
            }
            Kind::Netio => {
                let n = self.outlet(plug)?;
                self.netio_status()?
                    .into_iter()
                    .find(|o| o.plug == n.to_string())
                    .ok_or_else(|| {
                        FenceError::Usage(format!("{} has no output {n}", self.target.name()))
                    })?
                    .power
                    .ok_or_else(|| {
                        FenceError::Protocol(format!(
                            "{} reports no State for output {n}",
                            self.target.name()
                        ))
                    })
            }
        }
    }

    fn set(&mut self, plug: &str, power: Power) -> Result<(), FenceError> {
        let on = power == Power::On;
        match self.kind {
            Kind::Espurna => {
                let n = self.outlet(plug)?;
                // The reply is the relay's target state; the loop confirms
                // by reading it back anyway.
                self.espurna_relay(n, Some(u8::from(on)), &format!("relay {n} {power}"))
                    .map(|_| ())
            }
            Kind::Tasmota => {
                let n = self.outlet(plug)?;
                self.tasmota_order(format!("Power{n} {}", if on { "On" } else { "Off" }))
            }
            Kind::Shelly => {
                let n = self.outlet(plug)?;
                self.shelly_switch_set(n, &format!("on={on}"))
            }
            Kind::Netio => {
                let n = self.outlet(plug)?;
                self.netio_action(n, u8::from(on), &format!("output {n} {power}"))
            }
        }
    }

    fn cycle(&mut self, plug: &str) -> Result<(), FenceError> {
        let secs = self.cycle_time.as_secs_f64();
        match self.kind {
            Kind::Espurna => Err(FenceError::Usage(
                "method=cycle: ESPurna's HTTP API has no power-cycle order; use method=onoff"
                    .into(),
            )),
            // Backlog runs the commands in order on the device, Delay in
            // tenths of a second (2 to 3600), as Tasmota documents it.
            Kind::Tasmota => {
                let n = self.outlet(plug)?;
                let tenths = ((secs * 10.0).round() as u32).clamp(2, 3600);
                self.tasmota_order(format!("Backlog Power{n} Off; Delay {tenths}; Power{n} On"))
            }
            // toggle_after: the device flips the output back after that
            // many seconds.
            Kind::Shelly => {
                let n = self.outlet(plug)?;
                self.shelly_switch_set(n, &format!("on=false&toggle_after={secs:.1}"))
            }
            // Action 2, short OFF: off for the output's Delay, then on.
            Kind::Netio => {
                let n = self.outlet(plug)?;
                self.netio_action(n, 2, &format!("output {n} short OFF"))
            }
        }
    }

    /// Tasmota's Delay and Shelly's toggle_after carry the off time; NETIO's
    /// short off lasts the output's own Delay, set in the strip.
    fn cycle_off_time(&self) -> Option<Duration> {
        match self.kind {
            Kind::Tasmota | Kind::Shelly => Some(self.cycle_time),
            Kind::Espurna | Kind::Netio => None,
        }
    }

    fn list(&mut self) -> Result<Vec<Outlet>, FenceError> {
        match self.kind {
            Kind::Espurna => Ok(self
                .espurna_list()?
                .into_iter()
                .enumerate()
                .map(|(i, power)| Outlet {
                    plug: i.to_string(),
                    alias: format!("relay{i}"),
                    power,
                })
                .collect()),
            Kind::Tasmota => {
                let (r, v) = self.tasmota("Power0")?;
                let mut l = tasmota_list(&v);
                if l.is_empty() {
                    return Err(self.bad("Power0", &r));
                }
                let names = self.names()?;
                name_outlets(&mut l, &names);
                Ok(l)
            }
            Kind::Shelly => {
                let what = "Shelly.GetStatus";
                let r = self.call(Request::get("/rpc/Shelly.GetStatus"), what)?;
                let v = parse_json(&r, what)?;
                let mut l = shelly_list(&v);
                if l.is_empty() {
                    return Err(self.bad(what, &r));
                }
                let names = self.names()?;
                name_outlets(&mut l, &names);
                Ok(l)
            }
            Kind::Netio => self.netio_status(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn device_replies() {
        assert_eq!(espurna_text_state("1"), Some(Power::On));
        assert_eq!(espurna_text_state("0\r\n"), Some(Power::Off));
        // 1.14's JSON reply, or 1.15's 406 body, is not a relay state.
        assert_eq!(espurna_text_state("{ \"relay/0\": 1 }"), None);
        assert_eq!(espurna_text_state("text/plain"), None);
        assert_eq!(espurna_text_state("2"), None);
        assert_eq!(
            espurna_relay_status(&json!({"relayStatus": [1, 0, 1]})),
            Some(vec![Some(Power::On), Some(Power::Off), Some(Power::On)])
        );
        assert_eq!(espurna_relay_status(&json!({"relay": [1, 0]})), None);
        assert_eq!(
            tasmota_state(&json!({"POWER2": "OFF"}), 2),
            Some(Power::Off)
        );
        assert_eq!(tasmota_state(&json!({"POWER": "ON"}), 1), Some(Power::On));
        assert_eq!(tasmota_state(&json!({"POWER": "ON"}), 2), None);
        assert_eq!(tasmota_state(&json!({"WARNING": "Need user"}), 1), None);
        assert!(tasmota_needs_login(
            &json!({"WARNING": "Need user=<username>&password=<password>"})
        ));
        // Backlog's answer on firmware before 12.0 is no refusal.
        assert!(!tasmota_needs_login(
            &json!({"WARNING": "Enable weblog 2 if response expected"})
        ));
        let l = tasmota_list(&json!({"POWER2": "OFF", "POWER1": "ON", "Other": 1}));
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].plug.as_str(), l[0].power), ("1", Some(Power::On)));
        assert_eq!(
            shelly_state(&json!({"id": 0, "source": "init", "output": false, "apower": 0.0})),
            Some(Power::Off)
        );
        assert_eq!(shelly_state(&json!({"code": -105, "message": "x"})), None);
        let l = shelly_list(
            &json!({"sys": {}, "switch:1": {"output": true}, "switch:0": {"output": false}}),
        );
        assert_eq!(l[0].alias, "switch:0");
        assert_eq!(l[1].power, Some(Power::On));
        let n = netio_outputs(&json!({"Agent": {}, "Outputs": [
            {"ID": 1, "Name": "node1", "State": 1, "Action": 6},
            {"ID": 2, "Name": "node2", "State": 0, "Action": 6}]}))
        .expect("outputs");
        assert_eq!(n[1].alias, "node2");
        assert_eq!(n[1].power, Some(Power::Off));
        assert!(netio_outputs(&json!({"Outputs": [{"Name": "x"}]})).is_none());
    }

    #[test]
    fn outlet_names_as_the_firmware_reports_them() {
        let t = tasmota_names(&json!({"Status": {"Module": 0, "DeviceName": "pdu",
            "FriendlyName": ["web", "db", ""], "Power": "101"}}))
        .expect("names");
        assert_eq!(t, vec![(1, "web".into()), (2, "db".into()), (3, "".into())]);
        assert!(tasmota_names(&json!({"Command": "Unknown"})).is_none());
        let s = shelly_names(&json!({"sys": {}, "switch:1": {"id": 1, "name": "db"},
            "switch:0": {"id": 0, "name": "web"}, "switch:2": {"id": 2, "name": null}}));
        assert_eq!(s, vec![(0, "web".into()), (1, "db".into())]);
        let names = vec![(1, "web".into()), (2, "db".into()), (3, "web".into())];
        assert_eq!(outlet_named(&names, "db", "h"), Ok(2));
        let e = outlet_named(&names, "web", "h").expect_err("ambiguous");
        assert!(
            e.to_string().contains("ambiguous on h: outlets 1, 3"),
            "{e}"
        );
        let e = outlet_named(&names, "dB", "h").expect_err("exact match only");
        assert!(e.to_string().contains("it has 1=web, 2=db, 3=web"), "{e}");
        let e = outlet_named(&[], "x\u{1b}[2J", "h").expect_err("none");
        assert!(e.to_string().contains("reports no outlet names"), "{e}");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
        let mut l = tasmota_list(&json!({"POWER1": "ON", "POWER2": "OFF", "POWER3": "ON"}));
        name_outlets(&mut l, &t);
        let aliases: Vec<&str> = l.iter().map(|o| o.alias.as_str()).collect();
        assert_eq!(aliases, ["web", "db", "relay3"], "no name: the old alias");
    }

    #[test]
    fn digest_like_rfc_7616() {
        let c = digest_params(
            "Digest qop=\"auth\", realm=\"shellypro4pm-f008d1d8b8b8\", nonce=\"60dc59c6\", algorithm=SHA-256",
        )
        .expect("challenge");
        assert_eq!(
            c[1],
            ("realm".to_string(), "shellypro4pm-f008d1d8b8b8".to_string())
        );
        assert_eq!(c[3], ("algorithm".to_string(), "SHA-256".to_string()));
        let h = digest_authorization(
            &c,
            "admin",
            "pw",
            "GET",
            "/rpc/Switch.GetStatus?id=0",
            "abc",
        )
        .expect("header");
        // The expected response, computed independently with sha256sum.
        assert!(
            h.contains(
                "response=\"64af9650f883286753c5d3c4fb7455e165034805851bc244efc2816cb872722c\""
            ),
            "{h}"
        );
        assert!(!h.contains("pw\""));
        assert!(
            digest_authorization(&[("realm".into(), "r".into())], "a", "b", "GET", "/", "c")
                .is_err()
        );
        assert!(digest_params("Basic realm=x").is_none());
    }
}
