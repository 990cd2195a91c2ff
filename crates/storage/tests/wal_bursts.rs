//! Bursts past the record limit: no acknowledged write may depend on a size limit that recovery enforces and the
//! writer does not. One persist request larger than `MAX_RECORD_BYTES` (256 MiB), as 300 appends of 1 MB in one
//! turn of the event loop make, is written and read back whole.

use flotilla_raft::{Entry, EntryKind, HardState, Payload};
use flotilla_storage::{Record, Wal};
use std::fs;

#[test]
fn a_persist_request_above_the_record_limit_reads_back_whole() {
    let dir = std::env::temp_dir().join(format!("flotilla-wal-burst-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    let megabyte = Payload::from(vec![b'x'; 1 << 20]);
    let entries: Vec<Entry> = (1..=300)
        .map(|index| Entry {
            term: 1,
            index,
            kind: EntryKind::Normal,
            id: Some(format!("n_{index}").into()),
            data: megabyte.clone(),
        })
        .collect();
    let hard_state = HardState { term: 1, vote: Some(1), commit: 300 };
    {
        let (mut wal, _) = Wal::open(&dir, 64 << 20).expect("open");
        wal.append(&[Record::Write { hard_state: Some(hard_state), reset: None, entries }]).expect("append");
        wal.append(&[Record::HardState(HardState { term: 2, vote: None, commit: 300 })]).expect("append after");
        wal.sync().expect("sync");
    }
    let (_, recovered) = Wal::open(&dir, 64 << 20).expect("reopen");
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(recovered.torn_tail, None, "the burst was not taken for a torn tail");
    assert_eq!(recovered.hard_state, HardState { term: 2, vote: None, commit: 300 });
    assert_eq!(recovered.entries.len(), 300);
    assert!(recovered.entries.iter().enumerate().all(|(i, e)| e.index == i as u64 + 1 && e.data.len() == 1 << 20));
}
