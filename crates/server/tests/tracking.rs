//! Client-side caching (CLIENT TRACKING) against the real server: default and BCAST
//! modes, RESP3 pushes and RESP2 redirection to a Pub/Sub client, OPTIN/OPTOUT with
//! CLIENT CACHING, NOLOOP, flushes, expiry, tracking-table-max-keys, broken
//! redirects, the introspection (TRACKINGINFO, GETREDIR, CLIENT LIST, INFO) and
//! redis-py's client-side cache. Replies are Redis 7.2.6's, byte for byte.

mod common;
use std::io::Read;
use std::time::Duration;

use common::{eventually, Raw, Server};

/// The RESP3 invalidation push for `keys`.
fn push(keys: &[&str]) -> String {
    let mut s = format!(">2\r\n$10\r\ninvalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{}\r\n", k.len(), k));
    }
    s
}

/// The RESP2 invalidation message (to a redirect client subscribed in RESP2).
fn message(keys: &[&str]) -> String {
    let mut s = format!("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*{}\r\n", keys.len());
    for k in keys {
        s.push_str(&format!("${}\r\n{}\r\n", k.len(), k));
    }
    s
}

const FLUSH_PUSH: &str = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
const FLUSH_MESSAGE_RESP2: &str = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n";

/// True when nothing more arrives on `c` within a short while.
fn quiet(c: &mut Raw) -> bool {
    if !c.r.buffer().is_empty() {
        return false;
    }
    c.w.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
    let mut b = [0u8; 1];
    let got = matches!(c.r.get_mut().read(&mut b), Ok(n) if n > 0);
    c.w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    !got
}

fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    assert!(c.cmd("HELLO 3").starts_with("%7\r\n"));
    c
}

fn id_of(c: &mut Raw) -> String {
    let r = c.cmd("CLIENT ID");
    r[1..r.len() - 2].to_string()
}

/// A RESP2 client subscribed to `__redis__:invalidate`, and its id.
fn redirect_client(s: &Server) -> (Raw, String) {
    let mut r = s.raw();
    let id = id_of(&mut r);
    assert_eq!(r.cmd("SUBSCRIBE __redis__:invalidate"), "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
    (r, id)
}

fn info_field(c: &mut Raw, field: &str) -> String {
    let info = c.cmd("INFO");
    let line = info.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("no {field} in INFO"));
    line[field.len() + 1..].to_string()
}

#[test]
fn resp3_default_mode_invalidates_readers() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(w.cmd("SET k 1"), "+OK\r\n");
    assert_eq!(a.cmd("GET k"), "$1\r\n1\r\n");
    // A key that was not read is not reported.
    assert_eq!(w.cmd("SET other 1"), "+OK\r\n");
    assert_eq!(w.cmd("SET k 2"), "+OK\r\n");
    assert_eq!(a.read(), push(&["k"]));
    // Invalidated once: the key is forgotten until read again.
    assert_eq!(w.cmd("SET k 3"), "+OK\r\n");
    assert!(quiet(&mut a));
    // Keys read by a multi-key command are reported one message each.
    assert_eq!(a.cmd("MGET x y"), "*2\r\n_\r\n_\r\n");
    assert_eq!(w.cmd("MSET x 1 y 2"), "+OK\r\n");
    assert_eq!(a.read(), push(&["x"]));
    assert_eq!(a.read(), push(&["y"]));
    // A read that fails with WRONGTYPE still tracks the key, as in Redis.
    assert_eq!(w.cmd("RPUSH list a"), ":1\r\n");
    assert!(a.cmd("GET list").starts_with("-WRONGTYPE"));
    assert_eq!(w.cmd("DEL list"), ":1\r\n");
    assert_eq!(a.read(), push(&["list"]));
    // Only the written keys of a write are invalidated (COPY's source is read only).
    assert_eq!(a.cmd("MGET src dst"), "*2\r\n_\r\n_\r\n");
    assert_eq!(w.cmd("SET src v"), "+OK\r\n");
    assert_eq!(a.read(), push(&["src"]));
    assert_eq!(a.cmd("MGET src dst"), "*2\r\n$1\r\nv\r\n_\r\n");
    assert_eq!(w.cmd("COPY src dst"), ":1\r\n");
    assert_eq!(a.read(), push(&["dst"]));
    assert!(quiet(&mut a));
    // A write that changes nothing invalidates nothing.
    assert_eq!(a.cmd("GET nx"), "_\r\n");
    assert_eq!(w.cmd("DEL nothere"), ":0\r\n");
    assert!(quiet(&mut a));
    // Keys are global: the same name in another database invalidates too.
    assert_eq!(w.cmd("SELECT 3"), "+OK\r\n");
    assert_eq!(w.cmd("SET nx 1"), "+OK\r\n");
    assert_eq!(a.read(), push(&["nx"]));
}

