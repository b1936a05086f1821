//! A message's JSON tree: Wireshark's `json.*` items, under the same layer and with the same
//! texts as Wireshark's JSON dissector gives them, built here from the decoder's nodes
//! ([`kasa_decoder::wire::json_tree`]) instead of calling that dissector. Its tokenizer reads
//! the text a byte at a time through the tvb API and was most of tshark's time whenever a tree
//! was shown (`-V`, `-T fields`, the GUI's details pane).
//!
//! The items mirror Wireshark 4.0's JSON dissector (`packet-json.c`); `tests/json_tshark.rs`
//! checks that `-V` shows the same with the preference `kasa.json_fast` on and off (off: the
//! JSON dissector itself) on every fixture. The JSON dissector itself is called instead:
//! * on other Wireshark versions (their JSON trees differ in details);
//! * when one of its fields is missing, or its preference `json.compact_form` is on;
//! * when the text is not one object or array spanning the whole message, or holds something
//!   the two would show differently ([`json_tree::nodes`] says which);
//! * when a key is one the JSON dissector hands to another dissector (JSON 3GPP's keys).
//!
//! Nothing is built for a tree nobody looks at ([`wanted`]).

use crate::epan::{self, Call, Ett, Hf, Item, Pinfo, PrefBool, Span, Thrown, Tree, Tvb};
use crate::fields::{ETT_JSON_ARRAY, ETT_JSON_MEMBER, ETT_JSON_OBJECT};
use crate::register::{JSON_HANDLE, json_tree_pref};
use core::ffi::CStr;
use kasa_decoder::wire::json_tree::{self, Kind, Node};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The preference `kasa.json_fast`.
pub static FAST: PrefBool = PrefBool::new(true);

static PROTO_JSON: Hf = Hf::new();
static OBJECT: Hf = Hf::new();
static ARRAY: Hf = Hf::new();
static MEMBER: Hf = Hf::new();
static KEY: Hf = Hf::new();
static PATH: Hf = Hf::new();
static PATH_WITH_VALUE: Hf = Hf::new();
static MEMBER_WITH_VALUE: Hf = Hf::new();
static STRING: Hf = Hf::new();
static NUMBER: Hf = Hf::new();
static FALSE: Hf = Hf::new();
static NULL: Hf = Hf::new();
static TRUE: Hf = Hf::new();

/// Every field found (and this Wireshark's JSON tree is the one mirrored here).
static READY: AtomicBool = AtomicBool::new(false);
/// `json.compact_form` and `json.hide_extended_path_based_filtering`, read at capture start.
static COMPACT: AtomicBool = AtomicBool::new(false);
static HIDE_PATHS: AtomicBool = AtomicBool::new(false);
/// Keys the JSON dissector hands to other dissectors: their messages go to it.
static HANDED_KEYS: OnceLock<Vec<String>> = OnceLock::new();

/// Deepest nesting built here (serde_json, which judges `json_ok`, stops at 128).
const MAX_DEPTH: usize = 128;

/// At hand-off: the JSON dissector's fields.
pub fn find_fields() {
    let mut all = true;
    for (hf, name) in [
        (&PROTO_JSON, c"json"),
        (&OBJECT, c"json.object"),
        (&ARRAY, c"json.array"),
        (&MEMBER, c"json.member"),
        (&KEY, c"json.key"),
        (&PATH, c"json.path"),
        (&PATH_WITH_VALUE, c"json.path_with_value"),
        (&MEMBER_WITH_VALUE, c"json.member_with_value"),
        (&STRING, c"json.value.string"),
        (&NUMBER, c"json.value.number"),
        (&FALSE, c"json.value.false"),
        (&NULL, c"json.value.null"),
        (&TRUE, c"json.value.true"),
    ] {
        let id = epan::field_id(name).unwrap_or(-1);
        hf.set(id);
        all &= id > 0;
    }
    let keys = epan::field_id(c"json_3gpp")
        .map(epan::protocol_field_names)
        .unwrap_or_default();
    let _ = HANDED_KEYS.set(keys);
    READY.store(all && mirrored_version(), Relaxed);
}

