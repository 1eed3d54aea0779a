//! Several workloads in one test (a swarm seed runs a few at once): each gets its own
//! contiguous range of client threads, and so its own ops, keys and objects (no two
//! workloads share a Restate object or a metadata key: `Set/jepsen-set`,
//! `Register/<k>`, metadata `jepsen-set` and `<k>`). The client routes each op to its
//! workload by the op's thread; each workload's own checker judges only its threads' ops
//! (and the nemesis's), and the common checkers judge the whole history.
//!
//! A mix of one workload is exactly that workload: the same generator, client, checkers
//! and history as before mixes existed.

use super::{Workload, WorkloadOptions};
use crate::checker::registry::{CheckerChoice, CheckerPart};
use crate::generator::{nothing, reserve, stagger, Gen};
use crate::runtime::{Client, ClientError, LocalBoxFuture, SharedRng};
use crate::workload::transport::Transport;
use std::fmt;
use std::ops::Range;
use std::rc::Rc;

/// One workload of a mix and the client threads it runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixPart {
    pub workload: Workload,
    pub threads: Range<usize>,
}

/// The workloads of a test, each on its own threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadMix {
    pub parts: Vec<MixPart>,
    /// Client threads in all (processes map to threads modulo this).
    pub concurrency: usize,
}

/// The client threads `workloads` need at least, at once: a set workload 2 (a reader and
/// an adder), a register 1.
pub fn threads_needed(workloads: &[Workload]) -> usize {
    workloads
        .iter()
        .map(|w| if w.is_set() { 2 } else { 1 })
        .sum()
}

impl WorkloadMix {
    /// One workload on every client thread.
    pub fn single(workload: Workload, concurrency: usize) -> WorkloadMix {
        WorkloadMix::split(&[workload], concurrency).expect("one workload always fits")
    }

    /// `workloads` (distinct) sharing `concurrency` threads as evenly as they can, in the
    /// order given; a set workload needs 2 threads (a reader and an adder), a register 1.
    pub fn split(workloads: &[Workload], concurrency: usize) -> Result<WorkloadMix, String> {
        let need = |w: &Workload| threads_needed(std::slice::from_ref(w));
        let needed = threads_needed(workloads);
        if workloads.is_empty() {
            return Err("no workload given".to_string());
        }
        if workloads.len() > 1 && needed > concurrency {
            return Err(format!(
                "--concurrency {concurrency}: {} workloads at once need at least {needed} client threads (2 per set workload, 1 per register workload)",
                workloads.len()
            ));
        }
        for (i, w) in workloads.iter().enumerate() {
            if workloads[..i].contains(w) {
                return Err(format!("--workload: {w} is given twice"));
            }
        }
        let n = workloads.len();
        let mut parts = Vec::new();
        let mut start = 0;
        for (i, &workload) in workloads.iter().enumerate() {
            let share = if i + 1 == n {
                concurrency - start
            } else {
                // An even share, leaving the later workloads what they need.
                let later: usize = workloads[i + 1..].iter().map(need).sum();
                (concurrency / n)
                    .max(need(&workload))
                    .min(concurrency - start - later)
            };
            parts.push(MixPart {
                workload,
                threads: start..start + share,
            });
            start += share;
        }
        Ok(WorkloadMix { parts, concurrency })
    }

    pub fn workloads(&self) -> Vec<Workload> {
        self.parts.iter().map(|p| p.workload).collect()
    }

    /// The workloads' names joined by `+` (e.g. `set-vo+register-mds`).
    pub fn name(&self) -> String {
        let names: Vec<&str> = self.parts.iter().map(|p| p.workload.name()).collect();
        names.join("+")
    }

    pub fn has_set(&self) -> bool {
        self.parts.iter().any(|p| p.workload.is_set())
    }

    /// The client: the workload's own, or one that routes each op by its thread.
    pub fn client(&self, transport: Rc<dyn Transport>, rng: SharedRng) -> Box<dyn Client> {
        if let [only] = self.parts.as_slice() {
            return only.workload.client(transport, rng);
        }
        Box::new(MixClient {
            parts: self
                .parts
                .iter()
                .map(|p| {
                    let client = p.workload.client(transport.clone(), rng.clone());
                    (p.threads.clone(), client)
                })
                .collect(),
            concurrency: self.concurrency,
        })
    }

