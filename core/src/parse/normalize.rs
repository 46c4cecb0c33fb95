//! The canonical text of a JSON text in one pass, without building a [`Value`] tree.
//!
//! `normalize_json` / `deterministic_hash` / `normalize_and_hash` only need the canonical text:
//! parsing into a tree and writing it out allocated a `Vec` per container and a `String` per
//! escaped string, scanned every string twice (once to parse, once to escape) and dropped the
//! tree afterwards. Here the parser writes each value's canonical text as it reads it:
//!
//! * strings are copied run by run, escapes decoded and written in their canonical form;
//! * numbers go through the parser's own number reading and the writers' number format;
//! * an object's members are written in text order, each one's byte range recorded with its
//!   (decoded) key; if the keys are not already strictly ascending, the ranges are sorted
//!   (stable, so the last of equal keys wins, as [`Object::from_members`] keeps it) and copied
//!   back in key order through a scratch buffer.
//!
//! Same grammar, same number reading, same key order and same escaping as
//! `canonical::to_string(&parse_json(text)?)`; pinned against it in `parse/tests.rs`.
//!
//! [`Value`]: crate::Value
//! [`Object::from_members`]: crate::Object::from_members

use std::cell::RefCell;

use std::borrow::Cow;

use super::{Parsed, Parser, Reject};
use crate::canonical;
use crate::schema::{JsonSchema, schema_type};
use crate::value::key_order;

/// One member of an object being normalized: where its (decoded) key is, and the byte range of
/// its canonical `"key":value` text in the output.
#[derive(Clone, Copy)]
struct MemberRange {
    /// Byte range of the key in the text (a key without escapes) or in [`Scratch::keys`].
    key: (usize, usize),
    key_in_arena: bool,
    start: usize,
    end: usize,
}

/// Buffers reused across calls on a thread: no allocation per call once they have grown.
#[derive(Default)]
struct Scratch {
    /// Members of the objects being written, innermost last.
    members: Vec<MemberRange>,
    /// Decoded keys that had escapes.
    keys: Vec<u8>,
    /// An unsorted object's members as (key prefix, index), sorted by key.
    order: Vec<(u64, u32)>,
    /// Where an unsorted object's members are put in order before being copied back.
    text: Vec<u8>,
}

/// Largest scratch buffers kept for the next call on the thread.
const RETAINED_SCRATCH_BYTES: usize = 1 << 20;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

struct Normalizer<'a, 's> {
    parser: Parser<'a>,
    scratch: &'s mut Scratch,
}

/// Appends the canonical text of the strict JSON `text` to `out`; `Err(Reject)` when the text is
/// not JSON (the caller words the error with serde_json, as [`super::parse_json`] does).
pub(crate) fn normalize_into(text: &str, out: &mut Vec<u8>) -> Result<(), Reject> {
    // A thread's scratch is never borrowed twice (no callback runs during a call); a fresh one
    // keeps even that impossible case correct.
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let result = normalize_with(text, out, &mut scratch);
            let kept = scratch.members.capacity() * size_of::<MemberRange>()
                + scratch.keys.capacity()
                + scratch.order.capacity() * size_of::<(u64, u32)>()
                + scratch.text.capacity();
            if kept > RETAINED_SCRATCH_BYTES {
                *scratch = Scratch::default();
            }
            result
        }
        Err(_) => normalize_with(text, out, &mut Scratch::default()),
    })
}

/// Appends the canonical text of a decoded body (a strict JSON text whose numbers are read once,
/// as [`super::try_parse_decoded_body`] reads them) to `out` and returns its schema: what
/// parsing the body and writing it with its schema (the first element's schema for arrays)
/// gives. `Err(Reject)` when the text is not JSON; `out` then holds a partial text.
pub(crate) fn normalize_decoded_into(
    text: &str,
    out: &mut Vec<u8>,
) -> Result<JsonSchema<'static>, Reject> {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => decoded_with(text, out, &mut scratch),
        Err(_) => decoded_with(text, out, &mut Scratch::default()),
    })
}

fn decoded_with(
    text: &str,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<JsonSchema<'static>, Reject> {
    scratch.members.clear();
    scratch.keys.clear();
    let mut parser = Parser::bare(text, super::JsonFlavour::Strict);
    parser.reread_floats = false;
    let mut normalizer = Normalizer { parser, scratch };
    let schema = normalizer.value_with_schema(out)?;
    let parser = &mut normalizer.parser;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(Reject);
    }
    Ok(schema)
}

fn normalize_with(text: &str, out: &mut Vec<u8>, scratch: &mut Scratch) -> Result<(), Reject> {
    scratch.members.clear();
    scratch.keys.clear();
    let mut normalizer = Normalizer {
        parser: Parser::bare(text, super::JsonFlavour::Strict),
        scratch,
    };
    normalizer.value(out)?;
    let parser = &mut normalizer.parser;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(Reject);
    }
    Ok(())
}

