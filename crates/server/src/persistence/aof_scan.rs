//! A streaming reader of AOF files (RESP commands, `#` annotation lines), reading the
//! way redis-check-aof does, so that its offsets, line counts and messages can be
//! reproduced, and telling a truncated tail (which `aof-load-truncated` and `--fix`
//! cut off) from corrupt data.
//!
//! An AOF may start with an RDB image (an RDB-preamble AOF, or an RDB base file):
//! [`has_rdb_preamble`] tells, and the caller, once it has loaded the RDB part,
//! resumes here with [`AofScanner::at`] at the offset after the RDB checksum.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Redis reads `*<n>` and `$<n>` lines into a buffer of this size (`fgets`).
const NUMBER_LINE_MAX: usize = 128;
/// ... and annotation lines into one of this size (`AOF_ANNOTATION_LINE_MAX_LEN`).
const ANNOTATION_LINE_MAX: usize = 1024;

/// One thing read from an AOF. `offset` is where it starts, `end` where the next begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Command {
        offset: u64,
        end: u64,
        args: Vec<Vec<u8>>,
        /// Where the first argument's bytes start: redis-check-aof reports MULTI/EXEC
        /// nesting errors there.
        name_at: u64,
    },
    /// A `#...` line; `timestamp` is set for a well-formed `#TS:<unix seconds>`.
    Annotation { offset: u64, end: u64, line: Vec<u8>, timestamp: Option<i64> },
}

impl Entry {
    pub fn offset(&self) -> u64 {
        match self {
            Entry::Command { offset, .. } | Entry::Annotation { offset, .. } => *offset,
        }
    }

    pub fn end(&self) -> u64 {
        match self {
            Entry::Command { end, .. } | Entry::Annotation { end, .. } => *end,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file ends inside an entry: everything from `entry_start` on is an
    /// incomplete last command.
    Truncated,
    /// A byte that cannot be there, at `offset`.
    Corrupt,
    /// An entry starting with something other than `*` or `#` (redis-check-aof's
    /// "AOF ... format error").
    BadStart,
    Io,
}

/// Why scanning stopped before a clean end of file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanError {
    pub kind: ErrorKind,
    /// Where the failing entry starts: the end of the last complete one.
    pub entry_start: u64,
    /// The offending byte (for Truncated: the end of the file).
    pub offset: u64,
    /// Where the read that failed started, which redis-check-aof prints.
    pub epos: u64,
    /// redis-check-aof's wording; empty where it prints none.
    pub msg: String,
}

impl ScanError {
    /// The error line redis-check-aof prints (`0x<offset>: <message>`), if any.
    pub fn redis_line(&self) -> Option<String> {
        (!self.msg.is_empty()).then(|| format!("0x{:16x}: {}", self.epos, self.msg))
    }
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            ErrorKind::Truncated => "truncated AOF",
            ErrorKind::Corrupt => "corrupt AOF",
            ErrorKind::BadStart => "AOF format error",
            ErrorKind::Io => "AOF read error",
        };
        write!(f, "{what} at offset {}", self.offset)?;
        if !self.msg.is_empty() {
            write!(f, ": {}", self.msg)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScanError {}

/// Whether AOF bytes begin with an RDB image (the `REDIS` magic), checked on a
/// file's first bytes. Like Redis, a file shorter than an RDB header is not one.
pub fn has_rdb_preamble(head: &[u8]) -> bool {
    head.len() >= 8 && head.starts_with(b"REDIS")
}

/// [`has_rdb_preamble`] for a file.
pub fn file_has_rdb_preamble(path: &Path) -> io::Result<bool> {
    let mut head = Vec::with_capacity(9);
    File::open(path)?.take(9).read_to_end(&mut head)?;
    Ok(has_rdb_preamble(&head))
}

/// The time of a `#TS:<unix seconds>\r\n` annotation line, judged as Redis does
/// (`strtol` up to a `\r`, so `#TS:\r\n` is time 0).
pub fn timestamp_of(line: &[u8]) -> Option<i64> {
    let rest = line.strip_prefix(b"#TS:")?;
    let (v, used, overflow) = strtol(rest);
    (!overflow && rest.get(used) == Some(&b'\r')).then_some(v)
}

/// C's `strtol` in base 10: the value (saturated), bytes used (0 when there are no
/// digits), and whether it overflowed.
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let digits = i;
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + (s[i] - b'0') as i128).min(1 << 64);
        i += 1;
    }
    if i == digits {
        return (0, 0, false);
    }
    let v = if neg { -v } else { v };
    let clamped = v.clamp(i64::MIN as i128, i64::MAX as i128);
    (clamped as i64, i, clamped != v)
}

