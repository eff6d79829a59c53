//! HyperLogLog commands in Redis's sparse/dense string format.
