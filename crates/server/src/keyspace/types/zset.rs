//! Placeholder for the zset type: its implementation lands with the zset commands.

#[derive(Clone, Debug, Default)]
pub struct ZSet {}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet {}
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    pub fn heap_size(&self) -> usize {
        0
    }

    pub fn digest(&self) -> [u8; 20] {
        [0; 20]
    }
}
