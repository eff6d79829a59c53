//! The values a key can hold. Each data type gets a variant; the string variant keeps
//! small values inline (see [`Blob`]); collections live in `types/`, boxed so that a
//! string key stays as small as possible.

use super::blob::Blob;
use super::types::{Hash, List, Set, ZSet};

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
    /// Unboxed: a Hash is 16 bytes, its small form one exact-size allocation.
    Hash(Hash),
    List(Box<List>),
    /// Unboxed: `Set` is 23 bytes with alignment 1 and keeps small intsets in place.
    Set(Set),
    /// Unboxed: a ZSet is one 16-byte pointer pair, so a small sorted set costs no
    /// allocation beyond its packed buffer (the zset memory target needs that).
    ZSet(ZSet),
}

impl Value {
    /// The name TYPE replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
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
            Value::Hash(h) => h.encoding(),
            Value::List(l) => l.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    /// Approximate bytes owned by the value, for MEMORY USAGE.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
            Value::Hash(h) => std::mem::size_of::<Hash>() + h.heap_size(),
            Value::List(l) => std::mem::size_of::<List>() + l.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
        }
    }

    /// Elements in a collection (string length for strings), for DEBUG OBJECT and
    /// the empty-collection check.
    pub fn len(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Hash(h) => h.len(),
            Value::List(l) => l.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A digest of the contents that does not depend on the encoding (DEBUG DIGEST).
    pub fn digest(&self) -> [u8; 20] {
        use sha1::{Digest, Sha1};
        match self {
            Value::Str(b) => {
                let mut h = Sha1::new();
                h.update(b"string");
                h.update(b.as_slice());
                h.finalize().into()
            }
            Value::Hash(h) => h.digest(),
            Value::List(l) => l.digest(),
            Value::Set(s) => s.digest(),
            Value::ZSet(z) => z.digest(),
        }
    }
}

/// Access to one variant of [`Value`], so command helpers can be written once for
/// every type (`ctx.read::<Hash>(key)`).
pub trait Typed: Sized {
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
    fn is_empty(&self) -> bool;
}

macro_rules! typed {
    ($t:ty, $variant:ident, $wrap:expr) => {
        impl Typed for $t {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant($wrap(self))
            }
            fn is_empty(&self) -> bool {
                self.len() == 0
            }
        }
    };
}

typed!(Hash, Hash, std::convert::identity);
typed!(List, List, Box::new);
typed!(Set, Set, std::convert::identity);
typed!(ZSet, ZSet, std::convert::identity);

impl Typed for Blob {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Str(self)
    }
    fn is_empty(&self) -> bool {
        false
    }
}
