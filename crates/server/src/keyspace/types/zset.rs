//! Sorted sets. Small ones are a [`Packed`] sequence of member, score pairs ordered
//! by (score, member), like Redis's listpack encoding; past `zset-max-listpack-*` they
//! become a [`Tree`]: a treap with subtree sizes (ranks and range starts in O(log N))
//! whose nodes live in one arena, plus a member -> node index. A node costs 48 bytes
//! and no allocation of its own for members up to 22 bytes, well under a skiplist node
//! with its dict entry.
//!
//! Ranks are ascending (0 = lowest score). Every range operation is expressed as a
//! rank interval, so commands only need `count_*_below` and [`ZSet::visit`].

use std::cmp::Ordering;
use std::fmt;

use ferrokv_protocol::reply::format_double;
use hashbrown::HashTable;

use super::packed::{Item, Packed};
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
    Packed(Packed),
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

fn item_score(it: Item) -> f64 {
    match it {
        Item::Int(n) => n as f64,
        Item::Str(s) => crate::util::parse_f64(s).unwrap_or(0.0),
    }
}

fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2).unwrap_or(Ordering::Equal).then_with(|| m1.cmp(m2))
}

impl ZSet {
    /// An empty sorted set in the compact encoding.
    pub fn new() -> ZSet {
        ZSet { repr: Repr::Packed(Packed::new()) }
    }

    /// An empty sorted set in the encoding Redis would pick for about `size` members
    /// of up to `value_len` bytes (`zsetTypeCreate`).
    pub fn with_hint(size: usize, value_len: usize, lim: Limits) -> ZSet {
        if size <= lim.entries && value_len <= lim.value {
            ZSet::new()
        } else {
            ZSet { repr: Repr::Tree(Box::new(Tree::with_capacity(size))) }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len() / 2,
            Repr::Tree(t) => t.len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.heap_size(),
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
        if let Repr::Packed(p) = &self.repr {
            let mut t = Tree::with_capacity(p.len() / 2);
            let mut it = p.iter();
            let mut buf = itoa::Buffer::new();
            while let (Some((_, m)), Some((_, s))) = (it.next(), it.next()) {
                t.insert(m.bytes(&mut buf), item_score(s));
            }
            self.repr = Repr::Tree(Box::new(t));
        }
    }

    /// Goes back to the compact encoding when the contents fit it (what Redis does to
    /// the results of ZUNIONSTORE and friends).
    pub fn compact_if_fits(&mut self, lim: Limits) {
        if let Repr::Tree(t) = &self.repr {
            if t.len as usize > lim.entries {
                return;
            }
            let mut maxlen = 0;
            let mut p = Packed::new();
            self.visit(0, false, |m, s| {
                maxlen = maxlen.max(m.len());
                p.push_back(m);
                p.push_back(score_text(s).as_bytes());
                true
            });
            if maxlen <= lim.value {
                p.shrink_to_fit();
                self.repr = Repr::Packed(p);
            }
        }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => pk_find(p, member).map(|(_, s)| s),
            Repr::Tree(t) => t.find(member).map(|i| t.nodes[i as usize].score),
        }
    }

