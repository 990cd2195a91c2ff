//! The members' names a configuration carries: the node layer's context of a configuration entry (and of the
//! snapshot that stands for it), so that every node can reach a member added by a membership change before that
//! member ever spoke. Ids are the names' hashes, so the names alone say everything.

use super::driver::MAX_NAME_BYTES;
use flotilla_raft::{Payload, MAX_MEMBERS};

/// `[u16 count][u16 length, UTF-8 bytes]...`, little-endian.
pub fn encode(names: &[&str]) -> Payload {
    let mut out = Vec::with_capacity(2 + names.iter().map(|name| 2 + name.len()).sum::<usize>());
    out.extend_from_slice(&(names.len() as u16).to_le_bytes());
    for name in names {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    Payload::from(out)
}

/// The names in a context; `None` unless it is well formed: at most `MAX_MEMBERS` names, each 1 to
/// `MAX_NAME_BYTES` bytes of UTF-8, nothing after them. An empty context holds no names.
pub fn decode(bytes: &[u8]) -> Option<Vec<String>> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let (count, mut rest) = bytes.split_first_chunk::<2>()?;
    let count = usize::from(u16::from_le_bytes(*count));
    if count > MAX_MEMBERS {
        return None;
    }
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let (length, after) = rest.split_first_chunk::<2>()?;
        let length = usize::from(u16::from_le_bytes(*length));
        if length == 0 || length > MAX_NAME_BYTES || after.len() < length {
            return None;
        }
        names.push(std::str::from_utf8(&after[..length]).ok()?.to_string());
        rest = &after[length..];
    }
    rest.is_empty().then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_survive_the_context_and_damage_is_refused() {
        let names = ["a", "node-2", "ünïcode"];
        let bytes = encode(&names);
        assert_eq!(decode(&bytes), Some(names.iter().map(|n| n.to_string()).collect()));
        assert_eq!(decode(&[]), Some(Vec::new()));
        for cut in 1..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode(&[bytes.to_vec(), vec![0]].concat()), None, "trailing bytes");
        assert_eq!(decode(&[1, 0, 0, 0]), None, "an empty name");
        assert_eq!(decode(&[1, 0, 1, 0, 0xff]), None, "not UTF-8");
        let long = "n".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(decode(&encode(&[long.as_str()])), None, "too long");
    }
}
