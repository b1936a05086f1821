//! TDP discovery datagrams (UDP 20002 and 20004): a 16-byte header, all big-endian, then the
//! UTF-8 JSON body, in clear.
//!
//! ```text
//!  0        1        2                 4                 6        7        8
//! +--------+--------+-----------------+-----------------+--------+--------+
//! |version |msg_type|     op_code     |    msg_size     | flags  |padding |
//! +--------+--------+-----------------+-----------------+--------+--------+
//! |              serial               |               crc32               |
//! +-----------------------------------+-----------------------------------+ 16
//! | body: msg_size bytes of JSON ({"params":{"rsa_key":..}} or {"result":{..},"error_code":0})
//! ```
//!
//! The CRC is CRC-32 (zlib) over the whole datagram with bytes 12..16 set to [`CRC_MAGIC`]
//! (PROTOCOL.md §3.1). A reply echoes its probe's `serial`. [`TdpHeader::parse`] reads any 16
//! bytes; [`check`] says why a datagram is not a well-formed TDP message and [`heuristic`] is
//! its yes/no. [`discovery`] reads what a reply says about the device's transports, and
//! [`decrypt_encrypt_info`] the camera replies' encrypted part, for the holder of the probe's
//! RSA key.

use super::crypto::{self, CryptoError};
use super::lenient::{self, Flag, Lenient, List, Object, Strings, set, skip};
use core::fmt;
use serde::de::MapAccess;

/// Bytes of the header.
pub const HEADER_LEN: usize = 16;
/// What stands in bytes 12..16 while the CRC is computed.
pub const CRC_MAGIC: [u8; 4] = [0x5a, 0x6b, 0x7c, 0x8d];
/// The header version of every known TDP datagram.
pub const VERSION: u8 = 2;
/// `op_code` of discovery, in probe and reply.
pub const OP_DISCOVERY: u16 = 1;

mod field {
    use core::ops::{Range, RangeFrom};
    pub const VERSION: usize = 0;
    pub const MSG_TYPE: usize = 1;
    pub const OP_CODE: Range<usize> = 2..4;
    pub const MSG_SIZE: Range<usize> = 4..6;
    pub const FLAGS: usize = 6;
    pub const PADDING: usize = 7;
    pub const SERIAL: Range<usize> = 8..12;
    pub const CRC: Range<usize> = 12..16;
    pub const BODY: RangeFrom<usize> = 16..;
}

/// The 16-byte header, field by field, as the wire has it (`size` is `msg_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdpHeader {
    pub version: u8,
    pub msg_type: u8,
    pub op_code: u16,
    pub size: u16,
    pub flags: u8,
    pub padding: u8,
    pub serial: u32,
    pub crc: u32,
}

/// Why a datagram is not a well-formed TDP message ([`check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TdpError {
    /// Fewer than 16 bytes.
    TooShort { len: usize },
    /// A header version other than 2.
    Version { version: u8 },
    /// A message type other than 0.
    MsgType { msg_type: u8 },
    /// `msg_size` disagrees with the bytes after the header.
    Size { size: u16, body_len: usize },
    /// The stored CRC is not the computed one.
    Crc { stored: u32, computed: u32 },
    /// A non-empty body that does not open a JSON object.
    NotJson,
}

impl fmt::Display for TdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TdpError::TooShort { len } => write!(
                f,
                "not enough data for a TDP header: {HEADER_LEN} bytes needed, {len} present"
            ),
            TdpError::Version { version } => write!(f, "TDP version {version}, expected 2"),
            TdpError::MsgType { msg_type } => write!(f, "TDP message type {msg_type}, expected 0"),
            TdpError::Size { size, body_len } => write!(
                f,
                "TDP msg_size {size} but {body_len} bytes follow the header"
            ),
            TdpError::Crc { stored, computed } => write!(
                f,
                "TDP CRC 0x{stored:08x} does not match the computed 0x{computed:08x}"
            ),
            TdpError::NotJson => f.write_str("TDP body is not a JSON object"),
        }
    }
}

impl std::error::Error for TdpError {}

