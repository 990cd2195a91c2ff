//! Where a node's state comes from at startup: nothing (volatile, as gaggle and brig), or the write-ahead log in
//! its data directory, replayed into the core's restored state and the members its ids refer to. A data
//! directory of a release whose node ids were per-node slots is refused (`MismatchError::SlotIds`).

use super::driver::{own_proposal_id, Members, NodeOptions};
use super::members::{member_id, MemberRegistry};
use super::open_error::{MismatchError, OpenError};
use super::saved_state::{SavedState, SavedStateError};
use flotilla_raft::{decode_stream, Entry, HardState, Membership, NodeId, RestoredState, Snapshot, SnapshotMeta};
use flotilla_storage::{snapshot_file, Record};
use flotilla_storage::{DurableStorage, Storage, StorageError, VolatileStorage, Wal, WalWriter, WriterEvent};
use std::collections::HashSet;
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
    pub peers: MemberRegistry,
    pub restored: RestoredState,
    /// Whether the members must be (re)recorded in storage before anything else.
    pub record_peers: bool,
    /// Set when a torn write at the end of the log was cut off: (file, offset).
    pub torn_tail: Option<(PathBuf, u64)>,
}

/// The members of a node that starts with nothing recorded: its configured ones, or seats to discover.
pub fn fresh_registry(name: &str, members: &Members) -> Result<MemberRegistry, OpenError> {
    match members {
        Members::Discover { cluster_size } => Ok(MemberRegistry::discovering(name, *cluster_size)),
        Members::Named(names) => Ok(MemberRegistry::with_members(name, &other_members(name, names))?),
        Members::Join => Ok(MemberRegistry::discovering(name, 1)),
    }
}

/// The configuration a node starts with when its storage holds none: its seats as voters, or none at all for a
/// node that joins (it learns the configuration from the leader that adds it).
pub fn first_membership(peers: &MemberRegistry, members: &Members) -> Membership {
    match members {
        Members::Join => Membership::default(),
        _ => Membership::with_voters(peers.seats().iter().copied()),
    }
}

/// The names of the other members, each once, in the order given: a name given twice is one member (one seat).
fn other_members(name: &str, names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    names.iter().filter(|other| other.as_str() != name && seen.insert(other.as_str())).cloned().collect()
}

/// Opens the node's storage, or starts it from its saved state. `report` receives the disk thread's events
/// (durable tokens, failure).
pub fn open(options: &NodeOptions, report: impl Fn(WriterEvent) + Send + 'static) -> Result<Opened, OpenError> {
    let (name, members) = (options.name.as_str(), &options.members);
    let (dir, segment_bytes) = match &options.storage {
        StorageOptions::Volatile => {
            let peers = fresh_registry(name, members)?;
            let membership = first_membership(&peers, members);
            let joining = matches!(members, Members::Join);
            let mut restored = RestoredState { membership, joining, ..RestoredState::default() };
            if let Some(saved) = &options.saved_state {
                (restored.hard_state, restored.entries) = seed(saved, &peers, options)?;
            }
            return Ok(Opened {
                storage: Box::new(VolatileStorage),
                peers,
                restored,
                record_peers: false,
                torn_tail: None,
            });
        }
        StorageOptions::Durable { dir, segment_bytes } => (dir, *segment_bytes),
    };
    let (mut wal, mut recovered) = Wal::open(dir, segment_bytes).map_err(OpenError::Storage)?;
    if !recovered.slot_peers.is_empty() {
        return Err(MismatchError::SlotIds { dir: dir.clone() }.into());
    }
    if let Some(saved) = &options.saved_state {
        let holds_log = recovered.hard_state != HardState::default()
            || !recovered.entries.is_empty()
            || recovered.compacted_index > 0
            || snapshot_file::load_latest(dir).map_err(OpenError::Storage)?.is_some();
        if holds_log {
            return Err(SavedStateError::DataDirHoldsALog { dir: dir.clone() }.into());
        }
        // Written (and synced) before the node runs: it answers peers as if this were its own log.
        let peers = fresh_registry(name, members)?;
        let (hard_state, entries) = seed(saved, &peers, options)?;
        let write = Record::Write { hard_state: Some(hard_state), reset: None, entries: entries.clone() };
        wal.append(&[Record::Members(peers.seat_records()), write]).map_err(OpenError::Storage)?;
        wal.sync().map_err(OpenError::Storage)?;
        recovered.members = peers.seat_records();
        recovered.hard_state = hard_state;
        recovered.entries = entries;
    }
    let mut snapshot = load_snapshot(dir)?;
    let snapshot_index = snapshot.as_ref().map_or(0, |s| s.meta.index);
    if recovered.compacted_index > snapshot_index {
        // The entries up to the compaction point are gone, and no snapshot holds them.
        return Err(OpenError::Storage(StorageError::other(
            dir,
            format!(
                "the log was compacted up to index {} but the newest snapshot covers only {snapshot_index}",
                recovered.compacted_index
            ),
        )));
    }
    let peers = if recovered.members.is_empty() {
        fresh_registry(name, members)?
    } else {
        restore_registry(name, members, &recovered.members, dir)?
    };
    if let Some(snapshot) = &mut snapshot {
        // Seats this node had not met when the snapshot was taken are filled by those it has met since.
        snapshot.meta.membership = peers
            .resolve_stored(&snapshot.meta.membership)
            .ok_or_else(|| MismatchError::SnapshotMembers { dir: dir.clone() })?;
    }
    let restored = RestoredState {
        hard_state: recovered.hard_state,
        membership: first_membership(&peers, members),
        snapshot,
        entries: recovered.entries,
        joining: matches!(members, Members::Join),
    };
    let storage = DurableStorage::new(WalWriter::spawn(wal, report));
    Ok(Opened { storage: Box::new(storage), peers, restored, record_peers: true, torn_tail: recovered.torn_tail })
}

