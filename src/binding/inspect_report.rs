//! The inspection report as JSON text for `flotilla inspect --json` (and the human output, which JS writes from
//! it): files named relative to the data directory, node ids with the names the log gives them.

use crate::node::wire::json::JsonWriter;
use crate::storage::inspect::{DataDirReport, Severity};
use std::path::Path;

/// A file as the report names it: relative to the data directory when it is inside it.
fn shown(dir: &Path, file: &Path) -> String {
    match file.strip_prefix(dir) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => file.display().to_string(),
    }
}

fn opt_uint(w: &mut JsonWriter, value: Option<u64>) {
    match value {
        Some(value) => w.uint(value),
        None => w.null(),
    };
}

pub fn report_json(report: &DataDirReport) -> String {
    let dir = report.dir.as_path();
    let name_of = |id: u64| report.members.iter().find(|(member, _)| *member == id).map(|(_, name)| name.as_str());
    let mut w = JsonWriter::new();
    w.begin_object();
    w.key("dir").string(&dir.display().to_string());
    w.key("sound").bool(report.is_sound());
    w.key("checksumsVerified").uint(report.checksums_verified());
    w.key("manifestNewestSegment");
    opt_uint(&mut w, report.manifest_newest_segment);

    let hard_state = &report.hard_state;
    w.key("hardState").begin_object().key("term").uint(hard_state.term).key("vote");
    opt_uint(&mut w, hard_state.vote);
    w.key("voteName").opt_string(hard_state.vote.and_then(name_of));
    w.key("commit").uint(hard_state.commit).end_object();

    w.key("members").begin_array();
    for (id, name) in &report.members {
        w.begin_object().key("id").uint(*id).key("name").string(name).end_object();
    }
    w.end_array();

    let log = &report.log;
    w.key("log").begin_object();
    w.key("compactedIndex").uint(log.compacted_index).key("compactedTerm").uint(log.compacted_term);
    w.key("firstIndex");
    opt_uint(&mut w, log.first_index);
    w.key("lastIndex");
    opt_uint(&mut w, log.last_index);
    w.key("lastTerm");
    opt_uint(&mut w, log.last_term);
    w.key("entries").uint(log.entries).end_object();

    w.key("segments").begin_array();
    for segment in &report.segments {
        w.begin_object().key("file").string(&shown(dir, &segment.file)).key("sequence").uint(segment.sequence);
        w.key("bytes").uint(segment.bytes).key("writtenBytes").uint(segment.written_bytes);
        w.key("records").uint(segment.records).key("entries").uint(segment.entries);
        w.key("firstIndex");
        opt_uint(&mut w, segment.index_range.map(|(first, _)| first));
        w.key("lastIndex");
        opt_uint(&mut w, segment.index_range.map(|(_, last)| last));
        w.key("tornAt");
        opt_uint(&mut w, segment.torn_at);
        w.key("damaged").bool(segment.damaged).end_object();
    }
    w.end_array();

    w.key("snapshots").begin_array();
    for snapshot in &report.snapshots {
        w.begin_object().key("file").string(&shown(dir, &snapshot.file));
        w.key("index").uint(snapshot.index).key("term").uint(snapshot.term).key("bytes").uint(snapshot.bytes);
        w.key("voters").begin_array();
        for voter in &snapshot.voters {
            w.begin_object().key("id").uint(*voter).key("name").opt_string(name_of(*voter)).end_object();
        }
        w.end_array();
        w.key("sound").bool(snapshot.sound).key("newest").bool(snapshot.newest).end_object();
    }
    w.end_array();

    w.key("otherFiles").begin_array();
    for file in &report.other_files {
        w.string(&shown(dir, file));
    }
    w.end_array();

    w.key("problems").begin_array();
    for finding in &report.findings {
        let severity = match finding.severity {
            Severity::Damage => "damage",
            Severity::Notice => "notice",
        };
        w.begin_object().key("severity").string(severity).key("file").string(&shown(dir, &finding.file));
        w.key("offset");
        opt_uint(&mut w, finding.offset);
        w.key("message").string(&finding.message).end_object();
    }
    w.end_array();
    w.end_object();
    w.finish()
}
