//! The hash type: a packed run of field,value pairs (`listpack`) while small, then a
//! chained hash table (`hashtable`); the conversion is one-way, as in Redis.
//!
//! The table is our own rather than hashbrown's because HSCAN must return every field
//! present for the whole scan even when the table grows or shrinks between calls; the
//! reverse-binary cursor gives that only on power-of-two buckets indexed by `hash & mask`,
//! and HRANDFIELD needs bucket access to pick fields at random.

use super::packed::{Frozen, Item, Packed};
use crate::keyspace::blob::Blob;
use crate::keyspace::hash_key;

#[derive(Clone, Debug)]
pub enum Hash {
    /// Frozen at its exact size, so a small hash is one allocation beside its key.
    Packed(Frozen),
    /// Boxed so that `Hash` stays 16 bytes and lives unboxed in a key's value.
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::new()
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::Packed(Frozen::default())
    }

    /// A packed hash holding `p`'s pairs (RDB loading builds them in order).
    pub fn from_packed(p: Packed) -> Hash {
        Hash::Packed(Frozen::from(p))
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Packed(p) => p.len() / 2,
            Hash::Table(t) => t.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Packed(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, Hash::Packed(_))
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Packed(p) => p.heap_size(),
            Hash::Table(t) => std::mem::size_of::<Table>() + t.heap_size(),
        }
    }

    /// XOR of each pair's digest, so neither encoding nor order matters.
    pub fn digest(&self) -> [u8; 20] {
        let mut acc = super::digest_of(&[b"hash"]);
        self.for_each(|f, v| super::xor_into(&mut acc, super::digest_of(&[f, v])));
        acc
    }

    /// Calls `f` with every field and value as bytes.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
        for (k, v) in self.iter() {
            f(k.bytes(&mut a), v.bytes(&mut b));
        }
    }

    /// Fields and values in storage order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (Item<'_>, Item<'_>)> + '_> {
        match self {
            Hash::Packed(p) => {
                let mut it = p.view().iter();
                Box::new(std::iter::from_fn(move || {
                    let (_, k) = it.next()?;
                    let (_, v) = it.next()?;
                    Some((k, v))
                }))
            }
            Hash::Table(t) => Box::new(t.iter().map(|(k, v)| (Item::Str(k), Item::Str(v)))),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<Item<'_>> {
        match self {
            Hash::Packed(p) => {
                let p = p.view();
                let off = p.find(field, 2)?;
                let (_, next) = p.get(off);
                Some(p.get(next).0)
            }
            Hash::Table(t) => t.get(field).map(Item::Str),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Packed(p) => p.view().find(field, 2).is_some(),
            Hash::Table(t) => t.get(field).is_some(),
        }
    }

    /// Sets each field/value pair of `pairs`; returns how many fields are new.
    /// Converts to the table first when the arguments would not fit the packed
    /// encoding (Redis's `hashTypeTryConversion`: more pairs than `max_entries`, or an
    /// argument longer than `max_value`), and as soon as the count passes `max_entries`.
    pub fn set_pairs(&mut self, pairs: &[&[u8]], max_entries: usize, max_value: usize) -> usize {
        if let Hash::Packed(f) = self {
            let too_long = pairs.iter().any(|a| a.len() > max_value);
            let total: usize = pairs.iter().map(|a| a.len()).sum();
            if pairs.len() / 2 > max_entries || too_long || f.heap_size() + total > 1 << 30 {
                self.convert();
            }
        }
        let mut rest = pairs;
        let mut created = 0;
        if let Hash::Packed(f) = self {
            while let [field, value, tail @ ..] = rest {
                let Some(off) = f.view().find(field, 2) else { break };
                let voff = f.view().get(off).1;
                if !f.replace_in_place(voff, value) {
                    break;
                }
                rest = tail;
            }
            if rest.is_empty() {
                return 0;
            }
            let mut p = f.thaw();
            // One allocation for the whole write, given back below if fields existed.
            p.reserve_exact(rest.iter().map(|a| Packed::entry_size(a)).sum::<usize>() + 4);
            while let [field, value, tail @ ..] = rest {
                rest = tail;
                if let Some(off) = p.find(field, 2) {
                    let (_, voff) = p.get(off);
                    p.replace_at(voff, value);
                    continue;
                }
                p.push_back(field);
                p.push_back(value);
                created += 1;
                if p.len() / 2 > max_entries {
                    break;
                }
            }
            *f = Frozen::from(p);
            if f.len() / 2 > max_entries {
                self.convert();
            }
        }
        if let Hash::Table(t) = self {
            while let [field, value, tail @ ..] = rest {
                rest = tail;
                created += t.set(field, value) as usize;
            }
        }
        created
    }

    /// Sets `field` to `value`; returns whether the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], max_entries: usize, max_value: usize) -> bool {
        self.set_pairs(&[field, value], max_entries, max_value) == 1
    }

    /// Removes `field`; returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.remove_fields(&[field]) == 1
    }

    /// Removes each of `fields`; returns how many were there.
    pub fn remove_fields(&mut self, fields: &[&[u8]]) -> usize {
        match self {
            Hash::Packed(f) => {
                if fields.iter().all(|k| f.view().find(k, 2).is_none()) {
                    return 0;
                }
                f.edit(0, |p| {
                    let mut n = 0;
                    for k in fields {
                        if let Some(off) = p.find(k, 2) {
                            p.remove_range(off, 2);
                            n += 1;
                        }
                    }
                    n
                })
            }
            Hash::Table(t) => fields.iter().filter(|k| t.remove(k)).count(),
        }
    }

    /// Moves the pairs into a hash table (one-way, as in Redis).
    pub fn convert(&mut self) {
        if let Hash::Packed(f) = self {
            let p = f.view();
            let mut t = Table::with_capacity(p.len() / 2);
            let (mut a, mut b) = (itoa::Buffer::new(), itoa::Buffer::new());
            let mut it = p.iter();
            while let (Some((_, k)), Some((_, v))) = (it.next(), it.next()) {
                t.set(k.bytes(&mut a), v.bytes(&mut b));
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// The `i`-th pair in storage order (packed encoding).
    pub fn pair_at(&self, i: usize) -> Option<(Item<'_>, Item<'_>)> {
        self.iter().nth(i)
    }

    /// A random pair; `rnd` supplies random numbers.
    pub fn random_pair(&self, mut rnd: impl FnMut() -> u64) -> Option<(Item<'_>, Item<'_>)> {
        match self {
            Hash::Packed(p) => {
                let p = p.view();
                let n = p.len() / 2;
                if n == 0 {
                    return None;
                }
                let i = (rnd() % n as u64) as usize;
                let off = p.offset_of(2 * i as i64)?;
                let (k, next) = p.get(off);
                Some((k, p.get(next).0))
            }
            Hash::Table(t) => t.random(rnd).map(|(k, v)| (Item::Str(k), Item::Str(v))),
        }
    }
}

struct Node {
    next: Option<Box<Node>>,
    field: Blob,
    value: Blob,
}

/// Chained buckets, a power of two of them; each node one allocation.
#[derive(Default)]
pub struct Table {
    buckets: Vec<Option<Box<Node>>>,
    len: usize,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v)))).finish()
    }
}

