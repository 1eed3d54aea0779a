//! Fault episodes: the nemesis's ops for a mix of faults (a swarm seed's, or `--nemesis
//! a,b`), drawn up front from a seeded rng. Each episode is one fault of the mix, started
//! at its time and stopped about `duration` later (the stop names the fault, so it ends
//! only that kind); a new episode starts about every `gap`. When the gap is shorter than
//! the duration, episodes overlap: a kill during a partition, two nodes paused at once.
//! Each drawn time is the mean times a uniform factor in [0.5, 1.5), so no two episodes
//! are alike.

use super::Fault;
use crate::generator::{seq, template, Gen};
use crate::history::Value;
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// How long fault episodes last and how often they start, on average.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultTiming {
    /// From an episode's start to its stop.
    pub duration: Duration,
    /// From an episode's start to the next one's.
    pub gap: Duration,
}

/// One nemesis op of the episodes: at `time` ns from the start, `f` (start or stop) of
/// `fault`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeOp {
    pub time: i64,
    pub f: &'static str,
    pub fault: Fault,
}

/// The ops of episodes of `faults` (none when it is empty) starting before `before`, in
/// time order; stops past `before` are left to the final heal.
pub fn episode_ops<R: Rng + ?Sized>(
    faults: &[Fault],
    timing: &FaultTiming,
    before: Duration,
    rng: &mut R,
) -> Vec<EpisodeOp> {
    let faults: Vec<Fault> = faults
        .iter()
        .copied()
        .filter(|f| *f != Fault::None)
        .collect();
    let mut ops = Vec::new();
    if faults.is_empty() {
        return ops;
    }
    let before = before.as_nanos() as i64;
    let around = |mean: Duration, rng: &mut R| {
        (mean.as_nanos() as f64 * rng.gen_range(0.5..1.5)).max(1.0) as i64
    };
    let mut t = around(timing.gap, rng);
    while t < before {
        let fault = *faults.choose(rng).expect("faults is not empty");
        let stop = t + around(timing.duration, rng);
        ops.push(EpisodeOp {
            time: t,
            f: "start",
            fault,
        });
        if stop < before {
            ops.push(EpisodeOp {
                time: stop,
                f: "stop",
                fault,
            });
        }
        t += around(timing.gap, rng);
    }
    ops.sort_by_key(|o| o.time);
    ops
}

/// The episodes as the nemesis's generator: each op at its time, its value the fault.
pub fn episodes_gen(ops: &[EpisodeOp]) -> Gen {
    seq(ops
        .iter()
        .map(|o| {
            template(o.f)
                .value(Value::Str(o.fault.name().to_string()))
                .time(o.time)
        })
        .collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn episodes_overlap_when_the_gap_is_shorter_and_every_start_names_a_fault_of_the_mix() {
        let faults = [Fault::KillRandomNode, Fault::PartitionRandomNode];
        let timing = FaultTiming {
            duration: Duration::from_secs(4),
            gap: Duration::from_secs(1),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let ops = episode_ops(&faults, &timing, Duration::from_secs(20), &mut rng);
        assert!(ops.windows(2).all(|w| w[0].time <= w[1].time));
        assert!(ops.iter().all(|o| faults.contains(&o.fault)));
        let starts = ops.iter().filter(|o| o.f == "start").count();
        assert!((10..=40).contains(&starts), "{starts}");
        // Somewhere two episodes are in force at once.
        let mut in_force = 0i32;
        let mut most = 0;
        for o in &ops {
            in_force += if o.f == "start" { 1 } else { -1 };
            most = most.max(in_force);
        }
        assert!(most >= 2, "{most}");
        let mut again = ChaCha8Rng::seed_from_u64(3);
        assert_eq!(
            ops,
            episode_ops(&faults, &timing, Duration::from_secs(20), &mut again)
        );
        assert!(episode_ops(&[], &timing, Duration::from_secs(20), &mut rng).is_empty());
    }
}
