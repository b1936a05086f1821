//! The capture's [`Session`] (the decoder crate's one session layer, remembering every decision
//! so that a frame dissected again — second pass, GUI click — shows what the first pass
//! decided). Reset by the init/cleanup routines at each capture. Locked only in pure Rust code,
//! never across an epan call (a `longjmp` would leave it locked).

use kasa_decoder::conv::Session;
use std::sync::{Mutex, MutexGuard};

static SESSION: Mutex<Option<Session>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Session>> {
    SESSION.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the session (created on first use).
pub fn with<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    f(lock().get_or_insert_with(Session::remembering))
}

/// Forgets everything.
pub fn reset() {
    *lock() = None;
}
