//! Set commands against the real server, compared with Redis 7.2.6's exact replies,
//! encodings and write-stream effects.

mod common;
use common::{Raw, Server};

/// The bulk strings of a flat aggregate reply, sorted (set order is unspecified).
fn members(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap().to_string());
        }
    }
    out.sort();
    out
}

fn header(reply: &str) -> &str {
    reply.split("\r\n").next().unwrap()
}

fn enc(c: &mut Raw, key: &str) -> String {
    c.cmd(&format!("OBJECT ENCODING {key}"))
}

fn sadd_range(c: &mut Raw, key: &str, prefix: &str, n: usize) {
    let mut line = format!("SADD {key}");
    for i in 0..n {
        line.push_str(&format!(" {prefix}{i}"));
    }
    c.cmd(&line);
}

fn stream(c: &mut Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 10000000").replace("\r\n", " ")
}

#[test]
fn basics_and_empty_key_deletion() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("SADD s a b c a"), ":3\r\n");
    assert_eq!(c.cmd("SADD s a d"), ":1\r\n");
    assert_eq!(c.cmd("SCARD s"), ":4\r\n");
    assert_eq!(c.cmd("SISMEMBER s a"), ":1\r\n");
    assert_eq!(c.cmd("SISMEMBER s z"), ":0\r\n");
    assert_eq!(c.cmd("SMISMEMBER s a z d"), "*3\r\n:1\r\n:0\r\n:1\r\n");
    assert_eq!(c.cmd("SMISMEMBER nokey a b"), "*2\r\n:0\r\n:0\r\n");
    assert_eq!(members(&c.cmd("SMEMBERS s")), ["a", "b", "c", "d"]);
    assert_eq!(c.cmd("SMEMBERS nokey"), "*0\r\n");
    assert_eq!(c.cmd("SCARD nokey"), ":0\r\n");
    assert_eq!(c.cmd("SISMEMBER nokey a"), ":0\r\n");
    assert_eq!(c.cmd("SREM s a z"), ":1\r\n");
    assert_eq!(c.cmd("SREM nokey a"), ":0\r\n");
    assert_eq!(c.cmd("SREM s b c d e"), ":3\r\n");
    assert_eq!(c.cmd("EXISTS s"), ":0\r\n");
    assert_eq!(c.cmd("SADD s"), "-ERR wrong number of arguments for 'sadd' command\r\n");
    assert_eq!(c.cmd("SMISMEMBER s"), "-ERR wrong number of arguments for 'smismember' command\r\n");
    assert_eq!(c.cmd("TYPE nokey"), "+none\r\n");
    c.cmd("SADD s 1");
    assert_eq!(c.cmd("TYPE s"), "+set\r\n");
    assert_eq!(c.cmd("SPOP s"), "$1\r\n1\r\n");
    assert_eq!(c.cmd("EXISTS s"), ":0\r\n");
    assert_eq!(c.cmd("SPOP s"), "$-1\r\n");
    assert_eq!(c.cmd("SRANDMEMBER s"), "$-1\r\n");
}

#[test]
fn wrongtype_everywhere() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET str v");
    c.cmd("SADD s a");
    let wt = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SINTER s str",
        "SINTER nokey str",
        "SINTERCARD 2 nokey str",
        "SINTERSTORE d s str",
        "SUNION s str",
        "SUNIONSTORE d s str",
        "SDIFF s str",
        "SDIFF nokey str",
        "SDIFFSTORE d s str",
        "SMOVE str s a",
        "SMOVE s str a",
        "SSCAN str 0",
    ] {
        assert_eq!(c.cmd(cmd), wt, "{cmd}");
    }
    // A missing source wins over a wrong-typed destination.
    assert_eq!(c.cmd("SMOVE nokey str a"), ":0\r\n");
    assert_eq!(c.cmd("GET str"), "$1\r\nv\r\n");
}

