use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::Config;

/// A fake trainer: sends `epochs` epoch events (waiting `pause` between them) unless cancelled,
/// then ends the way the real worker does; `finish = false` drops the channel without an end.
fn fake_job(epochs: usize, pause: Duration, finish: bool) -> TrainHandle {
    let (tx, rx) = mpsc::channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Event::Started {
            config: Box::new(Config::default()),
            seeds: vec![0],
            device: "cpu".into(),
            threads: 1,
        });
        let _ = tx.send(Event::SeedStarted { index: 0, seed: 0 });
        let mut outcome = Outcome::Finished;
        for e in 1..=epochs {
            if flag.load(Ordering::SeqCst) {
                outcome = Outcome::Interrupted;
                break;
            }
            let _ = tx.send(Event::info(format!("epoch {e}")));
            std::thread::sleep(pause);
        }
        if !finish {
            return;
        }
        let _ = tx.send(Event::SeedFinished {
            index: 0,
            seed: 0,
            outcome: outcome.clone(),
            evaluation: None,
            summary: BTreeMap::new(),
            identity_summary: Default::default(),
        });
        let _ = tx.send(Event::Finished { outcome });
    });
    TrainHandle::from_channel(rx, cancel)
}

/// Records what it is given; fails the events whose position is in `fail_at` (each once or
/// always).
#[derive(Default)]
struct Recorder {
    seen: Vec<Event>,
    calls: usize,
    fail_from: Option<usize>,
    fail_once_at: Option<usize>,
    idles: usize,
}

impl EventSink for Recorder {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        self.calls += 1;
        if self.fail_from.is_some_and(|n| self.calls >= n) {
            return Err(SinkError("cannot save the run: disk full".into()));
        }
        if self.fail_once_at == Some(self.calls) {
            return Err(SinkError("transient".into()));
        }
        self.seen.push(ev.clone());
        Ok(())
    }
    fn idle(&mut self) -> Result<(), SinkError> {
        self.idles += 1;
        Ok(())
    }
}

fn finished(seen: &[Event]) -> Vec<&Outcome> {
    seen.iter()
        .filter_map(|e| match e {
            Event::Finished { outcome } => Some(outcome),
            _ => None,
        })
        .collect()
}

#[test]
fn every_sink_sees_every_event_in_order() {
    let (mut a, mut b) = (Recorder::default(), Recorder::default());
    let r = drive(
        fake_job(3, Duration::ZERO, true),
        &mut [&mut a, &mut b],
        None,
    );
    assert_eq!(r.outcome, Outcome::Finished);
    assert_eq!(r.sink_error, None);
    assert_eq!(a.seen, b.seen);
    assert_eq!(a.seen.len(), 2 + 3 + 2);
    assert!(matches!(a.seen[0], Event::Started { .. }));
    assert_eq!(finished(&a.seen), [&Outcome::Finished]);
}

#[test]
fn a_job_that_ends_without_an_outcome_gets_one_once() {
    let mut a = Recorder::default();
    let r = drive(fake_job(2, Duration::ZERO, false), &mut [&mut a], None);
    assert!(
        matches!(&r.outcome, Outcome::Failed { reason } if reason.contains("ended unexpectedly"))
    );
    assert_eq!(finished(&a.seen).len(), 1);
}

#[test]
fn a_sink_that_fails_twice_stops_the_job_and_fails_it() {
    // The store writer fails from its 4th event on: the job is cancelled and ends failed with
    // the writer's message, and the other sink is told so.
    let mut writer = Recorder {
        fail_from: Some(4),
        ..Recorder::default()
    };
    let mut console = Recorder::default();
    let r = drive(
        fake_job(1000, Duration::from_millis(1), true),
        &mut [&mut writer, &mut console],
        None,
    );
    let reason = "cannot save the run: disk full";
    assert_eq!(
        r.outcome,
        Outcome::Failed {
            reason: reason.into()
        }
    );
    assert_eq!(r.sink_error, Some(SinkError(reason.into())));
    let outcomes = finished(&console.seen);
    assert_eq!(outcomes, [&r.outcome]);
    // Stopped long before the 1000 epochs.
    assert!(console.seen.len() < 500, "{}", console.seen.len());
    // The failed sink got no more events after failing, but the final one was tried.
    assert!(writer.calls < 20, "{}", writer.calls);
}

#[test]
fn one_transient_failure_is_retried() {
    let mut a = Recorder {
        fail_once_at: Some(2),
        ..Recorder::default()
    };
    let r = drive(fake_job(3, Duration::ZERO, true), &mut [&mut a], None);
    assert_eq!(r.outcome, Outcome::Finished);
    assert_eq!(r.sink_error, None);
    assert_eq!(a.seen.len(), 7);
}

#[test]
fn the_stop_flag_cancels_and_the_job_is_interrupted() {
    let stop = AtomicBool::new(true);
    let mut a = Recorder::default();
    let r = drive(
        fake_job(1000, Duration::from_millis(2), true),
        &mut [&mut a],
        Some(&stop),
    );
    assert_eq!(r.outcome, Outcome::Interrupted);
    assert!(a.seen.iter().any(|e| matches!(
        e,
        Event::Log { level: crate::train::LogLevel::Warn, message } if message.contains("stopping")
    )));
}

#[test]
fn idle_turns_reach_the_sinks() {
    let mut a = Recorder::default();
    drive(
        fake_job(2, POLL + Duration::from_millis(100), true),
        &mut [&mut a],
        None,
    );
    assert!(a.idles >= 1);
}
