//! Linkie v2, the Kasa cameras' HTTPS transport (PROTOCOL.md §6; python-kasa
//! `LinkieTransportV2`): the legacy autokey XOR ([`super::xor`]) **without** its 4-byte length
//! header, in base64, in an HTTP POST body.
//!
//! ```text
//! POST /data/LINKIE2.json      Content-Type: application/x-www-form-urlencoded
//!      content=<percent-encoded base64(XOR(JSON))>
//!   <- base64(XOR(JSON))       (a device's error answer: clear JSON)
//! ```
//!
//! The KC100 uses `/data/LINKIE.json` the same way ([`version`] says which). Every message, in
//! each direction, starts the XOR chain again at `0xAB`.
//!
//! [`parse_request`] and [`parse_response`] check the body and decrypt it; they never panic and
//! allocate no more than the body they are handed. [`emit_request`] and [`emit_response`] write
//! bodies as python-kasa does (for the fixture generator and round trips).
//!
//! One leniency: in a form, `+` stands for a blank, but base64 has no blank and its alphabet has
//! `+`, so a `+` that a client forgot to escape is read as `+`.

use super::crypto;
use super::xor;
use core::fmt;
use core::ops::Range;

/// The request paths: version 2 (`LINKIE2`, python-kasa) and version 1 (`LINKIE`, the KC100).
pub const PATHS: [(&str, u8); 2] = [("/data/LINKIE2.json", 2), ("/data/LINKIE.json", 1)];

/// The form field that carries a request.
pub const FIELD: &str = "content";

/// The Linkie version of a request path (no query), `None` when it is no Linkie path.
pub fn version(path: &str) -> Option<u8> {
    PATHS.iter().find(|(p, _)| *p == path).map(|&(_, v)| v)
}

/// Why a body is not a Linkie message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkieError {
    /// An empty body (or only blanks).
    Empty,
    /// A request form without a `content` field.
    NoContentField,
    /// A `%` not followed by two hex digits, at this offset of the body.
    PercentEscape { at: usize },
    /// The text (a request's after percent-decoding) is not base64; `len` is its length.
    Base64 { len: usize },
}

impl fmt::Display for LinkieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkieError::Empty => f.write_str("empty Linkie body"),
            LinkieError::NoContentField => {
                write!(f, "Linkie request form without a \"{FIELD}\" field")
            }
            LinkieError::PercentEscape { at } => write!(
                f,
                "Linkie request form: bad percent escape at byte {at} (not two hex digits)"
            ),
            LinkieError::Base64 { len } => {
                write!(f, "Linkie body of {len} characters is not base64")
            }
        }
    }
}

impl std::error::Error for LinkieError {}

/// One decoded Linkie body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkieBody {
    /// A request: the form field's name and where it is in the body.
    pub field: Option<Range<usize>>,
    /// Where the carried text is in the body: a request's field value (percent-encoded, as on
    /// the wire), a response's base64 or clear JSON (blanks around it excluded).
    pub text_at: Range<usize>,
    /// Length of the base64 text (a request's after percent-decoding); 0 for clear JSON.
    pub b64_len: usize,
    /// The XOR ciphertext (base64-decoded); empty for clear JSON.
    pub ciphertext: Vec<u8>,
    /// A response that is clear JSON, not base64(XOR(JSON)).
    pub clear: bool,
}

impl LinkieBody {
    /// The JSON text: the ciphertext decrypted, or a clear response as it is in `body` (the
    /// body this was parsed from).
    pub fn plaintext(&self, body: &[u8]) -> Vec<u8> {
        if self.clear {
            body.get(self.text_at.clone()).unwrap_or_default().to_vec()
        } else {
            xor::decrypt(&self.ciphertext)
        }
    }
}