#[test]
fn intset_listpack_hashtable_conversions() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD i 1 2 3 -70000 9223372036854775807");
    assert_eq!(enc(&mut c, "i"), "$6\r\nintset\r\n");
    assert_eq!(members(&c.cmd("SMEMBERS i")), ["-70000", "1", "2", "3", "9223372036854775807"]);
    // A non-integer turns a small intset into a listpack.
    c.cmd("SADD i a");
    assert_eq!(enc(&mut c, "i"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("SISMEMBER i 9223372036854775807"), ":1\r\n");
    // Integers that are not canonical or too large are strings.
    c.cmd("SADD j 01");
    assert_eq!(enc(&mut c, "j"), "$8\r\nlistpack\r\n");
    c.cmd("SADD k 18446744073709551616");
    assert_eq!(enc(&mut c, "k"), "$8\r\nlistpack\r\n");
    // intset: 512 members stay, the 513th converts to a hashtable.
    sadd_range(&mut c, "big", "", 512);
    assert_eq!(enc(&mut c, "big"), "$6\r\nintset\r\n");
    c.cmd("SADD big 512");
    assert_eq!(enc(&mut c, "big"), "$9\r\nhashtable\r\n");
    assert_eq!(c.cmd("SCARD big"), ":513\r\n");
    // SADD with more members than an intset may hold converts up front.
    sadd_range(&mut c, "big2", "", 513);
    assert_eq!(enc(&mut c, "big2"), "$9\r\nhashtable\r\n");
    // A large intset taking a string goes straight to a hashtable.
    sadd_range(&mut c, "i128", "", 128);
    c.cmd("SADD i128 x");
    assert_eq!(enc(&mut c, "i128"), "$9\r\nhashtable\r\n");
    sadd_range(&mut c, "i127", "", 127);
    c.cmd("SADD i127 x");
    assert_eq!(enc(&mut c, "i127"), "$8\r\nlistpack\r\n");
    // listpack: 128 members, then a hashtable; long members convert too.
    sadd_range(&mut c, "l", "m", 128);
    assert_eq!(enc(&mut c, "l"), "$8\r\nlistpack\r\n");
    c.cmd("SADD l m128");
    assert_eq!(enc(&mut c, "l"), "$9\r\nhashtable\r\n");
    c.cmd("SADD lv a");
    c.cmd(&format!("SADD lv {}", "x".repeat(64)));
    assert_eq!(enc(&mut c, "lv"), "$8\r\nlistpack\r\n");
    c.cmd(&format!("SADD lv {}", "y".repeat(65)));
    assert_eq!(enc(&mut c, "lv"), "$9\r\nhashtable\r\n");
    c.cmd("SADD iv 1 2");
    c.cmd(&format!("SADD iv {}", "y".repeat(65)));
    assert_eq!(enc(&mut c, "iv"), "$9\r\nhashtable\r\n");
}

#[test]
fn thresholds_follow_config_set() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(c.cmd("CONFIG SET set-max-intset-entries 4"), "+OK\r\n");
    c.cmd("SADD a 1 2 3 4");
    assert_eq!(enc(&mut c, "a"), "$6\r\nintset\r\n");
    c.cmd("SADD a 5");
    assert_eq!(enc(&mut c, "a"), "$9\r\nhashtable\r\n");
    // Too many for an intset at creation: a listpack, even for integers.
    c.cmd("SADD b 1 2 3 4 5");
    assert_eq!(enc(&mut c, "b"), "$8\r\nlistpack\r\n");
    c.cmd("CONFIG SET set-max-intset-entries 512");
    c.cmd("CONFIG SET set-max-listpack-entries 2");
    c.cmd("SADD p a b");
    assert_eq!(enc(&mut c, "p"), "$8\r\nlistpack\r\n");
    c.cmd("SADD p c");
    assert_eq!(enc(&mut c, "p"), "$9\r\nhashtable\r\n");
    // An intset of 2 cannot become a listpack of 3: hashtable.
    c.cmd("SADD q 1 2");
    c.cmd("SADD q x");
    assert_eq!(enc(&mut c, "q"), "$9\r\nhashtable\r\n");
    c.cmd("CONFIG SET set-max-listpack-entries 128");
    // The widest intset member must fit set-max-listpack-value for a listpack.
    c.cmd("CONFIG SET set-max-listpack-value 3");
    c.cmd("SADD w 12345 1");
    c.cmd("SADD w ab");
    assert_eq!(enc(&mut c, "w"), "$9\r\nhashtable\r\n");
    c.cmd("SADD w2 123 -12");
    c.cmd("SADD w2 ab");
    assert_eq!(enc(&mut c, "w2"), "$8\r\nlistpack\r\n");
    c.cmd("CONFIG SET set-max-listpack-entries 0");
    c.cmd("SADD z a");
    assert_eq!(enc(&mut c, "z"), "$9\r\nhashtable\r\n");
}