impl TdpHeader {
    /// Reads the 16-byte header (any values); Err only if fewer than 16 bytes.
    pub fn parse(buf: &[u8]) -> Result<TdpHeader, TdpError> {
        let head: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(TdpError::TooShort { len: buf.len() })?;
        let be16 =
            |r: core::ops::Range<usize>| u16::from_be_bytes([head[r.start], head[r.start + 1]]);
        let be32 = |r: core::ops::Range<usize>| {
            let s = r.start;
            u32::from_be_bytes([head[s], head[s + 1], head[s + 2], head[s + 3]])
        };
        Ok(TdpHeader {
            version: head[field::VERSION],
            msg_type: head[field::MSG_TYPE],
            op_code: be16(field::OP_CODE),
            size: be16(field::MSG_SIZE),
            flags: head[field::FLAGS],
            padding: head[field::PADDING],
            serial: be32(field::SERIAL),
            crc: be32(field::CRC),
        })
    }

    /// The header and the bytes after it (all of them, whatever `size` says).
    pub fn from_slice(buf: &[u8]) -> Result<(TdpHeader, &[u8]), TdpError> {
        let header = TdpHeader::parse(buf)?;
        Ok((header, buf.get(field::BODY).unwrap_or_default()))
    }

    /// The header bytes exactly as the fields say, `size` and `crc` included (adversarial
    /// fixtures; [`emit`](Self::emit) for a correct datagram).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[field::VERSION] = self.version;
        b[field::MSG_TYPE] = self.msg_type;
        b[field::OP_CODE].copy_from_slice(&self.op_code.to_be_bytes());
        b[field::MSG_SIZE].copy_from_slice(&self.size.to_be_bytes());
        b[field::FLAGS] = self.flags;
        b[field::PADDING] = self.padding;
        b[field::SERIAL].copy_from_slice(&self.serial.to_be_bytes());
        b[field::CRC].copy_from_slice(&self.crc.to_be_bytes());
        b
    }

    /// Writes header + body with the CRC computed (fixture generator, tests). `size` is taken
    /// from `body.len()` (saturating at 65535, which no UDP datagram reaches), `self.size` and
    /// `self.crc` are ignored.
    pub fn emit(&self, body: &[u8]) -> Vec<u8> {
        let header = TdpHeader {
            size: u16::try_from(body.len()).unwrap_or(u16::MAX),
            crc: 0,
            ..*self
        };
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&header.to_bytes());
        out.extend_from_slice(body);
        if let Some(crc) = crc(&out) {
            out[field::CRC].copy_from_slice(&crc.to_be_bytes());
        }
        out
    }
}

impl fmt::Display for TdpHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TDP v{} type={} op=0x{:04x} size={} flags=0x{:02x} serial=0x{:08x} crc=0x{:08x}",
            self.version, self.msg_type, self.op_code, self.size, self.flags, self.serial, self.crc
        )
    }
}

/// CRC-32 (zlib) over the datagram with bytes 12..16 replaced by [`CRC_MAGIC`]. `None` for a
/// datagram shorter than 16 bytes.
pub fn crc(datagram: &[u8]) -> Option<u32> {
    let before = datagram.get(..field::CRC.start)?;
    let after = datagram.get(field::CRC.end..)?;
    let mut h = crc32fast::Hasher::new();
    h.update(before);
    h.update(&CRC_MAGIC);
    h.update(after);
    Some(h.finalize())
}

/// The header of a well-formed TDP message, or what is wrong with it: at least 16 bytes,
/// version 2, message type 0, `msg_size` equal to the bytes after the header, the CRC
/// verifies, and the body is empty (the empty probe) or starts with `{`. `op_code` and `flags`
/// are not checked (PROTOCOL.md §3.1: flags vary by sender).
///
/// Version 1 is rejected: no datagram of version 1 with this header and CRC has been seen,
/// and the one known TP-Link family that starts with byte 1 (`01 F0 …`, PROTOCOL.md §3.2)
/// carries an XOR-autokeyed body, not this format. With the CRC verifying, admitting 1 later
/// would cost little; until a sample shows up, it is not TDP.
pub fn check(datagram: &[u8]) -> Result<TdpHeader, TdpError> {
    let (header, body) = TdpHeader::from_slice(datagram)?;
    if header.version != VERSION {
        return Err(TdpError::Version {
            version: header.version,
        });
    }
    if header.msg_type != 0 {
        return Err(TdpError::MsgType {
            msg_type: header.msg_type,
        });
    }
    if usize::from(header.size) != body.len() {
        return Err(TdpError::Size {
            size: header.size,
            body_len: body.len(),
        });
    }
    let computed = crc(datagram).unwrap_or_default();
    if computed != header.crc {
        return Err(TdpError::Crc {
            stored: header.crc,
            computed,
        });
    }
    if !matches!(body, [] | [b'{', ..]) {
        return Err(TdpError::NotJson);
    }
    Ok(header)
}

