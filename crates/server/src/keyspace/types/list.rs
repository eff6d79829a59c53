//! The list type: a deque of [`Packed`] nodes. One node is Redis's `listpack`
//! encoding; several (or one reached by growing) are its `quicklist`.
//!
//! Node fill follows `list-max-listpack-size` the way Redis 7.2 does, with each node's
//! size accounted in Redis listpack bytes (`Node::sz`), not ours: node boundaries, and
//! so the points where OBJECT ENCODING changes, then match Redis's exactly.

use std::collections::VecDeque;

use super::packed::{Item, Packed};

/// Redis listpack header (6 bytes) plus its end marker.
const LP_OVERHEAD: usize = 7;
/// Redis's estimate of an entry's encoding overhead when deciding whether a node can
/// take one more.
const ENTRY_OVERHEAD: usize = 8;
/// Byte cap of a node when the fill is a count.
const SAFETY_LIMIT: usize = 8192;

#[derive(Clone, Debug, Default)]
struct Node {
    p: Packed,
    /// What this node's listpack would take in Redis (header and end marker included).
    sz: u32,
}

impl Node {
    fn new() -> Node {
        Node { p: Packed::new(), sz: LP_OVERHEAD as u32 }
    }

    fn count(&self) -> usize {
        self.p.len()
    }

    /// Makes room for `extra` bytes, growing by an eighth at a time rather than
    /// doubling: nodes are long-lived and a doubled buffer would be half empty.
    fn reserve(&mut self, extra: usize) {
        let (len, cap) = (self.p.bytes(), self.p.heap_size());
        if len + extra > cap {
            let want = (len + extra).max(cap + cap / 8).max(16);
            self.p.reserve_exact(want - len);
        }
    }

    fn push(&mut self, v: &[u8], front: bool) {
        self.reserve(Packed::entry_size(v));
        if front {
            self.p.push_front(v);
        } else {
            self.p.push_back(v);
        }
        self.sz += redis_entry_size(v) as u32;
    }

    fn insert_at(&mut self, off: usize, v: &[u8]) {
        self.reserve(Packed::entry_size(v));
        self.p.insert_at(off, v);
        self.sz += redis_entry_size(v) as u32;
    }

    fn remove_at(&mut self, off: usize) {
        let (it, _) = self.p.get(off);
        self.sz -= redis_item_size(it) as u32;
        self.p.remove_at(off);
    }

    /// Removes `n` entries starting at byte offset `off`.
    fn remove_range(&mut self, off: usize, n: usize) {
        let mut o = off;
        for _ in 0..n {
            let (it, next) = self.p.get(o);
            self.sz -= redis_item_size(it) as u32;
            o = next;
        }
        self.p.remove_range(off, n);
    }

    fn replace_at(&mut self, off: usize, v: &[u8]) {
        let (it, _) = self.p.get(off);
        self.sz = self.sz - redis_item_size(it) as u32 + redis_entry_size(v) as u32;
        self.p.replace_at(off, v);
    }

    /// Splits off the entries from the `i`-th on into a new node.
    fn split_off(&mut self, i: usize) -> Node {
        let mut tail = Node::new();
        let items: Vec<Vec<u8>> = self.p.iter().skip(i).map(|(_, it)| it.to_vec()).collect();
        if let Some(off) = self.p.offset_of(i as i64) {
            self.remove_range(off, items.len());
        }
        for v in &items {
            tail.push(v, false);
        }
        self.p.shrink_to_fit();
        tail
    }

    fn append(&mut self, other: Node) {
        for (_, it) in other.p.iter() {
            self.push(&it.to_vec(), false);
        }
    }
}

/// Bytes Redis's listpack spends on `v` (encoding header, payload, back length).
fn redis_entry_size(v: &[u8]) -> usize {
    match crate::util::parse_canonical_i64(v).filter(|_| v.len() <= 20) {
        Some(n) => redis_int_size(n),
        None => redis_str_size(v.len()),
    }
}

