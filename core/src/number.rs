//! Numbers: reading them as the published core does, and writing them in its canonical format.
//!
//! Reading ports serde_json's default (not `float_roundtrip`) algorithm: a `u64` significand and a
//! decimal exponent, scaled by a table of powers of ten. It is not always correctly rounded (e.g.
//! `9007199254740993.0` reads as `9007199254740994`), and every stored hash depends on exactly these
//! doubles, so the algorithm is ours and pinned by goldens rather than inherited from a dependency
//! whose features another crate of the workspace could change.
//!
//! Writing takes the shortest round-trip digits from `zmij` (the crate serde_json 1.0.149 wrote them with) and lays them out ourselves: fixed
//! notation when the decimal point falls within `-5 < k <= 16` (`0.00001`, `1000000000000000.0`),
//! exponent notation otherwise (`1e-6`, `1e+16`, `1.5e+300`), `.0` on integral values, `-0.0`.

use crate::value::Value;

/// A number as serde_json's parser classifies it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SerdeNumber {
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A number literal found in a text.
pub(crate) struct Scanned {
    /// Index just past the literal.
    pub end: usize,
    /// The literal has neither fraction nor exponent.
    pub is_integer: bool,
    /// The value by serde_json's algorithm; `None` when out of the double range.
    pub value: Option<SerdeNumber>,
    /// A double that the published core's second reading leaves unchanged (see `Scan::parts`).
    pub stable: bool,
}

#[inline]
fn overflows_u64(acc: u64, digit: u64) -> bool {
    acc >= u64::MAX / 10 && (acc > u64::MAX / 10 || digit > u64::MAX % 10)
}

#[inline]
fn overflows_i32(acc: i32, digit: i32) -> bool {
    acc >= i32::MAX / 10 && (acc > i32::MAX / 10 || digit > i32::MAX % 10)
}

/// Reads the number literal starting at `start` (a `-` or a digit) with serde_json's grammar and
/// algorithm. `None` when the literal is malformed.
pub(crate) fn scan(bytes: &[u8], start: usize) -> Option<Scanned> {
    let mut s = Scan {
        bytes,
        pos: start,
        is_integer: true,
        stable: false,
    };
    let positive = if bytes.get(start) == Some(&b'-') {
        s.pos += 1;
        false
    } else {
        true
    };
    let value = s.integer(positive)?;
    Some(Scanned {
        end: s.pos,
        is_integer: s.is_integer,
        stable: s.stable,
        value,
    })
}

struct Scan<'b> {
    bytes: &'b [u8],
    pos: usize,
    is_integer: bool,
    stable: bool,
}

/// `Some(None)`: well-formed but beyond the double range.
type Step = Option<Option<SerdeNumber>>;

