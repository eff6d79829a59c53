//! Set commands (SADD, SINTER, ...).
