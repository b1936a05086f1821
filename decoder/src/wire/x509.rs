//! The names in an X.509 certificate (RFC 5280 §4.1), read from its DER bytes: what a
//! dissector shows of a TLS server's certificate and what identifies TP-Link's cloud.
//!
//! ```text
//! Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
//! TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER, signature,
//!                               issuer Name, validity, subject Name, subjectPublicKeyInfo,
//!                               [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions }
//! Name ::= SEQUENCE OF SET OF SEQUENCE { type OBJECT IDENTIFIER, value ANY }
//! ```
//!
//! Only the walk to those names: no signature, date or key is looked at, and nothing is
//! verified. The walk has a fixed depth (no recursion into arbitrary structures), every length
//! is checked against its container, and at most [`MAX_DNS_NAMES`] names are kept from the
//! subjectAltName extension. Strings are read lossily (UTF8String, PrintableString,
//! IA5String, VisibleString as UTF-8; T61String as Latin-1; BMPString as UTF-16;
//! UniversalString as UTF-32).

use core::fmt;

/// Names kept from subjectAltName.
pub const MAX_DNS_NAMES: usize = 64;

mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const UTF8_STRING: u8 = 0x0c;
    pub const PRINTABLE_STRING: u8 = 0x13;
    pub const T61_STRING: u8 = 0x14;
    pub const IA5_STRING: u8 = 0x16;
    pub const VISIBLE_STRING: u8 = 0x1a;
    pub const UNIVERSAL_STRING: u8 = 0x1c;
    pub const BMP_STRING: u8 = 0x1e;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[0] EXPLICIT` version.
    pub const VERSION: u8 = 0xa0;
    /// `[3] EXPLICIT` extensions.
    pub const EXTENSIONS: u8 = 0xa3;
    /// GeneralName `[2] IMPLICIT IA5String` dNSName.
    pub const DNS_NAME: u8 = 0x82;
}

mod oid {
    /// 2.5.4.3 commonName.
    pub const CN: &[u8] = &[0x55, 0x04, 0x03];
    /// 2.5.4.10 organizationName.
    pub const O: &[u8] = &[0x55, 0x04, 0x0a];
    /// 2.5.29.17 subjectAltName.
    pub const SAN: &[u8] = &[0x55, 0x1d, 0x11];
}

/// The names of one certificate. Where a Name holds an attribute several times, the last one
/// is kept (the most specific, as RFC 6125 reads CN).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    pub subject_cn: Option<String>,
    pub subject_o: Option<String>,
    pub issuer_cn: Option<String>,
    pub issuer_o: Option<String>,
    /// subjectAltName dNSName entries, in order, at most [`MAX_DNS_NAMES`].
    pub dns_names: Vec<String>,
}

impl CertNames {
    /// The issuer's CN, else its O.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer_cn.as_deref().or(self.issuer_o.as_deref())
    }
}

/// Why the names could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerError {
    /// `what`, at byte `offset` of the certificate, runs past its container.
    Truncated { what: &'static str, offset: usize },
    /// `what` at `offset` has tag `found` where `expected` belongs.
    Tag {
        what: &'static str,
        offset: usize,
        expected: u8,
        found: u8,
    },
    /// A length in a form DER does not allow (indefinite, or more than 4 length bytes).
    Length { what: &'static str, offset: usize },
    /// A multi-byte tag, which nothing on this walk uses.
    HighTag { what: &'static str, offset: usize },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DerError::Truncated { what, offset } => {
                write!(f, "certificate cut short: {what} at byte {offset}")
            }
            DerError::Tag {
                what,
                offset,
                expected,
                found,
            } => write!(
                f,
                "certificate {what} at byte {offset} has tag 0x{found:02x}, expected 0x{expected:02x}"
            ),
            DerError::Length { what, offset } => write!(
                f,
                "certificate {what} at byte {offset} has a length DER does not allow"
            ),
            DerError::HighTag { what, offset } => {
                write!(
                    f,
                    "certificate {what} at byte {offset} has a multi-byte tag"
                )
            }
        }
    }
}

impl std::error::Error for DerError {}

/// One TLV: its tag, its value, and where the value starts in the certificate.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
    offset: usize,
}

impl<'a> Tlv<'a> {
    fn inner(&self) -> Der<'a> {
        Der {
            data: self.value,
            pos: 0,
            base: self.offset,
        }
    }
}

/// A cursor over the TLVs of one container.
#[derive(Debug, Clone)]
struct Der<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the certificate.
    base: usize,
}

impl<'a> Der<'a> {
    fn new(data: &'a [u8]) -> Self {
        Der {
            data,
            pos: 0,
            base: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The next TLV, `None` at the end of the container.
    fn next(&mut self, what: &'static str) -> Result<Option<Tlv<'a>>, DerError> {
        if self.is_empty() {
            return Ok(None);
        }
        let offset = self.base + self.pos;
        let cut = DerError::Truncated { what, offset };
        let rest = self.data.get(self.pos..).ok_or(cut)?;
        let (&tag, rest) = rest.split_first().ok_or(cut)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTag { what, offset });
        }
        let (&first, rest) = rest.split_first().ok_or(cut)?;
        let (len, head) = match first {
            0..=0x7f => (usize::from(first), 2),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                let bytes = rest.get(..n).ok_or(cut)?;
                let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | usize::from(b));
                (len, 2 + n)
            }
            _ => return Err(DerError::Length { what, offset }),
        };
        let start = self.pos + head;
        let value = start
            .checked_add(len)
            .and_then(|end| self.data.get(start..end))
            .ok_or(cut)?;
        self.pos = start + len;
        Ok(Some(Tlv {
            tag,
            value,
            offset: self.base + start,
        }))
    }

    /// The next TLV, which must be there and carry `tag`.
    fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let offset = self.base + self.pos;
        let tlv = self
            .next(what)?
            .ok_or(DerError::Truncated { what, offset })?;
        if tlv.tag != tag {
            return Err(DerError::Tag {
                what,
                offset,
                expected: tag,
                found: tlv.tag,
            });
        }
        Ok(tlv)
    }
}

/// The subject's and issuer's CN and O and the subjectAltName DNS names of a DER certificate.
/// Errors for a structure that is not a certificate up to its subjectPublicKeyInfo; a
/// malformed extension ends the reading of extensions, keeping the names found before it.
pub fn names(der: &[u8]) -> Result<CertNames, DerError> {
    let cert = Der::new(der).expect(tag::SEQUENCE, "Certificate")?;
    let tbs = cert.inner().expect(tag::SEQUENCE, "tbsCertificate")?;
    let mut t = tbs.inner();
    let mut first = t.expect_any("version or serialNumber")?;
    if first.tag == tag::VERSION {
        first = t.expect_any("serialNumber")?;
    }
    if first.tag != tag::INTEGER {
        return Err(DerError::Tag {
            what: "serialNumber",
            offset: first.offset,
            expected: tag::INTEGER,
            found: first.tag,
        });
    }
    t.expect(tag::SEQUENCE, "signature")?;
    let issuer = t.expect(tag::SEQUENCE, "issuer")?;
    t.expect(tag::SEQUENCE, "validity")?;
    let subject = t.expect(tag::SEQUENCE, "subject")?;
    t.expect(tag::SEQUENCE, "subjectPublicKeyInfo")?;
    let mut out = CertNames::default();
    (out.issuer_cn, out.issuer_o) = name(issuer, "issuer")?;
    (out.subject_cn, out.subject_o) = name(subject, "subject")?;
    while let Ok(Some(x)) = t.next("tbsCertificate item") {
        if x.tag == tag::EXTENSIONS {
            let _ = extensions(x, &mut out.dns_names);
        }
    }
    Ok(out)
}

impl<'a> Der<'a> {
    fn expect_any(&mut self, what: &'static str) -> Result<Tlv<'a>, DerError> {
        let offset = self.base + self.pos;
        self.next(what)?.ok_or(DerError::Truncated { what, offset })
    }
}

/// CN and O of a Name (the last of each).
fn name(n: Tlv<'_>, what: &'static str) -> Result<(Option<String>, Option<String>), DerError> {
    let (mut cn, mut o) = (None, None);
    let mut rdns = n.inner();
    while let Some(rdn) = rdns.next(what)? {
        if rdn.tag != tag::SET {
            return Err(DerError::Tag {
                what,
                offset: rdn.offset,
                expected: tag::SET,
                found: rdn.tag,
            });
        }
        let mut atvs = rdn.inner();
        while let Some(atv) = atvs.next(what)? {
            if atv.tag != tag::SEQUENCE {
                return Err(DerError::Tag {
                    what,
                    offset: atv.offset,
                    expected: tag::SEQUENCE,
                    found: atv.tag,
                });
            }
            let mut parts = atv.inner();
            let kind = parts.expect(tag::OID, what)?;
            let Some(value) = parts.next(what)? else {
                continue;
            };
            let slot = match kind.value {
                oid::CN => &mut cn,
                oid::O => &mut o,
                _ => continue,
            };
            if let Some(s) = string(value.tag, value.value) {
                *slot = Some(s);
            }
        }
    }
    Ok((cn, o))
}

/// The dNSNames of the subjectAltName extension, if any.
fn extensions(x: Tlv<'_>, dns_names: &mut Vec<String>) -> Result<(), DerError> {
    let list = x.inner().expect(tag::SEQUENCE, "extensions")?;
    let mut exts = list.inner();
    while let Some(ext) = exts.next("extension")? {
        let mut e = ext.inner();
        let id = e.expect(tag::OID, "extension id")?;
        if id.value != oid::SAN {
            continue;
        }
        let mut value = e.expect_any("extension value")?;
        if value.tag != tag::OCTET_STRING {
            // `critical BOOLEAN` before the value.
            value = e.expect(tag::OCTET_STRING, "extension value")?;
        }
        let general_names = value.inner().expect(tag::SEQUENCE, "subjectAltName")?;
        let mut gns = general_names.inner();
        while let Some(gn) = gns.next("subjectAltName entry")? {
            if gn.tag == tag::DNS_NAME && dns_names.len() < MAX_DNS_NAMES {
                dns_names.push(String::from_utf8_lossy(gn.value).into_owned());
            }
        }
    }
    Ok(())
}

/// A directory string's text, `None` for a type that is not a string.
fn string(t: u8, v: &[u8]) -> Option<String> {
    Some(match t {
        tag::UTF8_STRING | tag::PRINTABLE_STRING | tag::IA5_STRING | tag::VISIBLE_STRING => {
            String::from_utf8_lossy(v).into_owned()
        }
        tag::T61_STRING => v.iter().map(|&b| char::from(b)).collect(),
        tag::BMP_STRING => {
            let units = v.chunks(2).map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0xfffd,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        tag::UNIVERSAL_STRING => v
            .chunks(4)
            .map(|c| match c {
                [a, b, d, e] => char::from_u32(u32::from_be_bytes([*a, *b, *d, *e]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
                _ => char::REPLACEMENT_CHARACTER,
            })
            .collect(),
        _ => return None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::crypto::b64_decode;

    /// Made with OpenSSL 3.0 when this test was written:
    ///
    /// ```text
    /// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    ///   -out ca.pem -days 3650 -set_serial 1 \
    ///   -subj "/C=CN/ST=Kowloon/O=TP-LINK CORPORATION LIMITED/CN=TP-LINK CA P1"
    /// openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    ///   -out leaf.csr -subj "/O=TP-LINK CORPORATION LIMITED/CN=*.tplinkcloud.com"
    /// openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 3650 \
    ///   -out leaf.pem -extfile <(printf "subjectAltName=DNS:*.tplinkcloud.com,DNS:tplinkcloud.com,IP:1.2.3.4\n")
    /// openssl x509 -in leaf.pem -outform DER | base64 -w 96
    /// ```
    pub(crate) const LEAF_B64: &str = concat!(
        "MIICBjCCAaugAwIBAgIBAjAKBggqhkjOPQQDAjBdMQswCQYDVQQGEwJDTjEQMA4GA1UECAwHS293bG9vbjEkMCIGA1UECgwb",
        "VFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRYwFAYDVQQDDA1UUC1MSU5LIENBIFAxMB4XDTI2MTIwMjEzMjQ1MFoXDTM2",
        "MTEyOTEzMjQ1MFowQjEkMCIGA1UECgwbVFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRowGAYDVQQDDBEqLnRwbGlua2Ns",
        "b3VkLmNvbTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABG3qocod1ApyadbDN0/qtqCxlWKSYvaj2SeD8JtHQa+O3wcw+sBd",
        "vKOjmBpfQQ01tXvqt9fxVIIwj7/6Rq3fWhyjdzB1MDMGA1UdEQQsMCqCESoudHBsaW5rY2xvdWQuY29tgg90cGxpbmtjbG91",
        "ZC5jb22HBAECAwQwHQYDVR0OBBYEFN8Gdw5AiqkTDisFDa232FCFYynqMB8GA1UdIwQYMBaAFCO/1DE+VQKYD1OgcMhAoU5v",
        "932BMAoGCCqGSM49BAMCA0kAMEYCIQCgu6TxL4ReHjCixaQB1KCvzcXttmlUO6cijNYIlMXabgIhAMYySUvCs9BV9354Ml2S",
        "7FKUTVRXAXIVuRZAC3LI9Ec1",
    );
    /// The self-signed CA of the same run (`openssl x509 -in ca.pem -outform DER | base64`).
    pub(crate) const CA_B64: &str = concat!(
        "MIIB/DCCAaKgAwIBAgIBATAKBggqhkjOPQQDAjBdMQswCQYDVQQGEwJDTjEQMA4GA1UECAwHS293bG9vbjEkMCIGA1UECgwb",
        "VFAtTElOSyBDT1JQT1JBVElPTiBMSU1JVEVEMRYwFAYDVQQDDA1UUC1MSU5LIENBIFAxMB4XDTI2MTIwMjEzMjQ1MFoXDTM2",
        "MTEyOTEzMjQ1MFowXTELMAkGA1UEBhMCQ04xEDAOBgNVBAgMB0tvd2xvb24xJDAiBgNVBAoMG1RQLUxJTksgQ09SUE9SQVRJ",
        "T04gTElNSVRFRDEWMBQGA1UEAwwNVFAtTElOSyBDQSBQMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABL5Ns4GFmCtWZDFA",
        "WeEX7ygFvk1JrRiiWl0qCFDMqjfFAeDTSf4vKZJLF6y7w+5E8xGA/PgDdhLNIUj36iulCeujUzBRMB0GA1UdDgQWBBQjv9Qx",
        "PlUCmA9ToHDIQKFOb/d9gTAfBgNVHSMEGDAWgBQjv9QxPlUCmA9ToHDIQKFOb/d9gTAPBgNVHRMBAf8EBTADAQH/MAoGCCqG",
        "SM49BAMCA0gAMEUCIEFoZlUGTfx0Cum2kew3QCCNZMvdlrTKpXpYAnqGwkTXAiEA8GV2HxfhhaYOOCA6UU4FfP/AvHL8T7uh",
        "wpPisRfhq3o=",
    );

    pub(crate) fn leaf() -> Vec<u8> {
        b64_decode(LEAF_B64).unwrap()
    }

    pub(crate) fn ca() -> Vec<u8> {
        b64_decode(CA_B64).unwrap()
    }

    const TP_LINK: &str = "TP-LINK CORPORATION LIMITED";

    #[test]
    fn names_of_the_leaf() {
        let der = leaf();
        assert_eq!(der.len(), 522);
        assert_eq!(
            names(&der),
            Ok(CertNames {
                subject_cn: Some("*.tplinkcloud.com".into()),
                subject_o: Some(TP_LINK.into()),
                issuer_cn: Some("TP-LINK CA P1".into()),
                issuer_o: Some(TP_LINK.into()),
                // The IP address entry is not a DNS name.
                dns_names: vec!["*.tplinkcloud.com".into(), "tplinkcloud.com".into()],
            })
        );
        assert_eq!(names(&der).unwrap().issuer(), Some("TP-LINK CA P1"));
    }

    #[test]
    fn names_of_the_ca() {
        let names = names(&ca()).unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("TP-LINK CA P1"));
        assert_eq!(names.issuer_cn, names.subject_cn);
        assert_eq!(names.subject_o.as_deref(), Some(TP_LINK));
        assert!(names.dns_names.is_empty());
    }

    #[test]
    fn every_prefix_fails_cleanly() {
        let der = leaf();
        for cut in 0..der.len() {
            let r = names(&der[..cut]);
            assert!(
                matches!(r, Err(DerError::Truncated { .. })),
                "cut at {cut}: {r:?}"
            );
        }
        // A trailing byte after the certificate is ignored.
        let mut long = der.clone();
        long.push(0);
        assert!(names(&long).is_ok());
    }

    #[test]
    fn every_flipped_byte_is_an_error_or_names() {
        // Whatever one byte becomes, no panic.
        let der = leaf();
        for i in 0..der.len() {
            for v in [0x00, 0x1f, 0x80, 0x84, 0x85, 0xff] {
                let mut d = der.clone();
                d[i] = v;
                let _ = names(&d);
            }
        }
    }

    #[test]
    fn garbage_and_odd_forms() {
        assert_eq!(
            names(b""),
            Err(DerError::Truncated {
                what: "Certificate",
                offset: 0
            })
        );
        assert_eq!(
            names(&[0x31, 0x00]),
            Err(DerError::Tag {
                what: "Certificate",
                offset: 0,
                expected: 0x30,
                found: 0x31
            })
        );
        // Indefinite length.
        assert_eq!(
            names(&[0x30, 0x80, 0, 0]),
            Err(DerError::Length {
                what: "Certificate",
                offset: 0
            })
        );
        // Five length bytes.
        assert!(matches!(
            names(&[0x30, 0x85, 0, 0, 0, 0, 1, 0]),
            Err(DerError::Length { .. })
        ));
        // A length near usize::MAX on 32 bits, 4 GiB here: past the end, not an allocation.
        assert!(matches!(
            names(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Err(DerError::Truncated { .. })
        ));
        assert!(matches!(
            names(&[0x1f, 0x01, 0x00]),
            Err(DerError::HighTag { .. })
        ));
        assert_eq!(
            DerError::Tag {
                what: "subject",
                offset: 9,
                expected: 0x30,
                found: 0x04
            }
            .to_string(),
            "certificate subject at byte 9 has tag 0x04, expected 0x30"
        );
    }

    /// DER of a TLV: a short-form length below 128, else two length bytes.
    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let len = value.len();
        let mut v = match u8::try_from(len) {
            Ok(l) if l < 0x80 => vec![tag, l],
            _ => [vec![tag, 0x82], (len as u16).to_be_bytes().to_vec()].concat(),
        };
        v.extend_from_slice(value);
        v
    }

    fn atv(oid: &[u8], string_tag: u8, text: &[u8]) -> Vec<u8> {
        tlv(
            0x31,
            &tlv(0x30, &[tlv(0x06, oid), tlv(string_tag, text)].concat()),
        )
    }

    #[test]
    fn a_v1_certificate_with_other_string_types() {
        // A hand-built v1 tbsCertificate: no version, no extensions.
        let issuer = tlv(
            0x30,
            &[
                atv(oid::O, tag::T61_STRING, b"Caf\xe9"), // T61: Latin-1 é
                atv(oid::CN, tag::BMP_STRING, &[0, b'T', 0, b'P']), // BMP: "TP"
                atv(&[0x55, 0x04, 0x06], tag::PRINTABLE_STRING, b"CN"), // C: not kept
            ]
            .concat(),
        );
        let subject = tlv(
            0x30,
            &[
                atv(oid::CN, tag::PRINTABLE_STRING, b"first"),
                atv(oid::CN, tag::IA5_STRING, b"devs.tplinkcloud.com"),
                atv(oid::O, tag::UNIVERSAL_STRING, &[0, 0, 0, b'X']),
            ]
            .concat(),
        );
        let tbs = tlv(
            0x30,
            &[
                tlv(0x02, &[1]),    // serialNumber
                tlv(0x30, &[]),     // signature
                issuer,             // issuer
                tlv(0x30, &[]),     // validity
                subject,            // subject
                tlv(0x30, &[]),     // subjectPublicKeyInfo
                tlv(0x81, &[0, 1]), // issuerUniqueID, skipped
            ]
            .concat(),
        );
        let cert = tlv(0x30, &[tbs, tlv(0x30, &[]), tlv(0x03, &[0])].concat());
        assert_eq!(
            names(&cert),
            Ok(CertNames {
                subject_cn: Some("devs.tplinkcloud.com".into()),
                subject_o: Some("X".into()),
                issuer_cn: Some("TP".into()),
                issuer_o: Some("Café".into()),
                dns_names: vec![],
            })
        );
    }

    #[test]
    fn a_broken_extension_keeps_the_names() {
        // The leaf with its SAN extension's OCTET STRING tag changed: names stay, no DNS names.
        let mut der = leaf();
        let san = der
            .windows(5)
            .position(|w| w == [0x06, 0x03, 0x55, 0x1d, 0x11])
            .unwrap();
        assert_eq!(der[san + 5], 0x04);
        der[san + 5] = 0x05;
        let n = names(&der).unwrap();
        assert_eq!(n.subject_cn.as_deref(), Some("*.tplinkcloud.com"));
        assert!(n.dns_names.is_empty());
    }

    #[test]
    fn dns_names_are_bounded() {
        let entries: Vec<u8> = (0..100).flat_map(|_| tlv(0x82, b"a.b")).collect();
        let octets = tlv(0x04, &tlv(0x30, &entries));
        let x = tlv(
            0xa3,
            &tlv(0x30, &tlv(0x30, &[tlv(0x06, oid::SAN), octets].concat())),
        );
        let mut names_out = Vec::new();
        let tlv_x = Der::new(&x).next("x").unwrap().unwrap();
        extensions(tlv_x, &mut names_out).unwrap();
        assert_eq!(names_out.len(), MAX_DNS_NAMES);
    }
}
