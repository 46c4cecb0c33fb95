//! Deterministic test payloads shared by the integration tests and the producer helper binary:
//! `[writer: u8][seq: u32 LE][pattern bytes]`, the pattern and the length derived from
//! `(writer, seq)` so that a consumer can verify every byte of every record it receives.

#![allow(dead_code)]

/// Smallest payload: writer id + sequence number.
pub const MIN_LEN: usize = 5;

/// xorshift64* step: a tiny deterministic generator (no dependency needed).
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Length of record `seq` of `writer`, in `MIN_LEN..=max_len`.
pub fn length(writer: u8, seq: u32, max_len: usize) -> usize {
    let r = mix(((writer as u64) << 32 | seq as u64) ^ 0x9E37_79B9_7F4A_7C15);
    MIN_LEN + (r % (max_len - MIN_LEN + 1) as u64) as usize
}

/// Fills `buf` (of `length(..)` bytes) with record `seq` of `writer`.
pub fn fill(buf: &mut [u8], writer: u8, seq: u32) {
    buf[0] = writer;
    buf[1..5].copy_from_slice(&seq.to_le_bytes());
    for (k, b) in buf[5..].iter_mut().enumerate() {
        *b = (seq as usize)
            .wrapping_mul(31)
            .wrapping_add(k * 7)
            .wrapping_add(writer as usize) as u8;
    }
}

/// Record `seq` of `writer` as a new vector.
pub fn make(writer: u8, seq: u32, max_len: usize) -> Vec<u8> {
    let mut v = vec![0u8; length(writer, seq, max_len)];
    fill(&mut v, writer, seq);
    v
}

/// Checks a received payload; returns `(writer, seq)` or why it is wrong.
pub fn verify(payload: &[u8], max_len: usize) -> Result<(u8, u32), String> {
    if payload.len() < MIN_LEN {
        return Err(format!("payload of {} bytes", payload.len()));
    }
    let writer = payload[0];
    let seq = u32::from_le_bytes(payload[1..5].try_into().unwrap());
    let expected = make(writer, seq, max_len);
    if payload != expected.as_slice() {
        return Err(format!(
            "torn or corrupt record: writer {writer} seq {seq}, {} bytes",
            payload.len()
        ));
    }
    Ok((writer, seq))
}
