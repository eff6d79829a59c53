//! ferrokv-server: a Redis-compatible in-memory data store that uses every core.
//!
//! Layout: [`net`] accepts connections and runs the pipelined read/execute/write loop;
//! [`commands`] holds the one command table and one file per command family;
//! [`keyspace`] owns the sharded databases, values and expiry; [`journal`] is the single
//! ordered write stream that persistence and replication consume; [`scripting`] runs
//! Lua scripts and functions; [`config`] is the one table of options.

pub mod alloc;
pub mod blocking;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cron;
pub mod evict;
pub mod journal;
pub mod keyspace;
pub mod log;
pub mod net;
pub mod notify;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod stats;
pub mod tracking;
pub mod util;
pub mod watch;

/// The Redis version ferrokv presents to clients (INFO, HELLO).
pub const REDIS_VERSION: &str = "7.2.6";
