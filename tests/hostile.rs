//! adalab tried with a hostile hand: processes killed at any instant, full disks, runs deleted
//! under a writer, odd files in the store, signals, closed pipes. Real child processes where a
//! kill or a signal is involved.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use adalab::config::{Config, DatasetKind};
use adalab::store::{RunEntry, RunStatus, Store, StoreError};

fn adalab(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adalab"));
    c.env("ADALAB_HOME", home)
        .env("ADALAB_CONFIG", home.join("config"))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// A quick synthetic run: `epochs` short epochs.
fn quick(epochs: usize) -> Vec<String> {
    let mut v: Vec<String> = vec!["run".into(), "synthetic-demo".into()];
    for s in [
        "data.reference_count=800".to_string(),
        "data.normal_train_count=200".into(),
        "model.widths=[8,16]".into(),
        "model.embedding_dim=16".into(),
        "train.threads=1".into(),
        format!("train.epochs={epochs}"),
    ] {
        v.push("--set".into());
        v.push(s);
    }
    v
}

fn store(home: &Path) -> Store {
    Store::with_dirs(home, home.join("config"))
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) with a pid we own and a valid signal number.
    unsafe {
        libc::kill(child.id() as libc::pid_t, sig);
    }
}

fn wait_with_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn read_all(r: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        let _ = r.read_to_string(&mut s);
    }
    s
}

/// Names under `runs/`, hidden ones included.
fn names(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("runs"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn unreadable(s: &Store) -> Vec<String> {
    s.list_runs()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            RunEntry::Unreadable { id, reason, .. } => Some(format!("{id}: {reason}")),
            RunEntry::Ok(_) => None,
        })
        .collect()
}

/// Waits until the store holds a run folder (not a hidden one); returns its id.
fn wait_for_run(home: &Path, limit: Duration) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(n) = names(home).into_iter().find(|n| !n.starts_with('.')) {
            return Some(n);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn early_kills_and_signals_leave_no_half_made_run() {
    // SIGKILL and SIGINT at 0–30 ms after start: the run either does not exist yet or is a
    // complete record; staging folders of dead processes are swept by the next run.
    let home = tempfile::tempdir().unwrap();
    let args = quick(1);
    let mut made = 0;
    for i in 0..40u64 {
        let mut child = adalab(home.path())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros((i * 757) % 30_000));
        signal(
            &child,
            if i % 2 == 0 {
                libc::SIGKILL
            } else {
                libc::SIGINT
            },
        );
        wait_with_timeout(&mut child, Duration::from_secs(30)).expect("exits");
        made += 1;
    }
    let s = store(home.path());
    assert_eq!(unreadable(&s), Vec::<String>::new(), "after {made} kills");
    // The next run sweeps what the killed ones left in staging.
    let out = adalab(home.path()).args(quick(1)).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<String> = names(home.path())
        .into_iter()
        .filter(|n| n.starts_with(".staging-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    for e in s.list_runs().unwrap() {
        if let RunEntry::Ok(r) = e {
            assert_ne!(r.status, RunStatus::Running, "{}", r.record.id);
        }
    }
}

/// A tmpfs of `size` mounted at a temp dir, when this process may mount one (root); unmounted
/// on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { dir })
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Fills the disk but for about `free` bytes.
    fn fill_leaving(&self, free: u64) {
        let filler = self.path().join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 4096];
        use std::io::Write;
        while f.write_all(&block).is_ok() {}
        drop(f);
        let len = std::fs::metadata(&filler).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap();
        f.set_len(len.saturating_sub(free)).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_and_never_claims_a_save() {
    let Some(disk) = SmallDisk::new("512k") else {
        println!("skipped: cannot mount a tmpfs here");
        return;
    };
    let home = disk.path().join("home");
    std::fs::create_dir_all(home.join("runs")).unwrap();
    // Room for the first record (and the page its writer keeps for its last word), not for
    // the epochs and the scores.
    disk.fill_leaving(12 * 1024);
    let out = adalab(&home).args(quick(3)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("cannot save the run"), "{stderr}");
    assert!(!stdout.contains("saved as run"), "{stdout}");
    // Nothing at all fits: the command says so and leaves no folder behind.
    disk.fill_leaving(0);
    let before = names(&home);
    let out = adalab(&home).args(quick(1)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let after: Vec<String> = names(&home)
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn a_run_deleted_while_it_trains_fails_and_says_so() {
    let home = tempfile::tempdir().unwrap();
    let mut child = adalab(home.path())
        .args(quick(40))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_run(home.path(), Duration::from_secs(20)).expect("the run appears");
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_dir_all(home.path().join("runs").join(&id)).unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(60)).expect("exits");
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("was deleted while it was being written"),
        "{stderr}"
    );
    assert!(!stdout.contains("saved as run"), "{stdout}");
    // Not resurrected either.
    assert!(!home.path().join("runs").join(&id).exists());
}

#[test]
fn one_signal_stops_at_the_next_check_a_second_exits_at_once() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let home = tempfile::tempdir().unwrap();
        let mut child = adalab(home.path())
            .args(quick(400))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let id = wait_for_run(home.path(), Duration::from_secs(20)).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let t0 = Instant::now();
        signal(&child, sig);
        let status = wait_with_timeout(&mut child, Duration::from_secs(30)).expect("stops");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert_eq!(status.code(), Some(code));
        let run = store(home.path()).load_run(&id).unwrap();
        assert_eq!(run.record.status, RunStatus::Interrupted);
    }
    // Two signals: out at once, the run still marked interrupted.
    let home = tempfile::tempdir().unwrap();
    let mut child = adalab(home.path())
        .args(quick(400))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for_run(home.path(), Duration::from_secs(20)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(2));
    signal(&child, libc::SIGINT);
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(130));
    let run = store(home.path()).load_run(&id).unwrap();
    assert_eq!(run.record.status, RunStatus::Interrupted);
}

