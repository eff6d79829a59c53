//! Geo commands: members of a sorted set scored by Redis's 52-bit geohash.
//!
//! A position is stored exactly as Redis stores it (the interleaved 26-bit latitude and
//! longitude cells as an integral score), so ZRANGE WITHSCORES, DUMP and replication see
//! the same numbers. Searches follow Redis's plan step by step (a cell size estimated
//! from the radius, the centre cell and its 8 neighbours as score ranges, then an exact
//! haversine filter) and use the same floating point operations in the same order:
//! results on cell borders and distances then agree with Redis to the last digit.

use super::sorted_sets::{limits, store_result, zadd_one, Outcome, NX, XX};
use super::table::Slots;
use super::{err, CmdResult, Ctx, Error, Typed};
use crate::keyspace::types::ZSet;
use crate::keyspace::Keyspace;
use ferrokv_protocol::ReplyBuf;

const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
const STEP_MAX: u8 = 26;
const EARTH_RADIUS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
/// 2^63: where C's double to 64-bit integer conversions stop being exact.
const TWO63: f64 = (1u64 << 63) as f64;
const D_R: f64 = std::f64::consts::PI / 180.0;

const WGS_LON: Range = Range { min: LON_MIN, max: LON_MAX };
const WGS_LAT: Range = Range { min: LAT_MIN, max: LAT_MAX };

const NO_MEMBER: &str = "ERR could not decode requested zset member";

#[derive(Clone, Copy)]
struct Range {
    min: f64,
    max: f64,
}

/// `step` bits of each coordinate, latitude in the even bit positions.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Hash {
    bits: u64,
    step: u8,
}

#[derive(Clone, Copy)]
struct Area {
    lon: Range,
    lat: Range,
}

// ---- geohash arithmetic ----

/// Moves the 32 bits of `v` to the even bit positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The inverse of [`spread`]: the even bits of `x`, packed.
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0xFFFF_FFFF) as u32
}

fn encode(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    // Redis lets NaN through these checks; it never reaches here (arguments refuse it).
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_r.min || lat > lat_r.max || lon < lon_r.min || lon > lon_r.max {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * cells;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * cells;
    Some(Hash { bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1), step })
}

fn decode(lon_r: Range, lat_r: Range, h: Hash) -> Area {
    let (ilat, ilon) = (squash(h.bits), squash(h.bits >> 1));
    let cells = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (lat_r.max - lat_r.min, lon_r.max - lon_r.min);
    // Redis adds 1 in 32-bit unsigned arithmetic: it wraps for garbage scores.
    Area {
        lat: Range {
            min: lat_r.min + (ilat as f64 * 1.0 / cells) * lat_scale,
            max: lat_r.min + (ilat.wrapping_add(1) as f64 * 1.0 / cells) * lat_scale,
        },
        lon: Range {
            min: lon_r.min + (ilon as f64 * 1.0 / cells) * lon_scale,
            max: lon_r.min + (ilon.wrapping_add(1) as f64 * 1.0 / cells) * lon_scale,
        },
    }
}

/// The score's bits as C's `(uint64_t)` cast gives them on x86-64 (the cast Redis
/// applies to any score, including ones ZADD put there): negative values wrap, values
/// past 2^64 and infinities give the "integer indefinite" pattern.
fn score_bits(score: f64) -> u64 {
    let cvtt = |v: f64| if (-TWO63..TWO63).contains(&v) { v as i64 } else { i64::MIN };
    if score < TWO63 {
        cvtt(score) as u64
    } else {
        (cvtt(score - TWO63) as u64) ^ (1u64 << 63)
    }
}

/// The (longitude, latitude) a score stands for: the centre of its cell, clamped.
fn decode_score(score: f64) -> (f64, f64) {
    let a = decode(WGS_LON, WGS_LAT, Hash { bits: score_bits(score), step: STEP_MAX });
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn align52(h: Hash) -> u64 {
    h.bits << (52 - h.step as u32 * 2)
}

/// One cell east (`d > 0`) or west.
fn move_x(h: Hash, d: i8) -> Hash {
    let shift = 64 - h.step as u32 * 2;
    let mut x = h.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0x5555_5555_5555_5555u64 >> shift;
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x = (x | zz).wrapping_sub(zz + 1);
    }
    x &= 0xAAAA_AAAA_AAAA_AAAAu64 >> shift;
    Hash { bits: x | y, step: h.step }
}

