//! RESP2/RESP3 for ferrokv: request parsing ([`parse`]) and reply encoding ([`reply`]).
//!
//! No I/O and no server state live here, so the parser can be fuzzed and tested alone.
//! Arguments are returned as byte ranges of the caller's read buffer: the hot path
//! never copies an argument.

pub mod parse;
pub mod reply;

pub use parse::{parse_command, split_args, Limits, ProtocolError};
pub use reply::ReplyBuf;