impl Clone for Table {
    fn clone(&self) -> Self {
        let mut t = Table::with_capacity(self.len);
        for (k, v) in self.iter() {
            t.set(k, v);
        }
        t
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        // Unlink chains iteratively: no recursion however long a chain is.
        for b in self.buckets.iter_mut() {
            let mut cur = b.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
            }
        }
    }
}

const MIN_BUCKETS: usize = 4;

impl Table {
    pub fn with_capacity(n: usize) -> Table {
        let size = n.next_power_of_two().max(MIN_BUCKETS);
        let mut buckets = Vec::with_capacity(size);
        buckets.resize_with(size, || None);
        Table { buckets, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    fn heap_size(&self) -> usize {
        let node = std::mem::size_of::<Node>();
        self.buckets.capacity() * 8 + self.iter().map(|(k, v)| node + heap_of(k) + heap_of(v)).sum::<usize>()
    }

    #[inline]
    fn idx(&self, field: &[u8]) -> usize {
        (hash_key(field) & (self.buckets.len() as u64 - 1)) as usize
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut cur = self.buckets[self.idx(field)].as_deref();
        while let Some(n) = cur {
            if n.field.as_slice() == field {
                return Some(n.value.as_slice());
            }
            cur = n.next.as_deref();
        }
        None
    }

    /// Returns whether the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if !self.buckets.is_empty() {
            let i = self.idx(field);
            let mut cur = self.buckets[i].as_deref_mut();
            while let Some(n) = cur {
                if n.field.as_slice() == field {
                    n.value = Blob::new(value);
                    return false;
                }
                cur = n.next.as_deref_mut();
            }
        }
        if self.len >= self.buckets.len() {
            self.resize((self.buckets.len() * 2).max(MIN_BUCKETS));
        }
        let i = self.idx(field);
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Node { next, field: Blob::new(field), value: Blob::new(value) }));
        self.len += 1;
        true
    }

    pub fn remove(&mut self, field: &[u8]) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let i = self.idx(field);
        let mut link = &mut self.buckets[i];
        loop {
            match link {
                None => return false,
                Some(n) if n.field.as_slice() == field => {
                    let mut node = link.take().unwrap();
                    *link = node.next.take();
                    self.len -= 1;
                    // Shrink below 1/8 fill (Redis shrinks under 10%).
                    let n = self.buckets.len();
                    if n > MIN_BUCKETS && self.len * 8 < n {
                        self.resize((self.len.next_power_of_two() * 2).max(MIN_BUCKETS));
                    }
                    return true;
                }
                Some(n) => link = &mut n.next,
            }
        }
    }

    fn resize(&mut self, size: usize) {
        let mut new: Vec<Option<Box<Node>>> = Vec::with_capacity(size);
        new.resize_with(size, || None);
        let mask = size as u64 - 1;
        for b in self.buckets.iter_mut() {
            let mut cur = b.take();
            while let Some(mut n) = cur {
                cur = n.next.take();
                let i = (hash_key(&n.field) & mask) as usize;
                n.next = new[i].take();
                new[i] = Some(n);
            }
        }
        self.buckets = new;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.buckets.iter().flat_map(|b| chain(b.as_deref()))
    }

    /// Visits the cursor's bucket and returns the next cursor (0 when done). The
    /// reverse-binary increment makes resizes between calls skip nothing.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.buckets.len() as u64 - 1;
        for (k, v) in chain(self.buckets[(cursor & mask) as usize].as_deref()) {
            f(k, v);
        }
        ((cursor | !mask).reverse_bits().wrapping_add(1)).reverse_bits()
    }

    /// A uniformly random pair: a random bucket, then a random slot among the first
    /// `SLOTS` of its chain, retried when that slot is empty, so that a field in a long
    /// chain is as likely as one alone in its bucket (chains past `SLOTS`, which a
    /// seeded hash at load <= 1 practically never makes, are sampled whole).
    pub fn random(&self, mut rnd: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        const SLOTS: u64 = 8;
        if self.len == 0 {
            return None;
        }
        let mask = self.buckets.len() as u64 - 1;
        loop {
            let b = self.buckets[(rnd() & mask) as usize].as_deref();
            let n = chain(b).count() as u64;
            if n > SLOTS {
                return chain(b).nth((rnd() % n) as usize);
            }
            let j = rnd() % SLOTS;
            if j < n {
                return chain(b).nth(j as usize);
            }
        }
    }
}

