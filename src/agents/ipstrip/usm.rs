// SPDX-License-Identifier: GPL-2.0-or-later
//! SNMPv3 with the user-based security model: RFC 3412 message format,
//! RFC 3414 key localisation, HMAC-MD5-96 / HMAC-SHA-96 and DES-CBC
//! privacy, RFC 3826 AES-128-CFB privacy.
//!
//! Only what a manager needs: discover the engine, sign (and encrypt)
//! requests, check (and decrypt) responses, and turn USM reports into
//! messages an operator understands (wrong password, unknown user...).

use super::snmp::{
    children, decode_int, decode_pdu, int, next_tlv, oid_string, tlv, Reply, OCTET_STRING, SEQUENCE,
};
use crate::fence::FenceError;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use std::time::Instant;

pub const REPORT: u8 = 0xa8;
const FLAG_AUTH: u8 = 1;
const FLAG_PRIV: u8 = 2;
const FLAG_REPORTABLE: u8 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProt {
    Md5,
    Sha,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProt {
    Des,
    Aes,
}

/// A user's credentials, as the options give them.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub auth: Option<(AuthProt, String)>,
    pub privacy: Option<(PrivProt, String)>,
}

/// What discovery learnt about the agent, and the user's keys for it.
#[derive(Clone)]
pub struct Engine {
    pub id: Vec<u8>,
    pub boots: i64,
    pub time: i64,
    pub at: Instant,
    pub auth_key: Vec<u8>,
    pub priv_key: Vec<u8>,
}

impl Engine {
    fn now(&self) -> i64 {
        self.time + self.at.elapsed().as_secs() as i64
    }
}

fn digest(p: AuthProt, data: &[u8]) -> Vec<u8> {
    use md5::Digest;
    match p {
        AuthProt::Md5 => Md5::digest(data).to_vec(),
        AuthProt::Sha => Sha1::digest(data).to_vec(),
    }
}

/// RFC 3414 A.2: the password repeated over one megabyte, hashed.
pub fn password_to_key(p: AuthProt, password: &str) -> Vec<u8> {
    use md5::Digest;
    let pw = password.as_bytes();
    let mut buf = Vec::with_capacity(1 << 20);
    if !pw.is_empty() {
        while buf.len() < 1 << 20 {
            buf.extend_from_slice(pw);
        }
        buf.truncate(1 << 20);
    }
    match p {
        AuthProt::Md5 => Md5::digest(&buf).to_vec(),
        AuthProt::Sha => Sha1::digest(&buf).to_vec(),
    }
}

/// RFC 3414 2.6: the key for one engine, H(Ku || engineID || Ku).
pub fn localize(p: AuthProt, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
    let mut v = ku.to_vec();
    v.extend_from_slice(engine_id);
    v.extend_from_slice(ku);
    digest(p, &v)
}

/// HMAC-MD5-96 or HMAC-SHA-96: the first 12 bytes of the HMAC.
pub fn hmac96(p: AuthProt, key: &[u8], msg: &[u8]) -> Vec<u8> {
    let full = match p {
        AuthProt::Md5 => Hmac::<Md5>::new_from_slice(key).map(|mut m| {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }),
        AuthProt::Sha => Hmac::<Sha1>::new_from_slice(key).map(|mut m| {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }),
    };
    let mut out = full.unwrap_or_default();
    out.truncate(12);
    out
}

/// DES-CBC (RFC 3414 8.1.1): key = first 8 bytes of the privacy key,
/// IV = last 8 bytes XOR salt. The plaintext is padded to 8 bytes.
pub fn des_encrypt(priv_key: &[u8], salt: &[u8; 8], plain: &[u8]) -> Vec<u8> {
    use cbc::cipher::{BlockEncryptMut, KeyIvInit};
    let mut iv = [0u8; 8];
    for i in 0..8 {
        iv[i] = priv_key.get(8 + i).copied().unwrap_or(0) ^ salt[i];
    }
    let mut data = plain.to_vec();
    while data.len() % 8 != 0 {
        data.push(0);
    }
    let key: [u8; 8] = priv_key
        .get(..8)
        .and_then(|k| k.try_into().ok())
        .unwrap_or([0; 8]);
    let n = data.len();
    cbc::Encryptor::<des::Des>::new(&key.into(), &iv.into())
        .encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut data, n)
        .map(|c| c.to_vec())
        .unwrap_or_default()
}

