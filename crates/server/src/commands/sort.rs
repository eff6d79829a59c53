//! SORT and SORT_RO.
//!
//! BY and GET patterns name arbitrary keys that only the sorted elements reveal, so a
//! SORT that uses them locks every shard of its database ([`sort_slots`]); a plain SORT
//! locks only its key (and its STORE destination) and stays as cheap as any read.

use std::cmp::Ordering;

use ferrokv_protocol::ReplyBuf;

use super::table::Slots;
use super::{err, CmdResult, Ctx, Error};
use crate::keyspace::types::{Hash, List};
use crate::keyspace::{Blob, Keyspace, Slot, Value, SHARDS};

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

/// The parsed options of one SORT call.
struct Opts<'a> {
    desc: bool,
    alpha: bool,
    offset: i64,
    count: i64,
    /// The last BY pattern given.
    by: Option<&'a [u8]>,
    /// A BY pattern without `*` (`BY nosort`) was given: keep the natural order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// C string view: what `strchr`/`strcoll` see of a binary string.
fn cstr(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

fn has_star(p: &[u8]) -> bool {
    cstr(p).contains(&b'*')
}

/// Parses the options in Redis's order, stopping at the first bad one with its error.
fn parse<'a>(args: &[&'a [u8]], readonly: bool) -> Result<Opts<'a>, Error> {
    let mut o = Opts { desc: false, alpha: false, offset: 0, count: -1, by: None, dontsort: false, gets: Vec::new(), store: None };
    let mut j = 2;
    while j < args.len() {
        let a = args[j];
        let left = args.len() - j - 1;
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        if is("asc") {
            o.desc = false;
        } else if is("desc") {
            o.desc = true;
        } else if is("alpha") {
            o.alpha = true;
        } else if is("limit") && left >= 2 {
            let n = |b: &[u8]| crate::util::parse_canonical_i64(b).ok_or(Error::from(err::NOT_INT));
            o.offset = n(args[j + 1])?;
            o.count = n(args[j + 2])?;
            j += 2;
        } else if !readonly && is("store") && left >= 1 {
            o.store = Some(args[j + 1]);
            j += 1;
        } else if is("by") && left >= 1 {
            o.by = Some(args[j + 1]);
            if !has_star(args[j + 1]) {
                o.dontsort = true;
            }
            j += 1;
        } else if is("get") && left >= 1 {
            o.gets.push(args[j + 1]);
            j += 1;
        } else {
            return Err(err::SYNTAX.into());
        }
        j += 1;
    }
    Ok(o)
}

fn slots(args: &[&[u8]], db: usize, readonly: bool) -> Slots {
    let mut v = smallvec::smallvec![Keyspace::slot(db, args[1])];
    if let Ok(o) = parse(args, readonly) {
        if !o.gets.is_empty() || (o.by.is_some() && !o.dontsort) {
            return (0..SHARDS as u32).map(|shard| Slot { db: db as u32, shard }).collect();
        }
        if let Some(dst) = o.store {
            v.push(Keyspace::slot(db, dst));
        }
    }
    v
}

/// SORT's lock plan: the whole database when BY/GET patterns may read any key, else
/// the key and the STORE destination.
pub fn sort_slots(args: &[&[u8]], db: usize, _ndbs: usize) -> Result<Slots, Error> {
    Ok(slots(args, db, false))
}

pub fn sort_ro_slots(args: &[&[u8]], db: usize, _ndbs: usize) -> Result<Slots, Error> {
    Ok(slots(args, db, true))
}

/// The keys COMMAND GETKEYS reports, as Redis's `sortGetKeys` finds them: the sorted
/// key, then the destination of the last STORE (LIMIT/GET/BY skip their arguments).
pub fn getkeys(name: &str, args: &[&[u8]]) -> Option<Vec<(usize, Vec<&'static str>)>> {
    if name != "sort" {
        return None;
    }
    let mut keys = vec![(1, vec!["RO", "access"])];
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if a.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if a.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(s) = store {
        keys.push((s, vec!["OW", "update"]));
    }
    Some(keys)
}

/// A GET/BY pattern with a `*`: the key is `prefix + element + postfix`, and with a
/// `->field` suffix the value is that field of a hash.
struct Pattern<'p> {
    prefix: &'p [u8],
    postfix: &'p [u8],
    field: Option<&'p [u8]>,
}