/// PROTOCOL.md §3.2's strong heuristic: [`check`] passes.
pub fn heuristic(datagram: &[u8]) -> bool {
    check(datagram).is_ok()
}

/// What a discovery reply says about the device and its transports (`result` of the body);
/// members of an unexpected JSON type read as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    pub device_type: Option<String>,
    pub device_model: Option<String>,
    pub device_id: Option<String>,
    pub mac: Option<String>,
    pub ip: Option<String>,
    /// `mgt_encrypt_schm.encrypt_type`: `"KLAP"`, `"AES"`, `"TPAP"`.
    pub encrypt_type: Option<String>,
    /// `mgt_encrypt_schm.http_port`.
    pub http_port: Option<u16>,
    /// `mgt_encrypt_schm.lv`, the login version.
    pub login_version: Option<u32>,
    /// `mgt_encrypt_schm.is_support_https`.
    pub is_support_https: Option<bool>,
    /// `tpap`, inside `mgt_encrypt_schm` or in `result` (the former wins).
    pub tpap: Option<Tpap>,
    /// `encrypt_info` (cameras, hubs): readable with the probe's RSA key.
    pub encrypt_info: Option<EncryptInfo>,
    /// `result.encrypt_type`: a list such as `["3"]` (numbers read as decimal text, a lone
    /// string as one element).
    pub top_encrypt_type: Vec<String>,
}

/// The `tpap` object of TPAP-capable devices (PROTOCOL.md §6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tpap {
    /// 0 none, 1 server-only, 2 mutual.
    pub tls: Option<u32>,
    pub dac: Option<bool>,
    pub noc: Option<bool>,
    /// 0 default, 2 user, 3 token.
    pub pake: Vec<u32>,
    pub port: Option<u16>,
    pub user_hash_type: Option<u32>,
}

/// `encrypt_info` = `{"sym_schm":"AES","key":"<b64>","data":"<b64>"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptInfo {
    pub sym_schm: Option<String>,
    /// RSA-OAEP(SHA1) of AES key ‖ IV, to the probe's key.
    pub key_b64: String,
    /// AES-128-CBC of a JSON object.
    pub data_b64: String,
}

/// What a discovery reply body says about the device's transports; `None` if the body is not
/// JSON or has no `result` object.
pub fn discovery(body: &[u8]) -> Option<Discovery> {
    lenient::from_slice::<ReplyDoc>(body)?.result
}

/// The probe's RSA public key (`params.rsa_key`, PEM text), if it carries one.
pub fn probe_key(body: &[u8]) -> Option<String> {
    lenient::from_slice::<ProbeDoc>(body)?.rsa_key
}

/// Decrypts `encrypt_info` with the probe's RSA private key: RSA-OAEP (SHA-1, MGF1-SHA-1) of
/// `key` gives 32 bytes, AES key ‖ IV; then AES-128-CBC/PKCS7 of `data`. Returns the
/// plaintext (a JSON object).
pub fn decrypt_encrypt_info(
    info: &EncryptInfo,
    key: &rsa::RsaPrivateKey,
) -> Result<Vec<u8>, CryptoError> {
    let wrapped = crypto::b64_decode(&info.key_b64)?;
    let key_iv = key
        .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &wrapped)
        .map_err(|_| CryptoError::Rsa)?;
    let (aes_key, iv) = split_key_iv(&key_iv)?;
    let data = crypto::b64_decode(&info.data_b64)?;
    crypto::cbc_decrypt(&aes_key, &iv, &data)
}