pub fn des_decrypt(priv_key: &[u8], salt: &[u8], cipher: &[u8]) -> Option<Vec<u8>> {
    use cbc::cipher::{BlockDecryptMut, KeyIvInit};
    if salt.len() != 8 || cipher.len() % 8 != 0 || priv_key.len() < 16 {
        return None;
    }
    let mut iv = [0u8; 8];
    for i in 0..8 {
        iv[i] = priv_key[8 + i] ^ salt[i];
    }
    let key: [u8; 8] = priv_key[..8].try_into().ok()?;
    let mut data = cipher.to_vec();
    cbc::Decryptor::<des::Des>::new(&key.into(), &iv.into())
        .decrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut data)
        .ok()
        .map(|p| p.to_vec())
}

/// AES-128-CFB (RFC 3826): IV = boots (4 bytes) || time (4) || salt (8).
pub fn aes_crypt(
    priv_key: &[u8],
    boots: i64,
    time: i64,
    salt: &[u8],
    data: &[u8],
    encrypt: bool,
) -> Option<Vec<u8>> {
    use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};
    if salt.len() != 8 || priv_key.len() < 16 {
        return None;
    }
    let mut iv = [0u8; 16];
    iv[..4].copy_from_slice(&(boots as u32).to_be_bytes());
    iv[4..8].copy_from_slice(&(time as u32).to_be_bytes());
    iv[8..].copy_from_slice(salt);
    let key: [u8; 16] = priv_key[..16].try_into().ok()?;
    let mut buf = data.to_vec();
    if encrypt {
        cfb_mode::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into()).encrypt(&mut buf);
    } else {
        cfb_mode::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into()).decrypt(&mut buf);
    }
    Some(buf)
}

/// The USM security parameters, encoded; also returns where the 12
/// authentication bytes start inside the encoding.
fn security_parameters(
    engine_id: &[u8],
    boots: i64,
    time: i64,
    user: &[u8],
    auth: bool,
    priv_params: &[u8],
) -> (Vec<u8>, usize) {
    let mut inner = tlv(OCTET_STRING, engine_id);
    inner.extend(int(boots));
    inner.extend(int(time));
    inner.extend(tlv(OCTET_STRING, user));
    let auth_value_at = inner.len() + 2;
    inner.extend(tlv(OCTET_STRING, if auth { &[0u8; 12] } else { &[] }));
    inner.extend(tlv(OCTET_STRING, priv_params));
    let seq = tlv(SEQUENCE, &inner);
    let header = seq.len() - inner.len();
    (seq, header + auth_value_at)
}

/// A v3 message around a (possibly encrypted) scoped PDU; with `auth_key`
/// the message is signed.
#[allow(clippy::too_many_arguments)]
pub fn encode(
    msg_id: i32,
    flags: u8,
    engine: Option<&Engine>,
    user: &[u8],
    auth: Option<AuthProt>,
    priv_params: &[u8],
    data: &[u8],
) -> Vec<u8> {
    let (eid, boots, time) = match engine {
        Some(e) => (e.id.as_slice(), e.boots, e.now()),
        None => (&[][..], 0, 0),
    };
    let mut header = int(msg_id as i64);
    header.extend(int(65507));
    header.extend(tlv(OCTET_STRING, &[flags]));
    header.extend(int(3));
    let header = tlv(SEQUENCE, &header);
    let (sp, auth_at) = security_parameters(eid, boots, time, user, auth.is_some(), priv_params);
    let sp_tlv = tlv(OCTET_STRING, &sp);
    let mut body = int(3);
    body.extend(&header);
    let sp_value_at = body.len() + (sp_tlv.len() - sp.len());
    body.extend(&sp_tlv);
    body.extend_from_slice(data);
    let mut msg = tlv(SEQUENCE, &body);
    let at = (msg.len() - body.len()) + sp_value_at + auth_at;
    if let (Some(p), Some(e)) = (auth, engine) {
        let mac = hmac96(p, &e.auth_key, &msg);
        msg[at..at + 12].copy_from_slice(&mac);
    }
    msg
}

