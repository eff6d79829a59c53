//! Sorted set commands, including the blocking pops.
