//! The set type, with Redis 7.2's three encodings and its conversion rules:
//! - `intset`: sorted integers in the narrowest width that holds them all (2, 4 or 8
//!   bytes), searched by bisection. Up to [`INLINE`] bytes of them live inside the
//!   `Value` itself, so a small set of small integers costs no allocation at all.
//! - `listpack`: a [`Packed`] sequence, for small sets with short members.
//! - `hashtable`: a [`Table`], for everything larger.
//!
//! Conversions follow t_set.c: an intset takes a non-integer by becoming a listpack when
//! the result still fits the listpack limits, a hashtable otherwise; a listpack becomes
//! a hashtable past `set-max-listpack-entries` members or with a member longer than
//! `set-max-listpack-value`; an intset past `set-max-intset-entries` becomes a
//! hashtable. Nothing converts back except the results of the *STORE commands and
//! SPOP's rebuild, which pick their encoding as Redis does (see the command file).

use hashbrown::HashTable;
use rand::Rng;

use super::packed::{self, Item, Packed};
use super::{digest_of, xor_into};
use crate::keyspace::Blob;

/// Bytes of intset payload kept in place (11 integers of 16 bits).
pub const INLINE: usize = 22;
/// `head` value saying the body holds a pointer to a [`Big`].
const BOXED: u8 = 0xff;

/// The encoding thresholds in force (from `Settings`), passed to every operation that
/// may convert.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub intset_entries: usize,
    pub listpack_entries: usize,
    pub listpack_value: usize,
}

impl Limits {
    fn intset_max(&self) -> usize {
        self.intset_entries.min(1 << 30)
    }
}

/// Every encoding except the in-place intset, behind one owned pointer.
#[derive(Clone)]
enum Big {
    /// A larger intset, exactly sized (reallocated on each change, as Redis does).
    Ints {
        width: u8,
        data: Box<[u8]>,
    },
    Packed(Packed),
    Table(Table),
}

/// A set, stored unboxed in `Value` in 23 bytes with alignment 1, which lets it share
/// the 24-byte `Value` with the string variant's tag: 100,000 sets of ten small integers
/// then cost no more than the keys themselves (Redis pays a robj and an intset
/// allocation per set). `head` is either [`BOXED`] (the body's first bytes hold a
/// `Box<Big>` turned into an address) or an in-place intset: width code in bits 5-6
/// (16, 32, 64 bits) and count in bits 0-4, the integers in `body`.
#[repr(C)]
pub struct Set {
    head: u8,
    body: [u8; INLINE],
}

const PTR: usize = std::mem::size_of::<usize>();

impl Drop for Set {
    fn drop(&mut self) {
        if self.head == BOXED {
            // SAFETY: a BOXED body holds the address from `Box::into_raw` in `from_big`,
            // owned by this set alone (Clone deep-copies it).
            drop(unsafe { Box::from_raw(self.ptr()) });
        }
    }
}

impl Clone for Set {
    fn clone(&self) -> Set {
        match self.big() {
            Some(b) => Set::from_big(b.clone()),
            None => Set { head: self.head, body: self.body },
        }
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter().map(|i| String::from_utf8_lossy(&i.to_vec()).into_owned())).finish()
    }
}

impl Default for Set {
    fn default() -> Set {
        Set::new()
    }
}

/// A borrowed view of the encoding.
enum Rep<'a> {
    Ints(usize, &'a [u8]),
    Packed(&'a Packed),
    Table(&'a Table),
}

fn int_width(v: i64) -> usize {
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        8
    } else if v < i16::MIN as i64 || v > i16::MAX as i64 {
        4
    } else {
        2
    }
}

#[inline]
fn read_int(b: &[u8], w: usize, i: usize) -> i64 {
    let s = &b[i * w..i * w + w];
    match w {
        2 => i16::from_le_bytes([s[0], s[1]]) as i64,
        4 => i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64,
        _ => i64::from_le_bytes(s.try_into().unwrap()),
    }
}

#[inline]
fn write_int(out: &mut [u8], w: usize, i: usize, v: i64) {
    out[i * w..i * w + w].copy_from_slice(&v.to_le_bytes()[..w]);
}

fn search_ints(b: &[u8], w: usize, v: i64) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0usize, b.len() / w);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match read_int(b, w, mid).cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// An intset of `total` bytes filled by `fill`: in place when small enough.
fn build_ints(width: usize, total: usize, fill: impl FnOnce(&mut [u8])) -> Set {
    if total <= INLINE {
        let mut body = [0u8; INLINE];
        fill(&mut body[..total]);
        let code = (width.trailing_zeros() - 1) as u8;
        Set { head: (code << 5) | (total / width) as u8, body }
    } else {
        let mut data = vec![0u8; total].into_boxed_slice();
        fill(&mut data);
        Set::from_big(Big::Ints { width: width as u8, data })
    }
}

