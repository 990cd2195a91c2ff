//! Every error the engine raises, mapped once to a JS `Error` whose `code` is a stable name (the README's table of
//! error codes; `lib/engine/errors.js` holds the same names for the errors the JS side raises). napi-rs turns an
//! `Error<&str>`'s status into the JS error's `code`, so each function here picks the code and keeps the message.

use crate::node::wire::PayloadError;
use crate::node::{OpenError, RequestError, SnapshotError, TransferError};
use crate::raft::ProposeError;
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

pub fn request_error(error: &RequestError) -> CodedError {
    match error {
        RequestError::InvalidId { .. } => invalid_argument(error),
        RequestError::Refused(refused) => propose_error(refused),
    }
}

pub fn transfer_error(error: &TransferError) -> CodedError {
    let code = match error {
        TransferError::NotLeader => NOT_LEADER,
        TransferError::NotAVoter { .. } | TransferError::NotAMember { .. } => UNKNOWN_MEMBER,
        TransferError::ToSelf => ALREADY_LEADER,
    };
    coded(code, error)
}

pub fn open_error(error: &OpenError) -> CodedError {
    let code = match error {
        OpenError::Storage(_) => STORAGE,
        OpenError::Mismatch(_) => DATA_MISMATCH,
        OpenError::SavedState(_) => INVALID_ARGUMENT,
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
        assert_eq!(open_error(&OpenError::Mismatch("another node's".into())).status, DATA_MISMATCH);
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