impl Scan<'_> {
    /// A double from its decimal parts, noting whether the published core's second reading
    /// is known to give it back unchanged (see [`reread_is_exact`]). Most payload numbers
    /// (`12.5`, `0.001`) qualify, which skips formatting and re-reading them at parse time.
    fn parts(&mut self, positive: bool, significand: u64, exponent: i32) -> Option<SerdeNumber> {
        self.stable = reread_is_exact(significand, exponent);
        from_parts(positive, significand, exponent).map(SerdeNumber::F64)
    }

    #[inline]
    fn peek_digit(&self) -> Option<u8> {
        match self.bytes.get(self.pos) {
            Some(&c @ b'0'..=b'9') => Some(c - b'0'),
            _ => None,
        }
    }

    #[inline]
    fn peek(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(0)
    }

    fn integer(&mut self, positive: bool) -> Step {
        let first = self.peek_digit()?;
        self.pos += 1;
        if first == 0 {
            if self.peek_digit().is_some() {
                return None; // one leading zero only
            }
            return self.after_integer(positive, 0);
        }
        let mut significand = u64::from(first);
        while let Some(d) = self.peek_digit() {
            let digit = u64::from(d);
            if overflows_u64(significand, digit) {
                return self.long_integer(positive, significand);
            }
            self.pos += 1;
            significand = significand * 10 + digit;
        }
        self.after_integer(positive, significand)
    }

    fn after_integer(&mut self, positive: bool, significand: u64) -> Step {
        match self.peek() {
            b'.' => self.decimal(positive, significand, 0),
            b'e' | b'E' => self.exponent(positive, significand, 0),
            _ => Some(Some(if positive {
                SerdeNumber::U64(significand)
            } else {
                let negated = (significand as i64).wrapping_neg();
                // `-0` and values below i64::MIN become doubles.
                if negated >= 0 {
                    SerdeNumber::F64(-(significand as f64))
                } else {
                    SerdeNumber::I64(negated)
                }
            })),
        }
    }

    fn long_integer(&mut self, positive: bool, significand: u64) -> Step {
        let mut exponent = 0i32;
        while self.peek_digit().is_some() {
            self.pos += 1;
            exponent = exponent.saturating_add(1);
        }
        match self.peek() {
            b'.' => self.decimal(positive, significand, exponent),
            b'e' | b'E' => self.exponent(positive, significand, exponent),
            _ => Some(self.parts(positive, significand, exponent)),
        }
    }

    fn decimal(&mut self, positive: bool, mut significand: u64, before_point: i32) -> Step {
        self.is_integer = false;
        self.pos += 1; // '.'
        let mut after_point = 0i32;
        while let Some(d) = self.peek_digit() {
            let digit = u64::from(d);
            if overflows_u64(significand, digit) {
                // Further digits cannot change the significand: skip them.
                while self.peek_digit().is_some() {
                    self.pos += 1;
                }
                let exponent = before_point.saturating_add(after_point);
                return match self.peek() {
                    b'e' | b'E' => self.exponent(positive, significand, exponent),
                    _ => Some(self.parts(positive, significand, exponent)),
                };
            }
            self.pos += 1;
            significand = significand * 10 + digit;
            after_point -= 1;
        }
        if after_point == 0 {
            return None; // at least one digit after the point
        }
        let exponent = before_point.saturating_add(after_point);
        match self.peek() {
            b'e' | b'E' => self.exponent(positive, significand, exponent),
            _ => Some(self.parts(positive, significand, exponent)),
        }
    }

    fn exponent(&mut self, positive: bool, significand: u64, starting: i32) -> Step {
        self.is_integer = false;
        self.pos += 1; // 'e' / 'E'
        let positive_exp = match self.peek() {
            b'+' => {
                self.pos += 1;
                true
            }
            b'-' => {
                self.pos += 1;
                false
            }
            _ => true,
        };
        let mut exp = i32::from(self.peek_digit()?);
        self.pos += 1;
        while let Some(d) = self.peek_digit() {
            self.pos += 1;
            let digit = i32::from(d);
            if overflows_i32(exp, digit) {
                while self.peek_digit().is_some() {
                    self.pos += 1;
                }
                if significand != 0 && positive_exp {
                    return Some(None); // out of range
                }
                return Some(Some(SerdeNumber::F64(if positive { 0.0 } else { -0.0 })));
            }
            exp = exp * 10 + digit;
        }
        let final_exp = if positive_exp {
            starting.saturating_add(exp)
        } else {
            starting.saturating_sub(exp)
        };
        Some(self.parts(positive, significand, final_exp))
    }
}

/// Digits the fast path of [`parse_short`] reads: below 10^15, so that every literal it takes is
/// an exact integer, or a decimal that [`reread_is_exact`] can decide.
const SHORT_DIGITS: usize = 15;

/// Fast path for the literals payloads are made of (`42`, `-7`, `12.5`, `0.001`): at most 15
/// digits in all, no exponent. Returns the value [`scan`] + [`serde_value`] give (same
/// significand, same `from_parts`, same stability test; a property test compares them), or with
/// `reread == false` the value [`scan`] + [`serde_value_once`] give, and the index past the
/// literal, or `None` to let the general reader decide (longer literals, exponents, malformed
/// text).
#[inline]
pub(crate) fn parse_short(
    bytes: &[u8],
    start: usize,
    reread: bool,
) -> Option<(Value<'static>, usize)> {
    let mut i = start;
    let positive = bytes.get(i) != Some(&b'-');
    if !positive {
        i += 1;
    }
    let int_start = i;
    let mut significand = 0u64;
    while let Some(&c) = bytes.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        significand = significand * 10 + u64::from(d);
        i += 1;
        if i - int_start > SHORT_DIGITS {
            return None;
        }
    }
    let int_digits = i - int_start;
    if int_digits == 0 || (int_digits > 1 && bytes[int_start] == b'0') {
        return None; // not a number, or a leading zero: the general reader words it
    }
    match bytes.get(i) {
        Some(b'.') => {}
        Some(b'e' | b'E') => return None,
        _ => {
            let value = if positive {
                Value::UInt(significand)
            } else if significand == 0 {
                Value::Float(-0.0) // serde_json reads `-0` as a double
            } else {
                // At most 15 digits: fits i64.
                Value::Int(-(significand as i64))
            };
            return Some((value, i));
        }
    }
    i += 1; // '.'
    let frac_start = i;
    while let Some(&c) = bytes.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        significand = significand * 10 + u64::from(d);
        i += 1;
        if i - int_start - 1 > SHORT_DIGITS {
            return None;
        }
    }
    let frac_digits = i - frac_start;
    if frac_digits == 0 || matches!(bytes.get(i), Some(b'e' | b'E')) {
        return None;
    }
    // `frac_digits <= 15`: the cast is exact.
    let exponent = -(frac_digits as i32);
    let f = from_parts(positive, significand, exponent)?;
    let f = if !reread || reread_is_exact(significand, exponent) {
        f
    } else {
        published_float_round_trip(f)
    };
    Some((Value::Float(f), i))
}

