//! Results are written into a hidden staging folder next to `--out` and
//! renamed into place only when complete, so an interrupted run never leaves
//! an `--out` folder that looks finished.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::BadInput;

pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
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
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).with_context(|| format!("removing stale {}", tmp.display()))?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        Ok(Staging { tmp, target: target.to_path_buf(), committed: false })
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Move the finished results into place, replacing an older results folder.
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.target.exists() {
            let old = self.tmp.with_extension("old");
            std::fs::rename(&self.target, &old).with_context(|| format!("moving aside {}", self.target.display()))?;
            std::fs::rename(&self.tmp, &self.target)
                .with_context(|| format!("renaming into {}", self.target.display()))?;
            std::fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
        } else {
            std::fs::rename(&self.tmp, &self.target)
                .with_context(|| format!("renaming into {}", self.target.display()))?;
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
    }
}

/// Test hook (read by the hard-stop tests only): when `EDGEBENCH_TEST_KILL_AFTER`
/// names `point` (a file just written into a staging folder, or `commit`),
/// the process stops at once, as a SIGKILL would stop it there: no
/// destructor runs, the staging folder is left as it is. Under MPI,
/// `EDGEBENCH_TEST_KILL_RANK=r` limits the stop to rank r (MPICH's `PMI_RANK`).
pub fn test_stop_point(point: &str) {
    let rank_matches = match std::env::var_os("EDGEBENCH_TEST_KILL_RANK") {
        Some(r) => std::env::var_os("PMI_RANK").is_some_and(|p| p == r),
        None => true,
    };
    if rank_matches && std::env::var_os("EDGEBENCH_TEST_KILL_AFTER").is_some_and(|v| v == point) {
        std::process::abort();
    }
}
