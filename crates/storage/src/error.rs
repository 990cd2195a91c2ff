//! Storage errors: every one names the file and, where it applies, the byte offset, so an operator can look.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    pub file: PathBuf,
    pub offset: Option<u64>,
    pub message: String,
}

impl StorageError {
    pub fn at(file: &Path, offset: u64, message: impl Into<String>) -> StorageError {
        StorageError { file: file.to_path_buf(), offset: Some(offset), message: message.into() }
    }

    pub fn io(file: &Path, error: std::io::Error) -> StorageError {
        StorageError { file: file.to_path_buf(), offset: None, message: error.to_string() }
    }

    pub fn other(file: &Path, message: impl Into<String>) -> StorageError {
        StorageError { file: file.to_path_buf(), offset: None, message: message.into() }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at offset {}: {}", self.file.display(), offset, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for StorageError {}
