//! The members' names a configuration carries: the node layer's context of a configuration entry (and of the
//! snapshot that stands for it), so that every node can reach a member added by a membership change before that
//! member ever spoke. Ids are the names' hashes, so the names alone say everything. With the native transport,
//! each name may come with the member's network address, so that a member added later is reachable by all.

use super::driver::MAX_NAME_BYTES;
use flotilla_raft::{Payload, MAX_MEMBERS};

/// The longest address a member may have ("host:port").
pub const MAX_ADDRESS_BYTES: usize = 255;
/// Marks the addresses after the names (a context without them ends with the names).
const ADDRESSES: u8 = 0xad;

/// `[u16 count][u16 length, UTF-8 bytes]...`, little-endian.
pub fn encode(names: &[&str]) -> Payload {
    encode_addressed(&names.iter().map(|&name| (name, None)).collect::<Vec<_>>())
}

/// `encode`, then, when any member has an address, `[0xad][u8 length, UTF-8 bytes]...` (one per name, length 0
/// for none).
pub fn encode_addressed(members: &[(&str, Option<&str>)]) -> Payload {
    let mut out = Vec::with_capacity(2 + members.iter().map(|(name, _)| 2 + name.len()).sum::<usize>());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    for (name, _) in members {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    }
    if members.iter().any(|(_, address)| address.is_some()) {
        out.push(ADDRESSES);
        for (_, address) in members {
            let address = address.filter(|a| a.len() <= MAX_ADDRESS_BYTES).unwrap_or("");
            out.push(address.len() as u8);
            out.extend_from_slice(address.as_bytes());
        }
    }
    Payload::from(out)
}

/// The names in a context with their addresses; `None` unless it is well formed: at most `MAX_MEMBERS` names,
/// each 1 to `MAX_NAME_BYTES` bytes of UTF-8, then nothing, or the addresses (UTF-8), one per name, and nothing
/// after them. An empty context holds no names.
pub fn decode_addressed(bytes: &[u8]) -> Option<Vec<(String, Option<String>)>> {
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
        names.push((std::str::from_utf8(&after[..length]).ok()?.to_string(), None));
        rest = &after[length..];
    }
    let Some((&marker, mut addresses)) = rest.split_first() else { return Some(names) };
    if marker != ADDRESSES {
        return None;
    }
    for (_, address) in names.iter_mut() {
        let (&length, after) = addresses.split_first()?;
        let length = usize::from(length);
        if after.len() < length {
            return None;
        }
        if length > 0 {
            *address = Some(std::str::from_utf8(&after[..length]).ok()?.to_string());
        }
        addresses = &after[length..];
    }
    addresses.is_empty().then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names alone.
    fn decode(bytes: &[u8]) -> Option<Vec<String>> {
        decode_addressed(bytes).map(|members| members.into_iter().map(|(name, _)| name).collect())
    }

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

    #[test]
    fn addresses_travel_beside_the_names_and_damage_is_refused() {
        let members = [("a", Some("10.0.0.1:7100")), ("b", None), ("c", Some("host-c:7100"))];
        let bytes = encode_addressed(&members);
        let expected: Vec<(String, Option<String>)> =
            members.iter().map(|(n, a)| (n.to_string(), a.map(str::to_string))).collect();
        assert_eq!(decode_addressed(&bytes), Some(expected));
        assert_eq!(decode(&bytes), Some(vec!["a".to_string(), "b".to_string(), "c".to_string()]));
        let names_only = encode(&["a", "b"]);
        assert_eq!(decode_addressed(&names_only), Some(vec![("a".to_string(), None), ("b".to_string(), None)]));
        for cut in 1..bytes.len() {
            let cut_bytes = &bytes[..cut];
            // A cut right after the names is a context without addresses: still sound.
            if cut_bytes.len() != 2 + 3 * 3 {
                assert_eq!(decode_addressed(cut_bytes), None, "cut at {cut}");
            }
        }
        assert_eq!(decode_addressed(&[bytes.to_vec(), vec![0]].concat()), None, "trailing bytes");
        let mut wrong_marker = names_only.to_vec();
        wrong_marker.push(0x01);
        assert_eq!(decode_addressed(&wrong_marker), None, "an unknown section");
    }
}
