//! A packed sequence of small strings and integers in one allocation: our listpack.
//! Small hashes, sets, sorted sets and every list node use it, which is what keeps
//! small collections cheaper than one heap node per element.
//!
//! Entry layout: a header, the payload, then the entry's size (header + payload)
//! written backwards so the sequence can be walked from the end too.
//! - `0x00..=0x7f`: the integer 0..=127 itself (one byte in all);
//! - `0x80..=0xbf`: a string of up to 63 bytes (6-bit length);
//! - `0xc0..=0xdf` + 1 byte: an integer in -4096..=4095 (13 bits, sign-extended);
//! - `0xe0..=0xef` + 1 byte: a string of up to 4095 bytes (12-bit length);
//! - `0xf0` + 4 bytes LE: a longer string;
//! - `0xf1..=0xf8`: an integer in 1..=8 bytes LE (sign-extended).
//!
//! Integers are stored only for values whose canonical decimal form is the string (so
//! reading one back gives the same bytes). Small integers and short strings take as
//! little room as in Redis's listpack, which the memory comparisons hold us to.

use std::fmt;

/// One element as stored: bytes, or an integer that stands for its decimal form.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Item<'a> {
    /// The element's bytes; integers are formatted into `buf`.
    pub fn bytes<'b>(&self, buf: &'b mut itoa::Buffer) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Item::Str(s) => s,
            Item::Int(n) => buf.format(n).as_bytes(),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// Whether this element equals `v` byte for byte.
    pub fn eq_bytes(&self, v: &[u8]) -> bool {
        match *self {
            Item::Str(s) => s == v,
            Item::Int(n) => itoa::Buffer::new().format(n).as_bytes() == v,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Item::Int(n) => Some(n),
            Item::Str(s) => crate::util::parse_canonical_i64(s),
        }
    }

    pub fn len(&self) -> usize {
        match *self {
            Item::Str(s) => s.len(),
            Item::Int(n) => itoa::Buffer::new().format(n).len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Packed {
    buf: Vec<u8>,
    count: u32,
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter().map(|(_, i)| String::from_utf8_lossy(&i.to_vec()).into_owned())).finish()
    }
}

fn int_width(n: i64) -> usize {
    (1..=8).find(|&w| w == 8 || (n >= -(1i64 << (8 * w - 1)) && n < (1i64 << (8 * w - 1)))).unwrap()
}

fn backlen_size(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// How one value is encoded.
enum Enc {
    /// 0..=127 in the header.
    Tiny(u8),
    /// -4096..=4095 in the header's low 5 bits and one more byte.
    Int13(i64),
    /// Any other integer in `w` bytes.
    Int(i64, usize),
    Str(usize),
}

fn classify(v: &[u8]) -> Enc {
    match crate::util::parse_canonical_i64(v).filter(|_| v.len() <= 20) {
        Some(n @ 0..=127) => Enc::Tiny(n as u8),
        Some(n @ -4096..=4095) => Enc::Int13(n),
        Some(n) => Enc::Int(n, int_width(n)),
        None => Enc::Str(v.len()),
    }
}

fn body_len(e: &Enc) -> usize {
    match *e {
        Enc::Tiny(_) => 1,
        Enc::Int13(_) => 2,
        Enc::Int(_, w) => 1 + w,
        Enc::Str(n) if n < 64 => 1 + n,
        Enc::Str(n) if n < 4096 => 2 + n,
        Enc::Str(n) => 5 + n,
    }
}

/// Appends the encoding of `v` (header, payload, backwards size) to `out`.
fn encode(v: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(v), 0);
    encode_into(v, &mut out[start..]);
}

