//! The user's secrets (`dissector/epan/secrets.c`): the `kasa_credentials` and `kasa_aes_keys`
//! UATs and the `kasa.rsa_private_key` preference, read as owned copies.
//!
//! ```text
//! tshark -o 'uat:kasa_credentials:"user@example.com","secret"' \
//!        -o 'uat:kasa_aes_keys:"00112233445566778899aabbccddeeff","00112233445566778899aabbccddeeff"' \
//!        -o kasa.rsa_private_key:/path/to/key.pem ...
//! ```
//!
//! The password column is a plain string column: epan (4.0 to 4.6) has no password text mode
//! for UATs, so the GUI's table shows it and the UAT file stores it in clear. The plugin itself
//! never logs, formats or shows a secret: nothing here implements `Display`, and callers must
//! not put these values in tree items, columns or expert infos.

use super::Prefs;
use crate::sys;
use core::ffi::{CStr, c_char};
use core::ptr;

/// In `register_protoinfo`: both UATs and the key-file preference, on the protocol's module.
pub fn register_secrets(prefs: &Prefs) {
    // SAFETY: the live preference module of the registered protocol; called once.
    unsafe { sys::kasa_secrets_register(prefs.0) }
}

/// An owned copy of a C string from the tables (UTF-8 by the tables' own check; lossy
/// otherwise, never panicking).
fn owned(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: NUL-terminated, alive until the tables change, copied at once.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The rows of `kasa_credentials`: `(username, password)`, in table order.
pub fn credentials() -> Vec<(String, String)> {
    // SAFETY: plain reads of the table, copied before returning; epan changes UATs only
    // between packets, on this thread.
    let n = unsafe { sys::kasa_secrets_credentials_len() };
    (0..n)
        .filter_map(|i| {
            let (mut user, mut pass) = (ptr::null(), ptr::null());
            // SAFETY: as above; the out-pointers are written only on success.
            (unsafe { sys::kasa_secrets_credential(i, &mut user, &mut pass) } != 0)
                .then(|| (owned(user), owned(pass)))
        })
        .collect()
}

/// The rows of `kasa_aes_keys` that pass the check: `(key, iv)`, 32 hex digits each, in
/// table order.
pub fn aes_keys() -> Vec<(String, String)> {
    // SAFETY: as in `credentials`.
    let n = unsafe { sys::kasa_secrets_aes_keys_len() };
    (0..n)
        .filter_map(|i| {
            let (mut key, mut iv) = (ptr::null(), ptr::null());
            // SAFETY: as in `credentials`.
            (unsafe { sys::kasa_secrets_aes_key(i, &mut key, &mut iv) } != 0)
                .then(|| (owned(key), owned(iv)))
        })
        .collect()
}

/// `kasa.rsa_private_key`, `None` when empty.
pub fn rsa_key_path() -> Option<String> {
    // SAFETY: the preference's current string (or NULL), copied at once.
    let p = unsafe { sys::kasa_secrets_rsa_key_path() };
    (!p.is_null()).then(|| owned(p))
}

/// Moves whenever the credentials, the AES keys or the key-file path may have changed: state
/// built from them is stale when this differs from the value it was built at.
pub fn secrets_generation() -> u64 {
    // SAFETY: plain C, no epan call that throws.
    unsafe { sys::kasa_secrets_generation() }
}

/// Frees what [`secrets_generation`] keeps (the next call starts a new generation).
pub fn release_secrets() {
    // SAFETY: plain C, no epan call.
    unsafe { sys::kasa_secrets_release() }
}
