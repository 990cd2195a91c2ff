//! The commands of the data-driven cluster scenarios (`testdata/*.txt`), over the harness's `Cluster`:
//! `add-nodes <n>` (a fresh cluster of nodes 1..=n), `campaign <id>`, `propose <id> <data>`, `tick [<n>]` (every
//! node, settling after each), `stabilize` (deliver until quiet), `partition <id>...` (cut these nodes off),
//! `heal`, and `status` (one line per node: role, term, leader, last and commit index, applied data). New
//! families (membership, with issue 12) add their commands to `ScenarioCluster::run`.

use crate::cluster::{config, Cluster};
use crate::datadriven::TestCase;
use flotilla_raft::NodeId;

/// A cluster driven by scenario commands; each command returns what it prints.
#[derive(Default)]
pub struct ScenarioCluster {
    cluster: Option<Cluster>,
    proposals: u64,
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
            let size: u64 = number(args.first())?;
            let plain = |id| {
                // Plain Raft, so that one `campaign` is one election round.
                let mut config = config(id);
                config.pre_vote = false;
                config.check_quorum = false;
                config
            };
            self.cluster = Some(Cluster::with_config(size, plain));
            return Ok(String::new());
        }
        let cluster = self.cluster.as_mut().ok_or("no nodes yet: use add-nodes first")?;
        match case.command.as_str() {
            "campaign" => {
                let id = member(cluster, args.first())?;
                cluster.node_mut(id).campaign();
                Ok(String::new())
            }
            "propose" => {
                let id = member(cluster, args.first())?;
                let data = args.get(1).ok_or("propose <id> <data>")?;
                self.proposals += 1;
                let proposal = format!("p{}", self.proposals);
                match cluster.node_mut(id).propose(proposal.as_str().into(), data.as_bytes().into()) {
                    Ok(()) => Ok(String::new()),
                    Err(error) => Ok(format!("refused: {error}")),
                }
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
            other => Err(format!("unknown command {other:?}")),
        }
    }
}

fn number(arg: Option<&String>) -> Result<u64, String> {
    let arg = arg.ok_or("a number is missing")?;
    arg.parse().map_err(|_| format!("{arg:?} is not a number"))
}

fn member(cluster: &Cluster, arg: Option<&String>) -> Result<NodeId, String> {
    let id = number(arg)?;
    if cluster.nodes.contains_key(&id) {
        Ok(id)
    } else {
        Err(format!("no node {id}"))
    }
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