/// Reads AOF entries one by one from a buffered reader.
pub struct AofScanner<R> {
    r: R,
    pos: u64,
    crlfs: u64,
    last_epos: u64,
    failed: bool,
    /// Reused for `*<n>` / `$<n>` lines: loading reads millions of them.
    line: Vec<u8>,
}

impl AofScanner<BufReader<File>> {
    /// Opens `path` and starts reading at byte `start` (0, or the end of an RDB
    /// preamble).
    pub fn open(path: &Path, start: u64) -> io::Result<Self> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(start))?;
        Ok(AofScanner::at(BufReader::with_capacity(64 * 1024, f), start))
    }
}

impl<R: BufRead> AofScanner<R> {
    pub fn new(r: R) -> Self {
        Self::at(r, 0)
    }

    /// A scanner over `r`, which is already positioned at file offset `start`.
    pub fn at(r: R, start: u64) -> Self {
        AofScanner { r, pos: start, crlfs: 0, last_epos: start, failed: false, line: Vec::with_capacity(NUMBER_LINE_MAX) }
    }

    /// The offset of the next byte to read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// How many CRLF line ends were read (redis-check-aof's line count, less one).
    pub fn crlfs(&self) -> u64 {
        self.crlfs
    }

    /// Where the last read started, which redis-check-aof reports for errors it finds
    /// after reading (an EXEC missing at the end of the file).
    pub fn last_read_offset(&self) -> u64 {
        self.last_epos
    }

    /// `fgets`: bytes through the next newline, at most `max - 1` of them.
    fn read_line(&mut self, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_line_into(max, &mut out)?;
        Ok(out)
    }

    fn read_line_into(&mut self, max: usize, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        while out.len() < max - 1 {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let want = (max - 1 - out.len()).min(buf.len());
            let (n, done) = match memchr::memchr(b'\n', &buf[..want]) {
                Some(i) => (i + 1, true),
                None => (want, false),
            };
            out.extend_from_slice(&buf[..n]);
            self.r.consume(n);
            if done {
                break;
            }
        }
        self.pos += out.len() as u64;
        Ok(())
    }

