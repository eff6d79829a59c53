//! Keyspace-notification capture shared by the notification tests.

use super::{Raw, Server};

/// The bulk strings of a raw reply, in order.
pub fn bulks(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = raw.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') && l != "$-1" {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

/// A RESP2 subscriber to every keyspace and keyevent channel, plus a private `sync`
/// channel that marks the end of one command's messages.
pub struct Events {
    pub sub: Raw,
    pub c: Raw,
}

impl Events {
    pub fn new(s: &Server, flags: &str) -> Events {
        let mut c = s.raw();
        assert_eq!(c.cmd_args(&[b"CONFIG", b"SET", b"notify-keyspace-events", flags.as_bytes()]), "+OK\r\n");
        let mut sub = s.raw();
        sub.cmd("PSUBSCRIBE __key*__:*");
        sub.cmd("SUBSCRIBE sync");
        Events { sub, c }
    }

    /// Runs `cmd` (space separated) and returns its reply and the messages it caused,
    /// each as "channel payload" (earlier ones are dropped first).
    pub fn run(&mut self, cmd: &str) -> (String, Vec<String>) {
        self.drain();
        let reply = self.c.cmd(cmd);
        (reply, self.drain())
    }

    /// The messages published so far, up to a fresh sync marker.
    pub fn drain(&mut self) -> Vec<String> {
        assert_eq!(self.c.cmd("PUBLISH sync x"), ":1\r\n");
        let mut got = Vec::new();
        loop {
            let b = bulks(&self.sub.read());
            match b[0].as_str() {
                "message" if b[1] == "sync" => return got,
                "pmessage" => got.push(format!("{} {}", b[2], b[3])),
                other => panic!("unexpected {other}: {b:?}"),
            }
        }
    }

    /// The messages `cmd` caused.
    pub fn ev(&mut self, cmd: &str) -> Vec<String> {
        self.run(cmd).1
    }
}
