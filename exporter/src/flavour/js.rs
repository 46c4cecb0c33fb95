//! JSON as JavaScript sees it: `JSON.parse` into a value model with JavaScript's property order,
//! and `JSON.stringify` back. The Node SDK computes every hash and schema on such values, so the
//! Node flavour works on them too.
//!
//! What JavaScript does that the core's canonical model does not:
//! * every number is a double (`0.0`, `-0`, `1e2` read as `0`, `0`, `100`) and is written back
//!   in `Number.prototype.toString` form (`1e21`, `1e-7`, `0.000001`);
//! * an object keeps its keys in property order: array-index keys (`"0"`, `"10"`) first in
//!   ascending numeric order, then the other keys in insertion order; a duplicate key keeps its
//!   first position and takes the last value;
//! * `Array.prototype.sort` compares keys by UTF-16 code units.
//!
//! Not reproduced: a lone surrogate escape (`"\ud800"`) reads as U+FFFD (JavaScript keeps the
//! lone code unit); nesting deeper than [`MAX_DEPTH`] is an error (V8 parses it).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use super::scan::find_special;

/// Deepest nesting read; deeper input is an error rather than a deep recursion on the
/// exporter thread.
pub const MAX_DEPTH: usize = 512;

/// A JavaScript value produced by `JSON.parse`. Strings and keys without escapes borrow from
/// the parsed text (most of a record's bytes are such strings).
#[derive(Debug, Clone, PartialEq)]
pub enum JsValue<'a> {
    Null,
    Bool(bool),
    Number(f64),
    String(Cow<'a, str>),
    Array(Vec<JsValue<'a>>),
    Object(JsObject<'a>),
}

/// A key or string: borrowed from the text, or owned.
pub type Text<'a> = Cow<'a, str>;

/// An object's own properties in JavaScript property order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsObject<'a> {
    members: Vec<(Text<'a>, JsValue<'a>)>,
    /// How many leading members have array-index keys (kept sorted by index).
    index_keys: usize,
}

fn has_duplicate_keys(members: &[(Text<'_>, JsValue<'_>)]) -> bool {
    if members.len() <= 16 {
        return members
            .iter()
            .enumerate()
            .any(|(i, (key, _))| members[..i].iter().any(|(other, _)| other == key));
    }
    let mut seen = std::collections::HashSet::with_capacity(members.len());
    !members.iter().all(|(key, _)| seen.insert(&**key))
}

/// `key` as an array index (a canonical decimal below 2^32 - 1), as JavaScript orders it.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    if !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = key.parse().ok()?;
    (value < u64::from(u32::MAX)).then_some(value as u32)
}

impl<'a> JsObject<'a> {
    pub fn new() -> Self {
        JsObject::default()
    }

    /// The object `JSON.parse` builds from `members` in text order: duplicates keep their first
    /// place and take the last value, array-index keys move to the front in numeric order.
    /// Objects without either (nearly all) are taken as they are, without per-key work.
    fn from_text_order(members: Vec<(Text<'a>, JsValue<'a>)>) -> Self {
        if has_duplicate_keys(&members) {
            let mut object = JsObject::new();
            for (key, value) in members {
                object.set(key, value);
            }
            return object;
        }
        let index_keys = members
            .iter()
            .filter(|(key, _)| array_index(key).is_some())
            .count();
        let mut members = members;
        if index_keys > 0 {
            // Stable: the other keys keep their insertion order.
            members.sort_by_key(|(key, _)| match array_index(key) {
                Some(index) => (0, index),
                None => (1, 0),
            });
        }
        JsObject {
            members,
            index_keys,
        }
    }

    /// How many leading members have array-index keys.
    pub fn index_keys(&self) -> usize {
        self.index_keys
    }

    pub fn members(&self) -> &[(Text<'a>, JsValue<'a>)] {
        &self.members
    }

    pub fn get(&self, key: &str) -> Option<&JsValue<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `object[key] = value`: an existing key keeps its place, a new one goes where JavaScript
    /// puts it.
    pub fn set(&mut self, key: Text<'a>, value: JsValue<'a>) {
        if let Some(slot) = self.members.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
            return;
        }
        match array_index(&key) {
            Some(index) => {
                let at = self.members[..self.index_keys]
                    .partition_point(|(k, _)| array_index(k).is_some_and(|i| i < index));
                self.members.insert(at, (key, value));
                self.index_keys += 1;
            }
            None => self.members.push((key, value)),
        }
    }
}