/// The first 8 bytes of `key` as a big-endian number (zero-padded): comparing two prefixes
/// compares the keys' first 8 bytes in byte order.
#[inline]
fn key_prefix(key: &[u8]) -> u64 {
    let mut prefix = [0u8; 8];
    let n = key.len().min(8);
    prefix[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(prefix)
}

/// The key bytes of `member`.
#[inline]
fn key_of<'k>(text: &'k [u8], keys: &'k [u8], member: &MemberRange) -> &'k [u8] {
    let (start, end) = member.key;
    if member.key_in_arena {
        &keys[start..end]
    } else {
        &text[start..end]
    }
}

impl Normalizer<'_, '_> {
    fn value(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        let p = &mut self.parser;
        p.skip_whitespace();
        match p.peek() {
            Some(b'"') => {
                p.pos += 1;
                self.string(out)
            }
            Some(b'{') => self.object(out),
            Some(b'[') => self.array(out),
            Some(b'-' | b'0'..=b'9') => {
                let number = p.parse_number()?;
                canonical::write_scalar(&number, out);
                Ok(())
            }
            _ => {
                let literal = p.parse_other_scalar()?;
                canonical::write_scalar(&literal, out);
                Ok(())
            }
        }
    }

    /// Copies the rest of a string (opening quote consumed) in canonical form.
    fn string(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        let p = &mut self.parser;
        let bytes = p.bytes;
        out.push(b'"');
        loop {
            let end = crate::scan::find_special(bytes, p.pos);
            out.extend_from_slice(&bytes[p.pos..end]);
            match bytes.get(end) {
                Some(b'"') => {
                    p.pos = end + 1;
                    out.push(b'"');
                    return Ok(());
                }
                Some(b'\\') => {
                    p.pos = end + 1;
                    let c = p.decode_escape()?;
                    canonical::write_char_escaped(c, out);
                }
                // A control character or the end of the text.
                _ => return Err(Reject),
            }
        }
    }

    #[inline(never)]
    fn array(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        self.array_inner(out, false).map(drop)
    }

    /// Writes an array; with `first_schema`, returns its first element's schema.
    fn array_inner(
        &mut self,
        out: &mut Vec<u8>,
        first_schema: bool,
    ) -> Parsed<Option<JsonSchema<'static>>> {
        let p = &mut self.parser;
        p.enter()?;
        p.pos += 1; // '['
        p.skip_whitespace();
        out.push(b'[');
        if p.peek() == Some(b']') {
            p.pos += 1;
            p.depth_left += 1;
            out.push(b']');
            return Ok(None);
        }
        let mut first = None;
        loop {
            if first_schema && first.is_none() {
                first = Some(self.value_with_schema(out)?);
            } else {
                self.value(out)?;
            }
            let p = &mut self.parser;
            p.skip_whitespace();
            match p.peek() {
                Some(b',') => {
                    p.pos += 1;
                    out.push(b',');
                }
                Some(b']') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(Reject),
            }
        }
        self.parser.depth_left += 1;
        out.push(b']');
        Ok(first)
    }

    /// [`Self::value`] that also returns the value's schema.
    fn value_with_schema(&mut self, out: &mut Vec<u8>) -> Parsed<JsonSchema<'static>> {
        let p = &mut self.parser;
        p.skip_whitespace();
        let schema_type = match p.peek() {
            Some(b'"') => {
                p.pos += 1;
                self.string(out)?;
                schema_type::STRING
            }
            Some(b'{') => {
                let mut properties = Vec::new();
                self.object_inner(out, Some(&mut properties))?;
                return Ok(JsonSchema {
                    schema_type: schema_type::OBJECT,
                    properties,
                    ..JsonSchema::default()
                });
            }
            Some(b'[') => {
                let first = self.array_inner(out, true)?;
                return Ok(JsonSchema {
                    schema_type: schema_type::ORDERED_LIST,
                    items: first.map(Box::new),
                    ..JsonSchema::default()
                });
            }
            Some(b'-' | b'0'..=b'9') => {
                let number = p.parse_number()?;
                canonical::write_scalar(&number, out);
                schema_type::NUMBER
            }
            _ => {
                let literal = p.parse_other_scalar()?;
                canonical::write_scalar(&literal, out);
                match literal {
                    crate::Value::Bool(_) => schema_type::BOOLEAN,
                    _ => schema_type::NULL,
                }
            }
        };
        Ok(JsonSchema::of_type(schema_type))
    }

    #[inline(never)]
    fn object(&mut self, out: &mut Vec<u8>) -> Parsed<()> {
        self.object_inner(out, None)
    }

    /// Writes an object; with `properties`, also collects its members' schemas in key order.
    fn object_inner(
        &mut self,
        out: &mut Vec<u8>,
        mut properties: Option<&mut Vec<(Cow<'static, str>, JsonSchema<'static>)>>,
    ) -> Parsed<()> {
        let p = &mut self.parser;
        p.enter()?;
        p.pos += 1; // '{'
        p.skip_whitespace();
        out.push(b'{');
        if p.peek() == Some(b'}') {
            p.pos += 1;
            p.depth_left += 1;
            out.push(b'}');
            return Ok(());
        }
        let content_start = out.len();
        let base = self.scratch.members.len();
        let mut sorted = true;
        loop {
            let p = &mut self.parser;
            p.skip_whitespace();
            if p.peek() != Some(b'"') {
                return Err(Reject);
            }
            p.pos += 1;
            let key_start = p.pos;
            let key = p.parse_string()?;
            let (key, key_in_arena) = match key {
                std::borrow::Cow::Borrowed(k) => ((key_start, key_start + k.len()), false),
                std::borrow::Cow::Owned(k) => {
                    let keys = &mut self.scratch.keys;
                    let at = keys.len();
                    keys.extend_from_slice(k.as_bytes());
                    ((at, keys.len()), true)
                }
            };
            let p = &mut self.parser;
            p.skip_whitespace();
            if p.peek() != Some(b':') {
                return Err(Reject);
            }
            p.pos += 1;
            let member = MemberRange {
                key,
                key_in_arena,
                start: 0,
                end: 0,
            };
            let (text, keys) = (self.parser.bytes, &self.scratch.keys[..]);
            let key_bytes = key_of(text, keys, &member);
            if self.scratch.members.len() > base {
                let previous = &self.scratch.members[self.scratch.members.len() - 1];
                sorted &= key_order(key_of(text, keys, previous), key_bytes).is_lt();
                out.push(b',');
            }
            let start = out.len();
            // The key bytes are a whole `&str`: a slice of the text between ASCII quotes, or a
            // decoded `String`.
            canonical::write_str_bytes(key_bytes, out);
            out.push(b':');
            match properties.as_deref_mut() {
                Some(properties) => {
                    let key = std::str::from_utf8(key_bytes)
                        .map_err(|_| Reject)?
                        .to_owned();
                    let schema = self.value_with_schema(out)?;
                    properties.push((Cow::Owned(key), schema));
                }
                None => self.value(out)?,
            }
            self.scratch.members.push(MemberRange {
                start,
                end: out.len(),
                ..member
            });
            let p = &mut self.parser;
            p.skip_whitespace();
            match p.peek() {
                Some(b',') => p.pos += 1,
                Some(b'}') => {
                    p.pos += 1;
                    break;
                }
                _ => return Err(Reject),
            }
        }
        self.parser.depth_left += 1;
        if !sorted {
            self.reorder(out, content_start, base);
            if let Some(properties) = properties {
                // The kept members' indices, in key order (`reorder` left them in `order`).
                let mut taken: Vec<Option<_>> = properties.drain(..).map(Some).collect();
                properties.extend(
                    self.scratch
                        .order
                        .iter()
                        .filter_map(|&(_, index)| taken[index as usize].take()),
                );
            }
        }
        self.scratch.members.truncate(base);
        out.push(b'}');
        Ok(())
    }

    /// Rewrites the members of the object whose text starts at `content_start` (after its `{`)
    /// in key order, the last of equal keys kept.
    #[cold]
    fn reorder(&mut self, out: &mut Vec<u8>, content_start: usize, base: usize) {
        let Scratch {
            members,
            keys,
            order,
            text: buffer,
        } = &mut *self.scratch;
        let members = &members[base..];
        let text = self.parser.bytes;
        order.clear();
        order.extend(
            members
                .iter()
                .enumerate()
                .map(|(i, member)| (key_prefix(key_of(text, keys, member)), i as u32)),
        );
        // The big-endian prefix orders keys as their first 8 bytes do (shorter keys padded with
        // zero bytes, so equal prefixes still need the full comparison). Stable: equal keys stay
        // in text order, so the last of a run is the one that wins.
        let full = |a: u32, b: u32| {
            key_order(
                key_of(text, keys, &members[a as usize]),
                key_of(text, keys, &members[b as usize]),
            )
        };
        order.sort_by(|&(pa, a), &(pb, b)| pa.cmp(&pb).then_with(|| full(a, b)));
        // Keep the last of each run of equal keys (`order` then lists the kept members).
        let mut kept = 0;
        for i in 0..order.len() {
            let (prefix, index) = order[i];
            let is_last_of_run = order.get(i + 1).is_none_or(|&(next_prefix, next)| {
                next_prefix != prefix || full(index, next).is_ne()
            });
            if is_last_of_run {
                order[kept] = order[i];
                kept += 1;
            }
        }
        order.truncate(kept);
        buffer.clear();
        for &(_, index) in order.iter() {
            let member = &members[index as usize];
            if !buffer.is_empty() {
                buffer.push(b',');
            }
            buffer.extend_from_slice(&out[member.start..member.end]);
        }
        out.truncate(content_start);
        out.extend_from_slice(buffer);
    }
}
