//! The test clusters' state machine: the list of user data items a node applied, and its snapshot encoding.

/// A state machine of user data items, as snapshot bytes: each item as a 4-byte length and its bytes.
pub fn encode_items(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
    out
}

/// The items of a snapshot made by `encode_items`.
pub fn decode_items(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    while bytes.len() >= 4 {
        let length = u32::from_le_bytes(bytes[..4].try_into().expect("four bytes")) as usize;
        items.push(bytes[4..4 + length].to_vec());
        bytes = &bytes[4 + length..];
    }
    items
}