fn redis_item_size(it: Item) -> usize {
    match it {
        Item::Int(n) => redis_int_size(n),
        Item::Str(s) => redis_str_size(s.len()),
    }
}

fn redis_int_size(n: i64) -> usize {
    let body = match n {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8388608..=8388607 => 4,
        -2147483648..=2147483647 => 5,
        _ => 9,
    };
    body + backlen(body)
}

fn redis_str_size(len: usize) -> usize {
    let body = if len < 64 {
        1 + len
    } else if len < 4096 {
        2 + len
    } else {
        5 + len
    };
    body + backlen(body)
}

fn backlen(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// (byte limit, count limit) of one node for a `list-max-listpack-size` value.
fn node_limits(fill: i64) -> (usize, usize) {
    if fill >= 0 {
        (usize::MAX, fill.max(1) as usize)
    } else {
        const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
        (LEVELS[((-fill - 1) as usize).min(4)], usize::MAX)
    }
}

fn exceeds(fill: i64, sz: usize, count: usize) -> bool {
    let (size_limit, count_limit) = node_limits(fill);
    if size_limit != usize::MAX {
        sz > size_limit
    } else {
        sz > SAFETY_LIMIT || count > count_limit
    }
}

fn allows_insert(node: &Node, fill: i64, len: usize) -> bool {
    !exceeds(fill, node.sz as usize + len + ENTRY_OVERHEAD, node.count() + 1)
}

/// The bytes that `node` will take of `rest` when they are pushed onto it in order
/// (the same test as [`allows_insert`], node after node).
fn node_room(node: &Node, rest: &[&[u8]], fill: i64) -> usize {
    let (mut sz, mut count, mut bytes) = (node.sz as usize, node.count(), 0);
    for v in rest {
        if exceeds(fill, sz + v.len() + ENTRY_OVERHEAD, count + 1) {
            break;
        }
        sz += redis_entry_size(v);
        count += 1;
        bytes += Packed::entry_size(v);
    }
    bytes
}

fn allows_merge(a: &Node, b: &Node, fill: i64) -> bool {
    !exceeds(fill, (a.sz + b.sz) as usize - LP_OVERHEAD, a.count() + b.count())
}

#[derive(Clone, Debug, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// Encoded as a quicklist (else a listpack: at most one node).
    quick: bool,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        if self.quick {
            "quicklist"
        } else {
            "listpack"
        }
    }

    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.nodes.iter().map(|n| n.p.heap_size()).sum::<usize>()
    }

    pub fn digest(&self) -> [u8; 20] {
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        h.update(b"list");
        let mut buf = itoa::Buffer::new();
        for it in self.iter() {
            let b = it.bytes(&mut buf);
            h.update((b.len() as u32).to_le_bytes());
            h.update(b);
        }
        h.finalize().into()
    }

    /// A new list of `items` built the way Redis builds a result list (SORT ... STORE):
    /// pushed into a quicklist, which becomes a listpack when everything fit one node.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: i64) -> List {
        let mut l = List { quick: true, ..List::default() };
        for v in items {
            l.push(v, false, fill);
        }
        let (size_limit, count_limit) = node_limits(fill);
        if l.nodes.len() <= 1 && l.nodes.front().is_none_or(|n| n.sz as usize <= size_limit && n.count() <= count_limit) {
            l.quick = false;
        }
        if let Some(n) = l.nodes.back_mut() {
            n.p.shrink_to_fit();
        }
        l
    }

    /// Before adding `count` elements of `bytes` raw bytes in all: a listpack that
    /// would outgrow one node becomes a quicklist (Redis converts before the push).
    pub fn grow_check(&mut self, fill: i64, bytes: usize, count: usize) {
        if self.quick {
            return;
        }
        let sz = self.nodes.front().map_or(LP_OVERHEAD, |n| n.sz as usize);
        if exceeds(fill, sz + bytes, self.len + count) {
            self.quick = true;
            if self.nodes.front().is_some_and(|n| n.count() == 0) {
                self.nodes.clear();
            }
        }
    }

    /// After removing elements: a quicklist down to one node at most half full goes
    /// back to a listpack.
    pub fn shrink_check(&mut self, fill: i64) {
        if !self.quick || self.nodes.len() != 1 {
            return;
        }
        let (size_limit, count_limit) = node_limits(fill);
        let n = &self.nodes[0];
        if n.sz as usize <= size_limit / 2 && n.count() <= count_limit / 2 {
            self.quick = false;
        }
    }

    /// Pushes `vals` one by one at the head or tail (LPUSH/RPUSH): a listpack gets
    /// the room for all of them in one step, and the end node gives back the growth
    /// slack a long push left, so a list built by one command costs its bytes.
    pub fn push_all(&mut self, vals: &[&[u8]], front: bool, fill: i64) {
        self.grow_check(fill, vals.iter().map(|v| v.len()).sum(), vals.len());
        if !self.quick {
            if self.nodes.is_empty() {
                self.nodes.reserve_exact(1);
                self.nodes.push_back(Node::new());
            }
            self.nodes[0].p.reserve_exact(vals.iter().map(|v| Packed::entry_size(v)).sum());
        }
        for (i, v) in vals.iter().enumerate() {
            let nodes = self.nodes.len();
            self.push(v, front, fill);
            if self.quick && self.nodes.len() != nodes {
                // A node was started: room at once for what of the rest it will take,
                // instead of growing step by step (each step a realloc leaving a hole).
                let n = if front { self.nodes.front_mut() } else { self.nodes.back_mut() }.expect("just pushed");
                let room = node_room(n, &vals[i + 1..], fill);
                n.p.reserve_exact(room);
            }
        }
        if vals.len() > 1 {
            if let Some(n) = if front { self.nodes.front_mut() } else { self.nodes.back_mut() } {
                if n.p.heap_size() > n.p.bytes() + n.p.bytes() / 16 {
                    n.p.shrink_to_fit();
                }
            }
        }
    }

    /// Pushes one element at the head or tail (after [`List::grow_check`]).
    pub fn push(&mut self, v: &[u8], front: bool, fill: i64) {
        let need_node = if !self.quick {
            self.nodes.is_empty()
        } else {
            let end = if front { self.nodes.front() } else { self.nodes.back() };
            !end.is_some_and(|n| allows_insert(n, fill, v.len()))
        };
        if need_node {
            // The node left behind is complete: give back its spare room.
            if let Some(n) = if front { self.nodes.front_mut() } else { self.nodes.back_mut() } {
                n.p.shrink_to_fit();
            }
            if self.nodes.capacity() == 0 {
                self.nodes.reserve_exact(1);
            }
            if front {
                self.nodes.push_front(Node::new());
            } else {
                self.nodes.push_back(Node::new());
            }
        }
        let n = if front { self.nodes.front_mut() } else { self.nodes.back_mut() }.expect("node");
        n.push(v, front);
        self.len += 1;
    }

    pub fn pop(&mut self, front: bool) -> Option<Vec<u8>> {
        let (ni, n) = if front { (0, self.nodes.front_mut()?) } else { (self.nodes.len() - 1, self.nodes.back_mut()?) };
        let off = if front { 0 } else { n.p.last()? };
        let v = n.p.get(off).0.to_vec();
        n.remove_at(off);
        self.len -= 1;
        self.drop_node_if_empty(ni);
        Some(v)
    }

    fn drop_node_if_empty(&mut self, ni: usize) {
        if self.nodes[ni].count() == 0 {
            self.nodes.remove(ni);
            if self.nodes.is_empty() {
                self.nodes = VecDeque::new();
            }
        }
    }

    /// Resolves an index (negative from the end) into (node, byte offset), walking
    /// from the nearer end.
    fn locate(&self, index: i64) -> Option<(usize, usize)> {
        let n = self.len as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        let i = i as usize;
        if i <= self.len / 2 {
            let mut skip = i;
            for (ni, node) in self.nodes.iter().enumerate() {
                if skip < node.count() {
                    return Some((ni, node.p.offset_of(skip as i64)?));
                }
                skip -= node.count();
            }
        } else {
            let mut skip = self.len - 1 - i;
            for (ni, node) in self.nodes.iter().enumerate().rev() {
                if skip < node.count() {
                    return Some((ni, node.p.offset_of(-(skip as i64) - 1)?));
                }
                skip -= node.count();
            }
        }
        None
    }

    pub fn get(&self, index: i64) -> Option<Item<'_>> {
        let (ni, off) = self.locate(index)?;
        Some(self.nodes[ni].p.get(off).0)
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: i64, v: &[u8]) -> bool {
        let Some((ni, off)) = self.locate(index) else { return false };
        self.nodes[ni].replace_at(off, v);
        true
    }

    /// Inserts `v` before or after the first element equal to `pivot`; false when
    /// there is none.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], after: bool, fill: i64) -> bool {
        let mut found = None;
        'outer: for (ni, node) in self.nodes.iter().enumerate() {
            for (idx, (off, it)) in node.p.iter().enumerate() {
                if it.eq_bytes(pivot) {
                    found = Some((ni, off, idx));
                    break 'outer;
                }
            }
        }
        let Some((ni, off, idx)) = found else { return false };
        self.len += 1;
        let node = &self.nodes[ni];
        let pos = if after { node.p.get(off).1 } else { off };
        if !self.quick || allows_insert(node, fill, v.len()) {
            self.nodes[ni].insert_at(pos, v);
            return true;
        }
        let at_tail = after && idx + 1 == node.count();
        let at_head = !after && idx == 0;
        if at_tail {
            match self.nodes.get_mut(ni + 1) {
                Some(next) if allows_insert(next, fill, v.len()) => next.push(v, true),
                _ => {
                    let mut n = Node::new();
                    n.push(v, false);
                    self.nodes.insert(ni + 1, n);
                }
            }
            return true;
        }
        if at_head {
            match ni.checked_sub(1).map(|p| &mut self.nodes[p]) {
                Some(prev) if allows_insert(prev, fill, v.len()) => prev.push(v, false),
                _ => {
                    let mut n = Node::new();
                    n.push(v, false);
                    self.nodes.insert(ni, n);
                }
            }
            return true;
        }
        // A full node: split it around the pivot, put the element on the new side,
        // then merge neighbours that fit together.
        let split_at = if after { idx + 1 } else { idx };
        let mut tail = self.nodes[ni].split_off(split_at);
        if after {
            tail.push(v, true);
        } else {
            self.nodes[ni].push(v, false);
        }
        self.nodes.insert(ni + 1, tail);
        self.merge_around(ni, fill);
        true
    }

    fn try_merge(&mut self, a: usize, fill: i64) -> bool {
        if a + 1 >= self.nodes.len() || !allows_merge(&self.nodes[a], &self.nodes[a + 1], fill) {
            return false;
        }
        let b = self.nodes.remove(a + 1).expect("node");
        self.nodes[a].append(b);
        true
    }

    /// Merges the nodes around `center` the way Redis does after a split.
    fn merge_around(&mut self, center: usize, fill: i64) {
        let mut c = center;
        if c >= 2 && self.try_merge(c - 2, fill) {
            c -= 1;
        }
        self.try_merge(c + 1, fill);
        if c >= 1 && self.try_merge(c - 1, fill) {
            c -= 1;
        }
        self.try_merge(c, fill);
    }

    /// Removes `n` elements starting at index `start` (0-based, in range).
    pub fn remove_range(&mut self, start: usize, n: usize) {
        let n = n.min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        let Some((mut ni, mut off)) = self.locate(start as i64) else { return };
        let mut left = n;
        while left > 0 {
            let node = &mut self.nodes[ni];
            let from_idx = node.p.iter().take_while(|(o, _)| *o < off).count();
            let del = left.min(node.count() - from_idx);
            if del == node.count() {
                self.nodes.remove(ni);
            } else {
                node.remove_range(off, del);
                ni += 1;
            }
            left -= del;
            self.len -= del;
            off = 0;
        }
        if self.nodes.is_empty() {
            self.nodes = VecDeque::new();
        }
    }

    /// LREM: removes up to `count` elements equal to `v` (0 = all), from the tail when
    /// `from_tail`; returns how many.
    pub fn remove_matching(&mut self, v: &[u8], count: usize, from_tail: bool) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = if from_tail { (0..self.nodes.len()).rev().collect() } else { (0..self.nodes.len()).collect() };
        let mut emptied = Vec::new();
        for ni in order {
            let node = &mut self.nodes[ni];
            let mut offs: Vec<usize> = node.p.iter().filter(|(_, it)| it.eq_bytes(v)).map(|(o, _)| o).collect();
            if from_tail {
                offs.reverse();
            }
            if count > 0 {
                offs.truncate(count - removed);
            }
            // Remove from the back so earlier offsets stay valid.
            offs.sort_unstable_by(|a, b| b.cmp(a));
            for o in &offs {
                node.remove_at(*o);
            }
            removed += offs.len();
            if node.count() == 0 {
                emptied.push(ni);
            }
            if count > 0 && removed >= count {
                break;
            }
        }
        emptied.sort_unstable_by(|a, b| b.cmp(a));
        for ni in emptied {
            self.nodes.remove(ni);
        }
        self.len -= removed;
        if self.nodes.is_empty() {
            self.nodes = VecDeque::new();
        }
        removed
    }

    /// Elements front to back.
    pub fn iter(&self) -> impl Iterator<Item = Item<'_>> + '_ {
        self.nodes.iter().flat_map(|n| n.p.iter().map(|(_, it)| it))
    }

    /// Elements back to front.
    pub fn iter_rev(&self) -> impl Iterator<Item = Item<'_>> + '_ {
        self.nodes.iter().rev().flat_map(|n| n.p.iter_rev().map(|(_, it)| it))
    }

    /// Elements from index `start` (in range) towards the tail, or towards the head
    /// when `reverse`.
    pub fn iter_from(&self, start: usize, reverse: bool) -> impl Iterator<Item = Item<'_>> + '_ {
        let (mut ni, mut off) = self.locate(start as i64).unwrap_or((self.nodes.len(), 0));
        let mut first = true;
        std::iter::from_fn(move || loop {
            let node = self.nodes.get(ni)?;
            if reverse {
                let cur = if first {
                    first = false;
                    Some(off)
                } else {
                    node.p.prev(off)
                };
                match cur {
                    Some(o) => {
                        off = o;
                        return Some(node.p.get(o).0);
                    }
                    None => {
                        ni = ni.checked_sub(1)?;
                        off = self.nodes[ni].p.bytes();
                    }
                }
            } else {
                first = false;
                if off < node.p.bytes() {
                    let (it, next) = node.p.get(off);
                    off = next;
                    return Some(it);
                }
                ni += 1;
                off = 0;
            }
        })
    }

    /// The nodes' packed contents in order (the RDB writer saves one listpack each).
    pub fn packed_nodes(&self) -> impl Iterator<Item = &Packed> + '_ {
        self.nodes.iter().map(|n| &n.p)
    }

    /// A list being loaded from an RDB: a quicklist until [`List::settle_loaded`].
    pub fn loading() -> List {
        List { quick: true, ..List::default() }
    }

    /// Appends a whole node as an RDB stores it (quicklist types 14 and 18 keep their
    /// node boundaries on load, as in Redis).
    pub fn append_node(&mut self, items: &[Vec<u8>]) {
        if items.is_empty() {
            return;
        }
        let mut n = Node::new();
        n.p.reserve_exact(items.iter().map(|v| Packed::entry_size(v)).sum());
        for v in items {
            n.push(v, false);
        }
        self.len += items.len();
        self.nodes.push_back(n);
    }

    /// Redis's encoding choice for a freshly built list (`LIST_CONV_AUTO`): a single
    /// node within the node limits becomes a listpack.
    pub fn settle_loaded(&mut self, fill: i64) {
        let (size_limit, count_limit) = node_limits(fill);
        if self.nodes.len() == 1 && self.nodes[0].sz as usize <= size_limit && self.nodes[0].count() <= count_limit {
            self.quick = false;
        }
    }

    /// Node fills, for DEBUG LISTPACK-like introspection and tests.
    pub fn node_counts(&self) -> Vec<usize> {
        self.nodes.iter().map(|n| n.count()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &List) -> Vec<String> {
        l.iter().map(|i| String::from_utf8(i.to_vec()).unwrap()).collect()
    }

    #[test]
    fn push_pop_and_walks() {
        let mut l = List::new();
        for i in 0..2000 {
            let v = format!("v{i}");
            l.grow_check(-2, v.len(), 1);
            l.push(v.as_bytes(), i % 2 == 0, -2);
        }
        assert_eq!(l.encoding(), "quicklist");
        assert!(l.node_counts().len() > 1);
        let all = collect(&l);
        assert_eq!(all.len(), 2000);
        for i in [0usize, 1, 999, 1000, 1998, 1999] {
            assert_eq!(l.get(i as i64).unwrap().to_vec(), all[i].as_bytes());
            assert_eq!(l.get(i as i64 - 2000).unwrap().to_vec(), all[i].as_bytes());
            let fwd: Vec<Vec<u8>> = l.iter_from(i, false).map(|x| x.to_vec()).collect();
            assert_eq!(fwd.len(), 2000 - i);
            let back: Vec<Vec<u8>> = l.iter_from(i, true).map(|x| x.to_vec()).collect();
            assert_eq!(back.len(), i + 1);
            assert_eq!(back[0], all[i].as_bytes());
        }
        let rev: Vec<String> = l.iter_rev().map(|i| String::from_utf8(i.to_vec()).unwrap()).collect();
        assert_eq!(rev.iter().rev().cloned().collect::<Vec<_>>(), all);
        l.remove_range(10, 1500);
        assert_eq!(l.len(), 500);
        let mut expect = all.clone();
        expect.drain(10..1510);
        assert_eq!(collect(&l), expect);
        while l.len() > 1 {
            l.pop(true);
        }
        l.shrink_check(-2);
        assert_eq!(l.encoding(), "listpack");
    }

    #[test]
    fn insert_splits_full_nodes() {
        let mut l = List::new();
        for i in 0..100 {
            let v = format!("{i:04}x");
            l.grow_check(5, v.len(), 1);
            l.push(v.as_bytes(), false, 5);
        }
        assert!(l.node_counts().iter().all(|&c| c <= 5));
        assert!(l.insert(b"0042x", b"new", true, 5));
        assert!(l.insert(b"0040x", b"new2", false, 5));
        let all = collect(&l);
        assert_eq!(all[41], "0040x");
        assert_eq!(all[40], "new2");
        assert_eq!(all[44], "new");
        assert_eq!(l.len(), 102);
        assert_eq!(l.node_counts().iter().sum::<usize>(), 102);
        assert!(l.node_counts().iter().all(|&c| c <= 5));
        assert_eq!(l.remove_matching(b"new", 0, false), 1);
        assert_eq!(l.len(), 101);
    }
}
