//! The commands of the data-driven cluster scenarios (`testdata/*.txt`), over the harness's `Cluster`:
//! `add-nodes <n>` (a fresh cluster of nodes 1..=n), `campaign <id>`, `propose <id> <data> [<count>]`,
//! `tick [<n>]` (every node, settling after each), `stabilize` (deliver until quiet), `round [<n>]` (each node's
//! ready work, then the messages queued by then: one step of a conversation), `partition <id>...` (cut these
//! nodes off), `heal`, and `status` (one line per node: role, term, leader, last and commit index, applied data).
//!
//! Membership changes (Raft thesis, chapter 4): `add-learners <id>...` (starts the new nodes and proposes them as
//! learners), `change-membership [via=<id>] voters=(<ids>) learners=(<ids>)` (both print the index of the entry
//! and the configuration it holds, or the core's refusal), `membership` (each node's configuration), `quorum [<id>]`
//! (the leader's configuration, what each member acknowledged and the commit index the core derived from them) and
//! `votes <id>` (the voters that granted a candidacy). The quorum arithmetic is the core's own, seen through real
//! clusters: the core keeps its quorum types to itself, and a copy of them here would test only the copy.

use crate::cluster::{config, progress, Cluster};
use crate::datadriven::TestCase;
use flotilla_raft::{ConfChangeError, ConfEntry, Config, EntryKind, Index, Membership, NodeId, Payload, Raft, Role};
use std::collections::BTreeSet;

/// A cluster driven by scenario commands; each command returns what it prints.
#[derive(Default)]
pub struct ScenarioCluster {
    cluster: Option<Cluster>,
    proposals: u64,
}

/// Plain Raft (no pre-vote, no check-quorum), so that one `campaign` is one election round.
fn plain(id: NodeId) -> Config {
    let mut config = config(id);
    config.pre_vote = false;
    config.check_quorum = false;
    config
}

impl ScenarioCluster {
    /// Runs one command; a command that cannot run prints why (so that the file shows it).
    pub fn run(&mut self, case: &TestCase) -> String {
        match self.try_run(case) {
            Ok(output) => output,
            Err(why) => format!("error: {why}"),
        }
    }

    fn try_run(&mut self, case: &TestCase) -> Result<String, String> {
        let args = &case.args;
        if case.command == "add-nodes" {
            let size: u64 = number(args.first().map(String::as_str))?;
            self.cluster = Some(Cluster::with_config(size, plain));
            return Ok(String::new());
        }
        let cluster = self.cluster.as_mut().ok_or("no nodes yet: use add-nodes first")?;
        match case.command.as_str() {
            "campaign" => {
                let id = member(cluster, args.first().map(String::as_str))?;
                cluster.node_mut(id).campaign();
                Ok(String::new())
            }
            "propose" => {
                let id = member(cluster, args.first().map(String::as_str))?;
                let data = args.get(1).ok_or("propose <id> <data> [<count>]")?;
                let count = args.get(2).map_or(Ok(1), |n| number(Some(n)))?;
                for _ in 0..count {
                    self.proposals += 1;
                    let proposal = format!("p{}", self.proposals);
                    if let Err(error) = cluster.node_mut(id).propose(proposal.as_str().into(), data.as_bytes().into()) {
                        return Ok(format!("refused: {error}"));
                    }
                }
                Ok(String::new())
            }
            "tick" => {
                let count = args.first().map_or(Ok(1), |n| number(Some(n)))?;
                for _ in 0..count {
                    cluster.tick_all();
                }
                Ok(String::new())
            }
            "stabilize" => {
                cluster.settle();
                Ok(String::new())
            }
            "round" => {
                let count = args.first().map_or(Ok(1), |n| number(Some(n)))?;
                for _ in 0..count {
                    cluster.round();
                }
                Ok(String::new())
            }
            "partition" => {
                let ids = args.iter().map(|arg| member(cluster, Some(arg))).collect::<Result<Vec<_>, _>>()?;
                cluster.isolated = ids;
                Ok(String::new())
            }
            "heal" => {
                cluster.isolated.clear();
                Ok(String::new())
            }
            "status" => Ok(status(cluster)),
            "add-learners" => add_learners(cluster, args),
            "change-membership" => {
                let via = match named(args, "via") {
                    Some(id) => member(cluster, Some(id))?,
                    None => leader(cluster)?,
                };
                let usage = "change-membership [via=<id>] voters=(<ids>) learners=(<ids>)";
                let voters = id_set(named(args, "voters").ok_or(usage)?)?;
                let learners = id_set(named(args, "learners").ok_or(usage)?)?;
                let result = cluster.node_mut(via).propose_membership(&voters, &learners, Payload::from(Vec::new()));
                Ok(printed_change(cluster, via, result))
            }
            "membership" => Ok(membership(cluster)),
            "quorum" => quorum(cluster, args),
            "votes" => Ok(votes(cluster, member(cluster, args.first().map(String::as_str))?)),
            other => Err(format!("unknown command {other:?}")),
        }
    }
}

