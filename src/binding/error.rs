//! Every error the engine raises, mapped once to a JS `Error` whose `code` is a stable name (the README's table of
//! error codes; `lib/engine/errors.js` holds the same names for the errors the JS side raises). napi-rs turns an
//! `Error<&str>`'s status into the JS error's `code`, so each function here picks the code and keeps the message.

use crate::node::wire::PayloadError;
use crate::node::{
    BindError, MembershipError, MismatchError, OpenError, RequestError, SavedStateError, SnapshotError, TransferError,
};
use crate::raft::ConfChangeError;
use crate::raft::{ProposeError, ReadError};
use napi::bindgen_prelude::{Env, Error, JsError, Status, Unknown};

/// The stable name a JS error carries as its `code`: the binding's methods return `napi::Result<T, ErrorCode>`.
pub type ErrorCode = &'static str;
/// A JS error with a stable `code`.
pub type CodedError = Error<ErrorCode>;

pub const INVALID_ARGUMENT: &str = "FLOTILLA_INVALID_ARGUMENT";
pub const INVALID_STATE: &str = "FLOTILLA_INVALID_STATE";
pub const CLOSED: &str = "FLOTILLA_CLOSED";
pub const NOT_LEADER: &str = "FLOTILLA_NOT_LEADER";
pub const UNKNOWN_MEMBER: &str = "FLOTILLA_UNKNOWN_MEMBER";
pub const ALREADY_LEADER: &str = "FLOTILLA_ALREADY_LEADER";
pub const TOO_LARGE: &str = "FLOTILLA_TOO_LARGE";
pub const TOO_MANY_PENDING: &str = "FLOTILLA_TOO_MANY_PENDING";
pub const LOG_FULL: &str = "FLOTILLA_LOG_FULL";
pub const STORAGE: &str = "FLOTILLA_STORAGE";
pub const DATA_MISMATCH: &str = "FLOTILLA_DATA_MISMATCH";
pub const SNAPSHOT_REFUSED: &str = "FLOTILLA_SNAPSHOT_REFUSED";
pub const COMPACTED: &str = "FLOTILLA_COMPACTED";
pub const INTERNAL: &str = "FLOTILLA_INTERNAL";

pub fn coded(code: &'static str, message: impl std::fmt::Display) -> CodedError {
    Error::new(code, message.to_string())
}

/// Options, arguments or a proposal's data that the engine refuses as given.
pub fn invalid_argument(message: impl std::fmt::Display) -> CodedError {
    coded(INVALID_ARGUMENT, message)
}

/// A failure of napi itself (a callback that cannot be wrapped, say): nothing the caller did.
pub fn internal(error: napi::Error) -> CodedError {
    coded(INTERNAL, error.reason)
}

pub fn propose_error(error: &ProposeError) -> CodedError {
    let code = match error {
        ProposeError::TooLarge { .. } => TOO_LARGE,
        ProposeError::TooManyPending { .. } => TOO_MANY_PENDING,
        ProposeError::DuplicateId => INVALID_ARGUMENT,
        ProposeError::LogFull { .. } => LOG_FULL,
    };
    coded(code, error)
}

pub fn read_error(error: &ReadError) -> CodedError {
    let code = match error {
        ReadError::TooManyPending { .. } => TOO_MANY_PENDING,
        ReadError::LeaseNotEnabled => INVALID_STATE,
        ReadError::DuplicateRequest(_) => INTERNAL,
    };
    coded(code, error)
}

pub fn request_error(error: &RequestError) -> CodedError {
    match error {
        RequestError::InvalidId { .. } => invalid_argument(error),
        RequestError::Refused(refused) => propose_error(refused),
    }
}

pub fn membership_error(error: &MembershipError) -> CodedError {
    let code = match error {
        MembershipError::Refused { why: ConfChangeError::NotLeader, .. } => NOT_LEADER,
        MembershipError::Refused {
            why:
                ConfChangeError::InFlight { .. }
                | ConfChangeError::TermNotStarted { .. }
                | ConfChangeError::Joint
                | ConfChangeError::NotCaughtUp { .. },
            ..
        }
        // A member whose name this leader has not heard yet: a state that passes, like the ones above.
        | MembershipError::UnnamedMember { .. } => INVALID_STATE,
        MembershipError::NotAMember { .. } => UNKNOWN_MEMBER,
        MembershipError::Refused { .. }
        | MembershipError::InvalidName { .. }
        | MembershipError::InvalidAddress { .. }
        | MembershipError::AlreadyAVoter { .. }
        | MembershipError::AlreadyAMember { .. }
        | MembershipError::IdCollision(_) => INVALID_ARGUMENT,
    };
    coded(code, error)
}