/// One cell north (`d > 0`) or south.
fn move_y(h: Hash, d: i8) -> Hash {
    let shift = 64 - h.step as u32 * 2;
    let x = h.bits & 0xAAAA_AAAA_AAAA_AAAA;
    let mut y = h.bits & 0x5555_5555_5555_5555;
    let zz = 0xAAAA_AAAA_AAAA_AAAAu64 >> shift;
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y = (y | zz).wrapping_sub(zz + 1);
    }
    y &= 0x5555_5555_5555_5555u64 >> shift;
    Hash { bits: x | y, step: h.step }
}

/// The cell itself then north, south, east, west, NE, NW, SE, SW (Redis's order).
fn neighbours(h: Hash) -> [Hash; 9] {
    [
        h,
        move_y(h, 1),
        move_y(h, -1),
        move_x(h, 1),
        move_x(h, -1),
        move_y(move_x(h, 1), 1),
        move_y(move_x(h, -1), 1),
        move_y(move_x(h, 1), -1),
        move_y(move_x(h, -1), -1),
    ]
}

fn estimate_step(mut range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (lat2 * D_R - lat1 * D_R).abs()
}

/// Haversine distance in meters (Redis's shortcut for equal longitudes included).
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lon1r, lon2r) = (lon1 * D_R, lon2 * D_R);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (lat1 * D_R, lat2 * D_R);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

// ---- search ----

#[derive(Clone, Copy)]
enum Kind {
    Radius(f64),
    /// Width, height.
    Box(f64, f64),
}

/// The search area; sizes in the user's unit, `conversion` meters per unit.
#[derive(Clone, Copy)]
struct Shape {
    lon: f64,
    lat: f64,
    conversion: f64,
    kind: Kind,
}

struct Point {
    member: Vec<u8>,
    lon: f64,
    lat: f64,
    dist: f64,
    score: f64,
}

impl Shape {
    /// Min lon, min lat, max lon, max lat around the centre.
    fn bounds(&self) -> [f64; 4] {
        let (w, h) = match self.kind {
            Kind::Radius(r) => (r, r),
            Kind::Box(w, h) => (w / 2.0, h / 2.0),
        };
        let height = self.conversion * h;
        let width = self.conversion * w;
        let lat_delta = height / EARTH_RADIUS / D_R;
        let lon_top = width / EARTH_RADIUS / ((self.lat + lat_delta) * D_R).cos() / D_R;
        let lon_bottom = width / EARTH_RADIUS / ((self.lat - lat_delta) * D_R).cos() / D_R;
        let d = if self.lat < 0.0 { lon_bottom } else { lon_top };
        [self.lon - d, self.lat - lat_delta, self.lon + d, self.lat + lat_delta]
    }

    /// The cells to scan, `None` for the ones that cannot hold a match.
    fn cells(&self) -> [Option<Hash>; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounds();
        let radius_m = match self.kind {
            Kind::Radius(r) => r,
            Kind::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
        } * self.conversion;
        let mut step = estimate_step(radius_m, self.lat);
        let at = |step: u8| encode(WGS_LON, WGS_LAT, self.lon, self.lat, step).unwrap_or(Hash { bits: 0, step });
        let mut hash = at(step);
        let mut n = neighbours(hash);
        let area = |h: Hash| decode(WGS_LON, WGS_LAT, h);
        // A border cell too close to the area: one level coarser.
        let too_small =
            area(n[1]).lat.max < max_lat || area(n[2]).lat.min > min_lat || area(n[3]).lon.max < max_lon || area(n[4]).lon.min > min_lon;
        if step > 1 && too_small {
            step -= 1;
            hash = at(step);
            n = neighbours(hash);
        }
        let mut cells = n.map(Some);
        if step >= 2 {
            let a = area(hash);
            let mut clear = |idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = None);
            if a.lat.min < min_lat {
                clear([2, 8, 7]);
            }
            if a.lat.max > max_lat {
                clear([1, 5, 6]);
            }
            if a.lon.min < min_lon {
                clear([4, 8, 6]);
            }
            if a.lon.max > max_lon {
                clear([3, 7, 5]);
            }
        }
        cells
    }

    /// The point of `score` with its distance from the centre, if inside the shape.
    fn contains(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (x, y) = decode_score(score);
        let dist = match self.kind {
            Kind::Radius(r) => {
                let d = distance(self.lon, self.lat, x, y);
                if d > r * self.conversion {
                    return None;
                }
                d
            }
            Kind::Box(w, h) => {
                if lat_distance(y, self.lat) > h * self.conversion / 2.0 {
                    return None;
                }
                if distance(x, y, self.lon, y) > w * self.conversion / 2.0 {
                    return None;
                }
                distance(self.lon, self.lat, x, y)
            }
        };
        Some((x, y, dist))
    }

    /// Members inside the shape, in scan order; stops at `limit` (0 = none) found.
    fn search(&self, z: &ZSet, limit: usize) -> Vec<Point> {
        let cells = self.cells();
        let mut found = Vec::new();
        let full = |found: &Vec<Point>| limit > 0 && found.len() >= limit;
        let mut last = 0;
        for (i, cell) in cells.iter().enumerate() {
            let Some(h) = *cell else { continue };
            // Huge radii make neighbours coincide; Redis never compares with cell 0.
            if last != 0 && cells[last] == Some(h) {
                continue;
            }
            if full(&found) {
                break;
            }
            let min = align52(h) as f64;
            let max = align52(Hash { bits: h.bits + 1, step: h.step }) as f64;
            let (start, end) = z.score_range(min, false, max, true);
            let mut rank = start;
            z.visit(start, false, |m, s| {
                if rank >= end {
                    return false;
                }
                rank += 1;
                if let Some((lon, lat, dist)) = self.contains(s) {
                    found.push(Point { member: m.to_vec(), lon, lat, dist, score: s });
                }
                !full(&found)
            });
            last = i;
        }
        found
    }
}

