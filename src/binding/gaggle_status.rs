//! What the JS faces read of a node's state, in gaggle's terms: role names ("FOLLOWER", "CANDIDATE", "LEADER"),
//! names for ids, the commit index in user entries, the user entries of the log, and `status()` as JSON text
//! written from the driver's typed `Status` (with the counters and fsync times the metrics are made of).

use super::gaggle_node::GaggleNode;
use crate::node::wire::{self, json::JsonWriter};
use crate::raft::Role;
use crate::storage::{FsyncTimes, FSYNC_BUCKET_BOUNDS_SECONDS};

/// gaggle's name of a role (a pre-candidate is a candidate; `preCandidate` in the status tells them apart).
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Follower => "FOLLOWER",
        Role::PreCandidate | Role::Candidate => "CANDIDATE",
        Role::Leader => "LEADER",
    }
}

impl GaggleNode {
    pub fn role_name(&self) -> &'static str {
        role_name(self.driver.raft().role())
    }

    pub fn leader_name(&self) -> Option<&str> {
        self.driver.raft().leader().and_then(|id| self.driver.name_of(id))
    }

    pub fn voted_for_name(&self) -> Option<&str> {
        self.driver.raft().vote().and_then(|id| self.driver.name_of(id))
    }

    /// The gaggle index of the last committed user entry that was handed out (-1 when none).
    pub fn commit_index(&self) -> i64 {
        self.view.commit_index()
    }

    /// The user entries of the log, in order, as a JSON array of `{term, data, id}`.
    pub fn log_json(&self) -> String {
        let log = self.driver.raft().log();
        let mut w = JsonWriter::new();
        w.begin_array();
        for index in log.first_index()..=log.last_index() {
            if let Some(entry) = log.entry(index).filter(|e| e.is_user_data()) {
                w.begin_object().key("term").uint(entry.term).key("data").raw(wire::payload_text(&entry.data));
                w.key("id").opt_string(entry.id.as_deref()).end_object();
            }
        }
        w.end_array();
        w.finish()
    }

    /// Committed user entries from the gaggle index `from` on, at most `max` of them and about `max_bytes` of data,
    /// as a JSON array of `[index, term, id, data]` (empty once `from` is past the commit index). `Err` with the
    /// gaggle index of the last entry a snapshot holds when `from` is at or below it: those entries are compacted.
    /// A page that follows the last one starts where it ended (`entries_cursor`); any other counts from the end.
    pub fn entries_json(&mut self, from: u64, max: usize, max_bytes: usize) -> Result<String, u64> {
        let log = self.driver.raft().log();
        let handed_out = (self.view.commit_index() + 1) as u64;
        if from >= handed_out {
            return Ok("[]".to_string());
        }
        let mut at = match self.entries_cursor {
            Some((gaggle, raft)) if gaggle == from && raft >= log.first_index() => raft,
            _ => {
                // Walk back from the last entry handed out to the one `from` names, or to the log's start.
                let mut index = log.applied;
                let mut gaggle = handed_out;
                while index >= log.first_index() && gaggle > from {
                    if log.entry(index).is_some_and(|e| e.is_user_data()) {
                        gaggle -= 1;
                    }
                    if gaggle > from {
                        index -= 1;
                    }
                }
                if gaggle > from {
                    return Err(gaggle - 1);
                }
                index.max(log.first_index())
            }
        };
        let mut w = JsonWriter::new();
        w.begin_array();
        let (mut gaggle, mut count, mut bytes) = (from, 0, 0);
        while at <= log.applied && gaggle < handed_out && count < max && bytes < max_bytes {
            if let Some(entry) = log.entry(at).filter(|e| e.is_user_data()) {
                w.begin_array().uint(gaggle).uint(entry.term).opt_string(entry.id.as_deref());
                w.raw(wire::payload_text(&entry.data)).end_array();
                gaggle += 1;
                count += 1;
                bytes += entry.data.len();
            }
            at += 1;
        }
        w.end_array();
        self.entries_cursor = Some((gaggle, at));
        Ok(w.finish())
    }

    /// The names of the voters that granted this node's candidacy in its current term (see `Status`).
    pub fn votes_granted(&self) -> Vec<String> {
        let status = self.driver.raft().status();
        status.votes_granted.iter().filter_map(|&id| self.driver.name_of(id)).map(str::to_string).collect()
    }

    /// On the leader: each named follower's (name, match index, next index); empty on any other node.
    pub fn replication(&self) -> Vec<(String, u64, u64)> {
        if self.driver.raft().role() != Role::Leader {
            return Vec::new();
        }
        let status = self.driver.status();
        status
            .members
            .into_iter()
            .filter_map(|member| Some((member.name?, member.progress?)))
            .map(|(name, progress)| (name, progress.match_index, progress.next_index))
            .collect()
    }

    /// gaggle's `hasUncommittedEntriesInPreviousTerms`: a user entry of an older term above the commit index.
    pub fn has_uncommitted_entries_in_previous_terms(&self) -> bool {
        let raft = self.driver.raft();
        let (log, term) = (raft.log(), raft.term());
        (log.committed + 1..=log.last_index()).any(|i| log.entry(i).is_some_and(|e| e.is_user_data() && e.term < term))
    }

    /// The configuration in force as JSON text (see `NativeNode::members_json`).
    pub fn members_json(&self) -> String {
        let driver = &self.driver;
        let names = driver.member_names();
        let mut w = JsonWriter::new();
        w.begin_object();
        for (key, list) in [("voters", &names.voters), ("outgoing", &names.outgoing), ("learners", &names.learners)] {
            w.key(key).begin_array();
            for name in list {
                w.opt_string(name.as_deref());
            }
            w.end_array();
        }
        let raft = driver.raft();
        if raft.role() == Role::Leader {
            let last = raft.log().last_index();
            w.key("progress").begin_object();
            for member in driver.status().members {
                let (Some(name), Some(progress)) = (member.name, member.progress) else { continue };
                let caught_up = crate::raft::is_caught_up(progress.match_index, last);
                w.key(&name).begin_object().key("matchIndex").uint(progress.match_index);
                w.key("caughtUp").bool(caught_up).end_object();
            }
            w.end_object();
        }
        w.end_object();
        w.finish()
    }

    /// `status()` as JSON text: the driver's typed status, in the faces' names and gaggle's numbering.
    pub fn status_json(&self) -> String {
        let status = self.driver.status();
        let (core, stats, wire_stats) = (&status.core, &status.core.stats, &status.wire);
        let mut w = JsonWriter::new();
        w.begin_object();
        w.key("id").string(&status.name);
        w.key("state").string(role_name(core.role));
        w.key("preCandidate").bool(core.role == Role::PreCandidate);
        w.key("term").uint(core.term);
        w.key("leader").opt_string(status.leader_name.as_deref());
        w.key("votedFor").opt_string(status.voted_for_name.as_deref());
        w.key("commitIndex").int(self.commit_index());
        w.key("raftFirstIndex").uint(core.first_index);
        w.key("raftLastIndex").uint(core.last_index);
        w.key("raftCommitIndex").uint(core.commit_index);
        w.key("raftAppliedIndex").uint(core.applied_index);
        w.key("pendingProposals").uint(core.pending_proposals as u64);
        w.key("pendingReads").uint(self.driver.pending_reads() as u64);
        w.key("recoveredTornTail").opt_string(status.recovered_torn_tail.as_deref());
        w.key("peers").begin_array();
        for member in &status.members {
            let Some(name) = member.name.as_deref() else {
                w.null();
                continue;
            };
            w.begin_object().key("id").string(name);
            if let Some(progress) = &member.progress {
                w.key("matchIndex").uint(progress.match_index);
                w.key("nextIndex").uint(progress.next_index);
                w.key("replicating").bool(progress.replicating);
            }
            w.end_object();
        }
        w.end_array();
        let dropped_total = stats.dropped_total() + wire_stats.malformed + wire_stats.unknown_sender;
        w.key("dropped").begin_object();
        w.key("total").uint(dropped_total);
        w.key("malformed").uint(stats.dropped_malformed + wire_stats.malformed);
        w.key("unknownSender").uint(stats.dropped_unknown_sender + wire_stats.unknown_sender);
        w.key("misaddressed").uint(stats.dropped_misaddressed);
        w.key("staleTerm").uint(stats.dropped_stale_term);
        w.key("unexpected").uint(stats.dropped_unexpected);
        w.end_object();
        w.key("stats").begin_object();
        w.key("electionsStarted").uint(stats.elections_started);
        w.key("electionsRefused").uint(stats.elections_refused);
        w.key("leaderChanges").uint(stats.leader_changes);
        w.key("checkQuorumStepDowns").uint(stats.check_quorum_step_downs);
        w.key("votesIgnoredInLease").uint(stats.votes_ignored_in_lease);
        w.key("appendRejections").uint(stats.append_rejections);
        w.key("proposalRetries").uint(stats.proposal_retries);
        w.key("duplicateProposals").uint(stats.duplicate_proposals);
        w.key("readsAnswered").uint(stats.reads_answered);
        w.key("readsByLease").uint(stats.reads_by_lease);
        w.key("readRoundsConfirmed").uint(stats.read_rounds_confirmed);
        w.key("readRequestsDropped").uint(stats.read_requests_dropped);
        w.key("readRetries").uint(stats.read_retries);
        let counters = &status.counters;
        w.key("proposals").uint(counters.proposals);
        w.key("entriesAppended").uint(counters.entries_appended);
        w.key("leaseReads").uint(counters.lease_reads);
        w.key("readIndexReads").uint(counters.read_index_reads);
        w.end_object();
        w.key("snapshots").begin_object();
        w.key("taken").uint(counters.snapshots_taken);
        w.key("lastTakenBytes").uint(counters.last_snapshot_taken_bytes);
        w.key("restored").uint(counters.snapshots_restored);
        w.key("lastRestoredBytes").uint(counters.last_snapshot_restored_bytes);
        w.key("sent").uint(stats.snapshots_sent);
        w.key("received").uint(stats.snapshots_received);
        w.end_object();
        w.key("fsync");
        match &status.fsync {
            Some(times) => write_fsync_times(&mut w, times),
            None => {
                w.null();
            }
        }
        w.end_object();
        w.finish()
    }
}