    /// Up to `n` bytes, fewer only at the end of the file.
    fn read_bytes(&mut self, n: u64) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n.min(1 << 20) as usize);
        (&mut self.r).take(n).read_to_end(&mut out)?;
        self.pos += out.len() as u64;
        Ok(out)
    }

    fn fail(&mut self, kind: ErrorKind, entry_start: u64, offset: u64, epos: u64, msg: String) -> ScanError {
        self.failed = true;
        ScanError { kind, entry_start, offset, epos, msg }
    }

    fn io_fail(&mut self, entry_start: u64, e: io::Error) -> ScanError {
        let pos = self.pos;
        self.fail(ErrorKind::Io, entry_start, pos, pos, e.to_string())
    }

    /// Checks that `b` starts with CRLF; `at` is the offset of `b[0]`. Callers deal
    /// with a file ending early, so a mismatch here is corruption.
    fn crlf(&mut self, b: &[u8], at: u64, start: u64, epos: u64) -> Result<(), ScanError> {
        if b.starts_with(b"\r\n") {
            self.crlfs += 1;
            return Ok(());
        }
        // What Redis prints: the two chars as C `char`s in %02x.
        let c = |i: usize| b.get(i).map_or(0, |&c| c as i8 as i32 as u32);
        let msg = format!("Expected \\r\\n, got: {:02x}{:02x}", c(0), c(1));
        let bad = at + (b.first() == Some(&b'\r')) as u64;
        Err(self.fail(ErrorKind::Corrupt, start, bad, epos, msg))
    }

    /// A `*<n>` or `$<n>` line.
    fn number(&mut self, prefix: u8, start: u64) -> Result<i64, ScanError> {
        let epos = self.pos;
        self.last_epos = epos;
        let mut line = std::mem::take(&mut self.line);
        let res = self.number_in(prefix, start, epos, &mut line);
        self.line = line;
        res
    }

    fn number_in(&mut self, prefix: u8, start: u64, epos: u64, line: &mut Vec<u8>) -> Result<i64, ScanError> {
        if let Err(e) = self.read_line_into(NUMBER_LINE_MAX, line) {
            return Err(self.io_fail(start, e));
        }
        if line.is_empty() {
            return Err(self.fail(ErrorKind::Truncated, start, epos, epos, String::new()));
        }
        if line[0] != prefix {
            let msg = format!("Expected prefix '{}', got: '{}'", prefix as char, line[0] as char);
            return Err(self.fail(ErrorKind::Corrupt, start, epos, epos, msg));
        }
        let (v, used, _) = strtol(&line[1..]);
        let rest = &line[1 + used..];
        // A line the file ends in, without its newline, whose end could still be
        // completed, is a truncation.
        if !line.ends_with(b"\n") && line.len() < NUMBER_LINE_MAX - 1 && (rest.is_empty() || rest == b"\r") {
            let at = epos + line.len() as u64;
            let msg = if rest.is_empty() { "Expected \\r\\n, got: 0000" } else { "Expected \\r\\n, got: 0d00" };
            return Err(self.fail(ErrorKind::Truncated, start, at, epos, msg.into()));
        }
        self.crlf(rest, epos + 1 + used as u64, start, epos)?;
        Ok(v)
    }

    /// The next entry; `Ok(None)` at a clean end of file. After an error, `Ok(None)`.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ScanError> {
        if self.failed {
            return Ok(None);
        }
        let start = self.pos;
        let first = match self.r.fill_buf() {
            Ok([]) => return Ok(None),
            Ok(b) => b[0],
            Err(e) => return Err(self.io_fail(start, e)),
        };
        match first {
            b'#' => {
                self.last_epos = start;
                let line = self.read_line(ANNOTATION_LINE_MAX).map_err(|e| self.io_fail(start, e))?;
                let timestamp = timestamp_of(&line);
                let body = line.strip_suffix(b"\n").unwrap_or(&line);
                let body = body.strip_suffix(b"\r").unwrap_or(body).to_vec();
                Ok(Some(Entry::Annotation { offset: start, end: self.pos, line: body, timestamp }))
            }
            b'*' => {
                let argc = self.number(b'*', start)?;
                let mut args = Vec::with_capacity(argc.clamp(0, 1024) as usize);
                let mut name_at = self.pos;
                for i in 0..argc.max(0) {
                    let len = self.number(b'$', start)?;
                    let epos = self.pos;
                    if !(0..=i64::MAX - 2).contains(&len) {
                        let msg = format!("Expected to read string of {len} bytes, which is not in the suitable range");
                        let line_at = self.last_epos;
                        return Err(self.fail(ErrorKind::Corrupt, start, line_at + 1, line_at, msg));
                    }
                    self.last_epos = epos;
                    if i == 0 {
                        name_at = epos;
                    }
                    let mut data = self.read_bytes(len as u64 + 2).map_err(|e| self.io_fail(start, e))?;
                    if (data.len() as u64) < len as u64 + 2 {
                        let got = data.len();
                        let tail_ok = data.len() <= len as usize || b"\r\n".starts_with(&data[len as usize..]);
                        let msg = format!("Expected to read {} bytes, got {} bytes", len + 2, got);
                        if tail_ok {
                            return Err(self.fail(ErrorKind::Truncated, start, self.pos, epos, msg));
                        }
                        let bad = epos + len as u64 + (data[len as usize] == b'\r') as u64;
                        return Err(self.fail(ErrorKind::Corrupt, start, bad, epos, msg));
                    }
                    let tail = [data[len as usize], data[len as usize + 1]];
                    self.crlf(&tail, epos + len as u64, start, epos)?;
                    data.truncate(len as usize);
                    args.push(data);
                }
                Ok(Some(Entry::Command { offset: start, end: self.pos, args, name_at }))
            }
            _ => Err(self.fail(ErrorKind::BadStart, start, start, start, String::new())),
        }
    }
}