/// 32 bytes of AES key ‖ IV.
pub(crate) fn split_key_iv(bytes: &[u8]) -> Result<([u8; 16], [u8; 16]), CryptoError> {
    let pair: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| CryptoError::KeyLength { len: bytes.len() })?;
    let (k, iv) = pair.split_at(16);
    match (k.try_into(), iv.try_into()) {
        (Ok(k), Ok(iv)) => Ok((k, iv)),
        _ => Err(CryptoError::KeyLength { len: bytes.len() }),
    }
}

// ---------------------------------------------------------------------------------------------
// The JSON documents, read leniently.

#[derive(Default)]
struct ReplyDoc {
    result: Option<Discovery>,
}

impl Object for ReplyDoc {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "result" => set(&mut self.result, map),
            _ => skip(map),
        }
    }
}

#[derive(Default)]
struct ProbeDoc {
    rsa_key: Option<String>,
}

impl Object for ProbeDoc {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "params" => {
                let mut params: Option<Params> = None;
                set(&mut params, map)?;
                self.rsa_key = params.and_then(|p| p.rsa_key);
                Ok(())
            }
            _ => skip(map),
        }
    }
}

#[derive(Default)]
struct Params {
    rsa_key: Option<String>,
}

impl Object for Params {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "rsa_key" => set(&mut self.rsa_key, map),
            _ => skip(map),
        }
    }
}

/// `mgt_encrypt_schm`.
#[derive(Default)]
struct Scheme {
    encrypt_type: Option<String>,
    http_port: Option<u64>,
    lv: Option<u64>,
    is_support_https: Option<bool>,
    tpap: Option<Tpap>,
}

impl Object for Scheme {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "encrypt_type" => set(&mut self.encrypt_type, map),
            "http_port" => set(&mut self.http_port, map),
            "lv" => set(&mut self.lv, map),
            "is_support_https" => set(&mut self.is_support_https, map),
            "tpap" => set(&mut self.tpap, map),
            _ => skip(map),
        }
    }
}

/// `result`, member by member; [`RawResult::into_discovery`] puts it together.
#[derive(Default)]
struct RawResult {
    device_type: Option<String>,
    device_model: Option<String>,
    device_id: Option<String>,
    mac: Option<String>,
    ip: Option<String>,
    scheme: Option<Scheme>,
    tpap: Option<Tpap>,
    encrypt_info: Option<EncryptInfo>,
    encrypt_type: Option<Strings>,
}

impl Object for RawResult {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "device_type" => set(&mut self.device_type, map),
            "device_model" => set(&mut self.device_model, map),
            "device_id" => set(&mut self.device_id, map),
            "mac" => set(&mut self.mac, map),
            "ip" => set(&mut self.ip, map),
            "mgt_encrypt_schm" => set(&mut self.scheme, map),
            "tpap" => set(&mut self.tpap, map),
            "encrypt_info" => set(&mut self.encrypt_info, map),
            "encrypt_type" => set(&mut self.encrypt_type, map),
            _ => skip(map),
        }
    }
}

impl RawResult {
    fn into_discovery(self) -> Discovery {
        let scheme = self.scheme.unwrap_or_default();
        Discovery {
            device_type: self.device_type,
            device_model: self.device_model,
            device_id: self.device_id,
            mac: self.mac,
            ip: self.ip,
            encrypt_type: scheme.encrypt_type,
            http_port: scheme.http_port.and_then(|p| u16::try_from(p).ok()),
            login_version: scheme.lv.and_then(|v| u32::try_from(v).ok()),
            is_support_https: scheme.is_support_https,
            tpap: scheme.tpap.or(self.tpap),
            encrypt_info: self.encrypt_info,
            top_encrypt_type: self.encrypt_type.map(|l| l.0).unwrap_or_default(),
        }
    }
}

/// `tpap`, with `dac`/`noc` as booleans or 0/1.
#[derive(Default)]
struct RawTpap {
    tls: Option<u64>,
    dac: Option<Flag>,
    noc: Option<Flag>,
    pake: Option<List<u64>>,
    port: Option<u64>,
    user_hash_type: Option<u64>,
}

impl Object for RawTpap {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "tls" => set(&mut self.tls, map),
            "dac" => set(&mut self.dac, map),
            "noc" => set(&mut self.noc, map),
            "pake" => set(&mut self.pake, map),
            "port" => set(&mut self.port, map),
            "user_hash_type" => set(&mut self.user_hash_type, map),
            _ => skip(map),
        }
    }
}

