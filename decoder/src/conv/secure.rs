//! The encrypted HTTP transports, KLAP (PROTOCOL.md §4), AES securePassthrough (§5) and, when
//! Wireshark decrypted its TLS (or the capture is plain HTTP), the HTTPS ones of §6: SslAes,
//! Linkie v2, and TPAP's login and data frames: which
//! HTTP message is one of theirs, which step it is, which session it belongs to, and, when the
//! user's secrets allow, its plaintext.
//!
//! [`Secure::http`] is called by the [`Session`](super::Session) for each HTTP message in
//! capture order. It keeps, per TCP connection, the open requests (so a response learns its
//! step, its KLAP `seq` and its session from its request), and the sessions by cookie and by
//! connection: a KLAP session starts with handshake1 and its keys follow from the first
//! credential whose `server_hash` matches; an AES session's key comes from the handshake
//! reply and the client's RSA private key, or from a key and IV the user gave (adopted by the
//! first message it decrypts). An SslAes session's key follows from its login's nonces and the
//! first credential whose password the device's `device_confirm` proves (or, again, from a key
//! and IV the user gave); it is found by the `stok` of the data path. Linkie needs no secret.
//! Nothing is guessed: a message whose session is not known shows its envelope and a note.

use super::session::{ConvId, MessageId, Seen};
use crate::msg::{
    AesMeta, Direction, KlapMeta, KlapStep, LinkieMeta, Meta, Problem, SslAesMeta, TpapMeta,
    TpapStep,
};
use crate::wire::aes::{self, AesKeys, EnvelopeMethod};
use crate::wire::crypto::CryptoError;
use crate::wire::klap::{self, AuthHash, Credential, KlapKeys, KlapUri, KlapVersion};
use crate::wire::ssl_aes::{self, LoginStep};
use crate::wire::{http, linkie, tdp};
use foldhash::{HashMap, HashMapExt as _};
use std::collections::VecDeque;
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

/// An SslAes login between its nonce answer and its digest answer, found by the device and
/// `cnonce` (which the digest login repeats).
struct SslAesLogin {
    nonce: String,
    /// The matched credential's label and password hash `H`.
    matched: Option<(String, String)>,
}

/// An SslAes session, from a login's `stok` answer.
#[derive(Default)]
struct SslAesSession {
    /// The key and IV: from the matched password, or a user-given pair that decrypted.
    keys: Option<AesKeys>,
    cnonce: Option<String>,
    nonce: Option<String>,
    /// The matched credential's label and password hash `H` (for the tags).
    matched: Option<(String, String)>,
}