#[test]
fn set_algebra_replies_and_store_encodings() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD a 1 2 3 4 5");
    c.cmd("SADD b 3 4 5 6 7");
    c.cmd("SADD x 5 x y");
    assert_eq!(members(&c.cmd("SINTER a b")), ["3", "4", "5"]);
    assert_eq!(members(&c.cmd("SINTER a b x")), ["5"]);
    assert_eq!(c.cmd("SINTER a nokey"), "*0\r\n");
    assert_eq!(members(&c.cmd("SUNION a nokey x")), ["1", "2", "3", "4", "5", "x", "y"]);
    assert_eq!(members(&c.cmd("SDIFF a b")), ["1", "2"]);
    assert_eq!(members(&c.cmd("SDIFF x a b")), ["x", "y"]);
    assert_eq!(c.cmd("SDIFF a a"), "*0\r\n");
    assert_eq!(c.cmd("SDIFF nokey a"), "*0\r\n");
    assert_eq!(members(&c.cmd("SDIFF a nokey")), ["1", "2", "3", "4", "5"]);
    assert_eq!(c.cmd("SINTERSTORE d a b"), ":3\r\n");
    assert_eq!(enc(&mut c, "d"), "$6\r\nintset\r\n");
    // A listpack intersection of integers is stored as an intset.
    c.cmd("SADD l1 1 2 3 a");
    c.cmd("SADD l2 1 2 3 b");
    assert_eq!(c.cmd("SINTERSTORE d l1 l2"), ":3\r\n");
    assert_eq!(enc(&mut c, "d"), "$6\r\nintset\r\n");
    assert_eq!(c.cmd("SUNIONSTORE d l1 l2"), ":5\r\n");
    assert_eq!(enc(&mut c, "d"), "$8\r\nlistpack\r\n");
    // So is a hashtable intersection of integers, even above the listpack limit.
    let mut h1 = String::from("SADD h1 foo");
    let mut h2 = String::from("SADD h2 bar");
    for i in 0..300 {
        h1.push_str(&format!(" {i}"));
        h2.push_str(&format!(" {}", i * 2));
    }
    c.cmd(&h1);
    c.cmd(&h2);
    assert_eq!(enc(&mut c, "h1"), "$9\r\nhashtable\r\n");
    assert_eq!(c.cmd("SINTERSTORE d h1 h2"), ":150\r\n");
    assert_eq!(enc(&mut c, "d"), "$6\r\nintset\r\n");
    assert_eq!(c.cmd("SINTERSTORE d h1 h1"), ":301\r\n");
    assert_eq!(enc(&mut c, "d"), "$9\r\nhashtable\r\n");
    // Union and difference build up from an intset like Redis's result set.
    assert_eq!(c.cmd("SDIFFSTORE d h1 h2"), ":151\r\n");
    assert_eq!(enc(&mut c, "d"), "$9\r\nhashtable\r\n");
    assert_eq!(c.cmd("SDIFFSTORE d x a"), ":2\r\n");
    assert_eq!(enc(&mut c, "d"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("SUNIONSTORE d a b"), ":7\r\n");
    assert_eq!(enc(&mut c, "d"), "$6\r\nintset\r\n");
    // The destination is overwritten whatever it held, and deleted for an empty result.
    c.cmd("SET str v");
    c.cmd("EXPIRE str 100");
    assert_eq!(c.cmd("SUNIONSTORE str a"), ":5\r\n");
    assert_eq!(c.cmd("TTL str"), ":-1\r\n");
    assert_eq!(c.cmd("SINTERSTORE d a nokey"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS d"), ":0\r\n");
    c.cmd("SET d v");
    assert_eq!(c.cmd("SDIFFSTORE d a a"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS d"), ":0\r\n");
    c.cmd("SET d v");
    assert_eq!(c.cmd("SUNIONSTORE d nokey"), ":0\r\n");
    assert_eq!(c.cmd("EXISTS d"), ":0\r\n");
}

#[test]
fn sintercard_arguments_and_limit() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD a 1 2 3 4 5");
    c.cmd("SADD b 3 4 5 6 7");
    assert_eq!(c.cmd("SINTERCARD 2 a b"), ":3\r\n");
    assert_eq!(c.cmd("SINTERCARD 2 a b LIMIT 2"), ":2\r\n");
    assert_eq!(c.cmd("SINTERCARD 2 a b limit 0"), ":3\r\n");
    assert_eq!(c.cmd("SINTERCARD 1 a LIMIT 1 LIMIT 10"), ":5\r\n");
    assert_eq!(c.cmd("SINTERCARD 2 a nokey"), ":0\r\n");
    assert_eq!(c.cmd("SINTERCARD 0 a"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(c.cmd("SINTERCARD x a"), "-ERR numkeys should be greater than 0\r\n");
    assert_eq!(c.cmd("SINTERCARD 3 a b"), "-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(c.cmd("SINTERCARD 1 a LIMIT"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SINTERCARD 1 a LIMIT -1"), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(c.cmd("SINTERCARD 1 a LIMIT x"), "-ERR LIMIT can't be negative\r\n");
    assert_eq!(c.cmd("SINTERCARD 1 a FOO 1"), "-ERR syntax error\r\n");
    let info = c.cmd("COMMAND INFO sintercard");
    assert!(info.contains("movablekeys"), "{info}");
}

#[test]
fn smove_cases_and_propagation() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD src 1 a b");
    c.cmd("SADD dst 2 3");
    assert_eq!(c.cmd("SMOVE src dst a"), ":1\r\n");
    assert_eq!(enc(&mut c, "dst"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("SMOVE src dst zz"), ":0\r\n");
    assert_eq!(c.cmd("SMOVE src src b"), ":1\r\n");
    assert_eq!(c.cmd("SMOVE src src zz"), ":0\r\n");
    assert_eq!(c.cmd("SMOVE src fresh 1"), ":1\r\n");
    assert_eq!(enc(&mut c, "fresh"), "$6\r\nintset\r\n");
    assert_eq!(c.cmd("SMOVE src fresh2 b"), ":1\r\n");
    assert_eq!(enc(&mut c, "fresh2"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("EXISTS src"), ":0\r\n");
    // Already in the destination: still moved out of the source.
    c.cmd("SADD s2 2 9");
    assert_eq!(c.cmd("SMOVE s2 dst 2"), ":1\r\n");
    assert_eq!(members(&c.cmd("SMEMBERS s2")), ["9"]);
    let st = stream(&mut c);
    assert!(st.contains("*4 $5 SMOVE $3 src $3 dst $1 a "), "{st}");
    assert!(!st.contains("zz"), "no-op moves must not be propagated: {st}");
}

#[test]
fn spop_and_srandmember_counts() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD s 1 2 3 4 5 6 7 8 9 10");
    assert_eq!(c.cmd("SPOP s 0"), "*0\r\n");
    assert_eq!(c.cmd("SPOP nokey 3"), "*0\r\n");
    assert_eq!(c.cmd("SPOP s -1"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.cmd("SPOP s x"), "-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.cmd("SPOP s 1 2"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SRANDMEMBER s 1 2"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SRANDMEMBER s x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        c.cmd("SRANDMEMBER s -9223372036854775808"),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(c.cmd("SRANDMEMBER s 0"), "*0\r\n");
    assert_eq!(c.cmd("SRANDMEMBER nokey 5"), "*0\r\n");
    let all: Vec<String> = (1..=10).map(|i| i.to_string()).collect();
    let mut sorted_all = all.clone();
    sorted_all.sort();
    assert_eq!(members(&c.cmd("SRANDMEMBER s 100")), sorted_all);
    for n in [1, 3, 5, 9] {
        let got = members(&c.cmd(&format!("SRANDMEMBER s {n}")));
        let mut dedup = got.clone();
        dedup.dedup();
        assert_eq!(got.len(), n);
        assert_eq!(dedup.len(), n, "distinct members expected");
    }
    let rep = c.cmd("SRANDMEMBER s -50");
    assert_eq!(header(&rep), "*50");
    assert!(members(&rep).iter().all(|m| all.contains(m)));
    let popped = members(&c.cmd("SPOP s 4"));
    assert_eq!(popped.len(), 4);
    assert_eq!(c.cmd("SCARD s"), ":6\r\n");
    for p in &popped {
        assert_eq!(c.cmd(&format!("SISMEMBER s {p}")), ":0\r\n");
    }
    assert_eq!(members(&c.cmd("SPOP s 100")).len(), 6);
    assert_eq!(c.cmd("EXISTS s"), ":0\r\n");
    // Most of a listpack or hashtable popped: the rest keeps a compact encoding.
    sadd_range(&mut c, "lp", "m", 50);
    assert_eq!(members(&c.cmd("SPOP lp 45")).len(), 45);
    assert_eq!(enc(&mut c, "lp"), "$8\r\nlistpack\r\n");
    sadd_range(&mut c, "ht", "m", 300);
    assert_eq!(members(&c.cmd("SPOP ht 290")).len(), 290);
    assert_eq!(enc(&mut c, "ht"), "$8\r\nlistpack\r\n");
    assert_eq!(c.cmd("SCARD ht"), ":10\r\n");
    // Even a hashtable of integers rebuilds its rest as a listpack, as Redis does.
    sadd_range(&mut c, "hi", "", 600);
    assert_eq!(enc(&mut c, "hi"), "$9\r\nhashtable\r\n");
    c.cmd("SPOP hi 590");
    assert_eq!(enc(&mut c, "hi"), "$8\r\nlistpack\r\n");
    sadd_range(&mut c, "ii", "", 100);
    c.cmd("SPOP ii 95");
    assert_eq!(enc(&mut c, "ii"), "$6\r\nintset\r\n");
    assert_eq!(c.cmd("SCARD ii"), ":5\r\n");
}

#[test]
fn spop_propagates_srem_batches_or_del() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD one x");
    c.cmd("SPOP one");
    c.cmd("SADD all a b c");
    c.cmd("SPOP all 3");
    c.cmd("SADD few a b c d e f");
    c.cmd("SPOP few 2");
    c.cmd("SPOP nokey 2");
    c.cmd("SPOP nokey");
    let st = stream(&mut c);
    assert!(st.contains("*3 $4 SREM $3 one $1 x "), "{st}");
    assert!(st.contains("*2 $3 DEL $3 all "), "{st}");
    assert!(st.contains("*4 $4 SREM $3 few "), "{st}");
    assert!(!st.contains("SPOP") && !st.contains("nokey"), "{st}");
    c.cmd("CONFIG SET lazyfree-lazy-server-del yes");
    c.cmd("SADD all2 a b");
    c.cmd("SPOP all2 5");
    assert!(stream(&mut c).contains("*2 $6 UNLINK $4 all2 "));
    // Large pops go out as SREMs of at most 1024 members.
    sadd_range(&mut c, "big", "m", 3000);
    c.cmd("SPOP big 2100");
    let st = stream(&mut c);
    assert!(st.contains("*1026 $4 SREM $3 big "), "{}", &st[st.len().saturating_sub(300)..]);
    assert!(st.contains("*54 $4 SREM $3 big "), "{}", &st[st.len().saturating_sub(300)..]);
    assert_eq!(c.cmd("SCARD big"), ":900\r\n");
}

#[test]
fn resp3_reply_shapes() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("HELLO 3");
    c.cmd("SADD s 1 2 3");
    assert_eq!(header(&c.cmd("SMEMBERS s")), "~3");
    assert_eq!(header(&c.cmd("SINTER s s")), "~3");
    assert_eq!(header(&c.cmd("SUNION s")), "~3");
    assert_eq!(header(&c.cmd("SDIFF s")), "~3");
    assert_eq!(c.cmd("SMEMBERS nokey"), "~0\r\n");
    assert_eq!(c.cmd("SINTER nokey s"), "~0\r\n");
    assert_eq!(c.cmd("SPOP nokey 2"), "~0\r\n");
    assert_eq!(c.cmd("SPOP s 0"), "~0\r\n");
    assert_eq!(header(&c.cmd("SPOP s 1")), "~1");
    assert_eq!(header(&c.cmd("SRANDMEMBER s 2")), "*2");
    assert_eq!(c.cmd("SRANDMEMBER nokey 2"), "*0\r\n");
    assert_eq!(c.cmd("SRANDMEMBER nokey"), "_\r\n");
    assert_eq!(c.cmd("SPOP nokey"), "_\r\n");
    assert_eq!(c.cmd("SSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    c.cmd("SADD t 1");
    assert_eq!(c.cmd("SMISMEMBER t 1 9"), "*2\r\n:1\r\n:0\r\n");
}

/// Runs a full SSCAN, returning every member seen.
fn full_scan(c: &mut Raw, key: &str, extra: &str, mut between: impl FnMut(&mut Raw)) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let r = c.cmd(&format!("SSCAN {key} {cursor}{extra}"));
        let parts: Vec<&str> = r.split("\r\n").collect();
        cursor = parts[2].to_string();
        let mut i = 3;
        while i < parts.len() {
            if parts[i].starts_with('$') {
                seen.push(parts[i + 1].to_string());
                i += 2;
            } else {
                i += 1;
            }
        }
        between(c);
        if cursor == "0" {
            break;
        }
    }
    seen
}

#[test]
fn sscan_options_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD s 1 2 3 foo");
    assert_eq!(c.cmd("SSCAN s abc"), "-ERR invalid cursor\r\n");
    assert_eq!(c.cmd("SSCAN s 0 COUNT 0"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SSCAN s 0 COUNT x"), "-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.cmd("SSCAN s 0 COUNT"), "-ERR syntax error\r\n");
    assert_eq!(c.cmd("SSCAN s 0 TYPE set"), "-ERR syntax error\r\n");
    // A missing key answers before the options are looked at, as in Redis.
    assert_eq!(c.cmd("SSCAN nokey 0 COUNT 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    // Compact encodings come back whole, whatever COUNT says.
    let r = c.cmd("SSCAN s 0 COUNT 1");
    assert!(r.starts_with("*2\r\n$1\r\n0\r\n*4\r\n"), "{r}");
    assert_eq!(members(&r), ["0", "1", "2", "3", "foo"]);
    assert_eq!(c.cmd("SSCAN s 0 MATCH f*"), "*2\r\n$1\r\n0\r\n*1\r\n$3\r\nfoo\r\n");
    // strtoul reading: a negative cursor wraps around and is accepted.
    assert_eq!(header(&c.cmd("SSCAN s -1")), "*2");
    sadd_range(&mut c, "h", "k", 1000);
    let mut seen = full_scan(&mut c, "h", "", |_| {});
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1000);
    let matched = full_scan(&mut c, "h", " MATCH k1?? COUNT 50", |_| {});
    assert_eq!(matched.len(), 100);
    assert!(matched.iter().all(|m| m.len() == 4 && m.starts_with("k1")));
}

#[test]
fn sscan_returns_members_present_for_the_whole_scan() {
    let s = Server::start();
    let mut c = s.raw();
    sadd_range(&mut c, "h", "stay", 500);
    sadd_range(&mut c, "h", "churn", 500);
    let mut round = 0;
    let seen = full_scan(&mut c, "h", " COUNT 20", |c| {
        // Between calls: remove some members, add others.
        round += 1;
        for j in 0..10 {
            let i = (round * 10 + j) % 500;
            c.cmd(&format!("SREM h churn{i}"));
            c.cmd(&format!("SADD h new{round}_{j}"));
        }
    });
    for i in 0..500 {
        assert!(seen.contains(&format!("stay{i}")), "stay{i} missing");
    }
}

#[test]
fn digest_copy_and_memory() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SADD a 3 1 2");
    c.cmd("CONFIG SET set-max-intset-entries 0");
    c.cmd("CONFIG SET set-max-listpack-entries 0");
    c.cmd("SADD b 1 2 3");
    assert_eq!(enc(&mut c, "b"), "$9\r\nhashtable\r\n");
    let (da, db) = (c.cmd("DEBUG DIGEST-VALUE a"), c.cmd("DEBUG DIGEST-VALUE b"));
    assert_eq!(da, db, "digest must not depend on the encoding");
    c.cmd("SADD b 4");
    assert_ne!(c.cmd("DEBUG DIGEST-VALUE b"), da);
    assert_eq!(c.cmd("COPY a a2"), ":1\r\n");
    c.cmd("SADD a 99");
    assert_eq!(members(&c.cmd("SMEMBERS a2")), ["1", "2", "3"]);
    assert_eq!(enc(&mut c, "a2"), "$6\r\nintset\r\n");
    assert!(c.cmd("MEMORY USAGE b").starts_with(':'));
}
