//! Sorted sets. Small ones (what OBJECT ENCODING calls `listpack`) are one exactly
//! sized buffer of (member, score) pairs in (score, member) order; past
//! `zset-max-listpack-*` they become a [`Tree`]: members in one arena, ordered by a
//! B+tree of (score, slot) entries with counted children (ranks and range starts in
//! O(log N)), plus a member -> slot index. A member costs a 40-byte arena node (no
//! allocation of its own up to 22 bytes) and a 16-byte order entry, well under a
//! skiplist node with its dict entry.
//!
//! The compact buffer is denser than [`super::Packed`]: a pair has no back-lengths
//! (walks are forward; sets this small are cheap to rescan) and a score is one byte
//! for small integers, 5 for doubles exact in f32, else 9. That keeps 100,000 sets of
//! 10 members under redis-server's footprint despite our larger key entries.
//!
//! Ranks are ascending (0 = lowest score). Every range operation is expressed as a
//! rank interval, so commands only need `count_*_below` and [`ZSet::visit`].

use std::cmp::Ordering;
use std::fmt;

use ferrokv_protocol::reply::format_double;
use hashbrown::HashTable;

use crate::keyspace::Blob;

/// The listpack thresholds in force (`zset-max-listpack-entries` / `-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// One end of a lexicographic range (`-`, `+`, `[m`, `(m`).
#[derive(Clone, Copy, Debug)]
pub enum Lex<'a> {
    NegInf,
    PosInf,
    Incl(&'a [u8]),
    Excl(&'a [u8]),
}

#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(Small),
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2).unwrap_or(Ordering::Equal).then_with(|| m1.cmp(m2))
}

impl ZSet {
    /// An empty sorted set in the compact encoding.
    pub fn new() -> ZSet {
        ZSet { repr: Repr::Small(Small::default()) }
    }

    /// An empty sorted set in the encoding Redis would pick for about `size` members
    /// of up to `value_len` bytes (`zsetTypeCreate`).
    pub fn with_hint(size: usize, value_len: usize, lim: Limits) -> ZSet {
        if size <= lim.entries.min(SMALL_MAX) && value_len <= lim.value {
            ZSet::new()
        } else {
            ZSet { repr: Repr::Tree(Box::new(Tree::with_capacity(size))) }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Small(p) => p.len(),
            Repr::Tree(t) => t.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Small(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Small(_))
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Small(p) => p.0.len(),
            Repr::Tree(t) => std::mem::size_of::<Tree>() + t.heap_size(),
        }
    }

    /// SHA1 over the members and scores in order: the same for both encodings.
    pub fn digest(&self) -> [u8; 20] {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(b"zset");
        self.visit(0, false, |m, s| {
            h.update((m.len() as u32).to_le_bytes());
            h.update(m);
            h.update(format_double(s).as_bytes());
            true
        });
        h.finalize().into()
    }

    /// Switches to the full encoding (one way, as in Redis).
    pub fn convert_to_tree(&mut self) {
        if let Repr::Small(p) = &self.repr {
            let mut t = Tree::with_capacity(p.len());
            for (_, m, s, _) in p.iter() {
                t.insert(m, s);
            }
            self.repr = Repr::Tree(Box::new(t));
        }
    }

    /// Goes back to the compact encoding when the contents fit it (what Redis does to
    /// the results of ZUNIONSTORE and friends).
    pub fn compact_if_fits(&mut self, lim: Limits) {
        if let Repr::Tree(t) = &self.repr {
            if t.len as usize > lim.entries.min(SMALL_MAX) {
                return;
            }
            let mut maxlen = 0;
            let mut buf = vec![0u8; 2];
            self.visit(0, false, |m, s| {
                maxlen = maxlen.max(m.len());
                encode_pair(m, s, &mut buf);
                true
            });
            if maxlen <= lim.value {
                let n = self.len() as u16;
                buf[..2].copy_from_slice(&n.to_le_bytes());
                self.repr = Repr::Small(Small(buf.into_boxed_slice()));
            }
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Small(p) => p.find(member).map(|(_, _, s)| s),
            Repr::Tree(t) => t.find(member).map(|i| t.nodes[i as usize].score),
        }
    }

