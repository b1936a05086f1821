//! The capture's [`Session`] (the decoder crate's one session layer, remembering every decision
//! so that a frame dissected again — second pass, GUI click — shows what the first pass
//! decided), made with the user's secrets ([`crate::secrets`]). Reset by the init/cleanup
//! routines at each capture, and rebuilt when the secrets change. Locked only in pure Rust
//! code, never across an epan call (a `longjmp` would leave it locked).

use crate::secrets;
use kasa_decoder::conv::{Secrets, Session};
use kasa_decoder::wire::aes::{AesKeys, rsa_private_key};
use kasa_decoder::wire::klap::Credential;
use std::sync::{Mutex, MutexGuard};

/// The session and the secrets generation it was made with.
static SESSION: Mutex<Option<(u64, Session)>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<(u64, Session)>> {
    SESSION.lock().unwrap_or_else(|e| e.into_inner())
}

/// The user's secrets as the decoder takes them. A key that does not parse is left out (the
/// UAT's own check reports a bad hex key when it is entered; an unreadable RSA key file
/// decrypts nothing, as no key would).
fn load() -> Secrets {
    let mut s = Secrets::default();
    for (user, password) in secrets::credentials() {
        s.credentials.push(Credential::new(
            user.as_str(),
            user.as_str(),
            password.as_str(),
        ));
    }
    for (key, iv) in secrets::aes_keys() {
        if let Some(k) = AesKeys::from_hex(&key, &iv) {
            s.aes_keys.push(k);
        }
    }
    if let Some(path) = secrets::rsa_key_path()
        && let Ok(bytes) = std::fs::read(path)
        && let Ok(key) = rsa_private_key(&bytes)
    {
        s.rsa_keys.push(key);
    }
    s
}

/// Runs `f` on the session (created on first use, and again when the secrets changed).
pub fn with<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    let generation = secrets::secrets_generation();
    let mut guard = lock();
    if guard.as_ref().is_none_or(|(g, _)| *g != generation) {
        *guard = Some((generation, Session::with_secrets(load(), true)));
    }
    let (_, session) = guard.as_mut().expect("just made");
    f(session)
}

/// Forgets everything, and frees it (at the end of a capture too: memory that only a static of
/// the plugin points to would be lost when Wireshark unloads the plugin at exit).
pub fn reset() {
    *lock() = None;
    crate::epan::release_secrets();
}