#[test]
fn a_stop_during_the_final_evaluation_interrupts_the_run() {
    // Cancel as soon as the last batch of the last epoch is reported: the evaluation that
    // follows sees the flag and the job ends interrupted, promptly.
    let mut c = Config::default();
    c.data.dataset = DatasetKind::Synthetic;
    c.data.normal = adalab::config::ClassRef::Name("plus".into());
    c.data.anomalous = adalab::config::ClassRef::Name("cross".into()).into();
    c.data.reference_count = 400;
    c.data.normal_train_count = 1000.into();
    c.model.widths = vec![32, 64];
    c.train.epochs = 1;
    c.train.threads = 1;
    let handle = adalab::train::spawn(c, adalab::train::JobOptions::default());
    let cancel = handle.cancel_handle();
    let mut cancelled_at = None;
    let mut outcome = None;
    for ev in handle.events.iter() {
        match &ev {
            adalab::train::Event::Progress { batch, batches, .. } if batch == batches => {
                cancel.cancel();
                cancelled_at = Some(Instant::now());
            }
            adalab::train::Event::Finished { outcome: o } => {
                outcome = Some(o.clone());
                break;
            }
            _ => {}
        }
    }
    let took = cancelled_at.expect("last batch reported").elapsed();
    assert_eq!(outcome, Some(adalab::train::Outcome::Interrupted));
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn odd_things_in_the_store_are_listed_not_followed_or_read_whole() {
    let home = tempfile::tempdir().unwrap();
    let s = store(home.path());
    let runs = home.path().join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    // A symlinked run folder pointing out of the store.
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), runs.join("20260101T000000Z-link")).unwrap();
    // A 3 GB run.toml (sparse) and a FIFO named run.toml.
    let big = runs.join("20260101T000001Z-bigg");
    std::fs::create_dir(&big).unwrap();
    std::fs::File::create(big.join("run.toml"))
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let fifo = runs.join("20260101T000002Z-fifo");
    std::fs::create_dir(&fifo).unwrap();
    let p = std::ffi::CString::new(fifo.join("run.toml").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(p.as_ptr(), 0o644) }, 0);
    // A record whose id is not its folder's name.
    let w = s.create_run(&Config::default(), "moved").unwrap();
    let real = w.id().to_string();
    drop(w);
    std::fs::rename(runs.join(&real), runs.join("20260101T000003Z-copy")).unwrap();

    let t0 = Instant::now();
    let list = s.list_runs().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    let find = |id: &str| list.iter().find(|e| e.id() == id).unwrap();
    match find("20260101T000000Z-link") {
        RunEntry::Unreadable { reason, .. } => {
            assert!(reason.contains("symbolic link"), "{reason}")
        }
        e => panic!("{e:?}"),
    }
    match find("20260101T000001Z-bigg") {
        RunEntry::Unreadable { reason, .. } => assert!(reason.contains("larger than"), "{reason}"),
        e => panic!("{e:?}"),
    }
    match find("20260101T000002Z-fifo") {
        RunEntry::Unreadable { reason, .. } => {
            assert!(reason.contains("not a regular file"), "{reason}")
        }
        e => panic!("{e:?}"),
    }
    match find("20260101T000003Z-copy") {
        RunEntry::Ok(r) => {
            assert_eq!(r.record.id, "20260101T000003Z-copy");
            assert!(r.warning.as_deref().unwrap().contains(&real));
        }
        e => panic!("{e:?}"),
    }
    // `runs list` shows them too, without hanging.
    let out = adalab(home.path()).args(["runs", "list"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("20260101T000002Z-fifo"), "{stdout}");
}