/// Decimal digits of `v`, the sign included (what Redis's `sdigits10` counts).
fn digits(v: i64) -> usize {
    itoa::Buffer::new().format(v).len()
}

fn member_hash(v: &[u8]) -> u64 {
    crate::keyspace::hash_key(v)
}

/// The hashtable encoding: members in a dense vector plus a hashbrown index of their
/// positions. Chosen over a plain `HashSet<Blob>` because SSCAN needs Redis's
/// guarantee (every member present for the whole scan is returned) and hashbrown hides
/// its buckets: with a dense vector, removal is a swap-remove that only ever moves the
/// *last* member *down*, and additions append at the top, so a cursor that walks the
/// positions from the top down (see [`Set::scan`]) can never skip a member that stayed
/// in the set. The vector also makes SRANDMEMBER/SPOP uniform and O(1). Cost per member:
/// the 24-byte inline `Blob` plus a 4-byte index slot and its control byte.
#[derive(Clone, Default)]
pub struct Table {
    members: Vec<Blob>,
    index: HashTable<u32>,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table { members: Vec::with_capacity(n), index: HashTable::with_capacity(n) }
    }

    fn len(&self) -> usize {
        self.members.len()
    }

    fn position(&self, v: &[u8]) -> Option<usize> {
        let m = &self.members;
        self.index.find(member_hash(v), |&i| m[i as usize].as_slice() == v).map(|&i| i as usize)
    }

    fn contains(&self, v: &[u8]) -> bool {
        self.position(v).is_some()
    }

    /// Adds a member known to be absent.
    fn push_new(&mut self, v: &[u8]) {
        let Table { members, index } = self;
        let i = members.len() as u32;
        members.push(Blob::new(v));
        index.insert_unique(member_hash(v), i, |&j| member_hash(&members[j as usize]));
    }

    fn insert(&mut self, v: &[u8]) -> bool {
        if self.contains(v) {
            return false;
        }
        self.push_new(v);
        true
    }

    /// Removes the member at position `i` (swap-remove), returning it.
    fn remove_at(&mut self, i: usize) -> Blob {
        let Table { members, index } = self;
        let h = member_hash(&members[i]);
        if let Ok(e) = index.find_entry(h, |&j| j as usize == i) {
            e.remove();
        }
        let last = members.len() - 1;
        let out = members.swap_remove(i);
        if i != last {
            let h = member_hash(&members[i]);
            if let Some(slot) = index.find_mut(h, |&j| j as usize == last) {
                *slot = i as u32;
            }
        }
        self.maybe_shrink();
        out
    }

    fn remove(&mut self, v: &[u8]) -> bool {
        match self.position(v) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Gives memory back once the table is mostly empty (Redis resizes below 10% fill).
    fn maybe_shrink(&mut self) {
        let n = self.members.len();
        if self.index.capacity() > 64 && n * 10 < self.index.capacity() {
            let Table { members, index } = self;
            index.shrink_to(n, |&j| member_hash(&members[j as usize]));
            members.shrink_to(n * 2);
        }
    }

    fn heap_size(&self) -> usize {
        std::mem::size_of::<Table>()
            + self.members.capacity() * std::mem::size_of::<Blob>()
            + self.members.iter().map(|b| b.heap_size()).sum::<usize>()
            + self.index.allocation_size()
    }
}