impl Lenient for Tpap {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        let raw: Option<RawTpap> = lenient::object(map)?;
        Ok(raw.map(|t| {
            let u32_of = |v: Option<u64>| v.and_then(|v| u32::try_from(v).ok());
            Tpap {
                tls: u32_of(t.tls),
                dac: t.dac.map(|f| f.0),
                noc: t.noc.map(|f| f.0),
                pake: t
                    .pake
                    .map(|l| {
                        l.0.into_iter()
                            .filter_map(|v| u32::try_from(v).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                port: t.port.and_then(|p| u16::try_from(p).ok()),
                user_hash_type: u32_of(t.user_hash_type),
            }
        }))
    }
}

#[derive(Default)]
struct RawEncryptInfo {
    sym_schm: Option<String>,
    key: Option<String>,
    data: Option<String>,
}

impl Object for RawEncryptInfo {
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "sym_schm" => set(&mut self.sym_schm, map),
            "key" => set(&mut self.key, map),
            "data" => set(&mut self.data, map),
            _ => skip(map),
        }
    }
}

impl Lenient for EncryptInfo {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        let raw: Option<RawEncryptInfo> = lenient::object(map)?;
        Ok(raw.and_then(|r| {
            Some(EncryptInfo {
                sym_schm: r.sym_schm,
                key_b64: r.key?,
                data_b64: r.data?,
            })
        }))
    }
}

