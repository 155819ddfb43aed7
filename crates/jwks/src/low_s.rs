//! ES256 signatures in one form only. An ECDSA signature (r, s) has a twin (r, n − s) that
//! verifies as well; a token whose signature can be changed without the key is malleable
//! (its bytes, and whatever is keyed on them, are not unique). We sign with the low s
//! (s ≤ n/2, as Bitcoin and Ethereum require) and refuse the high twin.

/// The order n of the P-256 group, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
/// ⌊n / 2⌋, big-endian.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Whether a fixed-size `r ‖ s` P-256 signature has the high s (or is not 64 bytes).
pub fn is_high_s(signature: &[u8]) -> bool {
    match signature.get(32..64) {
        // Big-endian numbers of equal length compare as their bytes do.
        Some(s) if signature.len() == 64 => s > &HALF_ORDER[..],
        _ => true,
    }
}

/// Turns a fixed-size `r ‖ s` signature with the high s into its low twin (r, n − s).
pub fn to_low_s(signature: &mut [u8]) {
    if signature.len() != 64 || !is_high_s(signature) {
        return;
    }
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(signature[32 + i]);
        let n = u16::from(ORDER[i]);
        let difference = (n + 0x100).wrapping_sub(s + borrow);
        signature[32 + i] = (difference & 0xff) as u8;
        borrow = u16::from(difference < 0x100);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twin_of_a_high_s_is_low_and_twins_back() {
        let mut signature = [0u8; 64];
        signature[32..].copy_from_slice(&ORDER);
        signature[63] -= 1; // s = n − 1: high; its twin is 1
        assert!(is_high_s(&signature));
        to_low_s(&mut signature);
        assert!(!is_high_s(&signature));
        assert_eq!(signature[32..63], [0u8; 31]);
        assert_eq!(signature[63], 1);

        let mut half = [0u8; 64];
        half[32..].copy_from_slice(&HALF_ORDER);
        assert!(!is_high_s(&half), "n/2 itself is low");
        half[63] += 1;
        assert!(is_high_s(&half), "n/2 + 1 is high");
        to_low_s(&mut half);
        let mut expected = [0u8; 64];
        expected[32..].copy_from_slice(&HALF_ORDER);
        assert_eq!(half, expected, "n − (⌊n/2⌋ + 1) = ⌊n/2⌋ for odd n");
        assert!(
            is_high_s(&[0u8; 63]),
            "a signature of the wrong length is refused"
        );
    }
}
