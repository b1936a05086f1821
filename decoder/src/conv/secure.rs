//! The encrypted HTTP transports, KLAP (PROTOCOL.md §4), AES securePassthrough (§5) and, when
//! Wireshark decrypted its TLS, TPAP's login and data frames (§6): which
//! HTTP message is one of theirs, which step it is, which session it belongs to, and, when the
//! user's secrets allow, its plaintext.
//!
//! [`Secure::http`] is called by the [`Session`](super::Session) for each HTTP message in
//! capture order. It keeps, per TCP connection, the open requests (so a response learns its
//! step, its KLAP `seq` and its session from its request), and the sessions by cookie and by
//! connection: a KLAP session starts with handshake1 and its keys follow from the first
//! credential whose `server_hash` matches; an AES session's key comes from the handshake
//! reply and the client's RSA private key, or from a key and IV the user gave (adopted by the
//! first message it decrypts). Nothing is guessed: a message whose session is not known shows
//! its envelope and a note.

use super::session::{ConvId, MessageId, Seen};
use crate::msg::{AesMeta, Direction, KlapMeta, KlapStep, Meta, Problem, TpapMeta, TpapStep};
use crate::wire::aes::{self, AesKeys, EnvelopeMethod};
use crate::wire::crypto::CryptoError;
use crate::wire::klap::{self, AuthHash, Credential, KlapKeys, KlapUri, KlapVersion};
use crate::wire::{http, tdp};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use super::http::HttpView;

/// Sessions remembered per transport (the oldest are not evicted: new ones are not stored).
pub const MAX_SESSIONS: usize = 65_536;

/// Open HTTP requests remembered per connection.
const MAX_OPEN: usize = 4096;

/// What the user gave to decrypt with. `Debug` shows counts only.
#[derive(Clone, Default)]
pub struct Secrets {
    /// Accounts to try against KLAP handshakes, before the known defaults.
    pub credentials: Vec<Credential>,
    /// AES session keys and IVs.
    pub aes_keys: Vec<AesKeys>,
    /// RSA private keys of AES clients (and TDP probes).
    pub rsa_keys: Vec<rsa::RsaPrivateKey>,
}

impl core::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Secrets")
            .field("credentials", &self.credentials.len())
            .field("aes_keys", &self.aes_keys.len())
            .field("rsa_keys", &self.rsa_keys.len())
            .finish()
    }
}

/// What [`Secure::http`] found in one HTTP message.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub direction: Direction,
    pub meta: Meta,
    /// The decrypted JSON, or the clear envelope (AES); empty for KLAP's binary steps and for
    /// what could not be decrypted.
    pub plaintext: Vec<u8>,
    pub problems: Vec<Problem>,
    /// A response: its request and the time since it.
    pub answers: Option<(MessageId, Duration)>,
}

struct KlapSession {
    local_seed: [u8; 16],
    remote_seed: [u8; 16],
    /// The matched credential's label, auth hash and keys.
    matched: Option<(String, AuthHash, KlapKeys)>,
    /// The last request's seq (to verify a request whose URI lost its `seq`).
    last_seq: std::sync::Mutex<Option<i32>>,
}

struct AesSession {
    keys: AesKeys,
}

enum Pending {
    KlapHandshake1 {
        local_seed: [u8; 16],
    },
    KlapHandshake2 {
        cookie: Option<String>,
    },
    KlapRequest {
        seq: Option<i32>,
        session: Option<Arc<KlapSession>>,
        cookie: Option<String>,
    },
    Tpap {
        step: TpapStep,
        sub_method: Option<String>,
        seq: Option<i64>,
    },
    Aes {
        method: EnvelopeMethod,
        cookie: Option<String>,
        /// The RSA key (index into the secrets) whose public half the handshake carried.
        rsa: Option<usize>,
        session: Option<Arc<AesSession>>,
    },
}

struct Open {
    id: MessageId,
    time: Duration,
    pending: Pending,
}

