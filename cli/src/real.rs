//! `real`: the workloads against a real Restate cluster over SSH (or `--no-ssh` on this
//! machine), with genuine faults; flags as Jepsen's and restatedev/jepsen's. The flags
//! become a test and a world in `jepsen_real::options`; the core's lifecycle runs it
//! (`jepsen_core::test_run`); this runs it `--test-count` times with a progress bar and
//! maps the outcome to Jepsen's exit codes (0 valid, 1 invalid, 2 unknown, 254 bad input,
//! 255 crash).

use crate::exit::{self, Failure, CRASH};
use crate::progress::RunProgress;
use jepsen_core::checker::Validity;
use jepsen_core::fault::action::actions_label;
use jepsen_core::history::{Op, OpType, Process};
use jepsen_core::test_run::{run_test, Keep, RunError};
pub use jepsen_real::options::RealArgs;
use jepsen_real::options::{nodes_of, refuse_default_route, test_from};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn run(args: RealArgs) -> Result<i32, Failure> {
    let nodes = nodes_of(&args).map_err(Failure::bad_input)?;
    let (mut test, mut world) = test_from(&args, nodes).map_err(Failure::bad_input)?;
    if args.no_ssh {
        refuse_default_route().map_err(Failure::bad_input)?;
    }
    let mut overall = Validity::Valid;
    for i in 0..args.test_count {
        if args.test_count > 1 {
            eprintln!("test {} of {}", i + 1, args.test_count);
            world.seed = args.seed + i as u64;
            test.record.seed = Some(world.seed);
        }
        let total = test.options.time_limit
            + if test.with_nemesis() {
                test.options.heal_time
            } else {
                Duration::ZERO
            };
        let progress: Arc<Mutex<Option<RunProgress>>> = Arc::default();
        let on_op = {
            let progress = progress.clone();
            Box::new(move |op: &Op| {
                let mut bar = progress.lock().unwrap();
                let bar = bar.get_or_insert_with(|| RunProgress::new(total));
                match (&op.process, op.kind) {
                    (_, OpType::Invoke) => {}
                    (Process::Nemesis, _) => match (op.f.as_str(), actions_label(&op.value)) {
                        ("start", Some(label)) => bar.fault(Some(&label)),
                        (_, Some(_)) => bar.fault(None),
                        _ => {}
                    },
                    _ => bar.op_completed(),
                }
            })
        };
        let outcome = run_test(&test, &mut world, Keep::Always, &args.test.store, on_op);
        if let Some(bar) = progress.lock().unwrap().take() {
            bar.finish();
        }
        let outcome = outcome.map_err(|e| match e {
            RunError::BadInput(m) => Failure::bad_input(m),
            RunError::Crashed(m) => Failure {
                code: CRASH,
                message: m,
            },
        })?;
        let run_dir = outcome.run_dir.unwrap_or_default();
        println!(
            "{}: {}{}",
            run_dir.display(),
            outcome.result.valid.name(),
            outcome.result.reason()
        );
        for e in &outcome.cleanup_errors {
            println!("cleanup: {e}");
        }
        if outcome.result.valid == Validity::Valid {
            println!("Everything looks good! ヽ(‘ー`)ノ");
        }
        overall = overall.and(outcome.result.valid);
    }
    Ok(exit::for_validity(overall))
}