fn number(arg: Option<&str>) -> Result<u64, String> {
    let arg = arg.ok_or("a number is missing")?;
    arg.parse().map_err(|_| format!("{arg:?} is not a number"))
}

fn member(cluster: &Cluster, arg: Option<&str>) -> Result<NodeId, String> {
    let id = number(arg)?;
    if cluster.nodes.contains_key(&id) {
        Ok(id)
    } else {
        Err(format!("no node {id}"))
    }
}

fn leader(cluster: &Cluster) -> Result<NodeId, String> {
    cluster.leader().ok_or_else(|| "no leader".to_string())
}

/// The value of a `key=value` argument.
fn named<'a>(args: &'a [String], key: &str) -> Option<&'a str> {
    args.iter().find_map(|arg| arg.strip_prefix(key)?.strip_prefix('='))
}

/// Node ids written `(1,2,3)`; `()` is none.
fn id_set(text: &str) -> Result<BTreeSet<NodeId>, String> {
    let inner = text.strip_prefix('(').and_then(|rest| rest.strip_suffix(')'));
    let inner = inner.ok_or_else(|| format!("{text:?} is not a list of ids like (1,2,3)"))?;
    inner.split(',').filter(|id| !id.is_empty()).map(|id| number(Some(id))).collect()
}

/// Node ids as `id_set` reads them.
fn ids<'a>(ids: impl IntoIterator<Item = &'a NodeId>) -> String {
    let ids: Vec<String> = ids.into_iter().map(NodeId::to_string).collect();
    format!("({})", ids.join(","))
}

/// A configuration as `membership` prints it.
fn describe(membership: &Membership) -> String {
    format!(
        "voters={} outgoing={} learners={}",
        ids(&membership.voters),
        ids(&membership.outgoing),
        ids(&membership.learners)
    )
}

/// What a change proposed on `via` made: `entry <index>: <the configuration the entry holds>`, or the refusal.
fn printed_change(cluster: &Cluster, via: NodeId, result: Result<Index, ConfChangeError>) -> String {
    match result {
        Ok(index) => match configuration_entry(cluster.node(via), index) {
            Some(membership) => format!("entry {index}: {}", describe(&membership)),
            None => format!("entry {index}: not a configuration entry"),
        },
        Err(error) => format!("refused: {error}"),
    }
}

/// The configuration that entry `index` of the node's log holds, if it is a configuration entry.
fn configuration_entry(raft: &Raft, index: Index) -> Option<Membership> {
    let entry = raft.log().entry(index).filter(|entry| entry.kind == EntryKind::ConfChange)?;
    ConfEntry::decode(&entry.data).map(|conf| conf.membership)
}