/// Writes the encoding of `v` into `out`, which is exactly [`encoded_len`] long.
fn encode_into(v: &[u8], out: &mut [u8]) {
    let size = match classify(v) {
        Enc::Tiny(n) => {
            out[0] = n;
            1
        }
        Enc::Int13(n) => {
            let u = (n as u16) & 0x1fff;
            out[0] = 0xc0 | (u >> 8) as u8;
            out[1] = u as u8;
            2
        }
        Enc::Int(n, w) => {
            out[0] = 0xf0 + w as u8;
            out[1..1 + w].copy_from_slice(&n.to_le_bytes()[..w]);
            1 + w
        }
        Enc::Str(n) if n < 64 => {
            out[0] = 0x80 | n as u8;
            out[1..1 + n].copy_from_slice(v);
            1 + n
        }
        Enc::Str(n) if n < 4096 => {
            out[0] = 0xe0 | (n >> 8) as u8;
            out[1] = n as u8;
            out[2..2 + n].copy_from_slice(v);
            2 + n
        }
        Enc::Str(n) => {
            out[0] = 0xf0;
            out[1..5].copy_from_slice(&(n as u32).to_le_bytes());
            out[5..5 + n].copy_from_slice(v);
            5 + n
        }
    };
    // The size is written backwards: the entry's last byte holds the low 7 bits, and a
    // set high bit says another group lies to its left.
    let k = backlen_size(size);
    let end = size + k;
    debug_assert_eq!(end, out.len());
    for i in 0..k {
        let group = ((size >> (7 * i)) & 0x7f) as u8;
        out[end - 1 - i] = if i + 1 < k { group | 0x80 } else { group };
    }
}

fn encoded_len(v: &[u8]) -> usize {
    let body = body_len(&classify(v));
    body + backlen_size(body)
}

impl Packed {
    pub fn new() -> Packed {
        Packed::default()
    }

    /// The read-only side, shared with [`Frozen`].
    #[inline]
    pub fn view(&self) -> View<'_> {
        View { buf: &self.buf, count: self.count }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the encoded entries (what the size limits of node fill compare with).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Reserves room for exactly `additional` more bytes (callers pick the growth).
    pub fn reserve_exact(&mut self, additional: usize) {
        self.buf.reserve_exact(additional);
    }

    /// The entry at byte offset `off` and the offset of the next entry.
    #[inline]
    pub fn get(&self, off: usize) -> (Item<'_>, usize) {
        self.view().get(off)
    }

    /// Offset of the entry before the one at `off` (`off` may be `self.bytes()`).
    pub fn prev(&self, off: usize) -> Option<usize> {
        self.view().prev(off)
    }

    /// Offset of the last entry.
    pub fn last(&self) -> Option<usize> {
        self.view().last()
    }

    /// Entries front to back with their offsets.
    pub fn iter(&self) -> Iter<'_> {
        self.view().iter()
    }

    /// Entries back to front with their offsets.
    pub fn iter_rev(&self) -> impl Iterator<Item = (usize, Item<'_>)> + '_ {
        self.view().iter_rev()
    }

    /// Offset of the `index`-th entry (negative counts from the end).
    pub fn offset_of(&self, index: i64) -> Option<usize> {
        self.view().offset_of(index)
    }

    /// Offset of the first entry equal to `v` among every `step`-th entry.
    pub fn find(&self, v: &[u8], step: usize) -> Option<usize> {
        self.view().find(v, step)
    }

    pub fn push_back(&mut self, v: &[u8]) {
        encode(v, &mut self.buf);
        self.count += 1;
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.insert_at(0, v);
    }

    /// Inserts `v` before the entry at `off` (`self.bytes()` appends).
    pub fn insert_at(&mut self, off: usize, v: &[u8]) {
        if off == self.buf.len() {
            return self.push_back(v);
        }
        let n = encoded_len(v);
        crate::util::resize_range(&mut self.buf, off..off, n);
        encode_into(v, &mut self.buf[off..off + n]);
        self.count += 1;
    }

    /// Removes the entry at `off`; the entry that followed now starts at `off`.
    pub fn remove_at(&mut self, off: usize) {
        let (_, next) = self.get(off);
        self.buf.drain(off..next);
        self.count -= 1;
    }

    /// Removes `n` entries starting at `off`.
    pub fn remove_range(&mut self, off: usize, n: usize) {
        let mut end = off;
        let mut k = 0;
        while k < n && end < self.buf.len() {
            end = self.get(end).1;
            k += 1;
        }
        self.buf.drain(off..end);
        self.count -= k as u32;
    }

    /// Replaces the entry at `off` with `v`.
    pub fn replace_at(&mut self, off: usize, v: &[u8]) {
        let (_, next) = self.get(off);
        let n = encoded_len(v);
        if n != next - off {
            crate::util::resize_range(&mut self.buf, off..next, n);
        }
        encode_into(v, &mut self.buf[off..off + n]);
    }

    /// Bytes `v` would take once encoded.
    pub fn entry_size(v: &[u8]) -> usize {
        encoded_len(v)
    }
}

