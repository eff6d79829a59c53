//! The values a key can hold. Each data type gets a variant; the string variant keeps
//! small values inline (see [`Blob`]).

use super::blob::Blob;

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
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(b) => {
                if b.len() <= 20 && crate::util::parse_canonical_i64(b).is_some() {
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
