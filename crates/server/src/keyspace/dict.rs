//! A chained hash table with power-of-two buckets, one per shard.
//!
//! Written for the keyspace rather than taken from hashbrown because SCAN needs Redis's
//! guarantee (every key present for the whole scan is returned, across resizes), which
//! the reverse-binary cursor gives only on a table whose bucket index is `hash & mask`;
//! and because random sampling (RANDOMKEY, active expiry) needs bucket access.
//! Entries are boxed nodes, so the table itself costs 8 bytes per bucket.

use super::blob::Blob;
use super::value::Value;

/// One key: its name, value, absolute expiry in unix ms (0 = none) and access clock.
#[derive(Debug)]
pub struct Entry {
    pub key: Blob,
    pub value: Value,
    pub expire_at: u64,
    /// Seconds-resolution LRU clock of the last access (OBJECT IDLETIME).
    pub lru: u32,
    /// Encoding hint for OBJECT ENCODING (see `value::Enc`); fits in padding.
    pub enc: u8,
}

struct Node {
    next: Option<Box<Node>>,
    entry: Entry,
}

pub struct Dict {
    buckets: Vec<Option<Box<Node>>>,
    len: usize,
}

const MIN_BUCKETS: usize = 4;

impl Default for Dict {
    fn default() -> Self {
        Dict::new()
    }
}

