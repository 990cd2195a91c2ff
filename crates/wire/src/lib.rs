//! flotilla's wire codecs: the core's messages as gaggle's JSON on the JS channels (`gaggle`), and the JSON
//! writer that the messages and the JS output batch are written with (`json`). Everything decoded is untrusted.

mod gaggle;
pub mod json;
mod snapshot_members;

pub use gaggle::{
    check_payload, decode, encode_hello, payload_from_json, payload_text, write_message, Inbound, PayloadError,
    WireError, MAX_ID_BYTES, MAX_NAME_BYTES,
};
pub use snapshot_members::{NamedMembership, MAX_MEMBERS};
