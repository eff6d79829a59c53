//! THE command table: name, arity, flags, key positions, ACL categories, docs and the
//! handler of every command, in one declarative list. The dispatcher, COMMAND
//! (INFO/DOCS/LIST/COUNT/GETKEYS) and statistics all read it; adding a command means a
//! handler in its family file plus one line here.

use std::sync::OnceLock;

#[allow(unused_imports)] // family imports in use once every family file has commands
use super::{
    bitmaps, connection, functions, geo, hashes, hyperloglog, keys, lists, pubsub, scripting, server, sets, sort, sorted_sets, strings,
    transactions, Error, Handler,
};
use crate::keyspace::Slot;

pub const WRITE: u32 = 1;
pub const READONLY: u32 = 1 << 1;
pub const DENYOOM: u32 = 1 << 2;
pub const ADMIN: u32 = 1 << 3;
pub const PUBSUB: u32 = 1 << 4;
pub const NOSCRIPT: u32 = 1 << 5;
pub const BLOCKING: u32 = 1 << 6;
pub const LOADING: u32 = 1 << 7;
pub const STALE: u32 = 1 << 8;
pub const SKIP_MONITOR: u32 = 1 << 9;
pub const SKIP_SLOWLOG: u32 = 1 << 10;
pub const FAST: u32 = 1 << 11;
pub const NO_AUTH: u32 = 1 << 12;
pub const MAY_REPLICATE: u32 = 1 << 13;
pub const NO_MULTI: u32 = 1 << 14;
pub const MOVABLE_KEYS: u32 = 1 << 15;
pub const ALLOW_BUSY: u32 = 1 << 16;
pub const NO_MANDATORY_KEYS: u32 = 1 << 17;
pub const NO_ASYNC_LOADING: u32 = 1 << 18;
/// Runs a script or function: the flags it declares stand in for the command's
/// write/denyoom/stale flags in the checks before it runs (Redis's getCommandFlags).
/// Internal: COMMAND INFO does not show it.
pub const SCRIPT_RUN: u32 = 1 << 19;

/// Flag names as COMMAND INFO prints them, in Redis's order (MAY_REPLICATE is hidden
/// there on purpose, as in Redis).
pub const FLAG_NAMES: &[(u32, &str)] = &[
    (WRITE, "write"),
    (READONLY, "readonly"),
    (DENYOOM, "denyoom"),
    (ADMIN, "admin"),
    (PUBSUB, "pubsub"),
    (NOSCRIPT, "noscript"),
    (BLOCKING, "blocking"),
    (LOADING, "loading"),
    (STALE, "stale"),
    (SKIP_MONITOR, "skip_monitor"),
    (SKIP_SLOWLOG, "skip_slowlog"),
    (FAST, "fast"),
    (NO_AUTH, "no_auth"),
    (NO_MANDATORY_KEYS, "no_mandatory_keys"),
    (NO_ASYNC_LOADING, "no_async_loading"),
    (NO_MULTI, "no_multi"),
    (MOVABLE_KEYS, "movablekeys"),
    (ALLOW_BUSY, "allow_busy"),
];

/// The shards a command locks; inline for the usual few keys.
pub type Slots = smallvec::SmallVec<[Slot; 4]>;
/// Computes the slots to lock from (arguments, client db, number of databases).
pub type SlotsFn = fn(&[&[u8]], usize, usize) -> Result<Slots, Error>;

/// Which shard locks a command needs before its handler runs.
#[derive(Clone, Copy)]
pub enum Lock {
    /// The shards of the keys at the `keys` positions, in the client's database.
    Keys,
    /// No keyspace access, or the handler locks shards one at a time itself.
    None,
    /// The handler visits the database's shards one at a time (SCAN, RANDOMKEY,
    /// DBSIZE); inside EXEC or a script, where locks are already held, it needs the
    /// whole database instead.
    Walk,
    /// Every shard of the client's database.
    Db,
    /// Every shard of every database.
    All,
    /// Computed from the arguments (keys in several databases: MOVE, COPY ... DB).
    Custom(SlotsFn),
}

/// One key specification, as COMMAND INFO and GETKEYSANDFLAGS report it: keys start at
/// argument `begin`; `lastkey` is relative to it (0 = one key, negative counts from the
/// end); `flags` are Redis's words (`RW`/`RO`/`OW`/`RM` then access/update/insert/delete).
pub struct KeySpec {
    pub begin: i32,
    pub lastkey: i32,
    pub step: i32,
    pub flags: &'static str,
}

pub const fn ks(begin: i32, lastkey: i32, step: i32, flags: &'static str) -> KeySpec {
    KeySpec { begin, lastkey, step, flags }
}

pub struct CommandDef {
    /// Lowercase name; `container|sub` for subcommands.
    pub name: &'static str,
    pub group: &'static str,
    pub arity: i32,
    pub flags: u32,
    /// first, last (negative counts from the end), step; (0, 0, 0) for no keys.
    pub keys: (i32, i32, i32),
    pub lock: Lock,
    pub acl: &'static [&'static str],
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandDef],
    pub key_specs: &'static [KeySpec],
    /// Hints for proxies and cluster clients (`nondeterministic_output`, `request_policy:...`).
    pub tips: &'static [&'static str],
}

impl CommandDef {
    pub const fn lock(mut self, l: Lock) -> Self {
        self.lock = l;
        self
    }
    pub const fn acl(mut self, a: &'static [&'static str]) -> Self {
        self.acl = a;
        self
    }
    pub const fn tips(mut self, t: &'static [&'static str]) -> Self {
        self.tips = t;
        self
    }
    pub const fn specs(mut self, k: &'static [KeySpec]) -> Self {
        self.key_specs = k;
        self
    }
    pub const fn subs(mut self, s: &'static [CommandDef]) -> Self {
        self.subcommands = s;
        self
    }
    pub const fn doc(mut self, since: &'static str, complexity: &'static str, summary: &'static str) -> Self {
        self.since = since;
        self.complexity = complexity;
        self.summary = summary;
        self
    }

    pub fn full_name(&self) -> &'static str {
        self.name
    }

    pub fn sub_name(&self) -> &'static str {
        self.name.split_once('|').map(|(_, s)| s).unwrap_or(self.name)
    }

    /// ACL categories: the ones implied by flags and group, as Redis derives them, plus
    /// the explicit extras.
    pub fn categories(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.flags & WRITE != 0 {
            v.push("@write");
        }
        if self.flags & READONLY != 0 && self.group != "scripting" {
            v.push("@read");
        }
        match self.group {
            "string" => v.push("@string"),
            "bitmap" => v.push("@bitmap"),
            // SORT's categories are its element types, not @keyspace (as in Redis).
            "generic" if !matches!(self.name, "sort" | "sort_ro") => v.push("@keyspace"),
            "connection" => v.push("@connection"),
            "scripting" => v.push("@scripting"),
            "hash" => v.push("@hash"),
            "list" => v.push("@list"),
            "set" => v.push("@set"),
            "sorted-set" | "sorted_set" => v.push("@sortedset"),
            "hyperloglog" => v.push("@hyperloglog"),
            "geo" => v.push("@geo"),
            "transactions" => v.push("@transaction"),
            "pubsub" => v.push("@pubsub"),
            _ => {}
        }
        if self.flags & ADMIN != 0 {
            v.push("@admin");
            v.push("@dangerous");
        }
        if self.flags & FAST != 0 {
            v.push("@fast");
        } else {
            v.push("@slow");
        }
        if self.flags & BLOCKING != 0 {
            v.push("@blocking");
        }
        for a in self.acl {
            if !v.contains(a) {
                v.push(a);
            }
        }
        // Redis lists categories in the order of its category bits.
        v.sort_by_key(|c| CATEGORY_ORDER.iter().position(|o| o == c).unwrap_or(usize::MAX));
        v
    }
}

/// ACL categories in Redis's bit order (how COMMAND INFO and ACL CAT list them).
pub const CATEGORY_ORDER: &[&str] = &[
    "@keyspace",
    "@read",
    "@write",
    "@set",
    "@sortedset",
    "@list",
    "@hash",
    "@string",
    "@bitmap",
    "@hyperloglog",
    "@geo",
    "@stream",
    "@pubsub",
    "@admin",
    "@fast",
    "@slow",
    "@blocking",
    "@dangerous",
    "@connection",
    "@transaction",
    "@scripting",
];

pub const fn cmd(name: &'static str, group: &'static str, arity: i32, flags: u32, keys: (i32, i32, i32), handler: Handler) -> CommandDef {
    CommandDef {
        name,
        group,
        arity,
        flags,
        keys,
        lock: if keys.0 > 0 { Lock::Keys } else { Lock::None },
        acl: &[],
        since: "1.0.0",
        summary: "",
        complexity: "",
        handler,
        subcommands: &[],
        key_specs: &[],
        tips: &[],
    }
}

const NK: (i32, i32, i32) = (0, 0, 0);
const K1: (i32, i32, i32) = (1, 1, 1);
const K12: (i32, i32, i32) = (1, 2, 1);
const KALL: (i32, i32, i32) = (1, -1, 1);

/// A container command: its handler only runs when no subcommand matched (never).
fn container(_: &mut super::Ctx) -> super::CmdResult {
    Err("ERR unknown subcommand".into())
}