// ---- arguments and replies ----

/// A double argument as Redis's `string2d` takes it: on top of the shared parser's
/// rules, a value that overflows to infinity or underflows to zero is refused.
fn parse_f64(a: &[u8]) -> Option<f64> {
    let v = crate::util::parse_f64(a)?;
    let mantissa = a.split(|c| matches!(c, b'e' | b'E')).next().unwrap_or(a);
    let out_of_range =
        (v.is_infinite() && a.iter().any(u8::is_ascii_digit)) || (v == 0.0 && mantissa.iter().any(|c| matches!(c, b'1'..=b'9')));
    (!out_of_range).then_some(v)
}

fn lonlat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Error> {
    let lon = parse_f64(lon).ok_or(Error::from(err::NOT_FLOAT))?;
    let lat = parse_f64(lat).ok_or(Error::from(err::NOT_FLOAT))?;
    if !(LON_MIN..=LON_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}").into());
    }
    Ok((lon, lat))
}

/// Meters per unit.
fn unit(a: &[u8]) -> Result<f64, Error> {
    match a.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err("ERR unsupported unit provided. please use M, KM, FT, MI".into()),
    }
}

fn radius(r: &[u8], u: &[u8]) -> Result<(f64, f64), Error> {
    let r = parse_f64(r).ok_or(Error::from("ERR need numeric radius"))?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    Ok((r, unit(u)?))
}

fn rect(w: &[u8], h: &[u8], u: &[u8]) -> Result<(f64, f64, f64), Error> {
    let w = parse_f64(w).ok_or(Error::from("ERR need numeric width"))?;
    let h = parse_f64(h).ok_or(Error::from("ERR need numeric height"))?;
    if h < 0.0 || w < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    Ok((w, h, unit(u)?))
}

