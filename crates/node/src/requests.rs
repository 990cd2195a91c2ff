//! Client request ids (zmq-raft's idempotent updates): the id a caller gives an append becomes its proposal id,
//! so that a retry of the same request, on any node, after a leader change or a restart, commits once and is
//! answered with the index of the entry that did. The node remembers which requests it waits for, to settle them
//! when they commit.

use flotilla_raft::{ProposalId, ProposeError, MAX_ID_BYTES};
use std::collections::HashSet;
use std::fmt;

/// A request id `r` is proposed as `req(r)`: the node's own ids, `<name>_<uuid>`, end in a hexadecimal digit,
/// these in `)`, so no request id can take a node's id or the other way round, whatever the node names are.
const PREFIX: &str = "req(";
const SUFFIX: &str = ")";

/// The longest request id, in UTF-8 bytes: the wire's limit for a proposal id, less the wrapping.
pub const MAX_REQUEST_ID_BYTES: usize = MAX_ID_BYTES - PREFIX.len() - SUFFIX.len();

#[derive(Debug)]
pub enum RequestError {
    InvalidId { bytes: usize },
    Refused(ProposeError),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidId { bytes: 0 } => write!(f, "Invalid arguments: \"requestId\" must not be empty"),
            RequestError::InvalidId { bytes } => {
                let limit = MAX_REQUEST_ID_BYTES;
                write!(f, "Invalid arguments: \"requestId\" is {bytes} bytes (UTF-8), more than the limit of {limit}")
            }
            RequestError::Refused(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for RequestError {}

impl From<ProposeError> for RequestError {
    fn from(error: ProposeError) -> RequestError {
        RequestError::Refused(error)
    }
}

/// The proposal id of a request id, if the request id is valid.
pub fn proposal_id_of(request_id: &str) -> Result<ProposalId, RequestError> {
    if request_id.is_empty() || request_id.len() > MAX_REQUEST_ID_BYTES {
        return Err(RequestError::InvalidId { bytes: request_id.len() });
    }
    let mut id = String::with_capacity(PREFIX.len() + request_id.len() + SUFFIX.len());
    id.push_str(PREFIX);
    id.push_str(request_id);
    id.push_str(SUFFIX);
    Ok(ProposalId::from(id))
}

/// The request id a proposal id was made from (`proposal_id_of`'s inverse), if it is a request's.
pub fn request_id_of(proposal_id: &str) -> Option<&str> {
    proposal_id.strip_prefix(PREFIX)?.strip_suffix(SUFFIX).filter(|request_id| !request_id.is_empty())
}

/// The requests proposed on this node that have not committed yet. At most as many as the core keeps pending
/// proposals (`Config::max_pending_proposals`); a request whose caller gave up stays until it commits, as its
/// proposal does.
#[derive(Debug, Default)]
pub struct PendingRequests {
    ids: HashSet<ProposalId>,
}

impl PendingRequests {
    pub fn wait_for(&mut self, id: ProposalId) {
        self.ids.insert(id);
    }

    /// Stops waiting for `id`; returns whether this node waited for it.
    pub fn settle(&mut self, id: &str) -> bool {
        !self.ids.is_empty() && self.ids.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_wrapped_apart_from_node_ids_and_limited_to_the_wire_limit() {
        let id = proposal_id_of("order-42").expect("a valid request id");
        assert_eq!(&*id, "req(order-42)");
        assert!(matches!(proposal_id_of(""), Err(RequestError::InvalidId { bytes: 0 })));
        let longest = "é".repeat(MAX_REQUEST_ID_BYTES / 2);
        assert_eq!(proposal_id_of(&longest).map(|id| id.len()).ok(), Some(MAX_ID_BYTES - 1));
        let too_long = "x".repeat(MAX_REQUEST_ID_BYTES + 1);
        let refused = proposal_id_of(&too_long);
        assert!(matches!(refused, Err(RequestError::InvalidId { bytes }) if bytes == MAX_ID_BYTES - 4));
    }

    #[test]
    fn a_request_id_is_read_back_from_its_proposal_id_and_from_nothing_else() {
        let id = proposal_id_of("order-42").expect("a valid request id");
        assert_eq!(request_id_of(&id), Some("order-42"));
        for other in ["a_0b6e1c9e-8d55-4b7a-9f0e-3d2f1c0b9a87", "req()", "req(x", "order-42)", ""] {
            assert_eq!(request_id_of(other), None, "{other}");
        }
    }
}
