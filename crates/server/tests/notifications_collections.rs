//! Keyspace notifications of the set, sorted set and geo commands against the real
//! server: the exact message sequences Redis 7.2.6 publishes (event names, classes,
//! the command's own event ahead of the `del` of an emptied key, `new` ahead of both,
//! nothing for a write that changed nothing).

mod common;
use std::time::Duration;

use common::events::Events;
use common::Server;

/// Both messages of each (event, key) in database 0, keyspace first.
fn seq(events: &[(&str, &str)]) -> Vec<String> {
    events.iter().flat_map(|(e, k)| [format!("__keyspace@0__:{k} {e}"), format!("__keyevent@0__:{e} {k}")]).collect()
}

#[test]
fn set_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.run("SADD s a b c"), (":3\r\n".into(), seq(&[("sadd", "s")])));
    assert_eq!(e.run("SADD s a"), (":0\r\n".into(), vec![]));
    assert_eq!(e.ev("SREM s zz"), seq(&[]));
    assert_eq!(e.ev("SREM nokey a"), seq(&[]));
    assert_eq!(e.ev("SREM s a"), seq(&[("srem", "s")]));
    assert_eq!(e.run("SREM s b c zz"), (":2\r\n".into(), seq(&[("srem", "s"), ("del", "s")])));
    assert_eq!(e.c.cmd("EXISTS s"), ":0\r\n");

    // SMOVE: nothing for src == dst or a missing member; `sadd` only when the
    // destination did not have the member yet.
    e.c.cmd("SADD s a b");
    assert_eq!(e.run("SMOVE s s a"), (":1\r\n".into(), vec![]));
    assert_eq!(e.ev("SMOVE s d zz"), seq(&[]));
    assert_eq!(e.ev("SMOVE nokey d a"), seq(&[]));
    assert_eq!(e.ev("SMOVE s d a"), seq(&[("srem", "s"), ("sadd", "d")]));
    e.c.cmd("SADD d b");
    assert_eq!(e.run("SMOVE s d b"), (":1\r\n".into(), seq(&[("srem", "s"), ("del", "s")])));
    e.c.cmd("SADD s x");
    assert_eq!(e.ev("SMOVE d s b"), seq(&[("srem", "d"), ("sadd", "s")]));
    assert_eq!(e.ev("SMOVE d s a"), seq(&[("srem", "d"), ("del", "d"), ("sadd", "s")]));

    // SPOP with and without a count (intset, listpack and hashtable sets).
    e.c.cmd("SADD p x y z");
    assert_eq!(e.run("SPOP p 0"), ("*0\r\n".into(), vec![]));
    assert_eq!(e.ev("SPOP p"), seq(&[("spop", "p")]));
    assert_eq!(e.ev("SPOP p 1"), seq(&[("spop", "p")]));
    assert_eq!(e.ev("SPOP p 5"), seq(&[("spop", "p"), ("del", "p")]));
    assert_eq!(e.ev("SPOP p"), seq(&[]));
    assert_eq!(e.ev("SPOP p 3"), seq(&[]));
    e.c.cmd("SADD i 1");
    assert_eq!(e.run("SPOP i"), ("$1\r\n1\r\n".into(), seq(&[("spop", "i"), ("del", "i")])));
    e.c.cmd("SADD i 1 2 3");
    assert_eq!(e.ev("SPOP i 3"), seq(&[("spop", "i"), ("del", "i")]));
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    e.c.cmd(&format!("SADD big {}", members.join(" ")));
    assert_eq!(e.c.cmd("OBJECT ENCODING big"), "$9\r\nhashtable\r\n");
    assert_eq!(e.ev("SPOP big 190"), seq(&[("spop", "big")]));
    assert_eq!(e.ev("SPOP big 2"), seq(&[("spop", "big")]));
    assert_eq!(e.ev("SPOP big 8"), seq(&[("spop", "big"), ("del", "big")]));

    // Failed writes say nothing.
    e.c.cmd("SET str x");
    assert_eq!(e.ev("SADD str a"), seq(&[]));
    assert_eq!(e.ev("SMOVE str d a"), seq(&[]));
    e.c.cmd("SADD d a");
    assert_eq!(e.ev("SMOVE d str a"), seq(&[]));
    assert_eq!(e.ev("SPOP str"), seq(&[]));
}