/// The fsync histogram as `{count, sumSeconds, buckets: [[upper bound in seconds, fsyncs at most that long]]}`.
fn write_fsync_times(w: &mut JsonWriter, times: &FsyncTimes) {
    w.begin_object().key("count").uint(times.count);
    // Seconds as a decimal (Rust writes an f64 without an exponent, so it is valid JSON).
    w.key("sumSeconds").raw(&(times.sum_nanos as f64 / 1e9).to_string());
    w.key("buckets").begin_array();
    for (bound, count) in FSYNC_BUCKET_BOUNDS_SECONDS.iter().zip(&times.cumulative) {
        w.begin_array().raw(&bound.to_string()).uint(*count).end_array();
    }
    w.end_array().end_object();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fsync_times_are_written_in_seconds_with_every_bucket() {
        let mut cumulative = vec![0; FSYNC_BUCKET_BOUNDS_SECONDS.len()];
        cumulative[3..].fill(2);
        let times = FsyncTimes { cumulative, count: 3, sum_nanos: 3_250_000_000 };
        let mut w = JsonWriter::new();
        write_fsync_times(&mut w, &times);
        let json: serde_json::Value = serde_json::from_str(&w.finish()).expect("valid JSON");
        assert_eq!(json["count"], 3);
        assert_eq!(json["sumSeconds"], 3.25);
        let buckets = json["buckets"].as_array().expect("buckets");
        assert_eq!(buckets.len(), FSYNC_BUCKET_BOUNDS_SECONDS.len());
        assert_eq!(buckets[0], serde_json::json!([0.00005, 0]));
        assert_eq!(buckets[3], serde_json::json!([0.0005, 2]));
        assert_eq!(buckets.last(), Some(&serde_json::json!([2.5, 2])));
    }
}