/// `true` when reading `significand × 10^exponent` with serde_json's algorithm, writing the
/// result's shortest text and reading that again gives the same double.
///
/// serde_json's reading of `S × 10^E` is exact (one correctly rounded operation) when
/// `S < 2^53` and `|E| <= 22`. The literal qualifies if `S < 10^15` and `|E| <= 22`; a decimal of
/// at most 15 significant digits is then also the shortest text of its double, so the second
/// reading sees the same digits `D × 10^E'` (trailing zeros stripped) laid out as written:
/// `D` with exponent `E'`, or, for an integral value in fixed notation (`1234.0`), the padded
/// significand `D × 10^(E'+1)` with exponent -1; it is exact under the same bounds.
fn reread_is_exact(significand: u64, exponent: i32) -> bool {
    const TWO_POW_53: u64 = 1 << 53;
    if significand == 0 {
        return true;
    }
    if significand >= 1_000_000_000_000_000 || !(-22..=22).contains(&exponent) {
        return false;
    }
    let (mut digits, mut exp) = (significand, exponent);
    while digits % 10 == 0 {
        digits /= 10;
        exp += 1;
    }
    let n = digits.ilog10() as i32 + 1;
    let k = n + exp; // value = 0.DIGITS × 10^k
    if -5 < k && k <= 16 && exp >= 0 {
        // Integral value written in fixed notation with `.0`: significand digits·10^(exp+1).
        return 10u64
            .checked_pow((exp + 1) as u32)
            .and_then(|p| digits.checked_mul(p))
            .is_some_and(|s| s < TWO_POW_53);
    }
    (-22..=22).contains(&exp)
}

/// serde_json's `f64_from_parts` (without `float_roundtrip`). `None` when the result is infinite.
fn from_parts(positive: bool, significand: u64, mut exponent: i32) -> Option<f64> {
    let mut f = significand as f64;
    loop {
        match POW10.get(exponent.unsigned_abs() as usize) {
            Some(&pow) => {
                if exponent >= 0 {
                    f *= pow;
                    if f.is_infinite() {
                        return None;
                    }
                } else {
                    f /= pow;
                }
                break;
            }
            None => {
                if f == 0.0 {
                    break;
                }
                if exponent >= 0 {
                    return None;
                }
                f /= 1e308;
                exponent += 308;
            }
        }
    }
    Some(if positive { f } else { -f })
}

/// The value of a scanned literal in the strict dialect; `None` when out of range.
///
/// The published core parses a payload, writes it back to text and parses that text again, so
/// a double goes through serde_json's reader twice: once from the literal, once from its own
/// shortest text. Both readings are reproduced here, at the literal, so the walk that follows
/// writes and hashes the very double the published core hashed (goldens: `floats.jsonl`).
pub(crate) fn serde_value(scanned: &Scanned) -> Option<Value<'static>> {
    Some(match scanned.value? {
        SerdeNumber::U64(u) => Value::UInt(u),
        SerdeNumber::I64(i) => Value::Int(i),
        SerdeNumber::F64(f) if scanned.stable => Value::Float(f),
        SerdeNumber::F64(f) => Value::Float(published_float_round_trip(f)),
    })
}

/// The value of a scanned literal read once, as serde_json's `from_str` gives it (the published
/// core's reading of a decoded body); `None` when out of range.
pub(crate) fn serde_value_once(scanned: &Scanned) -> Option<Value<'static>> {
    Some(match scanned.value? {
        SerdeNumber::U64(u) => Value::UInt(u),
        SerdeNumber::I64(i) => Value::Int(i),
        SerdeNumber::F64(f) => Value::Float(f),
    })
}