/// The hard state and log a saved state gives this node, with ids of its own for the entries.
fn seed(
    saved: &SavedState,
    peers: &MemberRegistry,
    options: &NodeOptions,
) -> Result<(HardState, Vec<Entry>), OpenError> {
    Ok(saved.restore(peers, options.raft.max_message_bytes, || own_proposal_id(&options.name))?)
}

/// The newest snapshot file in `dir`, decoded; damage is an error naming the file.
fn load_snapshot(dir: &std::path::Path) -> Result<Option<Snapshot>, OpenError> {
    let Some(stored) = snapshot_file::load_latest(dir).map_err(OpenError::Storage)? else { return Ok(None) };
    if stored.slot_ids {
        return Err(MismatchError::SlotIds { dir: dir.to_path_buf() }.into());
    }
    let meta = SnapshotMeta { index: stored.index, term: stored.term, membership: stored.membership };
    let path = dir.join("snapshot");
    decode_stream(meta, &stored.data)
        .map(Some)
        .ok_or_else(|| OpenError::Storage(StorageError::other(&path, "the newest snapshot's contents cannot be read")))
}

/// The members as they were recorded, in their seats, this node first; then the configured ones.
fn restore_registry(
    name: &str,
    members: &Members,
    recorded: &[(NodeId, String)],
    dir: &std::path::Path,
) -> Result<MemberRegistry, OpenError> {
    let recorded_self = recorded.first().map_or("", |(_, name)| name.as_str());
    if recorded_self != name {
        let owner = recorded_self.to_string();
        return Err(MismatchError::AnotherNode { dir: dir.to_path_buf(), owner, name: name.to_string() }.into());
    }
    // A vacant seat is recorded nameless, under its placeholder id.
    if let Some((id, other)) = recorded.iter().find(|(id, name)| !name.is_empty() && *id != member_id(name)) {
        let (id, name) = (*id, other.clone());
        return Err(MismatchError::ForeignId { dir: dir.to_path_buf(), id, name }.into());
    }
    let configured = match members {
        Members::Named(names) => other_members(name, names),
        Members::Discover { .. } | Members::Join => Vec::new(),
    };
    if let Members::Named(_) = members {
        // A named node records every member when it first starts: other names now would change the voters (and
        // the quorum) without a membership change.
        let recorded_others: HashSet<&str> =
            recorded[1..].iter().map(|(_, name)| name.as_str()).filter(|name| !name.is_empty()).collect();
        if recorded_others != configured.iter().map(String::as_str).collect() {
            let recorded = recorded.iter().map(|(_, name)| name.clone()).collect();
            let configured = std::iter::once(name.to_string()).chain(configured).collect();
            return Err(MismatchError::MembersChanged { dir: dir.to_path_buf(), recorded, configured }.into());
        }
    }
    let size = match members {
        Members::Discover { cluster_size } => *cluster_size,
        Members::Named(_) => configured.len() + 1,
        Members::Join => 1,
    };
    if recorded.len() != size {
        // The number of seats is the quorum's: a restart cannot change it.
        let (recorded, configured) = (recorded.len(), size);
        return Err(MismatchError::ClusterSizeChanged { dir: dir.to_path_buf(), recorded, configured }.into());
    }
    let mut registry = MemberRegistry::discovering(name, size);
    let met = recorded[1..].iter().map(|(_, name)| name).filter(|name| !name.is_empty());
    for peer in met.chain(&configured) {
        registry.bind(peer)?;
    }
    Ok(registry)
}