/// `%.17Lf` with trailing zeros (and a bare point) removed, "-0" as "0": how Redis
/// prints coordinates.
fn human(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

/// A coordinate: a bulk string in RESP2, a double in RESP3, both in the human format.
fn reply_coord(out: &mut ReplyBuf, d: f64) {
    let s = human(d);
    if out.resp3 {
        out.buf.push(b',');
        out.buf.extend_from_slice(s.as_bytes());
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(s.as_bytes());
    }
}

/// Distances have exactly 4 decimals (rounded half to even, as `llrint`).
fn distance_str(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even();
    let sv = if (-TWO63..TWO63).contains(&v) { v as i64 } else { i64::MIN };
    let u = sv.unsigned_abs();
    format!("{}{}.{:04}", if sv < 0 { "-" } else { "" }, u / 10000, u % 10000)
}

// ---- commands ----

/// GEOADD is ZADD with encoded positions, and propagates as that ZADD.
pub fn geoadd(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let key = args[1];
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut idx = 2;
    while idx < args.len() {
        let a = args[idx];
        if a.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if a.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if a.eq_ignore_ascii_case(b"ch") {
            ch = true;
        } else {
            break;
        }
        idx += 1;
    }
    if !(args.len() - idx).is_multiple_of(3) || (xx && nx) {
        return Err(err::SYNTAX.into());
    }
    let elements = (args.len() - idx) / 3;
    let mut scores = Vec::with_capacity(elements);
    for i in 0..elements {
        let at = idx + i * 3;
        let (lon, lat) = lonlat(args[at], args[at + 1])?;
        let h = encode(WGS_LON, WGS_LAT, lon, lat, STEP_MAX).expect("checked range");
        scores.push(align52(h));
    }
    if elements == 0 {
        // What the ZADD it turns into says.
        return Err(err::SYNTAX.into());
    }
    let lim = limits(ctx);
    if ctx.write::<ZSet>(key)?.is_none() {
        if xx {
            ctx.out.int(0);
            return Ok(());
        }
        let z = ZSet::with_hint(elements, args[idx + 2].len(), lim);
        ctx.store(key, z.into_value(), 0);
    }
    let z = ctx.write::<ZSet>(key)?.expect("exists");
    if z.is_packed() && elements > lim.entries {
        z.convert_to_tree();
    }
    let flags = if nx {
        NX
    } else if xx {
        XX
    } else {
        0
    };
    let (mut added, mut updated) = (0i64, 0i64);
    for (i, &bits) in scores.iter().enumerate() {
        match zadd_one(z, args[idx + i * 3 + 2], bits as f64, flags, lim) {
            Some(Outcome::Added(_)) => added += 1,
            Some(Outcome::Updated(_)) => updated += 1,
            _ => {}
        }
    }
    if added + updated > 0 {
        let texts: Vec<String> = scores.iter().map(|s| s.to_string()).collect();
        let mut zargs: Vec<&[u8]> = Vec::with_capacity(idx + elements * 2);
        zargs.push(b"zadd");
        zargs.extend_from_slice(&args[1..idx]);
        for (i, t) in texts.iter().enumerate() {
            zargs.push(t.as_bytes());
            zargs.push(args[idx + i * 3 + 2]);
        }
        ctx.notify(crate::notify::ZSET, "zadd", key);
        ctx.propagate(&zargs);
    }
    ctx.out.int(if ch { added + updated } else { added });
    Ok(())
}

pub fn geodist(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let to_meter = match args.len() {
        5 => unit(args[4])?,
        n if n > 5 => return Err(err::SYNTAX.into()),
        _ => 1.0,
    };
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    match z.and_then(|z| Some((z.score(args[2])?, z.score(args[3])?))) {
        None => out.null(),
        Some((s1, s2)) => {
            let (lon1, lat1) = decode_score(s1);
            let (lon2, lat2) = decode_score(s2);
            out.bulk(distance_str(distance(lon1, lat1, lon2, lat2) / to_meter).as_bytes());
        }
    }
    Ok(())
}

pub fn geohash(ctx: &mut Ctx) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    // The standard geohash covers latitudes -90..90, unlike the stored cells.
    const STD_LAT: Range = Range { min: -90.0, max: 90.0 };
    let args = ctx.args;
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    out.array(args.len() - 2);
    for m in &args[2..] {
        let Some(score) = z.as_ref().and_then(|z| z.score(m)) else {
            out.null();
            continue;
        };
        let (lon, lat) = decode_score(score);
        let bits = encode(WGS_LON, STD_LAT, lon, lat, STEP_MAX).map_or(0, |h| h.bits);
        let mut s = [b'0'; 11];
        for (i, c) in s.iter_mut().take(10).enumerate() {
            *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
        }
        out.bulk(&s);
    }
    Ok(())
}

pub fn geopos(ctx: &mut Ctx) -> CmdResult {
    let args = ctx.args;
    let (z, out) = ctx.read_out::<ZSet>(args[1])?;
    out.array(args.len() - 2);
    for m in &args[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            None => out.null_array(),
            Some(score) => {
                let (lon, lat) = decode_score(score);
                out.array(2);
                reply_coord(out, lon);
                reply_coord(out, lat);
            }
        }
    }
    Ok(())
}

pub fn georadius(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Radius { by_member: false, store: true })
}

pub fn georadiusbymember(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Radius { by_member: true, store: true })
}

pub fn georadius_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Radius { by_member: false, store: false })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Radius { by_member: true, store: false })
}

