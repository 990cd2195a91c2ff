//! Where a node's state comes from at startup: nothing (volatile, as gaggle and brig), or the write-ahead log in
//! its data directory, replayed into the core's restored state and the peer slots its votes refer to.

use super::driver::Members;
use super::peers::PeerDirectory;
use crate::raft::{decode_stream, Membership, RestoredState, Snapshot, SnapshotMeta};
use crate::storage::snapshot_file;
use crate::storage::{DurableStorage, Storage, StorageError, VolatileStorage, Wal, WalWriter, WriterEvent};
use std::path::PathBuf;

/// Where the node keeps its state.
#[derive(Clone, Debug)]
pub enum StorageOptions {
    Volatile,
    Durable { dir: PathBuf, segment_bytes: u64 },
}

/// Everything a node starts from.
pub struct Opened {
    pub storage: Box<dyn Storage>,
    pub peers: PeerDirectory,
    pub restored: RestoredState,
    /// Whether the peer slots must be (re)recorded in storage before anything else.
    pub record_peers: bool,
    /// Set when a torn write at the end of the log was cut off: (file, offset).
    pub torn_tail: Option<(PathBuf, u64)>,
}

/// Why a node could not open its storage.
#[derive(Debug)]
pub enum OpenError {
    Storage(StorageError),
    /// The data directory holds another node's, or another cluster's, state.
    Mismatch(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Storage(error) => write!(f, "cannot recover the log: {error}"),
            OpenError::Mismatch(why) => write!(f, "{why}"),
        }
    }
}

fn fresh_directory(name: &str, members: &Members) -> PeerDirectory {
    match members {
        Members::Discover { cluster_size } => PeerDirectory::discovering(name, *cluster_size),
        Members::Named(names) => {
            let others: Vec<String> = names.iter().filter(|n| n.as_str() != name).cloned().collect();
            PeerDirectory::with_members(name, &others)
        }
    }
}

/// Opens the node's storage. `report` receives the disk thread's events (durable tokens, failure).
pub fn open(
    name: &str,
    members: &Members,
    options: &StorageOptions,
    report: impl Fn(WriterEvent) + Send + 'static,
) -> Result<Opened, OpenError> {
    let (dir, segment_bytes) = match options {
        StorageOptions::Volatile => {
            let peers = fresh_directory(name, members);
            let restored = RestoredState { membership: Membership::with_voters(peers.ids()), ..RestoredState::default() };
            return Ok(Opened { storage: Box::new(VolatileStorage), peers, restored, record_peers: false, torn_tail: None });
        }
        StorageOptions::Durable { dir, segment_bytes } => (dir, *segment_bytes),
    };
    let (wal, recovered) = Wal::open(dir, segment_bytes).map_err(OpenError::Storage)?;
    let snapshot = load_snapshot(dir)?;
    let snapshot_index = snapshot.as_ref().map_or(0, |s| s.meta.index);
    if recovered.compacted_index > snapshot_index {
        // The entries up to the compaction point are gone, and no snapshot holds them.
        return Err(OpenError::Storage(StorageError::other(
            dir,
            format!("the log was compacted up to index {} but the newest snapshot covers only {snapshot_index}", recovered.compacted_index),
        )));
    }
    let peers = if recovered.peers.is_empty() {
        fresh_directory(name, members)
    } else {
        restore_directory(name, members, &recovered.peers, dir)?
    };
    let restored = RestoredState {
        hard_state: recovered.hard_state,
        membership: Membership::with_voters(peers.ids()),
        snapshot,
        entries: recovered.entries,
    };
    let storage = DurableStorage::new(WalWriter::spawn(wal, report));
    Ok(Opened { storage: Box::new(storage), peers, restored, record_peers: true, torn_tail: recovered.torn_tail })
}

/// The newest snapshot file in `dir`, decoded; damage is an error naming the file.
fn load_snapshot(dir: &std::path::Path) -> Result<Option<Snapshot>, OpenError> {
    let Some(stored) = snapshot_file::load_latest(dir).map_err(OpenError::Storage)? else { return Ok(None) };
    let meta = SnapshotMeta { index: stored.index, term: stored.term, membership: stored.membership };
    let path = dir.join("snapshot");
    decode_stream(meta, &stored.data)
        .map(Some)
        .ok_or_else(|| OpenError::Storage(StorageError::other(&path, "the newest snapshot's contents cannot be read")))
}

/// The slots as they were recorded: a vote in the hard state names a slot, so slots must not move.
fn restore_directory(
    name: &str,
    members: &Members,
    recorded: &[String],
    dir: &std::path::Path,
) -> Result<PeerDirectory, OpenError> {
    if recorded.first().map(String::as_str) != Some(name) {
        return Err(OpenError::Mismatch(format!(
            "the data directory {} belongs to node {:?}, not {:?}",
            dir.display(),
            recorded.first().map(String::as_str).unwrap_or(""),
            name
        )));
    }
    let size = match members {
        Members::Discover { cluster_size } => *cluster_size,
        Members::Named(names) => names.iter().filter(|n| n.as_str() != name).count() + 1,
    };
    if recorded.len() > size {
        return Err(OpenError::Mismatch(format!(
            "the data directory {} knows {} members, more than the cluster size {}",
            dir.display(),
            recorded.len(),
            size
        )));
    }
    let mut directory = PeerDirectory::discovering(name, size);
    for peer in &recorded[1..] {
        directory.bind(peer);
    }
    if let Members::Named(names) = members {
        for peer in names.iter().filter(|n| n.as_str() != name) {
            directory.bind(peer);
        }
    }
    Ok(directory)
}