/// The value of a literal as Python's `json.loads` reads it and the published binding then sees
/// it. `None` for an integer beyond the double range (the binding raises `TypeError`).
pub(crate) fn python_value(literal: &str, scanned: &Scanned) -> Option<Value<'static>> {
    if scanned.is_integer {
        if let Ok(i) = literal.parse::<i64>() {
            return Some(Value::Int(i)); // `-0` is the integer 0 in Python
        }
        // A Python int beyond i64 becomes a float, correctly rounded.
        let f: f64 = literal.parse().ok()?;
        if !f.is_finite() {
            return None;
        }
        return Some(Value::from_host_float(f));
    }
    // json.loads reads a correctly rounded double (±inf beyond the range, which the binding
    // turns into None).
    let f: f64 = literal.parse().ok()?;
    Some(Value::from_host_float(f))
}

impl Value<'static> {
    /// A double handed over by a host language (a Python `float`, or a Python `int` beyond `i64`
    /// already converted to a correctly rounded double), as the published binding sees it: it
    /// writes the value to JSON text and reads it back, so a finite double becomes the result of
    /// that round trip (sometimes one ulp away), and NaN and infinities become `null`.
    ///
    /// Bindings must build floats with this (not `Value::Float(f)`) to get the published hashes.
    pub fn from_host_float(f: f64) -> Value<'static> {
        if f.is_finite() {
            Value::Float(published_float_round_trip(f))
        } else {
            Value::Null
        }
    }
}

/// One trip of a double through the published core's text: its shortest text, read back with
/// serde_json's (not always correctly rounded) algorithm.
pub(crate) fn published_float_round_trip(f: f64) -> f64 {
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(f);
    match scan(text.as_bytes(), 0) {
        Some(Scanned {
            value: Some(SerdeNumber::F64(g)),
            ..
        }) => g,
        Some(Scanned {
            value: Some(SerdeNumber::U64(u)),
            ..
        }) => u as f64,
        Some(Scanned {
            value: Some(SerdeNumber::I64(i)),
            ..
        }) => i as f64,
        _ => f,
    }
}

/// Appends the canonical text of a finite double.
pub(crate) fn write_f64(f: f64, out: &mut Vec<u8>) {
    if f == 0.0 {
        out.extend_from_slice(if f.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    let mut buf = zmij::Buffer::new();
    let text = buf.format_finite(f).as_bytes();
    // Decompose zmij's text into sign, significant digits and the position `k` of the decimal
    // point: value = 0.DIGITS × 10^k.
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (mantissa, exp) = match text.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&text[..i], parse_small_int(&text[i + 1..])),
        None => (text, 0),
    };
    let mut digits = [0u8; 24];
    let mut n = 0usize;
    let mut point: Option<i32> = None;
    let mut leading_zeros = 0i32;
    for &c in mantissa {
        if c == b'.' {
            point = Some(n as i32);
        } else if n == 0 && c == b'0' {
            if point.is_some() {
                leading_zeros += 1;
            }
        } else if n < digits.len() {
            digits[n] = c;
            n += 1;
        }
    }
    let int_digits = point.unwrap_or(n as i32);
    let k = if n == 0 {
        0
    } else {
        int_digits - leading_zeros + exp
    };
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let digits = &digits[..n];
    if negative {
        out.push(b'-');
    }
    if -5 < k && k <= 16 {
        if k <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-k) as usize, b'0');
            out.extend_from_slice(digits);
        } else if k as usize >= digits.len() {
            out.extend_from_slice(digits);
            out.resize(out.len() + (k as usize - digits.len()), b'0');
            out.extend_from_slice(b".0");
        } else {
            out.extend_from_slice(&digits[..k as usize]);
            out.push(b'.');
            out.extend_from_slice(&digits[k as usize..]);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = k - 1;
        out.push(b'e');
        if e >= 0 {
            out.push(b'+');
        }
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    }
}

fn parse_small_int(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .fold(0i32, |acc, &d| acc * 10 + i32::from(d - b'0'));
    if negative { -magnitude } else { magnitude }
}

