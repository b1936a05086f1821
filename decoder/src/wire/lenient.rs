//! Lenient typed reads of JSON with serde: a member of the wrong JSON type reads as `None`
//! (or an empty list) instead of failing the whole document, unknown members are skipped
//! without being built, and a repeated member keeps its last value. No `serde_json::Value`
//! tree is built, so what is allocated is the strings and lists kept, no more than the input.
//!
//! [`L<T>`] wraps a value of a type implementing [`Lenient`]; an object type implements
//! [`Object`] (one `field` call per member) and so [`Lenient`].

use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A value read leniently: `None` when the JSON value has another type.
pub(crate) struct L<T>(pub Option<T>);

/// How a type is read from each kind of JSON value; the defaults say "not this type".
pub(crate) trait Lenient: Sized {
    fn from_bool(_: bool) -> Option<Self> {
        None
    }
    fn from_u64(_: u64) -> Option<Self> {
        None
    }
    fn from_i64(_: i64) -> Option<Self> {
        None
    }
    fn from_str(_: &str) -> Option<Self> {
        None
    }
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

impl<'de, T: Lenient> Deserialize<'de> for L<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LVisitor(PhantomData)).map(L)
    }
}

struct LVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient> Visitor<'de> for LVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(T::from_bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(T::from_i64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(T::from_u64(v))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(T::from_str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::from_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::from_map(map)
    }
}

impl Lenient for String {
    fn from_str(v: &str) -> Option<Self> {
        Some(v.to_owned())
    }
}

impl Lenient for bool {
    fn from_bool(v: bool) -> Option<Self> {
        Some(v)
    }
}

/// A boolean that some firmware writes as 0/1.
pub(crate) struct Flag(pub bool);

impl Lenient for Flag {
    fn from_bool(v: bool) -> Option<Self> {
        Some(Flag(v))
    }
    fn from_u64(v: u64) -> Option<Self> {
        Some(Flag(v != 0))
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(Flag(v != 0))
    }
}

impl Lenient for u64 {
    fn from_u64(v: u64) -> Option<Self> {
        Some(v)
    }
}

impl Lenient for i64 {
    fn from_u64(v: u64) -> Option<Self> {
        i64::try_from(v).ok()
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(v)
    }
}

/// A list whose elements are read leniently; elements of another type are dropped, and so is
/// every element after the first [`List::MAX_ITEMS`] (the lists read here hold a handful:
/// without a cap, `["","",…]` would cost a 24-byte `String` per 3 input bytes).
pub(crate) struct List<T>(pub Vec<T>);

impl<T> List<T> {
    pub const MAX_ITEMS: usize = 16;
}

impl<T: Lenient> Lenient for List<T> {
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
        let mut out = Vec::new();
        while out.len() < List::<T>::MAX_ITEMS {
            match seq.next_element::<L<T>>()? {
                Some(L(item)) => out.extend(item),
                None => return Ok(Some(List(out))),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Some(List(out)))
    }
}

/// A list of strings that also takes a lone string (one element) and numbers (as decimal text).
pub(crate) struct Strings(pub Vec<String>);

struct StringItem(String);

impl Lenient for StringItem {
    fn from_str(v: &str) -> Option<Self> {
        Some(StringItem(v.to_owned()))
    }
    fn from_u64(v: u64) -> Option<Self> {
        Some(StringItem(v.to_string()))
    }
    fn from_i64(v: i64) -> Option<Self> {
        Some(StringItem(v.to_string()))
    }
}

impl Lenient for Strings {
    fn from_str(v: &str) -> Option<Self> {
        Some(Strings(vec![v.to_owned()]))
    }
    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Option<Self>, A::Error> {
        let list = List::<StringItem>::from_seq(seq)?;
        Ok(list.map(|l| Strings(l.0.into_iter().map(|s| s.0).collect())))
    }
}

/// A JSON object read member by member.
pub(crate) trait Object: Default {
    /// Reads the value of the member `key` (with `map.next_value`) or skips it
    /// (`map.next_value::<IgnoredAny>()`); must consume exactly one value.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

impl<T: Object> Lenient for T {
    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Option<Self>, A::Error> {
        object(map)
    }
}

/// Reads the members of an [`Object`] (what its [`Lenient::from_map`] does; for types that
/// convert what they read).
pub(crate) fn object<'de, T: Object, A: MapAccess<'de>>(mut map: A) -> Result<Option<T>, A::Error> {
    let mut out = T::default();
    while let Some(key) = map.next_key::<Key>()? {
        out.field(key.as_str(), &mut map)?;
    }
    Ok(Some(out))
}

/// Reads the next member value leniently into `slot` (last value wins; a value of the wrong
/// type clears an earlier one, as a plain last-wins read would).
pub(crate) fn set<'de, T: Lenient, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
) -> Result<(), A::Error> {
    *slot = map.next_value::<L<T>>()?.0;
    Ok(())
}