    /// Sets the score of `member`, adding it if absent (converting the encoding when
    /// Redis would); returns the previous score. `score` must not be NaN.
    pub fn set(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        if let Repr::Small(p) = &mut self.repr {
            if let Some((a, b, old)) = p.find(member) {
                if old != score {
                    p.splice(a, b, &[], -1);
                    p.insert(member, score);
                }
                return Some(old);
            }
            if p.len() < lim.entries.min(SMALL_MAX) && member.len() <= lim.value {
                p.insert(member, score);
                return None;
            }
            self.convert_to_tree();
        }
        let Repr::Tree(t) = &mut self.repr else { unreachable!() };
        match t.find(member) {
            Some(i) => {
                let old = t.nodes[i as usize].score;
                if old != score {
                    t.remove(member);
                    t.insert(member, score);
                }
                Some(old)
            }
            None => {
                t.insert(member, score);
                None
            }
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Small(p) => {
                let (a, b, s) = p.find(member)?;
                p.splice(a, b, &[], -1);
                Some(s)
            }
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// Ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Small(p) => p.iter().enumerate().find(|(_, (_, m, _, _))| *m == member).map(|(r, (_, _, s, _))| (r, s)),
            Repr::Tree(t) => {
                let s = t.nodes[t.find(member)? as usize].score;
                Some((t.count_below(|n| cmp_key(n.score, &n.member, s, member) == Ordering::Less), s))
            }
        }
    }

    /// How many members score below `v` (or at most `v` when `inclusive`).
    pub fn count_score_below(&self, v: f64, inclusive: bool) -> usize {
        let below = |s: f64| if inclusive { s <= v } else { s < v };
        match &self.repr {
            Repr::Small(p) => p.iter().take_while(|(_, _, s, _)| below(*s)).count(),
            Repr::Tree(t) => t.count_below(|n| below(n.score)),
        }
    }

    /// How many members sort before `m` (or up to and including `m` when
    /// `inclusive`), comparing members only (lex ranges assume equal scores).
    pub fn count_lex_below(&self, m: &[u8], inclusive: bool) -> usize {
        let below = |x: &[u8]| if inclusive { x <= m } else { x < m };
        match &self.repr {
            Repr::Small(p) => p.iter().take_while(|(_, x, _, _)| below(x)).count(),
            Repr::Tree(t) => t.count_below(|n| below(&n.member)),
        }
    }

    /// The rank interval `[start, end)` of members scoring within the given bounds.
    pub fn score_range(&self, min: f64, minex: bool, max: f64, maxex: bool) -> (usize, usize) {
        let a = self.count_score_below(min, minex);
        let b = self.count_score_below(max, !maxex);
        (a, b.max(a))
    }

    /// The rank interval `[start, end)` of members within a lex range.
    pub fn lex_range(&self, min: Lex, max: Lex) -> (usize, usize) {
        let n = self.len();
        let a = match min {
            Lex::NegInf => 0,
            Lex::PosInf => n,
            Lex::Incl(m) => self.count_lex_below(m, false),
            Lex::Excl(m) => self.count_lex_below(m, true),
        };
        let b = match max {
            Lex::NegInf => 0,
            Lex::PosInf => n,
            Lex::Incl(m) => self.count_lex_below(m, true),
            Lex::Excl(m) => self.count_lex_below(m, false),
        };
        (a, b.max(a))
    }

    /// Calls `f` on members in order from ascending rank `from` (downwards when `rev`)
    /// until it returns false or the set ends.
    pub fn visit(&self, from: usize, rev: bool, mut f: impl FnMut(&[u8], f64) -> bool) {
        if from >= self.len() {
            return;
        }
        match &self.repr {
            Repr::Small(p) => {
                if rev {
                    let starts: Vec<usize> = p.iter().take(from + 1).map(|(a, _, _, _)| a).collect();
                    for &a in starts.iter().rev() {
                        let (m, s, _) = p.pair_at(a);
                        if !f(m, s) {
                            return;
                        }
                    }
                } else {
                    for (_, m, s, _) in p.iter().skip(from) {
                        if !f(m, s) {
                            return;
                        }
                    }
                }
            }
            Repr::Tree(t) => t.visit(from, rev, |n| f(&n.member, n.score)),
        }
    }