    /// Sets the score of `member`, adding it if absent (converting the encoding when
    /// Redis would); returns the previous score. `score` must not be NaN.
    pub fn set(&mut self, member: &[u8], score: f64, lim: Limits) -> Option<f64> {
        if let Repr::Packed(p) = &mut self.repr {
            if let Some((off, old)) = pk_find(p, member) {
                if old != score {
                    p.remove_range(off, 2);
                    pk_insert(p, member, score);
                }
                return Some(old);
            }
            if p.len() / 2 < lim.entries && member.len() <= lim.value {
                pk_insert(p, member, score);
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
            Repr::Packed(p) => {
                let (off, s) = pk_find(p, member)?;
                p.remove_range(off, 2);
                Some(s)
            }
            Repr::Tree(t) => t.remove(member),
        }
    }

    /// Ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Packed(p) => {
                let mut it = p.iter();
                let mut r = 0;
                while let (Some((_, m)), Some((_, s))) = (it.next(), it.next()) {
                    if m.eq_bytes(member) {
                        return Some((r, item_score(s)));
                    }
                    r += 1;
                }
                None
            }
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
            Repr::Packed(p) => {
                let mut it = p.iter();
                let mut n = 0;
                while let (Some(_), Some((_, s))) = (it.next(), it.next()) {
                    if !below(item_score(s)) {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Repr::Tree(t) => t.count_below(|n| below(n.score)),
        }
    }

    /// How many members sort before `m` (or up to and including `m` when
    /// `inclusive`), comparing members only (lex ranges assume equal scores).
    pub fn count_lex_below(&self, m: &[u8], inclusive: bool) -> usize {
        let below = |x: &[u8]| if inclusive { x <= m } else { x < m };
        match &self.repr {
            Repr::Packed(p) => {
                let mut it = p.iter();
                let mut n = 0;
                let mut buf = itoa::Buffer::new();
                while let (Some((_, x)), Some(_)) = (it.next(), it.next()) {
                    if !below(x.bytes(&mut buf)) {
                        break;
                    }
                    n += 1;
                }
                n
            }
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
            Repr::Packed(p) => {
                let mut buf = itoa::Buffer::new();
                let Some(mut off) = p.offset_of(2 * from as i64) else { return };
                loop {
                    let (m, next) = p.get(off);
                    let (s, after) = p.get(next);
                    if !f(m.bytes(&mut buf), item_score(s)) {
                        return;
                    }
                    if rev {
                        match p.prev(off).and_then(|o| p.prev(o)) {
                            Some(o) => off = o,
                            None => return,
                        }
                    } else {
                        if after >= p.bytes() {
                            return;
                        }
                        off = after;
                    }
                }
            }
            Repr::Tree(t) => {
                let mut it = TreeIter::seek(t, from, rev);
                while let Some(i) = it.next(t) {
                    let n = &t.nodes[i as usize];
                    if !f(&n.member, n.score) {
                        return;
                    }
                }
            }
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
            Repr::Packed(p) => {
                let off = p.offset_of(2 * start as i64).expect("rank in range");
                p.remove_range(off, 2 * (end - start));
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
            Repr::Packed(_) => {
                self.visit(0, false, |m, s| {
                    f(m, s);
                    true
                });
                0
            }
            Repr::Tree(t) => {
                let mut i = cursor as usize;
                let mut seen = 0;
                while i < t.nodes.len() && seen < count {
                    let n = &t.nodes[i];
                    if n.size != 0 {
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

/// A score as stored in the compact encoding. A listpack reads "-0" back as the
/// integer 0, so Redis's compact sets lose the sign of zero; so do ours.
fn score_text(s: f64) -> String {
    if s == 0.0 {
        "0".to_string()
    } else {
        format_double(s)
    }
}

/// The member offset and score of `member` in a packed set.
fn pk_find(p: &Packed, member: &[u8]) -> Option<(usize, f64)> {
    let mut it = p.iter();
    while let (Some((off, m)), Some((_, s))) = (it.next(), it.next()) {
        if m.eq_bytes(member) {
            return Some((off, item_score(s)));
        }
    }
    None
}

/// Inserts a pair at its place in (score, member) order.
fn pk_insert(p: &mut Packed, member: &[u8], score: f64) {
    let mut at = p.bytes();
    {
        let mut it = p.iter();
        let mut buf = itoa::Buffer::new();
        while let (Some((off, m)), Some((_, s))) = (it.next(), it.next()) {
            if cmp_key(item_score(s), m.bytes(&mut buf), score, member) == Ordering::Greater {
                at = off;
                break;
            }
        }
    }
    let text = score_text(score);
    p.insert_at(at, member);
    p.insert_at(at + Packed::entry_size(member), text.as_bytes());
}

const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct Node {
    member: Blob,
    score: f64,
    l: u32,
    r: u32,
    /// Nodes in this subtree; 0 marks a free arena slot.
    size: u32,
    prio: u32,
}

/// The full encoding: a treap ordered by (score, member) in an arena, with a hash
/// index from member to slot.
#[derive(Clone)]
pub struct Tree {
    nodes: Vec<Node>,
    root: u32,
    /// Head of the free-slot chain (linked through `l`).
    free: u32,
    len: u32,
    seed: u32,
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
            root: NIL,
            free: NIL,
            len: 0,
            seed: rand::random::<u32>() | 1,
            heap: 0,
            index: HashTable::with_capacity(n),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.heap + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
    }

    fn hash(&self, m: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(m)
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        self.index.find(self.hash(m), |&i| self.nodes[i as usize].member.as_slice() == m).copied()
    }

    fn size(&self, t: u32) -> u32 {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size
        }
    }

    fn fix(&mut self, t: u32) {
        let (l, r) = (self.nodes[t as usize].l, self.nodes[t as usize].r);
        self.nodes[t as usize].size = 1 + self.size(l) + self.size(r);
    }

    fn next_prio(&mut self) -> u32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    /// Splits `t` into the nodes ordered before (score, member) — and the node equal to
    /// it too when `incl` — and the rest.
    fn split(&mut self, t: u32, s: f64, m: &[u8], incl: bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        let c = cmp_key(n.score, &n.member, s, m);
        let (l, r) = (n.l, n.r);
        if c == Ordering::Less || (incl && c == Ordering::Equal) {
            let (a, b) = self.split(r, s, m, incl);
            self.nodes[t as usize].r = a;
            self.fix(t);
            (t, b)
        } else {
            let (a, b) = self.split(l, s, m, incl);
            self.nodes[t as usize].l = b;
            self.fix(t);
            (a, t)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].r, b);
            self.nodes[a as usize].r = r;
            self.fix(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].l);
            self.nodes[b as usize].l = l;
            self.fix(b);
            b
        }
    }

    /// Adds a member known to be absent.
    fn insert(&mut self, m: &[u8], s: f64) {
        let prio = self.next_prio();
        let node = Node { member: Blob::new(m), score: s, l: NIL, r: NIL, size: 1, prio };
        self.heap += node.member.heap_size();
        let idx = if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].l;
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
        let (a, b) = self.split(self.root, s, m, false);
        let left = self.merge(a, idx);
        self.root = self.merge(left, b);
        self.len += 1;
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
        let (a, b) = self.split(self.root, s, m, false);
        let (mid, c) = self.split(b, s, m, true);
        debug_assert_eq!(mid, idx);
        self.root = self.merge(a, c);
        self.heap -= self.nodes[idx as usize].member.heap_size();
        self.nodes[idx as usize] = Node { member: Blob::new(b""), score: 0.0, l: self.free, r: NIL, size: 0, prio: 0 };
        self.free = idx;
        self.len -= 1;
        if self.len == 0 {
            self.nodes.clear();
            self.free = NIL;
            self.root = NIL;
        }
        Some(s)
    }

    /// Number of nodes for which `below` holds, given that it holds for a prefix of
    /// the order.
    fn count_below(&self, below: impl Fn(&Node) -> bool) -> usize {
        let (mut t, mut n) = (self.root, 0usize);
        while t != NIL {
            let node = &self.nodes[t as usize];
            if below(node) {
                n += self.size(node.l) as usize + 1;
                t = node.r;
            } else {
                t = node.l;
            }
        }
        n
    }
}

/// In-order walk from a rank, with the path still to visit on a stack.
struct TreeIter {
    stack: Vec<u32>,
    rev: bool,
}

impl TreeIter {
    fn seek(t: &Tree, rank: usize, rev: bool) -> TreeIter {
        let mut stack = Vec::with_capacity(48);
        let mut k = rank as u32;
        let mut cur = t.root;
        while cur != NIL {
            let n = &t.nodes[cur as usize];
            let ls = t.size(n.l);
            match k.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        stack.push(cur);
                    }
                    cur = n.l;
                }
                Ordering::Equal => {
                    stack.push(cur);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        stack.push(cur);
                    }
                    k -= ls + 1;
                    cur = n.r;
                }
            }
        }
        TreeIter { stack, rev }
    }

    fn next(&mut self, t: &Tree) -> Option<u32> {
        let i = self.stack.pop()?;
        let n = &t.nodes[i as usize];
        let mut c = if self.rev { n.l } else { n.r };
        while c != NIL {
            self.stack.push(c);
            let cn = &t.nodes[c as usize];
            c = if self.rev { cn.r } else { cn.l };
        }
        Some(i)
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
                if (x >> 45) % 3 == 0 {
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
