//! `Blob`: the byte string used for keys and string values. Up to 22 bytes live inline
//! in the 24-byte value itself, so most keys and small values cost no allocation.

use std::fmt;

const INLINE: usize = 22;

#[derive(Clone)]
pub enum Blob {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Blob {
    pub fn new(s: &[u8]) -> Blob {
        if s.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..s.len()].copy_from_slice(s);
            Blob::Inline { len: s.len() as u8, data }
        } else {
            Blob::Heap(s.into())
        }
    }

    pub fn from_vec(v: Vec<u8>) -> Blob {
        if v.len() <= INLINE {
            Blob::new(&v)
        } else {
            Blob::Heap(v.into_boxed_slice())
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Blob::Inline { len, data } => &data[..*len as usize],
            Blob::Heap(b) => b,
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned beyond the 24 inline ones (for MEMORY USAGE and used_memory).
    pub fn heap_size(&self) -> usize {
        match self {
            Blob::Inline { .. } => 0,
            Blob::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for Blob {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq<[u8]> for Blob {
    fn eq(&self, o: &[u8]) -> bool {
        self.as_slice() == o
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        assert_eq!(std::mem::size_of::<Blob>(), 24);
        assert_eq!(Blob::new(b"abc").as_slice(), b"abc");
        let long = vec![7u8; 100];
        assert!(matches!(Blob::new(&long), Blob::Heap(_)));
        assert_eq!(Blob::from_vec(long.clone()).as_slice(), &long[..]);
    }
}