pub static COMMANDS: &[CommandDef] = &[
    // strings
    cmd("get", "string", 2, READONLY | FAST, K1, strings::get).specs(&[ks(1, 0, 1, "RO access")]).doc("1.0.0", "O(1)", "Returns the string value of a key."),
    cmd("set", "string", -3, WRITE | DENYOOM, K1, strings::set).specs(&[ks(1, 0, 1, "RW access update variable_flags")]).doc("1.0.0", "O(1)", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    cmd("setnx", "string", 3, WRITE | DENYOOM | FAST, K1, strings::setnx).specs(&[ks(1, 0, 1, "OW insert")]).doc("1.0.0", "O(1)", "Set the string value of a key only when the key doesn't exist."),
    cmd("setex", "string", 4, WRITE | DENYOOM, K1, strings::setex).specs(&[ks(1, 0, 1, "OW update")]).doc("2.0.0", "O(1)", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    cmd("psetex", "string", 4, WRITE | DENYOOM, K1, strings::psetex).specs(&[ks(1, 0, 1, "OW update")]).doc("2.6.0", "O(1)", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    cmd("getset", "string", 3, WRITE | DENYOOM | FAST, K1, strings::getset).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Returns the previous string value of a key after setting it to a new value."),
    cmd("getdel", "string", 2, WRITE | FAST, K1, strings::getdel).specs(&[ks(1, 0, 1, "RW access delete")]).doc("6.2.0", "O(1)", "Returns the string value of a key after deleting the key."),
    cmd("getex", "string", -2, WRITE | FAST, K1, strings::getex).specs(&[ks(1, 0, 1, "RW access update")]).doc("6.2.0", "O(1)", "Returns the string value of a key after setting its expiration time."),
    cmd("mget", "string", -2, READONLY | FAST, KALL, strings::mget).specs(&[ks(1, -1, 1, "RO access")]).tips(&["request_policy:multi_shard"]).doc("1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys."),
    cmd("mset", "string", -3, WRITE | DENYOOM, (1, -1, 2), strings::mset).specs(&[ks(1, -1, 2, "OW update")]).tips(&["request_policy:multi_shard", "response_policy:all_succeeded"]).doc("1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys."),
    cmd("msetnx", "string", -3, WRITE | DENYOOM, (1, -1, 2), strings::msetnx).specs(&[ks(1, -1, 2, "OW insert")]).doc("1.0.1", "O(N) where N is the number of keys to set.", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    cmd("append", "string", 3, WRITE | DENYOOM | FAST, K1, strings::append).specs(&[ks(1, 0, 1, "RW insert")]).doc("2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    cmd("strlen", "string", 2, READONLY | FAST, K1, strings::strlen).specs(&[ks(1, 0, 1, "RO")]).doc("2.2.0", "O(1)", "Returns the length of a string value."),
    cmd("incr", "string", 2, WRITE | DENYOOM | FAST, K1, strings::incr).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("decr", "string", 2, WRITE | DENYOOM | FAST, K1, strings::decr).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrby", "string", 3, WRITE | DENYOOM | FAST, K1, strings::incrby).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("decrby", "string", 3, WRITE | DENYOOM | FAST, K1, strings::decrby).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrbyfloat", "string", 3, WRITE | DENYOOM | FAST, K1, strings::incrbyfloat).specs(&[ks(1, 0, 1, "RW access update")]).doc("2.6.0", "O(1)", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("getrange", "string", 4, READONLY, K1, strings::getrange).specs(&[ks(1, 0, 1, "RO access")]).doc("2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring of the string stored at a key."),
    cmd("substr", "string", 4, READONLY, K1, strings::getrange).specs(&[ks(1, 0, 1, "RO access")]).doc("1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring from a string value."),
    cmd("setrange", "string", 4, WRITE | DENYOOM, K1, strings::setrange).specs(&[ks(1, 0, 1, "RW update")]).doc("2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    cmd("lcs", "string", -3, READONLY, K12, strings::lcs).specs(&[ks(1, 1, 1, "RO access")]).doc("7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Finds the longest common substring."),
    // bitmaps
    cmd("setbit", "bitmap", 4, WRITE | DENYOOM, K1, bitmaps::setbit).specs(&[ks(1, 0, 1, "RW access update")]).doc("2.2.0", "O(1)", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    cmd("getbit", "bitmap", 3, READONLY | FAST, K1, bitmaps::getbit).specs(&[ks(1, 0, 1, "RO access")]).doc("2.2.0", "O(1)", "Returns a bit value by offset."),
    cmd("bitcount", "bitmap", -2, READONLY, K1, bitmaps::bitcount).specs(&[ks(1, 0, 1, "RO access")]).doc("2.6.0", "O(N)", "Counts the number of set bits (population counting) in a string."),
    cmd("bitpos", "bitmap", -3, READONLY, K1, bitmaps::bitpos).specs(&[ks(1, 0, 1, "RO access")]).doc("2.8.7", "O(N)", "Finds the first set (1) or clear (0) bit in a string."),
    cmd("bitop", "bitmap", -4, WRITE | DENYOOM, (2, -1, 1), bitmaps::bitop).specs(&[ks(2, 0, 1, "OW update"), ks(3, -1, 1, "RO access")]).doc("2.6.0", "O(N)", "Performs bitwise operations on multiple strings, and stores the result."),
    cmd("bitfield", "bitmap", -2, WRITE | DENYOOM, K1, bitmaps::bitfield).specs(&[ks(1, 0, 1, "RW update access variable_flags")]).doc("3.2.0", "O(1) for each subcommand specified", "Performs arbitrary bitfield integer operations on strings."),
    cmd("bitfield_ro", "bitmap", -2, READONLY | FAST, K1, bitmaps::bitfield_ro).specs(&[ks(1, 0, 1, "RO access")]).doc("6.0.0", "O(1) for each subcommand specified", "Performs arbitrary read-only bitfield integer operations on strings."),
    // generic keyspace
    cmd("del", "generic", -2, WRITE, KALL, keys::del).specs(&[ks(1, -1, 1, "RM delete")]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc("1.0.0", "O(N) where N is the number of keys that will be removed.", "Deletes one or more keys."),
    cmd("unlink", "generic", -2, WRITE | FAST, KALL, keys::del).specs(&[ks(1, -1, 1, "RM delete")]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc("4.0.0", "O(1) for each key removed regardless of its size.", "Asynchronously deletes one or more keys."),
    cmd("exists", "generic", -2, READONLY | FAST, KALL, keys::exists).specs(&[ks(1, -1, 1, "RO")]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc("1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist."),
    cmd("type", "generic", 2, READONLY | FAST, K1, keys::type_).specs(&[ks(1, 0, 1, "RO")]).doc("1.0.0", "O(1)", "Determines the type of value stored at a key."),
    cmd("rename", "generic", 3, WRITE, K12, keys::rename).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "OW update")]).doc("1.0.0", "O(1)", "Renames a key and overwrites the destination."),
    cmd("renamenx", "generic", 3, WRITE | FAST, K12, keys::renamenx).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "OW insert")]).doc("1.0.0", "O(1)", "Renames a key only when the target key name doesn't exist."),
    cmd("keys", "generic", 2, READONLY, NK, keys::keys).lock(Lock::Db).acl(&["@dangerous"]).tips(&["request_policy:all_shards", "nondeterministic_output_order"]).doc("1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "Returns all key names that match a pattern."),
    cmd("scan", "generic", -2, READONLY, NK, keys::scan).lock(Lock::Walk).tips(&["nondeterministic_output", "request_policy:special", "response_policy:special"]).doc("2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over the key names in the database."),
    cmd("randomkey", "generic", 1, READONLY, NK, keys::randomkey).lock(Lock::Walk).tips(&["request_policy:all_shards", "response_policy:special", "nondeterministic_output"]).doc("1.0.0", "O(1)", "Returns a random key name from the database."),
    cmd("dbsize", "server", 1, READONLY | FAST, NK, keys::dbsize).lock(Lock::Walk).acl(&["@keyspace"]).tips(&["request_policy:all_shards", "response_policy:agg_sum"]).doc("1.0.0", "O(1)", "Returns the number of keys in the database."),
    cmd("flushdb", "server", -1, WRITE, NK, keys::flushdb).lock(Lock::Db).acl(&["@keyspace", "@dangerous"]).tips(&["request_policy:all_shards", "response_policy:all_succeeded"]).doc("1.0.0", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database."),
    cmd("flushall", "server", -1, WRITE, NK, keys::flushall).lock(Lock::All).acl(&["@keyspace", "@dangerous"]).tips(&["request_policy:all_shards", "response_policy:all_succeeded"]).doc("1.0.0", "O(N) where N is the total number of keys in all databases", "Removes all keys from all databases."),
    cmd("swapdb", "server", 3, WRITE | FAST, NK, keys::swapdb).lock(Lock::Custom(keys::swapdb_slots)).acl(&["@keyspace", "@dangerous"]).doc("4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "Swaps two Redis databases."),
    cmd("move", "generic", 3, WRITE | FAST, K1, keys::move_).lock(Lock::Custom(keys::move_slots)).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.0.0", "O(1)", "Moves a key to another database."),
    cmd("copy", "generic", -3, WRITE | DENYOOM, K12, keys::copy).lock(Lock::Custom(keys::copy_slots)).specs(&[ks(1, 0, 1, "RO access"), ks(2, 0, 1, "OW update")]).doc("6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copies the value of a key to a new key."),
    cmd("expire", "generic", -3, WRITE | FAST, K1, keys::expire).specs(&[ks(1, 0, 1, "RW update")]).doc("1.0.0", "O(1)", "Sets the expiration time of a key in seconds."),
    cmd("pexpire", "generic", -3, WRITE | FAST, K1, keys::pexpire).specs(&[ks(1, 0, 1, "RW update")]).doc("2.6.0", "O(1)", "Sets the expiration time of a key in milliseconds."),
    cmd("expireat", "generic", -3, WRITE | FAST, K1, keys::expireat).specs(&[ks(1, 0, 1, "RW update")]).doc("1.2.0", "O(1)", "Sets the expiration time of a key to a Unix timestamp."),
    cmd("pexpireat", "generic", -3, WRITE | FAST, K1, keys::pexpireat).specs(&[ks(1, 0, 1, "RW update")]).doc("2.6.0", "O(1)", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    cmd("ttl", "generic", 2, READONLY | FAST, K1, keys::ttl).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("1.0.0", "O(1)", "Returns the expiration time in seconds of a key."),
    cmd("pttl", "generic", 2, READONLY | FAST, K1, keys::pttl).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("2.6.0", "O(1)", "Returns the expiration time in milliseconds of a key."),
    cmd("expiretime", "generic", 2, READONLY | FAST, K1, keys::expiretime).specs(&[ks(1, 0, 1, "RO access")]).doc("7.0.0", "O(1)", "Returns the expiration time of a key as a Unix timestamp."),
    cmd("pexpiretime", "generic", 2, READONLY | FAST, K1, keys::pexpiretime).specs(&[ks(1, 0, 1, "RO access")]).doc("7.0.0", "O(1)", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    cmd("persist", "generic", 2, WRITE | FAST, K1, keys::persist).specs(&[ks(1, 0, 1, "RW update")]).doc("2.2.0", "O(1)", "Removes the expiration time of a key."),
    cmd("touch", "generic", -2, READONLY | FAST, KALL, keys::touch).specs(&[ks(1, -1, 1, "RO")]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc("3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    cmd("dump", "generic", 2, READONLY, K1, keys::dump).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Returns a serialized representation of the value stored at a key."),
    cmd("restore", "generic", -4, WRITE | DENYOOM, K1, keys::restore).acl(&["@dangerous"]).specs(&[ks(1, 0, 1, "OW update")]).doc("2.6.0", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).", "Creates a key from the serialized representation of a value."),
    cmd("object", "generic", -2, 0, NK, container).subs(OBJECT_SUBS).doc("2.2.3", "Depends on subcommand.", "A container for object introspection commands."),
    // hashes (commands/hashes.rs)
    cmd("hset", "hash", -4, WRITE | DENYOOM | FAST, K1, hashes::hset).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW update")]).doc("2.0.0", "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.", "Creates or modifies the value of a field in a hash."),
    cmd("hsetnx", "hash", 4, WRITE | DENYOOM | FAST, K1, hashes::hsetnx).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW insert")]).doc("2.0.0", "O(1)", "Sets the value of a field in a hash only when the field doesn't exist."),
    cmd("hget", "hash", 3, READONLY | FAST, K1, hashes::hget).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.0.0", "O(1)", "Returns the value of a field in a hash."),
    cmd("hmset", "hash", -4, WRITE | DENYOOM | FAST, K1, hashes::hmset).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW update")]).doc("2.0.0", "O(N) where N is the number of fields being set.", "Sets the values of multiple fields."),
    cmd("hmget", "hash", -3, READONLY | FAST, K1, hashes::hmget).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.0.0", "O(N) where N is the number of fields being requested.", "Returns the values of all fields in a hash."),
    cmd("hdel", "hash", -3, WRITE | FAST, K1, hashes::hdel).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("2.0.0", "O(N) where N is the number of fields to be removed.", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    cmd("hexists", "hash", 3, READONLY | FAST, K1, hashes::hexists).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO")]).doc("2.0.0", "O(1)", "Determines whether a field exists in a hash."),
    cmd("hlen", "hash", 2, READONLY | FAST, K1, hashes::hlen).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO")]).doc("2.0.0", "O(1)", "Returns the number of fields in a hash."),
    cmd("hkeys", "hash", 2, READONLY, K1, hashes::hkeys).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("2.0.0", "O(N) where N is the size of the hash.", "Returns all fields in a hash."),
    cmd("hvals", "hash", 2, READONLY, K1, hashes::hvals).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("2.0.0", "O(N) where N is the size of the hash.", "Returns all values in a hash."),
    cmd("hgetall", "hash", 2, READONLY, K1, hashes::hgetall).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("2.0.0", "O(N) where N is the size of the hash.", "Returns all fields and values in a hash."),
    cmd("hincrby", "hash", 4, WRITE | DENYOOM | FAST, K1, hashes::hincrby).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW access update")]).doc("2.0.0", "O(1)", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hincrbyfloat", "hash", 4, WRITE | DENYOOM | FAST, K1, hashes::hincrbyfloat).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RW access update")]).doc("2.6.0", "O(1)", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hstrlen", "hash", 3, READONLY | FAST, K1, hashes::hstrlen).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO")]).doc("3.2.0", "O(1)", "Returns the length of the value of a field."),
    cmd("hrandfield", "hash", -2, READONLY, K1, hashes::hrandfield).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("6.2.0", "O(N) where N is the number of fields returned", "Returns one or more random fields from a hash."),
    cmd("hscan", "hash", -3, READONLY, K1, hashes::hscan).acl(&["@hash"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over fields and values of a hash."),
    // end of hashes
    //
    // lists (commands/lists.rs)
    cmd("lpush", "list", -3, WRITE | DENYOOM | FAST, K1, lists::lpush).specs(&[ks(1, 0, 1, "RW insert")]).acl(&["@list"]).doc("1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("rpush", "list", -3, WRITE | DENYOOM | FAST, K1, lists::rpush).specs(&[ks(1, 0, 1, "RW insert")]).acl(&["@list"]).doc("1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("lpushx", "list", -3, WRITE | DENYOOM | FAST, K1, lists::lpushx).specs(&[ks(1, 0, 1, "RW insert")]).acl(&["@list"]).doc("2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Prepends one or more elements to a list only when the list exists."),
    cmd("rpushx", "list", -3, WRITE | DENYOOM | FAST, K1, lists::rpushx).specs(&[ks(1, 0, 1, "RW insert")]).acl(&["@list"]).doc("2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Appends an element to a list only when the list exists."),
    cmd("lpop", "list", -2, WRITE | FAST, K1, lists::lpop).specs(&[ks(1, 0, 1, "RW access delete")]).acl(&["@list"]).doc("1.0.0", "O(N) where N is the number of elements returned", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    cmd("rpop", "list", -2, WRITE | FAST, K1, lists::rpop).specs(&[ks(1, 0, 1, "RW access delete")]).acl(&["@list"]).doc("1.0.0", "O(N) where N is the number of elements returned", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    cmd("lrange", "list", 4, READONLY, K1, lists::lrange).specs(&[ks(1, 0, 1, "RO access")]).acl(&["@list"]).doc("1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", "Returns a range of elements from a list."),
    cmd("lindex", "list", 3, READONLY, K1, lists::lindex).specs(&[ks(1, 0, 1, "RO access")]).acl(&["@list"]).doc("1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).", "Returns an element from a list by its index."),
    cmd("lset", "list", 4, WRITE | DENYOOM, K1, lists::lset).specs(&[ks(1, 0, 1, "RW update")]).acl(&["@list"]).doc("1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).", "Sets the value of an element in a list by its index."),
    cmd("llen", "list", 2, READONLY | FAST, K1, lists::llen).specs(&[ks(1, 0, 1, "RO")]).acl(&["@list"]).doc("1.0.0", "O(1)", "Returns the length of a list."),
    cmd("linsert", "list", 5, WRITE | DENYOOM, K1, lists::linsert).specs(&[ks(1, 0, 1, "RW insert")]).acl(&["@list"]).doc("2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).", "Inserts an element before or after another element in a list."),
    cmd("lrem", "list", 4, WRITE, K1, lists::lrem).specs(&[ks(1, 0, 1, "RW delete")]).acl(&["@list"]).doc("1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.", "Removes elements from a list. Deletes the list if the last element was removed."),
    cmd("ltrim", "list", 4, WRITE, K1, lists::ltrim).specs(&[ks(1, 0, 1, "RW delete")]).acl(&["@list"]).doc("1.0.0", "O(N) where N is the number of elements to be removed by the operation.", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    cmd("lpos", "list", -3, READONLY, K1, lists::lpos).specs(&[ks(1, 0, 1, "RO access")]).acl(&["@list"]).doc("6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.", "Returns the index of matching elements in a list."),
    cmd("lmove", "list", 5, WRITE | DENYOOM, K12, lists::lmove).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "RW insert")]).acl(&["@list"]).doc("6.2.0", "O(1)", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    cmd("rpoplpush", "list", 3, WRITE | DENYOOM, K12, lists::rpoplpush).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "RW insert")]).acl(&["@list"]).doc("1.2.0", "O(1)", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    // LMPOP/BLMPOP key specs are keynum-based, which KeySpec cannot express: the first key only.
    cmd("lmpop", "list", -4, WRITE | MOVABLE_KEYS, NK, lists::lmpop).lock(Lock::Custom(lists::lmpop_slots)).specs(&[ks(2, 0, 1, "RW access delete")]).acl(&["@list"]).doc("7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
    cmd("blpop", "list", -3, WRITE | BLOCKING, (1, -2, 1), lists::blpop).specs(&[ks(1, -2, 1, "RW access delete")]).acl(&["@list"]).doc("2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("brpop", "list", -3, WRITE | BLOCKING, (1, -2, 1), lists::brpop).specs(&[ks(1, -2, 1, "RW access delete")]).acl(&["@list"]).doc("2.0.0", "O(N) where N is the number of provided keys.", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("blmove", "list", 6, WRITE | DENYOOM | BLOCKING, K12, lists::blmove).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "RW insert")]).acl(&["@list"]).doc("6.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    cmd("brpoplpush", "list", 4, WRITE | DENYOOM | BLOCKING, K12, lists::brpoplpush).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "RW insert")]).acl(&["@list"]).doc("2.2.0", "O(1)", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("blmpop", "list", -5, WRITE | BLOCKING | MOVABLE_KEYS, NK, lists::blmpop).lock(Lock::Custom(lists::blmpop_slots)).specs(&[ks(3, 0, 1, "RW access delete")]).acl(&["@list"]).doc("7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    // end of lists
    //
    // sets (commands/sets.rs)
    cmd("sadd", "set", -3, WRITE | DENYOOM | FAST, K1, sets::sadd).acl(&["@set"]).specs(&[ks(1, 0, 1, "RW insert")]).doc("1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    cmd("srem", "set", -3, WRITE | FAST, K1, sets::srem).acl(&["@set"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("1.0.0", "O(N) where N is the number of members to be removed.", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    cmd("smembers", "set", 2, READONLY, K1, sets::smembers).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("1.0.0", "O(N) where N is the set cardinality.", "Returns all members of a set."),
    cmd("sismember", "set", 3, READONLY | FAST, K1, sets::sismember).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO")]).doc("1.0.0", "O(1)", "Determines whether a member belongs to a set."),
    cmd("smismember", "set", -3, READONLY | FAST, K1, sets::smismember).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO access")]).doc("6.2.0", "O(N) where N is the number of elements being checked for membership", "Determines whether multiple members belong to a set."),
    cmd("scard", "set", 2, READONLY | FAST, K1, sets::scard).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO")]).doc("1.0.0", "O(1)", "Returns the number of members in a set."),
    cmd("spop", "set", -2, WRITE | FAST, K1, sets::spop).acl(&["@set"]).specs(&[ks(1, 0, 1, "RW access delete")]).tips(&["nondeterministic_output"]).doc("1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    cmd("srandmember", "set", -2, READONLY, K1, sets::srandmember).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Get one or multiple random members from a set"),
    cmd("smove", "set", 4, WRITE | FAST, K12, sets::smove).acl(&["@set"]).specs(&[ks(1, 0, 1, "RW access delete"), ks(2, 0, 1, "RW insert")]).doc("1.0.0", "O(1)", "Moves a member from one set to another."),
    cmd("sinter", "set", -2, READONLY, KALL, sets::sinter).acl(&["@set"]).specs(&[ks(1, -1, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the intersect of multiple sets."),
    cmd("sintercard", "set", -3, READONLY | MOVABLE_KEYS, NK, sets::sintercard).lock(Lock::Custom(sets::sintercard_slots)).acl(&["@set"]).doc("7.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Returns the number of members of the intersect of multiple sets."),
    cmd("sinterstore", "set", -3, WRITE | DENYOOM, KALL, sets::sinterstore).acl(&["@set"]).specs(&[ks(1, 0, 1, "RW update"), ks(2, -1, 1, "RO access")]).doc("1.0.0", "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", "Stores the intersect of multiple sets in a key."),
    cmd("sunion", "set", -2, READONLY, KALL, sets::sunion).acl(&["@set"]).specs(&[ks(1, -1, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the union of multiple sets."),
    cmd("sunionstore", "set", -3, WRITE | DENYOOM, KALL, sets::sunionstore).acl(&["@set"]).specs(&[ks(1, 0, 1, "OW update"), ks(2, -1, 1, "RO access")]).doc("1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the union of multiple sets in a key."),
    cmd("sdiff", "set", -2, READONLY, KALL, sets::sdiff).acl(&["@set"]).specs(&[ks(1, -1, 1, "RO access")]).tips(&["nondeterministic_output_order"]).doc("1.0.0", "O(N) where N is the total number of elements in all given sets.", "Returns the difference of multiple sets."),
    cmd("sdiffstore", "set", -3, WRITE | DENYOOM, KALL, sets::sdiffstore).acl(&["@set"]).specs(&[ks(1, 0, 1, "OW update"), ks(2, -1, 1, "RO access")]).doc("1.0.0", "O(N) where N is the total number of elements in all given sets.", "Stores the difference of multiple sets in a key."),
    cmd("sscan", "set", -3, READONLY, K1, sets::sscan).acl(&["@set"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members of a set."),
    // end of sets
    //
    // sorted_sets (commands/sorted_sets.rs)
    //
    cmd("zadd", "sorted_set", -4, WRITE | DENYOOM | FAST, (1, 1, 1), sorted_sets::zadd).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW update")]).doc("1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    cmd("zincrby", "sorted_set", 4, WRITE | DENYOOM | FAST, (1, 1, 1), sorted_sets::zincrby).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW access update")]).doc("1.2.0", "O(log(N)) where N is the number of elements in the sorted set.", "Increments the score of a member in a sorted set."),
    cmd("zscore", "sorted_set", 3, READONLY | FAST, (1, 1, 1), sorted_sets::zscore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("1.2.0", "O(1)", "Returns the score of a member in a sorted set."),
    cmd("zmscore", "sorted_set", -3, READONLY | FAST, (1, 1, 1), sorted_sets::zmscore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("6.2.0", "O(N) where N is the number of members being requested.", "Returns the score of one or more members in a sorted set."),
    cmd("zcard", "sorted_set", 2, READONLY | FAST, (1, 1, 1), sorted_sets::zcard).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO")]).doc("1.2.0", "O(1)", "Returns the number of members in a sorted set."),
    cmd("zcount", "sorted_set", 4, READONLY | FAST, (1, 1, 1), sorted_sets::zcount).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the count of members in a sorted set that have scores within a range."),
    cmd("zlexcount", "sorted_set", 4, READONLY | FAST, (1, 1, 1), sorted_sets::zlexcount).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.8.9", "O(log(N)) with N being the number of elements in the sorted set.", "Returns the number of members in a sorted set within a lexicographical range."),
    cmd("zrange", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrange).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes."),
    cmd("zrangestore", "sorted_set", -5, WRITE | DENYOOM, (1, 2, 1), sorted_sets::zrangestore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "OW update"), ks(2, 0, 1, "RO access")]).doc("6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "Stores a range of members from sorted set in a key."),
    cmd("zrangebyscore", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrangebyscore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("1.0.5", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores."),
    cmd("zrevrangebyscore", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrevrangebyscore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a range of scores in reverse order."),
    cmd("zrangebylex", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrangebylex).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range."),
    cmd("zrevrangebylex", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrevrangebylex).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).", "Returns members in a sorted set within a lexicographical range in reverse order."),
    cmd("zrevrange", "sorted_set", -4, READONLY, (1, 1, 1), sorted_sets::zrevrange).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.", "Returns members in a sorted set within a range of indexes in reverse order."),
    cmd("zrank", "sorted_set", -3, READONLY | FAST, (1, 1, 1), sorted_sets::zrank).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by ascending scores."),
    cmd("zrevrank", "sorted_set", -3, READONLY | FAST, (1, 1, 1), sorted_sets::zrevrank).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).doc("2.0.0", "O(log(N))", "Returns the index of a member in a sorted set ordered by descending scores."),
    cmd("zrem", "sorted_set", -3, WRITE | FAST, (1, 1, 1), sorted_sets::zrem).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    cmd("zremrangebyrank", "sorted_set", 4, WRITE, (1, 1, 1), sorted_sets::zremrangebyrank).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("2.0.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    cmd("zremrangebyscore", "sorted_set", 4, WRITE, (1, 1, 1), sorted_sets::zremrangebyscore).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("1.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    cmd("zremrangebylex", "sorted_set", 4, WRITE, (1, 1, 1), sorted_sets::zremrangebylex).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW delete")]).doc("2.8.9", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    cmd("zpopmin", "sorted_set", -2, WRITE | FAST, (1, 1, 1), sorted_sets::zpopmin).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW access delete")]).doc("5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zpopmax", "sorted_set", -2, WRITE | FAST, (1, 1, 1), sorted_sets::zpopmax).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RW access delete")]).doc("5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zmpop", "sorted_set", -4, WRITE | MOVABLE_KEYS, (0, 0, 0), sorted_sets::zmpop).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zrandmember", "sorted_set", -2, READONLY, (1, 1, 1), sorted_sets::zrandmember).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("6.2.0", "O(N) where N is the number of members returned", "Returns one or more random members from a sorted set."),
    cmd("zunion", "sorted_set", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), sorted_sets::zunion).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("6.2.0", "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Returns the union of multiple sorted sets."),
    cmd("zinter", "sorted_set", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), sorted_sets::zinter).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("6.2.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Returns the intersect of multiple sorted sets."),
    cmd("zdiff", "sorted_set", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), sorted_sets::zdiff).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Returns the difference between multiple sorted sets."),
    cmd("zunionstore", "sorted_set", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), sorted_sets::zunionstore).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "OW update")]).doc("2.0.0", "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.", "Stores the union of multiple sorted sets in a key."),
    cmd("zinterstore", "sorted_set", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), sorted_sets::zinterstore).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "OW update")]).doc("2.0.0", "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.", "Stores the intersect of multiple sorted sets in a key."),
    cmd("zdiffstore", "sorted_set", -4, WRITE | DENYOOM | MOVABLE_KEYS, (1, 1, 1), sorted_sets::zdiffstore).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "OW update")]).doc("6.2.0", "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.", "Stores the difference of multiple sorted sets in a key."),
    cmd("zintercard", "sorted_set", -3, READONLY | MOVABLE_KEYS, (0, 0, 0), sorted_sets::zintercard).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "Returns the number of members of the intersect of multiple sorted sets."),
    cmd("zscan", "sorted_set", -3, READONLY, (1, 1, 1), sorted_sets::zscan).acl(&["@sortedset"]).specs(&[ks(1, 0, 1, "RO access")]).tips(&["nondeterministic_output"]).doc("2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over members and scores of a sorted set."),
    cmd("bzpopmin", "sorted_set", -3, WRITE | FAST | BLOCKING, (1, -2, 1), sorted_sets::bzpopmin).acl(&["@sortedset"]).specs(&[ks(1, -2, 1, "RW access delete")]).doc("5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    cmd("bzpopmax", "sorted_set", -3, WRITE | FAST | BLOCKING, (1, -2, 1), sorted_sets::bzpopmax).acl(&["@sortedset"]).specs(&[ks(1, -2, 1, "RW access delete")]).doc("5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    cmd("bzmpop", "sorted_set", -5, WRITE | BLOCKING | MOVABLE_KEYS, (0, 0, 0), sorted_sets::bzmpop).lock(Lock::Custom(sorted_sets::numkeys_slots)).acl(&["@sortedset"]).specs(&[]).doc("7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    // end of sorted_sets
    //
    // sort (commands/sort.rs)
    cmd("sort", "generic", -2, WRITE | DENYOOM | MOVABLE_KEYS, K1, sort::sort).lock(Lock::Custom(sort::sort_slots)).acl(&["@set", "@sortedset", "@list", "@dangerous"]).specs(&[ks(1, 0, 1, "RO access")]).doc("1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."),
    cmd("sort_ro", "generic", -2, READONLY | MOVABLE_KEYS, K1, sort::sort_ro).lock(Lock::Custom(sort::sort_ro_slots)).acl(&["@set", "@sortedset", "@list", "@dangerous"]).specs(&[ks(1, 0, 1, "RO access")]).doc("7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", "Returns the sorted elements of a list, a set, or a sorted set."),
    // end of sort
    //
    // hyperloglog (commands/hyperloglog.rs)
    cmd("pfadd", "hyperloglog", -2, WRITE | DENYOOM | FAST, K1, hyperloglog::pfadd).acl(&["@hyperloglog"]).specs(&[ks(1, 0, 1, "RW insert")]).doc("2.8.9", "O(1) to add every element.", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."),
    cmd("pfcount", "hyperloglog", -2, READONLY | MAY_REPLICATE, KALL, hyperloglog::pfcount).acl(&["@hyperloglog"]).specs(&[ks(1, -1, 1, "RW access")]).doc("2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."),
    cmd("pfmerge", "hyperloglog", -2, WRITE | DENYOOM, KALL, hyperloglog::pfmerge).acl(&["@hyperloglog"]).specs(&[ks(1, 0, 1, "RW access insert"), ks(2, -1, 1, "RO access")]).doc("2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.", "Merges one or more HyperLogLog values into a single key."),
    cmd("pfdebug", "hyperloglog", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), hyperloglog::pfdebug).acl(&["@hyperloglog"]).specs(&[ks(2, 0, 1, "RW access")]).doc("2.8.9", "N/A", "Internal commands for debugging HyperLogLog values."),
    cmd("pfselftest", "hyperloglog", 1, ADMIN, NK, hyperloglog::pfselftest).acl(&["@hyperloglog"]).doc("2.8.9", "N/A", "An internal command for testing HyperLogLog values."),
    // end of hyperloglog
    //
    // geo (commands/geo.rs)
    cmd("geoadd", "geo", -5, WRITE | DENYOOM, K1, geo::geoadd).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RW update")]).doc("3.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds one or more members to a geospatial index. The key is created if it doesn't exist."),
    cmd("geodist", "geo", -4, READONLY, K1, geo::geodist).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.0", "O(1)", "Returns the distance between two members of a geospatial index."),
    cmd("geohash", "geo", -2, READONLY, K1, geo::geohash).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.0", "O(1) for each member requested.", "Returns members from a geospatial index as geohash strings."),
    cmd("geopos", "geo", -2, READONLY, K1, geo::geopos).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.0", "O(1) for each member requested.", "Returns the longitude and latitude of members from a geospatial index."),
    cmd("geosearch", "geo", -7, READONLY, K1, geo::geosearch).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle."),
    cmd("geosearchstore", "geo", -8, WRITE | DENYOOM, (1, 2, 1), geo::geosearchstore).acl(&["@geo"]).specs(&[ks(1, 0, 1, "OW update"), ks(2, 0, 1, "RO access")]).doc("6.2.0", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result."),
    // The STORE/STOREDIST destination is found by keyword (Redis's keyword key specs).
    cmd("georadius", "geo", -6, WRITE | DENYOOM | MOVABLE_KEYS, K1, geo::georadius).lock(Lock::Custom(geo::georadius_slots)).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result."),
    cmd("georadiusbymember", "geo", -5, WRITE | DENYOOM | MOVABLE_KEYS, K1, geo::georadiusbymember).lock(Lock::Custom(geo::georadius_slots)).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.0", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Queries a geospatial index for members within a distance from a member, optionally stores the result."),
    cmd("georadius_ro", "geo", -6, READONLY, K1, geo::georadius_ro).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a coordinate."),
    cmd("georadiusbymember_ro", "geo", -5, READONLY, K1, geo::georadiusbymember_ro).acl(&["@geo"]).specs(&[ks(1, 0, 1, "RO access")]).doc("3.2.10", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index.", "Returns members from a geospatial index that are within a distance from a member."),
    // end of geo
    //
    // transactions (commands/transactions.rs)
    cmd("multi", "transactions", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NK, transactions::multi).doc("1.2.0", "O(1)", "Starts a transaction."),
    cmd("exec", "transactions", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG, NK, transactions::exec).doc("1.2.0", "Depends on commands in the transaction", "Executes all commands in a transaction."),
    cmd("discard", "transactions", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NK, transactions::discard).doc("2.0.0", "O(N), when N is the number of queued commands", "Discards a transaction."),
    cmd("watch", "transactions", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, KALL, transactions::watch).specs(&[ks(1, -1, 1, "RO")]).doc("2.2.0", "O(1) for every key.", "Monitors changes to keys to determine the execution of a transaction."),
    cmd("unwatch", "transactions", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, NK, transactions::unwatch).doc("2.2.0", "O(1)", "Forgets about watched keys of a transaction."),
    // pubsub (commands/pubsub.rs)
    cmd("subscribe", "pubsub", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NK, pubsub::subscribe).doc("2.0.0", "O(N) where N is the number of channels to subscribe to.", "Listens for messages published to channels."),
    cmd("unsubscribe", "pubsub", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NK, pubsub::unsubscribe).doc("2.0.0", "O(N) where N is the number of channels to unsubscribe.", "Stops listening to messages posted to channels."),
    cmd("psubscribe", "pubsub", -2, PUBSUB | NOSCRIPT | LOADING | STALE, NK, pubsub::psubscribe).doc("2.0.0", "O(N) where N is the number of patterns to subscribe to.", "Listens for messages published to channels that match one or more patterns."),
    cmd("punsubscribe", "pubsub", -1, PUBSUB | NOSCRIPT | LOADING | STALE, NK, pubsub::punsubscribe).doc("2.0.0", "O(N) where N is the number of patterns to unsubscribe.", "Stops listening to messages published to channels that match one or more patterns."),
    cmd("ssubscribe", "pubsub", -2, PUBSUB | NOSCRIPT | LOADING | STALE, KALL, pubsub::ssubscribe).lock(Lock::None).specs(&[ks(1, -1, 1, "not_key")]).doc("7.0.0", "O(N) where N is the number of shard channels to subscribe to.", "Listens for messages published to shard channels."),
    cmd("sunsubscribe", "pubsub", -1, PUBSUB | NOSCRIPT | LOADING | STALE, KALL, pubsub::sunsubscribe).lock(Lock::None).specs(&[ks(1, -1, 1, "not_key")]).doc("7.0.0", "O(N) where N is the number of shard channels to unsubscribe.", "Stops listening to messages posted to shard channels."),
    cmd("publish", "pubsub", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, NK, pubsub::publish).doc("2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", "Posts a message to a channel."),
    cmd("spublish", "pubsub", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, K1, pubsub::spublish).lock(Lock::None).specs(&[ks(1, 0, 1, "not_key")]).doc("7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.", "Post a message to a shard channel"),
    cmd("pubsub", "pubsub", -2, 0, NK, container).subs(PUBSUB_SUBS).doc("2.8.0", "Depends on subcommand.", "A container for Pub/Sub commands."),
    // connection
    cmd("ping", "connection", -1, FAST, NK, connection::ping).tips(&["request_policy:all_shards", "response_policy:all_succeeded"]).doc("1.0.0", "O(1)", "Returns the server's liveliness response."),
    cmd("echo", "connection", 2, LOADING | STALE | FAST, NK, connection::echo).doc("1.0.0", "O(1)", "Returns the given string."),
    cmd("quit", "connection", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NK, connection::quit).doc("1.0.0", "O(1)", "Closes the connection."),
    cmd("reset", "connection", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NK, connection::reset).doc("6.2.0", "O(1)", "Resets the connection."),
    cmd("hello", "connection", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NK, connection::hello).doc("6.0.0", "O(1)", "Handshakes with the Redis server."),
    cmd("auth", "connection", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, NK, connection::auth).doc("1.0.0", "O(N) where N is the number of passwords defined for the user", "Authenticates the connection."),
    cmd("select", "connection", 2, LOADING | STALE | FAST, NK, connection::select).doc("1.0.0", "O(1)", "Changes the selected database."),
    cmd("client", "connection", -2, 0, NK, container).subs(CLIENT_SUBS).doc("2.4.0", "Depends on subcommand.", "A container for client connection commands."),
    // server
    cmd("info", "server", -1, LOADING | STALE, NK, server::info).acl(&["@dangerous"]).tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]).doc("1.0.0", "O(1)", "Returns information and statistics about the server."),
    cmd("time", "server", 1, LOADING | STALE | FAST, NK, server::time).tips(&["nondeterministic_output"]).doc("2.6.0", "O(1)", "Returns the server time."),
    cmd("save", "server", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, NK, server::save).acl(&["@admin", "@dangerous"]).doc("1.0.0", "O(N) where N is the total number of keys in all databases", "Synchronously saves the database(s) to disk."),
    cmd("bgrewriteaof", "server", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, server::bgrewriteaof).acl(&["@admin", "@dangerous"]).doc("1.0.0", "O(1)", "Asynchronously rewrites the append-only file to disk."),
    cmd("bgsave", "server", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, server::bgsave).acl(&["@admin", "@dangerous"]).doc("1.0.0", "O(1)", "Asynchronously saves the database(s) to disk."),
    cmd("lastsave", "server", 1, LOADING | STALE | FAST, NK, server::lastsave).acl(&["@admin", "@dangerous"]).tips(&["nondeterministic_output"]).doc("1.0.0", "O(1)", "Returns the Unix timestamp of the last successful save to disk."),
    cmd("cluster", "cluster", -2, 0, NK, container).subs(CLUSTER_SUBS).doc("3.0.0", "Depends on subcommand.", "A container for Redis Cluster commands."),
    cmd("monitor", "server", 1, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::monitor).doc("1.0.0", "", "Listens for all requests received by the server in real-time."),
    cmd("shutdown", "server", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, NK, server::shutdown).doc("1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    cmd("debug", "server", -2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::debug).lock(Lock::Custom(server::debug_slots)).doc("1.0.0", "Depends on subcommand.", "A container for debugging commands."),
    cmd("config", "server", -2, 0, NK, container).subs(CONFIG_SUBS).doc("2.0.0", "Depends on subcommand.", "A container for server configuration commands."),
    cmd("command", "server", -1, LOADING | STALE, NK, server::command).subs(COMMAND_SUBS).acl(&["@connection"]).tips(&["nondeterministic_output_order"]).doc("2.8.13", "O(N) where N is the total number of Redis commands", "Returns detailed information about all commands."),
    cmd("slowlog", "server", -2, 0, NK, container).subs(SLOWLOG_SUBS).doc("2.2.12", "Depends on subcommand.", "A container for slow log commands."),
    cmd("latency", "server", -2, 0, NK, container).subs(LATENCY_SUBS).doc("2.8.13", "Depends on subcommand.", "A container for latency diagnostics commands."),
    cmd("eval", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS, NK, scripting::eval).lock(Lock::Custom(scripting::declared_slots)).doc("2.6.0", "Depends on the script that is executed.", "Executes a server-side Lua script."),
    cmd("evalsha", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS, NK, scripting::evalsha).lock(Lock::Custom(scripting::declared_slots)).doc("2.6.0", "Depends on the script that is executed.", "Executes a server-side Lua script by SHA1 digest."),
    cmd("eval_ro", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLE_KEYS, NK, scripting::eval_ro).lock(Lock::Custom(scripting::declared_slots)).doc("7.0.0", "Depends on the script that is executed.", "Executes a read-only server-side Lua script."),
    cmd("evalsha_ro", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLE_KEYS, NK, scripting::evalsha_ro).lock(Lock::Custom(scripting::declared_slots)).doc("7.0.0", "Depends on the script that is executed.", "Executes a read-only server-side Lua script by SHA1 digest."),
    cmd("fcall", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS, NK, functions::fcall).lock(Lock::Custom(scripting::declared_slots)).doc("7.0.0", "Depends on the function that is executed.", "Invokes a function."),
    cmd("fcall_ro", "scripting", -3, SCRIPT_RUN | NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLE_KEYS, NK, functions::fcall_ro).lock(Lock::Custom(scripting::declared_slots)).doc("7.0.0", "Depends on the function that is executed.", "Invokes a read-only function."),
    cmd("script", "scripting", -2, 0, NK, container).subs(SCRIPT_SUBS).doc("2.6.0", "Depends on subcommand.", "A container for Lua scripts management commands."),
    cmd("function", "scripting", -2, 0, NK, container).subs(FUNCTION_SUBS).doc("7.0.0", "Depends on subcommand.", "A container for function commands."),
    cmd("sync", "server", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, NK, crate::replication::sync).doc("1.0.0", "", "An internal command used in replication."),
    cmd("psync", "server", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, NK, crate::replication::psync).doc("2.8.0", "", "An internal command used in replication."),
    cmd("replconf", "server", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, NK, crate::replication::replconf).doc("3.0.0", "O(1)", "An internal command for configuring the replication stream."),
    cmd("failover", "server", -1, ADMIN | NOSCRIPT | STALE, NK, crate::replication::failover::failover).acl(&["@admin", "@slow", "@dangerous"]).doc("6.2.0", "O(1)", "Starts a coordinated failover from a server to one of its replicas."),
    cmd("role", "server", 1, NOSCRIPT | LOADING | STALE | FAST, NK, crate::replication::role).acl(&["@admin", "@dangerous"]).doc("2.8.12", "O(1)", "Returns the replication role."),
    cmd("wait", "generic", 3, 0, NK, crate::replication::wait).acl(&["@slow", "@connection"]).tips(&["request_policy:all_shards", "response_policy:agg_min"]).doc("3.0.0", "O(1)", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed."),
    cmd("replicaof", "server", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, NK, crate::replication::replica::replicaof).acl(&["@admin", "@slow", "@dangerous"]).doc("5.0.0", "O(1)", "Configures a server as replica of another, or promotes it to a master."),
    cmd("slaveof", "server", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, NK, crate::replication::replica::replicaof).acl(&["@admin", "@slow", "@dangerous"]).doc("1.0.0", "O(1)", "Sets a Redis server as a replica of another, or promotes it to being a master."),
    cmd("module", "server", -2, 0, NK, container).subs(MODULE_SUBS).doc("4.0.0", "Depends on subcommand.", "A container for module commands."),
    cmd("memory", "server", -2, 0, NK, container).subs(MEMORY_SUBS).doc("4.0.0", "Depends on subcommand.", "A container for memory diagnostics commands."),
];

/// Redis Cluster is not supported: each subcommand answers as a Redis started with
/// `cluster-enabled no` does, with the flags Redis gives it (so scripts are refused the
/// same ones).
static CLUSTER_SUBS: &[CommandDef] = &[
    cluster_sub("cluster|addslots", -3, ADMIN | STALE | NOSCRIPT, "Assigns new hash slots to a node."),
    cluster_sub("cluster|addslotsrange", -4, ADMIN | STALE | NOSCRIPT, "Assigns new hash slot ranges to a node."),
    cluster_sub("cluster|bumpepoch", 2, ADMIN | STALE | NOSCRIPT, "Advances the cluster config epoch."),
    cluster_sub("cluster|count-failure-reports", 3, ADMIN | STALE, "Returns the number of active failure reports active for a node."),
    cluster_sub("cluster|countkeysinslot", 3, STALE, "Returns the number of keys in a hash slot."),
    cluster_sub("cluster|delslots", -3, ADMIN | STALE | NOSCRIPT, "Sets hash slots as unbound for a node."),
    cluster_sub("cluster|delslotsrange", -4, ADMIN | STALE | NOSCRIPT, "Sets hash slot ranges as unbound for a node."),
    cluster_sub("cluster|failover", -2, ADMIN | STALE | NOSCRIPT, "Forces a replica to perform a manual failover of its master."),
    cluster_sub("cluster|flushslots", 2, ADMIN | STALE | NOSCRIPT, "Deletes all slots information from a node."),
    cluster_sub("cluster|forget", 3, ADMIN | STALE | NOSCRIPT, "Removes a node from the nodes table."),
    cluster_sub("cluster|getkeysinslot", 4, STALE, "Returns the key names in a hash slot."),
    cluster_sub("cluster|help", 2, LOADING | STALE, "Returns helpful text about the different subcommands."),
    cluster_sub("cluster|info", 2, STALE, "Returns information about the state of a node."),
    cluster_sub("cluster|keyslot", 3, STALE, "Returns the hash slot for a key."),
    cluster_sub("cluster|links", 2, STALE, "Returns a list of all TCP links to and from peer nodes."),
    cluster_sub("cluster|meet", -4, ADMIN | STALE | NOSCRIPT, "Forces a node to handshake with another node."),
    cluster_sub("cluster|myid", 2, STALE, "Returns the ID of a node."),
    cluster_sub("cluster|myshardid", 2, STALE, "Returns the shard ID of a node."),
    cluster_sub("cluster|nodes", 2, STALE, "Returns the cluster configuration for a node."),
    cluster_sub("cluster|replicas", 3, ADMIN | STALE, "Lists the replica nodes of a master node."),
    cluster_sub("cluster|replicate", 3, ADMIN | STALE | NOSCRIPT, "Configure a node as replica of a master node."),
    cluster_sub("cluster|reset", -2, ADMIN | STALE | NOSCRIPT, "Resets a node."),
    cluster_sub("cluster|saveconfig", 2, ADMIN | STALE | NOSCRIPT, "Forces a node to save the cluster configuration to disk."),
    cluster_sub("cluster|set-config-epoch", 3, ADMIN | STALE | NOSCRIPT, "Sets the configuration epoch for a new node."),
    cluster_sub("cluster|setslot", -4, ADMIN | STALE | NOSCRIPT, "Binds a hash slot to a node."),
    cluster_sub("cluster|shards", 2, STALE, "Returns the mapping of cluster slots to shards."),
    cluster_sub("cluster|slaves", 3, ADMIN | STALE, "Lists the replica nodes of a master node."),
    cluster_sub("cluster|slots", 2, STALE, "Returns the mapping of cluster slots to nodes."),
];

/// One CLUSTER subcommand: all answer `cluster_disabled`.
const fn cluster_sub(name: &'static str, arity: i32, flags: u32, summary: &'static str) -> CommandDef {
    cmd(name, "cluster", arity, flags, NK, server::cluster_disabled).doc("3.0.0", "", summary)
}

static OBJECT_SUBS: &[CommandDef] = &[
    cmd("object|encoding", "generic", 3, READONLY, (2, 2, 1), keys::object_encoding)
        .specs(&[ks(2, 0, 1, "RO")])
        .tips(&["nondeterministic_output"])
        .doc("2.2.3", "O(1)", "Returns the internal encoding of a Redis object."),
    cmd("object|freq", "generic", 3, READONLY, (2, 2, 1), keys::object_freq)
        .specs(&[ks(2, 0, 1, "RO")])
        .tips(&["nondeterministic_output"])
        .doc("4.0.0", "O(1)", "Returns the logarithmic access frequency counter of a Redis object."),
    cmd("object|idletime", "generic", 3, READONLY, (2, 2, 1), keys::object_idletime)
        .specs(&[ks(2, 0, 1, "RO")])
        .tips(&["nondeterministic_output"])
        .doc("2.2.3", "O(1)", "Returns the time since the last access to a Redis object."),
    cmd("object|refcount", "generic", 3, READONLY, (2, 2, 1), keys::object_refcount)
        .specs(&[ks(2, 0, 1, "RO")])
        .tips(&["nondeterministic_output"])
        .doc("2.2.3", "O(1)", "Returns the reference count of a value of a key."),
    cmd("object|help", "generic", 2, LOADING | STALE, NK, keys::object_help).doc(
        "6.2.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static CLIENT_SUBS: &[CommandDef] =
    &[
        cmd("client|id", "connection", 2, NOSCRIPT | LOADING | STALE, NK, connection::client_id).doc(
            "5.0.0",
            "O(1)",
            "Returns the unique client ID of the connection.",
        ),
        cmd("client|setname", "connection", 3, NOSCRIPT | LOADING | STALE, NK, connection::client_setname)
            .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
            .doc("2.6.9", "O(1)", "Sets the connection name."),
        cmd("client|getname", "connection", 2, NOSCRIPT | LOADING | STALE, NK, connection::client_getname).doc(
            "2.6.9",
            "O(1)",
            "Returns the name of the connection.",
        ),
        cmd("client|list", "connection", -2, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_list)
            .tips(&["nondeterministic_output"])
            .doc("2.4.0", "O(N) where N is the number of client connections", "Lists open connections."),
        cmd("client|info", "connection", 2, NOSCRIPT | LOADING | STALE, NK, connection::client_info)
            .tips(&["nondeterministic_output"])
            .doc("6.2.0", "O(1)", "Returns information about the connection."),
        cmd("client|kill", "connection", -3, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_kill).doc(
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Terminates open connections.",
        ),
        cmd("client|pause", "connection", -3, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_pause).doc(
            "3.0.0",
            "O(1)",
            "Suspends commands processing.",
        ),
        cmd("client|unblock", "connection", -3, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_unblock).doc(
            "5.0.0",
            "O(log N) where N is the number of client connections",
            "Unblocks a client blocked by a blocking command from a different connection.",
        ),
        cmd("client|unpause", "connection", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_unpause).doc(
            "6.2.0",
            "O(N) Where N is the number of paused clients",
            "Resumes processing commands from paused clients.",
        ),
        cmd("client|reply", "connection", 3, NOSCRIPT | LOADING | STALE, NK, connection::client_reply).doc(
            "3.2.0",
            "O(1)",
            "Instructs the server whether to reply to commands.",
        ),
        cmd("client|no-evict", "connection", 3, ADMIN | NOSCRIPT | LOADING | STALE, NK, connection::client_no_evict).doc(
            "7.0.0",
            "O(1)",
            "Sets the client eviction mode of the connection.",
        ),
        cmd("client|no-touch", "connection", 3, NOSCRIPT | LOADING | STALE, NK, connection::client_no_touch).doc(
            "7.2.0",
            "O(1)",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        ),
        cmd("client|setinfo", "connection", 4, NOSCRIPT | LOADING | STALE, NK, connection::client_setinfo)
            .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
            .doc("7.2.0", "O(1)", "Sets information specific to the client or connection."),
        cmd("client|tracking", "connection", -3, NOSCRIPT | LOADING | STALE, NK, connection::client_tracking).doc(
            "6.0.0",
            "O(1). Some options may introduce additional complexity.",
            "Controls server-assisted client-side caching for the connection.",
        ),
        cmd("client|caching", "connection", 3, NOSCRIPT | LOADING | STALE, NK, connection::client_caching).doc(
            "6.0.0",
            "O(1)",
            "Instructs the server whether to track the keys in the next request.",
        ),
        cmd("client|getredir", "connection", 2, NOSCRIPT | LOADING | STALE, NK, connection::client_getredir).doc(
            "6.0.0",
            "O(1)",
            "Returns the client ID to which the connection's tracking notifications are redirected.",
        ),
        cmd("client|trackinginfo", "connection", 2, NOSCRIPT | LOADING | STALE, NK, connection::client_trackinginfo).doc(
            "6.2.0",
            "O(1)",
            "Returns information about server-assisted client-side caching for the connection.",
        ),
        cmd("client|help", "connection", 2, LOADING | STALE, NK, connection::client_help).doc(
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
    ];

static CONFIG_SUBS: &[CommandDef] = &[
    cmd("config|get", "server", -3, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::config_get).doc(
        "2.0.0",
        "O(N) when N is the number of configuration parameters provided",
        "Returns the effective values of configuration parameters.",
    ),
    cmd("config|set", "server", -4, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::config_set)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.0.0", "O(N) when N is the number of configuration parameters provided", "Sets configuration parameters in-flight."),
    cmd("config|resetstat", "server", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::config_resetstat)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.0.0", "O(1)", "Resets the server's statistics."),
    cmd("config|rewrite", "server", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::config_rewrite)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.8.0", "O(1)", "Persists the effective configuration to file."),
    cmd("config|help", "server", 2, LOADING | STALE, NK, server::config_help).doc(
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static COMMAND_SUBS: &[CommandDef] = &[
    cmd("command|count", "server", 2, LOADING | STALE, NK, server::command_count).acl(&["@connection"]).doc(
        "2.8.13",
        "O(1)",
        "Returns a count of commands.",
    ),
    cmd("command|list", "server", -2, LOADING | STALE, NK, server::command_list)
        .acl(&["@connection"])
        .tips(&["nondeterministic_output_order"])
        .doc("7.0.0", "O(N) where N is the total number of Redis commands", "Returns a list of command names."),
    cmd("command|info", "server", -2, LOADING | STALE, NK, server::command_info)
        .acl(&["@connection"])
        .tips(&["nondeterministic_output_order"])
        .doc("2.8.13", "O(N) where N is the number of commands to look up", "Returns information about one, multiple or all commands."),
    cmd("command|docs", "server", -2, LOADING | STALE, NK, server::command_docs)
        .acl(&["@connection"])
        .tips(&["nondeterministic_output_order"])
        .doc(
            "7.0.0",
            "O(N) where N is the number of commands to look up",
            "Returns documentary information about one, multiple or all commands.",
        ),
    cmd("command|getkeys", "server", -3, LOADING | STALE, NK, server::command_getkeys).acl(&["@connection"]).doc(
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        "Extracts the key names from an arbitrary command.",
    ),
    cmd("command|getkeysandflags", "server", -3, LOADING | STALE, NK, server::command_getkeysandflags).acl(&["@connection"]).doc(
        "7.0.0",
        "O(N) where N is the number of arguments to the command",
        "Extracts the key names and access flags for an arbitrary command.",
    ),
    cmd("command|help", "server", 2, LOADING | STALE, NK, server::command_help).acl(&["@connection"]).doc(
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static PUBSUB_SUBS: &[CommandDef] = &[
    cmd("pubsub|channels", "pubsub", -2, PUBSUB | LOADING | STALE, NK, pubsub::pubsub_channels).doc("2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "Returns the active channels."),
    cmd("pubsub|numsub", "pubsub", -2, PUBSUB | LOADING | STALE, NK, pubsub::pubsub_numsub).doc("2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "Returns a count of subscribers to channels."),
    cmd("pubsub|numpat", "pubsub", 2, PUBSUB | LOADING | STALE, NK, pubsub::pubsub_numpat).doc("2.8.0", "O(1)", "Returns a count of unique pattern subscriptions."),
    cmd("pubsub|shardchannels", "pubsub", -2, PUBSUB | LOADING | STALE, NK, pubsub::pubsub_shardchannels).doc("7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "Returns the active shard channels."),
    cmd("pubsub|shardnumsub", "pubsub", -2, PUBSUB | LOADING | STALE, NK, pubsub::pubsub_shardnumsub).doc("7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "Returns the count of subscribers of shard channels."),
    cmd("pubsub|help", "pubsub", 2, LOADING | STALE, NK, pubsub::pubsub_help).doc("6.2.0", "O(1)", "Returns helpful text about the different subcommands."),
];

static SLOWLOG_SUBS: &[CommandDef] = &[
    cmd("slowlog|get", "server", -2, ADMIN | LOADING | STALE, NK, server::slowlog_get)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .doc("2.2.12", "O(N) where N is the number of entries returned", "Returns the slow log's entries."),
    cmd("slowlog|len", "server", 2, ADMIN | LOADING | STALE, NK, server::slowlog_len)
        .tips(&["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"])
        .doc("2.2.12", "O(1)", "Returns the number of entries in the slow log."),
    cmd("slowlog|reset", "server", 2, ADMIN | LOADING | STALE, NK, server::slowlog_reset)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.2.12", "O(N) where N is the number of entries in the slowlog", "Clears all entries from the slow log."),
    cmd("slowlog|help", "server", 2, LOADING | STALE, NK, server::slowlog_help).doc(
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
];

static LATENCY_SUBS: &[CommandDef] = &[
    cmd("latency|latest", "server", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_latest)
        .tips(&["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"])
        .doc("2.8.13", "O(1)", "Returns the latest latency samples for all events."),
    cmd("latency|history", "server", 3, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_history)
        .tips(&["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"])
        .doc("2.8.13", "O(1)", "Returns timestamp-latency samples for an event."),
    cmd("latency|reset", "server", -2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_reset)
        .tips(&["request_policy:all_nodes", "response_policy:agg_sum"])
        .doc("2.8.13", "O(1)", "Resets the latency data for one or more events."),
    cmd("latency|doctor", "server", 2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_doctor)
        .tips(&["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"])
        .doc("2.8.13", "O(1)", "Returns a human-readable latency analysis report."),
    cmd("latency|histogram", "server", -2, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_histogram)
        .tips(&["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"])
        .doc(
            "7.0.0",
            "O(N) where N is the number of commands with latency information being retrieved.",
            "Returns the cumulative distribution of latencies of a subset or all commands.",
        ),
    cmd("latency|graph", "server", 3, ADMIN | NOSCRIPT | LOADING | STALE, NK, server::latency_graph)
        .tips(&["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"])
        .doc("2.8.13", "O(1)", "Returns a latency graph for an event."),
    cmd("latency|help", "server", 2, LOADING | STALE, NK, server::latency_help).doc(
        "2.8.13",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static SCRIPT_SUBS: &[CommandDef] = &[
    cmd("script|debug", "scripting", 3, NOSCRIPT, NK, scripting::script_debug).doc(
        "3.2.0",
        "O(1)",
        "Sets the debug mode of server-side Lua scripts.",
    ),
    cmd("script|exists", "scripting", -3, NOSCRIPT, NK, scripting::script_exists)
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc(
            "2.6.0",
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
            "Determines whether server-side Lua scripts exist in the script cache.",
        ),
    cmd("script|flush", "scripting", -2, NOSCRIPT, NK, scripting::script_flush)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.6.0", "O(N) with N being the number of scripts in cache", "Removes all server-side Lua scripts from the script cache."),
    cmd("script|help", "scripting", 2, LOADING | STALE, NK, scripting::script_help).doc(
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    cmd("script|kill", "scripting", 2, NOSCRIPT | ALLOW_BUSY, NK, scripting::script_kill)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc("2.6.0", "O(1)", "Terminates a server-side Lua script during execution."),
    cmd("script|load", "scripting", 3, NOSCRIPT | STALE, NK, scripting::script_load)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("2.6.0", "O(N) with N being the length in bytes of the script body.", "Loads a server-side Lua script to the script cache."),
];

static FUNCTION_SUBS: &[CommandDef] = &[
    cmd("function|delete", "scripting", 3, WRITE | NOSCRIPT, NK, functions::delete)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("7.0.0", "O(1)", "Deletes a library and its functions."),
    cmd("function|dump", "scripting", 2, NOSCRIPT, NK, functions::dump).doc(
        "7.0.0",
        "O(N) where N is the number of functions",
        "Dumps all libraries into a serialized binary payload.",
    ),
    cmd("function|kill", "scripting", 2, NOSCRIPT | ALLOW_BUSY, NK, functions::kill)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc("7.0.0", "O(1)", "Terminates a function during execution."),
    cmd("function|load", "scripting", -3, WRITE | DENYOOM | NOSCRIPT, NK, functions::load)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("7.0.0", "O(1) (considering compilation time is redundant)", "Creates a library."),
    cmd("function|restore", "scripting", -3, WRITE | DENYOOM | NOSCRIPT, NK, functions::restore)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("7.0.0", "O(N) where N is the number of functions on the payload", "Restores all libraries from a payload."),
    cmd("function|flush", "scripting", -2, WRITE | NOSCRIPT, NK, functions::flush)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("7.0.0", "O(N) where N is the number of functions deleted", "Deletes all libraries and functions."),
    cmd("function|list", "scripting", -2, NOSCRIPT, NK, functions::list).tips(&["nondeterministic_output_order"]).doc(
        "7.0.0",
        "O(N) where N is the number of functions",
        "Returns information about all libraries.",
    ),
    cmd("function|stats", "scripting", 2, NOSCRIPT | ALLOW_BUSY, NK, functions::stats)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc("7.0.0", "O(1)", "Returns information about a function during execution."),
    cmd("function|help", "scripting", 2, LOADING | STALE, NK, functions::help).doc(
        "7.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

static MODULE_SUBS: &[CommandDef] = &[
    cmd("module|help", "server", 2, LOADING | STALE, NK, server::module_help).doc(
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    cmd("module|list", "server", 2, ADMIN | NOSCRIPT, NK, server::module_list)
        .acl(&["@admin", "@slow", "@dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("4.0.0", "O(N) where N is the number of loaded modules.", "Returns all loaded modules."),
    cmd("module|load", "server", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, server::module_load)
        .acl(&["@admin", "@slow", "@dangerous"])
        .doc("4.0.0", "O(1)", "Loads a module."),
    cmd("module|loadex", "server", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, server::module_load)
        .acl(&["@admin", "@slow", "@dangerous"])
        .doc("7.0.0", "O(1)", "Loads a module using extended parameters."),
    cmd("module|unload", "server", 3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, NK, server::module_unload)
        .acl(&["@admin", "@slow", "@dangerous"])
        .doc("4.0.0", "O(1)", "Unloads a module."),
];

static MEMORY_SUBS: &[CommandDef] = &[
    cmd("memory|usage", "server", -3, READONLY, (2, 2, 1), server::memory_usage).specs(&[ks(2, 0, 1, "RO")]).doc(
        "4.0.0",
        "O(N) where N is the number of samples.",
        "Estimates the memory usage of a key.",
    ),
    cmd("memory|stats", "server", 2, 0, NK, server::memory_stats)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc("4.0.0", "O(1)", "Returns details about memory usage."),
    cmd("memory|doctor", "server", 2, 0, NK, server::memory_doctor)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"])
        .doc("4.0.0", "O(1)", "Outputs a memory problems report."),
    cmd("memory|malloc-stats", "server", 2, 0, NK, server::memory_malloc_stats).doc(
        "4.0.0",
        "Depends on how much memory is allocated, could be slow",
        "Returns the allocator statistics.",
    ),
    cmd("memory|purge", "server", 2, 0, NK, server::memory_purge)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc("4.0.0", "Depends on how much memory is allocated, could be slow", "Asks the allocator to release memory."),
    cmd("memory|help", "server", 2, LOADING | STALE, NK, server::memory_help).doc(
        "4.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Every command and subcommand, numbered; statistics are kept per number. A
/// container's subcommands follow it, so subcommand `i` of command `id` is `id + 1 + i`.
pub struct Registry {
    by_name: hashbrown::HashMap<&'static [u8], usize>,
    pub all: Vec<&'static CommandDef>,
}

pub fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let mut by_name = hashbrown::HashMap::new();
        let mut all = Vec::new();
        for c in COMMANDS {
            by_name.insert(c.name.as_bytes(), all.len());
            all.push(c);
            all.extend(c.subcommands.iter());
        }
        Registry { by_name, all }
    })
}

impl Registry {
    /// The number of a command definition (a linear search: for rare paths only).
    pub fn id(&self, def: &CommandDef) -> usize {
        self.all.iter().position(|d| std::ptr::eq(*d, def)).expect("registered command")
    }
}

/// Case-insensitive lookup of a top-level command and its number.
pub fn lookup_id(name: &[u8]) -> Option<(&'static CommandDef, usize)> {
    if name.len() > 32 {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let r = registry();
    r.by_name.get(&lower[..]).map(|&id| (r.all[id], id))
}

pub fn lookup(name: &[u8]) -> Option<&'static CommandDef> {
    lookup_id(name).map(|(d, _)| d)
}
