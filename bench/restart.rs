//! Restart benchmark: how long a durable node takes to be serving again when its data directory holds a snapshot
//! plus N logged entries of 100 bytes after it (default 1,000,000; `cargo bench --bench restart -- N`). It times
//! the whole startup path of a node: loading the snapshot, replaying the log segments, rebuilding the core.

use flotilla_node::{member_id, Members, NodeDriver, NodeOptions, StorageOptions, TimingMs};
use flotilla_raft::{Entry, EntryKind, HardState, Membership, Payload, ProposalId, Snapshot, SnapshotMeta};
use flotilla_storage::snapshot_file;
use flotilla_storage::{Record, Wal};
use std::time::Instant;

/// The snapshot covers this many entries before the logged ones; its ids fill the proposal-id window.
const SNAPSHOT_INDEX: u64 = 100_000;

fn main() {
    let entries: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .or_else(|| std::env::var("FLOTILLA_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()))
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("flotilla-restart-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let segment_bytes = 64 * 1024 * 1024;
    let id_of = |i: u64| -> ProposalId { format!("n_{i:032}").into() };

    let write_started = Instant::now();
    {
        let (mut wal, _) = Wal::open(&dir, segment_bytes).expect("open the log");
        let members: Vec<_> = ["n", "p", "q"].into_iter().map(|name| (member_id(name), name.to_string())).collect();
        wal.append(&[Record::Members(members.clone())]).expect("members");
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: SNAPSHOT_INDEX,
                term: 1,
                membership: Membership::with_voters(members.iter().map(|(id, _)| *id)),
            },
            data: Payload::from(&br#"{"userEntries":100000,"data":{"state":"at the snapshot"}}"#[..]),
            proposal_ids: (1..=SNAPSHOT_INDEX).map(|i| (i, id_of(i))).collect(),
            ..Snapshot::default()
        };
        snapshot_file::save_core(&dir, &snapshot).expect("snapshot");
        wal.compact(SNAPSHOT_INDEX, 1).expect("compact");
        let data = Payload::from(vec![b'x'; 100]);
        let mut index = SNAPSHOT_INDEX + 1;
        let last_index = SNAPSHOT_INDEX + entries;
        while index <= last_index {
            let last = (index + 999).min(last_index);
            let batch: Vec<Entry> = (index..=last)
                .map(|i| Entry { term: 1, index: i, kind: EntryKind::Normal, id: Some(id_of(i)), data: data.clone() })
                .collect();
            let hard_state = HardState { term: 1, vote: Some(members[0].0), commit: last };
            wal.append(&[Record::Write { hard_state: Some(hard_state), reset: None, entries: batch }]).expect("append");
            index = last + 1;
        }
        wal.sync().expect("sync");
    }
    let written = write_started.elapsed();

    let members = Members::Named(vec!["n".into(), "p".into(), "q".into()]);
    let ticks = TimingMs { election_min: 300.0, election_max: 500.0, heartbeat: 50.0 }.to_ticks();
    let mut options = NodeOptions::new("n", members, ticks);
    options.raft.seed = 1;
    options.raft.accept_snapshot_data = flotilla_wire::snapshot_envelope::is_restorable;
    options.storage = StorageOptions::Durable { dir: dir.clone(), segment_bytes };
    let started = Instant::now();
    let driver = NodeDriver::open(options, |_| {}).expect("the node opens");
    let serving = started.elapsed();
    let log = driver.raft().log();
    let (first, last) = (log.first_index(), log.last_index());
    let bytes: u64 =
        std::fs::read_dir(&dir).expect("dir").filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    drop(driver);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((first, last), (SNAPSHOT_INDEX + 1, SNAPSHOT_INDEX + entries), "the node recovered everything");

    println!("| snapshot at | entries after it | on disk | write (1 fsync) | node serving after |");
    println!("|---|---|---|---|---|");
    println!(
        "| {SNAPSHOT_INDEX} | {entries} | {:.0} MB | {:.2} s | {:.3} s |",
        bytes as f64 / 1e6,
        written.as_secs_f64(),
        serving.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"restart\",\"snapshotIndex\":{SNAPSHOT_INDEX},\"entries\":{entries},\"bytes\":{bytes},\"servingSeconds\":{:.4}}}",
        serving.as_secs_f64()
    );
}