    /// The client ops at `opts.rate` over all threads (each workload at its threads'
    /// share of it), set elements counted from `first` (see [`Workload::ops_from`]).
    pub fn ops_from(&self, opts: &WorkloadOptions, first: i64) -> Gen {
        let dt = |threads: usize| {
            let share = threads as f64 / self.concurrency.max(1) as f64;
            std::time::Duration::from_secs_f64(1.0 / (opts.rate * share).max(1e-9))
        };
        if let [only] = self.parts.as_slice() {
            return stagger(
                dt(self.concurrency),
                only.workload.ops_on(opts, 0..self.concurrency, first),
            );
        }
        let reserved = self
            .parts
            .iter()
            .map(|p| {
                let ops = p.workload.ops_on(opts, p.threads.clone(), first);
                (p.threads.len(), stagger(dt(p.threads.len()), ops))
            })
            .collect();
        reserve(reserved, nothing())
    }

    /// The checkers: the workload's own for one; for several, each workload's safety
    /// checker on its threads' ops, and the common ones on the whole history.
    pub fn checkers(&self) -> CheckerChoice {
        if let [only] = self.parts.as_slice() {
            return only.workload.checkers();
        }
        let common = ["heal", "stats", "unhandled-exceptions"];
        CheckerChoice {
            checkers: common.map(String::from).to_vec(),
            parts: self
                .parts
                .iter()
                .map(|p| {
                    let mut choice = p.workload.checkers();
                    choice.checkers.retain(|c| !common.contains(&c.as_str()));
                    CheckerPart {
                        name: p.workload.name().to_string(),
                        threads: p.threads.clone(),
                        concurrency: self.concurrency,
                        choice,
                    }
                })
                .collect(),
            ..CheckerChoice::default()
        }
    }
}

impl fmt::Display for WorkloadMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Routes each op to the client of its thread's workload.
struct MixClient {
    parts: Vec<(Range<usize>, Box<dyn Client>)>,
    concurrency: usize,
}

impl Client for MixClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let opening: Vec<_> = self
            .parts
            .iter()
            .map(|(threads, c)| (threads.clone(), c.open(node)))
            .collect();
        let concurrency = self.concurrency;
        Box::pin(async move {
            let mut parts = Vec::new();
            for (threads, open) in opening {
                parts.push((threads, open.await?));
            }
            Ok(Box::new(MixClient { parts, concurrency }) as Box<dyn Client>)
        })
    }

    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            for (_, c) in &mut self.parts {
                c.setup().await?;
            }
            Ok(())
        })
    }

    fn invoke(
        &mut self,
        op: crate::history::Op,
    ) -> LocalBoxFuture<'_, Result<crate::history::Op, ClientError>> {
        let thread = op
            .process
            .clone()
            .client()
            .map(|p| p as usize % self.concurrency.max(1));
        let part = self
            .parts
            .iter_mut()
            .find(|(threads, _)| thread.is_some_and(|t| threads.contains(&t)));
        match part {
            Some((_, client)) => client.invoke(op),
            None => Box::pin(async move {
                Err(ClientError::new(
                    "no-workload",
                    format!("no workload runs on the thread of process {}", op.process),
                ))
            }),
        }
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            for (_, c) in &mut self.parts {
                c.teardown().await?;
            }
            Ok(())
        })
    }

    fn close(&mut self) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move {
            for (_, c) in &mut self.parts {
                c.close().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_shared_evenly_and_sets_get_two() {
        let mix = WorkloadMix::split(&[Workload::RegisterVo, Workload::SetVo], 3).unwrap();
        assert_eq!(mix.parts[0].threads, 0..1);
        assert_eq!(mix.parts[1].threads, 1..3);
        let mix = WorkloadMix::split(&Workload::ALL, 10).unwrap();
        let lens: Vec<usize> = mix.parts.iter().map(|p| p.threads.len()).collect();
        assert_eq!(lens, vec![2, 2, 2, 4]);
        assert!(WorkloadMix::split(&[Workload::SetVo, Workload::SetMds], 3).is_err());
        assert!(WorkloadMix::split(&[Workload::SetVo, Workload::SetVo], 6).is_err());
        assert_eq!(
            WorkloadMix::single(Workload::SetVo, 1).parts[0].threads,
            0..1
        );
    }
}