/// A borrowed packed sequence: every read of [`Packed`] and [`Frozen`].
#[derive(Clone, Copy)]
pub struct View<'a> {
    buf: &'a [u8],
    count: u32,
}

impl<'a> View<'a> {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    #[inline]
    pub fn get(&self, off: usize) -> (Item<'a>, usize) {
        let b = self.buf;
        let h = b[off];
        let (item, body_end) = match h {
            0x00..=0x7f => (Item::Int(h as i64), off + 1),
            0x80..=0xbf => {
                let n = (h & 0x3f) as usize;
                (Item::Str(&b[off + 1..off + 1 + n]), off + 1 + n)
            }
            0xc0..=0xdf => {
                let u = (((h & 0x1f) as u16) << 8) | b[off + 1] as u16;
                (Item::Int((((u << 3) as i16) >> 3) as i64), off + 2)
            }
            0xe0..=0xef => {
                let n = ((h as usize & 0x0f) << 8) | b[off + 1] as usize;
                (Item::Str(&b[off + 2..off + 2 + n]), off + 2 + n)
            }
            0xf0 => {
                let n = u32::from_le_bytes(b[off + 1..off + 5].try_into().unwrap()) as usize;
                (Item::Str(&b[off + 5..off + 5 + n]), off + 5 + n)
            }
            _ => {
                let w = (h - 0xf0) as usize;
                let mut raw = [0u8; 8];
                raw[..w].copy_from_slice(&b[off + 1..off + 1 + w]);
                let shift = 64 - 8 * w as u32;
                let n = (i64::from_le_bytes(raw) << shift) >> shift;
                (Item::Int(n), off + 1 + w)
            }
        };
        (item, body_end + backlen_size(body_end - off))
    }

    pub fn prev(&self, off: usize) -> Option<usize> {
        if off == 0 {
            return None;
        }
        let (mut size, mut i, mut shift) = (0usize, off, 0);
        loop {
            i -= 1;
            let byte = self.buf[i];
            size |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        Some(i - size)
    }

    pub fn last(&self) -> Option<usize> {
        self.prev(self.buf.len())
    }

    pub fn iter(&self) -> Iter<'a> {
        Iter { v: *self, off: 0 }
    }

    pub fn iter_rev(&self) -> impl Iterator<Item = (usize, Item<'a>)> + 'a {
        let v = *self;
        let mut off = v.buf.len();
        std::iter::from_fn(move || {
            off = v.prev(off)?;
            Some((off, v.get(off).0))
        })
    }

    /// Offset of the `index`-th entry (negative counts from the end), walking from
    /// the nearer end.
    pub fn offset_of(&self, index: i64) -> Option<usize> {
        let n = self.count as i64;
        let i = if index < 0 { n + index } else { index };
        if i < 0 || i >= n {
            return None;
        }
        if i <= n / 2 {
            self.iter().nth(i as usize).map(|(o, _)| o)
        } else {
            self.iter_rev().nth((n - 1 - i) as usize).map(|(o, _)| o)
        }
    }

    /// Offset of the first entry equal to `v` among every `step`-th entry (step 2
    /// searches the fields of field/value pairs).
    pub fn find(&self, v: &[u8], step: usize) -> Option<usize> {
        let as_int = crate::util::parse_canonical_i64(v).filter(|_| v.len() <= 20);
        self.iter()
            .step_by(step.max(1))
            .find(|(_, it)| match (*it, as_int) {
                (Item::Int(a), Some(b)) => a == b,
                (Item::Str(s), None) => s == v,
                _ => false,
            })
            .map(|(o, _)| o)
    }
}

pub struct Iter<'a> {
    v: View<'a>,
    off: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (usize, Item<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.v.buf.len() {
            return None;
        }
        let at = self.off;
        let (item, next) = self.v.get(at);
        self.off = next;
        Some((at, item))
    }
}

/// Bytes of the entry count kept after a [`Frozen`]'s entries.
const COUNT_BYTES: usize = 4;