    /// Members and scores of ascending ranks `[start, end)`, walked in order (reversed
    /// when `rev`), at most `limit` of them after skipping `offset`.
    pub fn collect(&self, start: usize, end: usize, rev: bool, offset: usize, limit: Option<usize>) -> Vec<(Vec<u8>, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        let avail = (end - start).saturating_sub(offset);
        let n = limit.map_or(avail, |l| l.min(avail));
        let mut out = Vec::with_capacity(n);
        if n == 0 {
            return out;
        }
        let from = if rev { end - 1 - offset } else { start + offset };
        self.visit(from, rev, |m, s| {
            out.push((m.to_vec(), s));
            out.len() < n
        });
        out
    }

    /// The member at ascending rank `r`.
    pub fn at(&self, r: usize) -> Option<(Vec<u8>, f64)> {
        let mut v = None;
        self.visit(r, false, |m, s| {
            v = Some((m.to_vec(), s));
            false
        });
        v
    }

    /// Removes the members of ascending ranks `[start, end)`; returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match &mut self.repr {
            Repr::Small(p) => {
                let spans: Vec<(usize, usize)> = p.iter().skip(start).take(end - start).map(|(a, _, _, b)| (a, b)).collect();
                let (a, b) = (spans[0].0, spans[spans.len() - 1].1);
                p.splice(a, b, &[], -(spans.len() as i32));
            }
            Repr::Tree(_) => {
                for (m, _) in self.collect(start, end, false, 0, None) {
                    self.remove(&m);
                }
            }
        }
        end - start
    }

    /// Removes and returns the lowest (or highest) member.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let (m, s) = self.at(if max { n - 1 } else { 0 })?;
        self.remove(&m);
        Some((m, s))
    }

    /// One step of ZSCAN: calls `f` on members from `cursor`, about `count` of them;
    /// returns the next cursor (0 when done). The compact encoding is returned whole,
    /// as Redis does; the tree walks its arena slots, which stay put while members come
    /// and go, so members present throughout a scan are returned exactly once.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Small(p) => {
                for (_, m, s, _) in p.iter() {
                    f(m, s);
                }
                0
            }
            Repr::Tree(t) => {
                let mut i = cursor as usize;
                let mut seen = 0;
                while i < t.nodes.len() && seen < count {
                    let n = &t.nodes[i];
                    if n.live {
                        f(&n.member, n.score);
                        seen += 1;
                    }
                    i += 1;
                }
                if i >= t.nodes.len() {
                    0
                } else {
                    i as u64
                }
            }
        }
    }

    /// Longest member, for choosing the encoding of a copy.
    pub fn max_member_len(&self) -> usize {
        let mut n = 0;
        self.visit(0, false, |m, _| {
            n = n.max(m.len());
            true
        });
        n
    }
}

/// The compact buffer holds at most this many pairs (its count is a u16).
const SMALL_MAX: usize = u16::MAX as usize;

/// The compact encoding: a little-endian u16 pair count, then each pair as a varint
/// member length, the member, and a score: tag `0..=0xbf` is that integer, `0xc1..=0xc8`
/// an integer of that many bytes (LE, sign-extended), `0xd1..=0xd6` a zigzag varint `n`
/// standing for `n / 10^(tag - 0xd0)`, `0xf4` an f32, `0xf8` an f64.
/// An empty set has no bytes at all.
#[derive(Clone, Default)]
struct Small(Box<[u8]>);

impl fmt::Debug for Small {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Small(len={})", self.len())
    }
}

fn encode_pair(m: &[u8], s: f64, out: &mut Vec<u8>) {
    let mut n = m.len();
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(m);
    // -0.0 is stored as the integer 0: Redis's listpack loses the sign the same way.
    let i = s as i64;
    if s.fract() == 0.0 && i as f64 == s && s.abs() < 9.0e18 {
        if (0..=0xbf).contains(&i) {
            out.push(i as u8);
        } else {
            let w = (1..=8).find(|&w| w == 8 || (i >= -(1i64 << (8 * w - 1)) && i < (1i64 << (8 * w - 1)))).unwrap();
            out.push(0xc0 + w as u8);
            out.extend_from_slice(&i.to_le_bytes()[..w]);
        }
    } else if let Some((k, n)) = as_decimal(s) {
        out.push(0xd0 + k as u8);
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    } else if (s as f32) as f64 == s || s.is_infinite() {
        out.push(0xf4);
        out.extend_from_slice(&(s as f32).to_le_bytes());
    } else {
        out.push(0xf8);
        out.extend_from_slice(&s.to_le_bytes());
    }
}

