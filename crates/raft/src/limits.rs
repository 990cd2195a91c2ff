//! The largest numbers the core takes from a peer, and the margin that keeps them from leading to a state no
//! message can carry. Peers speak JSON read by JS, whose integers are exact only up to 2^53 - 1: a term or index
//! above that cannot be sent, so the core must never reach one, whatever a peer says.

use super::types::{Index, Term};

/// The largest integer every channel carries exactly (JS's `Number.MAX_SAFE_INTEGER`).
pub const MAX_WIRE_INTEGER: u64 = (1 << 53) - 1;

/// The highest term a node may be in. A node in it never campaigns: the next term could not be sent.
pub const MAX_TERM: Term = MAX_WIRE_INTEGER;

/// One message raises a node's term by at most this much; a message that would raise it further is malformed.
/// No correct node lags four billion elections behind its peers. A node in term T can be taken to T + 2^32 at
/// most, so a single hostile term leaves room for about 2^53 more elections instead of stalling the cluster at
/// once (it would take two million such messages, each adopted, to exhaust the terms).
pub const MAX_TERM_STEP: Term = 1 << 32;

/// `MAX_TERM_STEP` for a sender that no configuration of the receiver's log holds: a member added by a change the
/// receiver has not seen yet rises to its term by this much per message, and a stranger would need 2^45 messages
/// to exhaust the terms.
pub const MAX_STRANGER_TERM_STEP: Term = 1 << 8;

/// The highest log index any message may carry, and the highest a log may reach: half of what a message can
/// express, so that adding one entry, or a batch, to any accepted index never leaves the range a message can
/// carry. A leader whose log is full refuses proposals (`ProposeError::LogFull`).
pub const MAX_INDEX: Index = 1 << 52;

/// The longest proposal id, in UTF-8 bytes: the node layer makes none longer, and the codecs refuse a longer one
/// from a peer.
pub const MAX_ID_BYTES: usize = 256;

/// Whether a message of `term` may be taken by a node in `current`: not above what a node may reach, and no
/// further above the node's own term than `step` (`MAX_TERM_STEP`, or `MAX_STRANGER_TERM_STEP`).
pub fn term_is_acceptable(current: Term, term: Term, step: Term) -> bool {
    term <= MAX_TERM && term.saturating_sub(current) <= step
}
