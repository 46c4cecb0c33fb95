//! Finding the next byte of a string that JSON cares about: `"`, `\` or a control character.
//!
//! The parser uses it to find where a string ends (or needs unescaping) and the writer to find
//! what needs escaping, so long strings (base64 bodies, SQL) move at memory speed: 16 bytes per
//! step with SSE2 on x86-64 (part of its baseline, so always present; the tail is one more,
//! overlapping block), 8 bytes per step with a portable SWAR test elsewhere.

/// Index of the first `"`, `\` or byte below 0x20 at or after `from`, or `bytes.len()`.
#[inline]
pub(crate) fn find_special(bytes: &[u8], from: usize) -> usize {
    // SAFETY: SSE2 is part of the x86-64 baseline (every x86-64 target enables it), so the CPU
    // running this code has the feature `sse2_skip` is compiled for.
    #[cfg(target_arch = "x86_64")]
    let from = unsafe { sse2_skip(bytes, from) };
    swar_find(bytes, from)
}

/// The SSE2 search: 16-byte blocks, then the tail as the slice's last 16 bytes. Returns where the
/// scalar search continues: the answer itself, or the start of a slice shorter than 16 bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "sse2")]
fn sse2_skip(bytes: &[u8], mut i: usize) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let control_max = _mm_set1_epi8(0x1f);
    while i + 16 <= bytes.len() {
        // SAFETY: `i + 16 <= bytes.len()`, so the 16 bytes read are inside `bytes`;
        // `_mm_loadu_si128` has no alignment requirement, and SSE2 is enabled on every x86-64
        // target.
        let block = unsafe { _mm_loadu_si128(bytes.as_ptr().add(i).cast::<__m128i>()) };
        // A byte is a control character iff max(byte, 0x1f) == 0x1f (unsigned).
        let special = _mm_or_si128(
            _mm_or_si128(
                _mm_cmpeq_epi8(block, quote),
                _mm_cmpeq_epi8(block, backslash),
            ),
            _mm_cmpeq_epi8(_mm_max_epu8(block, control_max), control_max),
        );
        let mask = _mm_movemask_epi8(special);
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    let rest = bytes.len().saturating_sub(i);
    if rest == 0 {
        return i;
    }
    if bytes.len() < 16 {
        // A short string (most keys and many values): the byte loop that follows is cheapest.
        // (Copying it into a padded block costs a store-to-load forwarding stall.)
        return i;
    }
    // The last 1..=15 bytes: one more block, the slice's last 16 bytes, of which the first
    // `16 - rest` were already checked and are masked off.
    let last = bytes.len() - 16;
    // SAFETY: `last + 16 == bytes.len()`, so the 16 bytes read are inside `bytes`;
    // `_mm_loadu_si128` has no alignment requirement, and SSE2 is enabled on every x86-64 target.
    let block = unsafe { _mm_loadu_si128(bytes.as_ptr().add(last).cast::<__m128i>()) };
    let special = _mm_or_si128(
        _mm_or_si128(
            _mm_cmpeq_epi8(block, quote),
            _mm_cmpeq_epi8(block, backslash),
        ),
        _mm_cmpeq_epi8(_mm_max_epu8(block, control_max), control_max),
    );
    // `rest` is 1..=15, so the shift is 1..=15.
    let mask = (_mm_movemask_epi8(special) as u32) >> (16 - rest);
    if mask != 0 {
        i + mask.trailing_zeros() as usize
    } else {
        bytes.len()
    }
}

/// The portable search: eight bytes per step, then byte by byte.
#[inline]
fn swar_find(bytes: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    while i + 8 <= bytes.len() {
        let mut lane = [0u8; 8];
        lane.copy_from_slice(&bytes[i..i + 8]);
        let w = u64::from_le_bytes(lane);
        // Per byte: < 0x20, == '"', == '\\' (the classic zero-byte tests; `& !w` drops bytes with
        // the high bit set, i.e. non-ASCII, which are never special).
        let below_space = w.wrapping_sub(LO * 0x20) & !w;
        let q = w ^ (LO * u64::from(b'"'));
        let is_quote = q.wrapping_sub(LO) & !q;
        let b = w ^ (LO * u64::from(b'\\'));
        let is_backslash = b.wrapping_sub(LO) & !b;
        let hits = (below_space | is_quote | is_backslash) & HI;
        if hits != 0 {
            // The lowest flagged byte is exact (borrows only propagate upwards).
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() {
        let c = bytes[i];
        if c < 0x20 || c == b'"' || c == b'\\' {
            return i;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(bytes: &[u8], from: usize) -> usize {
        (from..bytes.len())
            .find(|&i| bytes[i] < 0x20 || bytes[i] == b'"' || bytes[i] == b'\\')
            .unwrap_or(bytes.len())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn finds_the_first_special_byte(
            bytes in prop::collection::vec(prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff, Just(b'a')], 0..80),
            from in 0usize..80,
        ) {
            let from = from.min(bytes.len());
            prop_assert_eq!(find_special(&bytes, from), naive(&bytes, from));
            prop_assert_eq!(swar_find(&bytes, from), naive(&bytes, from));
        }
    }
}