enum Pat<'p> {
    /// `#`: the element itself.
    Elem,
    /// No `*`: a constant that never names a value.
    Const,
    Key(Pattern<'p>),
}

fn split_pattern(p: &[u8]) -> Pat<'_> {
    // Redis reads the pattern as a C string for its searches, then copies with lengths.
    if p.first() == Some(&b'#') && p.get(1).is_none_or(|&c| c == 0) {
        return Pat::Elem;
    }
    let c = cstr(p);
    let Some(star) = c.iter().position(|&b| b == b'*') else { return Pat::Const };
    let arrow = c[star + 1..].windows(2).position(|w| w == b"->").map(|k| star + 1 + k);
    match arrow {
        Some(f) if f + 2 < c.len() => Pat::Key(Pattern { prefix: &p[..star], postfix: &p[star + 1..f], field: Some(&p[f + 2..]) }),
        _ => Pat::Key(Pattern { prefix: &p[..star], postfix: &p[star + 1..], field: None }),
    }
}

/// Looks up the value a pattern names for `elem` (counting keyspace hits and misses
/// as Redis's read lookup does) and hands it to `f` with the reply buffer.
fn with_value<R>(ctx: &mut Ctx, pat: &Pat, elem: &[u8], key: &mut Vec<u8>, f: impl FnOnce(Option<&[u8]>, &mut ReplyBuf) -> R) -> R {
    let p = match pat {
        Pat::Elem => return f(Some(elem), ctx.out),
        Pat::Const => return f(None, ctx.out),
        Pat::Key(p) => p,
    };
    key.clear();
    key.extend_from_slice(p.prefix);
    key.extend_from_slice(elem);
    key.extend_from_slice(p.postfix);
    match p.field {
        None => match ctx.read_out::<Blob>(key) {
            Ok((Some(b), out)) => f(Some(b.as_slice()), out),
            Ok((None, out)) => f(None, out),
            Err(_) => f(None, ctx.out),
        },
        Some(field) => match ctx.read_out::<Hash>(key) {
            Ok((Some(h), out)) => {
                let mut buf = itoa::Buffer::new();
                match h.get(field) {
                    Some(it) => f(Some(it.bytes(&mut buf)), out),
                    None => f(None, out),
                }
            }
            Ok((None, out)) => f(None, out),
            Err(_) => f(None, ctx.out),
        },
    }
}

/// Reads a weight as Redis does with `strtod`: leading spaces allowed, the text must
/// end where the number does (or at a NUL byte), hex and `inf` accepted; NaN,
/// overflow and underflow are errors. An empty string weighs 0.
fn weight(v: &[u8]) -> Option<f64> {
    let v = cstr(v);
    let start = v.iter().position(|&c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).unwrap_or(v.len());
    let Some((x, used, inexact_zero)) = scan_float(&v[start..]) else {
        // No conversion: strtod points back at the very start.
        return v.is_empty().then_some(0.0);
    };
    if start + used != v.len() || x.is_nan() {
        return None;
    }
    if x.is_subnormal() || inexact_zero {
        return None;
    }
    Some(x)
}

/// The longest prefix of `s` that strtod converts: (value, bytes used, whether a
/// nonzero finite number underflowed to zero); `None` when nothing converts. An
/// overflow comes back as NaN, so that the caller rejects it.
fn scan_float(s: &[u8]) -> Option<(f64, usize, bool)> {
    let mut j = 0;
    let neg = matches!(s.first(), Some(b'-'));
    if matches!(s.first(), Some(b'+' | b'-')) {
        j = 1;
    }
    let sign = if neg { -1.0 } else { 1.0 };
    let rest = &s[j..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"inf") {
        let n = if starts(b"infinity") { 8 } else { 3 };
        return Some((sign * f64::INFINITY, j + n, false));
    }
    if starts(b"nan") {
        return Some((f64::NAN, j + 3, false));
    }
    let hexd = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_hexdigit());
    if starts(b"0x") && (hexd(rest.get(2)) || (rest.get(2) == Some(&b'.') && hexd(rest.get(3)))) {
        return Some(scan_hex(rest, j, sign));
    }
    let digits = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(j);
    let mut k = j + int;
    let mut frac = 0;
    if s.get(k) == Some(&b'.') {
        frac = digits(k + 1);
        if int + frac > 0 {
            k += 1 + frac;
        }
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(s.get(k), Some(b'e' | b'E')) {
        let e = k + 1 + usize::from(matches!(s.get(k + 1), Some(b'+' | b'-')));
        let n = digits(e);
        if n > 0 {
            k = e + n;
        }
    }
    let text = std::str::from_utf8(&s[..k]).ok()?;
    let x: f64 = text.parse().ok()?;
    if x.is_infinite() {
        return Some((f64::NAN, k, false));
    }
    let nonzero = s[j..k].iter().take_while(|c| !matches!(c, b'e' | b'E')).any(|c| (b'1'..=b'9').contains(c));
    Some((x, k, x == 0.0 && nonzero))
}

