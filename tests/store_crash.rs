//! A writer killed with SIGKILL at any moment leaves a readable store.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adalab::config::Config;
use adalab::store::{RunEntry, RunStatus, Store};
use adalab::train::{EpochMetrics, Event};

const WRITER_ENV: &str = "ADALAB_STORE_TEST_CRASH_WRITER";
const TEST_NAME: &str = "sigkill_while_writing_leaves_a_readable_store";

/// In the child: rewrite run.toml in a tight loop until killed (or 30 s pass).
fn act_as_writer(home: &Path) {
    let store = Store::with_dirs(home, home);
    let mut cfg = Config::default();
    cfg.train.epochs = 10_000;
    let mut w = store.create_run(&cfg, "crash").expect("create run");
    w.handle(&Event::SeedStarted { index: 0, seed: 0 })
        .expect("seed");
    let start = Instant::now();
    let mut epoch = 0;
    while start.elapsed() < Duration::from_secs(30) {
        epoch += 1;
        w.handle(&Event::Epoch(EpochMetrics {
            epoch,
            loss: 1.0 / epoch as f32,
            accuracy: 0.5,
            scale: 10.0,
            lr: 1e-3,
            seconds: 0.01,
            images_per_sec: 1000.0,
            auc: Default::default(),
        }))
        .expect("epoch");
        w.heartbeat().expect("heartbeat");
    }
    // Leave the run `running` as a crash would.
    w.abandon();
}

#[test]
fn sigkill_while_writing_leaves_a_readable_store() {
    if let Some(home) = std::env::var_os(WRITER_ENV) {
        act_as_writer(Path::new(&home));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0..6u64 {
        let home = tmp.path().join(format!("round{round}"));
        std::fs::create_dir_all(&home).unwrap();
        let mut child = Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(WRITER_ENV, &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let store = Store::with_dirs(&home, &home);
        // Wait until the child has written a few epochs, then kill it a little later.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = store
                .list_runs()
                .unwrap()
                .iter()
                .any(|e| matches!(e, RunEntry::Ok(r) if r.record.epochs_done() >= 3));
            if done {
                break;
            }
            assert!(Instant::now() < deadline, "child never wrote 3 epochs");
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(3 + round * 17));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let entries = store.list_runs().unwrap();
        assert_eq!(entries.len(), 1, "round {round}");
        match &entries[0] {
            RunEntry::Ok(r) => {
                assert!(r.record.epochs_done() >= 3);
                assert_eq!(r.record.status, RunStatus::Running);
                assert_eq!(
                    r.status,
                    RunStatus::Interrupted,
                    "dead writer shows interrupted"
                );
                let again = store.load_run(&r.record.id).unwrap();
                assert_eq!(again.record.seeds.len(), 1);
                // An edit afterwards works and sweeps temp files the killed writer left.
                store.set_note(&r.record.id, "after the crash").unwrap();
                let leftovers = std::fs::read_dir(&r.dir)
                    .unwrap()
                    .flatten()
                    .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
                    .count();
                assert_eq!(leftovers, 0);
                assert_eq!(
                    store.load_run(&r.record.id).unwrap().record.note,
                    "after the crash"
                );
            }
            RunEntry::Unreadable { reason, path, .. } => {
                panic!("round {round}: {} unreadable: {reason}", path.display())
            }
        }
    }
}
