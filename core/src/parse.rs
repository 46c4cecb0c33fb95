//! The JSON parser: serde_json's language and number model, one pass, borrowing unescaped strings.
//!
//! Only the accept path is ours. When a text is rejected, serde_json itself is run on it to produce
//! the error message, so messages and positions are exactly the published core's (which is built on
//! serde_json 1.0.149). Both parsers accept the same language; `parse/tests.rs` checks it on
//! generated and mutated texts.

use std::borrow::Cow;

use crate::CoreError;
use crate::number;
use crate::value::{Member, Object, Value};

/// Deepest nesting of arrays/objects a JSON text may have (serde_json's limit: the 128th level is an
/// error).
pub const MAX_DEPTH: usize = 127;

/// Nesting bound for the Python flavour, about Python's own recursion limit (`json.loads` and
/// `json.dumps` stop near 1000 levels). The published binding refuses values nested deeper than
/// 127 levels when it processes them ([`CoreError::ValueTooDeep`], whose position needs the whole
/// text parsed), so deeper texts must still be read. Parsing 1000 levels takes under 96 KiB of
/// stack in release builds (`measure_python_flavour_stack` in the tests).
const PYTHON_FLAVOUR_MAX_DEPTH: usize = 1000;

/// Which JSON dialect a text is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonFlavour {
    /// RFC 8259 as serde_json reads it: what the published text functions accept.
    #[default]
    Strict,
    /// Text produced by Python's `json.dumps`, read the way the published
    /// `process_export_payload_pyobject(json.loads(text))` sees it: `NaN`, `Infinity`, `-Infinity`
    /// and numbers beyond the double range become `null`; integers that do not fit `i64` become
    /// doubles; `-0` is the integer `0`; floats go through the published binding's round trip (the
    /// shortest text of the double, read back with serde_json's algorithm). Nesting deeper than 127
    /// levels is reported by the processing functions ([`CoreError::ValueTooDeep`]), as the published
    /// binding does.
    Python,
}

/// Options of [`parse_json_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// The dialect of the text.
    pub flavour: JsonFlavour,
}

/// Parses a JSON text exactly as the published core does (serde_json semantics: `u64`/`i64`
/// integers stay integers, other numbers are doubles, last duplicate key wins, 127 levels of
/// nesting).
pub fn parse_json(text: &str) -> Result<Value<'_>, CoreError> {
    parse_json_with(text, ParseOptions::default())
}

/// Parses a JSON text in the given dialect.
pub fn parse_json_with(text: &str, options: ParseOptions) -> Result<Value<'_>, CoreError> {
    let mut parser = Parser::new(text, options.flavour);
    match parser.parse_document() {
        Ok(value) => Ok(value),
        Err(Reject) if parser.unsupported => Err(CoreError::UnsupportedValue),
        Err(Reject) => Err(describe_rejection(text)),
    }
}

/// Parses a JSON text with one reading of its numbers, as one `serde_json::from_str` gives them:
/// what the published core does with a decoded body and with the JSON arguments of the Node
/// span builder (`inputValueJson`, `metadataJson`, schemas), which it encodes without the text
/// round trip [`parse_json`] reproduces. Errors are [`parse_json`]'s.
pub fn parse_json_read_once(text: &str) -> Result<Value<'_>, CoreError> {
    let mut parser = Parser::new(text, JsonFlavour::Strict);
    parser.reread_floats = false;
    parser
        .parse_document()
        .map_err(|Reject| describe_rejection(text))
}

/// Strict parse of a decoded body (a text a schema merge says is JSON) that only says whether
/// the text is JSON (no error message is worded).
///
/// The published core reads such a body with one `serde_json::from_str` and inserts the value
/// into the (already normalized) payload: its doubles are read once, where the payload's own are
/// read twice (see [`number::serde_value`]). So `94e25` in a body is `9.400000000000001e+26`,
/// the same literal in the payload `9.4e+26` (goldens: `process_export_payload.jsonl`).
#[cfg(test)]
pub(crate) fn try_parse_decoded_body(text: &str) -> Option<Value<'_>> {
    let mut parser = Parser::new(text, JsonFlavour::Strict);
    parser.reread_floats = false;
    parser.parse_document().ok()
}

/// Marker for "the text is not accepted"; the message comes from [`describe_rejection`].
struct Reject;

type Parsed<T> = Result<T, Reject>;