/// The JSON tree mirrored here is 4.0's.
fn mirrored_version() -> bool {
    !cfg!(ws_ge_4_2)
}

/// At capture start (preference changes redissect): the JSON dissector's own preferences.
pub fn read_prefs() {
    COMPACT.store(epan::pref_bool(c"json", c"compact_form", false), Relaxed);
    HIDE_PATHS.store(
        epan::pref_bool(c"json", c"hide_extended_path_based_filtering", false),
        Relaxed,
    );
}

/// Whether to show the JSON tree at all: the preference `kasa.json_tree` allows it and someone
/// will look at it: the tree is shown (`-V`, `-T fields` (tshark 4.0 shows the tree it reads
/// fields from), the GUI's details pane), or a filter, `-e` field or colouring rule refers to
/// `json` or one of its fields (`proto_field_is_referenced`). Nobody sees a JSON tree in
/// tshark's summary mode, where building it was half of the plugin's time.
pub fn wanted(tree: Option<Tree<'_>>) -> bool {
    let proto = PROTO_JSON.get();
    json_tree_pref() && proto > 0 && tree.is_some_and(|t| t.references(proto))
}

/// The JSON tree of `text` (whose bytes `tvb` holds from offset 0) under `tree`: built here
/// when it can be, else by the JSON dissector.
pub fn show<'p>(c: &Call<'p>, tree: Tree<'p>, tvb: Tvb<'p>, text: &[u8]) -> Result<(), Thrown> {
    let nodes = (FAST.get() && READY.load(Relaxed) && !COMPACT.load(Relaxed))
        .then(|| json_tree::nodes(text, MAX_DEPTH))
        .flatten()
        .filter(|n| !hands_off_a_key(text, n));
    match nodes {
        Some(nodes) => Builder {
            pinfo: c.pinfo,
            tvb,
            text,
            nodes: &nodes,
            hide: HIDE_PATHS.load(Relaxed),
        }
        .root(tree),
        None => c.pinfo.call_protected(&JSON_HANDLE, tvb, Some(tree)),
    }
}

/// Whether a member's key is one the JSON dissector gives to another dissector.
fn hands_off_a_key(text: &[u8], nodes: &[Node]) -> bool {
    let keys = HANDED_KEYS.get().map_or(&[][..], Vec::as_slice);
    !keys.is_empty()
        && nodes.iter().filter(|n| n.kind == Kind::Member).any(|n| {
            let key = inside(text, n.key);
            keys.iter().any(|k| k.as_bytes() == key)
        })
}

/// A string token without its quotes.
fn inside(text: &[u8], (start, end): (usize, usize)) -> &[u8] {
    text.get(start + 1..end.saturating_sub(1))
        .unwrap_or_default()
}

struct Builder<'p, 'a> {
    pinfo: Pinfo<'p>,
    tvb: Tvb<'p>,
    text: &'a [u8],
    nodes: &'a [Node],
    hide: bool,
}

