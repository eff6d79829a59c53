//! Placeholder for the list type: its implementation lands with the list commands.

#[derive(Clone, Debug, Default)]
pub struct List {}

impl List {
    pub fn new() -> List {
        List {}
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn heap_size(&self) -> usize {
        0
    }

    pub fn digest(&self) -> [u8; 20] {
        [0; 20]
    }
}