const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/// `s` as `n / 10^k` with few digits (1.5 = 15 / 10), when that division gives `s` back
/// exactly: scores typed in decimal cost two or three bytes instead of eight.
fn as_decimal(s: f64) -> Option<(usize, i64)> {
    if !s.is_finite() || s.abs() >= 1e12 {
        return None;
    }
    (1..=6).find_map(|k| {
        let n = (s * POW10[k]).round();
        (n.abs() < 1e15 && n / POW10[k] == s).then_some((k, n as i64))
    })
}

impl Small {
    fn len(&self) -> usize {
        if self.0.len() < 2 {
            0
        } else {
            u16::from_le_bytes([self.0[0], self.0[1]]) as usize
        }
    }

    /// The pair starting at `a`: member, score, end offset.
    #[inline]
    fn pair_at(&self, a: usize) -> (&[u8], f64, usize) {
        let b = &self.0;
        let (mut n, mut shift, mut i) = (0usize, 0, a);
        loop {
            let c = b[i];
            i += 1;
            n |= ((c & 0x7f) as usize) << shift;
            shift += 7;
            if c & 0x80 == 0 {
                break;
            }
        }
        let m = &b[i..i + n];
        i += n;
        let tag = b[i];
        i += 1;
        let s = match tag {
            0..=0xbf => tag as f64,
            0xc1..=0xc8 => {
                let w = (tag - 0xc0) as usize;
                let mut raw = [0u8; 8];
                raw[..w].copy_from_slice(&b[i..i + w]);
                i += w;
                let shift = 64 - 8 * w as u32;
                ((i64::from_le_bytes(raw) << shift) >> shift) as f64
            }
            0xd1..=0xdf => {
                let (mut z, mut shift) = (0u64, 0);
                loop {
                    let c = b[i];
                    i += 1;
                    z |= ((c & 0x7f) as u64) << shift;
                    shift += 7;
                    if c & 0x80 == 0 {
                        break;
                    }
                }
                let n = ((z >> 1) as i64) ^ -((z & 1) as i64);
                n as f64 / POW10[(tag - 0xd0) as usize]
            }
            0xf4 => {
                i += 4;
                f32::from_le_bytes(b[i - 4..i].try_into().unwrap()) as f64
            }
            _ => {
                i += 8;
                f64::from_le_bytes(b[i - 8..i].try_into().unwrap())
            }
        };
        (m, s, i)
    }

    /// Pairs in order: (start, member, score, end).
    fn iter(&self) -> impl Iterator<Item = (usize, &[u8], f64, usize)> + '_ {
        let mut off = 2;
        std::iter::from_fn(move || {
            if off >= self.0.len() {
                return None;
            }
            let a = off;
            let (m, s, b) = self.pair_at(a);
            off = b;
            Some((a, m, s, b))
        })
    }

    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        self.iter().find(|(_, m, _, _)| *m == member).map(|(a, _, s, b)| (a, b, s))
    }

    /// Replaces bytes `a..b` with `with`, adjusting the count by `delta`; the buffer
    /// stays exactly sized.
    fn splice(&mut self, a: usize, b: usize, with: &[u8], delta: i32) {
        let n = (self.len() as i32 + delta) as usize;
        if n == 0 {
            self.0 = Box::default();
            return;
        }
        // Grown or shrunk in place (realloc) rather than copied into a fresh buffer:
        // fewer allocations per ZADD and less fragmentation.
        let mut v = Vec::from(std::mem::take(&mut self.0));
        if v.is_empty() {
            v.reserve_exact(2 + with.len());
            v.extend_from_slice(&[0, 0]);
        } else if with.len() > b - a {
            v.reserve_exact(with.len() - (b - a));
        }
        crate::util::resize_range(&mut v, a..b, with.len());
        v[a..a + with.len()].copy_from_slice(with);
        v[..2].copy_from_slice(&(n as u16).to_le_bytes());
        self.0 = v.into_boxed_slice();
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        let at = self
            .iter()
            .find(|(_, m, s, _)| cmp_key(*s, m, score, member) == Ordering::Greater)
            .map_or(self.0.len().max(2), |(a, _, _, _)| a);
        let mut enc = Vec::with_capacity(member.len() + 10);
        encode_pair(member, score, &mut enc);
        self.splice(at, at, &enc, 1);
    }
}