#[test]
fn own_writes_are_reported_after_the_reply_unless_noloop() {
    let s = Server::start();
    let mut a = resp3(&s);
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(a.cmd("HSET h f 1"), ":1\r\n");
    assert_eq!(a.cmd("HGET h f"), "$1\r\n1\r\n");
    assert_eq!(a.cmd("HDEL h f"), ":1\r\n");
    assert_eq!(a.read(), push(&["h"]));
    // A transaction's invalidations follow EXEC's reply.
    assert_eq!(a.cmd("MSET a{t} 1 b{t} 2"), "+OK\r\n");
    assert_eq!(a.cmd("GET a{t}"), "$1\r\n1\r\n");
    assert_eq!(a.cmd("MULTI"), "+OK\r\n");
    assert_eq!(a.cmd("INCR a{t}"), "+QUEUED\r\n");
    assert_eq!(a.cmd("GET b{t}"), "+QUEUED\r\n");
    assert_eq!(a.cmd("EXEC"), "*2\r\n:2\r\n$1\r\n2\r\n");
    assert_eq!(a.read(), push(&["a{t}"]));
    // Lazy expiry met by a read: reply first, then the invalidation.
    assert_eq!(a.cmd("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK\r\n");
    assert_eq!(a.cmd("SET e 1 PX 30"), "+OK\r\n");
    assert_eq!(a.cmd("GET e"), "$1\r\n1\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(a.cmd("MGET e a{t}"), "*2\r\n_\r\n$1\r\n2\r\n");
    assert_eq!(a.read(), push(&["e"]));
    assert_eq!(a.cmd("DEBUG SET-ACTIVE-EXPIRE 1"), "+OK\r\n");
    // NOLOOP: no messages about our own writes, others' still arrive.
    assert_eq!(a.cmd("CLIENT TRACKING on NOLOOP"), "+OK\r\n");
    assert_eq!(a.cmd("MGET mine theirs"), "*2\r\n_\r\n_\r\n");
    assert_eq!(a.cmd("SET mine 1"), "+OK\r\n");
    let mut w = s.raw();
    assert_eq!(w.cmd("SET theirs 1"), "+OK\r\n");
    assert_eq!(a.read(), push(&["theirs"]));
    assert!(quiet(&mut a));
}

#[test]
fn resp2_redirect_to_a_subscribed_client() {
    let s = Server::start();
    let (mut r, rid) = redirect_client(&s);
    let mut a = s.raw();
    let mut w = s.raw();
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT GETREDIR"), format!(":{rid}\r\n"));
    assert_eq!(a.cmd("SET a 1"), "+OK\r\n");
    assert_eq!(a.cmd("SET b 1"), "+OK\r\n");
    assert_eq!(a.cmd("GET a"), "$1\r\n1\r\n");
    assert_eq!(a.cmd("INCR b"), ":2\r\n");
    assert_eq!(a.cmd("INCR a"), ":2\r\n");
    assert_eq!(r.read(), message(&["a"]));
    assert!(quiet(&mut r));
    // FLUSHALL sends the null ("everything") in the tracking client's protocol.
    assert_eq!(a.cmd("GET a"), "$1\r\n2\r\n");
    assert_eq!(w.cmd("FLUSHALL"), "+OK\r\n");
    assert_eq!(r.read(), FLUSH_MESSAGE_RESP2);
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "0");
    // FLUSHDB too, even for keys of another database.
    assert_eq!(a.cmd("GET a"), "$-1\r\n");
    assert_eq!(w.cmd("SELECT 1"), "+OK\r\n");
    assert_eq!(w.cmd("FLUSHDB"), "+OK\r\n");
    assert_eq!(r.read(), FLUSH_MESSAGE_RESP2);
    // Several clients may redirect to the same one.
    let mut b = s.raw();
    assert_eq!(b.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    assert_eq!(a.cmd("GET k1"), "$-1\r\n");
    assert_eq!(b.cmd("GET k2"), "$-1\r\n");
    assert_eq!(w.cmd("SELECT 0"), "+OK\r\n");
    assert_eq!(w.cmd("SET k1 1"), "+OK\r\n");
    assert_eq!(r.read(), message(&["k1"]));
    assert_eq!(w.cmd("SET k2 1"), "+OK\r\n");
    assert_eq!(r.read(), message(&["k2"]));
    // A redirect client in RESP3 gets pushes, subscribed or not.
    let mut r3 = resp3(&s);
    let r3id = id_of(&mut r3);
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {r3id}")), "+OK\r\n");
    assert_eq!(a.cmd("GET k3"), "$-1\r\n");
    assert_eq!(w.cmd("SET k3 1"), "+OK\r\n");
    assert_eq!(r3.read(), push(&["k3"]));
    // A RESP2 redirect client that is not subscribed cannot be told anything.
    let mut plain = s.raw();
    let pid = id_of(&mut plain);
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {pid}")), "+OK\r\n");
    assert_eq!(a.cmd("GET k4"), "$-1\r\n");
    assert_eq!(w.cmd("SET k4 1"), "+OK\r\n");
    assert!(quiet(&mut plain));
    assert_eq!(plain.cmd("PING"), "+PONG\r\n");
    // Without a redirect a RESP2 client gets nothing either.
    let mut solo = s.raw();
    assert_eq!(solo.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(solo.cmd("GET k5"), "$-1\r\n");
    assert_eq!(w.cmd("SET k5 1"), "+OK\r\n");
    assert_eq!(solo.cmd("PING"), "+PONG\r\n");
}

#[test]
fn switching_protocol_keeps_tracked_keys() {
    let s = Server::start();
    let (mut r, rid) = redirect_client(&s);
    let mut a = s.raw();
    let mut w = s.raw();
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    assert_eq!(a.cmd("GET key1"), "$-1\r\n");
    assert!(a.cmd("HELLO 3").starts_with("%7"));
    assert_eq!(w.cmd("SET key1 2"), "+OK\r\n");
    assert_eq!(r.read(), message(&["key1"]));
    // A RESP3 tracking client redirecting to a RESP2 one: the null is RESP3's, as in Redis.
    assert_eq!(a.cmd("GET key1"), "$1\r\n2\r\n");
    assert_eq!(w.cmd("FLUSHALL"), "+OK\r\n");
    assert_eq!(r.read(), "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n_\r\n");
}

#[test]
fn bcast_mode_with_prefixes_batches_per_prefix() {
    let s = Server::start();
    let (mut r, rid) = redirect_client(&s);
    let mut a = s.raw();
    let mut w = s.raw();
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on BCAST REDIRECT {rid}")), "+OK\r\n");
    // Empty prefix: every key, all the keys of one command in one message (sorted).
    assert_eq!(w.cmd("MSET c{t} 3 a{t} 1 b{t} 2"), "+OK\r\n");
    assert_eq!(r.read(), message(&["a{t}", "b{t}", "c{t}"]));
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on BCAST REDIRECT {rid} PREFIX a: PREFIX b:")), "+OK\r\n");
    assert_eq!(w.cmd("MULTI"), "+OK\r\n");
    for k in ["a:1{t}", "a:2{t}", "b:1{t}", "b:2{t}", "c:1{t}"] {
        assert_eq!(w.cmd(&format!("INCR {k}")), "+QUEUED\r\n");
    }
    assert_eq!(w.cmd("EXEC"), "*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n");
    assert_eq!(r.read(), message(&["a:1{t}", "a:2{t}"]));
    assert_eq!(r.read(), message(&["b:1{t}", "b:2{t}"]));
    assert!(quiet(&mut r));
    // More prefixes may be added while on.
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on BCAST REDIRECT {rid} PREFIX c:")), "+OK\r\n");
    assert_eq!(w.cmd("INCR c:1234"), ":1\r\n");
    assert_eq!(r.read(), message(&["c:1234"]));
    let info = a.cmd("CLIENT TRACKINGINFO");
    assert_eq!(
        info,
        format!(
            "*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:{rid}\r\n$8\r\nprefixes\r\n*3\r\n$2\r\na:\r\n$2\r\nb:\r\n$2\r\nc:\r\n"
        )
    );
    assert_eq!(info_field(&mut w, "tracking_total_prefixes"), "3");
    // NOLOOP in BCAST: keys we changed ourselves are left out.
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(info_field(&mut w, "tracking_total_prefixes"), "0");
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on BCAST REDIRECT {rid} NOLOOP")), "+OK\r\n");
    assert_eq!(w.cmd("SET otherkey1 1"), "+OK\r\n");
    assert_eq!(a.cmd("SET loopkey 1"), "+OK\r\n");
    assert_eq!(w.cmd("SET otherkey2 1"), "+OK\r\n");
    assert_eq!(r.read(), message(&["otherkey1"]));
    assert_eq!(r.read(), message(&["otherkey2"]));
    assert!(quiet(&mut r));
    // Expiry reports the key even to NOLOOP clients that set it.
    assert_eq!(a.cmd("SET mykey v PX 1"), "+OK\r\n");
    assert_eq!(a.cmd("SET mykeyother v"), "+OK\r\n");
    assert_eq!(r.read(), message(&["mykey"]));
}

#[test]
fn bcast_clients_hear_nothing_about_keys_read_before() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(w.cmd("SET key1 1"), "+OK\r\n");
    assert_eq!(a.cmd("GET key1"), "$1\r\n1\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING on BCAST"), "+OK\r\n");
    assert_eq!(w.cmd("INCR key1"), ":2\r\n");
    // One BCAST message, not also the default-mode one.
    assert_eq!(a.read(), push(&["key1"]));
    assert!(quiet(&mut a));
    let info = a.cmd("CLIENT TRACKINGINFO");
    assert_eq!(info, "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$0\r\n\r\n");
}

#[test]
fn prefix_errors_and_option_conflicts() {
    let s = Server::start();
    let mut c = s.raw();
    let overlap = |p: &str, q: &str, how: &str| {
        format!("-ERR Prefix '{p}' overlaps with {how} prefix '{q}'. Prefixes for a single client must not overlap.\r\n")
    };
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX FOOBAR PREFIX FOO"), overlap("FOOBAR", "FOO", "another provided"));
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX FOO PREFIX FOOBAR"), overlap("FOO", "FOOBAR", "another provided"));
    assert_eq!(c.cmd("CLIENT TRACKINGINFO"), "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX FOO PREFIX BAR"), "+OK\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX FO"), overlap("FO", "FOO", "an existing"));
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX BARB"), overlap("BARB", "BAR", "an existing"));
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX FOO"), overlap("FOO", "FOO", "an existing"));
    assert_eq!(c.cmd("CLIENT TRACKING OFF"), "+OK\r\n");
    // Redis 7.2 quirk: an overlap found after the first given prefix is reported and
    // tracking is enabled anyway, with a second reply, OK.
    assert_eq!(c.cmd("CLIENT TRACKING ON BCAST PREFIX a PREFIX b PREFIX bc"), overlap("b", "bc", "another provided"));
    assert_eq!(c.read(), "+OK\r\n");
    assert_eq!(
        c.cmd("CLIENT TRACKINGINFO"),
        "*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$2\r\nbc\r\n"
    );
    // Mode switches and incompatible options.
    let bcast_switch = "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n";
    assert_eq!(c.cmd("CLIENT TRACKING on"), bcast_switch);
    assert_eq!(c.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on PREFIX x"), "-ERR PREFIX option requires BCAST mode to be enabled\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on BCAST OPTIN"), "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on OPTIN OPTOUT"), "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on OPTIN"), "+OK\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on BCAST"), bcast_switch);
    assert_eq!(
        c.cmd("CLIENT TRACKING on OPTOUT"),
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    assert_eq!(c.cmd("CLIENT TRACKING off"), "+OK\r\n");
    // Parsing errors.
    assert_eq!(c.cmd("CLIENT TRACKING maybe"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on foo"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING off foo"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on PREFIX"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on REDIRECT"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on REDIRECT x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on REDIRECT 0"), "-ERR The client ID you want redirect to does not exist\r\n");
    assert_eq!(c.cmd("CLIENT TRACKING on REDIRECT 99999"), "-ERR The client ID you want redirect to does not exist\r\n");
    let me = id_of(&mut c);
    assert_eq!(
        c.cmd(&format!("CLIENT TRACKING on REDIRECT {me} REDIRECT {me}")),
        "-ERR A client can only redirect to a single other client\r\n"
    );
    assert_eq!(c.cmd("CLIENT TRACKING"), "-ERR wrong number of arguments for 'client|tracking' command\r\n");
    assert_eq!(c.cmd("CLIENT GETREDIR x"), "-ERR wrong number of arguments for 'client|getredir' command\r\n");
    assert_eq!(c.cmd("CLIENT TRACKINGINFO x"), "-ERR wrong number of arguments for 'client|trackinginfo' command\r\n");
    // Nothing of this left tracking on.
    assert_eq!(c.cmd("CLIENT GETREDIR"), ":-1\r\n");
    assert_eq!(info_field(&mut c, "tracking_clients"), "0");
}

#[test]
fn optin_optout_and_client_caching() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    let only = "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n";
    assert_eq!(a.cmd("CLIENT CACHING yes"), only);
    assert_eq!(a.cmd("CLIENT CACHING"), "-ERR wrong number of arguments for 'client|caching' command\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT CACHING yes"), "-ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\r\n");
    assert_eq!(a.cmd("CLIENT CACHING no"), "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n");
    assert_eq!(a.cmd("CLIENT CACHING maybe"), "-ERR syntax error\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");

    // OPTIN: only the command right after CLIENT CACHING yes is tracked.
    assert_eq!(a.cmd("CLIENT TRACKING on OPTIN"), "+OK\r\n");
    assert_eq!(a.cmd("GET o1"), "_\r\n");
    assert_eq!(a.cmd("CLIENT CACHING yes"), "+OK\r\n");
    let info = a.cmd("CLIENT TRACKINGINFO");
    assert!(info.contains("~3\r\n$2\r\non\r\n$5\r\noptin\r\n$11\r\ncaching-yes\r\n"), "{info}");
    // (TRACKINGINFO is a CLIENT subcommand: CACHING survives it, as in Redis.)
    assert_eq!(a.cmd("GET o2"), "_\r\n");
    assert_eq!(a.cmd("GET o3"), "_\r\n");
    assert_eq!(w.cmd("MSET o1 1 o2 2 o3 3"), "+OK\r\n");
    assert_eq!(a.read(), push(&["o2"]));
    assert!(quiet(&mut a));
    // ... or the whole transaction after it.
    assert_eq!(a.cmd("CLIENT CACHING yes"), "+OK\r\n");
    assert_eq!(a.cmd("MULTI"), "+OK\r\n");
    assert_eq!(a.cmd("GET o1"), "+QUEUED\r\n");
    assert_eq!(a.cmd("GET o2"), "+QUEUED\r\n");
    assert_eq!(a.cmd("EXEC"), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(a.cmd("GET o3"), "$1\r\n3\r\n");
    assert_eq!(w.cmd("MSET o1 1 o2 2 o3 3"), "+OK\r\n");
    assert_eq!(a.read(), push(&["o1"]));
    assert_eq!(a.read(), push(&["o2"]));
    assert!(quiet(&mut a));
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");

    // OPTOUT: everything but the command after CLIENT CACHING no.
    assert_eq!(a.cmd("CLIENT TRACKING on OPTOUT"), "+OK\r\n");
    assert_eq!(a.cmd("GET o1"), "$1\r\n1\r\n");
    assert_eq!(a.cmd("CLIENT CACHING no"), "+OK\r\n");
    let info = a.cmd("CLIENT TRACKINGINFO");
    assert!(info.contains("~3\r\n$2\r\non\r\n$6\r\noptout\r\n$10\r\ncaching-no\r\n"), "{info}");
    assert_eq!(a.cmd("GET o2"), "$1\r\n2\r\n");
    assert_eq!(a.cmd("GET o3"), "$1\r\n3\r\n");
    assert_eq!(w.cmd("MSET o1 1 o2 2 o3 3"), "+OK\r\n");
    assert_eq!(a.read(), push(&["o1"]));
    assert_eq!(a.read(), push(&["o3"]));
    assert!(quiet(&mut a));
    // OFF clears the options.
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT TRACKINGINFO"), "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
}

#[test]
fn broken_redirect_is_reported() {
    let s = Server::start();
    let (r, rid) = redirect_client(&s);
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    let list = a.cmd("CLIENT LIST");
    let mine = list.lines().find(|l| l.contains("cmd=client|list")).unwrap().to_string();
    assert!(mine.contains(" flags=t ") && mine.contains(&format!(" redir={rid} ")) && mine.contains(" resp=3 "), "{mine}");
    assert_eq!(a.cmd("GET key1"), "_\r\n");
    drop(r);
    assert!(eventually(Duration::from_secs(5), || w.cmd("CLIENT LIST").matches("id=").count() == 2));
    assert_eq!(w.cmd("SET key1 2"), "+OK\r\n");
    assert_eq!(a.read(), format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{rid}\r\n"));
    assert_eq!(
        a.cmd("CLIENT TRACKINGINFO"),
        format!("%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{rid}\r\n$8\r\nprefixes\r\n*0\r\n")
    );
    let list = a.cmd("CLIENT LIST");
    let mine = list.lines().find(|l| l.contains("cmd=client|list")).unwrap().to_string();
    assert!(mine.contains(" flags=tR "), "{mine}");
    // BCAST shows as B; other clients show redir=-1 and flags=N.
    assert_eq!(w.cmd("CLIENT TRACKING on BCAST"), "+OK\r\n");
    let info = w.cmd("CLIENT INFO");
    assert!(info.contains(" flags=tB ") && info.contains(" redir=0 "), "{info}");
    assert_eq!(w.cmd("CLIENT TRACKING off"), "+OK\r\n");
    let info = w.cmd("CLIENT INFO");
    assert!(info.contains(" flags=N ") && info.contains(" redir=-1 "), "{info}");
}

#[test]
fn flush_sends_the_null_invalidation() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut b = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(b.cmd("CLIENT TRACKING on BCAST"), "+OK\r\n");
    assert_eq!(a.cmd("GET k1"), "_\r\n");
    assert_eq!(a.cmd("GET k2"), "_\r\n");
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "2");
    assert_eq!(w.cmd("FLUSHALL ASYNC"), "+OK\r\n");
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "0");
    // Every tracking client, BCAST ones included, hears it.
    assert_eq!(a.read(), FLUSH_PUSH);
    assert_eq!(b.read(), FLUSH_PUSH);
    // In a transaction, after EXEC's reply.
    assert_eq!(a.cmd("SET x 1"), "+OK\r\n");
    assert_eq!(b.read(), push(&["x"]));
    assert_eq!(a.cmd("MULTI"), "+OK\r\n");
    assert_eq!(a.cmd("FLUSHDB"), "+QUEUED\r\n");
    assert_eq!(a.cmd("EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(a.read(), FLUSH_PUSH);
    assert_eq!(b.read(), FLUSH_PUSH);
    // SWAPDB is no flush for tracking (Redis 7.2 sends nothing).
    assert_eq!(w.cmd("SWAPDB 0 1"), "+OK\r\n");
    assert!(quiet(&mut a));
    assert!(quiet(&mut b));
}

#[test]
fn active_expiry_invalidates() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(w.cmd("SET k v PX 100"), "+OK\r\n");
    assert_eq!(a.cmd("GET k"), "$1\r\nv\r\n");
    // The cron deletes it; nobody has to touch it.
    assert_eq!(a.read(), push(&["k"]));
    assert_eq!(w.cmd("EXISTS k"), ":0\r\n");
}

#[test]
fn tracking_table_max_keys_evicts_with_invalidations() {
    let s = Server::start();
    let (mut r, rid) = redirect_client(&s);
    let mut a = s.raw();
    let mut w = s.raw();
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    let n = 250;
    for i in 0..n {
        assert_eq!(a.cmd(&format!("GET key{i}")), "$-1\r\n");
    }
    assert_eq!(info_field(&mut w, "tracking_total_keys"), n.to_string());
    assert_eq!(info_field(&mut w, "tracking_total_items"), n.to_string());
    assert_eq!(w.cmd("CONFIG SET tracking-table-max-keys 1"), "+OK\r\n");
    // Exactly the keys over the limit are forgotten, each with its message, even
    // when that takes more than one run of the cron.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..n - 1 {
        let m = r.read();
        let key = m.rsplit("\r\n").nth(1).unwrap().to_string();
        assert!(m.starts_with("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n"), "{m}");
        assert!(seen.insert(key));
    }
    assert!(quiet(&mut r));
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "1");
    assert_eq!(w.cmd("CONFIG SET tracking-table-max-keys 0"), "+OK\r\n");
    for i in 0..10 {
        assert_eq!(a.cmd(&format!("GET more{i}")), "$-1\r\n");
    }
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "11");
}