/// `body` without the ASCII blanks around it, as a range.
fn trimmed(body: &[u8]) -> Range<usize> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    start..end
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `text`, which starts at byte `offset` of the body (for the error).
fn percent_decode(text: &[u8], offset: usize) -> Result<Vec<u8>, LinkieError> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'%' {
            let byte = text
                .get(i + 1)
                .and_then(|&h| hex_digit(h))
                .zip(text.get(i + 2).and_then(|&l| hex_digit(l)))
                .map(|(h, l)| (h << 4) | l)
                .ok_or(LinkieError::PercentEscape { at: offset + i })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn b64_decode(text: &[u8]) -> Result<Vec<u8>, LinkieError> {
    let err = LinkieError::Base64 { len: text.len() };
    let text = core::str::from_utf8(text).map_err(|_| err)?;
    crypto::b64_decode(text).map_err(|_| err)
}

/// A request body: the form `content=<percent-encoded base64(XOR(JSON))>` (other fields, in any
/// order, are skipped).
pub fn parse_request(body: &[u8]) -> Result<LinkieBody, LinkieError> {
    let whole = trimmed(body);
    if whole.is_empty() {
        return Err(LinkieError::Empty);
    }
    let mut at = whole.start;
    let form = body.get(whole.clone()).unwrap_or_default();
    for pair in form.split(|&b| b == b'&') {
        let start = at;
        at += pair.len() + 1;
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        if pair.get(..eq) != Some(FIELD.as_bytes()) {
            continue;
        }
        let value_at = start + eq + 1..start + pair.len();
        let value = body.get(value_at.clone()).unwrap_or_default();
        let b64 = percent_decode(value, value_at.start)?;
        let ciphertext = b64_decode(&b64)?;
        return Ok(LinkieBody {
            field: Some(start..start + eq),
            text_at: value_at,
            b64_len: b64.len(),
            ciphertext,
            clear: false,
        });
    }
    Err(LinkieError::NoContentField)
}

/// A response body: base64(XOR(JSON)), or clear JSON (an object: a device's error answer).
pub fn parse_response(body: &[u8]) -> Result<LinkieBody, LinkieError> {
    let text_at = trimmed(body);
    let text = body.get(text_at.clone()).unwrap_or_default();
    match text.first() {
        None => Err(LinkieError::Empty),
        Some(b'{') => Ok(LinkieBody {
            field: None,
            text_at,
            b64_len: 0,
            ciphertext: Vec::new(),
            clear: true,
        }),
        Some(_) => Ok(LinkieBody {
            field: None,
            b64_len: text.len(),
            ciphertext: b64_decode(text)?,
            text_at,
            clear: false,
        }),
    }
}

/// Whether a byte stays as it is in python-kasa's `quote(b64, safe="!~*'()")`.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!*'()".contains(&b)
}

