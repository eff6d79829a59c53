//! Geo commands: geohash-scored members of a sorted set.
