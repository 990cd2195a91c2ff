//! The nodes of a test cluster by id, in id order. A sorted vector rather than a tree: a test cluster has a few
//! nodes, and the engine benchmark routes millions of messages through these lookups, where a scan of a few ids
//! costs less than a tree's search.

use crate::cluster::TestNode;
use flotilla_raft::NodeId;
use std::ops::Index;

#[derive(Default)]
pub struct ClusterNodes(Vec<(NodeId, TestNode)>);

impl ClusterNodes {
    /// Where node `id` is: test clusters number their nodes 1..=n, so its place is looked at first.
    #[inline]
    fn position(&self, id: NodeId) -> Option<usize> {
        let guess = (id as usize).wrapping_sub(1);
        if self.0.get(guess).is_some_and(|(key, _)| *key == id) {
            return Some(guess);
        }
        self.0.iter().position(|(key, _)| *key == id)
    }

    pub fn get(&self, id: &NodeId) -> Option<&TestNode> {
        self.position(*id).map(|at| &self.0[at].1)
    }

    #[inline]
    pub fn get_mut(&mut self, id: &NodeId) -> Option<&mut TestNode> {
        self.position(*id).map(|at| &mut self.0[at].1)
    }

    /// Adds a node (a new member), keeping the id order.
    pub fn insert(&mut self, id: NodeId, node: TestNode) {
        let at = self.0.partition_point(|(key, _)| *key < id);
        self.0.insert(at, (id, node));
    }

    pub fn contains_key(&self, id: &NodeId) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every node with its id, by increasing id.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &TestNode)> {
        self.0.iter().map(|(id, node)| (id, node))
    }

    pub fn values(&self) -> impl Iterator<Item = &TestNode> {
        self.0.iter().map(|(_, node)| node)
    }

    #[inline]
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut TestNode> {
        self.0.iter_mut().map(|(_, node)| node)
    }
}

impl Index<&NodeId> for ClusterNodes {
    type Output = TestNode;

    fn index(&self, id: &NodeId) -> &TestNode {
        self.get(id).unwrap_or_else(|| panic!("no node {id} in the cluster"))
    }
}

impl FromIterator<(NodeId, TestNode)> for ClusterNodes {
    fn from_iter<I: IntoIterator<Item = (NodeId, TestNode)>>(nodes: I) -> ClusterNodes {
        let mut nodes: Vec<(NodeId, TestNode)> = nodes.into_iter().collect();
        nodes.sort_by_key(|(id, _)| *id);
        nodes.dedup_by_key(|(id, _)| *id);
        ClusterNodes(nodes)
    }
}
