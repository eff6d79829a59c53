//! Persistence in Redis's own formats. Today: the RDB writer that full synchronisation
//! ships; loading, SAVE/BGSAVE and the AOF build on it.

pub mod rdb;