impl<'a> JsValue<'a> {
    pub fn empty_object() -> Self {
        JsValue::Object(JsObject::new())
    }

    /// JavaScript truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            JsValue::Null => false,
            JsValue::Bool(flag) => *flag,
            JsValue::Number(number) => *number != 0.0 && !number.is_nan(),
            JsValue::String(text) => !text.is_empty(),
            JsValue::Array(_) | JsValue::Object(_) => true,
        }
    }

    pub fn as_object(&self) -> Option<&JsObject<'a>> {
        match self {
            JsValue::Object(object) => Some(object),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            JsValue::Number(number) => Some(*number),
            _ => None,
        }
    }

    /// `{...value}`: the own enumerable properties as a new object (array elements and string
    /// characters by index; nothing for other primitives).
    pub fn spread(&self) -> JsObject<'a> {
        let mut object = JsObject::new();
        match self {
            JsValue::Object(source) => object = source.clone(),
            JsValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    object.set(Cow::Owned(i.to_string()), item.clone());
                }
            }
            JsValue::String(text) => {
                // One property per UTF-16 code unit; a surrogate half alone is not a `char`.
                for (i, unit) in text.encode_utf16().enumerate() {
                    let unit = char::from_u32(u32::from(unit)).unwrap_or('\u{fffd}');
                    object.set(
                        Cow::Owned(i.to_string()),
                        JsValue::String(Cow::Owned(unit.to_string())),
                    );
                }
            }
            _ => {}
        }
        object
    }
}

/// Why a text is not JSON for `JSON.parse`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JSON at byte {at}: {what}")]
pub struct JsParseError {
    pub at: usize,
    pub what: &'static str,
}