const NIL: u32 = u32::MAX;

/// One member in the arena. Slots stay put while others come and go (ZSCAN walks them).
#[derive(Clone)]
struct Node {
    member: Blob,
    score: f64,
    /// The next free slot, while this one is free.
    next_free: u32,
    live: bool,
}

/// An order-tree entry: the score inline, so most comparisons touch no arena node.
#[derive(Clone, Copy)]
struct Key {
    score: f64,
    slot: u32,
}

/// Most entries (or children) one order-tree node holds; a fuller one splits in two.
const FAN: usize = 64;

/// The order: a B+tree of arena slots sorted by (score, member), each child counted,
/// so a rank costs a few node scans rather than one cache miss per level of a
/// binary tree.
#[derive(Clone)]
enum Order {
    Leaf(Vec<Key>),
    Inner(Vec<Kid>),
}

#[derive(Clone)]
struct Kid {
    /// The smallest key under this child.
    min: Key,
    count: u32,
    node: Box<Order>,
}

impl Order {
    fn first(&self) -> Key {
        match self {
            Order::Leaf(v) => v[0],
            Order::Inner(k) => k[0].min,
        }
    }

    fn width(&self) -> usize {
        match self {
            Order::Leaf(v) => v.len(),
            Order::Inner(k) => k.len(),
        }
    }

    /// Bytes of the tree's own nodes.
    fn heap_size(&self) -> usize {
        match self {
            Order::Leaf(v) => v.capacity() * std::mem::size_of::<Key>(),
            Order::Inner(k) => {
                k.capacity() * std::mem::size_of::<Kid>()
                    + k.iter().map(|c| std::mem::size_of::<Order>() + c.node.heap_size()).sum::<usize>()
            }
        }
    }
}

fn key_cmp(nodes: &[Node], k: Key, s: f64, m: &[u8]) -> Ordering {
    cmp_key(k.score, &nodes[k.slot as usize].member, s, m)
}

/// The child whose range holds (s, m): the last one whose smallest key is not above it.
fn kid_for(kids: &[Kid], nodes: &[Node], s: f64, m: &[u8]) -> usize {
    kids.partition_point(|c| key_cmp(nodes, c.min, s, m) != Ordering::Greater).saturating_sub(1)
}

/// Where a node of `len` entries that just took one at `pos` splits: in half, except
/// that growth at the end (members added in order, as when loading) leaves the left
/// node full rather than half empty.
fn split_point(pos: usize, len: usize) -> usize {
    if pos == len - 1 {
        len - 1
    } else {
        len / 2
    }
}

/// Adds `k` (member `m`, already in the arena); returns the right half of `o` when
/// it split.
fn order_insert(o: &mut Order, nodes: &[Node], k: Key, m: &[u8]) -> Option<Kid> {
    match o {
        Order::Leaf(v) => {
            let pos = v.partition_point(|e| key_cmp(nodes, *e, k.score, m) == Ordering::Less);
            if v.len() == v.capacity() {
                // One allocation of a node's full size, not doubling past it.
                v.reserve_exact(FAN + 1 - v.len());
            }
            v.insert(pos, k);
            if v.len() <= FAN {
                return None;
            }
            let right = v.split_off(split_point(pos, v.len()));
            Some(Kid { min: right[0], count: right.len() as u32, node: Box::new(Order::Leaf(right)) })
        }
        Order::Inner(kids) => {
            let i = kid_for(kids, nodes, k.score, m);
            let kid = &mut kids[i];
            kid.count += 1;
            if key_cmp(nodes, kid.min, k.score, m) == Ordering::Greater {
                kid.min = k;
            }
            let new = order_insert(&mut kid.node, nodes, k, m)?;
            kid.count -= new.count;
            if kids.len() == kids.capacity() {
                kids.reserve_exact(FAN + 1 - kids.len());
            }
            kids.insert(i + 1, new);
            if kids.len() <= FAN {
                return None;
            }
            let right = kids.split_off(split_point(i + 1, kids.len()));
            let count = right.iter().map(|c| c.count).sum();
            Some(Kid { min: right[0].min, count, node: Box::new(Order::Inner(right)) })
        }
    }
}

