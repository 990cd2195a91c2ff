//! The shipped node driver under the harness (`node_under_test`): three real `NodeDriver`s on disks that
//! acknowledge only after a flush, messages routed by name, a follower that crashes and restarts from what its
//! disk made durable, and the simulation's safety checker after every round.

use flotilla_harness::node_under_test::DriverCluster;

const ROUNDS: usize = 2_000;

fn until(cluster: &mut DriverCluster, what: &str, done: impl Fn(&DriverCluster) -> bool) {
    for _ in 0..ROUNDS {
        if done(cluster) {
            return;
        }
        cluster.tick().unwrap_or_else(|violation| panic!("while waiting for {what}: {violation}"));
    }
    // Each node: how many user entries it committed, and its core's (role, last index, commit index).
    let seen: Vec<_> = (1..=cluster.nodes.len())
        .map(|k| {
            (user_data(cluster, k).len(), cluster.core(k).map(|r| (r.role(), r.log().last_index(), r.log().committed)))
        })
        .collect();
    panic!("{what} did not happen in {ROUNDS} ticks: {seen:?}");
}

fn user_data(cluster: &DriverCluster, k: usize) -> Vec<Vec<u8>> {
    cluster.nodes[k - 1].committed.iter().map(|entry| entry.data.to_vec()).collect()
}

#[test]
fn real_drivers_elect_commit_and_recover_a_crashed_follower_from_its_disk() {
    let mut cluster = DriverCluster::new(3, 11);
    until(&mut cluster, "a leader", |c| c.leader().is_some());
    let leader = cluster.leader().expect("a leader");
    let follower = if leader == 1 { 2 } else { 1 };
    let first: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i]).collect();
    for data in &first {
        cluster.driver(leader).propose(data.as_slice().into()).expect("proposal accepted");
    }
    until(&mut cluster, "every node commits the first 20", |c| (1..=3).all(|k| user_data(c, k) == first));

    cluster.crash(follower);
    let second: Vec<Vec<u8>> = (20..30u8).map(|i| vec![i]).collect();
    for data in &second {
        cluster.driver(leader).propose(data.as_slice().into()).expect("proposal accepted");
    }
    let all: Vec<Vec<u8>> = first.iter().chain(&second).cloned().collect();
    until(&mut cluster, "the live nodes commit all 30", |c| {
        (1..=3).filter(|&k| k != follower).all(|k| user_data(c, k) == all)
    });
    cluster.restart(follower);
    until(&mut cluster, "the restarted follower replays and catches up", |c| user_data(c, follower) == all);
}