#[test]
fn set_store_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    e.c.cmd("SADD a 1 2 3");
    e.c.cmd("SADD b 2 3 4");
    assert_eq!(e.run("SINTERSTORE i a b"), (":2\r\n".into(), seq(&[("sinterstore", "i")])));
    // An empty result deletes an existing destination (`del`), else says nothing.
    assert_eq!(e.run("SINTERSTORE i a nokey"), (":0\r\n".into(), seq(&[("del", "i")])));
    assert_eq!(e.ev("SINTERSTORE i a nokey"), seq(&[]));
    e.c.cmd("SADD i2 z");
    e.c.cmd("SADD c 9");
    assert_eq!(e.ev("SINTERSTORE i2 a c"), seq(&[("del", "i2")]));
    assert_eq!(e.ev("SUNIONSTORE u a b"), seq(&[("sunionstore", "u")]));
    assert_eq!(e.ev("SUNIONSTORE u nokey"), seq(&[("del", "u")]));
    assert_eq!(e.ev("SUNIONSTORE u nokey"), seq(&[]));
    assert_eq!(e.ev("SDIFFSTORE df a b"), seq(&[("sdiffstore", "df")]));
    assert_eq!(e.ev("SDIFFSTORE df a a"), seq(&[("del", "df")]));
    assert_eq!(e.ev("SDIFFSTORE df a a"), seq(&[]));
    // Storing over the source itself.
    assert_eq!(e.ev("SUNIONSTORE a a"), seq(&[("sunionstore", "a")]));
    // Reads and cardinality counts publish nothing.
    assert_eq!(e.ev("SINTERCARD 2 a b"), seq(&[]));
    assert_eq!(e.ev("SINTER a b"), seq(&[]));
    assert_eq!(e.ev("SMEMBERS a"), seq(&[]));
}

#[test]
fn zset_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.run("ZADD z 1 a 2 b 3 c"), (":3\r\n".into(), seq(&[("zadd", "z")])));
    assert_eq!(e.ev("ZADD z 1 a"), seq(&[]));
    // An update is a change even when the reply (no CH) says 0.
    assert_eq!(e.run("ZADD z 5 a"), (":0\r\n".into(), seq(&[("zadd", "z")])));
    assert_eq!(e.ev("ZADD z NX 6 a"), seq(&[]));
    assert_eq!(e.ev("ZADD z XX 7 new"), seq(&[]));
    assert_eq!(e.ev("ZADD zx XX 7 new"), seq(&[]));
    assert_eq!(e.ev("ZADD z GT CH 1 a"), seq(&[]));
    assert_eq!(e.run("ZADD z INCR 1 a"), ("$1\r\n6\r\n".into(), seq(&[("zincr", "z")])));
    assert_eq!(e.ev("ZADD z NX INCR 1 a"), seq(&[]));
    assert_eq!(e.ev("ZINCRBY z 1 b"), seq(&[("zincr", "z")]));
    assert_eq!(e.ev("ZINCRBY zn 1 b"), seq(&[("zincr", "zn")]));
    // A NaN result changes nothing.
    e.c.cmd("ZADD inf +inf m");
    assert!(e.run("ZADD inf INCR -inf m").0.starts_with("-ERR resulting score is not a number"));
    assert_eq!(e.ev("ZADD inf INCR -inf m"), seq(&[]));

    assert_eq!(e.ev("ZREM z nope"), seq(&[]));
    assert_eq!(e.ev("ZREM z a"), seq(&[("zrem", "z")]));
    assert_eq!(e.ev("ZREM zn b x"), seq(&[("zrem", "zn"), ("del", "zn")]));

    assert_eq!(e.ev("ZREMRANGEBYRANK z 5 10"), seq(&[]));
    assert_eq!(e.ev("ZREMRANGEBYRANK z 0 0"), seq(&[("zremrangebyrank", "z")]));
    assert_eq!(e.ev("ZREMRANGEBYRANK z 0 -1"), seq(&[("zremrangebyrank", "z"), ("del", "z")]));
    e.c.cmd("ZADD z 1 x 2 y 3 w");
    assert_eq!(e.ev("ZREMRANGEBYSCORE z 100 200"), seq(&[]));
    assert_eq!(e.ev("ZREMRANGEBYSCORE z 1 1"), seq(&[("zremrangebyscore", "z")]));
    assert_eq!(e.ev("ZREMRANGEBYSCORE z -inf +inf"), seq(&[("zremrangebyscore", "z"), ("del", "z")]));
    e.c.cmd("ZADD z 0 a 0 b 0 c");
    assert_eq!(e.ev("ZREMRANGEBYLEX z [x [z"), seq(&[]));
    assert_eq!(e.ev("ZREMRANGEBYLEX z [a [a"), seq(&[("zremrangebylex", "z")]));
    assert_eq!(e.ev("ZREMRANGEBYLEX z - +"), seq(&[("zremrangebylex", "z"), ("del", "z")]));
    assert_eq!(e.ev("ZREMRANGEBYLEX nokey - +"), seq(&[]));

    // Failed writes say nothing.
    e.c.cmd("SET str x");
    assert_eq!(e.ev("ZADD str 1 a"), seq(&[]));
    assert_eq!(e.ev("ZREM str a"), seq(&[]));
    assert_eq!(e.ev("ZPOPMIN str"), seq(&[]));
}