/// Parses the next value, inside the caller (`?` returns from it): the array and object loops
/// build each scalar right where they store it, instead of receiving it through a `Result` in
/// memory from a function, a copy whose byte-wise writes and wide reads stalled store-to-load
/// forwarding on every element. One `Value` result for all arms keeps the recursing functions'
/// frames small (1000 levels of the Python dialect must fit 1 MiB in debug builds).
macro_rules! parse_value_inline {
    ($self:ident) => {{
        $self.skip_whitespace();
        match $self.peek() {
            Some(b'"') => {
                $self.pos += 1;
                Value::String($self.parse_string()?)
            }
            Some(b'{') => Value::Object($self.parse_object()?),
            Some(b'[') => Value::Array($self.parse_array()?),
            Some(b'-' | b'0'..=b'9') if $self.flavour == JsonFlavour::Strict => {
                $self.parse_number()?
            }
            // Literals, Python-flavour numbers and errors, out of line.
            _ => $self.parse_other_scalar()?,
        }
    }};
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth_left: usize,
    flavour: JsonFlavour,
    /// Set when a Python-flavour number has no value the published binding accepts.
    unsupported: bool,
    /// Strict dialect: give doubles the published core's second reading (its text round trip).
    /// Off for decoded bodies, which it reads once.
    reread_floats: bool,
    /// Elements of the arrays being parsed, innermost last: each array is then moved out into a
    /// `Vec` of exactly its length (one allocation, no growth copies).
    items: Vec<Value<'a>>,
    /// Members of the objects being parsed, likewise.
    members: Vec<Member<'a>>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, flavour: JsonFlavour) -> Self {
        let mut parser = Parser::bare(text, flavour);
        // Sized for typical payloads (one member per ~40 bytes at most open at once is
        // generous) so the stacks rarely grow while parsing.
        parser.items = Vec::with_capacity((text.len() / 64).clamp(4, 512));
        parser.members = Vec::with_capacity((text.len() / 40).clamp(4, 512));
        parser
    }

    /// A parser without preallocated stacks (for [`normalize`], which does not use them).
    fn bare(text: &'a str, flavour: JsonFlavour) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth_left: match flavour {
                JsonFlavour::Strict => MAX_DEPTH,
                JsonFlavour::Python => PYTHON_FLAVOUR_MAX_DEPTH,
            },
            flavour,
            unsupported: false,
            reread_floats: true,
            items: Vec::new(),
            members: Vec::new(),
        }
    }

    fn parse_document(&mut self) -> Parsed<Value<'a>> {
        let value = self.parse_value()?;
        self.skip_whitespace();
        if self.pos != self.bytes.len() {
            return Err(Reject);
        }
        Ok(value)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn parse_value(&mut self) -> Parsed<Value<'a>> {
        Ok(parse_value_inline!(self))
    }

    /// Every value but strings, containers and strict-dialect numbers.
    #[inline(never)]
    fn parse_other_scalar(&mut self) -> Parsed<Value<'a>> {
        match self.peek().ok_or(Reject)? {
            b't' => self.expect_literal(b"true").map(|()| Value::Bool(true)),
            b'f' => self.expect_literal(b"false").map(|()| Value::Bool(false)),
            b'n' => self.expect_literal(b"null").map(|()| Value::Null),
            b'N' if self.flavour == JsonFlavour::Python => {
                self.expect_literal(b"NaN").map(|()| Value::Null)
            }
            b'I' if self.flavour == JsonFlavour::Python => {
                self.expect_literal(b"Infinity").map(|()| Value::Null)
            }
            b'-' if self.flavour == JsonFlavour::Python
                && self.bytes.get(self.pos + 1) == Some(&b'I') =>
            {
                self.pos += 1;
                self.expect_literal(b"Infinity").map(|()| Value::Null)
            }
            b'-' | b'0'..=b'9' => self.parse_number(),
            _ => Err(Reject),
        }
    }

    fn expect_literal(&mut self, literal: &[u8]) -> Parsed<()> {
        if self.bytes[self.pos..].starts_with(literal) {
            self.pos += literal.len();
            Ok(())
        } else {
            Err(Reject)
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        if self.depth_left == 0 {
            return Err(Reject);
        }
        self.depth_left -= 1;
        Ok(())
    }

    #[inline(never)]
    fn parse_array(&mut self) -> Parsed<Vec<Value<'a>>> {
        self.enter()?;
        self.pos += 1; // '['
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth_left += 1;
            return Ok(Vec::new());
        }
        let base = self.items.len();
        loop {
            let item = parse_value_inline!(self);
            self.items.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Reject),
            }
        }
        self.depth_left += 1;
        // `split_off` moves the elements out with one `memcpy` into an exact-size allocation (a
        // drain-and-collect moves them one by one).
        Ok(self.items.split_off(base))
    }

    #[inline(never)]
    fn parse_object(&mut self) -> Parsed<Object<'a>> {
        self.enter()?;
        self.pos += 1; // '{'
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth_left += 1;
            return Ok(Object::new());
        }
        let base = self.members.len();
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                return Err(Reject);
            }
            self.pos += 1;
            let key = self.parse_string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(Reject);
            }
            self.pos += 1;
            let value = parse_value_inline!(self);
            self.members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(Reject),
            }
        }
        self.depth_left += 1;
        Ok(Object::from_members(self.members.split_off(base)))
    }

    /// Parses the rest of a string whose opening quote has been consumed.
    fn parse_string(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos;
        let end = crate::scan::find_special(self.bytes, start);
        match self.bytes.get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                // `start` and `end` sit next to ASCII bytes of a `&str`: char boundaries.
                Ok(Cow::Borrowed(&self.text[start..end]))
            }
            Some(b'\\') => {
                let mut owned = String::with_capacity(end - start + 16);
                owned.push_str(&self.text[start..end]);
                self.pos = end;
                self.parse_escaped_rest(owned).map(Cow::Owned)
            }
            // A control character or the end of the text.
            _ => Err(Reject),
        }
    }

    /// Continues a string that has escapes; `self.pos` is at a backslash.
    fn parse_escaped_rest(&mut self, mut out: String) -> Parsed<String> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.parse_escape(&mut out)?;
                }
                _ => return Err(Reject),
            }
            let end = crate::scan::find_special(self.bytes, self.pos);
            out.push_str(&self.text[self.pos..end]);
            self.pos = end;
        }
    }

    fn parse_escape(&mut self, out: &mut String) -> Parsed<()> {
        let decoded = self.decode_escape()?;
        out.push(decoded);
        Ok(())
    }

    /// Reads the escape after a backslash (`self.pos` is past it) and returns its character.
    #[inline]
    fn decode_escape(&mut self) -> Parsed<char> {
        let c = *self.bytes.get(self.pos).ok_or(Reject)?;
        self.pos += 1;
        Ok(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.parse_hex4()?;
                match first {
                    0xDC00..=0xDFFF => return Err(Reject),
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Reject);
                        }
                        self.pos += 2;
                        let second = self.parse_hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(Reject);
                        }
                        let code = 0x1_0000 + (((first - 0xD800) << 10) | (second - 0xDC00));
                        char::from_u32(code).ok_or(Reject)?
                    }
                    _ => char::from_u32(first).ok_or(Reject)?,
                }
            }
            _ => return Err(Reject),
        })
    }

    fn parse_hex4(&mut self) -> Parsed<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or(Reject)?;
        let mut n = 0u32;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(Reject),
            };
            n = (n << 4) | u32::from(v);
        }
        self.pos += 4;
        Ok(n)
    }

    #[inline]
    fn parse_number(&mut self) -> Parsed<Value<'a>> {
        if self.flavour == JsonFlavour::Strict
            && let Some((value, end)) =
                number::parse_short(self.bytes, self.pos, self.reread_floats)
        {
            self.pos = end;
            return Ok(value);
        }
        self.parse_number_general()
    }

    #[inline(never)]
    fn parse_number_general(&mut self) -> Parsed<Value<'a>> {
        let start = self.pos;
        let scanned = number::scan(self.bytes, start).ok_or(Reject)?;
        self.pos = scanned.end;
        match self.flavour {
            JsonFlavour::Strict if self.reread_floats => {
                number::serde_value(&scanned).ok_or(Reject)
            }
            JsonFlavour::Strict => number::serde_value_once(&scanned).ok_or(Reject),
            JsonFlavour::Python => {
                let literal = &self.text[start..scanned.end];
                match number::python_value(literal, &scanned) {
                    Some(value) => Ok(value),
                    None => {
                        self.unsupported = true;
                        Err(Reject)
                    }
                }
            }
        }
    }
}