pub fn geosearch(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Search { store: false })
}

pub fn geosearchstore(ctx: &mut Ctx) -> CmdResult {
    search_generic(ctx, Mode::Search { store: true })
}

/// Shards for GEORADIUS[BYMEMBER]: the source and any STORE/STOREDIST destination.
pub fn georadius_slots(args: &[&[u8]], db: usize, _ndbs: usize) -> Result<Slots, Error> {
    let mut v: Slots = smallvec::smallvec![Keyspace::slot(db, args[1])];
    for i in 3..args.len() {
        let w = args[i - 1];
        if w.eq_ignore_ascii_case(b"store") || w.eq_ignore_ascii_case(b"storedist") {
            v.push(Keyspace::slot(db, args[i]));
        }
    }
    Ok(v)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// GEORADIUS family; `store` allows STORE/STOREDIST.
    Radius { by_member: bool, store: bool },
    /// GEOSEARCH, or GEOSEARCHSTORE when `store`.
    Search { store: bool },
}

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

/// What a search asked for, once its arguments are understood.
struct Query<'a> {
    store: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    count: usize,
}

enum Found<'a> {
    /// The source key does not exist.
    NoKey(Query<'a>),
    Points(Query<'a>, Vec<Point>, f64),
}

fn search_generic(ctx: &mut Ctx, mode: Mode) -> CmdResult {
    let args = ctx.args;
    let src = if mode == (Mode::Search { store: true }) { 2 } else { 1 };
    let found = {
        let z = ctx.read::<ZSet>(args[src])?;
        run_search(args, z.map(|z| &*z), mode)?
    };
    let (q, items, conversion) = match found {
        Found::NoKey(q) => (q, Vec::new(), 1.0),
        Found::Points(q, p, c) => (q, p, c),
    };
    if let Some(dst) = q.store {
        let n = items.len();
        let zitems: Vec<(Vec<u8>, f64)> =
            items.into_iter().map(|p| (p.member, if q.storedist { p.dist / conversion } else { p.score })).collect();
        // GEORADIUS's destination is no key position: WATCH must hear of it here.
        let changed = n > 0 || ctx.exists(dst);
        let event = if matches!(mode, Mode::Search { .. }) { "geosearchstore" } else { "georadiusstore" };
        store_result(ctx, dst, zitems, event);
        if changed && matches!(mode, Mode::Radius { .. }) {
            ctx.srv.watches.touch(ctx.client.db, dst, n == 0);
        }
        ctx.out.int(n as i64);
        return Ok(());
    }
    let extra = q.withdist as usize + q.withhash as usize + q.withcoord as usize;
    let out = &mut *ctx.out;
    out.array(items.len());
    for p in items {
        if extra > 0 {
            out.array(extra + 1);
        }
        out.bulk(&p.member);
        if q.withdist {
            out.bulk(distance_str(p.dist / conversion).as_bytes());
        }
        if q.withhash {
            out.int(p.score as i64);
        }
        if q.withcoord {
            out.array(2);
            reply_coord(out, p.lon);
            reply_coord(out, p.lat);
        }
    }
    Ok(())
}

/// Parses a search's arguments in Redis's order (so the same error wins) and runs it.
fn run_search<'a>(args: &'a [&'a [u8]], z: Option<&ZSet>, mode: Mode) -> Result<Found<'a>, Error> {
    let mut shape = Shape { lon: 0.0, lat: 0.0, conversion: 0.0, kind: Kind::Radius(0.0) };
    let mut q =
        Query { store: None, storedist: false, withdist: false, withhash: false, withcoord: false, sort: Sort::None, any: false, count: 0 };
    let (search, store_ok) = match mode {
        Mode::Radius { store, .. } => (false, store),
        Mode::Search { .. } => (true, false),
    };
    let base = match mode {
        Mode::Radius { by_member: false, .. } => {
            (shape.lon, shape.lat) = lonlat(args[2], args[3])?;
            let (r, conv) = radius(args[4], args[5])?;
            (shape.kind, shape.conversion) = (Kind::Radius(r), conv);
            6
        }
        Mode::Radius { by_member: true, .. } => {
            // Without the key the radius is not even parsed.
            if let Some(z) = z {
                (shape.lon, shape.lat) = decode_score(z.score(args[2]).ok_or(Error::from(NO_MEMBER))?);
                let (r, conv) = radius(args[3], args[4])?;
                (shape.kind, shape.conversion) = (Kind::Radius(r), conv);
            }
            5
        }
        Mode::Search { store: false } => 2,
        Mode::Search { store: true } => {
            q.store = Some(args[1]);
            3
        }
    };
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let remaining = args.len() - base;
    let mut i = 0;
    while i < remaining {
        let a = args[base + i];
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        let at = |k: usize| args[base + i + k];
        if is("withdist") {
            q.withdist = true;
        } else if is("withhash") {
            q.withhash = true;
        } else if is("withcoord") {
            q.withcoord = true;
        } else if is("any") {
            q.any = true;
        } else if is("asc") {
            q.sort = Sort::Asc;
        } else if is("desc") {
            q.sort = Sort::Desc;
        } else if is("count") && i + 1 < remaining {
            let n = crate::util::parse_canonical_i64(at(1)).ok_or(Error::from(err::NOT_INT))?;
            if n <= 0 {
                return Err("ERR COUNT must be > 0".into());
            }
            q.count = n as usize;
            i += 1;
        } else if (is("store") || is("storedist")) && i + 1 < remaining && store_ok {
            q.store = Some(at(1));
            q.storedist = is("storedist");
            i += 1;
        } else if is("storedist") && mode == (Mode::Search { store: true }) {
            q.storedist = true;
        } else if is("frommember") && i + 1 < remaining && search && !fromloc {
            if let Some(z) = z {
                (shape.lon, shape.lat) = decode_score(z.score(at(1)).ok_or(Error::from(NO_MEMBER))?);
            }
            frommember = true;
            i += 1;
        } else if is("fromlonlat") && i + 2 < remaining && search && !frommember {
            (shape.lon, shape.lat) = lonlat(at(1), at(2))?;
            fromloc = true;
            i += 2;
        } else if is("byradius") && i + 2 < remaining && search && !bybox {
            let (r, conv) = radius(at(1), at(2))?;
            (shape.kind, shape.conversion) = (Kind::Radius(r), conv);
            byradius = true;
            i += 2;
        } else if is("bybox") && i + 3 < remaining && search && !byradius {
            let (w, h, conv) = rect(at(1), at(2), at(3))?;
            (shape.kind, shape.conversion) = (Kind::Box(w, h), conv);
            bybox = true;
            i += 3;
        } else {
            return Err(err::SYNTAX.into());
        }
        i += 1;
    }
    if q.store.is_some() && (q.withdist || q.withhash || q.withcoord) {
        let what = if mode == (Mode::Search { store: true }) { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options").into());
    }
    let name = String::from_utf8_lossy(args[0]);
    if search && !(frommember || fromloc) {
        return Err(format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}").into());
    }
    if search && !(byradius || bybox) {
        return Err(format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}").into());
    }
    if q.any && q.count == 0 {
        return Err("ERR the ANY argument requires COUNT argument".into());
    }
    let Some(z) = z else { return Ok(Found::NoKey(q)) };
    if q.count != 0 && q.sort == Sort::None && !q.any {
        q.sort = Sort::Asc;
    }
    let mut points = shape.search(z, if q.any { q.count } else { 0 });
    match q.sort {
        Sort::Asc => points.sort_by(|a, b| a.dist.partial_cmp(&b.dist).unwrap_or(std::cmp::Ordering::Equal)),
        Sort::Desc => points.sort_by(|a, b| b.dist.partial_cmp(&a.dist).unwrap_or(std::cmp::Ordering::Equal)),
        Sort::None => {}
    }
    if q.count != 0 {
        points.truncate(q.count);
    }
    Ok(Found::Points(q, points, shape.conversion))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(squash(spread(v) << 1 >> 1), v);
        }
    }

    #[test]
    fn scores_and_formats_match_redis() {
        // Values checked against redis-server 7.2.6.
        let h = encode(WGS_LON, WGS_LAT, 13.361389, 38.115556, STEP_MAX).unwrap();
        assert_eq!(align52(h), 3479099956230698);
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(human(lon), "13.36138933897018433");
        assert_eq!(human(lat), "38.11555639549629859");
        assert_eq!(human(-0.0), "0");
        assert_eq!(distance_str(166274.15156960033), "166274.1516");
        assert_eq!(distance_str(0.00001), "0.0000");
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(f64::INFINITY), 0);
        assert_eq!(score_bits(f64::NEG_INFINITY), 1 << 63);
    }
}
