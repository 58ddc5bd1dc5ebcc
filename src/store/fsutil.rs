//! Atomic file replacement, advisory locks and process liveness.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::StoreError;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` so that a crash at any instant leaves either the old or the new
/// complete file: write a temp file in the same folder, fsync it, rename it over, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(&tmp, "create temporary file", e))?;
        f.write_all(bytes)
            .map_err(|e| StoreError::io(&tmp, "write", e))?;
        f.sync_all().map_err(|e| StoreError::io(&tmp, "fsync", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, "replace", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

/// The largest `run.toml` (or other store text file) read: far above any real record (a
/// 1,000-seed run of 10,000 epochs is about 1 MB), small enough to read without thought.
pub const MAX_TEXT_FILE: u64 = 16 << 20;

/// Reads a text file of the store: only a regular file (no FIFO, device or folder; a symbolic
/// link is not followed) of at most `cap` bytes, valid UTF-8. Never blocks on a FIFO.
pub fn read_text_capped(path: &Path, cap: u64) -> Result<String, StoreError> {
    use std::io::Read;
    #[cfg(unix)]
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(path)
    };
    #[cfg(not(unix))]
    let file = File::open(path);
    let file = file.map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            StoreError::invalid(path, "is a symbolic link (not followed)")
        } else {
            StoreError::io(path, "read", e)
        }
    })?;
    let meta = file
        .metadata()
        .map_err(|e| StoreError::io(path, "read", e))?;
    if !meta.is_file() {
        return Err(StoreError::invalid(path, "is not a regular file"));
    }
    if meta.len() > cap {
        return Err(StoreError::invalid(
            path,
            format!(
                "is {} bytes, larger than the {} a store file may be",
                meta.len(),
                cap
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io(path, "read", e))?;
    if bytes.len() as u64 > cap {
        return Err(StoreError::invalid(
            path,
            "grew past the size a store file may be",
        ));
    }
    String::from_utf8(bytes).map_err(|_| StoreError::invalid(path, "is not UTF-8 text"))
}

/// Renames `from` to `to`, failing with `AlreadyExists` instead of replacing `to` (an empty
/// folder would otherwise be replaced silently).
pub fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let f = CString::new(from.as_os_str().as_bytes())?;
        let t = CString::new(to.as_os_str().as_bytes())?;
        // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        // Filesystems without RENAME_NOREPLACE (some NFS servers): check, then rename.
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOSYS) {
            return Err(e);
        }
    }
    if to.exists() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

/// Flushes a folder's entries (renames, creations) to disk.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| StoreError::io(dir, "open folder", e))?;
        d.sync_all()
            .map_err(|e| StoreError::io(dir, "fsync folder", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Opens (creating when missing) a lock file; its folder must exist.
fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StoreError::io(path, "open lock file", e))
}