/// A packed sequence at its exact size in one allocation, its entries followed by
/// their count: 16 bytes in place (a `Packed` takes 32), so a small collection can live
/// unboxed in a key's value. Edits thaw it into a `Packed` and freeze it back, which
/// reallocates to size as Redis does with a listpack.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Frozen(Box<[u8]>);

impl fmt::Debug for Frozen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.view().iter().map(|(_, i)| String::from_utf8_lossy(&i.to_vec()).into_owned())).finish()
    }
}

impl Frozen {
    #[inline]
    pub fn view(&self) -> View<'_> {
        match self.0.len().checked_sub(COUNT_BYTES) {
            None => View { buf: &[], count: 0 },
            Some(n) => View { buf: &self.0[..n], count: u32::from_le_bytes(self.0[n..].try_into().unwrap()) },
        }
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn heap_size(&self) -> usize {
        self.0.len()
    }

    /// Runs `f` on the thawed sequence, then freezes the result at its exact size.
    /// `extra` is the growth `f` will need, reserved in one step.
    pub fn edit<R>(&mut self, extra: usize, f: impl FnOnce(&mut Packed) -> R) -> R {
        let mut p = self.thaw();
        p.buf.reserve_exact(extra + COUNT_BYTES);
        let r = f(&mut p);
        *self = Frozen::from(p);
        r
    }

    /// Replaces the entry at `off` with `v` when their encodings are the same size, so
    /// an overwrite such as HSET of an existing field allocates nothing; returns whether
    /// it did.
    pub fn replace_in_place(&mut self, off: usize, v: &[u8]) -> bool {
        let (_, next) = self.view().get(off);
        if encoded_len(v) != next - off {
            return false;
        }
        encode_into(v, &mut self.0[off..next]);
        true
    }

    /// Takes the entries out as a `Packed` (no copy), leaving this empty.
    pub fn thaw(&mut self) -> Packed {
        let mut buf = Vec::from(std::mem::take(&mut self.0));
        let count = match buf.len().checked_sub(COUNT_BYTES) {
            None => 0,
            Some(n) => {
                let c = u32::from_le_bytes(buf[n..].try_into().unwrap());
                buf.truncate(n);
                c
            }
        };
        Packed { buf, count }
    }
}

