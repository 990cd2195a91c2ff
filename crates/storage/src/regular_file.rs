//! Reading the files of a data directory only once they are known to be regular files: a FIFO named as a
//! segment, a snapshot or the lock would block its open or read forever, and a device would never end.

use std::fs;
use std::io;
use std::path::Path;

/// An error unless `path` is a regular file (or absent: `NotFound`, as opening it would say).
pub fn check_regular(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file (a directory, a FIFO or a device)"))
        }
        Ok(_) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The whole content of the regular file at `path`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    check_regular(path)?;
    fs::read(path)
}

/// The whole content of the regular file at `path`, as text.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    check_regular(path)?;
    fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_or_a_directory_is_refused_before_it_is_opened_and_a_regular_file_is_read() {
        let dir = std::env::temp_dir().join(format!("flotilla-regular-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("a-directory")).unwrap();
        let fifo = dir.join("a-fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().map(|status| status.success());
        if made.unwrap_or(false) {
            assert_eq!(read(&fifo).unwrap_err().kind(), io::ErrorKind::InvalidInput, "refused, not blocked on");
        }
        assert_eq!(read(&dir.join("a-directory")).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        assert_eq!(read(&dir.join("absent")).unwrap_err().kind(), io::ErrorKind::NotFound);
        fs::write(dir.join("file"), b"bytes").unwrap();
        assert_eq!(read(&dir.join("file")).unwrap(), b"bytes");
        assert_eq!(read_to_string(&dir.join("file")).unwrap(), "bytes");
        fs::remove_dir_all(&dir).unwrap();
    }
}