/// A request body for `json`, as python-kasa writes it.
pub fn emit_request(json: &[u8]) -> String {
    let b64 = crypto::b64_encode(&xor::encrypt(json));
    let mut out = String::with_capacity(FIELD.len() + 1 + b64.len() * 3);
    out.push_str(FIELD);
    out.push('=');
    for b in b64.bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A response body for `json`: base64(XOR(JSON)).
pub fn emit_response(json: &[u8]) -> String {
    crypto::b64_encode(&xor::encrypt(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// python-kasa `tests/transports/test_linkietransport.py`: the request it sends, and the
    /// mock device's answer with the plaintext the test expects from it.
    static REQUEST_JSON: &[u8] = br#"{"smartlife.cam.ipcamera.dateTime":{"get_status":{}}}"#;
    static RESPONSE_B64: &str = "0PKG74LnnfKc+dvhw5bCgaycqZOjk7Gdv96syaiKsJLTvtupwKPC7aPGse632KrB48/tiPiX9JzDsNW2lK6fqZCgmKuZoZGh3A==";
    static RESPONSE_JSON: &[u8] =
        br#"{"timezone":"UTC-05:00","area":"America/New_York","epoch_sec":1690832800}"#;

    /// The request body for REQUEST_JSON, byte for byte: XOR from 0xAB without a header, base64,
    /// then `+`, `/` and `=` percent-encoded.
    static REQUEST_BODY: &[u8] =
        b"content=0PKB7I3%2Fi%2BeO6I2jwKHM4ov7mPmU8YPizKjJvdiM5Yjtz%2FWOrMuu2oX2guOX4pGzifKP8o8%3D";

    #[test]
    fn deconstruct_request() {
        let r = parse_request(REQUEST_BODY).unwrap();
        assert_eq!(r.field, Some(0..7));
        assert_eq!(&REQUEST_BODY[r.field.clone().unwrap()], b"content");
        assert_eq!(r.text_at, 8..REQUEST_BODY.len());
        assert!(!r.clear);
        // 53 bytes of JSON: 72 base64 characters.
        assert_eq!(r.b64_len, 72);
        assert_eq!(r.ciphertext.len(), REQUEST_JSON.len());
        // No length header: the first byte is '{' ^ 0xAB.
        assert_eq!(r.ciphertext[0], xor::FIRST_BYTE);
        assert_eq!(r.plaintext(REQUEST_BODY), REQUEST_JSON);
    }

    #[test]
    fn construct_request() {
        assert_eq!(emit_request(REQUEST_JSON).as_bytes(), REQUEST_BODY);
        let round = parse_request(emit_request(br#"{"a":"~!*'()"}"#).as_bytes()).unwrap();
        assert_eq!(round.plaintext(b""), br#"{"a":"~!*'()"}"#);
    }

    #[test]
    fn response_vector() {
        let r = parse_response(RESPONSE_B64.as_bytes()).unwrap();
        assert_eq!(r.field, None);
        assert_eq!(r.text_at, 0..RESPONSE_B64.len());
        assert_eq!(r.b64_len, RESPONSE_B64.len());
        assert!(!r.clear);
        assert_eq!(r.plaintext(RESPONSE_B64.as_bytes()), RESPONSE_JSON);
        assert_eq!(emit_response(RESPONSE_JSON), RESPONSE_B64);
        // Blanks around it (a trailing newline) are not part of the text.
        let body = format!("\r\n{RESPONSE_B64}\n");
        let r = parse_response(body.as_bytes()).unwrap();
        assert_eq!(r.text_at, 2..2 + RESPONSE_B64.len());
        assert_eq!(r.plaintext(body.as_bytes()), RESPONSE_JSON);
    }

    #[test]
    fn clear_error_response() {
        let body = br#" {"smartlife.cam.ipcamera.cloud": {"get_inf": {"err_code": -10008}}}"#;
        let r = parse_response(body).unwrap();
        assert!(r.clear);
        assert_eq!(r.b64_len, 0);
        assert!(r.ciphertext.is_empty());
        assert_eq!(r.plaintext(body), &body[1..]);
    }

    #[test]
    fn forms() {
        // Other fields before and after, a `+` left unescaped, unpadded base64.
        let b64 = crypto::b64_encode(&xor::encrypt(b"{\"x\":1}"));
        let body = format!("a=1&content={}&z", b64.trim_end_matches('='));
        let r = parse_request(body.as_bytes()).unwrap();
        assert_eq!(r.field, Some(4..11));
        assert_eq!(r.plaintext(b""), b"{\"x\":1}");
        // base64 "0PKZu4Gj3aOB/A==": a `/` left unescaped, and the `=` padding.
        let r = parse_request(b"content=0PKZu4Gj3aOB/A==").unwrap();
        assert_eq!(r.plaintext(b""), b"{\"k\":\"~~\"}");
        let r = parse_request(b"content=0PKd86zDpcPh2+qX").unwrap();
        assert_eq!(r.plaintext(b""), b"{\"on_off\":1}");
        // An empty value is an empty message.
        let r = parse_request(b"content=").unwrap();
        assert_eq!((r.b64_len, r.ciphertext.len()), (0, 0));
    }

    #[test]
    fn truncated() {
        // Every prefix of the request either fails with a typed error or decodes a prefix of
        // the plaintext: never a panic.
        for n in 0..REQUEST_BODY.len() {
            match parse_request(&REQUEST_BODY[..n]) {
                Ok(r) => assert!(REQUEST_JSON.starts_with(&r.plaintext(b""))),
                Err(e) => assert!(
                    matches!(
                        e,
                        LinkieError::Empty
                            | LinkieError::NoContentField
                            | LinkieError::PercentEscape { .. }
                            | LinkieError::Base64 { .. }
                    ),
                    "{n}: {e}"
                ),
            }
        }
        for n in 0..RESPONSE_B64.len() {
            let _ = parse_response(&RESPONSE_B64.as_bytes()[..n]);
        }
    }

    #[test]
    fn malformed() {
        assert_eq!(parse_request(b""), Err(LinkieError::Empty));
        assert_eq!(parse_request(b" \r\n"), Err(LinkieError::Empty));
        assert_eq!(parse_response(b"\n"), Err(LinkieError::Empty));
        assert_eq!(
            parse_request(b"data=abcd&contents=abcd"),
            Err(LinkieError::NoContentField)
        );
        assert_eq!(parse_request(b"content"), Err(LinkieError::NoContentField));
        assert_eq!(
            parse_request(b"content=ab%2"),
            Err(LinkieError::PercentEscape { at: 10 })
        );
        assert_eq!(
            parse_request(b"x=1&content=%zz"),
            Err(LinkieError::PercentEscape { at: 12 })
        );
        assert_eq!(
            parse_request(b"content=not%20base64"),
            Err(LinkieError::Base64 { len: 10 })
        );
        assert_eq!(
            parse_request(b"content=%ff%fe"),
            Err(LinkieError::Base64 { len: 2 })
        );
        assert_eq!(
            parse_response(b"<html>500</html>"),
            Err(LinkieError::Base64 { len: 16 })
        );
        assert_eq!(
            LinkieError::PercentEscape { at: 3 }.to_string(),
            "Linkie request form: bad percent escape at byte 3 (not two hex digits)"
        );
        assert_eq!(
            LinkieError::NoContentField.to_string(),
            "Linkie request form without a \"content\" field"
        );
    }

    #[test]
    fn versions() {
        assert_eq!(version("/data/LINKIE2.json"), Some(2));
        assert_eq!(version("/data/LINKIE.json"), Some(1));
        assert_eq!(version("/data/linkie2.json"), None);
        assert_eq!(version("/data/LINKIE2.json/x"), None);
        assert_eq!(version("/app"), None);
    }
}