/// `JSON.parse(text)`.
pub fn parse(text: &str) -> Result<JsValue<'_>, JsParseError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        at: 0,
        members: Vec::new(),
        items: Vec::new(),
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("unexpected text after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    /// The members of the objects being read, innermost last (one stack for the whole text):
    /// each object's members are moved out into a vector of their exact size when it ends,
    /// instead of each object growing its own vector push by push (the reallocations and
    /// their copies were a tenth of the parse).
    members: Vec<(Text<'a>, JsValue<'a>)>,
    /// The same for the elements of the arrays being read.
    items: Vec<JsValue<'a>>,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &'static str) -> JsParseError {
        JsParseError { at: self.at, what }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, literal: &str) -> bool {
        if self.bytes[self.at..].starts_with(literal.as_bytes()) {
            self.at += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<JsValue<'a>, JsParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        match self.bytes.get(self.at) {
            None => Err(self.error("unexpected end")),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(JsValue::String),
            Some(b't') if self.eat("true") => Ok(JsValue::Bool(true)),
            Some(b'f') if self.eat("false") => Ok(JsValue::Bool(false)),
            Some(b'n') if self.eat("null") => Ok(JsValue::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsValue<'a>, JsParseError> {
        self.at += 1;
        let mark = self.members.len();
        self.skip_ws();
        if self.eat("}") {
            return Ok(JsValue::Object(JsObject::new()));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.at) != Some(&b'"') {
                return Err(self.error("expected a key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("expected ':'"));
            }
            self.skip_ws();
            let value = self.value(depth + 1)?;
            self.members.push((key, value));
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                let members = self.members.drain(mark..).collect();
                return Ok(JsValue::Object(JsObject::from_text_order(members)));
            }
            return Err(self.error("expected ',' or '}'"));
        }
    }

    fn array(&mut self, depth: usize) -> Result<JsValue<'a>, JsParseError> {
        self.at += 1;
        let mark = self.items.len();
        self.skip_ws();
        if self.eat("]") {
            return Ok(JsValue::Array(Vec::new()));
        }
        loop {
            self.skip_ws();
            let item = self.value(depth + 1)?;
            self.items.push(item);
            self.skip_ws();
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(JsValue::Array(self.items.drain(mark..).collect()));
            }
            return Err(self.error("expected ',' or ']'"));
        }
    }

    fn number(&mut self) -> Result<JsValue<'a>, JsParseError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while p.bytes.get(p.at).is_some_and(u8::is_ascii_digit) {
                p.at += 1;
            }
            p.at - from
        };
        self.eat("-");
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.eat(".") && digits(self) == 0 {
            return Err(self.error("invalid number"));
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        // Rust's float parsing is correctly rounded, as ECMAScript's; overflow gives infinity.
        self.text[start..self.at]
            .parse::<f64>()
            .map(JsValue::Number)
            .map_err(|_| self.error("invalid number"))
    }

    fn hex4(&mut self) -> Result<u32, JsParseError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("bad \\u escape"))?;
        let unit = u32::from_str_radix(text, 16).map_err(|_| self.error("bad \\u escape"))?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(self.error("bad \\u escape"));
        }
        self.at += 4;
        Ok(unit)
    }

    fn string(&mut self) -> Result<Text<'a>, JsParseError> {
        self.at += 1;
        let start = self.at;
        let mut out = String::new();
        loop {
            let run = self.at;
            self.at = find_special(self.bytes, self.at);
            // Without escapes the string is the text itself: borrowed.
            if run == start && self.bytes.get(self.at) == Some(&b'"') {
                self.at += 1;
                return Ok(Cow::Borrowed(&self.text[start..self.at - 1]));
            }
            out.push_str(&self.text[run..self.at]);
            match self.bytes.get(self.at) {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escape = *self
                        .bytes
                        .get(self.at)
                        .ok_or_else(|| self.error("unterminated string"))?;
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4()?;
                            let ch = if (0xd800..0xdc00).contains(&unit)
                                && self.bytes[self.at..].starts_with(b"\\u")
                            {
                                let save = self.at;
                                self.at += 2;
                                let low = self.hex4()?;
                                if (0xdc00..0xe000).contains(&low) {
                                    char::from_u32(
                                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00),
                                    )
                                } else {
                                    self.at = save;
                                    None
                                }
                            } else {
                                char::from_u32(unit)
                            };
                            out.push(ch.unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.error("bad escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }
}

/// `Number.prototype.toString()` of a finite double (ECMAScript's Number::toString, radix 10).
pub fn write_number(number: f64, out: &mut String) {
    if number == 0.0 {
        out.push('0'); // also -0
        return;
    }
    if number < 0.0 {
        out.push('-');
    }
    // Most numbers in recorded values are small integers: below 2^53 every integer is a double
    // of its own, so its shortest digits are its decimal digits (trailing zeros put back).
    if let Some(integer) = exact_integer(number.abs()) {
        write_u64(integer, out);
        return;
    }
    // Rust's `{:e}` writes the shortest digits that read back to the same double, as
    // ECMAScript asks; only the layout differs.
    let (digits, exponent) = shortest_digits(number.abs());
    let digits = digits.as_str();
    let k = digits.len() as i32;
    let n = exponent + 1;
    if k <= n && n <= 21 {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{}",
            if n - 1 < 0 { '-' } else { '+' },
            (n - 1).abs()
        );
    }
}

/// `number` (non-negative) as an integer when it is one below 2^53.
pub(crate) fn exact_integer(number: f64) -> Option<u64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    (number < EXACT && number.fract() == 0.0).then_some(number as u64)
}

/// Appends the decimal digits of `value` (no formatting machinery: this runs for most numbers).
pub(crate) fn write_u64(mut value: u64, out: &mut String) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

/// Appends `value` in decimal, as `{value}` would (the span lines' integer fields: `core::fmt`
/// for each cost more than the rest of the line's fixed part).
pub(crate) fn write_i64(value: i64, out: &mut String) {
    if value < 0 {
        out.push('-');
    }
    write_u64(value.unsigned_abs(), out);
}

/// A few bytes on the stack: the formatting of one number without a heap allocation.
pub(crate) struct StackText {
    bytes: [u8; 40],
    len: usize,
}