/// An exclusive advisory lock on a lock file, released on drop.
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Blocks until the lock on `path` is held. The lock file is created when missing but its
    /// folder is not: locking inside a deleted run fails instead of resurrecting it.
    pub fn acquire(path: &Path) -> Result<LockGuard, StoreError> {
        let file = open_lock_file(path)?;
        file.lock().map_err(|e| StoreError::io(path, "lock", e))?;
        Ok(LockGuard {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Err(e) = self.file.unlock() {
            // Closing the file releases the lock anyway.
            let _ = (e, &self.path);
        }
    }
}

/// A lock a run's writer holds for as long as it lives (`.writer.lock`): whoever can take it
/// knows no live process is writing the run, whatever its `run.toml` says. Released when the
/// writer is dropped or its process dies.
pub struct WriterLock {
    file: File,
}

/// Room kept in a run's `.writer.lock` for the writer's last word (see
/// [`WriterLock::reserve_last_word`]).
pub const LAST_WORD_ROOM: usize = 4096;
const LAST_WORD_MAGIC: &str = "adalab-last-word";

impl WriterLock {
    /// Takes the lock, failing at once (`None`) when another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<WriterLock>, StoreError> {
        let file = open_lock_file(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(WriterLock { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(path, "lock", e)),
        }
    }

    /// Fills the lock file with [`LAST_WORD_ROOM`] bytes (made durable), so that
    /// [`WriterLock::write_last_word`] later overwrites blocks the file already has: the
    /// writer can say how its run ended even when the disk is full.
    pub fn reserve_last_word(&self, path: &Path) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt;
        self.file
            .write_all_at(&[b' '; LAST_WORD_ROOM], 0)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| StoreError::io(path, "write", e))
    }

    /// Writes `status` and `reason` over the reserved room, in place (no new blocks).
    pub fn write_last_word(&self, status: &str, reason: &str) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut text = format!("{LAST_WORD_MAGIC} {status}\n");
        for c in reason.chars() {
            if text.len() + c.len_utf8() + 1 >= LAST_WORD_ROOM {
                break;
            }
            text.push(if c == '\n' { ' ' } else { c });
        }
        text.push('\n');
        let mut bytes = text.into_bytes();
        bytes.resize(LAST_WORD_ROOM, b' ');
        self.file.write_all_at(&bytes, 0)?;
        self.file.sync_data()
    }

    /// The last word a writer left in the lock file at `path`: its run's status and the
    /// reason, when it could not record them in `run.toml`.
    pub fn read_last_word(path: &Path) -> Option<(String, String)> {
        let text = read_text_capped(path, LAST_WORD_ROOM as u64).ok()?;
        let mut lines = text.lines();
        let status = lines
            .next()?
            .strip_prefix(LAST_WORD_MAGIC)?
            .trim()
            .to_string();
        let reason = lines.next().unwrap_or("").trim().to_string();
        Some((status, reason))
    }

    /// Whether a live process holds the lock at `path` (false when there is no lock file).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
            return false;
        };
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(std::fs::TryLockError::WouldBlock) => true,
            Err(std::fs::TryLockError::Error(_)) => false,
        }
    }
}

/// This machine's host name (empty when it cannot be read).
pub fn hostname() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            return String::from_utf8_lossy(&buf[..end]).into_owned();
        }
        String::new()
    }
    #[cfg(not(unix))]
    {
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

/// Whether a process with this pid exists on this machine (`kill(pid, 0)`).
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        if pid == 0 || pid > i32::MAX as u32 {
            return false;
        }
        // SAFETY: signal 0 only checks for existence and permission; nothing is sent.
        let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
        if rc == 0 {
            return true;
        }
        std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // Without a cheap check, trust the heartbeat alone.
        let _ = pid;
        true
    }
}

/// Whether `pid` still belongs to a process started no later than `since` (Unix seconds):
/// alive, and (on Linux) not a newer process that reused the pid.
pub fn pid_alive_since(pid: u32, since: i64) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match process_start_time(pid) {
        // A minute of slack for clock and boot-time rounding.
        Some(start) => start <= since + 60,
        None => true,
    }
}

/// Start time of a process in Unix seconds, from `/proc` (Linux only).
fn process_start_time(pid: u32) -> Option<i64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name start at field 3; starttime is field 22.
        let after = &stat[stat.rfind(')')? + 1..];
        let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
        let boot: i64 = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz <= 0 {
            return None;
        }
        Some(boot + (ticks / hz as u64) as i64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Removes temp files of `name` left in `dir` by writers that were killed. Only call this while
/// holding the lock that every writer of `name` holds, so no live temp file can be removed.
pub fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_started_in_the_past() {
        let me = std::process::id();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        assert!(pid_alive(me));
        assert!(pid_alive_since(me, now));
        assert!(!pid_alive(0));
        #[cfg(target_os = "linux")]
        {
            // Started long after 1970: a run created then cannot belong to this process.
            assert!(!pid_alive_since(me, 0));
            let start = process_start_time(me).unwrap();
            assert!(
                start <= now + 1 && start > now - 86_400 * 365,
                "{start} vs {now}"
            );
        }
    }

    #[test]
    fn the_last_word_overwrites_its_reserved_room() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".writer.lock");
        let lock = WriterLock::try_acquire(&p).unwrap().unwrap();
        assert_eq!(WriterLock::read_last_word(&p), None);
        lock.reserve_last_word(&p).unwrap();
        assert_eq!(WriterLock::read_last_word(&p), None);
        lock.write_last_word("failed", "disk full\nreally").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().len(), LAST_WORD_ROOM as u64);
        assert_eq!(
            WriterLock::read_last_word(&p),
            Some(("failed".into(), "disk full really".into()))
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(dir.path().join(".f.txt.tmp-1-1"), "stale").unwrap();
        remove_stale_temps(dir.path(), "f.txt");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