#[test]
fn delete_checks_the_writer_even_when_the_record_is_unreadable() {
    let home = tempfile::tempdir().unwrap();
    let s = store(home.path());
    let w = s.create_run(&Config::default(), "live").unwrap();
    let id = w.id().to_string();
    let path = s.runs_dir().join(&id).join("run.toml");
    std::fs::write(&path, "this is not toml [").unwrap();
    assert!(matches!(
        s.delete_run(&id, false),
        Err(StoreError::StillRunning { .. })
    ));
    drop(w);
    // A record of a future schema is kept unless forced.
    let w = s.create_run(&Config::default(), "future").unwrap();
    let id2 = w.id().to_string();
    drop(w);
    let p2 = s.runs_dir().join(&id2).join("run.toml");
    let text = std::fs::read_to_string(&p2).unwrap();
    std::fs::write(
        &p2,
        text.replace("schema_version = 1", "schema_version = 99"),
    )
    .unwrap();
    let e = s.delete_run(&id2, false).unwrap_err();
    assert!(matches!(e, StoreError::FutureSchema { .. }), "{e}");
    s.delete_run(&id2, true).unwrap();
    assert!(!s.runs_dir().join(&id2).exists());
}

#[test]
fn closed_and_full_stdout_never_panic() {
    let home = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let out = adalab(home.path()).args(quick(1)).output().unwrap();
        assert!(out.status.success());
    }
    // `adalab runs list | head -0`: the reader is gone before adalab writes.
    let mut child = adalab(home.path())
        .args(["runs", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).unwrap();
    let stderr = read_all(child.stderr.take());
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    // `adalab run … | true`: the run is done and saved; the lost table is not an error.
    let mut child = adalab(home.path())
        .args(quick(1))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = wait_with_timeout(&mut child, Duration::from_secs(60)).unwrap();
    let stderr = read_all(child.stderr.take());
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // `> /dev/full`: a clear error.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = adalab(home.path())
        .args(["runs", "list"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn json_with_stderr_redirected_still_shows_progress_lines() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(quick(2))
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("epoch   1/2"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "finished");
}

#[test]
fn an_explicit_data_dir_that_is_not_there_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let out = adalab(home.path())
        .args(["run", "--data-dir", "/nonexistent/adalab-data"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/adalab-data") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(names(home.path()).is_empty());
}

/// `runs list --json` of a store.
fn list_json(home: &Path) -> Vec<serde_json::Value> {
    let out = adalab(home)
        .args(["runs", "list", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array().unwrap().clone()
}

#[test]
fn a_model_that_does_not_fit_fails_the_run_and_leaves_no_cut_file() {
    let Some(disk) = SmallDisk::new("4m") else {
        println!("skipped: cannot mount a tmpfs here");
        return;
    };
    let home = disk.path().join("home");
    std::fs::create_dir_all(home.join("runs")).unwrap();
    // Room for the records, the curve and the scores, not for a ~1.3 MB model.
    disk.fill_leaving(400 * 1024);
    let mut args = quick(1);
    for s in [
        "run.save_model=true",
        "model.widths=[64,128]",
        "model.embedding_dim=128",
    ] {
        args.push("--set".into());
        args.push(s.into());
    }
    let out = adalab(&home).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}\n{stdout}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // Plain words, no Rust debug dump.
    assert!(
        !stderr.contains("IoError") && !stderr.contains("Os {"),
        "{stderr}"
    );
    // The seed is not presented as finished.
    assert!(!stdout.contains("finished"), "{stdout}");
    let runs = list_json(&home);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "failed", "{runs:?}");
    let id = runs[0]["id"].as_str().unwrap();
    // No cut model, no temp file left behind.
    let files: Vec<String> = std::fs::read_dir(home.join("runs").join(id))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files.iter().any(|f| f.contains("safetensors")),
        "{files:?}"
    );
    let rec = store(&home).load_run(id).unwrap().record;
    assert_eq!(rec.status, RunStatus::Failed);
    assert!(
        rec.reason
            .as_deref()
            .unwrap_or("")
            .contains("No space left"),
        "{:?}",
        rec.reason
    );
}

#[test]
fn a_run_whose_end_cannot_be_written_reads_as_failed_not_interrupted() {
    let Some(disk) = SmallDisk::new("2m") else {
        println!("skipped: cannot mount a tmpfs here");
        return;
    };
    let home = disk.path().join("home");
    std::fs::create_dir_all(home.join("runs")).unwrap();
    let mut child = adalab(&home)
        .args(quick(400))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_run(&home, Duration::from_secs(20)).expect("the run appears");
    std::thread::sleep(Duration::from_millis(300));
    // Now nothing fits: not the next epoch's record, not the last one.
    disk.fill_leaving(0);
    let status = wait_with_timeout(&mut child, Duration::from_secs(120)).expect("exits");
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stdout.contains("saved as run"), "{stdout}");
    // `run.toml` still says running; the writer's last word says how it ended.
    let runs = list_json(&home);
    assert_eq!(runs[0]["recorded_status"], "running", "{runs:?}");
    assert_eq!(runs[0]["status"], "failed", "{runs:?}");
    let run = store(&home).load_run(&id).unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.record
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("No space left"),
        "{:?}",
        run.record.reason
    );
    // Once there is room, the next `runs list` records it in `run.toml`.
    std::fs::remove_file(disk.path().join("filler")).unwrap();
    let runs = list_json(&home);
    assert_eq!(runs[0]["recorded_status"], "failed", "{runs:?}");
    assert_eq!(
        store(&home).load_run(&id).unwrap().record.status,
        RunStatus::Failed
    );
}