impl Dict {
    pub fn new() -> Dict {
        Dict { buckets: Vec::new(), len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets (for DEBUG HTSTATS style introspection).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    #[inline]
    fn mask(&self) -> u64 {
        self.buckets.len() as u64 - 1
    }

    pub fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[(hash & self.mask()) as usize].as_deref();
        while let Some(n) = cur {
            if n.entry.key.as_slice() == key {
                return Some(&n.entry);
            }
            cur = n.next.as_deref();
        }
        None
    }

    pub fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry> {
        if self.buckets.is_empty() {
            return None;
        }
        let idx = (hash & self.mask()) as usize;
        let mut cur = self.buckets[idx].as_deref_mut();
        while let Some(n) = cur {
            if n.entry.key.as_slice() == key {
                return Some(&mut n.entry);
            }
            cur = n.next.as_deref_mut();
        }
        None
    }

    /// Grows the table to hold `n` entries without resizing (loading knows the size).
    pub fn reserve(&mut self, n: usize, rehash: impl Fn(&[u8]) -> u64) {
        let want = n.next_power_of_two().max(MIN_BUCKETS);
        if want > self.buckets.len() {
            self.resize(want, &rehash);
        }
    }

    /// Inserts an entry whose key is known to be absent; returns a reference to it.
    pub fn insert_new(&mut self, hash: u64, entry: Entry, rehash: impl Fn(&[u8]) -> u64) -> &mut Entry {
        if self.len >= self.buckets.len() {
            self.resize((self.buckets.len() * 2).max(MIN_BUCKETS), &rehash);
        }
        let idx = (hash & self.mask()) as usize;
        let next = self.buckets[idx].take();
        self.buckets[idx] = Some(Box::new(Node { next, entry }));
        self.len += 1;
        &mut self.buckets[idx].as_mut().unwrap().entry
    }

    pub fn remove(&mut self, hash: u64, key: &[u8], rehash: impl Fn(&[u8]) -> u64) -> Option<Entry> {
        if self.buckets.is_empty() {
            return None;
        }
        let idx = (hash & self.mask()) as usize;
        let mut link = &mut self.buckets[idx];
        loop {
            match link {
                None => return None,
                Some(n) if n.entry.key.as_slice() == key => {
                    let mut node = link.take().unwrap();
                    *link = node.next.take();
                    self.len -= 1;
                    self.maybe_shrink(&rehash);
                    return Some(node.entry);
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn maybe_shrink(&mut self, rehash: &impl Fn(&[u8]) -> u64) {
        let n = self.buckets.len();
        if n > MIN_BUCKETS && self.len * 8 < n {
            self.resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS), rehash);
        }
    }

    fn resize(&mut self, new_size: usize, rehash: &impl Fn(&[u8]) -> u64) {
        let mut new: Vec<Option<Box<Node>>> = Vec::with_capacity(new_size);
        new.resize_with(new_size, || None);
        let mask = new_size as u64 - 1;
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
                let idx = (rehash(node.entry.key.as_slice()) & mask) as usize;
                node.next = new[idx].take();
                new[idx] = Some(node);
            }
        }
        self.buckets = new;
    }

    pub fn clear(&mut self) {
        // Drop chains iteratively so a long chain cannot overflow the stack.
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
        self.buckets = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flat_map(|b| ChainIter { cur: b.as_deref() })
    }

    /// Visits the bucket the cursor points at and returns the next cursor (0 when done),
    /// using Redis's reverse-binary increment so that growing or shrinking the table
    /// between calls never skips a key.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.mask();
        for e in (ChainIter { cur: self.buckets[(cursor & mask) as usize].as_deref() }) {
            f(e);
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    /// Entries of the bucket at `idx` modulo the table size (for random sampling).
    pub fn bucket_entries(&self, idx: usize) -> impl Iterator<Item = &Entry> {
        let cur = if self.buckets.is_empty() { None } else { self.buckets[idx & (self.buckets.len() - 1)].as_deref() };
        ChainIter { cur }
    }

    /// A uniformly chosen non-empty bucket's random entry; `rnd` supplies random numbers.
    pub fn random_entry(&self, mut rnd: impl FnMut() -> u64) -> Option<&Entry> {
        if self.len == 0 {
            return None;
        }
        let mask = self.mask();
        loop {
            let idx = (rnd() & mask) as usize;
            let chain: Vec<&Entry> = ChainIter { cur: self.buckets[idx].as_deref() }.collect();
            if !chain.is_empty() {
                return Some(chain[(rnd() % chain.len() as u64) as usize]);
            }
        }
    }

    /// Removes and returns every entry (FLUSHALL ASYNC hands them to a background drop).
    pub fn take_all(&mut self) -> Dict {
        std::mem::take(self)
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        self.clear();
    }
}

struct ChainIter<'a> {
    cur: Option<&'a Node>,
}

impl<'a> Iterator for ChainIter<'a> {
    type Item = &'a Entry;
    fn next(&mut self) -> Option<&'a Entry> {
        let n = self.cur?;
        self.cur = n.next.as_deref();
        Some(&n.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(k: &[u8]) -> u64 {
        crate::keyspace::hash_key(k)
    }

    fn entry(k: &str) -> Entry {
        Entry { key: Blob::new(k.as_bytes()), value: Value::Str(Blob::new(b"v")), expire_at: 0, lru: 0, enc: 0 }
    }

    #[test]
    fn insert_get_remove_resize() {
        let mut d = Dict::new();
        for i in 0..1000 {
            let k = format!("k{i}");
            d.insert_new(h(k.as_bytes()), entry(&k), h);
        }
        assert_eq!(d.len(), 1000);
        assert!(d.get(h(b"k500"), b"k500").is_some());
        for i in 0..990 {
            let k = format!("k{i}");
            assert!(d.remove(h(k.as_bytes()), k.as_bytes(), h).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 64);
        assert!(d.get(h(b"k995"), b"k995").is_some());
    }

    #[test]
    fn scan_survives_growth() {
        let mut d = Dict::new();
        for i in 0..100 {
            let k = format!("a{i}");
            d.insert_new(h(k.as_bytes()), entry(&k), h);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut grown = false;
        loop {
            cursor = d.scan(cursor, |e| {
                seen.insert(e.key.to_vec());
            });
            if !grown {
                for i in 0..2000 {
                    let k = format!("b{i}");
                    d.insert_new(h(k.as_bytes()), entry(&k), h);
                }
                grown = true;
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            assert!(seen.contains(format!("a{i}").as_bytes()), "a{i} missed");
        }
    }
}
