//! The one nemesis, for both worlds: it plans each op's actions with [`super::plan`] (or
//! takes them from a schedule being replayed), notes them in force, has the world's
//! [`FaultEffector`] perform them, and records them as the op's value. A world implements
//! only how to inflict and undo an action.

use super::action::{actions_value, Action, InForce};
use super::plan::{plan_start, plan_stop, FaultOptions};
use super::schedule::{Schedule, ScheduledOp};
use super::Fault;
use crate::history::{Op, OpType};
use crate::runtime::{ClientError, LocalBoxFuture, Nemesis, SharedRng};
use std::collections::VecDeque;
use std::rc::Rc;

/// How a world inflicts and undoes fault actions.
pub trait FaultEffector {
    /// Performs `action` on the cluster.
    fn apply<'a>(&'a self, action: &'a Action) -> LocalBoxFuture<'a, Result<(), String>>;

    /// Checks, before the run, that this world can perform `fault`'s actions.
    fn prepare(&self, _fault: Fault) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}

/// Where the nemesis's actions come from.
enum Source {
    /// Drawn by the fault plan from the seeded rng.
    Plan { rng: SharedRng },
    /// A schedule being replayed: each op takes the next scheduled op's actions.
    Script(VecDeque<ScheduledOp>),
}

/// The nemesis of a test: `start` inflicts its fault (or the fault an op's value names),
/// `stop` ends it (or every fault in force), teardown heals whatever is left.
pub struct FaultNemesis {
    /// The faults it may be asked for; an op that names none inflicts the first.
    faults: Vec<Fault>,
    fault: Fault,
    nodes: Vec<String>,
    options: FaultOptions,
    source: Source,
    in_force: InForce,
    effector: Rc<dyn FaultEffector>,
}

impl FaultNemesis {
    /// A nemesis drawing the victims of `faults` (an op that names no fault inflicts the
    /// first) among `nodes` (logical names) from `rng`.
    pub fn planned(
        faults: Vec<Fault>,
        nodes: Vec<String>,
        options: FaultOptions,
        rng: SharedRng,
        effector: Rc<dyn FaultEffector>,
    ) -> FaultNemesis {
        FaultNemesis {
            fault: faults.first().copied().unwrap_or(Fault::None),
            faults,
            nodes,
            options,
            source: Source::Plan { rng },
            in_force: InForce::default(),
            effector,
        }
    }

    /// A nemesis replaying `schedule`: its ops perform the scheduled actions in order; a
    /// `stop` past the schedule's end heals whatever is in force.
    pub fn scripted(
        fault: Fault,
        schedule: &Schedule,
        effector: Rc<dyn FaultEffector>,
    ) -> FaultNemesis {
        FaultNemesis {
            faults: vec![fault],
            fault,
            nodes: schedule.nodes.clone(),
            options: FaultOptions::default(),
            source: Source::Script(schedule.ops.iter().cloned().collect()),
            in_force: InForce::default(),
            effector,
        }
    }

    fn plan(&mut self, op: &Op) -> Result<Vec<Action>, ClientError> {
        let named = match op.value.as_name() {
            Some(name) => Some(
                name.parse::<Fault>()
                    .map_err(|e| ClientError::new("unknown-fault", e.to_string()))?,
            ),
            None => None,
        };
        if !matches!(op.f.as_str(), "start" | "stop") {
            return Err(ClientError::new(
                "unknown-f",
                format!("the nemesis does start and stop, not {}", op.f),
            ));
        }
        let start = op.f == "start";
        match &mut self.source {
            Source::Script(script) => match script.front() {
                Some(next) if next.f == op.f => Ok(script.pop_front().unwrap().actions),
                _ if start => Ok(Vec::new()),
                _ => Ok(plan_stop(None, &self.in_force)),
            },
            Source::Plan { rng } if start => Ok(plan_start(
                named.unwrap_or(self.fault),
                &self.nodes,
                &self.in_force,
                &self.options,
                &mut *rng.borrow_mut(),
            )),
            Source::Plan { .. } => Ok(plan_stop(named, &self.in_force)),
        }
    }

