//! Collection values: each type with its compact and its full encoding, converting
//! past the thresholds Redis uses (`hash-max-listpack-entries`, ...).
//!
//! Every type offers `len`, `encoding` (what OBJECT ENCODING says), `heap_size` and an
//! encoding-independent `digest` (DEBUG DIGEST); commands live in `commands/`.

pub mod hash;
pub mod list;
pub mod packed;
pub mod set;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use packed::{Item, Packed};
pub use set::Set;
pub use zset::ZSet;

use sha1::{Digest, Sha1};

/// SHA1 over the parts, each prefixed by its length so that boundaries count.
pub fn digest_of(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update((p.len() as u32).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// XORs `d` into `acc`: the digest of an unordered collection (sets, hashes) is the
/// XOR of its elements' digests, so iteration order does not matter.
pub fn xor_into(acc: &mut [u8; 20], d: [u8; 20]) {
    for (a, b) in acc.iter_mut().zip(d) {
        *a ^= b;
    }
}
