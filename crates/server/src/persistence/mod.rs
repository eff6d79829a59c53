//! Persistence in Redis's own formats: the RDB writer (snapshots, DUMP), the loader
//! (start-up, DEBUG RELOAD, RESTORE) and the embedded compact formats both use.

pub mod listpack;
pub mod load;
pub mod lzf;
pub mod rdb;
pub mod ziplist;