#[test]
fn limit_is_enforced_before_a_command_even_when_queued() {
    // Regression test for Redis #11715: the over-limit invalidation reaches a client in
    // MULTI before its QUEUED reply.
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(w.cmd("CONFIG SET tracking-table-max-keys 2"), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(a.cmd("MGET 1{tag} 2{tag}"), "*2\r\n_\r\n_\r\n");
    assert_eq!(a.cmd("MULTI"), "+OK\r\n");
    assert_eq!(w.cmd("CONFIG SET tracking-table-max-keys 1"), "+OK\r\n");
    a.send(&[b"PING"]);
    let first = a.read();
    if first.starts_with(">2") {
        assert!(first.contains("{tag}"), "{first}");
        assert_eq!(a.read(), "+QUEUED\r\n");
    } else {
        // The cron got there first: the message came on its own.
        assert_eq!(first, "+QUEUED\r\n");
    }
    assert_eq!(a.cmd("EXEC"), "*1\r\n+PONG\r\n");
}

#[test]
fn info_and_client_counts() {
    let s = Server::start();
    let (_r, rid) = redirect_client(&s);
    let mut a = s.raw();
    let mut b = s.raw();
    let mut w = s.raw();
    assert_eq!(info_field(&mut w, "tracking_clients"), "0");
    assert_eq!(a.cmd(&format!("CLIENT TRACKING on REDIRECT {rid}")), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(a.cmd("CLIENT GETREDIR"), ":0\r\n");
    assert_eq!(a.cmd("GET key1"), "$-1\r\n");
    assert_eq!(a.cmd("GET key2"), "$-1\r\n");
    assert_eq!(b.cmd("CLIENT TRACKING on BCAST PREFIX prefix:"), "+OK\r\n");
    assert_eq!(w.cmd("SET prefix:key1 1"), "+OK\r\n");
    assert_eq!(info_field(&mut w, "tracking_clients"), "2");
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "2");
    assert_eq!(info_field(&mut w, "tracking_total_items"), "2");
    assert_eq!(info_field(&mut w, "tracking_total_prefixes"), "1");
    // Two clients on one key count two items.
    let mut c = s.raw();
    assert_eq!(c.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(c.cmd("GET key1"), "$-1\r\n");
    assert_eq!(info_field(&mut w, "tracking_total_keys"), "2");
    assert_eq!(info_field(&mut w, "tracking_total_items"), "3");
    // RESET and disconnection turn tracking off.
    assert_eq!(c.cmd("RESET"), "+RESET\r\n");
    assert_eq!(c.cmd("CLIENT TRACKINGINFO"), "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n");
    assert_eq!(info_field(&mut w, "tracking_clients"), "2");
    drop(b);
    assert!(eventually(Duration::from_secs(5), || info_field(&mut w, "tracking_clients") == "1"));
    assert_eq!(info_field(&mut w, "tracking_total_prefixes"), "0");
    assert_eq!(a.cmd("CLIENT TRACKING off"), "+OK\r\n");
    assert_eq!(info_field(&mut w, "tracking_clients"), "0");
    assert_eq!(a.cmd("CLIENT GETREDIR"), ":-1\r\n");
}

#[test]
fn pushes_bypass_client_reply_off_and_reach_blocked_clients() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(w.cmd("SET foo bar"), "+OK\r\n");
    assert_eq!(a.cmd("GET foo"), "$3\r\nbar\r\n");
    a.send(&[b"CLIENT", b"REPLY", b"OFF"]);
    assert_eq!(w.cmd("SET foo bar2"), "+OK\r\n");
    assert_eq!(a.read(), push(&["foo"]));
    // Our own write's invalidation survives REPLY OFF; the reply does not.
    a.send(&[b"GET", b"q"]);
    a.send(&[b"SET", b"q", b"1"]);
    assert_eq!(a.read(), push(&["q"]));
    assert_eq!(a.cmd("CLIENT REPLY ON"), "+OK\r\n");
    assert_eq!(a.cmd("PING"), "+PONG\r\n");
    // A client blocked in BLPOP still gets its invalidations.
    assert_eq!(a.cmd("GET watched"), "_\r\n");
    a.send(&[b"BLPOP", b"list", b"0"]);
    assert!(eventually(Duration::from_secs(5), || info_field(&mut w, "blocked_clients") == "1"));
    assert_eq!(w.cmd("SET watched 1"), "+OK\r\n");
    assert_eq!(a.read(), push(&["watched"]));
    assert_eq!(w.cmd("RPUSH list x"), ":1\r\n");
    assert_eq!(a.read(), "*2\r\n$4\r\nlist\r\n$1\r\nx\r\n");
}

#[test]
fn unblocked_blmove_gets_its_invalidation_after_the_reply() {
    let s = Server::start();
    let mut a = resp3(&s);
    let mut w = s.raw();
    assert_eq!(w.cmd("RPUSH list2{t} a"), ":1\r\n");
    assert_eq!(a.cmd("CLIENT TRACKING on"), "+OK\r\n");
    assert_eq!(a.cmd("LRANGE list2{t} 0 -1"), "*1\r\n$1\r\na\r\n");
    a.send(&[b"BLMOVE", b"list1{t}", b"list2{t}", b"LEFT", b"LEFT", b"0"]);
    assert!(eventually(Duration::from_secs(5), || info_field(&mut w, "blocked_clients") == "1"));
    assert_eq!(w.cmd("RPUSH list1{t} foo"), ":1\r\n");
    assert_eq!(a.read(), "$3\r\nfoo\r\n");
    assert_eq!(a.read(), push(&["list2{t}"]));
}

/// redis-py's own client-side cache (RESP3, `cache_config`) against our server.
#[test]
fn redis_py_client_side_cache() {
    let have = std::process::Command::new("python3").args(["-c", "import redis.cache"]).output().is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("SKIPPED redis_py_client_side_cache: python3 with redis-py >= 5.1 is not installed (pip install redis)");
        return;
    }
    let s = Server::start();
    let script = r#"
import sys, time
import redis, redis.connection
from redis.cache import CacheConfig
# redis-py enables its cache only for servers that say 7.4 or later; the protocol it
# uses (CLIENT TRACKING ON, RESP3 invalidation pushes) is the same in 7.2.
redis.connection.CacheProxyConnection.MIN_ALLOWED_VERSION = "7.2.0"
port = int(sys.argv[1])
a = redis.Redis(port=port, protocol=3, cache_config=CacheConfig())
b = redis.Redis(port=port)
b.set("csc:key", "v1")
assert a.get("csc:key") == b"v1"
hits = b.info("stats")["keyspace_hits"]
assert a.get("csc:key") == b"v1"
assert b.info("stats")["keyspace_hits"] == hits, "second GET must come from the client cache"
assert a.get_cache().size == 1
b.set("csc:key", "v2")
deadline = time.time() + 5
while a.get("csc:key") != b"v2":
    assert time.time() < deadline, "stale value served after invalidation"
    time.sleep(0.01)
print("OK")
"#;
    let out = std::process::Command::new("python3").args(["-c", script, &s.port.to_string()]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.trim() == "OK", "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
}

/// A tracked key evicted to make room for a command is invalidated before that
/// command's reply (Redis evicts before running it); used_memory counts a large
/// allocation at once, so the eviction happens at the very next command.
#[test]
fn eviction_invalidates_before_the_reply() {
    let s = Server::start();
    let mut c = resp3(&s);
    assert_eq!(c.cmd("CLIENT TRACKING on"), "+OK\r\n");
    let info = c.cmd("INFO memory");
    let used: u64 = info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap();
    assert_eq!(c.cmd(&format!("CONFIG SET maxmemory {}", used + 100 * 1024)), "+OK\r\n");
    assert_eq!(c.cmd("CONFIG SET maxmemory-policy volatile-random"), "+OK\r\n");
    assert_eq!(c.cmd("SETEX volatile-key 10000 x"), "+OK\r\n");
    assert_eq!(c.cmd("GET volatile-key"), "$1\r\nx\r\n");
    // 200 KB in one allocation: over the limit from here on.
    assert_eq!(c.cmd("SETBIT big-key 1600000 0"), ":0\r\n");
    assert_eq!(c.cmd("GETBIT big-key 0"), push(&["volatile-key"]));
    assert_eq!(c.read(), ":0\r\n");
    assert_eq!(c.cmd("CONFIG SET maxmemory 0"), "+OK\r\n");
    assert_eq!(c.cmd("EXISTS volatile-key"), ":0\r\n");
    assert!(quiet(&mut c));
}
