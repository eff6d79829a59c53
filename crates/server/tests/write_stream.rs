//! The write stream carries each write as its deterministic effect, in execution order.

mod common;
use common::Server;

fn stream(c: &mut common::Raw) -> String {
    c.cmd("DEBUG REPL-STREAM 100000").replace("\r\n", " ")
}

#[test]
fn effects_not_commands() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("SET a 1 EX 100");
    c.cmd("INCRBYFLOAT f 1.5");
    c.cmd("GET a");
    c.cmd("SETEX b 10 v");
    c.cmd("EXPIRE a 50");
    c.cmd("SELECT 3");
    c.cmd("DEL nothing");
    c.cmd("SET c v");
    c.cmd("set d v pxat 4102444800000");
    c.cmd("pexpireat c 4102444800000");
    let st = stream(&mut c);
    // Already-deterministic commands go out exactly as the client sent them.
    assert!(st.contains("*5 $3 set $1 d $1 v $4 pxat $13 4102444800000 "), "{st}");
    assert!(st.contains("*3 $9 pexpireat $1 c $13 4102444800000 "), "{st}");
    assert!(st.contains("*2 $6 SELECT $1 0 "), "{st}");
    assert!(st.contains("*5 $3 SET $1 a $1 1 $4 PXAT $13 "), "{st}");
    assert!(st.contains("*4 $3 SET $1 f $3 1.5 $7 KEEPTTL "), "{st}");
    assert!(st.contains("*5 $3 SET $1 b $1 v $4 PXAT "), "{st}");
    assert!(st.contains("*3 $9 PEXPIREAT $1 a $13 "), "{st}");
    assert!(st.contains("*2 $6 SELECT $1 3 *3 $3 SET $1 c $1 v"), "{st}");
    assert!(!st.contains("GET"), "reads must not enter the stream: {st}");
    assert!(!st.contains("nothing"), "no-op deletes must not enter the stream: {st}");
    let info = c.cmd("INFO replication");
    let off: u64 = info.lines().find_map(|l| l.strip_prefix("master_repl_offset:")).unwrap().parse().unwrap();
    assert_eq!(off as usize, c.cmd("DEBUG REPL-STREAM 100000").split_once("\r\n").map(|(h, _)| h[1..].parse::<usize>().unwrap()).unwrap());
}

#[test]
fn expired_keys_become_dels() {
    let s = Server::start();
    let mut c = s.raw();
    c.cmd("DEBUG SET-ACTIVE-EXPIRE 0");
    c.cmd("SET k v PX 20");
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(c.cmd("GET k"), "$-1\r\n");
    let st = stream(&mut c);
    assert!(st.trim_end().ends_with("*2 $3 DEL $1 k"), "{st}");
}