impl Lenient for Discovery {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        let raw: Option<RawResult> = lenient::object(map)?;
        Ok(raw.map(RawResult::into_discovery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::SeedableRng;
    use rsa::pkcs8::DecodePrivateKey;

    /// PROTOCOL.md §3.3: python-kasa's `DISCOVERY_QUERY_2`.
    static EMPTY_PROBE: [u8; 16] = [
        0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0x3c, 0xb5,
        0xd3,
    ];
    /// The same with flags 0x11.
    static EMPTY_PROBE_11: [u8; 16] = [
        0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8e, 0x50, 0x5f,
        0x05,
    ];
    /// The synthetic probe of §3.3: serial 0x01020304, flags 0x11, 89-byte body.
    static PROBE_HEADER: [u8; 16] = [
        0x02, 0x00, 0x00, 0x01, 0x00, 0x59, 0x11, 0x00, 0x01, 0x02, 0x03, 0x04, 0x71, 0x2e, 0x34,
        0x96,
    ];
    static PROBE_BODY: &[u8] = br#"{"params":{"rsa_key":"-----BEGIN PUBLIC KEY-----\nMFwwDQ==\n-----END PUBLIC KEY-----\n"}}"#;
    /// The real P110(FR) reply (§3.3), header and body.
    static P110_HEADER: [u8; 16] = [
        0x02, 0x00, 0x00, 0x01, 0x01, 0x93, 0x02, 0x00, 0x0b, 0x6d, 0x9b, 0x4c, 0xee, 0xaa, 0xce,
        0x3c,
    ];
    static P110_BODY: &[u8] = br#"{"result":{"device_id":"6084c1ce5aea73198f776c78210f12f8","owner":"866637D2A7BF8DEB82E5CB8BCEDFAB94","device_type":"SMART.TAPOPLUG","device_model":"P110(FR)","ip":"192.168.1.134","mac":"9C-53-22-A2-56-35","is_support_iot_cloud":true,"obd_src":"tplink","protocol_version":1,"factory_default":false,"mgt_encrypt_schm":{"is_support_https":false,"encrypt_type":"KLAP","http_port":80,"lv":2}},"error_code":0}"#;

    fn probe() -> Vec<u8> {
        [&PROBE_HEADER[..], PROBE_BODY].concat()
    }

    fn p110() -> Vec<u8> {
        [&P110_HEADER[..], P110_BODY].concat()
    }

    fn probe_repr() -> TdpHeader {
        TdpHeader {
            version: 2,
            msg_type: 0,
            op_code: 1,
            size: 89,
            flags: 0x11,
            padding: 0,
            serial: 0x0102_0304,
            crc: 0x712e_3496,
        }
    }

    #[test]
    fn test_deconstruct() {
        let p = probe();
        let (h, body) = TdpHeader::from_slice(&p).unwrap();
        assert_eq!(h, probe_repr());
        assert_eq!(body, PROBE_BODY);
        let h = TdpHeader::parse(&P110_HEADER).unwrap();
        assert_eq!(
            (h.version, h.msg_type, h.op_code, h.size, h.flags, h.padding),
            (2, 0, 1, 403, 2, 0)
        );
        assert_eq!((h.serial, h.crc), (0x0b6d_9b4c, 0xeeaa_ce3c));
        assert_eq!(
            h.to_string(),
            "TDP v2 type=0 op=0x0001 size=403 flags=0x02 serial=0x0b6d9b4c crc=0xeeaace3c"
        );
    }

    #[test]
    fn test_construct() {
        // emit ignores size and crc: poison them.
        let h = TdpHeader {
            size: 0xa5a5,
            crc: 0xa5a5_a5a5,
            ..probe_repr()
        };
        assert_eq!(h.emit(PROBE_BODY), probe());
        let empty = TdpHeader {
            flags: 0,
            serial: 0,
            ..h
        };
        assert_eq!(empty.emit(b""), EMPTY_PROBE);
        assert_eq!(
            TdpHeader {
                flags: 0x11,
                ..empty
            }
            .emit(b""),
            EMPTY_PROBE_11
        );
        assert_eq!(probe_repr().to_bytes(), PROBE_HEADER);
        assert_eq!(
            TdpHeader::parse(&P110_HEADER).unwrap().emit(P110_BODY),
            p110()
        );
    }

    #[test]
    fn test_truncated() {
        let p = probe();
        for cut in 0..HEADER_LEN {
            assert_eq!(
                TdpHeader::parse(&p[..cut]),
                Err(TdpError::TooShort { len: cut })
            );
            assert_eq!(check(&p[..cut]), Err(TdpError::TooShort { len: cut }));
            assert_eq!(crc(&p[..cut]), None);
            assert!(!heuristic(&p[..cut]));
        }
        for cut in HEADER_LEN..p.len() {
            assert_eq!(
                check(&p[..cut]),
                Err(TdpError::Size {
                    size: 89,
                    body_len: cut - HEADER_LEN
                })
            );
        }
        assert_eq!(
            TdpError::TooShort { len: 3 }.to_string(),
            "not enough data for a TDP header: 16 bytes needed, 3 present"
        );
    }

    #[test]
    fn crc_of_the_vectors() {
        assert_eq!(crc(&EMPTY_PROBE), Some(0x463c_b5d3));
        assert_eq!(crc(&EMPTY_PROBE_11), Some(0x8e50_5f05));
        assert_eq!(crc(&probe()), Some(0x712e_3496));
        assert_eq!(crc(&p110()), Some(0xeeaa_ce3c));
        // The stored CRC does not enter the computation.
        let mut zeroed = p110();
        zeroed[12..16].fill(0);
        assert_eq!(crc(&zeroed), Some(0xeeaa_ce3c));
    }

    #[test]
    fn heuristic_accepts_the_vectors() {
        for d in [&EMPTY_PROBE[..], &EMPTY_PROBE_11, &probe(), &p110()] {
            assert_eq!(check(d), TdpHeader::parse(d), "{d:02x?}");
            assert!(heuristic(d));
        }
    }

    #[test]
    fn every_flipped_bit_fails() {
        // A flipped bit anywhere is caught: in the CRC itself, in a checked field, in the body.
        let p = p110();
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut d = p.clone();
                d[i] ^= 1 << bit;
                assert!(!heuristic(&d), "byte {i} bit {bit}");
            }
        }
        let mut d = p110();
        d[100] ^= 0x20;
        assert_eq!(
            check(&d),
            Err(TdpError::Crc {
                stored: 0xeeaa_ce3c,
                computed: crc(&d).unwrap()
            })
        );
    }