/// A decoded v3 message.
pub struct Decoded {
    pub msg_id: i64,
    pub flags: u8,
    pub engine_id: Vec<u8>,
    pub boots: i64,
    pub time: i64,
    pub user: Vec<u8>,
    pub priv_params: Vec<u8>,
    /// The message with its authentication bytes zeroed, and those bytes.
    pub unsigned: Vec<u8>,
    pub mac: Vec<u8>,
    pub data: Vec<u8>,
    pub data_tag: u8,
}

fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

pub fn decode(msg: &[u8]) -> Result<Decoded, String> {
    let (top, _) = next_tlv(msg)?;
    if top.tag != SEQUENCE {
        return Err("not an SNMP message".into());
    }
    let parts = children(top.value)?;
    if parts.len() != 4 || decode_int(parts[0].value)? != 3 {
        return Err("not an SNMPv3 message".into());
    }
    let header = children(parts[1].value)?;
    if header.len() != 4 {
        return Err("bad v3 header".into());
    }
    let flags = *header[2].value.first().ok_or("no msgFlags")?;
    let (spseq, _) = next_tlv(parts[2].value)?;
    let sp = children(spseq.value)?;
    if sp.len() != 6 {
        return Err("bad USM security parameters".into());
    }
    let mut unsigned = msg.to_vec();
    let at = offset_in(msg, sp[4].value);
    let mac = sp[4].value.to_vec();
    if at + mac.len() <= unsigned.len() {
        for b in &mut unsigned[at..at + mac.len()] {
            *b = 0;
        }
    }
    Ok(Decoded {
        msg_id: decode_int(header[0].value)?,
        flags,
        engine_id: sp[0].value.to_vec(),
        boots: decode_int(sp[1].value)?,
        time: decode_int(sp[2].value)?,
        user: sp[3].value.to_vec(),
        priv_params: sp[5].value.to_vec(),
        unsigned,
        mac,
        data: parts[3].value.to_vec(),
        data_tag: parts[3].tag,
    })
}

/// The PDU inside a scoped PDU: (tag, reply).
pub fn scoped_pdu(data: &[u8]) -> Result<(u8, Reply), String> {
    let (seq, _) = next_tlv(data)?;
    if seq.tag != SEQUENCE {
        return Err("scoped PDU is not a sequence (wrong privacy password?)".into());
    }
    let parts = children(seq.value)?;
    if parts.len() != 3 {
        return Err("bad scoped PDU".into());
    }
    Ok((parts[2].tag, decode_pdu(parts[2].value)?))
}

pub fn scope(engine_id: &[u8], pdu: &[u8]) -> Vec<u8> {
    let mut v = tlv(OCTET_STRING, engine_id);
    v.extend(tlv(OCTET_STRING, b""));
    v.extend_from_slice(pdu);
    tlv(SEQUENCE, &v)
}

/// What a USM report means, in words for the operator.
pub fn report_error(reply: &Reply, peer: &str) -> FenceError {
    let oid = reply
        .binds
        .first()
        .map(|(o, _)| oid_string(o))
        .unwrap_or_default();
    let what = match oid.as_str() {
        ".1.3.6.1.6.3.15.1.1.1.0" => "the security level is not allowed for this user (snmp_sec_level)",
        ".1.3.6.1.6.3.15.1.1.2.0" => "the clocks are out of step (not in time window)",
        ".1.3.6.1.6.3.15.1.1.3.0" => "unknown SNMPv3 user (username)",
        ".1.3.6.1.6.3.15.1.1.4.0" => "unknown engine ID",
        ".1.3.6.1.6.3.15.1.1.5.0" => {
            "wrong authentication password or protocol (password, snmp_auth_prot)"
        }
        ".1.3.6.1.6.3.15.1.1.6.0" => {
            "the request could not be decrypted: wrong privacy password or protocol (snmp_priv_passwd, snmp_priv_prot)"
        }
        _ => "",
    };
    if what.is_empty() {
        FenceError::Protocol(format!("{peer} sent an unexpected SNMPv3 report ({oid})"))
    } else {
        FenceError::Auth(format!("{peer} refused the SNMPv3 request: {what}"))
    }
}

