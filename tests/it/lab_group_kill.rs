//! The lab killed with its whole process group (`kill -9 -- -PGID`): what a closing terminal
//! or a CI runner's timeout does. Nothing in the group can clean up; the watchdog runs in a
//! session of its own (`src/lab/watchdog.rs`), so it survives the group kill, stops the real
//! cluster and removes the temporary directories within seconds.

use crate::common::lab_headless::HeadlessLab;

fn group_kill_leaves_nothing_behind(database: &str) {
    HeadlessLab::start_in_own_group("healthy", database)
        .kill_and_assert_nothing_left(database, true);
}

#[test]
fn a_group_kill_leaves_no_cluster_and_no_directory_on_real_postgres() {
    group_kill_leaves_nothing_behind("postgres");
}

#[test]
fn a_group_kill_leaves_no_directory_on_the_simulated_database() {
    group_kill_leaves_nothing_behind("sim");
}
