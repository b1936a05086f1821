//! The stats tree `Kasa/Devices and methods` (`tshark -z kasa,tree`; in the GUI Statistics ›
//! Kasa › Devices and methods): the decoder's [`Accumulator`] per tree, fed from the `kasa` tap
//! (one [`Sample`] per shown message, queued by `render::show`), and its counts copied into the
//! tree's nodes. The counting is the decoder's (`kasa-decode --stats` prints the same table);
//! here only which nodes to set.
//!
//! A device is a node under the root named by its label (model, alias, address: `/` doubled,
//! as the stats tree reads a single `/` in a top node's name as a path); under it a node per
//! transport, under that a node per method (its count: requests and responses), and under each
//! method `requests`, `responses`, `errors`, `unanswered` and, once a response was paired,
//! `response time (ms)` (count, average, min, max). A device whose identity becomes known later
//! (its first request comes before the `get_sysinfo` answer) has its node renamed.

use crate::epan::{Node, StatsTree};
use kasa_decoder::msg::Direction;
use kasa_decoder::stats::{Accumulator, DeviceRow, NO_METHOD, RESPONSE_TIME, Sample};
use std::ffi::CString;
use std::sync::{Mutex, MutexGuard};

/// The accumulator of each open tree, by [`StatsTree::key`].
static TREES: Mutex<Vec<(usize, Accumulator)>> = Mutex::new(Vec::new());

fn lock() -> MutexGuard<'static, Vec<(usize, Accumulator)>> {
    TREES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A device's node name.
fn node_name(d: &DeviceRow) -> String {
    d.label().replace('/', "//")
}

/// One record of the tap for one tree.
pub fn packet(tree: StatsTree<'_>, s: &Sample<'_>) {
    let mut trees = lock();
    let at = match trees.iter().position(|(k, _)| *k == tree.key()) {
        Some(at) => at,
        None => {
            trees.push((tree.key(), Accumulator::new()));
            trees.len() - 1
        }
    };
    let acc = &mut trees[at].1;
    let before = acc.devices().len();
    let added = acc.add_tapped(s);
    if !added.counted {
        return;
    }
    let Some(d) = acc.devices().get(added.device) else {
        return;
    };
    let name = node_name(d);
    if let Some(old) = &added.relabelled
        && added.device < before
    {
        tree.rename(Node::ROOT, &old.replace('/', "//"), &name);
    }
    let device = tree.set_node(Node::ROOT, &name, d.messages);
    let Some(t) = d.transports.iter().find(|t| t.transport == s.transport) else {
        return;
    };
    let transport = tree.set_node(device, t.transport.as_str(), t.messages);
    let time = CString::new(RESPONSE_TIME).unwrap_or_default();
    let answered: Vec<&str> = match (s.direction, s.response_to) {
        (Direction::Response, Some(_)) if s.methods.is_empty() => vec![NO_METHOD],
        (Direction::Response, Some(_)) => s.methods.iter().map(|m| m.name).collect(),
        _ => Vec::new(),
    };
    for (method, row) in &t.methods {
        let node = tree.set_node(transport, method, row.requests + row.responses);
        for (what, n) in row.counts() {
            let what = CString::new(what).unwrap_or_default();
            tree.set_leaf(node, &what, n);
        }
        if let Some(link) = s.response_to {
            for _ in answered.iter().filter(|a| **a == method) {
                tree.add_value(node, &time, link.time.as_secs_f64() * 1e3);
            }
        }
    }
}

/// A tree is freed.
pub fn cleanup(key: usize) {
    lock().retain(|(k, _)| *k != key);
}

/// A capture starts or ends: the counts are the next pass's to make.
pub fn reset() {
    *lock() = Vec::new();
}