impl<R: BufRead> Iterator for AofScanner<R> {
    type Item = Result<Entry, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(b: &[u8]) -> (Vec<Entry>, Option<ScanError>) {
        let mut s = AofScanner::new(b);
        let mut out = Vec::new();
        loop {
            match s.next_entry() {
                Ok(Some(e)) => out.push(e),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn args(e: &Entry) -> Vec<&[u8]> {
        match e {
            Entry::Command { args, .. } => args.iter().map(|a| &a[..]).collect(),
            _ => panic!("not a command"),
        }
    }

    const SET: &[u8] = b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n";

    #[test]
    fn commands_and_timestamps() {
        let mut f = b"#TS:1700000000\r\n".to_vec();
        f.extend_from_slice(SET);
        f.extend_from_slice(b"#TS:12x\r\n*1\r\n$5\r\nMULTI\r\n");
        let (v, err) = scan(&f);
        assert!(err.is_none());
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], Entry::Annotation { offset: 0, end: 16, line: b"#TS:1700000000".to_vec(), timestamp: Some(1700000000) });
        assert_eq!(args(&v[1]), vec![&b"set"[..], b"a", b"b"]);
        assert_eq!((v[1].offset(), v[1].end()), (16, 16 + SET.len() as u64));
        assert!(matches!(&v[1], Entry::Command { name_at: 24, .. }));
        assert!(matches!(&v[2], Entry::Annotation { timestamp: None, .. }));
        assert_eq!(args(&v[3]), vec![&b"MULTI"[..]]);
    }

    #[test]
    fn truncated_anywhere_in_the_last_command() {
        for cut in 1..SET.len() {
            let mut f = SET.to_vec();
            f.extend_from_slice(&SET[..cut]);
            let (v, err) = scan(&f);
            assert_eq!(v.len(), 1, "cut {cut}");
            let e = err.unwrap();
            assert_eq!(e.kind, ErrorKind::Truncated, "cut {cut}: {e:?}");
            assert_eq!(e.entry_start, SET.len() as u64);
            assert_eq!(e.offset, f.len() as u64, "cut {cut}");
        }
    }

    #[test]
    fn corrupt_bytes_are_located() {
        let (_, e) = scan(b"*3\r\n$3\r\nset\r\n$1\r\na\r\n$x\r\nb\r\n");
        let e = e.unwrap();
        assert_eq!((e.kind, e.entry_start, e.offset, e.epos), (ErrorKind::Corrupt, 0, 21, 20));
        assert_eq!(e.redis_line().unwrap(), format!("0x{}14: Expected \\r\\n, got: 780d", " ".repeat(14)));
        let (_, e) = scan(b"*1\r\n$3\r\nsetXY");
        let e = e.unwrap();
        assert_eq!((e.kind, e.offset), (ErrorKind::Corrupt, 11));
        assert_eq!(e.msg, "Expected \\r\\n, got: 5859");
        let (_, e) = scan(b"*1\r\n$3\r\nset\r");
        assert_eq!(e.unwrap().kind, ErrorKind::Truncated);
        let (_, e) = scan(b"*1\r\n$3\r\nset\rX");
        assert_eq!(e.unwrap().msg, "Expected \\r\\n, got: 0d58");
        let (_, e) = scan(b"*1\r\n$-3\r\nset\r\n");
        let e = e.unwrap();
        assert_eq!((e.kind, e.offset, e.epos), (ErrorKind::Corrupt, 5, 4));
        assert_eq!(e.msg, "Expected to read string of -3 bytes, which is not in the suitable range");
        let (_, e) = scan(b"*1\r\n+OK\r\n");
        assert_eq!(e.unwrap().msg, "Expected prefix '$', got: '+'");
        let mut f = SET.to_vec();
        f.extend_from_slice(b"garbage");
        let (v, e) = scan(&f);
        let e = e.unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!((e.kind, e.offset, e.msg.as_str()), (ErrorKind::BadStart, SET.len() as u64, ""));
    }

    #[test]
    fn resumes_after_a_preamble() {
        let mut f = b"REDIS0011junk".to_vec();
        assert!(has_rdb_preamble(&f));
        assert!(!has_rdb_preamble(b"REDIS"));
        assert!(!has_rdb_preamble(SET));
        let start = f.len() as u64;
        f.extend_from_slice(SET);
        let mut s = AofScanner::at(&f[start as usize..], start);
        let e = s.next_entry().unwrap().unwrap();
        assert_eq!((e.offset(), e.end()), (start, f.len() as u64));
        assert_eq!(s.next_entry().unwrap(), None);
        assert_eq!(s.crlfs(), 7);
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp_of(b"#TS:5\r\n"), Some(5));
        assert_eq!(timestamp_of(b"#TS:-5\r\n"), Some(-5));
        assert_eq!(timestamp_of(b"#TS:5"), None);
        assert_eq!(timestamp_of(b"#TS:5 \r\n"), None);
        assert_eq!(timestamp_of(b"#TS:\r\n"), Some(0));
        assert_eq!(timestamp_of(b"#TS:99999999999999999999\r\n"), None);
        assert_eq!(timestamp_of(b"#XX:5\r\n"), None);
    }
}