pub fn transfer_error(error: &TransferError) -> CodedError {
    let code = match error {
        TransferError::NotLeader => NOT_LEADER,
        TransferError::NotAVoter { .. } | TransferError::NotAMember { .. } => UNKNOWN_MEMBER,
        TransferError::ToSelf => ALREADY_LEADER,
        TransferError::NoOtherVoter => INVALID_STATE,
    };
    coded(code, error)
}

pub fn open_error(error: &OpenError) -> CodedError {
    let code = match error {
        OpenError::Storage(_) => STORAGE,
        OpenError::Mismatch(
            MismatchError::AnotherNode { .. }
            | MismatchError::ClusterSizeChanged { .. }
            | MismatchError::SlotIds { .. }
            | MismatchError::ForeignId { .. }
            | MismatchError::SnapshotMembers { .. }
            | MismatchError::MembersChanged { .. },
        ) => DATA_MISMATCH,
        // Two configured names with one id: the options must change. More names than seats: the directory
        // recorded other members than the options name.
        OpenError::Members(BindError::IdCollision { .. }) => INVALID_ARGUMENT,
        OpenError::Members(BindError::NoVacantSeat { .. }) => DATA_MISMATCH,
        OpenError::SavedState(
            SavedStateError::DataDirHoldsALog { .. }
            | SavedStateError::VoteForAStranger { .. }
            | SavedStateError::TooManyEntries { .. }
            | SavedStateError::TermOutOfOrder { .. }
            | SavedStateError::EntryTooLarge { .. },
        ) => INVALID_ARGUMENT,
        OpenError::Core(_) => DATA_MISMATCH,
    };
    coded(code, error)
}

pub fn payload_error(error: &PayloadError) -> CodedError {
    let code = match error {
        PayloadError::NotJson(_) | PayloadError::TooDeep { .. } => INVALID_ARGUMENT,
    };
    coded(code, error)
}

pub fn snapshot_error(error: &SnapshotError) -> CodedError {
    let code = match error {
        SnapshotError::NotAsked { .. } | SnapshotError::TooLarge { .. } | SnapshotError::Compact(_) => SNAPSHOT_REFUSED,
    };
    coded(code, error)
}

