//! flotilla's wire codecs: the core's messages as gaggle's JSON on the JS channels (`gaggle`), the JSON writer
//! that the messages and the JS output batch are written with (`json`), the output batch itself
//! (`gaggle_output`) and the envelope of the JS faces' snapshot data (`snapshot_envelope`). Everything decoded is
//! untrusted.

mod gaggle;
mod gaggle_output;
pub mod json;
pub mod snapshot_envelope;
mod snapshot_members;

pub use gaggle::{
    check_payload, decode, encode_hello, nests_within, payload_from_json, payload_text, write_message, Inbound,
    PayloadError, WireError, MAX_DATA_DEPTH,
};
pub use gaggle_output::{AppendKey, OutputBatch, OutputParts, Wanted};
pub use snapshot_members::{NamedMembership, MAX_MEMBERS};
