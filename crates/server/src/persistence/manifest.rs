//! The multi-part AOF manifest of Redis 7 (`appendonlydir/<appendfilename>.manifest`):
//! which files make up the AOF, in which order. Parsing accepts exactly what Redis
//! 7.0/7.2 accept, with their error messages; writing produces their bytes.

use std::fmt;

/// The longest manifest line Redis reads, newline excluded.
const MAX_LINE: usize = 1024;

/// What an AOF file holds, with the letter the manifest uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The snapshot of the last rewrite (`b`).
    Base,
    /// A file made obsolete by a rewrite, waiting to be deleted (`h`).
    History,
    /// Commands written since the last rewrite (`i`).
    Incr,
}

impl Kind {
    pub fn letter(self) -> u8 {
        match self {
            Kind::Base => b'b',
            Kind::History => b'h',
            Kind::Incr => b'i',
        }
    }

    pub fn from_letter(c: u8) -> Option<Kind> {
        match c {
            b'b' => Some(Kind::Base),
            b'h' => Some(Kind::History),
            b'i' => Some(Kind::Incr),
            _ => None,
        }
    }
}

/// One line of the manifest. `seq` is signed because Redis keeps it in a `long long`
/// and accepts any non-zero value there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: i64,
    pub kind: Kind,
}

/// The files of a multi-part AOF. `base_seq` and `incr_seq` are the last sequence
/// numbers used, from which the next file names are made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
    pub base_seq: i64,
    pub incr_seq: i64,
}

/// Why a manifest was refused: Redis's message, and the offending line (number from
/// 1, trimmed text) when Redis shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    pub line: Option<(usize, String)>,
    pub msg: &'static str,
}

impl ManifestError {
    /// The messages Redis logs (one warning each) before exiting.
    pub fn log_lines(&self) -> Vec<String> {
        let mut v = vec!["\n*** FATAL AOF MANIFEST FILE ERROR ***\n".to_string()];
        if let Some((n, text)) = &self.line {
            v.push(format!("Reading the manifest file, at line {n}\n"));
            v.push(format!(">>> '{text}'\n"));
        }
        v.push(format!("{}\n", self.msg));
        v
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line {
            Some((n, text)) => write!(f, "{} (manifest line {n}: '{text}')", self.msg),
            None => f.write_str(self.msg),
        }
    }
}

impl std::error::Error for ManifestError {}

/// `isspace` of the C locale.
fn c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `isprint` of the C locale.
fn c_print(c: u8) -> bool {
    (0x20..0x7f).contains(&c)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line the way redis.conf and the manifest are split (`sdssplitargs`): blanks
/// separate words, "double quotes" take C escapes and `\xHH`, 'single quotes' only `\'`.
/// `None` for unbalanced quotes or a closing quote followed by something else than a
/// blank.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && c_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(out);
        }
        let mut cur = Vec::new();
        let (mut dq, mut sq) = (false, false);
        loop {
            let c = at(p);
            if dq {
                if c == b'\\' && at(p + 1) == b'x' && hex(at(p + 2)).is_some() && hex(at(p + 3)).is_some() {
                    cur.push(hex(at(p + 2)).unwrap() * 16 + hex(at(p + 3)).unwrap());
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    cur.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        o => o,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => dq = true,
                    b'\'' => sq = true,
                    _ => cur.push(c),
                }
            }
            if c != 0 {
                p += 1;
            }
        }
        out.push(cur);
    }
}

/// Whether `s` must be quoted to survive `split_args` (`sdsneedsrepr`).
pub fn needs_repr(s: &[u8]) -> bool {
    s.iter().any(|&c| matches!(c, b'\\' | b'"') || !c_print(c) || c_space(c))
}

/// `s` in double quotes with C escapes, as `split_args` reads it back (`sdscatrepr`).
pub fn repr(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &c in s {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            c if c_print(c) => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// `atoll`: optional blanks and sign, then digits up to the first non-digit;
/// saturating like glibc's `strtoll`.
fn atoll(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + (s[i] - b'0') as i128).min(i64::MAX as i128 + 1);
        i += 1;
    }
    let v = if neg { -v } else { v };
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Bytes up to the first NUL, as C string functions see them.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..memchr::memchr(0, b).unwrap_or(b.len())]
}