/// An error for a Promise that a worker-thread task rejects: napi-rs's `Task` rejects with a plain `Error`
/// (status only), so the coded error is made into a JS value first and carried as that value.
pub fn task_rejection(env: &Env, error: CodedError) -> napi::Error {
    // SAFETY: `env` is the live environment of the JS thread that runs the task's `reject`.
    let value = unsafe { JsError::from(error).into_value(env.raw()) };
    if value.is_null() {
        return napi::Error::new(Status::GenericFailure, "the error could not be made");
    }
    // SAFETY: `value` was just created in `env`.
    napi::Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::CompactError;

    #[test]
    fn every_engine_error_keeps_its_message_under_its_code() {
        let refused = propose_error(&ProposeError::TooManyPending { limit: 3 });
        assert_eq!((refused.status, refused.reason.as_str()), (TOO_MANY_PENDING, "more than 3 proposals are pending"));
        let transfer = transfer_error(&TransferError::NotLeader);
        assert_eq!(
            (transfer.status, transfer.reason.as_str()),
            (NOT_LEADER, "only the leader can transfer leadership")
        );
        let request = request_error(&RequestError::InvalidId { bytes: 0 });
        assert_eq!(request.status, INVALID_ARGUMENT);
        let nested = request_error(&RequestError::Refused(ProposeError::LogFull { limit: 9 }));
        assert_eq!(nested.status, LOG_FULL);
    }

    #[test]
    fn a_member_not_named_yet_is_a_state_to_wait_out_and_a_stranger_an_unknown_member() {
        let unnamed = membership_error(&MembershipError::UnnamedMember { id: 7 });
        assert_eq!(unnamed.status, INVALID_STATE, "the promotion of a new member asks again on INVALID_STATE");
        let stranger = membership_error(&MembershipError::NotAMember { name: "x".into() });
        assert_eq!(stranger.status, UNKNOWN_MEMBER);
    }

    fn code_and_message(error: impl Into<OpenError>) -> (ErrorCode, String) {
        let coded = open_error(&error.into());
        (coded.status, coded.reason)
    }

    #[test]
    fn a_data_directory_of_another_node_is_a_data_mismatch_with_its_message() {
        let dir = std::path::PathBuf::from("data");
        let another_node = MismatchError::AnotherNode { dir: dir.clone(), owner: "a".into(), name: "b".into() };
        assert_eq!(
            code_and_message(another_node),
            (DATA_MISMATCH, r#"the data directory data belongs to node "a", not "b""#.to_string())
        );
        let more_members = MismatchError::ClusterSizeChanged { dir, recorded: 4, configured: 3 };
        assert_eq!(
            code_and_message(more_members),
            (
                DATA_MISMATCH,
                "the data directory data belongs to a cluster of 4 members, not 3: the cluster size cannot change by \
                 restarting"
                    .to_string()
            )
        );
        let core = OpenError::Core(crate::raft::ConfigError::NoVoters);
        assert_eq!(code_and_message(core), (DATA_MISMATCH, "the configuration has no voters".to_string()));
    }

    #[test]
    fn every_saved_state_error_is_an_invalid_argument_with_its_message() {
        let cannot_seed = |why: &str| (INVALID_ARGUMENT, format!("the saved state cannot seed this node: {why}"));
        let cases = [
            (
                SavedStateError::DataDirHoldsALog { dir: "data".into() },
                "the data directory data already holds a log; start from the saved state in an empty one, or from \
                 the data directory without it",
            ),
            (SavedStateError::VoteForAStranger { name: "zed".into() }, r#"votedFor "zed" is not a member"#),
            (SavedStateError::TooManyEntries { count: 3, limit: 2 }, "the log has 3 entries, more than the limit of 2"),
            (
                SavedStateError::TermOutOfOrder { position: 0, term: 1, previous_term: 1, current_term: 0 },
                "entry 0 has term 1, which is not between the term before it (1) and currentTerm (0)",
            ),
            (
                SavedStateError::EntryTooLarge { position: 2, bytes: 10, limit: 9 },
                "entry 2 is 10 bytes, more than the limit of 9",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(code_and_message(error), cannot_seed(message));
        }
    }

    #[test]
    fn a_storage_error_is_storage_with_the_file_in_its_message() {
        let error = crate::storage::StorageError::at(std::path::Path::new("wal"), 7, "damaged");
        assert_eq!(
            code_and_message(OpenError::Storage(error)),
            (STORAGE, "cannot recover the log: wal at offset 7: damaged".to_string())
        );
    }

    #[test]
    fn every_snapshot_error_is_snapshot_refused_with_its_message() {
        let not_asked = snapshot_error(&SnapshotError::NotAsked { index: 7 });
        assert_eq!(
            (not_asked.status, not_asked.reason.as_str()),
            (SNAPSHOT_REFUSED, "no snapshot at index 7 was asked for")
        );
        let too_large = snapshot_error(&SnapshotError::TooLarge { bytes: 10, limit: 9 });
        assert_eq!(
            (too_large.status, too_large.reason.as_str()),
            (SNAPSHOT_REFUSED, "the snapshot is 10 bytes, more than the limit of 9: the log was not compacted")
        );
        let compact = snapshot_error(&SnapshotError::Compact(CompactError::NotApplied { index: 5, applied: 4 }));
        assert_eq!(
            (compact.status, compact.reason.as_str()),
            (SNAPSHOT_REFUSED, "index 5 is above the last applied index 4")
        );
    }

    #[test]
    fn every_payload_error_is_an_invalid_argument_with_its_message() {
        let too_deep =
            payload_error(&crate::node::wire::check_payload(&("[".repeat(101) + &"]".repeat(101))).unwrap_err());
        assert_eq!(
            (too_deep.status, too_deep.reason.as_str()),
            (INVALID_ARGUMENT, "the data nests more than 100 levels deep")
        );
        let not_json = payload_error(&crate::node::wire::check_payload("{").unwrap_err());
        assert_eq!(not_json.status, INVALID_ARGUMENT);
        assert!(not_json.reason.starts_with("the data is not JSON text: "), "{}", not_json.reason);
    }
}
