//! The fingerprint of a text that appears in this repository (64-bit FNV-1a). Shared by the
//! build script, which fingerprints every such text, and [`super::secret_rules`], which looks a
//! configured secret up among them. Not a cryptographic hash: the texts are public anyway; it
//! only keeps the list small.

/// FNV-1a, 64 bits, over the UTF-8 bytes.
pub fn fingerprint(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}
