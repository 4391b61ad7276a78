//! The write-back soaks' shared driver (`cli_fulfilment.rs` for BigCommerce, `amazon_soak.rs`
//! for Amazon): two `cenports outbox --drain` processes on one database, one of them
//! SIGKILLed now and then while the channel's sandbox injects faults, until every row is
//! delivered. What differs per channel (the sandbox, its faults, how a row sent but not yet
//! recorded is recognised at the channel) is passed in.

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use cenports::storage::{OutboxState, Storage};

/// The drain's arguments: short leases and timeouts so that the soak takes seconds. Unknown
/// outcomes are read back 1.2 s later (past a hung request, and past a late application 800 ms
/// after its answer), then again 200 ms after a first "not found"; one row at a time in the
/// listing, since the soak reads the database itself.
pub const DRAIN_ARGS: [&str; 19] = [
    "outbox",
    "--drain",
    "--json",
    "--concurrency",
    "4",
    "--lease",
    "2s",
    "--request-timeout",
    "600ms",
    "--retry-base",
    "50ms",
    "--patience",
    "5s",
    "--quiet-period",
    "1200ms",
    "--recheck-gap",
    "200ms",
    "--limit",
    "1",
];

/// A running `cenports outbox --drain` process; its pid is in the owner of its leases.
pub struct Drainer {
    child: Child,
    pid: u32,
}

impl Drainer {
    /// The drainer of a spawned child.
    pub fn new(child: Child) -> Self {
        Drainer {
            pid: child.id(),
            child,
        }
    }
}

/// What the kills did.
#[derive(Debug, Clone, Copy)]
pub struct Kills {
    /// Processes SIGKILLed.
    pub kills: usize,
    /// Rows a killed process had sent to the channel but not recorded: `sending`, still in its
    /// lease, with the channel holding what they wrote.
    pub caught_between_send_and_commit: usize,
    /// From the start of the drains to the last row delivered.
    pub elapsed: Duration,
}

/// Runs two drainers from `spawn` until every one of `expected_rows` is delivered. Every
/// 150–900 ms (a seeded random walk), while the faults are on, one of them is SIGKILLed and
/// `sent` (the outbox row ids whose write the channel now holds) tells which of the dead
/// process's `sending` rows were caught between their send and their commit. At 70 % delivered
/// `calm` stops the faults and the kills, and the rest drains. A process that was killed or
/// whose drain ended is started again. Fails the test if nothing finishes within 5 minutes.
pub async fn drain_with_kills(
    storage: &Storage,
    expected_rows: usize,
    seed: u64,
    mut spawn: impl FnMut() -> Drainer,
    mut calm: impl FnMut(),
    mut sent: impl FnMut() -> BTreeSet<i64>,
) -> Kills {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    let mut drainers = [spawn(), spawn()];
    let (mut kills, mut caught) = (0, 0);
    let mut faults_on = true;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(150..900))).await;
        let counts = storage.count_outbox(None).await.unwrap();
        assert!(Instant::now() < deadline, "stuck at {counts:?}");
        if faults_on && counts.delivered * 10 >= expected_rows as i64 * 7 {
            // The faults and the kills stop at 70 %; the rest drains in calm.
            calm();
            faults_on = false;
        }
        if faults_on {
            let victim = &mut drainers[rng.gen_range(0..2)];
            if victim.child.try_wait().unwrap().is_none() {
                victim.child.kill().unwrap(); // SIGKILL: no clean-up of any kind.
                victim.child.wait().unwrap();
                kills += 1;
                let sent = sent();
                let owner = format!("-{}-", victim.pid);
                caught += storage
                    .list_outbox(None, true, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|r| {
                        r.state == OutboxState::Sending
                            && r.locked_until.is_some()
                            && r.lease_owner.as_deref().is_some_and(|o| o.contains(&owner))
                            && sent.contains(&r.id.get())
                    })
                    .count();
            }
        }
        if !faults_on && counts.open() == 0 {
            break;
        }
        for drainer in &mut drainers {
            if drainer.child.try_wait().unwrap().is_some() {
                *drainer = spawn();
            }
        }
    }
    for drainer in &mut drainers {
        let _ = drainer.child.kill();
        let _ = drainer.child.wait();
    }
    Kills {
        kills,
        caught_between_send_and_commit: caught,
        elapsed: started.elapsed(),
    }
}
