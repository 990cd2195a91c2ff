//! Restart benchmark: how long a node with a long log takes to be serving again. Writes N entries of 100 bytes
//! (default 1,000,000; `cargo bench --bench restart -- N`) through the write-ahead log, then times recovery:
//! replaying the segments and building the consensus core from what they hold.

use flotilla::raft::{Config, Entry, EntryKind, HardState, Membership, Payload, Raft, RestoredState};
use flotilla::storage::{Record, Wal};
use std::time::Instant;

fn main() {
    let entries: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .or_else(|| std::env::var("FLOTILLA_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()))
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("flotilla-restart-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let write_started = Instant::now();
    {
        let (mut wal, _) = Wal::open(&dir, 64 * 1024 * 1024).expect("open the log");
        let data = Payload::from(vec![b'x'; 100]);
        let batch = 1000;
        let mut index = 1;
        while index <= entries {
            let last = (index + batch - 1).min(entries);
            let batch_entries: Vec<Entry> = (index..=last)
                .map(|i| Entry { term: 1, index: i, kind: EntryKind::Normal, id: Some(format!("n_{i:032}").into()), data: data.clone() })
                .collect();
            let hard_state = HardState { term: 1, vote: Some(1), commit: last };
            wal.append(&[Record::Write { hard_state: Some(hard_state), reset: None, entries: batch_entries }]).expect("append");
            index = last + 1;
        }
        wal.sync().expect("sync");
    }
    let written = write_started.elapsed();

    let started = Instant::now();
    let (_wal, recovered) = Wal::open(&dir, 64 * 1024 * 1024).expect("recover");
    let replayed = started.elapsed();
    let count = recovered.entries.len();
    let restored = RestoredState {
        hard_state: recovered.hard_state,
        membership: Membership::with_voters([1, 2, 3]),
        entries: recovered.entries,
        ..RestoredState::default()
    };
    let raft = Raft::new(Config::new(1), restored).expect("core");
    let serving = started.elapsed();
    let bytes: u64 = std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    let _ = std::fs::remove_dir_all(&dir);

    println!("| entries | log on disk | write (1 fsync) | replay segments | core built (serving) |");
    println!("|---|---|---|---|---|");
    println!(
        "| {count} | {:.0} MB | {:.2} s | {:.3} s | {:.3} s |",
        bytes as f64 / 1e6,
        written.as_secs_f64(),
        replayed.as_secs_f64(),
        serving.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"restart\",\"entries\":{count},\"logBytes\":{bytes},\"replaySeconds\":{:.4},\"servingSeconds\":{:.4},\"lastIndex\":{}}}",
        replayed.as_secs_f64(),
        serving.as_secs_f64(),
        raft.log().last_index()
    );
}
