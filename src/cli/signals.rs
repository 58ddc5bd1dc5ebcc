//! SIGINT, SIGTERM and SIGHUP for the front ends: the first one sets a flag (the job stops at
//! its next check and is kept as interrupted); a second one runs the registered last words
//! (marking the run interrupted) and exits at once with 128 + the signal.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

type LastWords = Box<dyn FnOnce() + Send>;

/// Installed signal handlers.
#[derive(Clone)]
pub struct Signals {
    flag: Arc<AtomicBool>,
    signal: Arc<AtomicI32>,
    last_words: Arc<Mutex<Option<LastWords>>>,
}

impl Signals {
    /// Installs the handlers (a thread waits for the signals).
    pub fn install() -> anyhow::Result<Signals> {
        let s = Signals {
            flag: Arc::new(AtomicBool::new(false)),
            signal: Arc::new(AtomicI32::new(0)),
            last_words: Arc::new(Mutex::new(None)),
        };
        let mut it = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
            .context("cannot install the signal handlers")?;
        let t = s.clone();
        std::thread::Builder::new()
            .name("adalab-signals".into())
            .spawn(move || {
                for sig in it.forever() {
                    if t.flag.swap(true, Ordering::SeqCst) {
                        // Second signal: no more waiting.
                        let words = t.last_words.lock().ok().and_then(|mut g| g.take());
                        if let Some(f) = words {
                            f();
                        }
                        std::process::exit(128 + sig);
                    }
                    t.signal.store(sig, Ordering::SeqCst);
                }
            })
            .context("cannot start the signal thread")?;
        Ok(s)
    }

    /// Set by the first signal.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// What to do before exiting on a second signal (replaces what was set before).
    pub fn on_second(&self, f: impl FnOnce() + Send + 'static) {
        if let Ok(mut g) = self.last_words.lock() {
            *g = Some(Box::new(f));
        }
    }

    /// The exit status for a job stopped by a signal (130 when no signal came: stopped
    /// another way, e.g. the lab's stop key).
    pub fn exit_code(&self) -> super::Exit {
        super::Exit::Signal(self.received().unwrap_or(SIGINT))
    }
}