pub const NOT_IN_TIME_WINDOW: &str = ".1.3.6.1.6.3.15.1.1.2.0";

impl User {
    pub fn flags(&self) -> u8 {
        let mut f = FLAG_REPORTABLE;
        if self.auth.is_some() {
            f |= FLAG_AUTH;
        }
        if self.privacy.is_some() {
            f |= FLAG_PRIV;
        }
        f
    }

    /// The keys for an engine, from the passwords.
    pub fn engine(&self, id: &[u8], boots: i64, time: i64) -> Engine {
        let (auth_key, priv_key) = match &self.auth {
            Some((p, pw)) => {
                let ak = localize(*p, &password_to_key(*p, pw), id);
                let pk = match &self.privacy {
                    Some((_, ppw)) => localize(*p, &password_to_key(*p, ppw), id),
                    None => Vec::new(),
                };
                (ak, pk)
            }
            None => (Vec::new(), Vec::new()),
        };
        Engine {
            id: id.to_vec(),
            boots,
            time,
            at: Instant::now(),
            auth_key,
            priv_key,
        }
    }

    /// A signed, possibly encrypted request carrying `pdu`.
    pub fn request(&self, msg_id: i32, engine: &Engine, pdu: &[u8], salt: u64) -> Vec<u8> {
        let scoped = scope(&engine.id, pdu);
        let (priv_params, data) = match &self.privacy {
            Some((PrivProt::Des, _)) => {
                let mut s = [0u8; 8];
                s[..4].copy_from_slice(&(engine.boots as u32).to_be_bytes());
                s[4..].copy_from_slice(&(salt as u32).to_be_bytes());
                let c = des_encrypt(&engine.priv_key, &s, &scoped);
                (s.to_vec(), tlv(OCTET_STRING, &c))
            }
            Some((PrivProt::Aes, _)) => {
                let s = salt.to_be_bytes();
                let c = aes_crypt(
                    &engine.priv_key,
                    engine.boots,
                    engine.now(),
                    &s,
                    &scoped,
                    true,
                )
                .unwrap_or_default();
                (s.to_vec(), tlv(OCTET_STRING, &c))
            }
            None => (Vec::new(), scoped),
        };
        encode(
            msg_id,
            self.flags(),
            Some(engine),
            self.name.as_bytes(),
            self.auth.as_ref().map(|(p, _)| *p),
            &priv_params,
            &data,
        )
    }

    /// Checks and opens a response: its signature, then its encryption.
    pub fn open(
        &self,
        engine: &Engine,
        d: &Decoded,
        peer: &str,
    ) -> Result<(u8, Reply), FenceError> {
        let bad = |why: &str| FenceError::Protocol(format!("SNMPv3 reply from {peer}: {why}"));
        if d.flags & FLAG_AUTH != 0 {
            let Some((p, _)) = &self.auth else {
                return Err(bad("signed although we sent no authentication"));
            };
            if hmac96(*p, &engine.auth_key, &d.unsigned) != d.mac {
                return Err(FenceError::Auth(format!(
                    "the SNMPv3 reply from {peer} has a wrong signature (password or snmp_auth_prot do not match)"
                )));
            }
        }
        let plain = if d.flags & FLAG_PRIV != 0 {
            if d.data_tag != OCTET_STRING {
                return Err(bad("encrypted data is not an octet string"));
            }
            match &self.privacy {
                Some((PrivProt::Des, _)) => des_decrypt(&engine.priv_key, &d.priv_params, &d.data),
                Some((PrivProt::Aes, _)) => aes_crypt(
                    &engine.priv_key,
                    d.boots,
                    d.time,
                    &d.priv_params,
                    &d.data,
                    false,
                ),
                None => None,
            }
            .ok_or_else(|| bad("cannot decrypt"))?
        } else {
            tlv(d.data_tag, &d.data)
        };
        let (tag, reply) = scoped_pdu(&plain).map_err(|e| bad(&e))?;
        // A response must come at our security level: an unsigned "OFF"
        // would let anyone on the path fake a successful fencing.
        if tag != REPORT
            && d.flags & (FLAG_AUTH | FLAG_PRIV) != self.flags() & (FLAG_AUTH | FLAG_PRIV)
        {
            return Err(bad("the response is not at the requested security level"));
        }
        Ok((tag, reply))
    }
}