impl From<Packed> for Frozen {
    fn from(mut p: Packed) -> Frozen {
        if p.count == 0 {
            return Frozen::default();
        }
        p.buf.reserve_exact(COUNT_BYTES);
        p.buf.extend_from_slice(&p.count.to_le_bytes());
        Frozen(p.buf.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_keeps_entries_at_their_exact_size() {
        let mut f = Frozen::default();
        assert!(f.is_empty() && f.view().iter().next().is_none());
        let vals: Vec<Vec<u8>> = (0..300).map(|i| format!("v{}", i * 7919).into_bytes()).collect();
        f.edit(0, |p| vals.iter().for_each(|v| p.push_back(v)));
        let mut plain = Packed::new();
        vals.iter().for_each(|v| plain.push_back(v));
        assert_eq!(f.len(), 300);
        assert_eq!(f.heap_size(), plain.bytes() + COUNT_BYTES);
        let got: Vec<Vec<u8>> = f.view().iter().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(got, vals);
        let back: Vec<Vec<u8>> = f.view().iter_rev().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(back, vals.iter().rev().cloned().collect::<Vec<_>>());
        let off = f.view().find(b"v7919", 1).unwrap();
        f.edit(0, |p| p.remove_at(off));
        assert_eq!(f.len(), 299);
        assert_eq!(f.view().get(f.view().offset_of(1).unwrap()).0, Item::Str(b"v15838"));
        f.edit(0, |p| p.remove_range(0, 299));
        assert!(f.is_empty() && f.heap_size() == 0);
    }

    #[test]
    fn replacing_keeps_neighbours_whatever_the_sizes() {
        let mut f = Frozen::default();
        f.edit(0, |p| [&b"a"[..], b"100", b"b", b"xyz", b"c"].iter().for_each(|v| p.push_back(v)));
        let second = f.view().offset_of(1).unwrap();
        let before = f.heap_size();
        // 100 and 99 both fit the one-byte header; "xyz" and "abc" share a size.
        assert!(f.replace_in_place(second, b"99"));
        let fourth = f.view().offset_of(3).unwrap();
        assert!(f.replace_in_place(fourth, b"abc"));
        assert!(!f.replace_in_place(fourth, b"a longer string"));
        assert_eq!(f.heap_size(), before);
        let got: Vec<Vec<u8>> = f.view().iter().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(got, [&b"a"[..], b"99", b"b", b"abc", b"c"]);
        let mut p = f.thaw();
        for (i, v) in [&b"-5000"[..], b"", b"a much longer value than before", b"7"].iter().enumerate() {
            let off = p.offset_of(i as i64 + 1).unwrap();
            p.replace_at(off, v);
            assert_eq!(p.get(p.offset_of(i as i64 + 1).unwrap()).0.to_vec(), v.to_vec());
        }
        let back: Vec<Vec<u8>> = p.iter_rev().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(back, [&b"7"[..], b"a much longer value than before", b"", b"-5000", b"a"]);
    }

    #[test]
    fn round_trip_both_directions() {
        let mut p = Packed::new();
        let big = vec![b'x'; 20000];
        let mid = vec![b'y'; 300];
        let vals: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"12345".to_vec(),
            b"-7".to_vec(),
            b"007".to_vec(),
            b"".to_vec(),
            mid.clone(),
            big.clone(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"hello world".to_vec(),
        ];
        for v in &vals {
            p.push_back(v);
        }
        let fwd: Vec<Vec<u8>> = p.iter().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(fwd, vals);
        let mut back: Vec<Vec<u8>> = p.iter_rev().map(|(_, i)| i.to_vec()).collect();
        back.reverse();
        assert_eq!(back, vals);
        assert_eq!(p.len(), vals.len());
        let off = p.find(b"-7", 1).unwrap();
        p.remove_at(off);
        assert!(p.find(b"-7", 1).is_none());
        assert_eq!(p.offset_of(-1).map(|o| p.get(o).0.to_vec()), Some(b"hello world".to_vec()));
        p.push_front(b"first");
        assert_eq!(p.get(0).0, Item::Str(b"first"));
        let o = p.offset_of(2).unwrap();
        p.replace_at(o, &mid);
        assert_eq!(p.get(o).0.to_vec(), mid);
        let mut back: Vec<Vec<u8>> = p.iter_rev().map(|(_, i)| i.to_vec()).collect();
        back.reverse();
        let fwd: Vec<Vec<u8>> = p.iter().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(back, fwd);
    }

    #[test]
    fn integer_and_string_boundaries() {
        let mut vals: Vec<Vec<u8>> = Vec::new();
        for n in [0i64, 1, 127, 128, -1, -4096, -4097, 4095, 4096, 32767, -32769, 1 << 40, i64::MIN, i64::MAX] {
            vals.push(n.to_string().into_bytes());
        }
        for n in [0usize, 63, 64, 4095, 4096] {
            vals.push(vec![b's'; n]);
        }
        vals.push(b"-0".to_vec());
        vals.push(b"0127".to_vec());
        let mut p = Packed::new();
        for v in &vals {
            p.push_back(v);
        }
        let fwd: Vec<Vec<u8>> = p.iter().map(|(_, i)| i.to_vec()).collect();
        assert_eq!(fwd, vals);
        let mut back: Vec<Vec<u8>> = p.iter_rev().map(|(_, i)| i.to_vec()).collect();
        back.reverse();
        assert_eq!(back, vals);
        assert_eq!(Packed::entry_size(b"5"), 2);
        assert_eq!(Packed::entry_size(b"1000"), 3);
        assert_eq!(Packed::entry_size(b"abc"), 5);
        assert!(matches!(p.get(0).0, Item::Int(0)));
        assert!(p.find(b"-4097", 1).is_some());
    }

    #[test]
    fn backlen_sizes_walk_back() {
        for n in [0usize, 1, 126, 127, 128, 16383, 16384, 70000] {
            let mut p = Packed::new();
            p.push_back(b"z");
            p.push_back(&vec![b'q'; n]);
            p.push_back(b"1");
            let back: Vec<usize> = p.iter_rev().map(|(_, i)| i.len()).collect();
            assert_eq!(back, vec![1, n, 1], "n={n}");
        }
    }
}