/// serde_json's table: the correctly rounded double of 10^i (Rust float literals are correctly
/// rounded, as serde_json's are).
static POW10: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
    1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48,
    1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64,
    1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79, 1e80,
    1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89, 1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96,
    1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109, 1e110,
    1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, 1e120, 1e121, 1e122, 1e123,
    1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136,
    1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159, 1e160, 1e161, 1e162,
    1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175,
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188,
    1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199, 1e200, 1e201,
    1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209, 1e210, 1e211, 1e212, 1e213, 1e214,
    1e215, 1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227,
    1e228, 1e229, 1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, 1e240,
    1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, 1e250, 1e251, 1e252, 1e253,
    1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266,
    1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289, 1e290, 1e291, 1e292,
    1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305,
    1e306, 1e307, 1e308,
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the general reader makes of the literal at the start of `bytes`.
    fn general(bytes: &[u8]) -> Option<(Value<'static>, usize)> {
        let scanned = scan(bytes, 0)?;
        Some((serde_value(&scanned)?, scanned.end))
    }

    /// The general reader's single reading (decoded bodies).
    fn general_once(bytes: &[u8]) -> Option<(Value<'static>, usize)> {
        let scanned = scan(bytes, 0)?;
        Some((serde_value_once(&scanned)?, scanned.end))
    }

    #[test]
    fn a_single_reading_keeps_serde_jsons_first_double() {
        // Published decoded bodies (goldens): read once, these differ from the payload's reading.
        for (literal, once, twice) in [
            ("94e25", 9.400000000000001e26, 9.4e26),
            (
                "-98682831394406063e-5",
                -986828313944.0607,
                -986828313944.0608,
            ),
            (
                "1156346444425357626159",
                1.1563464444253577e21,
                1.1563464444253576e21,
            ),
        ] {
            let read_once = general_once(literal.as_bytes()).and_then(|(v, _)| v.as_f64());
            let read_twice = general(literal.as_bytes()).and_then(|(v, _)| v.as_f64());
            assert_eq!(
                read_once.map(f64::to_bits),
                Some(f64::to_bits(once)),
                "{literal}"
            );
            assert_eq!(
                read_twice.map(f64::to_bits),
                Some(f64::to_bits(twice)),
                "{literal}"
            );
        }
    }

    fn same(a: &Option<(Value<'static>, usize)>, b: &Option<(Value<'static>, usize)>) -> bool {
        match (a, b) {
            (Some((Value::Float(x), i)), Some((Value::Float(y), j))) => {
                x.to_bits() == y.to_bits() && i == j
            }
            _ => a == b,
        }
    }

    #[test]
    fn short_literals_read_as_the_general_reader_does() {
        // Every one of these is taken by the fast path, with the general reader's result.
        for literal in [
            "0",
            "-0",
            "7",
            "-7",
            "0.0",
            "-0.0",
            "12.5",
            "0.001",
            "1234.0",
            "999999999999999",
            "-999999999999999",
            "99999999999999.9",
            "0.00000000000001",
            "900719925474.993",
            "3.14159265358979",
            "0.1",
            "0.30000000000001",
        ] {
            let short = parse_short(literal.as_bytes(), 0, true);
            assert!(short.is_some(), "{literal}");
            assert!(same(&short, &general(literal.as_bytes())), "{literal}");
        }
        assert!(
            parse_short(b"42,", 0, true).is_some_and(|(v, end)| v == Value::UInt(42) && end == 2)
        );
        assert!(
            parse_short(b"-0]", 0, true)
                .is_some_and(|(v, _)| v.as_f64().is_some_and(f64::is_sign_negative))
        );
        for rejected in [
            "01",
            "-",
            "1.",
            "1.e5",
            "1e5",
            "1234567890123456",
            "0.1234567890123456",
            "-.5",
        ] {
            assert!(
                parse_short(rejected.as_bytes(), 0, true).is_none(),
                "{rejected}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20000, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whenever the fast path takes a literal, it gives the general reader's value and end.
        #[test]
        fn parse_short_matches_the_general_reader(
            negative in any::<bool>(),
            int_part in "[0-9]{1,17}",
            frac in prop::option::of("[0-9]{0,17}"),
            tail in prop_oneof![Just(""), Just(","), Just("e1"), Just("]"), Just("5")],
        ) {
            let literal = format!(
                "{}{}{}{}",
                if negative { "-" } else { "" },
                int_part,
                frac.map(|f| format!(".{f}")).unwrap_or_default(),
                tail,
            );
            let short = parse_short(literal.as_bytes(), 0, true);
            if short.is_some() {
                let expected = general(literal.as_bytes());
                prop_assert!(same(&short, &expected), "{} -> {:?} vs {:?}", literal, short, expected);
            }
            let short_once = parse_short(literal.as_bytes(), 0, false);
            prop_assert_eq!(short.is_some(), short_once.is_some());
            if short_once.is_some() {
                let expected = general_once(literal.as_bytes());
                prop_assert!(same(&short_once, &expected), "{} -> {:?} vs {:?}", literal, short_once, expected);
            }
        }
    }
}