    /// Performs `actions`, each noted in force before it is inflicted (so that one cut
    /// short is still healed).
    async fn perform(&mut self, actions: &[Action]) -> Result<(), ClientError> {
        for action in actions {
            self.in_force.apply(action);
            self.effector
                .apply(action)
                .await
                .map_err(|e| ClientError::new("nemesis", format!("{}: {e}", action.label())))?;
        }
        Ok(())
    }
}

impl Nemesis for FaultNemesis {
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            for fault in self.faults.clone() {
                self.effector
                    .prepare(fault)
                    .await
                    .map_err(|e| ClientError::new("nemesis", e))?;
            }
            Ok(())
        })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let actions = self.plan(&op)?;
            self.perform(&actions).await?;
            let mut done = op.complete(OpType::Info);
            done.value = actions_value(&actions);
            Ok(done)
        })
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            let actions = plan_stop(None, &self.in_force);
            self.perform(&actions).await
        })
    }

    fn fs(&self) -> Vec<String> {
        if self.fault == Fault::None && matches!(self.source, Source::Plan { .. }) {
            Vec::new()
        } else {
            vec!["start".to_string(), "stop".to_string()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Process, Value};
    use crate::runtime::seeded_rng;
    use std::cell::RefCell;

    /// Records the actions it is asked to perform.
    #[derive(Default)]
    struct Recorder(RefCell<Vec<Action>>);

    impl FaultEffector for Recorder {
        fn apply<'a>(&'a self, action: &'a Action) -> LocalBoxFuture<'a, Result<(), String>> {
            self.0.borrow_mut().push(action.clone());
            Box::pin(async { Ok(()) })
        }
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the recorder never waits"),
        }
    }

    fn op(f: &str) -> Op {
        Op::new(OpType::Info, Process::Nemesis, f, Value::Nil)
    }

    #[test]
    fn a_replayed_schedule_performs_the_same_actions() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        let recorder = Rc::new(Recorder::default());
        let rng = Rc::new(RefCell::new(seeded_rng(3, "nemesis")));
        let mut planned = FaultNemesis::planned(
            vec![Fault::PartitionRandomHalves],
            nodes.clone(),
            FaultOptions::default(),
            rng,
            recorder.clone(),
        );
        let mut ops = Vec::new();
        for (i, f) in ["start", "stop", "start", "stop"].iter().enumerate() {
            let done = block_on(planned.invoke(op(f))).unwrap();
            ops.push(ScheduledOp {
                time: i as i64,
                f: f.to_string(),
                value: Value::Nil,
                actions: super::super::action::actions_of(&done.value).unwrap(),
            });
        }
        let first = recorder.0.take();
        assert_eq!(first.len(), 4);
        let schedule = Schedule {
            nodes,
            time_limit: None,
            ops,
        };
        let mut replay = FaultNemesis::scripted(Fault::None, &schedule, recorder.clone());
        for f in ["start", "stop", "start", "stop"] {
            block_on(replay.invoke(op(f))).unwrap();
        }
        assert_eq!(recorder.0.take(), first);
    }

    #[test]
    fn teardown_heals_what_is_in_force() {
        let recorder = Rc::new(Recorder::default());
        let rng = Rc::new(RefCell::new(seeded_rng(3, "nemesis")));
        let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
        let mut n = FaultNemesis::planned(
            vec![Fault::KillRandomNode],
            nodes,
            FaultOptions::default(),
            rng,
            recorder.clone(),
        );
        block_on(n.invoke(op("start"))).unwrap();
        block_on(n.teardown()).unwrap();
        let done = recorder.0.take();
        let (Action::Kill(a), Action::Start(b)) = (&done[0], &done[1]) else {
            panic!("{done:?}")
        };
        assert_eq!(a, b);
    }
}
