//! A power cut keeps what was fsynced and nothing more. The disk thread writes while the test "pulls the plug"
//! again and again: each time, the tokens reported durable so far are noted, then every segment is copied cut to
//! its last fsynced length (from the test-only `FLOTILLA_TEST_FSYNC_LOG`), and the copy must hold every write of
//! those tokens. A disk thread that reported a token before its fsync finished would lose some here.
//!
//! Alone in its test binary: the switch is an environment variable, read by every log opened in the process.

use flotilla_raft::{Entry, EntryKind, HardState, Payload};
use flotilla_storage::{Record, Wal, WalWriter, WriterEvent};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const WRITES: u64 = 3000;
const SEGMENT_BYTES: u64 = 64 * 1024;

fn write(token: u64) -> Vec<Record> {
    let entry = Entry {
        term: 1,
        index: token,
        kind: EntryKind::Normal,
        id: Some(format!("n_{token}").into()),
        data: Payload::from(vec![1u8; 100]),
    };
    vec![Record::Write {
        hard_state: Some(HardState { term: 1, vote: Some(1), commit: token }),
        reset: None,
        entries: vec![entry],
    }]
}

/// The last fsynced length of each segment (by path), from the complete lines of the fsync log. Opening the cut
/// copy notes its own segments there too, under the copy's paths.
fn fsynced_lengths(log: &Path) -> HashMap<PathBuf, u64> {
    let text = fs::read_to_string(log).unwrap_or_default();
    let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
    complete
        .lines()
        .filter_map(|line| {
            let (path, length) = line.rsplit_once(' ')?;
            Some((PathBuf::from(path), length.parse().ok()?))
        })
        .collect()
}

/// Copies the segments of `dir` into `copy` as a power cut would leave them.
fn cut_copy(dir: &Path, log: &Path, copy: &Path) {
    let lengths = fsynced_lengths(log);
    let _ = fs::remove_dir_all(copy);
    fs::create_dir_all(copy).unwrap();
    for file in fs::read_dir(dir).unwrap() {
        let file = file.unwrap();
        let name = file.file_name().to_string_lossy().to_string();
        if name.ends_with(".wal") {
            // A segment may be deleted or grow while it is read: only its fsynced prefix is kept anyway.
            let Ok(mut bytes) = fs::read(file.path()) else { continue };
            bytes.truncate(lengths.get(&file.path()).copied().unwrap_or(0) as usize);
            fs::write(copy.join(name), bytes).unwrap();
        }
    }
}

#[test]
fn every_token_reported_durable_survives_a_power_cut() {
    let base = std::env::temp_dir().join(format!("flotilla-power-cut-{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).unwrap();
    let (dir, log, copy) = (base.join("node"), base.join("fsync.log"), base.join("cut"));
    std::env::set_var("FLOTILLA_TEST_FSYNC_LOG", &log);
    let (wal, _) = Wal::open(&dir, SEGMENT_BYTES).expect("open");
    let durable = Arc::new(AtomicU64::new(0));
    let reported = durable.clone();
    let writer = WalWriter::spawn(wal, move |event| match event {
        WriterEvent::Durable(token) => reported.store(token, Ordering::SeqCst),
        WriterEvent::Failed(error) => panic!("the disk failed: {error}"),
    });
    let mut cuts = 0;
    for token in 1..=WRITES {
        writer.write(token, write(token));
        if token % 100 == 0 {
            let acknowledged = durable.load(Ordering::SeqCst);
            cut_copy(&dir, &log, &copy);
            let (_, recovered) = Wal::open(&copy, SEGMENT_BYTES).expect("the cut copy opens");
            let kept = recovered.entries.last().map_or(0, |e| e.index);
            assert!(
                kept >= acknowledged,
                "token {acknowledged} was reported durable, but a power cut keeps only {kept}"
            );
            assert!(recovered.hard_state.commit >= acknowledged, "the hard state of token {acknowledged} is lost");
            cuts += 1;
        }
    }
    drop(writer);
    std::env::remove_var("FLOTILLA_TEST_FSYNC_LOG");
    assert_eq!(durable.load(Ordering::SeqCst), WRITES, "every write was reported durable in the end");
    assert!(cuts >= 30);
    fs::remove_dir_all(&base).unwrap();
}