/// Removes the entry of (s, m), which is present.
fn order_remove(o: &mut Order, nodes: &[Node], s: f64, m: &[u8]) {
    match o {
        Order::Leaf(v) => {
            let pos = v.partition_point(|e| key_cmp(nodes, *e, s, m) == Ordering::Less);
            v.remove(pos);
        }
        Order::Inner(kids) => {
            let i = kid_for(kids, nodes, s, m);
            order_remove(&mut kids[i].node, nodes, s, m);
            kids[i].count -= 1;
            if kids[i].count == 0 {
                kids.remove(i);
                return;
            }
            kids[i].min = kids[i].node.first();
            // Two neighbours that fit in one node become one, so nodes stay well filled.
            let j = if i + 1 < kids.len() { i } else { i.saturating_sub(1) };
            if j + 1 < kids.len() && kids[j].node.width() + kids[j + 1].node.width() <= FAN {
                let right = kids.remove(j + 1);
                kids[j].count += right.count;
                match (&mut *kids[j].node, *right.node) {
                    (Order::Leaf(a), Order::Leaf(b)) => a.extend(b),
                    (Order::Inner(a), Order::Inner(b)) => a.extend(b),
                    _ => unreachable!("siblings have the same depth"),
                }
            }
        }
    }
}

/// Entries for which `below` holds, given that it holds for a prefix of the order.
fn order_count_below(mut o: &Order, nodes: &[Node], below: impl Fn(&Node) -> bool) -> usize {
    let mut n = 0;
    loop {
        match o {
            Order::Leaf(v) => return n + v.partition_point(|e| below(&nodes[e.slot as usize])),
            Order::Inner(kids) => {
                let i = kids.partition_point(|c| below(&nodes[c.min.slot as usize]));
                if i == 0 {
                    return n;
                }
                n += kids[..i - 1].iter().map(|c| c.count as usize).sum::<usize>();
                o = &kids[i - 1].node;
            }
        }
    }
}

/// Calls `f` on the slots from rank `from` of `o` upwards (downwards when `rev`);
/// false once `f` asked to stop. `from` is below the node's count.
fn order_visit(o: &Order, from: usize, rev: bool, f: &mut impl FnMut(u32) -> bool) -> bool {
    match o {
        Order::Leaf(v) => {
            if rev {
                v[..=from].iter().rev().all(|e| f(e.slot))
            } else {
                v[from..].iter().all(|e| f(e.slot))
            }
        }
        Order::Inner(kids) => {
            let (mut i, mut r) = (0, from);
            while r >= kids[i].count as usize {
                r -= kids[i].count as usize;
                i += 1;
            }
            if !order_visit(&kids[i].node, r, rev, f) {
                return false;
            }
            if rev {
                kids[..i].iter().rev().all(|c| order_visit(&c.node, c.count as usize - 1, true, f))
            } else {
                kids[i + 1..].iter().all(|c| order_visit(&c.node, 0, false, f))
            }
        }
    }
}

/// The full encoding: members in an arena, ordered by a counted B+tree, with a hash
/// index from member to slot.
#[derive(Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    order: Order,
    /// Head of the free-slot chain.
    free: u32,
    len: u32,
    heap: usize,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tree(len={})", self.len)
    }
}

