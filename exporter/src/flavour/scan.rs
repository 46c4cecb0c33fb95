//! Finding the next byte of a JSON string that needs attention (`"`, `\` or a control
//! character), eight bytes per step.
//!
//! The JavaScript parser looks for a string's end and the writers for what to escape; both did
//! it a byte at a time, which made `write_string` alone an eighth of the file-line path (the
//! values are mostly long strings: headers, bodies, URLs). The core has the same search but
//! keeps it private to its crate, so this is a portable, safe word-at-a-time version of it.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that is `"`, `\` or below 0x20, plus possibly false
/// positives in bytes *above* (more significant than) a true one: the subtractions borrow only
/// upwards from a byte that matched, so the lowest set bit is always a true match.
#[inline]
fn special_bits(word: u64) -> u64 {
    let below_space = word.wrapping_sub(ONES * 0x20);
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let zero_quote = quote.wrapping_sub(ONES);
    let zero_backslash = backslash.wrapping_sub(ONES);
    ((below_space & !word) | (zero_quote & !quote) | (zero_backslash & !backslash)) & HIGHS
}

/// Whether the byte needs attention in a JSON string.
#[inline]
pub(crate) fn is_special(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Index of the first `"`, `\` or byte below 0x20 at or after `from`, or `bytes.len()`.
#[inline]
pub(crate) fn find_special(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let bits = special_bits(u64::from_le_bytes(word));
        if bits != 0 {
            // Little-endian: the first byte in memory is the least significant one.
            return at + (bits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < bytes.len() && !is_special(bytes[at]) {
        at += 1;
    }
    at.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(bytes: &[u8], from: usize) -> usize {
        (from..bytes.len())
            .find(|&i| is_special(bytes[i]))
            .unwrap_or(bytes.len().max(from))
    }

    /// Every position of every byte value, at every start offset, and the borrow cases
    /// (a special byte followed by bytes one above the thresholds).
    #[test]
    fn finds_the_first_special_byte_as_a_byte_loop_does() {
        for special in 0u8..=255 {
            for position in 0..19 {
                let mut bytes = vec![b'a'; 19];
                bytes[position] = special;
                for from in 0..=bytes.len() {
                    assert_eq!(
                        find_special(&bytes, from),
                        reference(&bytes, from),
                        "{special:#x} at {position} from {from}"
                    );
                }
            }
        }
        for text in [
            "\u{0}\u{21}#]\"\\\u{1f} ",
            "ab\"\u{23}\u{5d}\u{21}\u{20}cdefgh",
            "é北京😀 no specials here at all",
            "\u{7f}\u{80}\u{ff}\"",
            "",
        ] {
            for from in 0..=text.len() {
                assert_eq!(
                    find_special(text.as_bytes(), from),
                    reference(text.as_bytes(), from),
                    "{text:?} from {from}"
                );
            }
        }
    }
}
