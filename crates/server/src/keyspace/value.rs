//! The values a key can hold. Each data type gets a variant; the string variant keeps
//! small values inline (see [`Blob`]).

use super::blob::Blob;

/// How a string value was produced, which decides what OBJECT ENCODING reports:
/// Redis integer-encodes what SET stores but keeps values edited in place (APPEND,
/// SETRANGE, SETBIT) `raw`, and INCRBYFLOAT results as plain strings.
pub mod enc {
    pub const AUTO: u8 = 0;
    pub const RAW: u8 = 1;
    pub const NOT_INT: u8 = 2;
}

#[derive(Clone, Debug)]
pub enum Value {
    Str(Blob),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The encoding OBJECT ENCODING reports, following Redis's rules for strings:
    /// `int` for a canonical 64-bit integer, `embstr` up to 44 bytes, `raw` above.
    pub fn encoding(&self, hint: u8) -> &'static str {
        match self {
            Value::Str(_) if hint == enc::RAW => "raw",
            Value::Str(b) => {
                if hint == enc::AUTO && b.len() <= 20 && crate::util::parse_canonical_i64(b).is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }

    /// Approximate bytes owned by the value, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
        }
    }
}