impl<'p> Builder<'p, '_> {
    fn span(&self, start: usize, end: usize) -> Span<'p> {
        Span {
            tvb: self.tvb,
            offset: start,
            len: end - start,
        }
    }

    fn text(&self, bytes: &[u8]) -> &'p CStr {
        let pool = self.pinfo.pool();
        match json_tree::unescape(bytes, epan::glib_printable) {
            std::borrow::Cow::Borrowed(s) => pool.cstr(s),
            std::borrow::Cow::Owned(s) => pool.cstr(&s),
        }
    }

    fn subtree(item: Option<Item<'p>>, ett: &Ett) -> Result<Option<Tree<'p>>, Thrown> {
        match item {
            Some(i) => i.subtree(ett),
            None => Ok(None),
        }
    }

    /// A generated item, hidden when the JSON dissector's preference says so.
    fn path_item(&self, item: Option<Item<'p>>) {
        if let Some(i) = item {
            i.set_generated();
            if self.hide {
                i.set_hidden();
            }
        }
    }

    fn root(&self, tree: Tree<'p>) -> Result<(), Thrown> {
        let item = tree.json_root(self.pinfo, &PROTO_JSON, self.tvb, self.text.len())?;
        if let Some(sub) = Self::subtree(item, &crate::fields::ETT_JSON)? {
            self.value(sub, 0, c"", c"")?;
        }
        Ok(())
    }

    /// Node `i` under `tree`; `path` and `key` are the member (or array) it is the value of.
    fn value(&self, tree: Tree<'p>, i: usize, path: &'p CStr, key: &'p CStr) -> Result<(), Thrown> {
        let Some(&n) = self.nodes.get(i) else {
            return Ok(());
        };
        let span = self.span(n.start, n.end);
        match n.kind {
            Kind::Object => {
                let sub = Self::subtree(tree.bytes_item(&OBJECT, span)?, &ETT_JSON_OBJECT)?;
                let Some(sub) = sub else { return Ok(()) };
                let mut m = i + 1;
                while m < n.next {
                    self.member(sub, m, path)?;
                    m = self.nodes.get(m).map_or(n.next, |m| m.next);
                }
            }
            Kind::Array => {
                let sub = Self::subtree(tree.bytes_item(&ARRAY, span)?, &ETT_JSON_ARRAY)?;
                let Some(sub) = sub else { return Ok(()) };
                let pool = self.pinfo.pool();
                let array_path = pool.format(|w| write!(w, "{}/[]", path.to_string_lossy()));
                let mut v = i + 1;
                while v < n.next {
                    self.value(sub, v, array_path, c"[]")?;
                    v = self.nodes.get(v).map_or(n.next, |v| v.next);
                }
            }
            Kind::Member => {}
            scalar => {
                let raw = &self.text[n.start..n.end];
                let value = if scalar == Kind::String {
                    self.text(inside(self.text, (n.start, n.end)))
                } else {
                    self.text(raw)
                };
                let pool = self.pinfo.pool();
                let (p, k, v) = (
                    path.to_string_lossy(),
                    key.to_string_lossy(),
                    value.to_string_lossy(),
                );
                self.path_item(tree.string(
                    &PATH_WITH_VALUE,
                    span,
                    pool.format(|w| write!(w, "{p}:{v}")),
                )?);
                self.path_item(tree.string(
                    &MEMBER_WITH_VALUE,
                    span,
                    pool.format(|w| write!(w, "{k}:{v}")),
                )?);
                match scalar {
                    Kind::String => tree.string(&STRING, span, value)?,
                    Kind::Number => tree.ascii_item(&NUMBER, span)?,
                    Kind::True => tree.bytes_item(&TRUE, span)?,
                    Kind::False => tree.bytes_item(&FALSE, span)?,
                    _ => tree.bytes_item(&NULL, span)?,
                };
            }
        }
        Ok(())
    }

    /// Member node `m` of an object whose path is `base`.
    fn member(&self, tree: Tree<'p>, m: usize, base: &'p CStr) -> Result<(), Thrown> {
        let Some(&n) = self.nodes.get(m) else {
            return Ok(());
        };
        let key = self.text(inside(self.text, n.key));
        let item = tree.string(&MEMBER, self.span(n.start, n.end), key)?;
        let Some(sub) = Self::subtree(item, &ETT_JSON_MEMBER)? else {
            return Ok(());
        };
        let pool = self.pinfo.pool();
        let path =
            pool.format(|w| write!(w, "{}/{}", base.to_string_lossy(), key.to_string_lossy()));
        self.value(sub, m + 1, path, key)?;
        sub.string(&KEY, self.span(n.key.0, n.key.1), key)?;
        self.path_item(sub.string(&PATH, self.span(n.start, n.end), path)?);
        Ok(())
    }
}
