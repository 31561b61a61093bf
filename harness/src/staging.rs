//! Results are written into a hidden staging folder next to `--out` and
//! renamed into place only when complete, so an interrupted run never leaves
//! an `--out` folder that looks finished.
//!
//! One writer per `--out` at a time: the writer holds an exclusive lock on
//! `.<name>.lock` beside it from the start until the commit; a second process
//! aimed at the same folder fails at once (bad input, exit 2) instead of
//! mixing its files in. The lock dies with its process, so a killed writer
//! never blocks the next one, which also removes the killed one's staging
//! folder. An older results folder is swapped for the new one in one step
//! (Linux `renameat2(RENAME_EXCHANGE)`), so at every instant `--out` is
//! either the old results whole or the new ones whole.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::BadInput;

pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    lock_path: PathBuf,
    /// Held (flock) while this staging lives; released when the file closes.
    _lock: File,
    committed: bool,
}

impl Staging {
    pub fn new(target: &Path) -> Result<Staging> {
        if target.exists() && !target.is_dir() {
            return Err(BadInput(format!("--out {}: exists and is not a folder", target.display())).into());
        }
        let name = target
            .file_name()
            .ok_or_else(|| BadInput(format!("--out {}: expected a folder path with a name", target.display())))?
            .to_string_lossy()
            .to_string();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = lock_exclusively(&lock_path, target)?;
        // Holding the lock, every other staging folder of this target is a
        // killed writer's: remove it.
        let stale_prefix = format!(".{name}.tmp-");
        for entry in std::fs::read_dir(&parent).with_context(|| format!("listing {}", parent.display()))? {
            let path = entry?.path();
            if path.file_name().is_some_and(|f| f.to_string_lossy().starts_with(&stale_prefix)) {
                std::fs::remove_dir_all(&path).with_context(|| format!("removing stale {}", path.display()))?;
            }
        }
        let tmp = parent.join(format!("{stale_prefix}{}", std::process::id()));
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Staging { tmp, target: target.to_path_buf(), lock_path, _lock: lock, committed: false })
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Move the finished results into place, replacing an older results folder.
    pub fn commit(mut self) -> Result<PathBuf> {
        let into = |e| format!("renaming {} into {}: {e}", self.tmp.display(), self.target.display());
        if self.target.exists() {
            // The staging folder now holds the old results; removing it may be cut short, harmlessly.
            exchange(&self.tmp, &self.target).map_err(|e| anyhow::anyhow!(into(e)))?;
            test_stop_point("commit");
            std::fs::remove_dir_all(&self.tmp).with_context(|| format!("removing {}", self.tmp.display()))?;
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| anyhow::anyhow!(into(e)))?;
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
        // Unlinked while still held, so a process that opened it meanwhile
        // sees a removed file and tries again (`lock_exclusively`).
        let _ = std::fs::remove_file(&self.lock_path);
    }
}

/// Take the exclusive lock of `target` (`lock_path`), or fail at once if another process holds it.
fn lock_exclusively(lock_path: &Path, target: &Path) -> Result<File> {
    loop {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(BadInput(format!(
                    "--out {}: another edgebench process is writing there (it holds {}); \
                     wait for it or choose another --out",
                    target.display(),
                    lock_path.display()
                ))
                .into())
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", lock_path.display()))
            }
        }
        // The holder before us may have unlinked the file between our open
        // and our lock: then the lock is on a removed file; open it anew.
        let same = std::fs::metadata(lock_path).is_ok_and(|m| m.ino() == file.metadata().map(|f| f.ino()).unwrap_or(0));
        if same {
            return Ok(file);
        }
    }
}

/// Swap two folders in one step (the crate's one `unsafe`: a libc call std does not wrap).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths, relative to the working directory.
    let rc = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Swap two folders: elsewhere in two renames (a stop between them leaves
/// the old results in the staging folder and none at the target).
#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let aside = a.with_extension("old");
    std::fs::rename(b, &aside)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&aside, a)
}

/// Test hook (read by the hard-stop tests only): when `EDGEBENCH_TEST_KILL_AFTER`
/// names `point` (a file just written into a staging folder, or `commit`),
/// the process stops at once, as a SIGKILL would stop it there: no
/// destructor runs, the staging folder is left as it is. Under MPI,
/// `EDGEBENCH_TEST_KILL_RANK=r` limits the stop to rank r (MPICH's `PMI_RANK`).
/// When `EDGEBENCH_TEST_HOLD_AT` names `point`, the process instead creates
/// the file `EDGEBENCH_TEST_HOLD_FILE` + `.held` and waits (up to a minute)
/// until `EDGEBENCH_TEST_HOLD_FILE` exists: a second process can then be
/// started while this one is mid-write.
pub fn test_stop_point(point: &str) {
    let rank_matches = match std::env::var_os("EDGEBENCH_TEST_KILL_RANK") {
        Some(r) => std::env::var_os("PMI_RANK").is_some_and(|p| p == r),
        None => true,
    };
    if rank_matches && std::env::var_os("EDGEBENCH_TEST_KILL_AFTER").is_some_and(|v| v == point) {
        std::process::abort();
    }
    if std::env::var_os("EDGEBENCH_TEST_HOLD_AT").is_some_and(|v| v == point) {
        if let Some(go) = std::env::var_os("EDGEBENCH_TEST_HOLD_FILE").map(PathBuf::from) {
            let mut held = go.clone().into_os_string();
            held.push(".held");
            let _ = std::fs::write(held, b"");
            for _ in 0..6000 {
                if go.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