impl Tree {
    fn with_capacity(n: usize) -> Tree {
        let n = n.min(1 << 16);
        Tree {
            nodes: Vec::with_capacity(n),
            order: Order::Leaf(Vec::new()),
            free: NIL,
            len: 0,
            heap: 0,
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.heap
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.order.heap_size()
    }

    fn hash(&self, m: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(m)
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        self.index.find(self.hash(m), |&i| self.nodes[i as usize].member.as_slice() == m).copied()
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, m: &[u8], s: f64) {
        let node = Node { member: Blob::new(m), score: s, next_free: NIL, live: true };
        self.heap += node.member.heap_size();
        let idx = if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].next_free;
            self.nodes[i as usize] = node;
            i
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        let h = self.hash(m);
        let Tree { nodes, index, hasher, .. } = self;
        index.insert_unique(h, idx, |&i| {
            use std::hash::BuildHasher;
            hasher.hash_one(nodes[i as usize].member.as_slice())
        });
        self.len += 1;
        if let Some(right) = order_insert(&mut self.order, &self.nodes, Key { score: s, slot: idx }, m) {
            let left = std::mem::replace(&mut self.order, Order::Leaf(Vec::new()));
            let kid = Kid { min: left.first(), count: self.len - right.count, node: Box::new(left) };
            self.order = Order::Inner(vec![kid, right]);
        }
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let h = self.hash(m);
        let idx = {
            let Tree { nodes, index, .. } = self;
            let e = index.find_entry(h, |&i| nodes[i as usize].member.as_slice() == m).ok()?;
            let (idx, _) = e.remove();
            idx
        };
        let s = self.nodes[idx as usize].score;
        order_remove(&mut self.order, &self.nodes, s, m);
        // A root left with one child (or none) gives way to it.
        if let Order::Inner(kids) = &mut self.order {
            match kids.len() {
                0 => self.order = Order::Leaf(Vec::new()),
                1 => self.order = *kids.pop().expect("one child").node,
                _ => {}
            }
        }
        self.heap -= self.nodes[idx as usize].member.heap_size();
        self.nodes[idx as usize] = Node { member: Blob::new(b""), score: 0.0, next_free: self.free, live: false };
        self.free = idx;
        self.len -= 1;
        if self.len == 0 {
            self.nodes.clear();
            self.free = NIL;
            self.order = Order::Leaf(Vec::new());
        }
        Some(s)
    }

    /// Number of members for which `below` holds, given that it holds for a prefix of
    /// the order.
    fn count_below(&self, below: impl Fn(&Node) -> bool) -> usize {
        order_count_below(&self.order, &self.nodes, below)
    }