/// The sessions of one transport: by their cookie at the device, and the latest per connection
/// (for messages without a cookie: anonymised traces, clients that do not send it).
struct Sessions<T> {
    by_cookie: HashMap<(IpAddr, String), Arc<T>>,
    by_conv: HashMap<ConvId, Arc<T>>,
}

impl<T> Default for Sessions<T> {
    fn default() -> Self {
        Sessions {
            by_cookie: HashMap::new(),
            by_conv: HashMap::new(),
        }
    }
}

impl<T> Sessions<T> {
    /// The session of a message: by its cookie, else the connection's latest.
    fn find(&self, conv: ConvId, device: IpAddr, cookie: Option<&str>) -> Option<Arc<T>> {
        cookie
            .and_then(|c| self.by_cookie.get(&(device, c.to_owned())))
            .or_else(|| self.by_conv.get(&conv))
            .cloned()
    }

    /// A new session on `conv`, under `cookie` when the device set one.
    fn insert(&mut self, conv: ConvId, device: IpAddr, cookie: Option<&str>, s: Arc<T>) {
        remember(&mut self.by_conv, conv, s.clone());
        if let Some(c) = cookie {
            remember(&mut self.by_cookie, (device, c.to_owned()), s);
        }
    }
}

/// KLAP and AES state of one capture.
pub struct Secure {
    secrets: Secrets,
    candidates: Vec<Credential>,
    open: HashMap<ConvId, VecDeque<Open>>,
    klap: Sessions<KlapSession>,
    aes: Sessions<AesSession>,
    /// TDP probes whose RSA key the user holds: (client, serial) → index into the RSA keys.
    tdp_probes: HashMap<(SocketAddr, u32), usize>,
    /// TPAP connections: the next data frame's sequence number, once `pake_share` answered.
    tpap_seq: HashMap<ConvId, i64>,
}

impl Default for Secure {
    fn default() -> Self {
        Secure::new(Secrets::default())
    }
}

impl core::fmt::Debug for Secure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Secure")
            .field("secrets", &self.secrets)
            .field("klap_sessions", &self.klap.by_conv.len())
            .field("aes_sessions", &self.aes.by_conv.len())
            .finish_non_exhaustive()
    }
}

/// The session cookie of a `Cookie` or `Set-Cookie` value.
fn session_cookie(header: Option<&str>) -> Option<&str> {
    let h = header?;
    http::cookie(h, "TP_SESSIONID").or_else(|| http::cookie(h, "SESSIONID"))
}

fn array<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.get(..N)?.try_into().ok()
}

fn remember<K: Eq + core::hash::Hash, V>(map: &mut HashMap<K, V>, k: K, v: V) {
    if map.len() < MAX_SESSIONS || map.contains_key(&k) {
        map.insert(k, v);
    }
}

impl Secure {
    pub fn new(secrets: Secrets) -> Self {
        let mut candidates = secrets.credentials.clone();
        candidates.extend(klap::default_credentials());
        Secure {
            secrets,
            candidates,
            open: HashMap::new(),
            klap: Sessions::default(),
            aes: Sessions::default(),
            tdp_probes: HashMap::new(),
            tpap_seq: HashMap::new(),
        }
    }

    /// A TDP probe from `client` carrying the public key `pem`: remembered when the user holds
    /// its private key.
    pub fn tdp_probe(&mut self, client: SocketAddr, serial: u32, pem: &str) {
        if let Some(i) = self
            .secrets
            .rsa_keys
            .iter()
            .position(|k| aes::key_matches(pem, k))
        {
            remember(&mut self.tdp_probes, (client, serial), i);
        }
    }

    /// A TDP reply's `encrypt_info`, decrypted with the private key of the probe it answers.
    pub fn tdp_info(
        &self,
        client: SocketAddr,
        serial: u32,
        info: &tdp::EncryptInfo,
    ) -> Option<Result<Vec<u8>, CryptoError>> {
        let &i = self.tdp_probes.get(&(client, serial))?;
        Some(tdp::decrypt_encrypt_info(info, &self.secrets.rsa_keys[i]))
    }