#[test]
fn zset_store_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    e.c.cmd("ZADD za 1 a 2 b");
    e.c.cmd("ZADD zb 2 b 3 c");
    assert_eq!(e.run("ZUNIONSTORE zu 2 za zb"), (":3\r\n".into(), seq(&[("zunionstore", "zu")])));
    assert_eq!(e.ev("ZINTERSTORE zi 2 za zb"), seq(&[("zinterstore", "zi")]));
    assert_eq!(e.ev("ZDIFFSTORE zd 2 za zb"), seq(&[("zdiffstore", "zd")]));
    assert_eq!(e.ev("ZINTERSTORE zi 2 za nokey"), seq(&[("del", "zi")]));
    assert_eq!(e.ev("ZINTERSTORE zi 2 za nokey"), seq(&[]));
    assert_eq!(e.ev("ZDIFFSTORE zd 2 za za"), seq(&[("del", "zd")]));
    assert_eq!(e.ev("ZUNIONSTORE zu 1 nokey"), seq(&[("del", "zu")]));
    // A plain set is a valid input.
    e.c.cmd("SADD st a");
    assert_eq!(e.ev("ZINTERSTORE zs 2 za st"), seq(&[("zinterstore", "zs")]));
    assert_eq!(e.run("ZRANGESTORE zr za 0 -1"), (":2\r\n".into(), seq(&[("zrangestore", "zr")])));
    assert_eq!(e.ev("ZRANGESTORE zr za 0 0 REV"), seq(&[("zrangestore", "zr")]));
    assert_eq!(e.ev("ZRANGESTORE zr za 5 6"), seq(&[("del", "zr")]));
    assert_eq!(e.ev("ZRANGESTORE zr za 5 6"), seq(&[]));
    assert_eq!(e.ev("ZRANGESTORE zr nokey 0 -1"), seq(&[]));
    e.c.cmd("ZADD zr 1 q");
    assert_eq!(e.ev("ZRANGESTORE zr nokey 0 -1"), seq(&[("del", "zr")]));
    // Reads publish nothing.
    assert_eq!(e.ev("ZUNION 2 za zb"), seq(&[]));
    assert_eq!(e.ev("ZINTERCARD 2 za zb"), seq(&[]));
}