    #[test]
    fn heuristic_rejections() {
        let base = probe_repr();
        assert_eq!(
            check(&TdpHeader { version: 1, ..base }.emit(PROBE_BODY)),
            Err(TdpError::Version { version: 1 })
        );
        assert_eq!(
            check(
                &TdpHeader {
                    msg_type: 0xf0,
                    ..base
                }
                .emit(PROBE_BODY)
            ),
            Err(TdpError::MsgType { msg_type: 0xf0 })
        );
        assert_eq!(check(&base.emit(b"[1]")), Err(TdpError::NotJson));
        assert_eq!(check(&base.emit(b" {}")), Err(TdpError::NotJson));
        // op_code, flags and padding are not checked.
        let odd = TdpHeader {
            op_code: 7,
            flags: 0xff,
            padding: 1,
            ..base
        };
        assert!(heuristic(&odd.emit(b"{}")));
        // A trailing byte after msg_size bytes.
        let mut long = probe();
        long.push(b' ');
        assert_eq!(
            check(&long),
            Err(TdpError::Size {
                size: 89,
                body_len: 90
            })
        );
        assert_eq!(
            TdpError::Crc {
                stored: 1,
                computed: 0xeeaa_ce3c
            }
            .to_string(),
            "TDP CRC 0x00000001 does not match the computed 0xeeaace3c"
        );
    }

    #[test]
    fn discovery_of_the_p110_reply() {
        let d = discovery(P110_BODY).unwrap();
        assert_eq!(
            d,
            Discovery {
                device_type: Some("SMART.TAPOPLUG".into()),
                device_model: Some("P110(FR)".into()),
                device_id: Some("6084c1ce5aea73198f776c78210f12f8".into()),
                mac: Some("9C-53-22-A2-56-35".into()),
                ip: Some("192.168.1.134".into()),
                encrypt_type: Some("KLAP".into()),
                http_port: Some(80),
                login_version: Some(2),
                is_support_https: Some(false),
                tpap: None,
                encrypt_info: None,
                top_encrypt_type: vec![],
            }
        );
        assert_eq!(probe_key(P110_BODY), None);
    }