/// Reads the report's security parameters for discovery.
pub fn discovery_request(msg_id: i32, request_id: i32) -> Vec<u8> {
    let mut pdu = int(request_id as i64);
    pdu.extend(int(0));
    pdu.extend(int(0));
    pdu.extend(tlv(SEQUENCE, &[]));
    let pdu = tlv(super::snmp::GET, &pdu);
    encode(
        msg_id,
        FLAG_REPORTABLE,
        None,
        b"",
        None,
        &[],
        &scope(b"", &pdu),
    )
}

pub fn is_report_for(reply: &Reply, oid: &str) -> bool {
    reply.binds.first().map(|(o, _)| oid_string(o)).as_deref() == Some(oid)
}

/// For tests and messages: an engine id shown as hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3414 A.3.1 and A.3.2: "maplesyrup" for engine 000000000000000000000002.
    #[test]
    fn key_localisation_matches_rfc_3414() {
        let engine = unhex("000000000000000000000002");
        let ku = password_to_key(AuthProt::Md5, "maplesyrup");
        assert_eq!(hex(&ku), "9faf3283884e92834ebc9847d8edd963");
        assert_eq!(
            hex(&localize(AuthProt::Md5, &ku, &engine)),
            "526f5eed9fcce26f8964c2930787d82b"
        );
        let ku = password_to_key(AuthProt::Sha, "maplesyrup");
        assert_eq!(hex(&ku), "9fb5cc0381497b3793528939ff788d5d79145211");
        assert_eq!(
            hex(&localize(AuthProt::Sha, &ku, &engine)),
            "6695febc9288e36282235fc7151f128497b38f3f"
        );
    }

    #[test]
    fn privacy_round_trips() {
        let key = unhex("526f5eed9fcce26f8964c2930787d82b");
        let plain = b"scoped pdu bytes, not a multiple of eight";
        let salt = [0, 0, 0, 1, 0, 0, 0, 9];
        let c = des_encrypt(&key, &salt, plain);
        assert_eq!(c.len() % 8, 0);
        assert_ne!(&c[..8], &plain[..8]);
        let p = des_decrypt(&key, &salt, &c).unwrap();
        assert_eq!(&p[..plain.len()], plain);
        let c = aes_crypt(&key, 1, 100, &salt, plain, true).unwrap();
        assert_eq!(c.len(), plain.len());
        assert_eq!(aes_crypt(&key, 1, 100, &salt, &c, false).unwrap(), plain);
        assert_ne!(aes_crypt(&key, 1, 101, &salt, &c, false).unwrap(), plain);
    }

    #[test]
    fn signed_messages_verify_and_tampering_is_seen() {
        let user = User {
            name: "fencer".into(),
            auth: Some((AuthProt::Sha, "authpass1".into())),
            privacy: Some((PrivProt::Aes, "privpass1".into())),
        };
        let engine = user.engine(b"\x80\x00\x1f\x88\x04test", 3, 1000);
        let mut pdu = int(77);
        pdu.extend(int(0));
        pdu.extend(int(0));
        pdu.extend(tlv(SEQUENCE, &[]));
        let pdu = tlv(super::super::snmp::RESPONSE, &pdu);
        let msg = user.request(5, &engine, &pdu, 42);
        let d = decode(&msg).unwrap();
        assert_eq!((d.msg_id, d.user.as_slice()), (5, &b"fencer"[..]));
        let (tag, reply) = user.open(&engine, &d, "peer").unwrap();
        assert_eq!((tag, reply.request_id), (super::super::snmp::RESPONSE, 77));
        let mut bad = msg.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let d = decode(&bad).unwrap();
        assert!(matches!(
            user.open(&engine, &d, "peer"),
            Err(FenceError::Auth(_))
        ));
        let other = User {
            auth: Some((AuthProt::Sha, "another1".into())),
            ..user.clone()
        };
        let e2 = other.engine(&engine.id, 3, 1000);
        let d = decode(&msg).unwrap();
        assert!(other.open(&e2, &d, "peer").is_err());
    }
}