    /// Classifies one HTTP message; `None` when it is not KLAP, AES or TPAP (it stays HTTP's).
    /// `tpap`: the request goes to an endpoint a TDP reply announced as TPAP.
    pub fn http(&mut self, seen: &Seen, view: &HttpView<'_>, tpap: bool) -> Option<Classified> {
        match view.request {
            Some((_, uri)) if tpap && !http::is_app_target(uri) => {
                self.tpap_request(seen, uri, view)
            }
            Some((_, uri)) => self.request(seen, uri, view),
            None => self.response(seen, view),
        }
    }

    /// A request to a TPAP endpoint: a login step (`POST /`, JSON) or a data frame
    /// (`POST /stok=…/ds`); anything else stays HTTP's.
    fn tpap_request(&mut self, seen: &Seen, uri: &str, view: &HttpView<'_>) -> Option<Classified> {
        let path = http::path(uri);
        let (step, sub_method, seq, plaintext) =
            if path.starts_with("/stok=") && path.ends_with("/ds") {
                let seq = self.tpap_seq.get_mut(&seen.conv).map(|next| {
                    *next = next.wrapping_add(1);
                    *next - 1
                });
                (TpapStep::Data, None, seq, Vec::new())
            } else {
                let v: serde_json::Value = serde_json::from_slice(view.body).ok()?;
                if v.get("method").and_then(|m| m.as_str()) != Some("login") {
                    return None;
                }
                let sub = v
                    .pointer("/params/sub_method")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned);
                (TpapStep::Login, sub, None, view.body.to_vec())
            };
        self.push_open(
            seen,
            Pending::Tpap {
                step,
                sub_method: sub_method.clone(),
                seq,
            },
        );
        Some(Classified {
            direction: Direction::Request,
            meta: Meta::Tpap(Box::new(TpapMeta {
                step,
                sub_method,
                seq,
                data_len: view.body.len(),
            })),
            plaintext,
            problems: Vec::new(),
            answers: None,
        })
    }

    fn push_open(&mut self, seen: &Seen, pending: Pending) {
        let open = self.open.entry(seen.conv).or_default();
        if open.len() >= MAX_OPEN {
            open.pop_front();
        }
        open.push_back(Open {
            id: seen.id,
            time: seen.time,
            pending,
        });
    }

    fn request(&mut self, seen: &Seen, uri: &str, view: &HttpView<'_>) -> Option<Classified> {
        let device = seen.dst.ip();
        let cookie = session_cookie(view.cookie).map(str::to_owned);
        let body = view.body;
        let mut problems = Vec::new();
        if let Some(step) = klap::klap_uri(uri) {
            let klap_meta = |step, session: &Option<Arc<KlapSession>>, decrypted| {
                let m = session.as_ref().and_then(|s| s.matched.as_ref());
                Meta::Klap(Box::new(KlapMeta {
                    step,
                    session: cookie.clone(),
                    version: m.map(|(_, a, _)| a.version()),
                    auth: m.map(|(l, _, _)| l.clone()),
                    decrypted,
                }))
            };
            let (meta, plaintext, pending) = match step {
                KlapUri::Handshake1 => {
                    let local_seed = array::<16>(body).unwrap_or_default();
                    if body.len() != 16 {
                        problems.push(Problem::KlapBody {
                            step: "handshake1",
                            expected: 16,
                            got: body.len(),
                        });
                    }
                    (
                        klap_meta(KlapStep::Handshake1 { local_seed }, &None, false),
                        Vec::new(),
                        Pending::KlapHandshake1 { local_seed },
                    )
                }
                KlapUri::Handshake2 => {
                    let session = self.klap.find(seen.conv, device, cookie.as_deref());
                    let client_hash = array::<32>(body).unwrap_or_default();
                    if body.len() != 32 {
                        problems.push(Problem::KlapBody {
                            step: "handshake2",
                            expected: 32,
                            got: body.len(),
                        });
                    }
                    let verified = session.as_ref().and_then(|s| {
                        let (_, auth, _) = s.matched.as_ref()?;
                        Some(klap::client_hash(&s.local_seed, &s.remote_seed, auth) == client_hash)
                    });
                    if verified == Some(false) {
                        problems.push(Problem::KlapClientHash);
                    }
                    (
                        klap_meta(
                            KlapStep::Handshake2 {
                                client_hash,
                                verified,
                            },
                            &session,
                            false,
                        ),
                        Vec::new(),
                        Pending::KlapHandshake2 {
                            cookie: cookie.clone(),
                        },
                    )
                }
                KlapUri::Request => {
                    let session = self.klap.find(seen.conv, device, cookie.as_deref());
                    let mut seq = klap::uri_seq(uri);
                    let signature = array::<32>(body).unwrap_or_default();
                    let ct = body.get(32..).unwrap_or_default();
                    if body.len() < 32 {
                        problems.push(Problem::KlapBody {
                            step: "request",
                            expected: 32,
                            got: body.len(),
                        });
                    }
                    let mut signature_ok = None;
                    let mut plaintext = Vec::new();
                    match session.as_ref().map(|s| (s, s.matched.as_ref())) {
                        None => problems.push(Problem::KlapNoHandshake),
                        Some((_, None)) => problems.push(Problem::KlapNoCredentials),
                        Some((s, Some((_, _, keys)))) => {
                            let mut last = s.last_seq.lock().unwrap_or_else(|e| e.into_inner());
                            if seq.is_none() {
                                // A URI without its seq: the next one, if the signature says so.
                                let next = last.unwrap_or(keys.initial_seq).wrapping_add(1);
                                if keys.signature(next, ct) == signature {
                                    seq = Some(next);
                                }
                            }
                            if let Some(n) = seq {
                                *last = Some(n);
                                let ok = keys.signature(n, ct) == signature;
                                signature_ok = Some(ok);
                                if !ok {
                                    problems.push(Problem::KlapSignature);
                                }
                                match keys.decrypt(n, ct) {
                                    Ok(p) => plaintext = p,
                                    Err(e) => problems.push(Problem::Decrypt {
                                        detail: e.to_string(),
                                    }),
                                }
                            }
                        }
                    }
                    let decrypted = !plaintext.is_empty();
                    (
                        klap_meta(
                            KlapStep::Request {
                                seq,
                                signature,
                                signature_ok,
                                ciphertext_len: ct.len(),
                            },
                            &session,
                            decrypted,
                        ),
                        plaintext,
                        Pending::KlapRequest {
                            seq,
                            session,
                            cookie: cookie.clone(),
                        },
                    )
                }
            };
            self.push_open(seen, pending);
            return Some(Classified {
                direction: Direction::Request,
                meta,
                plaintext,
                problems,
                answers: None,
            });
        }

        // AES: POST /app (any query) with a JSON envelope.
        let path = http::path(uri);
        if path != "/app" && path != "/app/" {
            return None;
        }
        let envelope = aes::parse_request(body)?;
        let token = http::query_param(uri, "token").map(str::to_owned);
        let mut rsa = None;
        let mut session = self.aes.find(seen.conv, device, cookie.as_deref());
        let mut plaintext = body.to_vec();
        let mut decrypted = false;
        let encrypted = envelope.request_b64.is_some();
        match envelope.method {
            EnvelopeMethod::Handshake => {
                rsa = envelope.key_pem.as_deref().and_then(|pem| {
                    self.secrets
                        .rsa_keys
                        .iter()
                        .position(|k| aes::key_matches(pem, k))
                });
            }
            EnvelopeMethod::SecurePassthrough | EnvelopeMethod::LoginDevice => {
                if let Some(ct) = envelope.request_b64.as_deref() {
                    if session.is_none() {
                        session = self.adopt_aes_key(seen.conv, device, cookie.as_deref(), ct);
                    }
                    match &session {
                        Some(s) => match s.keys.decrypt_b64(ct) {
                            Ok(p) => {
                                plaintext = p;
                                decrypted = true;
                            }
                            Err(e) => problems.push(Problem::Decrypt {
                                detail: e.to_string(),
                            }),
                        },
                        None => problems.push(Problem::AesNoKey),
                    }
                }
            }
        }
        self.push_open(
            seen,
            Pending::Aes {
                method: envelope.method,
                cookie: cookie.clone(),
                rsa,
                session: session.clone(),
            },
        );
        Some(Classified {
            direction: Direction::Request,
            meta: Meta::Aes(Box::new(AesMeta {
                method: Some(envelope.method),
                session: cookie,
                token,
                error_code: None,
                encrypted,
                decrypted,
                clear_response: false,
            })),
            plaintext,
            problems,
            answers: None,
        })
    }

    fn response(&mut self, seen: &Seen, view: &HttpView<'_>) -> Option<Classified> {
        let open = self.open.get_mut(&seen.conv)?;
        let at = match view.answers {
            Some(frame) => open.iter().position(|o| o.id.frame == frame)?,
            None if open.is_empty() => return None,
            None => 0,
        };
        let Open { id, time, pending } = open.remove(at)?;
        let answers = Some((id, seen.time.saturating_sub(time)));
        let device = seen.src.ip();
        let set_cookie = session_cookie(view.set_cookie).map(str::to_owned);
        let body = view.body;
        let mut problems = Vec::new();
        let mut plaintext = Vec::new();
        let meta = match pending {
            Pending::KlapHandshake1 { local_seed } => {
                if body.len() != 48 {
                    problems.push(Problem::KlapBody {
                        step: "handshake1 reply",
                        expected: 48,
                        got: body.len(),
                    });
                }
                let remote_seed = array::<16>(body).unwrap_or_default();
                let server_hash = body.get(16..).and_then(array::<32>).unwrap_or_default();
                let matched = (body.len() == 48)
                    .then(|| {
                        klap::find_credential(
                            &self.candidates,
                            &local_seed,
                            &remote_seed,
                            &server_hash,
                        )
                    })
                    .flatten()
                    .map(|(i, auth)| {
                        let keys = KlapKeys::derive(&local_seed, &remote_seed, &auth);
                        (self.candidates[i].label.clone(), auth, keys)
                    });
                if matched.is_none() {
                    problems.push(Problem::KlapNoCredentials);
                }
                let (version, auth): (Option<KlapVersion>, _) = match &matched {
                    Some((label, a, _)) => (Some(a.version()), Some(label.clone())),
                    None => (None, None),
                };
                let session = Arc::new(KlapSession {
                    local_seed,
                    remote_seed,
                    matched,
                    last_seq: std::sync::Mutex::new(None),
                });
                self.klap
                    .insert(seen.conv, device, set_cookie.as_deref(), session);
                Meta::Klap(Box::new(KlapMeta {
                    step: KlapStep::Handshake1Reply {
                        remote_seed,
                        server_hash,
                    },
                    session: set_cookie,
                    version,
                    auth,
                    decrypted: false,
                }))
            }
            Pending::KlapHandshake2 { cookie } => {
                // Its answer has no body; one with a body is shown as it is.
                Meta::Klap(Box::new(KlapMeta {
                    step: KlapStep::Response {
                        seq: None,
                        signature: array::<32>(body).unwrap_or_default(),
                        signature_ok: None,
                        ciphertext_len: body.len().saturating_sub(32),
                    },
                    session: set_cookie.or(cookie),
                    version: None,
                    auth: None,
                    decrypted: false,
                }))
            }
            Pending::KlapRequest {
                seq,
                session,
                cookie,
            } => {
                let signature = array::<32>(body).unwrap_or_default();
                let ct = body.get(32..).unwrap_or_default();
                let matched = session.as_ref().and_then(|s| s.matched.as_ref());
                let mut signature_ok = None;
                match (&session, matched, seq) {
                    (None, _, _) => problems.push(Problem::KlapNoHandshake),
                    (Some(_), None, _) => problems.push(Problem::KlapNoCredentials),
                    (Some(_), Some((_, _, keys)), Some(n)) if !ct.is_empty() => {
                        // That the device signs like a request is an assumption
                        // (PROTOCOL.md §4.3): shown, never reported.
                        signature_ok = Some(keys.signature(n, ct) == signature);
                        match keys.decrypt(n, ct) {
                            Ok(p) => plaintext = p,
                            Err(e) => problems.push(Problem::Decrypt {
                                detail: e.to_string(),
                            }),
                        }
                    }
                    _ => {}
                }
                if body.len() < 32 {
                    problems.push(Problem::KlapBody {
                        step: "response",
                        expected: 32,
                        got: body.len(),
                    });
                }
                Meta::Klap(Box::new(KlapMeta {
                    step: KlapStep::Response {
                        seq,
                        signature,
                        signature_ok,
                        ciphertext_len: ct.len(),
                    },
                    session: set_cookie.or(cookie),
                    version: matched.map(|(_, a, _)| a.version()),
                    auth: matched.map(|(l, _, _)| l.clone()),
                    decrypted: !plaintext.is_empty(),
                }))
            }
            Pending::Tpap {
                step,
                sub_method,
                seq,
            } => {
                if step == TpapStep::Login {
                    plaintext = body.to_vec();
                    if sub_method.as_deref() == Some("pake_share")
                        && let Some(start) = serde_json::from_slice::<serde_json::Value>(body)
                            .ok()
                            .and_then(|v| v.pointer("/result/start_seq").and_then(|s| s.as_i64()))
                    {
                        remember(&mut self.tpap_seq, seen.conv, start);
                    }
                }
                Meta::Tpap(Box::new(TpapMeta {
                    step,
                    sub_method,
                    seq,
                    data_len: body.len(),
                }))
            }
            Pending::Aes {
                method,
                cookie,
                rsa,
                session,
            } => {
                let envelope = aes::parse_response(body);
                let mut encrypted = false;
                let mut decrypted = false;
                let mut clear_response = false;
                plaintext = body.to_vec();
                match (method, &envelope) {
                    (EnvelopeMethod::Handshake, Some(env)) => {
                        // The reply itself is clear: only its key is RSA-encrypted.
                        let keys = env.key_b64.as_deref().zip(rsa).and_then(|(k, i)| {
                            aes::handshake_keys(k, &self.secrets.rsa_keys[i]).ok()
                        });
                        if let Some(keys) = keys {
                            let s = Arc::new(AesSession { keys });
                            self.aes.insert(seen.conv, device, set_cookie.as_deref(), s);
                        }
                    }
                    (_, Some(env)) => {
                        if let Some(r) = env.response.as_deref() {
                            let clear = serde_json::from_str::<serde_json::Value>(r)
                                .is_ok_and(|v| v.is_object());
                            if clear {
                                plaintext = r.as_bytes().to_vec();
                                clear_response = true;
                            } else {
                                encrypted = true;
                                match &session {
                                    Some(s) => match s.keys.decrypt_b64(r) {
                                        Ok(p) => {
                                            plaintext = p;
                                            decrypted = true;
                                        }
                                        Err(e) => problems.push(Problem::Decrypt {
                                            detail: e.to_string(),
                                        }),
                                    },
                                    None => problems.push(Problem::AesNoKey),
                                }
                            }
                        }
                    }
                    (_, None) => {}
                }
                Meta::Aes(Box::new(AesMeta {
                    method: Some(method),
                    session: set_cookie.or(cookie),
                    token: None,
                    error_code: envelope.as_ref().and_then(|e| e.error_code),
                    encrypted,
                    decrypted,
                    clear_response,
                }))
            }
        };
        Some(Classified {
            direction: Direction::Response,
            meta,
            plaintext,
            problems,
            answers,
        })
    }

    /// A user-given AES key that decrypts `ct` to a JSON object becomes the session's key.
    fn adopt_aes_key(
        &mut self,
        conv: ConvId,
        device: IpAddr,
        cookie: Option<&str>,
        ct: &str,
    ) -> Option<Arc<AesSession>> {
        let keys = self.secrets.aes_keys.iter().find(|k| {
            k.decrypt_b64(ct)
                .is_ok_and(|p| p.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'))
        })?;
        let s = Arc::new(AesSession { keys: keys.clone() });
        self.aes.insert(conv, device, cookie, s.clone());
        Some(s)
    }
}