/// Members in the set's own order: ascending for an intset, insertion order for a
/// listpack, position order for a hashtable.
pub enum Iter<'a> {
    Ints { w: usize, b: &'a [u8], i: usize },
    Packed(packed::Iter<'a>),
    Table(std::slice::Iter<'a, Blob>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Item<'a>;

    #[inline]
    fn next(&mut self) -> Option<Item<'a>> {
        match self {
            Iter::Ints { w, b, i } => {
                if *i * *w >= b.len() {
                    return None;
                }
                *i += 1;
                Some(Item::Int(read_int(b, *w, *i - 1)))
            }
            Iter::Packed(it) => it.next().map(|(_, item)| item),
            Iter::Table(it) => it.next().map(|b| Item::Str(b.as_slice())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Ints { w, b, i } => {
                let n = b.len() / *w - *i;
                (n, Some(n))
            }
            Iter::Packed(_) => (0, None),
            Iter::Table(it) => it.size_hint(),
        }
    }
}

/// `k` distinct positions out of `0..n`, ascending, each subset equally likely
/// (selection sampling, as Redis's `lpNextRandom` walks a listpack once).
pub fn sample_ascending(n: usize, k: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    let mut need = k;
    for i in 0..n {
        if need == 0 {
            break;
        }
        if rng.gen_range(0..n - i) < need {
            out.push(i);
            need -= 1;
        }
    }
    out
}

impl Set {
    /// An empty intset.
    pub fn new() -> Set {
        Set { head: 0, body: [0; INLINE] }
    }

    pub fn new_listpack() -> Set {
        Set::from_big(Big::Packed(Packed::new()))
    }

    pub fn new_table(capacity: usize) -> Set {
        Set::from_big(Big::Table(Table::with_capacity(capacity)))
    }

    fn from_big(b: Big) -> Set {
        let addr = Box::into_raw(Box::new(b)) as usize;
        let mut body = [0u8; INLINE];
        body[..PTR].copy_from_slice(&addr.to_ne_bytes());
        Set { head: BOXED, body }
    }

    fn ptr(&self) -> *mut Big {
        usize::from_ne_bytes(self.body[..PTR].try_into().unwrap()) as *mut Big
    }

    fn big(&self) -> Option<&Big> {
        // SAFETY: see `Drop`; the box lives as long as `self`.
        (self.head == BOXED).then(|| unsafe { &*self.ptr() })
    }

    fn big_mut(&mut self) -> Option<&mut Big> {
        // SAFETY: as `big`, and `&mut self` makes the access exclusive.
        (self.head == BOXED).then(|| unsafe { &mut *self.ptr() })
    }

    fn rep(&self) -> Rep<'_> {
        match self.big() {
            Some(Big::Ints { width, data }) => Rep::Ints(*width as usize, data),
            Some(Big::Packed(p)) => Rep::Packed(p),
            Some(Big::Table(t)) => Rep::Table(t),
            None => {
                let w = 2usize << (self.head >> 5);
                Rep::Ints(w, &self.body[..(self.head & 31) as usize * w])
            }
        }
    }

    fn packed_mut(&mut self) -> Option<&mut Packed> {
        match self.big_mut() {
            Some(Big::Packed(p)) => Some(p),
            _ => None,
        }
    }

    fn table_mut(&mut self) -> Option<&mut Table> {
        match self.big_mut() {
            Some(Big::Table(t)) => Some(t),
            _ => None,
        }
    }

    /// The encoding a new set gets for its first member and the number of members
    /// about to be added (Redis's `setTypeCreate`).
    pub fn create_for(first: &[u8], size_hint: usize, lim: &Limits) -> Set {
        if crate::util::parse_canonical_i64(first).is_some() && size_hint <= lim.intset_entries {
            Set::new()
        } else if size_hint <= lim.listpack_entries {
            Set::new_listpack()
        } else {
            Set::new_table(size_hint)
        }
    }

    /// Converts up front when `size_hint` members are about to be added to a compact
    /// encoding that could not hold them (Redis's `setTypeMaybeConvert`).
    pub fn maybe_convert(&mut self, size_hint: usize, lim: &Limits) {
        let convert = match self.rep() {
            Rep::Packed(_) => size_hint > lim.listpack_entries,
            Rep::Ints(..) => size_hint > lim.intset_entries,
            Rep::Table(_) => false,
        };
        if convert {
            self.convert_to_table(size_hint);
        }
    }

    fn ints(&self) -> Option<(usize, &[u8])> {
        match self.rep() {
            Rep::Ints(w, b) => Some((w, b)),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self.rep() {
            Rep::Ints(w, b) => b.len() / w,
            Rep::Packed(p) => p.len(),
            Rep::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.rep(), Rep::Ints(..))
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.rep(), Rep::Packed(_))
    }

    pub fn encoding(&self) -> &'static str {
        match self.rep() {
            Rep::Ints(..) => "intset",
            Rep::Packed(_) => "listpack",
            Rep::Table(_) => "hashtable",
        }
    }

    /// Heap bytes owned beyond the 23 bytes inside the `Value`.
    pub fn heap_size(&self) -> usize {
        match self.big() {
            None => 0,
            Some(Big::Ints { data, .. }) => std::mem::size_of::<Big>() + data.len(),
            Some(Big::Packed(p)) => std::mem::size_of::<Big>() + p.heap_size(),
            Some(Big::Table(t)) => std::mem::size_of::<Big>() + t.heap_size(),
        }
    }

    /// XOR of the members' digests: independent of encoding and order.
    pub fn digest(&self) -> [u8; 20] {
        let mut acc = digest_of(&[b"set"]);
        let mut buf = itoa::Buffer::new();
        for m in self.iter() {
            xor_into(&mut acc, digest_of(&[m.bytes(&mut buf)]));
        }
        acc
    }

    pub fn iter(&self) -> Iter<'_> {
        match self.rep() {
            Rep::Packed(p) => Iter::Packed(p.iter()),
            Rep::Table(t) => Iter::Table(t.members.iter()),
            Rep::Ints(w, b) => Iter::Ints { w, b, i: 0 },
        }
    }

    pub fn contains(&self, v: &[u8]) -> bool {
        match self.rep() {
            Rep::Packed(p) => p.find(v, 1).is_some(),
            Rep::Table(t) => t.contains(v),
            Rep::Ints(w, b) => match crate::util::parse_canonical_i64(v) {
                Some(n) => int_width(n) <= w && search_ints(b, w, n).is_ok(),
                None => false,
            },
        }
    }

    /// Membership of an element as another set yields it.
    pub fn contains_item(&self, v: Item) -> bool {
        match (v, self.ints()) {
            (Item::Int(n), Some((w, b))) => int_width(n) <= w && search_ints(b, w, n).is_ok(),
            (v, _) => self.contains(v.bytes(&mut itoa::Buffer::new())),
        }
    }

    /// Adds a member; returns whether it was new. Converts as Redis's `setTypeAdd`.
    pub fn add(&mut self, v: &[u8], lim: &Limits) -> bool {
        if let Some(t) = self.table_mut() {
            return t.insert(v);
        }
        if let Some(p) = self.packed_mut() {
            if p.find(v, 1).is_some() {
                return false;
            }
            if p.len() < lim.listpack_entries && v.len() <= lim.listpack_value {
                p.push_back(v);
            } else {
                self.convert_to_table(self.len() + 1);
                self.table_mut().expect("converted").push_new(v);
            }
            return true;
        }
        if let Some(n) = crate::util::parse_canonical_i64(v) {
            return self.add_int(n, lim);
        }
        let (w, b) = self.ints().expect("an intset");
        let n = b.len() / w;
        let maxlen = if n == 0 { 0 } else { digits(read_int(b, w, 0)).max(digits(read_int(b, w, n - 1))) };
        if n < lim.listpack_entries && v.len() <= lim.listpack_value && maxlen <= lim.listpack_value {
            self.convert_to_listpack();
            let p = self.packed_mut().expect("converted");
            p.push_back(v);
            p.shrink_to_fit();
        } else {
            self.convert_to_table(n + 1);
            self.table_mut().expect("converted").push_new(v);
        }
        true
    }

    /// Adds an integer member (an intset stays one when it can).
    pub fn add_int(&mut self, v: i64, lim: &Limits) -> bool {
        let Some((w, b)) = self.ints() else {
            return self.add(itoa::Buffer::new().format(v).as_bytes(), lim);
        };
        let n = b.len() / w;
        let need = int_width(v);
        let new = if need > w {
            // A wider value lies beyond every current member: first or last.
            build_ints(need, (n + 1) * need, |out| {
                let shift = usize::from(v < 0);
                for i in 0..n {
                    write_int(out, need, i + shift, read_int(b, w, i));
                }
                write_int(out, need, if v < 0 { 0 } else { n }, v);
            })
        } else {
            let Err(pos) = search_ints(b, w, v) else { return false };
            build_ints(w, (n + 1) * w, |out| {
                out[..pos * w].copy_from_slice(&b[..pos * w]);
                write_int(out, w, pos, v);
                out[(pos + 1) * w..].copy_from_slice(&b[pos * w..]);
            })
        };
        *self = new;
        if n + 1 > lim.intset_max() {
            self.convert_to_table(n + 1);
        }
        true
    }

    /// Adds an element as another set yields it.
    pub fn add_item(&mut self, v: Item, lim: &Limits) -> bool {
        match v {
            Item::Int(n) => self.add_int(n, lim),
            Item::Str(s) => self.add(s, lim),
        }
    }

    pub fn remove(&mut self, v: &[u8]) -> bool {
        if let Some(t) = self.table_mut() {
            return t.remove(v);
        }
        if let Some(p) = self.packed_mut() {
            return match p.find(v, 1) {
                Some(off) => {
                    p.remove_at(off);
                    true
                }
                None => false,
            };
        }
        match crate::util::parse_canonical_i64(v) {
            Some(n) => self.remove_int(n),
            None => false,
        }
    }

    fn remove_int(&mut self, v: i64) -> bool {
        let (w, b) = self.ints().expect("an intset");
        if int_width(v) > w {
            return false;
        }
        let Ok(pos) = search_ints(b, w, v) else { return false };
        let n = b.len() / w;
        *self = build_ints(w, (n - 1) * w, |out| {
            out[..pos * w].copy_from_slice(&b[..pos * w]);
            out[pos * w..].copy_from_slice(&b[(pos + 1) * w..]);
        });
        true
    }

    pub fn remove_item(&mut self, v: Item) -> bool {
        match v {
            Item::Int(n) if self.is_intset() => self.remove_int(n),
            v => self.remove(v.bytes(&mut itoa::Buffer::new())),
        }
    }

    /// Converts to a hashtable presized for `cap` members.
    pub fn convert_to_table(&mut self, cap: usize) {
        if matches!(self.rep(), Rep::Table(_)) {
            return;
        }
        let mut t = Table::with_capacity(cap.max(self.len()));
        let mut buf = itoa::Buffer::new();
        for m in self.iter() {
            t.push_new(m.bytes(&mut buf));
        }
        *self = Set::from_big(Big::Table(t));
    }

    fn convert_to_listpack(&mut self) {
        let mut p = Packed::new();
        let mut buf = itoa::Buffer::new();
        for m in self.iter() {
            p.push_back(m.bytes(&mut buf));
        }
        *self = Set::from_big(Big::Packed(p));
    }

    /// Turns a set whose members are all integers into an intset when it may be one
    /// (Redis's `maybeConvertToIntset`, for SINTERSTORE results).
    pub fn maybe_to_intset(&mut self, lim: &Limits) {
        if self.is_intset() || self.len() > lim.intset_max() {
            return;
        }
        let mut vals: Vec<i64> = Vec::with_capacity(self.len());
        for m in self.iter() {
            match m.as_int() {
                Some(n) => vals.push(n),
                None => return,
            }
        }
        vals.sort_unstable();
        vals.dedup();
        let w = vals.iter().map(|&v| int_width(v)).max().unwrap_or(2);
        *self = build_ints(w, vals.len() * w, |out| {
            for (i, &v) in vals.iter().enumerate() {
                write_int(out, w, i, v);
            }
        });
    }

    pub fn shrink_to_fit(&mut self) {
        if let Some(p) = self.packed_mut() {
            p.shrink_to_fit();
        }
    }

    /// The member at position `i` (`i < len`) in iteration order.
    pub fn nth(&self, i: usize) -> Item<'_> {
        match self.rep() {
            Rep::Packed(p) => p.get(p.offset_of(i as i64).expect("in range")).0,
            Rep::Table(t) => Item::Str(t.members[i].as_slice()),
            Rep::Ints(w, b) => Item::Int(read_int(b, w, i)),
        }
    }

    /// A uniformly random member of a non-empty set.
    pub fn random(&self, rng: &mut impl Rng) -> Item<'_> {
        self.nth(rng.gen_range(0..self.len()))
    }

    /// Removes and returns a uniformly random member of a non-empty set.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Vec<u8> {
        let i = rng.gen_range(0..self.len());
        if let Some(t) = self.table_mut() {
            return t.remove_at(i).as_slice().to_vec();
        }
        if let Some(p) = self.packed_mut() {
            let off = p.offset_of(i as i64).expect("in range");
            let v = p.get(off).0.to_vec();
            p.remove_at(off);
            return v;
        }
        let v = self.nth(i).as_int().expect("an intset");
        self.remove_int(v);
        itoa::Buffer::new().format(v).as_bytes().to_vec()
    }

    /// Removes the members at the given ascending positions, returning them in order
    /// (for a listpack in one walk, as Redis's batch delete).
    pub fn remove_positions(&mut self, positions: &[usize]) -> Vec<Vec<u8>> {
        let Some(p) = self.packed_mut() else {
            let items: Vec<Vec<u8>> = positions.iter().map(|&i| self.nth(i).to_vec()).collect();
            for it in &items {
                self.remove(it);
            }
            return items;
        };
        let mut out = Vec::with_capacity(positions.len());
        let mut keep = Packed::new();
        let mut next = positions.iter().peekable();
        let mut buf = itoa::Buffer::new();
        for (i, (_, item)) in p.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                out.push(item.to_vec());
            } else {
                keep.push_back(item.bytes(&mut buf));
            }
        }
        *p = keep;
        out
    }

    /// One SSCAN step over a hashtable from `cursor`, calling `f` for visited members
    /// (it says whether the member counted towards `count`); returns the next cursor, 0
    /// when done. The cursor is the number of positions still to visit, walked from the
    /// top down: see [`Table`] for why that never skips a member present for the whole
    /// scan. Compact encodings are returned whole, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Item) -> bool) -> u64 {
        let Rep::Table(t) = self.rep() else {
            for m in self.iter() {
                f(m);
            }
            return 0;
        };
        let n = t.members.len();
        let mut pos = if cursor == 0 { n } else { (cursor as usize).min(n) };
        let (mut found, mut visits) = (0usize, 0usize);
        let max_visits = count.saturating_mul(10);
        while pos > 0 && found < count && visits < max_visits {
            pos -= 1;
            visits += 1;
            if f(Item::Str(t.members[pos].as_slice())) {
                found += 1;
            }
        }
        pos as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits { intset_entries: 512, listpack_entries: 128, listpack_value: 64 };

    #[test]
    fn layout_is_compact() {
        assert_eq!(std::mem::size_of::<Set>(), 23);
        assert_eq!(std::mem::align_of::<Set>(), 1);
        assert_eq!(std::mem::size_of::<crate::keyspace::Value>(), 24);
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = Set::new();
        for v in [5i64, -3, 70000, 1, -5_000_000_000, 5] {
            s.add_int(v, &LIM);
        }
        assert_eq!(s.len(), 5);
        assert_eq!(s.encoding(), "intset");
        let got: Vec<i64> = s.iter().map(|i| i.as_int().unwrap()).collect();
        assert_eq!(got, vec![-5_000_000_000, -3, 1, 5, 70000]);
        assert!(s.contains(b"70000") && !s.contains(b"7") && !s.contains(b"x"));
        assert!(s.remove(b"-3") && !s.remove(b"-3"));
        assert_eq!(s.len(), 4);
        for i in 0..100 {
            s.add_int(i * 3, &LIM);
        }
        assert!(s.big().is_some() && s.is_intset());
        assert!(s.contains(b"297"));
    }

    #[test]
    fn conversions() {
        let mut s = Set::new();
        s.add(b"1", &LIM);
        s.add(b"a", &LIM);
        assert_eq!(s.encoding(), "listpack");
        let mut big = Set::new();
        for i in 0..513 {
            big.add_int(i, &LIM);
        }
        assert_eq!(big.encoding(), "hashtable");
        assert_eq!(big.len(), 513);
    }

    #[test]
    fn table_swap_remove_keeps_index() {
        let mut s = Set::new_table(0);
        for i in 0..1000 {
            s.add(format!("m{i}").as_bytes(), &LIM);
        }
        for i in (0..1000).step_by(3) {
            assert!(s.remove(format!("m{i}").as_bytes()));
        }
        for i in 0..1000 {
            assert_eq!(s.contains(format!("m{i}").as_bytes()), i % 3 != 0);
        }
    }
}