#[test]
fn zset_pop_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    e.c.cmd("ZADD p 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(e.ev("ZPOPMIN p"), seq(&[("zpopmin", "p")]));
    // One event for several members.
    assert_eq!(e.ev("ZPOPMAX p 2"), seq(&[("zpopmax", "p")]));
    assert_eq!(e.run("ZPOPMIN p 0"), ("*0\r\n".into(), vec![]));
    assert_eq!(e.ev("ZPOPMIN p 10"), seq(&[("zpopmin", "p"), ("del", "p")]));
    assert_eq!(e.run("ZPOPMIN p"), ("*0\r\n".into(), vec![]));
    e.c.cmd("ZADD p 1 a 2 b 3 c");
    assert_eq!(e.ev("ZMPOP 2 nokey p MIN COUNT 2"), seq(&[("zpopmin", "p")]));
    assert_eq!(e.ev("ZMPOP 1 p MAX COUNT 5"), seq(&[("zpopmax", "p"), ("del", "p")]));
    assert_eq!(e.run("ZMPOP 1 p MIN"), ("*-1\r\n".into(), vec![]));
    e.c.cmd("ZADD p 1 a 2 b");
    assert_eq!(e.ev("BZPOPMIN nokey p 0"), seq(&[("zpopmin", "p")]));
    assert_eq!(e.ev("BZPOPMAX p 0"), seq(&[("zpopmax", "p"), ("del", "p")]));
    e.c.cmd("ZADD p 1 a 2 b");
    assert_eq!(e.ev("BZMPOP 0 1 p MAX COUNT 1"), seq(&[("zpopmax", "p")]));
    assert_eq!(e.ev("BZMPOP 0 1 p MIN COUNT 10"), seq(&[("zpopmin", "p"), ("del", "p")]));
    assert_eq!(e.run("BZPOPMIN p 0.01"), ("*-1\r\n".into(), vec![]));
}

