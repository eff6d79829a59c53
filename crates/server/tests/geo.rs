//! Geo commands against the real server, compared with Redis 7.2's exact replies (each
//! expected reply was produced by redis-server 7.2.6 for the same commands).

mod common;
use common::{Raw, Server};

/// The reply with CRLFs shown as spaces, for compact expectations.
fn q(c: &mut Raw, line: &str) -> String {
    c.cmd(line).replace("\r\n", " ").trim_end().to_string()
}

fn stream(c: &mut Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 100000").replace("\r\n", " ")
}

#[test]
fn geoadd_scores_flags_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "FLUSHALL"), "+OK");
    assert_eq!(q(&mut c, "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), ":2");
    assert_eq!(q(&mut c, "ZRANGE Sicily 0 -1 WITHSCORES"), "*4 $7 Palermo $16 3479099956230698 $7 Catania $16 3479447370796909");
    assert_eq!(q(&mut c, "GEOADD Sicily CH 13.361389 38.115556 Palermo 15 37 Catania 12 37.8 Marsala"), ":2");
    assert_eq!(q(&mut c, "GEOADD Sicily NX CH 1 1 Palermo 12.5 37.8 Trapani"), ":1");
    assert_eq!(q(&mut c, "GEOADD Sicily XX CH 13.361389 38.115556 Palermo 1 1 Nowhere"), ":0");
    assert_eq!(q(&mut c, "ZSCORE Sicily Palermo"), "$16 3479099956230698");
    assert_eq!(q(&mut c, "ZSCORE Sicily Nowhere"), "$-1");
    assert_eq!(q(&mut c, "GEOADD Sicily XX NX 1 1 a"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 1"), "-ERR wrong number of arguments for 'geoadd' command");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 1 a 2"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOADD Sicily CH CH CH"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOADD Sicily abc 1 a"), "-ERR value is not a valid float");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 abc a"), "-ERR value is not a valid float");
    assert_eq!(q(&mut c, "GEOADD Sicily 200 100 a"), "-ERR invalid longitude,latitude pair 200.000000,100.000000");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 -85.06 a"), "-ERR invalid longitude,latitude pair 1.000000,-85.060000");
    assert_eq!(q(&mut c, "GEOADD Sicily 1e400 0 a"), "-ERR value is not a valid float");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 1e-400 a"), "-ERR value is not a valid float");
    assert_eq!(q(&mut c, "GEOADD Sicily 1 1 ok 181 0 bad"), "-ERR invalid longitude,latitude pair 181.000000,0.000000");
    assert_eq!(q(&mut c, "ZCARD Sicily"), ":4");
    assert_eq!(q(&mut c, "GEOADD missing XX 1 1 a"), ":0");
    assert_eq!(q(&mut c, "EXISTS missing"), ":0");
    assert_eq!(q(&mut c, "SET str x"), "+OK");
    assert_eq!(q(&mut c, "GEOADD str 1 1 a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(q(&mut c, "GEOADD str 181 1 a"), "-ERR invalid longitude,latitude pair 181.000000,1.000000");
}

#[test]
fn geopos_geohash_geodist() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "FLUSHALL"), "+OK");
    assert_eq!(q(&mut c, "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), ":2");
    assert_eq!(
        q(&mut c, "GEOPOS Sicily Palermo NonExisting Catania"),
        "*3 *2 $20 13.36138933897018433 $20 38.11555639549629859 *-1 *2 $20 15.08726745843887329 $20 37.50266842333162032"
    );
    assert_eq!(q(&mut c, "GEOPOS nokey a b"), "*2 *-1 *-1");
    assert_eq!(q(&mut c, "GEOPOS Sicily"), "*0");
    assert_eq!(q(&mut c, "GEOHASH Sicily Palermo Catania NonExisting"), "*3 $11 sqc8b49rny0 $11 sqdtr74hyu0 $-1");
    assert_eq!(q(&mut c, "GEOHASH nokey a"), "*1 $-1");
    assert_eq!(q(&mut c, "GEOHASH Sicily"), "*0");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania"), "$11 166274.1516");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania km"), "$8 166.2742");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania MI"), "$8 103.3182");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania ft"), "$11 545518.8700");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Palermo"), "$6 0.0000");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo NonExisting"), "$-1");
    assert_eq!(q(&mut c, "GEODIST nokey a b"), "$-1");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania yards"), "-ERR unsupported unit provided. please use M, KM, FT, MI");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania km extra"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEODIST nokey a b yards"), "-ERR unsupported unit provided. please use M, KM, FT, MI");
    assert_eq!(q(&mut c, "ZADD garbage -1 a inf b -inf c 9007199254740992 d 0 e"), ":5");
    assert_eq!(q(&mut c, "GEOPOS garbage a b c d e"), "*5 *2 $3 180 $19 85.0511287799999991 *2 $22 -179.99999731779098511 $21 -85.05112751263942528 *2 $3 180 $21 -85.05112751263942528 *2 $3 180 $21 -85.05112751263942528 *2 $22 -179.99999731779098511 $21 -85.05112751263942528");
    assert_eq!(
        q(&mut c, "GEOHASH garbage a b c d e"),
        "*5 $11 bp05b5048p0 $11 00bh0hbj200 $11 00bh0hbj200 $11 00bh0hbj200 $11 00bh0hbj200"
    );
    assert_eq!(q(&mut c, "GEOADD edges 180 85.05112878 ne -180 -85.05112878 sw -0.00001 -0.00001 origin"), ":3");
    assert_eq!(q(&mut c, "GEOPOS edges ne sw origin"), "*3 *2 $3 180 $19 85.0511287799999991 *2 $22 -179.99999731779098511 $21 -85.05112751263942528 *2 $20 -0.00000804662704468 $20 -0.00000887152405227");
    assert_eq!(q(&mut c, "GEOHASH edges ne sw origin"), "*3 $11 bp05b5048p0 $11 00bh0hbj200 $11 7zzzzzzzzy0");
    assert_eq!(q(&mut c, "SET str x"), "+OK");
    assert_eq!(q(&mut c, "GEOPOS str a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(q(&mut c, "GEOHASH str a"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(q(&mut c, "GEODIST str a b"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(q(&mut c, "GEODIST str a b km"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    // RESP3: coordinates become doubles, missing entries nulls; distances stay bulk strings.
    c.cmd("HELLO 3");
    assert_eq!(q(&mut c, "GEOPOS Sicily Palermo NonExisting"), "*2 *2 ,13.36138933897018433 ,38.11555639549629859 _");
    assert_eq!(q(&mut c, "GEOHASH Sicily NonExisting Catania"), "*2 _ $11 sqdtr74hyu0");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo NonExisting"), "_");
    assert_eq!(q(&mut c, "GEODIST Sicily Palermo Catania"), "$11 166274.1516");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 200 km WITHCOORD WITHDIST WITHHASH"), "*2 *4 $7 Palermo $6 0.0000 :3479099956230698 *2 ,13.36138933897018433 ,38.11555639549629859 *4 $7 Catania $8 166.2742 :3479447370796909 *2 ,15.08726745843887329 ,37.50266842333162032");
    assert_eq!(
        q(&mut c, "GEORADIUS Sicily 15 37 200 km WITHCOORD"),
        "*2 *2 $7 Palermo *2 ,13.36138933897018433 ,38.11555639549629859 *2 $7 Catania *2 ,15.08726745843887329 ,37.50266842333162032"
    );
    assert_eq!(q(&mut c, "GEORADIUS nokey 15 37 200 km WITHCOORD"), "*0");
}

#[test]
fn search_options_and_errors() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "FLUSHALL"), "+OK");
    assert_eq!(
        q(
            &mut c,
            "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2"
        ),
        ":4"
    );
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km"), "*2 $7 Palermo $7 Catania");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km ASC"), "*2 $7 Catania $7 Palermo");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km DESC"), "*2 $7 Palermo $7 Catania");
    assert_eq!(q(&mut c, "GEORADIUS_RO Sicily 15 37 200 km WITHDIST ASC"), "*2 *2 $7 Catania $7 56.4413 *2 $7 Palermo $8 190.4424");
    assert_eq!(
        q(&mut c, "GEORADIUS Sicily 15 37 200 km WITHDIST WITHHASH WITHCOORD COUNT 1"),
        "*1 *4 $7 Catania $7 56.4413 :3479447370796909 *2 $20 15.08726745843887329 $20 37.50266842333162032"
    );
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT 2 DESC"), "*2 $7 Palermo $7 Catania");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT 1 ANY"), "*1 $7 Palermo");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT 3 ANY ASC"), "*2 $7 Catania $7 Palermo");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km ANY"), "-ERR the ANY argument requires COUNT argument");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT 0"), "-ERR COUNT must be > 0");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT -1"), "-ERR COUNT must be > 0");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km COUNT x"), "-ERR value is not an integer or out of range");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 abc km"), "-ERR need numeric radius");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 -1 km"), "-ERR radius cannot be negative");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 parsecs"), "-ERR unsupported unit provided. please use M, KM, FT, MI");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km bogus"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 200 37 200 km"), "-ERR invalid longitude,latitude pair 200.000000,37.000000");
    assert_eq!(
        q(&mut c, "GEORADIUS Sicily 15 37 200 km WITHDIST STORE dst"),
        "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    );
    assert_eq!(q(&mut c, "GEORADIUS_RO Sicily 15 37 200 km STORE dst"), "-ERR syntax error");
    assert_eq!(
        q(&mut c, "GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST"),
        "*3 *2 $7 Palermo $6 0.0000 *2 $5 edge1 $7 91.4007 *2 $7 Catania $8 166.2742"
    );
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER_RO Sicily Palermo 100 km"), "*2 $7 Palermo $5 edge1");
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER Sicily NonExisting 200 km"), "-ERR could not decode requested zset member");
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER nokey NonExisting abc km"), "*0");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC"), "*2 $7 Catania $7 Palermo");
    assert_eq!(
        q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHDIST"),
        "*4 *2 $7 Catania $7 56.4413 *2 $7 Palermo $8 190.4424 *2 $5 edge2 $8 279.7403 *2 $5 edge1 $8 279.7405"
    );
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 200 200 km DESC"), "*2 $5 edge1 $7 Palermo");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 1 1 m"), "*1 $7 Palermo");
    assert_eq!(q(&mut c, "geosearch Sicily BYRADIUS 1 km FROMLONLAT 15 37 WITHDIST"), "*0");
    assert_eq!(q(&mut c, "geosearch Sicily FROMLONLAT 15 37 FROMMEMBER Palermo BYRADIUS 1 km"), "-ERR syntax error");
    assert_eq!(q(&mut c, "geosearch Sicily FROMLONLAT 15 37 BYRADIUS 1 km BYBOX 1 1 km"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 WITHDIST"), "-ERR wrong number of arguments for 'geosearch' command");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily BYRADIUS 1 km WITHDIST"), "-ERR wrong number of arguments for 'geosearch' command");
    assert_eq!(q(&mut c, "GeoSearch Sicily BYRADIUS 1 km WITHDIST"), "-ERR wrong number of arguments for 'geosearch' command");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMMEMBER NonExisting BYRADIUS 1 km"), "-ERR could not decode requested zset member");
    assert_eq!(q(&mut c, "GEOSEARCH nokey FROMMEMBER NonExisting BYRADIUS 1 km"), "*0");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX abc 1 km"), "-ERR need numeric width");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 abc km"), "-ERR need numeric height");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 1 km"), "-ERR height or width cannot be negative");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 km STORE dst"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 1 1 km STOREDIST"), "-ERR syntax error");
    assert_eq!(q(&mut c, "SET str x"), "+OK");
    assert_eq!(
        q(&mut c, "GEOSEARCH str FROMLONLAT 15 37 BYBOX 1 1 km"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(q(&mut c, "GEORADIUS str 200 37 200 km"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER str a 200 km"), "-WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(
        q(&mut c, "GEOSEARCH Sicily BYRADIUS 1 km WITHDIST ASC"),
        "-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"
    );
    assert_eq!(
        q(&mut c, "geoSEARCH Sicily FROMLONLAT 15 37 WITHDIST ASC"),
        "-ERR exactly one of BYRADIUS and BYBOX can be specified for geoSEARCH"
    );
    assert_eq!(q(&mut c, "GEOSEARCH nokey FROMMEMBER x WITHDIST ASC"), "-ERR wrong number of arguments for 'geosearch' command");
}

#[test]
fn store_and_storedist() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "FLUSHALL"), "+OK");
    assert_eq!(
        q(
            &mut c,
            "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania 12.758489 38.788135 edge1 17.241510 38.788135 edge2"
        ),
        ":4"
    );
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km STORE dst"), ":2");
    assert_eq!(q(&mut c, "ZRANGE dst 0 -1 WITHSCORES"), "*4 $7 Palermo $16 3479099956230698 $7 Catania $16 3479447370796909");
    assert_eq!(q(&mut c, "OBJECT ENCODING dst"), "$8 listpack");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km STOREDIST dst ASC COUNT 1"), ":1");
    assert_eq!(q(&mut c, "ZRANGE dst 0 -1 WITHSCORES"), "*2 $7 Catania $16 56.4412578701582");
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER Sicily Palermo 200 km STOREDIST dst"), ":3");
    assert_eq!(
        q(&mut c, "ZRANGE dst 0 -1 WITHSCORES"),
        "*6 $7 Palermo $1 0 $5 edge1 $17 91.40065860581427 $7 Catania $18 166.27415156960032"
    );
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER Sicily Palermo 200 km STORE"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 1 km STORE dst"), ":0");
    assert_eq!(q(&mut c, "EXISTS dst"), ":0");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km"), ":4");
    assert_eq!(
        q(&mut c, "ZRANGE dst 0 -1 WITHSCORES"),
        "*8 $7 Palermo $16 3479099956230698 $5 edge1 $16 3479273021651468 $7 Catania $16 3479447370796909 $5 edge2 $16 3481342659049484"
    );
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST COUNT 2 DESC"), ":2");
    assert_eq!(q(&mut c, "ZRANGE dst 0 -1 WITHSCORES"), "*4 $5 edge2 $17 279.7403417843143 $5 edge1 $17 279.7404521356343");
    assert_eq!(
        q(&mut c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km WITHDIST"),
        "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
    );
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst Sicily FROMLONLAT 15 37 BYBOX 400 400 km STORE x"), "-ERR syntax error");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst nokey FROMLONLAT 15 37 BYBOX 400 400 km"), ":0");
    assert_eq!(q(&mut c, "EXISTS dst"), ":0");
    assert_eq!(q(&mut c, "GEORADIUS Sicily 15 37 200 km STORE dst"), ":2");
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER nokey x 200 km STORE dst"), ":0");
    assert_eq!(q(&mut c, "EXISTS dst"), ":0");
    assert_eq!(q(&mut c, "SET str x"), "+OK");
    assert_eq!(
        q(&mut c, "GEOSEARCHSTORE dst str FROMLONLAT 15 37 BYBOX 400 400 km"),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(q(&mut c, "GEOSEARCHSTORE str Sicily FROMLONLAT 15 37 BYBOX 400 400 km"), ":4");
    assert_eq!(q(&mut c, "TYPE str"), "+zset");
}