/// Redis trims these from both ends of a manifest line.
fn trim(mut s: &[u8]) -> &[u8] {
    let t = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(t) {
        s = &s[1..];
    }
    while s.last().is_some_and(t) {
        s = &s[..s.len() - 1];
    }
    s
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest::default()
    }

    /// Reads a manifest file's contents, accepting and refusing what Redis does.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::new();
        let mut max_incr = 0i64;
        let mut lines = 0usize;
        let mut rest = text;
        let fail = |line: Option<(usize, &[u8])>, msg| {
            Err(ManifestError { line: line.map(|(n, t)| (n, String::from_utf8_lossy(t).into_owned())), msg })
        };
        while !rest.is_empty() {
            // One read of at most MAX_LINE bytes that stops after a newline, like fgets.
            let n = match memchr::memchr(b'\n', &rest[..rest.len().min(MAX_LINE)]) {
                Some(i) => i + 1,
                None => rest.len().min(MAX_LINE),
            };
            let chunk = c_str(&rest[..n]);
            rest = &rest[n..];
            lines += 1;
            if chunk.first() == Some(&b'#') {
                continue;
            }
            if memchr::memchr(b'\n', chunk).is_none() {
                return fail(None, "The AOF manifest file contains too long line");
            }
            let line = trim(chunk);
            let here = Some((lines, line));
            if line.is_empty() {
                return fail(here, "Invalid AOF manifest file format");
            }
            let args = match split_args(line) {
                Some(a) if a.len() >= 6 && a.len() % 2 == 0 => a,
                _ => return fail(here, "Invalid AOF manifest file format"),
            };
            let (mut name, mut seq, mut kind) = (None::<&[u8]>, 0i64, 0u8);
            for kv in args.chunks(2) {
                let (k, v) = (c_str(&kv[0]), c_str(&kv[1]));
                if k.eq_ignore_ascii_case(b"file") {
                    if v.contains(&b'/') || v.contains(&b'\\') {
                        return fail(here, "File can't be a path, just a filename");
                    }
                    name = Some(v);
                } else if k.eq_ignore_ascii_case(b"seq") {
                    seq = atoll(v);
                } else if k.eq_ignore_ascii_case(b"type") {
                    kind = v.first().copied().unwrap_or(0);
                }
            }
            let (Some(name), true, true) = (name, seq != 0, kind != 0) else {
                return fail(here, "Invalid AOF manifest file format");
            };
            let Ok(name) = std::str::from_utf8(name) else {
                return fail(here, "File name is not valid UTF-8");
            };
            let mut file = AofFile { name: name.to_string(), seq, kind: Kind::Base };
            match Kind::from_letter(kind) {
                Some(Kind::Base) => {
                    if m.base.is_some() {
                        return fail(here, "Found duplicate base file information");
                    }
                    m.base_seq = seq;
                    m.base = Some(file);
                }
                Some(Kind::History) => {
                    file.kind = Kind::History;
                    m.history.push(file);
                }
                Some(Kind::Incr) => {
                    if seq <= max_incr {
                        return fail(here, "Found a non-monotonic sequence number");
                    }
                    file.kind = Kind::Incr;
                    m.incrs.push(file);
                    m.incr_seq = seq;
                    max_incr = seq;
                }
                None => return fail(here, "Unknown AOF file type"),
            }
        }
        if lines == 0 {
            return fail(None, "Found an empty AOF manifest");
        }
        Ok(m)
    }

    /// The manifest as Redis writes it: base, then history, then incr files.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in self.base.iter().chain(&self.history).chain(&self.incrs) {
            let name = if needs_repr(f.name.as_bytes()) { repr(f.name.as_bytes()) } else { f.name.clone() };
            out.push_str(&format!("file {} seq {} type {}\n", name, f.seq, f.kind.letter() as char));
        }
        out
    }

    /// Starts a new base file (after a rewrite): the current base becomes the first
    /// history file. Returns the new base's name.
    pub fn new_base(&mut self, appendfilename: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = Kind::History;
            self.history.insert(0, old);
        }
        self.base_seq += 1;
        let name = base_name(appendfilename, self.base_seq, rdb_preamble);
        self.base = Some(AofFile { name: name.clone(), seq: self.base_seq, kind: Kind::Base });
        name
    }

    /// Appends a new incr file and returns its name.
    pub fn new_incr(&mut self, appendfilename: &str) -> String {
        self.incr_seq += 1;
        let name = incr_name(appendfilename, self.incr_seq);
        self.incrs.push(AofFile { name: name.clone(), seq: self.incr_seq, kind: Kind::Incr });
        name
    }

    /// The incr file commands are appended to, made when there is none.
    pub fn last_incr_or_new(&mut self, appendfilename: &str) -> String {
        match self.incrs.last() {
            Some(f) => f.name.clone(),
            None => self.new_incr(appendfilename),
        }
    }

    /// After a successful rewrite, the incr files it covers become history (newest
    /// first at the head, as Redis orders them). `keep_last` keeps the file being
    /// written to, when the AOF is on.
    pub fn mark_rewritten_incrs_as_history(&mut self, keep_last: bool) {
        let keep = usize::from(keep_last && !self.incrs.is_empty());
        let moved: Vec<AofFile> = self.incrs.drain(..self.incrs.len() - keep).collect();
        for mut f in moved {
            f.kind = Kind::History;
            self.history.insert(0, f);
        }
    }

    /// The files to load, in order: base first, then the incr files.
    pub fn load_order(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(&self.incrs)
    }
}

/// `<appendfilename>.<seq>.base.rdb` or `.base.aof`.
pub fn base_name(appendfilename: &str, seq: i64, rdb_preamble: bool) -> String {
    format!("{appendfilename}.{seq}.base.{}", if rdb_preamble { "rdb" } else { "aof" })
}

