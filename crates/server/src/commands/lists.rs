//! List commands, including the blocking pops.