    /// Calls `f` on members from ascending rank `from` (downwards when `rev`) until it
    /// returns false.
    fn visit(&self, from: usize, rev: bool, mut f: impl FnMut(&Node) -> bool) {
        if from < self.len as usize {
            order_visit(&self.order, from, rev, &mut |slot| f(&self.nodes[slot as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits { entries: 128, value: 64 };

    fn check(z: &ZSet, model: &std::collections::BTreeMap<(i64, Vec<u8>), ()>) {
        let want: Vec<(Vec<u8>, f64)> = model.keys().map(|(s, m)| (m.clone(), *s as f64)).collect();
        assert_eq!(z.collect(0, usize::MAX, false, 0, None), want);
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(z.collect(0, usize::MAX, true, 0, None), rev);
        for (r, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
            assert_eq!(z.at(r), Some((m.clone(), *s)));
        }
    }

    #[test]
    fn both_encodings_agree_with_a_model() {
        for lim in [LIM, Limits { entries: 0, value: 0 }] {
            let mut z = ZSet::new();
            let mut model = std::collections::BTreeMap::new();
            let mut score_of = std::collections::HashMap::new();
            let mut x = 12345u64;
            for step in 0..3000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let m = format!("m{}", (x >> 33) % 200).into_bytes();
                let s = ((x >> 20) % 50) as i64 - 25;
                if (x >> 45).is_multiple_of(3) {
                    let had = score_of.remove(&m);
                    if let Some(old) = had {
                        model.remove(&(old, m.clone()));
                    }
                    assert_eq!(z.remove(&m), had.map(|v| v as f64));
                } else {
                    if let Some(old) = score_of.insert(m.clone(), s) {
                        model.remove(&(old, m.clone()));
                    }
                    model.insert((s, m.clone()), ());
                    z.set(&m, s as f64, lim);
                }
                if step % 300 == 0 {
                    check(&z, &model);
                }
            }
            check(&z, &model);
            let below = model.keys().filter(|(s, _)| *s < 3).count();
            assert_eq!(z.count_score_below(3.0, false), below);
            assert_eq!(z.len(), model.len());
        }
    }

    /// Enough members for a three-level order tree, so inner nodes split and merge.
    #[test]
    fn large_tree_agrees_with_a_model() {
        let mut z = ZSet::new();
        let mut model = std::collections::BTreeMap::new();
        let mut score_of = std::collections::HashMap::new();
        let mut x = 99u64;
        for step in 0..120_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let m = format!("member:{}", (x >> 33) % 20_000).into_bytes();
            let s = ((x >> 13) % 3000) as i64 - 1500;
            // Grow for the first half, then shrink mostly, so nodes merge too.
            let remove = if step < 60_000 { (x >> 50).is_multiple_of(4) } else { !(x >> 50).is_multiple_of(5) };
            if remove {
                let had = score_of.remove(&m);
                if let Some(old) = had {
                    model.remove(&(old, m.clone()));
                }
                assert_eq!(z.remove(&m), had.map(|v| v as f64));
            } else {
                if let Some(old) = score_of.insert(m.clone(), s) {
                    model.remove(&(old, m.clone()));
                }
                model.insert((s, m.clone()), ());
                z.set(&m, s as f64, LIM);
            }
            if step % 30_000 == 29_999 {
                check(&z, &model);
                let want: Vec<(Vec<u8>, f64)> = model.keys().map(|(s, m)| (m.clone(), *s as f64)).collect();
                let n = want.len();
                assert_eq!(z.collect(n / 3, n / 2, false, 5, Some(100)), want[n / 3 + 5..(n / 3 + 105).min(n / 2)].to_vec());
                let mut back: Vec<_> = want[n / 3..n / 2 - 7].to_vec();
                back.reverse();
                back.truncate(50);
                assert_eq!(z.collect(n / 3, n / 2, true, 7, Some(50)), back);
                for v in [-1501.0, -700.5, 0.0, 3.0, 1499.0, 2000.0] {
                    assert_eq!(z.count_score_below(v, false), model.keys().filter(|(s, _)| (*s as f64) < v).count());
                    assert_eq!(z.count_score_below(v, true), model.keys().filter(|(s, _)| (*s as f64) <= v).count());
                }
            }
        }
        assert_eq!(z.len(), model.len());
    }

    /// Members added in score order (as a load does) fill the order tree's nodes.
    #[test]
    fn ordered_inserts_and_removals() {
        let mut z = ZSet::new();
        let mut model = std::collections::BTreeMap::new();
        for i in 0..10_000i64 {
            let m = format!("k{i}").into_bytes();
            z.set(&m, i as f64, LIM);
            model.insert((i, m), ());
        }
        let Repr::Tree(t) = &z.repr else { panic!("not converted") };
        assert!(t.order.heap_size() < 10_000 * std::mem::size_of::<Key>() * 5 / 4, "order tree half empty");
        check(&z, &model);
        for i in (0..5_000i64).rev().map(|j| j * 2) {
            let m = format!("k{i}").into_bytes();
            assert_eq!(z.remove(&m), Some(i as f64));
            model.remove(&(i, m));
        }
        check(&z, &model);
    }

    #[test]
    fn converts_and_compacts() {
        let mut z = ZSet::new();
        for i in 0..129 {
            z.set(format!("{i}").as_bytes(), i as f64 / 2.0, LIM);
        }
        assert_eq!(z.encoding(), "skiplist");
        let d = z.digest();
        z.remove_ranks(0, 10);
        z.compact_if_fits(LIM);
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.len(), 119);
        assert_ne!(d, z.digest());
    }
}

#[cfg(test)]
mod small_scores {
    use super::*;

    #[test]
    fn scores_round_trip_exactly() {
        let vals = [
            0.0,
            1.0,
            -1.0,
            191.0,
            192.0,
            -129.0,
            1.5,
            0.1,
            -0.3,
            0.30000000000000004,
            1e-7,
            123456.789,
            1e20,
            -1e300,
            std::f64::consts::PI,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.0e18,
            -9.3e18,
            2.5e-300,
            12.000001,
        ];
        let mut z = ZSet::new();
        let lim = Limits { entries: 128, value: 64 };
        for (i, v) in vals.iter().enumerate() {
            z.set(format!("m{i}").as_bytes(), *v, lim);
        }
        assert!(z.is_packed());
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(z.score(format!("m{i}").as_bytes()).map(f64::to_bits), Some(if *v == 0.0 { 0.0f64 } else { *v }.to_bits()), "{v}");
        }
    }
}

#[cfg(test)]
mod layout {
    #[test]
    fn zset_fits_in_value_unboxed() {
        assert_eq!(std::mem::size_of::<super::ZSet>(), 16);
        assert_eq!(std::mem::size_of::<crate::keyspace::Value>(), 24);
    }
}