#[test]
fn encodings_follow_zset_thresholds() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "FLUSHALL"), "+OK");
    assert_eq!(q(&mut c, "CONFIG SET zset-max-listpack-entries 2"), "+OK");
    assert_eq!(q(&mut c, "GEOADD e 1 1 a 2 2 b"), ":2");
    assert_eq!(q(&mut c, "OBJECT ENCODING e"), "$8 listpack");
    assert_eq!(q(&mut c, "GEOADD e 3 3 c"), ":1");
    assert_eq!(q(&mut c, "OBJECT ENCODING e"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEOADD e2 1 1 a 2 2 b 3 3 c"), ":3");
    assert_eq!(q(&mut c, "OBJECT ENCODING e2"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEORADIUS e 2 2 500 km STORE e3"), ":3");
    assert_eq!(q(&mut c, "OBJECT ENCODING e3"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEORADIUS e 2 2 200 km STORE e3"), ":3");
    assert_eq!(q(&mut c, "OBJECT ENCODING e3"), "$8 skiplist");
    assert_eq!(q(&mut c, "CONFIG SET zset-max-listpack-entries 128"), "+OK");
    assert_eq!(q(&mut c, "CONFIG SET zset-max-listpack-value 3"), "+OK");
    assert_eq!(q(&mut c, "GEOADD e4 1 1 abcd"), ":1");
    assert_eq!(q(&mut c, "OBJECT ENCODING e4"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEOADD e5 1 1 abc"), ":1");
    assert_eq!(q(&mut c, "OBJECT ENCODING e5"), "$8 listpack");
    assert_eq!(q(&mut c, "CONFIG SET zset-max-listpack-value 64"), "+OK");
}

#[test]
fn command_metadata() {
    let s = Server::start();
    let mut c = s.raw();
    assert_eq!(q(&mut c, "COMMAND INFO geoadd geosearchstore georadius_ro"), "*3 *10 $6 geoadd :-5 *2 +write +denyoom :1 :1 :1 *3 +@write +@geo +@slow *0 *1 *6 $5 flags *2 +RW +update $12 begin_search *4 $4 type $5 index $4 spec *2 $5 index :1 $9 find_keys *4 $4 type $5 range $4 spec *6 $7 lastkey :0 $7 keystep :1 $5 limit :0 *0 *10 $14 geosearchstore :-8 *2 +write +denyoom :1 :2 :1 *3 +@write +@geo +@slow *0 *2 *6 $5 flags *2 +OW +update $12 begin_search *4 $4 type $5 index $4 spec *2 $5 index :1 $9 find_keys *4 $4 type $5 range $4 spec *6 $7 lastkey :0 $7 keystep :1 $5 limit :0 *6 $5 flags *2 +RO +access $12 begin_search *4 $4 type $5 index $4 spec *2 $5 index :2 $9 find_keys *4 $4 type $5 range $4 spec *6 $7 lastkey :0 $7 keystep :1 $5 limit :0 *0 *10 $12 georadius_ro :-6 *1 +readonly :1 :1 :1 *3 +@read +@geo +@slow *0 *1 *6 $5 flags *2 +RO +access $12 begin_search *4 $4 type $5 index $4 spec *2 $5 index :1 $9 find_keys *4 $4 type $5 range $4 spec *6 $7 lastkey :0 $7 keystep :1 $5 limit :0 *0");
    assert_eq!(q(&mut c, "COMMAND GETKEYS geosearchstore dst src FROMLONLAT 1 1 BYRADIUS 1 km"), "*2 $3 dst $3 src");
    // GEORADIUS may write: movable keys (the STORE destination), locked with the source.
    assert!(q(&mut c, "COMMAND INFO georadius")
        .starts_with("*1 *10 $9 georadius :-6 *3 +write +denyoom +movablekeys :1 :1 :1 *3 +@write +@geo +@slow"));
    assert!(q(&mut c, "COMMAND INFO georadiusbymember")
        .starts_with("*1 *10 $17 georadiusbymember :-5 *3 +write +denyoom +movablekeys :1 :1 :1"));
}

/// 300 points on a grid: a tree-encoded set, searches crossing cell borders.
#[test]
fn large_set_searches() {
    let s = Server::start();
    let mut c = s.raw();
    let mut add = String::from("GEOADD big");
    for i in 0..20 {
        for j in 0..15 {
            add.push_str(&format!(" {:.2} {:.2} p{i}_{j}", 10.0 + i as f64 * 0.05, 40.0 + j as f64 * 0.05));
        }
    }
    assert_eq!(q(&mut c, &add), ":300");
    assert_eq!(q(&mut c, "OBJECT ENCODING big"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEOSEARCH big FROMLONLAT 10.5 40.35 BYRADIUS 10 km ASC WITHDIST"), "*11 *2 $5 p10_7 $6 0.0002 *2 $4 p9_7 $6 4.2382 *2 $5 p11_7 $6 4.2383 *2 $5 p10_8 $6 5.5612 *2 $5 p10_6 $6 5.5614 *2 $4 p9_8 $6 6.9911 *2 $5 p11_8 $6 6.9912 *2 $4 p9_6 $6 6.9932 *2 $5 p11_6 $6 6.9932 *2 $4 p8_7 $6 8.4766 *2 $5 p12_7 $6 8.4767");
    assert_eq!(
        q(&mut c, "GEOSEARCH big FROMLONLAT 10.52 40.33 BYBOX 20 10 km DESC"),
        "*8 $5 p12_6 $5 p12_7 $4 p9_6 $4 p9_7 $5 p11_6 $5 p10_6 $5 p11_7 $5 p10_7"
    );
    assert_eq!(q(&mut c, "GEORADIUSBYMEMBER big p3_4 9 km ASC COUNT 5 WITHHASH"), "*5 *2 $4 p3_4 :3474064335831314 *2 $4 p4_4 :3474070197381522 *2 $4 p2_4 :3474063930983312 *2 $4 p3_3 :3474052608884758 *2 $4 p3_5 :3474064609575942");
    assert_eq!(q(&mut c, "GEOSEARCH big FROMMEMBER p0_0 BYRADIUS 5000 km COUNT 3 ANY"), "*3 $4 p0_0 $4 p1_0 $4 p2_0");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst big FROMMEMBER p0_0 BYRADIUS 5000 km"), ":300");
    assert_eq!(q(&mut c, "OBJECT ENCODING dst"), "$8 skiplist");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE dst big FROMMEMBER p0_0 BYRADIUS 9 km"), ":5");
    assert_eq!(q(&mut c, "OBJECT ENCODING dst"), "$8 listpack");
}

/// GEOADD propagates as the ZADD it stands for (Redis rewrites the command); searches
/// that store propagate as sent, and only when the keyspace changed.
#[test]
fn propagation() {
    let s = Server::start();
    let mut c = s.raw();
    stream(&mut c);
    assert_eq!(q(&mut c, "GEOADD k CH 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"), ":2");
    assert_eq!(q(&mut c, "GEOADD k NX 13.361389 38.115556 Palermo"), ":0");
    assert_eq!(q(&mut c, "GEOADD k XX 1 1 other"), ":0");
    assert_eq!(q(&mut c, "GEORADIUS k 15 37 200 km STORE dst"), ":2");
    assert_eq!(q(&mut c, "GEORADIUS k 15 37 0 km STORE dst"), ":0");
    assert_eq!(q(&mut c, "GEORADIUS k 15 37 0 km STORE dst"), ":0");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE d2 k FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST"), ":2");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE d2 nokey FROMLONLAT 15 37 BYRADIUS 200 km"), ":0");
    assert_eq!(q(&mut c, "GEOSEARCHSTORE d2 nokey FROMLONLAT 15 37 BYRADIUS 200 km"), ":0");
    let st = stream(&mut c);
    assert!(st.contains("*7 $4 zadd $1 k $2 CH $16 3479099956230698 $7 Palermo $16 3479447370796909 $7 Catania "), "{st}");
    assert_eq!(st.matches("zadd").count(), 1, "{st}");
    assert_eq!(st.matches("$9 GEORADIUS $1 k").count(), 2, "{st}");
    assert_eq!(st.matches("$14 GEOSEARCHSTORE").count(), 2, "{st}");
}

/// The STORE destination of GEORADIUS is no fixed key position, yet WATCH sees it.
#[test]
fn watch_sees_store_destination() {
    let s = Server::start();
    let mut c = s.raw();
    let mut other = s.raw();
    assert_eq!(q(&mut c, "GEOADD k 13.361389 38.115556 Palermo"), ":1");
    assert_eq!(q(&mut c, "WATCH dst"), "+OK");
    assert_eq!(q(&mut other, "GEORADIUS k 13 38 100 km STORE dst"), ":1");
    assert_eq!(q(&mut c, "MULTI"), "+OK");
    assert_eq!(q(&mut c, "PING"), "+QUEUED");
    assert_eq!(q(&mut c, "EXEC"), "*-1");
    // No change, no abort.
    assert_eq!(q(&mut c, "WATCH nothing"), "+OK");
    assert_eq!(q(&mut other, "GEORADIUS k 0 0 1 km STORE nothing"), ":0");
    assert_eq!(q(&mut c, "MULTI"), "+OK");
    assert_eq!(q(&mut c, "PING"), "+QUEUED");
    assert_eq!(q(&mut c, "EXEC"), "*1 +PONG");
}