impl SslAesSession {
    fn meta(&self) -> SslAesMeta {
        SslAesMeta {
            cnonce: self.cnonce.clone(),
            nonce: self.nonce.clone(),
            auth: self.matched.as_ref().map(|(l, _)| l.clone()),
            ..SslAesMeta::default()
        }
    }
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
    SslAes {
        /// The envelope method (`login`, `securePassthrough`; `None`: clear JSON).
        method: Option<EnvelopeMethod>,
        /// What the request showed (login step, nonces, Seq, tag).
        meta: SslAesMeta,
        session: Option<Arc<SslAesSession>>,
    },
    Linkie {
        version: u8,
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
    /// SslAes logins by device and `cnonce`, from the nonce answer on.
    ssl_logins: HashMap<(IpAddr, String), Arc<SslAesLogin>>,
    /// SslAes sessions by their `stok` at the device.
    ssl: Sessions<SslAesSession>,
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
            .field("ssl_aes_sessions", &self.ssl.by_conv.len())
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
            ssl_logins: HashMap::new(),
            ssl: Sessions::default(),
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

    /// Classifies one HTTP message; `None` when it is not KLAP, AES, SslAes, Linkie or TPAP (it
    /// stays HTTP's). `tpap`: the request goes to an endpoint a TDP reply announced as TPAP
    /// (its `POST /` and `/stok=…/ds` are TPAP's there, SslAes's elsewhere).
    pub fn http(&mut self, seen: &Seen, view: &HttpView<'_>, tpap: bool) -> Option<Classified> {
        match view.request {
            Some((_, uri)) if tpap && !http::is_app_target(uri) => {
                self.tpap_request(seen, uri, view)
            }
            Some((_, uri)) => {
                let path = http::path(uri);
                if let Some(version) = linkie::version(path) {
                    return Some(self.linkie_request(seen, version, view));
                }
                if ssl_aes::is_login_path(path) {
                    return self.ssl_aes_login(seen, view);
                }
                if let Some(stok) = ssl_aes::data_path_stok(path) {
                    return self.ssl_aes_data(seen, stok, view);
                }
                self.request(seen, uri, view)
            }
            None => self.response(seen, view),
        }
    }

    /// A Linkie request: always shown (the path is Linkie's), its body decoded or flagged.
    fn linkie_request(&mut self, seen: &Seen, version: u8, view: &HttpView<'_>) -> Classified {
        let (meta, plaintext, problems) = linkie_body(linkie::parse_request(view.body), view.body);
        self.push_open(seen, Pending::Linkie { version });
        Classified {
            direction: Direction::Request,
            meta: Meta::Linkie(Box::new(LinkieMeta {
                version: Some(version),
                ..meta
            })),
            plaintext,
            problems,
            answers: None,
        }
    }

    /// An SslAes login request (`POST /`, clear JSON); `None` when the body is no such login.
    fn ssl_aes_login(&mut self, seen: &Seen, view: &HttpView<'_>) -> Option<Classified> {
        let login = ssl_aes::parse_login(view.body)?;
        let mut meta = SslAesMeta {
            login: Some(login.step),
            cnonce: login.cnonce.clone(),
            ..SslAesMeta::default()
        };
        // The digest login repeats the cnonce of the nonce login the device answered.
        if let Some(state) = login
            .cnonce
            .and_then(|c| self.ssl_logins.get(&(seen.dst.ip(), c)))
        {
            meta.nonce = Some(state.nonce.clone());
            meta.auth = state.matched.as_ref().map(|(l, _)| l.clone());
        }
        self.push_open(
            seen,
            Pending::SslAes {
                method: Some(EnvelopeMethod::Login),
                meta: meta.clone(),
                session: None,
            },
        );
        Some(ssl_aes_classified(
            Direction::Request,
            Some(EnvelopeMethod::Login),
            meta,
            view.body.to_vec(),
            Vec::new(),
        ))
    }

    /// An SslAes data request (`POST /stok=…/ds`): the securePassthrough envelope, or clear JSON
    /// after the "less secure" login; `None` when the body is not JSON (TPAP's binary frames).
    fn ssl_aes_data(&mut self, seen: &Seen, stok: &str, view: &HttpView<'_>) -> Option<Classified> {
        let body = view.body;
        let envelope = aes::parse_request(body);
        let ct = envelope.as_ref().and_then(|e| e.request_b64.clone());
        if ct.is_none() && !is_json_object(body) {
            return None;
        }
        let device = seen.dst.ip();
        let mut session = self.ssl.find(seen.conv, device, Some(stok));
        let mut meta = session.as_ref().map(|s| s.meta()).unwrap_or_default();
        let mut problems = Vec::new();
        meta.seq = view.seq.and_then(|s| s.trim().parse::<i64>().ok());
        meta.tag = view.tapo_tag.map(|t| t.trim().to_owned());
        if let (Some(s), Some(seq), Some(tag)) = (&session, meta.seq, &meta.tag)
            && let (Some((_, hash)), Some(cnonce)) = (&s.matched, &s.cnonce)
        {
            let ok = ssl_aes::tag(hash, cnonce, body, seq).eq_ignore_ascii_case(tag);
            meta.tag_ok = Some(ok);
            if !ok {
                problems.push(Problem::SslAesTag);
            }
        }
        let mut plaintext = body.to_vec();
        let mut decrypted = false;
        let method = envelope.as_ref().map(|e| e.method).filter(|_| ct.is_some());
        if let Some(ct) = &ct {
            if session.as_ref().is_none_or(|s| s.keys.is_none())
                && let Some(s) = self.adopt_ssl_aes_key(seen.conv, device, stok, &session, ct)
            {
                session = Some(s);
            }
            match session.as_ref().and_then(|s| s.keys.as_ref()) {
                Some(keys) => match keys.decrypt_b64(ct) {
                    Ok(p) => {
                        plaintext = p;
                        decrypted = true;
                    }
                    Err(e) => problems.push(Problem::Decrypt {
                        detail: e.to_string(),
                    }),
                },
                None => problems.push(Problem::SslAesNoKey),
            }
        }
        self.push_open(
            seen,
            Pending::SslAes {
                method,
                meta: meta.clone(),
                session,
            },
        );
        let mut c = ssl_aes_classified(Direction::Request, method, meta, plaintext, problems);
        if let Meta::Aes(a) = &mut c.meta {
            a.token = Some(stok.to_owned());
            a.encrypted = ct.is_some();
            a.decrypted = decrypted;
        }
        Some(c)
    }

    /// A user-given AES key that decrypts `ct` to a JSON object becomes the SslAes session's.
    fn adopt_ssl_aes_key(
        &mut self,
        conv: ConvId,
        device: IpAddr,
        stok: &str,
        old: &Option<Arc<SslAesSession>>,
        ct: &str,
    ) -> Option<Arc<SslAesSession>> {
        let keys = self
            .secrets
            .aes_keys
            .iter()
            .find(|k| k.decrypt_b64(ct).is_ok_and(|p| opens_object(&p)))?;
        let s = Arc::new(SslAesSession {
            keys: Some(keys.clone()),
            cnonce: old.as_ref().and_then(|o| o.cnonce.clone()),
            nonce: old.as_ref().and_then(|o| o.nonce.clone()),
            matched: old.as_ref().and_then(|o| o.matched.clone()),
        });
        self.ssl.insert(conv, device, Some(stok), s.clone());
        Some(s)
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
            EnvelopeMethod::SecurePassthrough
            | EnvelopeMethod::LoginDevice
            | EnvelopeMethod::Login => {
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
                ssl: None,
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
            Pending::Linkie { version } => {
                let (meta, p, mut found) = linkie_body(linkie::parse_response(body), body);
                plaintext = p;
                problems.append(&mut found);
                Meta::Linkie(Box::new(LinkieMeta {
                    version: Some(version),
                    ..meta
                }))
            }
            Pending::SslAes {
                method,
                meta,
                session,
            } => {
                let (c, p, mut found) = self.ssl_aes_response(seen, method, meta, session, body);
                plaintext = p;
                problems.append(&mut found);
                c
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
                    ssl: None,
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

    /// The answer to an SslAes request: a login's (the nonce answer finds the credential, the
    /// `stok` answer opens the session) or a data request's envelope, decrypted with its
    /// session's key.
    fn ssl_aes_response(
        &mut self,
        seen: &Seen,
        method: Option<EnvelopeMethod>,
        mut meta: SslAesMeta,
        session: Option<Arc<SslAesSession>>,
        body: &[u8],
    ) -> (Meta, Vec<u8>, Vec<Problem>) {
        let device = seen.src.ip();
        let mut problems = Vec::new();
        let mut plaintext = body.to_vec();
        let (mut encrypted, mut decrypted, mut clear_response) = (false, false, false);
        // The request's Seq is the answer's too; its tag is the request's alone.
        meta.tag = None;
        meta.tag_ok = None;
        let error_code;
        match meta.login {
            Some(step) => {
                let reply = ssl_aes::parse_login_reply(body).unwrap_or_default();
                error_code = reply.error_code;
                let cnonce = meta.cnonce.clone();
                if let (Some(cnonce), Some(nonce), Some(confirm)) =
                    (&cnonce, &reply.nonce, &reply.device_confirm)
                {
                    let matched = ssl_aes::find_password(&self.candidates, cnonce, nonce, confirm)
                        .map(|(i, h)| (self.candidates[i].label.clone(), h));
                    // No credential: the session's messages stay closed unless a key and IV
                    // the user gave opens them (then this is no news).
                    if matched.is_none() && self.secrets.aes_keys.is_empty() {
                        problems.push(Problem::SslAesNoKey);
                    }
                    meta.nonce = Some(nonce.clone());
                    meta.auth = matched.as_ref().map(|(l, _)| l.clone());
                    let login = Arc::new(SslAesLogin {
                        nonce: nonce.clone(),
                        matched,
                    });
                    remember(&mut self.ssl_logins, (device, cnonce.clone()), login);
                }
                meta.start_seq = reply.start_seq;
                if let Some(stok) = &reply.stok {
                    let login = cnonce
                        .as_ref()
                        .and_then(|c| self.ssl_logins.get(&(device, c.clone())));
                    let matched = login
                        .and_then(|l| l.matched.clone())
                        .filter(|_| step == LoginStep::Digest);
                    let nonce = login.map(|l| l.nonce.clone());
                    let keys = match (&cnonce, &nonce, &matched) {
                        (Some(c), Some(n), Some((_, h))) => Some(ssl_aes::session_keys(c, n, h)),
                        _ => None,
                    };
                    let s = Arc::new(SslAesSession {
                        keys,
                        cnonce,
                        nonce,
                        matched,
                    });
                    self.ssl.insert(seen.conv, device, Some(stok), s);
                }
            }
            None => {
                let envelope = aes::parse_response(body);
                error_code = envelope.as_ref().and_then(|e| e.error_code);
                if let Some(r) = envelope.as_ref().and_then(|e| e.response.as_deref()) {
                    if is_json_object(r.as_bytes()) {
                        plaintext = r.as_bytes().to_vec();
                        clear_response = true;
                    } else {
                        encrypted = true;
                        match session.as_ref().and_then(|s| s.keys.as_ref()) {
                            Some(keys) => match keys.decrypt_b64(r) {
                                Ok(p) => {
                                    plaintext = p;
                                    decrypted = true;
                                }
                                Err(e) => problems.push(Problem::Decrypt {
                                    detail: e.to_string(),
                                }),
                            },
                            None => problems.push(Problem::SslAesNoKey),
                        }
                    }
                }
            }
        }
        let mut c = ssl_aes_classified(Direction::Response, method, meta, plaintext, problems);
        if let Meta::Aes(a) = &mut c.meta {
            a.error_code = error_code;
            a.encrypted = encrypted;
            a.decrypted = decrypted;
            a.clear_response = clear_response;
        }
        (c.meta, c.plaintext, c.problems)
    }

    /// A user-given AES key that decrypts `ct` to a JSON object becomes the session's key.
    fn adopt_aes_key(
        &mut self,
        conv: ConvId,
        device: IpAddr,
        cookie: Option<&str>,
        ct: &str,
    ) -> Option<Arc<AesSession>> {
        let keys = self
            .secrets
            .aes_keys
            .iter()
            .find(|k| k.decrypt_b64(ct).is_ok_and(|p| opens_object(&p)))?;
        let s = Arc::new(AesSession { keys: keys.clone() });
        self.aes.insert(conv, device, cookie, s.clone());
        Some(s)
    }
}

/// Whether a text's first non-blank byte opens a JSON object.
fn opens_object(text: &[u8]) -> bool {
    text.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Whether `text` is one JSON object (nothing built: members are skipped).
fn is_json_object(text: &[u8]) -> bool {
    opens_object(text) && serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// An SslAes message's classification (the envelope flags are set by the caller).
fn ssl_aes_classified(
    direction: Direction,
    method: Option<EnvelopeMethod>,
    ssl: SslAesMeta,
    plaintext: Vec<u8>,
    problems: Vec<Problem>,
) -> Classified {
    Classified {
        direction,
        meta: Meta::Aes(Box::new(AesMeta {
            method,
            session: None,
            token: None,
            error_code: None,
            encrypted: false,
            decrypted: false,
            clear_response: false,
            ssl: Some(Box::new(ssl)),
        })),
        plaintext,
        problems,
        answers: None,
    }
}

/// A Linkie body's meta (version left to the caller), plaintext and problems.
fn linkie_body(
    parsed: Result<linkie::LinkieBody, linkie::LinkieError>,
    body: &[u8],
) -> (LinkieMeta, Vec<u8>, Vec<Problem>) {
    match parsed {
        Ok(b) => (
            LinkieMeta {
                version: None,
                field: b.field.clone().map(|r| (linkie::FIELD.to_owned(), r)),
                text_at: b.text_at.clone(),
                b64_len: b.b64_len,
                clear: b.clear,
            },
            b.plaintext(body),
            Vec::new(),
        ),
        Err(e) => (
            LinkieMeta {
                version: None,
                field: None,
                text_at: 0..0,
                b64_len: 0,
                clear: false,
            },
            Vec::new(),
            vec![Problem::Linkie(e)],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::session::{Found, MessageId, Session, Shown};
    use crate::msg::Transport;
    use crate::wire::ssl_aes::{PwdHash, pwd_hash};
    use crate::wire::xor;

    const CLIENT: &str = "10.0.0.1:40000";
    const DEVICE: &str = "10.0.0.2:443";

    /// One HTTP message through the session: a request when `uri` is given (client → device).
    struct Http<'a> {
        uri: Option<&'a str>,
        seq: Option<&'a str>,
        tag: Option<&'a str>,
        body: &'a [u8],
    }

    fn send(s: &mut Session, frame: u64, conv: ConvId, m: Http<'_>) -> Option<Shown> {
        let (src, dst) = if m.uri.is_some() {
            (CLIENT, DEVICE)
        } else {
            (DEVICE, CLIENT)
        };
        let seen = Seen {
            id: MessageId { frame, index: 0 },
            time: Duration::from_millis(frame),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            conv,
            found: Found::Heuristic,
            on_device_port: (false, false),
        };
        let view = HttpView {
            request: m.uri.map(|u| ("POST", u)),
            status: None,
            answers: None,
            cookie: None,
            set_cookie: None,
            seq: m.seq,
            tapo_tag: m.tag,
            body: m.body,
        };
        s.http(&seen, &view)
    }

    fn request<'a>(uri: &'a str, body: &'a [u8]) -> Http<'a> {
        Http {
            uri: Some(uri),
            seq: None,
            tag: None,
            body,
        }
    }

    fn response(body: &[u8]) -> Http<'_> {
        Http {
            uri: None,
            seq: None,
            tag: None,
            body,
        }
    }

    fn aes(shown: &Shown) -> &AesMeta {
        match &shown.meta {
            Meta::Aes(a) => a,
            m => panic!("not AES: {m:?}"),
        }
    }

    fn ssl(shown: &Shown) -> &SslAesMeta {
        aes(shown).ssl.as_deref().expect("SslAes meta")
    }

    fn keys(problems: &[Problem]) -> Vec<&'static str> {
        problems.iter().map(Problem::expert).collect()
    }

    const CNONCE: &str = "0123456789ABCDEF";
    const NONCE: &str = "FEDCBA9876543210";
    const INNER: &str = r#"{"method":"multipleRequest","params":{"requests":[{"method":"getDeviceInfo","params":{"device_info":{"name":["basic_info"]}}}]}}"#;
    const INNER_REPLY: &str = r#"{"result":{"responses":[{"method":"getDeviceInfo","result":{"device_info":{"basic_info":{"device_model":"C200"}}},"error_code":0}]},"error_code":0}"#;

    fn envelope(keys: &AesKeys, inner: &str) -> String {
        format!(
            r#"{{"method":"securePassthrough","params":{{"request":"{}"}}}}"#,
            keys.encrypt_b64(inner.as_bytes())
        )
    }

    fn reply_envelope(keys: &AesKeys, inner: &str) -> String {
        format!(
            r#"{{"error_code":0,"result":{{"response":"{}"}}}}"#,
            keys.encrypt_b64(inner.as_bytes())
        )
    }

    /// The whole SslAes flow with the default camera account: the nonce answer's
    /// `device_confirm` finds it, the `stok` answer opens the session, the data request's tag
    /// verifies and both envelopes decrypt; every answer is paired with its request.
    #[test]
    fn ssl_aes_login_then_data_with_the_default_account() {
        let mut s = Session::new();
        let conv = 1;
        let h = pwd_hash("admin", PwdHash::Sha256);
        let login1 = format!(
            r#"{{"method":"login","params":{{"cnonce":"{CNONCE}","encrypt_type":"3","username":"admin"}}}}"#
        );
        let shown = send(&mut s, 1, conv, request("/", login1.as_bytes())).unwrap();
        assert_eq!(shown.meta.transport(), Transport::Aes);
        assert_eq!(shown.plaintext, login1.as_bytes());
        assert_eq!(aes(&shown).method, Some(EnvelopeMethod::Login));
        assert_eq!(ssl(&shown).login, Some(LoginStep::Nonce));
        assert_eq!(ssl(&shown).cnonce.as_deref(), Some(CNONCE));
        assert_eq!(shown.body.methods[0].name(), "login");

        let reply1 = format!(
            r#"{{"error_code":-40413,"result":{{"data":{{"code":-40413,"encrypt_type":["3"],"nonce":"{NONCE}","device_confirm":"{}"}}}}}}"#,
            ssl_aes::device_confirm(CNONCE, NONCE, &h)
        );
        let shown = send(&mut s, 2, conv, response(reply1.as_bytes())).unwrap();
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(1));
        assert_eq!(ssl(&shown).nonce.as_deref(), Some(NONCE));
        assert_eq!(ssl(&shown).auth.as_deref(), Some("default:tapocamera"));
        assert_eq!(aes(&shown).error_code, Some(-40413));
        assert_eq!(keys(&shown.problems), ["kasa.err_code.nonzero"]);

        let login2 = format!(
            r#"{{"method":"login","params":{{"cnonce":"{CNONCE}","encrypt_type":"3","digest_passwd":"{}","username":"admin"}}}}"#,
            ssl_aes::digest_passwd(CNONCE, NONCE, &h)
        );
        let shown = send(&mut s, 3, conv, request("/", login2.as_bytes())).unwrap();
        assert_eq!(ssl(&shown).login, Some(LoginStep::Digest));
        assert_eq!(ssl(&shown).nonce.as_deref(), Some(NONCE));
        assert_eq!(ssl(&shown).auth.as_deref(), Some("default:tapocamera"));
        let reply2 =
            br#"{"error_code":0,"result":{"stok":"S70K","user_group":"root","start_seq":1337}}"#;
        let shown = send(&mut s, 4, conv, response(reply2)).unwrap();
        assert_eq!(ssl(&shown).start_seq, Some(1337));
        assert!(shown.problems.is_empty(), "{:?}", shown.problems);

        let k = ssl_aes::session_keys(CNONCE, NONCE, &h);
        let body = envelope(&k, INNER);
        let tag = ssl_aes::tag(&h, CNONCE, body.as_bytes(), 1337);
        let data = Http {
            uri: Some("/stok=S70K/ds"),
            seq: Some("1337"),
            tag: Some(&tag),
            body: body.as_bytes(),
        };
        let shown = send(&mut s, 5, conv, data).unwrap();
        assert_eq!(shown.plaintext, INNER.as_bytes());
        let a = aes(&shown);
        assert_eq!(a.method, Some(EnvelopeMethod::SecurePassthrough));
        assert!(a.encrypted && a.decrypted);
        assert_eq!(a.token.as_deref(), Some("S70K"));
        let m = ssl(&shown);
        assert_eq!((m.login, m.seq, m.tag_ok), (None, Some(1337), Some(true)));
        assert_eq!(m.auth.as_deref(), Some("default:tapocamera"));
        assert_eq!(shown.body.methods[0].name(), "getDeviceInfo");
        assert!(shown.problems.is_empty(), "{:?}", shown.problems);

        let reply = reply_envelope(&k, INNER_REPLY);
        let shown = send(&mut s, 6, conv, response(reply.as_bytes())).unwrap();
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(5));
        assert_eq!(shown.plaintext, INNER_REPLY.as_bytes());
        assert!(aes(&shown).decrypted);
        assert_eq!(aes(&shown).error_code, Some(0));
        assert_eq!(ssl(&shown).seq, Some(1337));
        assert_eq!((ssl(&shown).tag.as_ref(), ssl(&shown).tag_ok), (None, None));

        // A tag made with another Seq does not verify; the body still decrypts.
        let data = Http {
            uri: Some("/stok=S70K/ds"),
            seq: Some("1338"),
            tag: Some(&tag),
            body: body.as_bytes(),
        };
        let shown = send(&mut s, 7, conv, data).unwrap();
        assert_eq!(ssl(&shown).tag_ok, Some(false));
        assert_eq!(keys(&shown.problems), ["kasa.ssl_aes.bad_tag"]);
        assert_eq!(shown.plaintext, INNER.as_bytes());
    }

    /// A nonce answer no credential proves: a note, unless the user gave AES keys (which may
    /// open the session later); the session's data then needs them.
    #[test]
    fn ssl_aes_login_no_credential() {
        let login1 = format!(
            r#"{{"method":"login","params":{{"cnonce":"{CNONCE}","encrypt_type":"3","username":"admin"}}}}"#
        );
        let reply1 = format!(
            r#"{{"error_code":-40413,"result":{{"data":{{"nonce":"{NONCE}","device_confirm":"{}"}}}}}}"#,
            ssl_aes::device_confirm(CNONCE, NONCE, &pwd_hash("not known", PwdHash::Sha256))
        );
        for (secrets, want) in [
            (
                Secrets::default(),
                vec!["kasa.err_code.nonzero", "kasa.aes.no_key"],
            ),
            (
                Secrets {
                    aes_keys: vec![AesKeys::new([1; 16], [2; 16])],
                    ..Secrets::default()
                },
                vec!["kasa.err_code.nonzero"],
            ),
        ] {
            let mut s = Session::with_secrets(secrets, false);
            send(&mut s, 1, 1, request("/", login1.as_bytes())).unwrap();
            let shown = send(&mut s, 2, 1, response(reply1.as_bytes())).unwrap();
            let mut got = keys(&shown.problems);
            got.sort();
            let mut want = want;
            want.sort();
            assert_eq!(got, want);
            assert_eq!(ssl(&shown).auth, None);
            assert_eq!(ssl(&shown).nonce.as_deref(), Some(NONCE));
        }
    }

    /// Without the login in the capture, a user-given key and IV that decrypts the first
    /// envelope is adopted for its `stok`; without one, the envelope is shown with a note.
    #[test]
    fn ssl_aes_data_with_a_given_key_or_without() {
        // PROTOCOL.md §5.3's key and IV.
        let k = AesKeys::from_hex(
            "388902faf558731ca120489a82c7d909",
            "393df81b53cd30b58969bafd5e399ffa",
        )
        .unwrap();
        let body = br#"{"method":"securePassthrough","params":{"request":"DkA51mu3WNL+sN5mgEkH4r9plCWV0ZPLzJhEHczN4Ro="}}"#;
        let other = AesKeys::new([0xa5; 16], [0; 16]);
        let secrets = Secrets {
            aes_keys: vec![other, k.clone()],
            ..Secrets::default()
        };
        let mut s = Session::with_secrets(secrets, false);
        let shown = send(&mut s, 1, 1, request("/stok=T/ds", body)).unwrap();
        assert_eq!(shown.plaintext, br#"{"foo": 1, "bar": 2}"#);
        assert!(aes(&shown).decrypted);
        assert_eq!(ssl(&shown).tag_ok, None);
        let reply = reply_envelope(&k, r#"{"error_code":0}"#);
        let shown = send(&mut s, 2, 1, response(reply.as_bytes())).unwrap();
        assert_eq!(shown.plaintext, br#"{"error_code":0}"#);
        // The same stok on another connection: the adopted key again.
        let again = envelope(&k, INNER);
        let shown = send(&mut s, 3, 2, request("/stok=T/ds", again.as_bytes())).unwrap();
        assert_eq!(shown.plaintext, INNER.as_bytes());

        let mut s = Session::new();
        let shown = send(&mut s, 1, 1, request("/stok=T/ds", body)).unwrap();
        assert_eq!(shown.plaintext, body);
        assert!(aes(&shown).encrypted && !aes(&shown).decrypted);
        assert_eq!(keys(&shown.problems), ["kasa.aes.no_key"]);
        let mut line = String::new();
        crate::msg::message_summary(&mut line, &shown.meta, shown.record.direction, &shown.body)
            .unwrap();
        assert_eq!(line, "Request securePassthrough (encrypted)");
        let shown = send(&mut s, 2, 1, response(reply.as_bytes())).unwrap();
        assert_eq!(keys(&shown.problems), ["kasa.aes.no_key"]);
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(1));
    }

    /// The "less secure" login (MD5 password) and the clear JSON that follows it; a camera's
    /// clear answer to a data request.
    #[test]
    fn ssl_aes_less_secure_login_and_clear_data() {
        let mut s = Session::new();
        let login = br#"{"method":"login","params":{"hashed":true,"password":"21232F297A57A5A743894A0E4A801FC3","username":"admin"}}"#;
        let shown = send(&mut s, 1, 1, request("/", login)).unwrap();
        assert_eq!(ssl(&shown).login, Some(LoginStep::Hashed));
        let shown = send(
            &mut s,
            2,
            1,
            response(br#"{"error_code":0,"result":{"stok":"Q"}}"#),
        )
        .unwrap();
        assert_eq!(aes(&shown).error_code, Some(0));
        let clear =
            br#"{"method":"getDeviceInfo","params":{"device_info":{"name":["basic_info"]}}}"#;
        let shown = send(&mut s, 3, 1, request("/stok=Q/ds", clear)).unwrap();
        assert_eq!(shown.plaintext, clear);
        assert_eq!(aes(&shown).method, None);
        assert!(!aes(&shown).encrypted);
        assert!(shown.problems.is_empty());
        let answer =
            br#"{"error_code":0,"result":{"device_info":{"basic_info":{"device_model":"C100"}}}}"#;
        let shown = send(&mut s, 4, 1, response(answer)).unwrap();
        assert_eq!(shown.plaintext, answer);
        assert_eq!(shown.body.methods[0].name(), "getDeviceInfo");
    }

    /// What is not SslAes stays HTTP's: TPAP's login (a `sub_method`) and binary data frames
    /// when discovery did not announce the endpoint, other JSON to `/`, other paths.
    #[test]
    fn not_ssl_aes() {
        let mut s = Session::new();
        for (uri, body) in [
            (
                "/",
                &br#"{"method":"login","params":{"sub_method":"discover"}}"#[..],
            ),
            ("/", br#"{"method":"get","params":{}}"#),
            ("/", b"<html>"),
            ("/stok=X/ds", b"\x01\x02\x03binary AEAD"),
            ("/stok=X/ds", b""),
            (
                "/index.html",
                br#"{"method":"login","params":{"cnonce":"x"}}"#,
            ),
        ] {
            assert!(
                send(&mut s, 1, 1, request(uri, body)).is_none(),
                "{uri} {}",
                String::from_utf8_lossy(body)
            );
        }
        // Nothing open: an answer on that connection is HTTP's too.
        assert!(send(&mut s, 2, 1, response(br#"{"error_code":0}"#)).is_none());
    }

    /// Linkie: the request form and the reply decoded (IOT JSON), paired in order per
    /// connection; a malformed body is shown with its problem; the KC100's path is version 1.
    #[test]
    fn linkie_request_and_reply() {
        let mut s = Session::new();
        let req = br#"{"smartlife.cam.ipcamera.dateTime":{"get_status":{}}}"#;
        let rep = br#"{"smartlife.cam.ipcamera.dateTime":{"get_status":{"err_code":0,"epoch_sec":1690832800}}}"#;
        let body = linkie::emit_request(req);
        let shown = send(&mut s, 1, 1, request("/data/LINKIE2.json", body.as_bytes())).unwrap();
        assert_eq!(shown.meta.transport(), Transport::Linkie);
        assert_eq!(shown.plaintext, req);
        assert_eq!(shown.record.direction, Direction::Request);
        assert_eq!(
            shown.body.methods[0].name(),
            "smartlife.cam.ipcamera.dateTime.get_status"
        );
        let Meta::Linkie(m) = &shown.meta else {
            unreachable!()
        };
        assert_eq!(m.version, Some(2));
        assert_eq!(m.field, Some(("content".to_owned(), 0..7)));
        assert_eq!(m.text_at, 8..body.len());
        assert_eq!(m.b64_len, 72);
        assert!(!m.clear);

        // Two requests before the first answer: answers pair in order.
        let shown = send(&mut s, 2, 1, request("/data/LINKIE2.json", body.as_bytes())).unwrap();
        assert!(shown.problems.is_empty());
        let reply = linkie::emit_response(rep);
        let shown = send(&mut s, 3, 1, response(reply.as_bytes())).unwrap();
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(1));
        assert_eq!(shown.plaintext, rep);
        assert_eq!(
            shown.body.methods[0].err_code,
            Some(0),
            "{:?}",
            shown.body.methods
        );
        let Meta::Linkie(m) = &shown.meta else {
            unreachable!()
        };
        assert_eq!(
            (m.version, m.field.as_ref(), m.b64_len),
            (Some(2), None, reply.len())
        );
        let error = br#"{"smartlife.cam.ipcamera.cloud":{"get_inf":{"err_code":-10008,"err_msg":"Unsupported API call."}}}"#;
        let shown = send(&mut s, 4, 1, response(error)).unwrap();
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(2));
        assert_eq!(shown.plaintext, error);
        let Meta::Linkie(m) = &shown.meta else {
            unreachable!()
        };
        assert!(m.clear);

        // Malformed: shown, flagged, still paired; nothing decrypted.
        let shown = send(&mut s, 5, 1, request("/data/LINKIE.json", b"content=%zz")).unwrap();
        assert_eq!(keys(&shown.problems), ["kasa.linkie.malformed"]);
        assert!(shown.plaintext.is_empty());
        let Meta::Linkie(m) = &shown.meta else {
            unreachable!()
        };
        assert_eq!(m.version, Some(1));
        let shown = send(&mut s, 6, 1, response(b"not base64!")).unwrap();
        assert_eq!(keys(&shown.problems), ["kasa.linkie.malformed"]);
        assert_eq!(shown.record.response_to.map(|l| l.request.frame), Some(5));
        assert_eq!(
            shown.problems[0].to_string(),
            "Linkie body of 11 characters is not base64"
        );
        // The XOR is the header-less one: a body with a 4-byte length header is not JSON.
        let framed =
            crate::wire::crypto::b64_encode(&[&[0, 0, 0, 2][..], &xor::encrypt(b"{}")].concat());
        let _ = send(&mut s, 7, 1, request("/data/LINKIE2.json", body.as_bytes()));
        let shown = send(&mut s, 8, 1, response(framed.as_bytes())).unwrap();
        assert!(
            keys(&shown.problems).contains(&"kasa.malformed.json"),
            "{:?}",
            shown.problems
        );
    }
}