/// Starts a long run evaluated every epoch and waits until `run.toml` holds an evaluation.
fn run_until_evaluated(home: &Path) -> (Child, String) {
    let mut args = quick(400);
    args.push("--set".into());
    args.push("score.eval_every=1".into());
    let child = adalab(home)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for_run(home, Duration::from_secs(20)).expect("the run appears");
    let t0 = Instant::now();
    loop {
        let rec = store(home).load_run(&id).map(|r| r.record);
        if rec.is_ok_and(|r| {
            r.seeds
                .iter()
                .any(|s| s.epochs.iter().any(|e| !e.auc.is_empty()))
        }) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no evaluation");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, id)
}

#[test]
fn an_interrupted_run_keeps_its_last_evaluation_everywhere() {
    for sig in [libc::SIGINT, libc::SIGKILL] {
        let home = tempfile::tempdir().unwrap();
        let (mut child, id) = run_until_evaluated(home.path());
        signal(&child, sig);
        wait_with_timeout(&mut child, Duration::from_secs(30)).expect("stops");
        let list = adalab(home.path()).args(["runs", "list"]).output().unwrap();
        let text = String::from_utf8_lossy(&list.stdout);
        let line = text.lines().find(|l| l.starts_with(&id)).unwrap();
        assert!(
            line.contains(", interrupted)") && line.contains("(ep "),
            "{sig}: {text}"
        );
        let csv = adalab(home.path())
            .args(["runs", "export", "--format", "csv"])
            .output()
            .unwrap();
        let csv = String::from_utf8_lossy(&csv.stdout);
        let mut lines = csv.lines();
        let header = csv_fields(lines.next().unwrap());
        let line = lines.next().unwrap();
        let row = csv_fields(line);
        let col = |name: &str| row[header.iter().position(|h| h == name).unwrap()].as_str();
        let auc: f64 = col("auc_knn-cosine").parse().expect("an AUC");
        assert!((0.0..=1.0).contains(&auc), "{csv}");
        // The note has its column (quoted: it holds a comma); the config keys follow it.
        assert!(header.iter().any(|h| h == "auc_note"), "{csv}");
        assert!(
            line.contains(", interrupted\",") && line.contains(",\"ep "),
            "{csv}"
        );
        // The killed run's record tells the truth now, to any reader of `run.toml`.
        let rec = store(home.path()).load_run(&id).unwrap().record;
        assert_eq!(rec.status, RunStatus::Interrupted, "{sig}");
        assert!(rec
            .final_auc(adalab::config::ScorerKind::KnnCosine)
            .is_some());
    }
}

/// The fields of one CSV line (RFC 4180: quoted fields may hold commas and `""`).
fn csv_fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}