/// `<appendfilename>.<seq>.incr.aof`.
pub fn incr_name(appendfilename: &str, seq: i64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}

/// `<appendfilename>.manifest`.
pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

/// The manifest is written here first, then renamed over the real one.
pub fn temp_manifest_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.manifest")
}

/// The incr file opened during a rewrite when the AOF is off.
pub fn temp_incr_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.incr")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ManifestError {
        Manifest::parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn round_trip_as_redis_writes_it() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.incrs[0].kind, Kind::Incr);
        assert_eq!((m.base_seq, m.incr_seq), (2, 2));
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn keys_any_order_case_comments_and_extra_keys() {
        let text = "# hi\n  SEQ 3 type i FILE x.aof future yes \r\n#x\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.incrs, vec![AofFile { name: "x.aof".into(), seq: 3, kind: Kind::Incr }]);
        assert_eq!(m.to_text(), "file x.aof seq 3 type i\n");
        // Only comments: an empty manifest, not an error.
        assert_eq!(Manifest::parse(b"# nothing\n").unwrap(), Manifest::new());
    }

    #[test]
    fn quoted_names() {
        let m = Manifest::parse(b"file \"a b\\x41\\n\\\"\" seq 1 type b\n").unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "a bA\n\"");
        assert_eq!(m.to_text(), "file \"a bA\\n\\\"\" seq 1 type b\n");
        let m = Manifest::parse("file 'it\\'s' seq 1 type b\n".as_bytes()).unwrap();
        assert_eq!(m.base.unwrap().name, "it's");
        let m = Manifest { base: Some(AofFile { name: "é".into(), seq: 1, kind: Kind::Base }), ..Manifest::new() };
        assert_eq!(m.to_text(), "file \"\\xc3\\xa9\" seq 1 type b\n");
        assert_eq!(Manifest::parse(m.to_text().as_bytes()).unwrap(), Manifest { base_seq: 1, ..m });
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(err("").msg, "Found an empty AOF manifest");
        let e = err("file a seq 1 type b");
        assert_eq!((e.msg, e.line), ("The AOF manifest file contains too long line", None));
        let long = format!("file {} seq 1 type b\n", "a".repeat(1100));
        assert_eq!(err(&long).msg, "The AOF manifest file contains too long line");
        let e = err("file a seq 1 type b\n\n");
        assert_eq!((e.msg, e.line), ("Invalid AOF manifest file format", Some((2, String::new()))));
        assert_eq!(err("file a seq 1\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 1 type b x\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 0 type b\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file a seq x type b\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file a seq 1 type '' \n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file \"a\"b seq 1 type b\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file \"a seq 1 type b\n").msg, "Invalid AOF manifest file format");
        assert_eq!(err("file d/a seq 1 type b\n").msg, "File can't be a path, just a filename");
        assert_eq!(err("file a seq 1 type b\nfile b seq 2 type b\n").msg, "Found duplicate base file information");
        assert_eq!(err("file a seq 2 type i\nfile b seq 2 type i\n").msg, "Found a non-monotonic sequence number");
        let e = err("file a seq 1 type x\n");
        assert_eq!(e.msg, "Unknown AOF file type");
        assert_eq!(e.line, Some((1, "file a seq 1 type x".into())));
        assert_eq!(
            e.log_lines(),
            vec![
                "\n*** FATAL AOF MANIFEST FILE ERROR ***\n",
                "Reading the manifest file, at line 1\n",
                ">>> 'file a seq 1 type x'\n",
                "Unknown AOF file type\n"
            ]
        );
    }

    #[test]
    fn loose_fields_redis_accepts() {
        // atoll: a number prefix, a sign; the type is only its first letter.
        let m = Manifest::parse(b"file a seq 12abc type base\nfile b seq -1 type hist\n").unwrap();
        assert_eq!(m.base.unwrap().seq, 12);
        assert_eq!(m.history[0].seq, -1);
        // The last of repeated keys wins.
        let m = Manifest::parse(b"file a file b seq 1 type i\n").unwrap();
        assert_eq!(m.incrs[0].name, "b");
    }

    #[test]
    fn rewrite_transitions() {
        let mut m = Manifest::new();
        assert_eq!(m.last_incr_or_new("appendonly.aof"), "appendonly.aof.1.incr.aof");
        assert_eq!(m.new_base("appendonly.aof", true), "appendonly.aof.1.base.rdb");
        assert_eq!(m.new_incr("appendonly.aof"), "appendonly.aof.2.incr.aof");
        m.mark_rewritten_incrs_as_history(true);
        assert_eq!(m.new_base("appendonly.aof", false), "appendonly.aof.2.base.aof");
        assert_eq!(
            m.to_text(),
            "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.1.base.rdb seq 1 type h\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
        );
        assert_eq!(manifest_name("appendonly.aof"), "appendonly.aof.manifest");
        assert_eq!(temp_manifest_name("appendonly.aof"), "temp-appendonly.aof.manifest");
    }
}