/// A hexadecimal float (`0x1.8p3`) after its sign, `rest` starting at `0x`.
fn scan_hex(rest: &[u8], j: usize, sign: f64) -> (f64, usize, bool) {
    let mut k = 2;
    let mut m = 0.0f64;
    let mut exp: i64 = 0;
    let mut nonzero = false;
    while let Some(d) = rest.get(k).and_then(|c| (*c as char).to_digit(16)) {
        m = m * 16.0 + d as f64;
        nonzero |= d != 0;
        k += 1;
    }
    if rest.get(k) == Some(&b'.') {
        k += 1;
        while let Some(d) = rest.get(k).and_then(|c| (*c as char).to_digit(16)) {
            m = m * 16.0 + d as f64;
            nonzero |= d != 0;
            exp -= 4;
            k += 1;
        }
    }
    if matches!(rest.get(k), Some(b'p' | b'P')) {
        let e = k + 1 + usize::from(matches!(rest.get(k + 1), Some(b'+' | b'-')));
        let n = rest[e.min(rest.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n > 0 {
            let v: i64 = std::str::from_utf8(&rest[e..e + n]).ok().and_then(|t| t.parse().ok()).unwrap_or(i64::MAX / 4);
            exp = exp.saturating_add(if rest[k + 1] == b'-' { -v } else { v });
            k = e + n;
        }
    }
    let x = sign * m * 2f64.powi(exp.clamp(-4000, 4000) as i32);
    let x = if x.is_infinite() { f64::NAN } else { x };
    (x, j + k, x == 0.0 && nonzero)
}

struct Entry {
    elem: Vec<u8>,
    score: f64,
    /// The BY value an ALPHA sort compares (`None` when the key was missing).
    by: Option<Vec<u8>>,
}

pub fn sort(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, false)
}

pub fn sort_ro(ctx: &mut Ctx) -> CmdResult {
    sort_generic(ctx, true)
}

#[derive(PartialEq)]
enum Kind {
    List,
    Set,
    ZSet,
}

fn sort_generic(ctx: &mut Ctx, readonly: bool) -> CmdResult {
    let args = ctx.args;
    let o = parse(args, readonly)?;
    let key = args[1];
    let (mut dontsort, mut alpha, mut by) = (o.dontsort, o.alpha, o.by);
    let desc = o.desc;

    let kind = match ctx.lookup_read(key).map(|e| &e.value) {
        None | Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return Err(err::WRONGTYPE.into()),
    };
    // A set has no order of its own: a stored (and so replicated) result, or one a
    // script sees, is sorted.
    if dontsort && kind == Kind::Set && (o.store.is_some() || crate::scripting::vm::in_script()) {
        dontsort = false;
        alpha = true;
        by = None;
    }
    let mut value = ctx.lookup(key).map(|e| &mut e.value);
    if let Some(Value::ZSet(z)) = value.as_deref_mut() {
        // Redis converts a sorted set to its full encoding for SORT, for good.
        z.convert_to_tree();
    }
    let len = value.as_ref().map_or(0, |v| v.len()) as i64;

    let mut start = o.offset.clamp(0, len);
    let count = o.count.clamp(-1, len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);

    let mut elems: Vec<Vec<u8>> = Vec::new();
    match value {
        None => {}
        Some(Value::List(l)) if dontsort && end >= start => {
            let from = if desc { len - 1 - start } else { start } as usize;
            elems.extend(l.iter_from(from, desc).take((end - start + 1) as usize).map(|it| it.to_vec()));
            end -= start;
            start = 0;
        }
        // An empty range of a list in its natural order: nothing to load.
        Some(Value::List(_)) if dontsort => {}
        Some(Value::List(l)) => elems.extend(l.iter().map(|it| it.to_vec())),
        Some(Value::Set(s)) => elems.extend(s.iter().map(|it| it.to_vec())),
        Some(Value::ZSet(z)) if dontsort => {
            if end >= start {
                let n = (end - start + 1) as usize;
                let from = if desc { len - 1 - start } else { start } as usize;
                z.visit(from, desc, |m, _| {
                    elems.push(m.to_vec());
                    elems.len() < n
                });
            }
            end -= start;
            start = 0;
        }
        Some(Value::ZSet(z)) => z.visit(0, false, |m, _| {
            elems.push(m.to_vec());
            true
        }),
        Some(_) => unreachable!("type checked above"),
    }

    let mut items: Vec<Entry> = elems.into_iter().map(|elem| Entry { elem, score: 0.0, by: None }).collect();
    let mut keybuf = Vec::new();
    if !dontsort {
        let mut bad = false;
        let by_pat = by.map(split_pattern);
        for it in items.iter_mut() {
            match &by_pat {
                Some(p) => with_value(ctx, p, &it.elem, &mut keybuf, |v, _| match v {
                    None => {}
                    Some(v) if alpha => it.by = Some(v.to_vec()),
                    Some(v) => match weight(v) {
                        Some(s) => it.score = s,
                        None => bad = true,
                    },
                }),
                None if alpha => {}
                None => match weight(&it.elem) {
                    Some(s) => it.score = s,
                    None => bad = true,
                },
            }
        }
        if bad {
            return Err(NOT_DOUBLE.into());
        }
        let store = o.store.is_some();
        let by_pattern = by_pat.is_some();
        // strcoll in the C locale is strcmp: bytes up to the first NUL. A stored
        // result compares whole binary strings instead, as Redis does.
        let text = |a: &[u8], b: &[u8]| if store { a.cmp(b) } else { cstr(a).cmp(cstr(b)) };
        let cmp = |a: &Entry, b: &Entry| -> Ordering {
            let c = if !alpha {
                a.score.partial_cmp(&b.score).filter(|c| *c != Ordering::Equal).unwrap_or_else(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                match (&a.by, &b.by) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => text(x, y),
                }
            } else {
                text(&a.elem, &b.elem)
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        };
        items.sort_by(cmp);
    }

    let rows = if end >= start { (end - start + 1) as usize } else { 0 };
    let first = if rows == 0 { 0 } else { start as usize };
    let range = first..first + rows;
    let gets: Vec<Pat> = o.gets.iter().map(|p| split_pattern(p)).collect();
    let outlen = if gets.is_empty() { rows } else { rows * gets.len() };

    let Some(dst) = o.store else {
        ctx.out.array(outlen);
        for it in &items[range] {
            if gets.is_empty() {
                ctx.out.bulk(&it.elem);
            }
            for g in &gets {
                with_value(ctx, g, &it.elem, &mut keybuf, |v, out| match v {
                    Some(v) => out.bulk(v),
                    None => out.null(),
                });
            }
        }
        return Ok(());
    };

    let mut values: Vec<Vec<u8>> = Vec::with_capacity(outlen);
    for it in items.drain(range) {
        if gets.is_empty() {
            values.push(it.elem);
            continue;
        }
        for g in &gets {
            let v = with_value(ctx, g, &it.elem, &mut keybuf, |v, _| v.map(|v| v.to_vec()).unwrap_or_default());
            values.push(v);
        }
    }
    let changed = if outlen > 0 {
        let list = List::from_items(values.iter().map(|v| v.as_slice()), ctx.client.settings.list_max_listpack_size);
        ctx.store(dst, Value::List(Box::new(list)), 0);
        ctx.notify(crate::notify::LIST, "sortstore", dst);
        true
    } else if ctx.remove(dst).is_some() {
        ctx.notify(crate::notify::GENERIC, "del", dst);
        true
    } else {
        false
    };
    if changed {
        ctx.srv.watches.touch(ctx.db(), dst, outlen == 0);
        ctx.propagate_as_is();
        if outlen > 1 {
            // Redis counts every stored element as a change.
            ctx.srv.dirty.fetch_add(outlen as u64 - 1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    ctx.out.int(outlen as i64);
    Ok(())
}
