//! Capture-wide memory of the first pass: direction, pairing and device identity per message,
//! read back unchanged when a frame is dissected again (second pass, GUI clicks).
//!
//! Reset by the init/cleanup routines at each capture. Locked only in pure Rust code, never
//! across an epan call (a `longjmp` would leave it locked).

use kasa_decoder::conv::Pairer;
use kasa_decoder::msg::{Device, Direction};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// A message: its frame and its index among the messages of that frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageKey {
    pub frame: u32,
    pub index: u32,
}

/// What the first pass decided about one message.
#[derive(Debug, Clone)]
pub struct Record {
    pub direction: Direction,
    /// Request frame and response time.
    pub response_to: Option<(u32, Duration)>,
    /// The device's identity from an earlier frame (shown as generated fields).
    pub device: Option<Arc<Device>>,
}

#[derive(Debug, Default)]
pub struct State {
    pub pairer: Pairer,
    /// Per conversation index: the device's endpoint.
    pub conv_device: HashMap<u32, SocketAddr>,
    pub records: HashMap<MessageKey, Record>,
    /// Per request: the frames of its responses.
    pub response_in: HashMap<MessageKey, Vec<u32>>,
    /// Per device address: its last known identity.
    pub devices: HashMap<IpAddr, Arc<Device>>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<State>> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` on the state (created on first use).
pub fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(lock().get_or_insert_with(State::default))
}

/// Forgets everything.
pub fn reset() {
    *lock() = None;
}