impl StackText {
    fn new() -> Self {
        StackText {
            bytes: [0; 40],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits are stored.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The shortest decimal digits of a positive finite double that read back to it, and the power
/// of ten of the first digit (`1.5e-7` is `("15", -7)`).
///
/// Through `zmij` (the shortest-digits formatter the core and serde_json use): `{:e}` through
/// `core::fmt` cost about as much as the rest of writing a value full of prices and
/// coordinates. Its text (`1.5e-7`, `0.001`, `123.0`, `1e21`) is taken apart here; the test
/// holds the digits to `{:e}`'s.
pub(crate) fn shortest_digits(number: f64) -> (StackText, i32) {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(number).as_bytes();
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&text[..at], small_int(&text[at + 1..])),
        None => (text, 0),
    };
    // The value is 0.DIGITS × 10^(point - zeros + exponent).
    let mut digits = StackText::new();
    let mut point = None;
    let mut zeros = 0;
    for &byte in mantissa {
        match byte {
            b'.' => point = Some(digits.len as i32),
            // Zeros before the first significant digit (after the point: they shift it).
            b'0' if digits.len == 0 => zeros += i32::from(point.is_some()),
            b'0'..=b'9' if digits.len < digits.bytes.len() => {
                digits.bytes[digits.len] = byte;
                digits.len += 1;
            }
            _ => {}
        }
    }
    let point = point.unwrap_or(digits.len as i32);
    while digits.len > 1 && digits.bytes[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    (digits, point - zeros + exponent - 1)
}

/// A short signed decimal (an exponent).
fn small_int(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let value = digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    if negative { -value } else { value }
}

/// The previous `shortest_digits`: `{:e}` of the standard library (the reference).
#[cfg(test)]
fn shortest_digits_fmt(number: f64) -> (String, i32) {
    let text = format!("{number:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
    (digits, exponent.parse().unwrap_or(0))
}

/// Appends `text` as `JSON.stringify` writes a string.
pub fn write_string(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push('"');
    // Nearly every string has nothing to escape: one word-at-a-time scan, one copy.
    let mut start = 0;
    loop {
        let at = find_special(bytes, start);
        // Every byte `find_special` stops at is ASCII, so `start..at` ends on a character
        // boundary.
        out.push_str(&text[start..at]);
        let Some(&byte) = bytes.get(at) else {
            break;
        };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        start = at + 1;
    }
    out.push('"');
}

/// `JSON.stringify(value)` (compact).
pub fn stringify(value: &JsValue<'_>, out: &mut String) {
    match value {
        JsValue::Null => out.push_str("null"),
        JsValue::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        JsValue::Number(number) if number.is_finite() => write_number(*number, out),
        JsValue::Number(_) => out.push_str("null"),
        JsValue::String(text) => write_string(text, out),
        JsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                stringify(item, out);
            }
            out.push(']');
        }
        JsValue::Object(object) => {
            out.push('{');
            for (i, (key, member)) in object.members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                stringify(member, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
pub fn to_json(value: &JsValue<'_>) -> String {
    let mut out = String::new();
    stringify(value, &mut out);
    out
}

/// UTF-16 code unit order. It equals UTF-8 byte (code point) order unless a character in
/// U+E000..=U+FFFF meets one above U+FFFF (surrogates sort below U+E000). Only the first
/// differing byte decides: before it the texts are equal, so it is a lead byte in both or a
/// continuation byte in both (characters of one length then, ordered alike in both encodings).
/// Lead bytes 0xEE and 0xEF start U+E000..=U+FFFF, 0xF0 and above a character above U+FFFF:
/// only that pair is ordered the other way round. (Scanning both keys for such bytes before
/// every comparison cost more than the comparison.)
pub(crate) fn utf16_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let Some(at) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    let (x, y) = (a[at], b[at]);
    if x >= 0xEE && y >= 0xEE && (x >= 0xF0) != (y >= 0xF0) {
        y.cmp(&x)
    } else {
        x.cmp(&y)
    }
}

/// `JSON.stringify(sortObjectKeysRecursively(value))` without building the sorted copy.
pub fn stringify_sorted(value: &JsValue<'_>, out: &mut String) {
    match value {
        JsValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                stringify_sorted(item, out);
            }
            out.push(']');
        }
        JsValue::Object(object) => {
            // Array-index keys are already first, in numeric order: only the rest is sorted.
            let (index, rest) = object.members.split_at(object.index_keys);
            let write_member =
                |i: usize, (key, member): &(Text<'_>, JsValue<'_>), out: &mut String| {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(key, out);
                    out.push(':');
                    stringify_sorted(member, out);
                };
            out.push('{');
            for (i, member) in index.iter().enumerate() {
                write_member(i, member, out);
            }
            // The order of the other keys, on the stack for the usual small object.
            const STACK: usize = 32;
            let order = |a: &u32, b: &u32| utf16_order(&rest[*a as usize].0, &rest[*b as usize].0);
            if rest.len() <= STACK {
                let mut positions = [0u32; STACK];
                let positions = &mut positions[..rest.len()];
                for (i, position) in positions.iter_mut().enumerate() {
                    *position = i as u32;
                }
                positions.sort_unstable_by(order);
                for (i, position) in positions.iter().enumerate() {
                    write_member(index.len() + i, &rest[*position as usize], out);
                }
            } else {
                let mut positions: Vec<u32> = (0..rest.len() as u32).collect();
                positions.sort_unstable_by(order);
                for (i, position) in positions.iter().enumerate() {
                    write_member(index.len() + i, &rest[*position as usize], out);
                }
            }
            out.push('}');
        }
        other => stringify(other, out),
    }
}

/// The SDK's `sortObjectKeysRecursively`, literally: keys sorted by UTF-16 code units and
/// assigned to a new object (so array-index keys still come first, in numeric order). The
/// reference `stringify_sorted` is tested against.
#[cfg(test)]
pub fn sort_keys<'a>(value: &JsValue<'a>) -> JsValue<'a> {
    match value {
        JsValue::Array(items) => JsValue::Array(items.iter().map(sort_keys).collect()),
        JsValue::Object(object) => {
            let mut members: Vec<&(Text<'_>, JsValue<'_>)> = object.members.iter().collect();
            members.sort_by(|a, b| utf16_order(&a.0, &b.0));
            let mut sorted = JsObject::new();
            for (key, member) in members {
                sorted.set(key.clone(), sort_keys(member));
            }
            JsValue::Object(sorted)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(n: f64) -> String {
        let mut out = String::new();
        write_number(n, &mut out);
        out
    }

    #[test]
    fn integers_are_written_as_display_does() {
        for value in [
            0,
            1,
            -1,
            9,
            10,
            1_763_766_605,
            i64::from(i32::MIN),
            i64::MAX,
            i64::MIN,
        ] {
            let mut out = String::new();
            write_i64(value, &mut out);
            assert_eq!(out, value.to_string());
        }
    }

    #[test]
    fn numbers_are_written_as_javascript_does() {
        for (value, text) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (10.5, "10.5"),
            (100.0, "100"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (2.5e-3, "0.0025"),
            (-1.5e300, "-1.5e+300"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(number(value), text, "{value:e}");
        }
    }

    #[test]
    fn objects_keep_javascript_property_order() {
        let value = parse(r#"{"b":1,"10":2,"a":3,"2":4,"b":5,"01":6}"#).unwrap();
        assert_eq!(to_json(&value), r#"{"2":4,"10":2,"b":5,"a":3,"01":6}"#);
        assert_eq!(
            to_json(&sort_keys(&value)),
            r#"{"2":4,"10":2,"01":6,"a":3,"b":5}"#
        );
        let mut direct = String::new();
        stringify_sorted(&value, &mut direct);
        assert_eq!(direct, to_json(&sort_keys(&value)));
        // UTF-16 order: U+FF01 sorts after U+1F600's surrogates (0xD83D), not before.
        let value = parse(r#"{"\uff01":1,"😀":2}"#).unwrap();
        assert_eq!(to_json(&sort_keys(&value)), r#"{"😀":2,"！":1}"#);
        let mut direct = String::new();
        stringify_sorted(&value, &mut direct);
        assert_eq!(direct, r#"{"😀":2,"！":1}"#);
    }

    /// The digits through `zmij` against `{:e}`: edge values and 300,000 pseudo-random bit
    /// patterns (every exponent, subnormals included). They may differ only where two shortest
    /// digit strings are equally close to the double: ECMAScript (and Python's `repr`) then
    /// take the even one, `{:e}` does not (`184682136014194.625` is `…194.62` in Node, `…194.63`
    /// through `{:e}`; 49 of 400,000 decimal-looking doubles checked against Node and Python
    /// were such ties, all now written as they write them).
    #[test]
    fn shortest_digits_are_the_shortest_and_ties_go_to_even() {
        let check = |number: f64| {
            let (digits, exponent) = shortest_digits(number);
            let digits = digits.as_str();
            let (reference, reference_exponent) = shortest_digits_fmt(number);
            if (digits, exponent) == (reference.as_str(), reference_exponent) {
                return;
            }
            assert_eq!(
                digits.len(),
                reference.len(),
                "{number:e}: not the shortest"
            );
            let read = |digits: &str, exponent: i32| {
                format!("{}.{}e{exponent}", &digits[..1], &digits[1..])
                    .parse::<f64>()
                    .unwrap()
            };
            assert_eq!(
                read(digits, exponent),
                number,
                "{number:e}: does not read back"
            );
            assert_eq!(read(&reference, reference_exponent), number, "{number:e}");
            let last = digits.as_bytes()[digits.len() - 1] - b'0';
            assert_eq!(last % 2, 0, "{number:e}: a tie not taken to even");
        };
        for number in [
            5e-324,
            1e-323,
            2.2250738585072014e-308,
            1e-7,
            1e-6,
            1e-5,
            0.001,
            0.1,
            0.3,
            1.0,
            1.5,
            10.0,
            100.0,
            123.0,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            1e23,
            9007199254740993.0,
            0.30000000000000004,
            1.7976931348623157e308,
            5.541,
            18373.75,
            71.218023,
            109.750533,
            7240.580133,
            2.5e-3,
            123456789012345680000.0,
            f64::from_bits(4820257830011514452),
        ] {
            check(number);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..300_000u32 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Arbitrary bit patterns, and decimal-looking values (where ties show up).
            let number = if i % 2 == 0 {
                f64::from_bits(state >> 1)
            } else {
                (state % 1_000_000_000_000_000) as f64 / 10f64.powi((state >> 60) as i32)
            };
            if number.is_finite() && number > 0.0 {
                check(number);
            }
        }
    }

    /// Ties between two shortest digit strings, as Node 20 writes them (`String(x)`).
    #[test]
    fn ties_are_written_as_node_writes_them() {
        for (value, text) in [
            (f64::from_bits(4820257830011514452), "184682136014194.62"),
            (f64::from_bits(4834713910019302605), "1713777369532723.2"),
            (f64::from_bits(4833001364949435341), "1285641102065907.2"),
            (f64::from_bits(4830632314526819378), "909639201627270.2"),
        ] {
            assert_eq!(number(value), text);
        }
    }

    /// The byte-decided order against a comparison of the UTF-16 code units.
    #[test]
    fn utf16_order_compares_code_units() {
        let texts = [
            "",
            "a",
            "ab",
            "b",
            "é",
            "\u{d7ff}",
            "\u{e000}",
            "\u{ff01}",
            "\u{ffff}",
            "😀",
            "😀a",
            "\u{10000}",
            "\u{10ffff}",
            "a\u{ff01}",
            "a😀",
            "a\u{e000}b",
            "a😀b",
            "~",
            "\u{7f}",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(
                    utf16_order(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn strings_are_escaped_exactly_like_serde_json() {
        let mut every_control: String = (0u8..0x20).map(char::from).collect();
        every_control.push('\u{7f}');
        for text in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "é北京 😀",
            "tab\tnl\ncr\r",
            every_control.as_str(),
            "\u{0}at start and end\u{1f}",
        ] {
            let mut out = String::new();
            write_string(text, &mut out);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn parse_reads_what_json_parse_reads() {
        assert_eq!(
            to_json(&parse(" [0.0, -0.0, 1e2, 1.50, \"\\u00e9\\ud83d\\ude00\\n\"] ").unwrap()),
            "[0,0,100,1.5,\"é😀\\n\"]"
        );
        for bad in [
            "",
            "01",
            "1.",
            "[1,]",
            "{\"a\" 1}",
            "\"\u{1}\"",
            "nul",
            "1 2",
            "-",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&"[".repeat(MAX_DEPTH + 2)).is_err());
    }
}