#[test]
fn blocked_zset_pops_served_by_an_add() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    let mut blocked = s.raw();
    blocked.send(&[b"BZPOPMIN", b"q", b"0"]);
    assert!(common::eventually(Duration::from_secs(5), || { e.c.cmd("INFO clients").contains("blocked_clients:1") }));
    // The adder's event, then the served client's pop and the key's deletion.
    assert_eq!(e.ev("ZADD q 1 a"), seq(&[("zadd", "q"), ("zpopmin", "q"), ("del", "q")]));
    assert_eq!(blocked.read(), "*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n");
    blocked.send(&[b"BZMPOP", b"0", b"1", b"q", b"MAX", b"COUNT", b"1"]);
    assert!(common::eventually(Duration::from_secs(5), || { e.c.cmd("INFO clients").contains("blocked_clients:1") }));
    assert_eq!(e.ev("ZADD q 1 a 2 b"), seq(&[("zadd", "q"), ("zpopmax", "q")]));
    assert_eq!(blocked.read(), "*2\r\n$1\r\nq\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

#[test]
fn geo_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEA");
    assert_eq!(e.ev("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), seq(&[("zadd", "g")]));
    assert_eq!(e.ev("GEOADD g 13.361389 38.115556 Palermo"), seq(&[]));
    assert_eq!(e.ev("GEOADD g XX 13.361389 38.115556 Other"), seq(&[]));
    assert_eq!(e.ev("GEOADD nog XX 13.361389 38.115556 Other"), seq(&[]));
    assert_eq!(e.run("GEOADD g 13.4 38.1 Palermo"), (":0\r\n".into(), seq(&[("zadd", "g")])));
    assert_eq!(e.ev("GEOADD g 200 38.1 Bad"), seq(&[]));

    assert_eq!(e.run("GEORADIUS g 15 37 200 km STORE gs"), (":2\r\n".into(), seq(&[("georadiusstore", "gs")])));
    assert_eq!(e.ev("GEORADIUS g 15 37 200 km STOREDIST gs2"), seq(&[("georadiusstore", "gs2")]));
    assert_eq!(e.ev("GEORADIUS g 0 0 1 km STORE gs"), seq(&[("del", "gs")]));
    assert_eq!(e.ev("GEORADIUS g 0 0 1 km STORE gs"), seq(&[]));
    assert_eq!(e.ev("GEORADIUS nokey 0 0 1 km STORE gs2"), seq(&[("del", "gs2")]));
    assert_eq!(e.ev("GEORADIUSBYMEMBER g Palermo 10 km STORE gs3"), seq(&[("georadiusstore", "gs3")]));
    assert_eq!(e.ev("GEOSEARCHSTORE gss g FROMLONLAT 15 37 BYRADIUS 200 km"), seq(&[("geosearchstore", "gss")]));
    assert_eq!(e.ev("GEOSEARCHSTORE gss g FROMMEMBER Palermo BYBOX 10 10 km STOREDIST"), seq(&[("geosearchstore", "gss")]));
    assert_eq!(e.ev("GEOSEARCHSTORE gss g FROMLONLAT 0 0 BYRADIUS 1 km"), seq(&[("del", "gss")]));
    assert_eq!(e.ev("GEOSEARCHSTORE gss g FROMLONLAT 0 0 BYRADIUS 1 km"), seq(&[]));
    e.c.cmd("ZADD gss 1 x");
    assert_eq!(e.ev("GEOSEARCHSTORE gss nokey FROMLONLAT 15 37 BYRADIUS 200 km"), seq(&[("del", "gss")]));
    // Reads publish nothing.
    assert_eq!(e.ev("GEORADIUS g 15 37 200 km"), seq(&[]));
    assert_eq!(e.ev("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km"), seq(&[]));
    assert_eq!(e.ev("GEODIST g Palermo Catania"), seq(&[]));
}

/// `new` precedes the command's own event; reads of a missing key raise `keymiss`.
#[test]
fn new_and_keymiss_events() {
    let s = Server::start();
    let mut e = Events::new(&s, "KEAnm");
    assert_eq!(e.ev("SADD s a"), seq(&[("new", "s"), ("sadd", "s")]));
    assert_eq!(e.ev("SMOVE s d a"), seq(&[("srem", "s"), ("del", "s"), ("new", "d"), ("sadd", "d")]));
    assert_eq!(e.ev("SUNIONSTORE u d"), seq(&[("new", "u"), ("sunionstore", "u")]));
    assert_eq!(e.ev("SINTERSTORE u d nokey"), seq(&[("keymiss", "nokey"), ("del", "u")]));
    assert_eq!(e.ev("SISMEMBER nokey a"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("SMEMBERS nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("SCARD nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("ZADD z 1 a"), seq(&[("new", "z"), ("zadd", "z")]));
    assert_eq!(e.ev("ZINCRBY zi 1 a"), seq(&[("new", "zi"), ("zincr", "zi")]));
    assert_eq!(e.ev("ZUNIONSTORE zu 2 z nokey"), seq(&[("keymiss", "nokey"), ("new", "zu"), ("zunionstore", "zu")]));
    assert_eq!(e.ev("ZRANGESTORE zr z 0 -1"), seq(&[("new", "zr"), ("zrangestore", "zr")]));
    assert_eq!(e.ev("ZRANGESTORE zr nokey 0 -1"), seq(&[("keymiss", "nokey"), ("del", "zr")]));
    assert_eq!(e.ev("ZSCORE nokey a"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("ZRANGE nokey 0 -1"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("ZCARD nokey"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("GEOADD g 13.361389 38.115556 Palermo"), seq(&[("new", "g"), ("zadd", "g")]));
    assert_eq!(e.ev("GEOSEARCHSTORE gs g FROMLONLAT 13 38 BYRADIUS 100 km"), seq(&[("new", "gs"), ("geosearchstore", "gs")]));
    assert_eq!(e.ev("GEORADIUS nokey 0 0 1 km STORE gs"), seq(&[("keymiss", "nokey"), ("del", "gs")]));
    assert_eq!(e.ev("GEOPOS nokey a"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("GEODIST nokey a b"), seq(&[("keymiss", "nokey")]));
    assert_eq!(e.ev("GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 200 km"), seq(&[("keymiss", "nokey")]));
}

/// Only the `s` class shows set events, only `z` sorted set and geo ones; `del`
/// needs `g`.
#[test]
fn class_filtering() {
    let s = Server::start();
    let mut e = Events::new(&s, "Es");
    assert_eq!(e.ev("SADD s a"), vec!["__keyevent@0__:sadd s"]);
    assert_eq!(e.ev("ZADD z 1 a"), Vec::<String>::new());
    assert_eq!(e.ev("SPOP s"), vec!["__keyevent@0__:spop s"]);
    e.c.cmd("CONFIG SET notify-keyspace-events Kz");
    e.c.cmd("SADD s a");
    assert_eq!(e.ev("SREM s a"), Vec::<String>::new());
    assert_eq!(e.ev("ZPOPMIN z"), vec!["__keyspace@0__:z zpopmin"]);
    assert_eq!(e.ev("GEOADD g 13.361389 38.115556 Palermo"), vec!["__keyspace@0__:g zadd"]);
    e.c.cmd("CONFIG SET notify-keyspace-events Eg");
    assert_eq!(e.ev("ZREM g Palermo"), vec!["__keyevent@0__:del g"]);
}
