//! Faults must never outlive the test: a partition left in iptables or a SIGSTOPped server
//! breaks the cluster for whatever runs next. [`HealOnExit`] heals when it is dropped
//! (normal end, early return, or a panic unwinding through it) and when the process gets
//! SIGINT, SIGTERM or SIGHUP (it heals, then exits with 128 + the signal's number).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The healing action: blocking, callable from any thread, safe to repeat.
pub type Heal = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Heals on drop and on the termination signals while it lives.
pub struct HealOnExit {
    heal: Heal,
    signals: Handle,
    watcher: Option<JoinHandle<()>>,
}

impl HealOnExit {
    /// Installs the signal handlers and returns the guard. Failures to heal are printed to
    /// stderr (there is no one else to tell on the way out).
    pub fn new(heal: Heal) -> std::io::Result<HealOnExit> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let on_signal = heal.clone();
        let watcher = std::thread::Builder::new()
            .name("heal-on-exit".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    eprintln!("signal {signal}: healing every fault before exiting");
                    if let Err(e) = on_signal() {
                        eprintln!("cleaning up on exit failed: {e}");
                    }
                    std::process::exit(128 + signal);
                }
            })?;
        Ok(HealOnExit {
            heal,
            signals: handle,
            watcher: Some(watcher),
        })
    }

    /// Heals now (the guard stays armed).
    pub fn heal_now(&self) -> Result<(), String> {
        (self.heal)()
    }
}

impl Drop for HealOnExit {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("panic: healing every fault");
        }
        if let Err(e) = (self.heal)() {
            eprintln!("cleaning up on exit failed: {e}");
        }
        self.signals.close();
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }
}