    #[test]
    fn discovery_tpap_encrypt_info_and_wrong_types() {
        let body = br#"{"result":{"device_type":5,"mac":null,"ip":["x"],
            "encrypt_type":["3", 2, {}],
            "encrypt_info":{"sym_schm":"AES","key":"a2V5","data":"ZGF0YQ=="},
            "mgt_encrypt_schm":{"is_support_https":1,"encrypt_type":"TPAP","http_port":70000,"lv":-1,
                "tpap":{"tls":2,"dac":true,"noc":0,"pake":[0,2,"3",-1],"port":4433,"user_hash_type":"x"}}},
            "error_code":0}"#;
        let d = discovery(body).unwrap();
        assert_eq!(
            d,
            Discovery {
                encrypt_type: Some("TPAP".into()),
                tpap: Some(Tpap {
                    tls: Some(2),
                    dac: Some(true),
                    noc: Some(false),
                    pake: vec![0, 2],
                    port: Some(4433),
                    user_hash_type: None,
                }),
                encrypt_info: Some(EncryptInfo {
                    sym_schm: Some("AES".into()),
                    key_b64: "a2V5".into(),
                    data_b64: "ZGF0YQ==".into(),
                }),
                top_encrypt_type: vec!["3".into(), "2".into()],
                ..Discovery::default()
            }
        );
        // `tpap` in `result`; the scheme's own wins where both are present, in either order.
        let d = discovery(br#"{"result":{"tpap":{"port":80,"tls":0}}}"#).unwrap();
        assert_eq!(d.tpap.and_then(|t| t.port), Some(80));
        let both = br#"{"result":{"tpap":{"port":80},"mgt_encrypt_schm":{"tpap":{"port":4433}}}}"#;
        assert_eq!(discovery(both).unwrap().tpap.unwrap().port, Some(4433));
        let both = br#"{"result":{"mgt_encrypt_schm":{"tpap":{"port":4433}},"tpap":{"port":80}}}"#;
        assert_eq!(discovery(both).unwrap().tpap.unwrap().port, Some(4433));
        // encrypt_info needs both key and data; the scheme may be the wrong type.
        let d = discovery(br#"{"result":{"encrypt_info":{"key":"a"},"mgt_encrypt_schm":[]}}"#);
        assert_eq!(d, Some(Discovery::default()));
        // A lone string for the top-level encrypt_type.
        let d = discovery(br#"{"result":{"encrypt_type":"2"}}"#).unwrap();
        assert_eq!(d.top_encrypt_type, ["2"]);
    }

    #[test]
    fn discovery_needs_a_result_object() {
        assert_eq!(discovery(b""), None);
        assert_eq!(discovery(b"{\"result\":{}"), None);
        assert_eq!(discovery(br#"{"error_code":0}"#), None);
        assert_eq!(discovery(br#"{"result":[]}"#), None);
        assert_eq!(discovery(PROBE_BODY), None);
        assert_eq!(discovery(&P110_BODY[..200]), None);
        assert_eq!(discovery(br#"{"result":{}}"#), Some(Discovery::default()));
    }

    #[test]
    fn probe_keys() {
        assert_eq!(
            probe_key(PROBE_BODY).as_deref(),
            Some("-----BEGIN PUBLIC KEY-----\nMFwwDQ==\n-----END PUBLIC KEY-----\n")
        );
        assert_eq!(probe_key(br#"{"params":{"rsa_key":1}}"#), None);
        assert_eq!(probe_key(br#"{"params":"x"}"#), None);
        assert_eq!(probe_key(b"{}"), None);
        assert_eq!(probe_key(b""), None);
    }

    fn private_key(pem: &str) -> rsa::RsaPrivateKey {
        rsa::RsaPrivateKey::from_pkcs8_pem(pem).unwrap()
    }

    /// Builds an `encrypt_info` as a camera would: AES key ‖ IV wrapped with RSA-OAEP(SHA1) to
    /// the probe's public key, data encrypted with them.
    fn seal(key_iv: &[u8], data: &[u8], to: &rsa::RsaPrivateKey) -> EncryptInfo {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let wrapped = rsa::RsaPublicKey::from(to)
            .encrypt(&mut rng, rsa::Oaep::new::<sha1::Sha1>(), key_iv)
            .unwrap();
        let (k, iv) = split_key_iv(key_iv).unwrap_or(([0; 16], [0; 16]));
        EncryptInfo {
            sym_schm: Some("AES".into()),
            key_b64: crypto::b64_encode(&wrapped),
            data_b64: crypto::b64_encode(&crypto::cbc_encrypt(&k, &iv, data)),
        }
    }

    #[test]
    fn encrypt_info_decrypts_with_the_probe_key() {
        let key = private_key(include_str!("../../../fixtures/keys/rsa2048.pkcs8.pem"));
        // python-kasa's test_discovery_decryption key and IV (PROTOCOL.md §3.3).
        let key_iv = crypto::hex_array::<32>(
            "388902faf558731ca120489a82c7d909393df81b53cd30b58969bafd5e399ffa",
        )
        .unwrap();
        let data =
            br#"{"connect_ssid":"","connect_type":"wireless","device_id":"x","http_port":443}"#;
        let info = seal(&key_iv, data, &key);
        assert_eq!(decrypt_encrypt_info(&info, &key).unwrap(), data);

        // Another key, garbage, a 16-byte payload, a PKCS#1 v1.5 wrapping: errors, no panic.
        let other = private_key(include_str!("../../../fixtures/keys/rsa1024.pkcs8.pem"));
        assert_eq!(decrypt_encrypt_info(&info, &other), Err(CryptoError::Rsa));
        let bad = EncryptInfo {
            key_b64: "!".into(),
            ..info.clone()
        };
        assert_eq!(decrypt_encrypt_info(&bad, &key), Err(CryptoError::Base64));
        let short = seal(&key_iv[..16], data, &key);
        assert_eq!(
            decrypt_encrypt_info(&short, &key),
            Err(CryptoError::KeyLength { len: 16 })
        );
        let v15 = rsa::RsaPublicKey::from(&key)
            .encrypt(
                &mut ChaCha8Rng::seed_from_u64(1),
                rsa::Pkcs1v15Encrypt,
                &key_iv,
            )
            .unwrap();
        let v15 = EncryptInfo {
            key_b64: crypto::b64_encode(&v15),
            ..info.clone()
        };
        assert_eq!(decrypt_encrypt_info(&v15, &key), Err(CryptoError::Rsa));
        let cut = EncryptInfo {
            data_b64: crypto::b64_encode(&[0; 17]),
            ..info
        };
        assert_eq!(
            decrypt_encrypt_info(&cut, &key),
            Err(CryptoError::NotBlockAligned { len: 17 })
        );
    }
}
