//! The in-memory JSON value every function of the core works on.
//!
//! Strings borrow from the parsed text when they contain no escape (`Cow::Borrowed`), so parsing a
//! payload copies only escaped strings. Objects keep their members sorted by the UTF-8 bytes of the
//! key and deduplicated (the last duplicate wins), which is the canonical order: writers never sort
//! and never clone.

use std::borrow::Cow;
use std::cmp::Ordering;

/// A JSON value in the data model of the published core (serde_json's): integers that fit `u64` or
/// `i64` stay integers, every other number is an `f64`.
///
/// A non-finite `Float` (only reachable by building a value by hand) is treated as `null` everywhere,
/// as the published Python binding does for `NaN` and infinities.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    /// `null`.
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A negative integer (or any integer, when built by hand) that fits `i64`.
    Int(i64),
    /// A non-negative integer that fits `u64`.
    UInt(u64),
    /// Any other number.
    Float(f64),
    /// A string; borrowed from the input text when it had no escapes.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object with sorted, unique keys.
    Object(Object<'a>),
}

/// One member of an [`Object`].
pub type Member<'a> = (Cow<'a, str>, Value<'a>);

/// A JSON object whose members are sorted by the UTF-8 bytes of their keys, without duplicates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    members: Vec<Member<'a>>,
}

impl<'a> Object<'a> {
    /// An empty object.
    pub const fn new() -> Self {
        Object {
            members: Vec::new(),
        }
    }

    /// Builds an object from members in any order; of duplicate keys the last one wins (JSON text
    /// semantics of the published core). Sorts in place: no member is copied.
    pub fn from_members(mut members: Vec<Member<'a>>) -> Self {
        if !members
            .windows(2)
            .all(|w| key_order(w[0].0.as_bytes(), w[1].0.as_bytes()) == Ordering::Less)
        {
            // Stable sort keeps duplicates in input order, so the last of a run is the one that wins.
            members.sort_by(|a, b| key_order(a.0.as_bytes(), b.0.as_bytes()));
            dedup_keep_last(&mut members);
        }
        Object { members }
    }

    /// The members, sorted by key bytes.
    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    /// Mutable access to the values (keys stay fixed so the order cannot break).
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value<'a>> {
        self.members.iter_mut().map(|(_, v)| v)
    }

    /// Gives the members back, sorted and unique.
    pub fn into_members(self) -> Vec<Member<'a>> {
        self.members
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// `true` when the object has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The value of `key`, by binary search.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.position(key).map(|i| &self.members[i].1)
    }

    /// Index of `key` among the sorted members.
    pub(crate) fn position(&self, key: &str) -> Option<usize> {
        // `key_order` is the byte order without a `memcmp` call per probe for short keys.
        self.members
            .binary_search_by(|(k, _)| key_order(k.as_bytes(), key.as_bytes()))
            .ok()
    }

    /// Converts every borrowed string into an owned one.
    pub fn into_owned(self) -> Object<'static> {
        Object {
            members: self
                .members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        }
    }
}

/// Key order of an object: the UTF-8 bytes compared lexicographically, exactly `a.cmp(b)`.
///
/// Keys are mostly a few bytes long, and `<[u8]>::cmp` calls `memcmp` for every comparison: the
/// call cost more than the comparison (5 % of parsing a payload went to `memcmp` from sorting and
/// checking the members). Short common prefixes are compared inline; long ones still use `memcmp`.
#[inline]
pub(crate) fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    /// Prefixes up to this long are compared byte by byte.
    const INLINE_PREFIX: usize = 16;
    let common = a.len().min(b.len());
    if common > INLINE_PREFIX {
        return a.cmp(b);
    }
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Removes all but the last member of each run of equal keys, in place.
fn dedup_keep_last(members: &mut Vec<Member<'_>>) {
    if members.len() < 2 {
        return;
    }
    let mut write = 0;
    for read in 0..members.len() {
        let is_last_of_run = read + 1 == members.len() || members[read].0 != members[read + 1].0;
        if is_last_of_run {
            members.swap(write, read);
            write += 1;
        }
    }
    members.truncate(write);
}

impl<'a> FromIterator<Member<'a>> for Object<'a> {
    fn from_iter<I: IntoIterator<Item = Member<'a>>>(iter: I) -> Self {
        Object::from_members(iter.into_iter().collect())
    }
}

impl<'a> Value<'a> {
    /// Converts every borrowed string into an owned one, detaching the value from its input text.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::UInt(u) => Value::UInt(u),
            Value::Float(f) => Value::Float(f),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(object) => Value::Object(object.into_owned()),
        }
    }

    // `Value::from_host_float` lives in `number.rs`, next to the round trip it applies (so
    // `number` depends on `value`, never the reverse).

    /// `true` for `null` and for non-finite floats (which the core treats as `null`).
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Float(f) => !f.is_finite(),
            _ => false,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number as a double, the way protobuf `Struct` stores every number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key_order;
    use proptest::prelude::*;

    /// Keys that share prefixes of every length around the inline limit, so both paths and the
    /// switch between them are exercised.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        (0usize..40, proptest::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(prefix, tail)| [vec![b'k'; prefix], tail].concat())
    }

    proptest! {
        #[test]
        fn key_order_is_byte_order(a in key(), b in key()) {
            prop_assert_eq!(key_order(&a, &b), a.cmp(&b));
            prop_assert_eq!(key_order(&b, &a), b.cmp(&a));
            prop_assert_eq!(key_order(&a, &a), std::cmp::Ordering::Equal);
        }
    }
}