/// Skips the next member value.
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

/// A member name, kept on the stack: names longer than any this crate looks for read as "".
struct Key {
    buf: [u8; Key::CAP],
    len: usize,
}

impl Key {
    const CAP: usize = 32;

    fn as_str(&self) -> &str {
        self.buf
            .get(..self.len)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                let mut key = Key {
                    buf: [0; Key::CAP],
                    len: 0,
                };
                if let Some(dst) = key.buf.get_mut(..v.len()) {
                    dst.copy_from_slice(v.as_bytes());
                    key.len = v.len();
                }
                Ok(key)
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads a whole document leniently; `None` if it is not JSON (or nests deeper than
/// serde_json's limit of 128).
pub(crate) fn from_slice<T: Lenient>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice::<L<T>>(bytes).ok()?.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Obj {
        s: Option<String>,
        n: Option<u64>,
        f: Option<bool>,
        list: Vec<String>,
        child: Option<Box<Obj>>,
    }

    impl Object for Obj {
        fn field<'de, A: MapAccess<'de>>(
            &mut self,
            key: &str,
            map: &mut A,
        ) -> Result<(), A::Error> {
            match key {
                "s" => set(&mut self.s, map),
                "n" => set(&mut self.n, map),
                "f" => {
                    let mut flag = None;
                    set::<Flag, _>(&mut flag, map)?;
                    self.f = flag.map(|f| f.0);
                    Ok(())
                }
                "list" => {
                    let mut l = None;
                    set::<Strings, _>(&mut l, map)?;
                    self.list = l.map(|l| l.0).unwrap_or_default();
                    Ok(())
                }
                "child" => {
                    let mut c = None;
                    set::<Obj, _>(&mut c, map)?;
                    self.child = c.map(Box::new);
                    Ok(())
                }
                _ => skip(map),
            }
        }
    }

    #[test]
    fn types_that_do_not_fit_read_as_none() {
        let o: Obj =
            from_slice(br#"{"s":1,"n":"x","f":"y","list":{},"child":[1,{"s":"a"}]}"#).unwrap();
        assert_eq!(o, Obj::default());
    }

    #[test]
    fn values_that_fit() {
        let o: Obj = from_slice(
            br#"{"x":{"deep":[[[{}]]]},"s":"a\"b","n":7,"f":1,"list":["3",4,null,-1],"child":{"s":"c","f":false}}"#,
        )
        .unwrap();
        assert_eq!(o.s.as_deref(), Some("a\"b"));
        assert_eq!(o.n, Some(7));
        assert_eq!(o.f, Some(true));
        assert_eq!(o.list, ["3", "4", "-1"]);
        let child = o.child.unwrap();
        assert_eq!((child.s.as_deref(), child.f), (Some("c"), Some(false)));
    }

    #[test]
    fn last_member_wins_and_long_names_are_ignored() {
        let o: Obj = from_slice(
            br#"{"s":"a","s":"b","n":1,"n":-1,"ssssssssssssssssssssssssssssssssssssss":"x"}"#,
        )
        .unwrap();
        assert_eq!(o.s.as_deref(), Some("b"));
        assert_eq!(o.n, None);
        let o: Obj = from_slice(br#"{"list":"one"}"#).unwrap();
        assert_eq!(o.list, ["one"]);
    }

    #[test]
    fn lists_are_capped() {
        let items: Vec<String> = (0..40).map(|i| format!("\"{i}\"")).collect();
        let text = format!(r#"{{"list":[{}],"s":"after"}}"#, items.join(","));
        let o: Obj = from_slice(text.as_bytes()).unwrap();
        let want: Vec<String> = (0..List::<()>::MAX_ITEMS).map(|i| i.to_string()).collect();
        assert_eq!(o.list, want);
        assert_eq!(o.s.as_deref(), Some("after"));
    }

    #[test]
    fn not_json_or_not_an_object() {
        assert_eq!(from_slice::<Obj>(b"{"), None);
        assert_eq!(from_slice::<Obj>(b"{} x"), None);
        assert_eq!(from_slice::<Obj>(b"[]"), None);
        assert_eq!(from_slice::<Obj>(b"\"s\""), None);
        assert_eq!(from_slice::<Obj>(b""), None);
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(from_slice::<Obj>(deep.as_bytes()), None);
        assert!(from_slice::<Obj>(b" {} ").is_some());
    }
}
