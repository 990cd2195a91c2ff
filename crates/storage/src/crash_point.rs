//! Test-only crash points: each I/O step of writing a snapshot and compacting the log behind it calls `step`, and
//! a test can make the Nth step "the process died here" (the step returns an error, and nothing after it runs).
//! Outside tests, `step` does nothing and compiles away.

use super::error::StorageError;
use std::path::Path;

#[cfg(test)]
thread_local! {
    /// (steps taken, the step to die at) on this thread.
    static CRASH: std::cell::Cell<(u32, Option<u32>)> = const { std::cell::Cell::new((0, None)) };
}

/// Makes the `at`th step from now (0 for the next) fail on this thread, as if the process died there.
#[cfg(test)]
pub fn crash_at(at: Option<u32>) {
    CRASH.with(|crash| crash.set((0, at)));
}

/// One I/O step done on `path`; fails if the test chose to die here.
#[cfg(test)]
pub fn step(path: &Path) -> Result<(), StorageError> {
    CRASH.with(|crash| {
        let (taken, at) = crash.get();
        crash.set((taken + 1, at));
        if at == Some(taken) {
            return Err(StorageError::other(path, format!("test crash point {taken}")));
        }
        Ok(())
    })
}

#[cfg(not(test))]
#[inline(always)]
pub fn step(_path: &Path) -> Result<(), StorageError> {
    Ok(())
}