/// The leader proposes the nodes as learners beside the members it has; once it took the change, the nodes that do
/// not run yet start, knowing the new configuration (which names them). Nothing is delivered yet.
fn add_learners(cluster: &mut Cluster, args: &[String]) -> Result<String, String> {
    let new: BTreeSet<NodeId> = args.iter().map(|arg| number(Some(arg))).collect::<Result<_, _>>()?;
    if new.is_empty() {
        return Err("add-learners <id>...".to_string());
    }
    let leader = leader(cluster)?;
    let current = cluster.node(leader).membership().clone();
    let learners = current.learners.union(&new).copied().collect();
    let result = cluster.node_mut(leader).propose_membership(&current.voters, &learners, Payload::from(Vec::new()));
    if let Ok(index) = result {
        let membership = configuration_entry(cluster.node(leader), index).ok_or("no configuration entry")?;
        for id in new {
            if !cluster.nodes.contains_key(&id) {
                cluster.add_node(plain(id), membership.clone());
            }
        }
    }
    Ok(printed_change(cluster, leader, result))
}

/// One line per node: `<id>: voters=(..) outgoing=(..) learners=(..)`, the configuration in force; then, when the
/// node's log holds a later configuration not in force yet, `next <index>: <that configuration>`; `(isolated)`
/// after a node that is cut off.
fn membership(cluster: &Cluster) -> String {
    let lines: Vec<String> = cluster
        .nodes
        .iter()
        .map(|(&id, node)| {
            let raft = &node.raft;
            let in_force = raft.membership();
            let latest = raft.membership_index();
            let next = match configuration_entry(raft, latest) {
                Some(membership) if membership != *in_force => format!(" next {latest}: {}", describe(&membership)),
                _ => String::new(),
            };
            let isolated = if cluster.isolated.contains(&id) { " (isolated)" } else { "" };
            format!("{id}: {}{next}{isolated}", describe(in_force))
        })
        .collect();
    lines.join("\n")
}

/// `<id> leads term <t>: <configuration> acked=(<member>:<index>,...) commit <i>`: what the leader (the given node,
/// else the cluster's) knows each member holds, its own log counted as far as it is durable, and the commit index
/// the core derived from them.
fn quorum(cluster: &Cluster, args: &[String]) -> Result<String, String> {
    let id = match args.first() {
        Some(arg) => member(cluster, Some(arg))?,
        None => leader(cluster)?,
    };
    let raft = cluster.node(id);
    if raft.role() != Role::Leader {
        return Err(format!("node {id} does not lead"));
    }
    let membership = raft.membership();
    let acked: Vec<String> = membership
        .members()
        .into_iter()
        .map(|peer| {
            let index = if peer == id {
                raft.log().stable_index()
            } else {
                progress(raft, peer).map_or(0, |progress| progress.match_index)
            };
            format!("{peer}:{index}")
        })
        .collect();
    Ok(format!(
        "{id} leads term {}: {} acked=({}) commit {}",
        raft.term(),
        describe(membership),
        acked.join(","),
        raft.log().committed
    ))
}

/// `<id>: <role> term <t> granted=(<ids>) voters=(..) outgoing=(..)`: the voters that granted the node's candidacy
/// in its term (itself included; none once it follows), and the voters it counts them among.
fn votes(cluster: &Cluster, id: NodeId) -> String {
    let raft = cluster.node(id);
    let membership = raft.membership();
    format!(
        "{id}: {:?} term {} granted={} voters={} outgoing={}",
        raft.role(),
        raft.term(),
        ids(&raft.status().votes_granted),
        ids(&membership.voters),
        ids(&membership.outgoing)
    )
}

/// One line per node: `<id>: <role> term <t> leader <id|none> last <i> commit <i> applied [<data>,...]`, with
/// `(isolated)` after a node that is cut off.
fn status(cluster: &Cluster) -> String {
    let lines: Vec<String> = cluster
        .nodes
        .iter()
        .map(|(&id, node)| {
            let raft = &node.raft;
            let leader = raft.leader().map_or("none".to_string(), |leader| leader.to_string());
            let applied: Vec<String> =
                node.state().iter().map(|item| String::from_utf8_lossy(item).into_owned()).collect();
            let isolated = if cluster.isolated.contains(&id) { " (isolated)" } else { "" };
            format!(
                "{id}: {:?} term {} leader {leader} last {} commit {} applied [{}]{isolated}",
                raft.role(),
                raft.term(),
                raft.log().last_index(),
                raft.log().committed,
                applied.join(",")
            )
        })
        .collect();
    lines.join("\n")
}