fn heap_of(b: &[u8]) -> usize {
    if b.len() > 22 {
        b.len()
    } else {
        0
    }
}

fn chain(mut cur: Option<&Node>) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let n = cur?;
        cur = n.next.as_deref();
        Some((n.field.as_slice(), n.value.as_slice()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hash_is_small() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        assert_eq!(std::mem::size_of::<crate::keyspace::Value>(), 24);
    }

    #[test]
    fn packed_to_table() {
        let mut h = Hash::new();
        for i in 0..10 {
            assert!(h.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), 8, 64));
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 10);
        assert!(!h.set(b"f3", b"x", 8, 64));
        assert_eq!(h.get(b"f3"), Some(Item::Str(b"x")));
        assert!(h.remove(b"f3"));
        assert!(!h.remove(b"f3"));
        assert_eq!(h.len(), 9);
        let mut p = Hash::new();
        for i in 0..10 {
            if i != 3 {
                p.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), 512, 64);
            }
        }
        p.set(b"f5", b"5", 512, 64);
        assert_eq!(p.encoding(), "listpack");
        assert_eq!(p.digest(), {
            let mut h2 = h.clone();
            h2.set(b"f5", b"5", 512, 64);
            h2.digest()
        });
    }

    #[test]
    fn scan_survives_resizes() {
        let mut t = Table::default();
        for i in 0..200 {
            t.set(format!("a{i}").as_bytes(), b"v");
        }
        let mut seen = std::collections::HashSet::new();
        let (mut cursor, mut step) = (0u64, 0);
        loop {
            cursor = t.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            step += 1;
            if step == 3 {
                for i in 0..3000 {
                    t.set(format!("b{i}").as_bytes(), b"v");
                }
            }
            if step == 40 {
                for i in 0..3000 {
                    t.remove(format!("b{i}").as_bytes());
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..200 {
            assert!(seen.contains(format!("a{i}").as_bytes()));
        }
    }
}