/// The error for a rejected text, worded and positioned exactly as serde_json does.
#[cold]
fn describe_rejection(text: &str) -> CoreError {
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(err) => from_serde_error(&err),
        // Unreachable when both parsers accept the same language (tested); kept as a clear error
        // rather than a panic.
        Ok(_) => CoreError::InvalidJson {
            message: "rejected by drift-core's parser".to_owned(),
            line: 1,
            column: 0,
        },
    }
}

/// Splits serde_json's `"{message} at line {l} column {c}"` into our structured error.
pub(crate) fn from_serde_error(err: &serde_json::Error) -> CoreError {
    let (line, column) = (err.line(), err.column());
    let full = err.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    if message == "recursion limit exceeded" {
        CoreError::RecursionLimit { line, column }
    } else {
        CoreError::InvalidJson {
            message,
            line,
            column,
        }
    }
}

mod normalize;
use normalize::{normalize_decoded_into, normalize_into};

/// Appends the canonical text of a decoded body to `out` and returns its schema (the first
/// element's for arrays), reading it as [`try_parse_decoded_body`] does, in one pass without a
/// value tree; `None` when the text is not JSON (`out` then holds a partial text: truncate it).
pub(crate) fn write_decoded_body(
    text: &str,
    out: &mut Vec<u8>,
) -> Option<crate::schema::JsonSchema<'static>> {
    normalize_decoded_into(text, out).ok()
}

/// [`normalize_into`] with serde_json's error for a rejected text.
pub(crate) fn normalize_text(text: &str, out: &mut Vec<u8>) -> Result<(), CoreError> {
    normalize_into(text, out).map_err(|Reject| describe_rejection(text))
}

#[cfg(test)]
mod tests;
