//! Hash commands (HSET, HGET, ...).
