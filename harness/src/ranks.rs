//! The processes of one command: MPI ranks when `edgebench` is started by
//! `mpirun`/`mpiexec`/`srun` (cargo feature `mpi`, MPICH), otherwise one.
//!
//! A distributed command runs in two phases. In the first, every rank checks
//! its input on its own (they see the same command line); [`Ranks::agree`]
//! ends it: if any rank failed, every rank stops with the lowest failing
//! rank's exit code and only that rank prints its error. In the second, the
//! ranks work and meet in collectives; an error there cannot be agreed on (the
//! others wait in a collective), so [`Ranks::or_abort`] prints it and aborts
//! every rank (`MPI_Abort`) with its exit code: nothing half-written is
//! committed, and a rank killed outright makes the launcher stop the others.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use crate::error::{exit_code, ReportedElsewhere};

/// False in a process that is an MPI rank other than 0 (set by [`Ranks::init`]).
static ROOT_PROCESS: AtomicBool = AtomicBool::new(true);

/// A note for the user (stderr), printed once per job: by rank 0 only.
pub fn note(msg: &str) {
    if ROOT_PROCESS.load(Ordering::Relaxed) {
        eprintln!("edgebench: note: {msg}");
    }
}

pub struct Ranks {
    #[cfg(feature = "mpi")]
    mpi: Mpi,
}

#[cfg(feature = "mpi")]
struct Mpi {
    world: mpi::topology::SimpleCommunicator,
    /// Ranks on this host (they share its cores).
    local: usize,
    // Dropped last: finalises MPI.
    _universe: mpi::environment::Universe,
}

impl Ranks {
    /// Join the job (MPI is initialised here, once per process; a process
    /// not started by a launcher is a job of one).
    pub fn init() -> Result<Ranks> {
        #[cfg(feature = "mpi")]
        {
            use mpi::traits::Communicator;
            // The all-reduce of a training is made by one worker thread at a
            // time, not always the main thread: `Serialized`.
            let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Serialized)
                .ok_or_else(|| anyhow::anyhow!("MPI was initialised twice"))?;
            if level < mpi::Threading::Serialized {
                anyhow::bail!("the MPI library gives threading level {level:?}; edgebench needs Serialized");
            }
            let world = universe.world();
            ROOT_PROCESS.store(world.rank() == 0, Ordering::Relaxed);
            let local = world.split_shared(world.rank()).size() as usize;
            Ok(Ranks { mpi: Mpi { world, local, _universe: universe } })
        }
        #[cfg(not(feature = "mpi"))]
        Ok(Ranks {})
    }

    pub fn rank(&self) -> usize {
        #[cfg(feature = "mpi")]
        {
            use mpi::traits::Communicator;
            self.mpi.world.rank() as usize
        }
        #[cfg(not(feature = "mpi"))]
        0
    }

    pub fn size(&self) -> usize {
        #[cfg(feature = "mpi")]
        {
            use mpi::traits::Communicator;
            self.mpi.world.size() as usize
        }
        #[cfg(not(feature = "mpi"))]
        1
    }

    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Worker threads of a rank when `--threads` is not given: this host's
    /// cores shared by its ranks (`None`: one per core, a single process).
    pub fn default_threads(&self) -> Option<usize> {
        #[cfg(feature = "mpi")]
        if self.mpi.local > 1 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            return Some((cores / self.mpi.local).max(1));
        }
        None
    }

    pub fn barrier(&self) {
        #[cfg(feature = "mpi")]
        {
            use mpi::traits::CommunicatorCollectives;
            self.mpi.world.barrier();
        }
    }

    /// Element-wise sum over ranks, the same on every rank.
    pub fn all_reduce_sum(&self, buf: &mut [f64]) {
        #[cfg(feature = "mpi")]
        if self.size() > 1 {
            use mpi::collective::SystemOperation;
            use mpi::traits::CommunicatorCollectives;
            let send = buf.to_vec();
            self.mpi.world.all_reduce_into(&send[..], buf, SystemOperation::sum());
        }
        #[cfg(not(feature = "mpi"))]
        let _ = buf;
    }

    /// Rank 0's `buf` on every rank.
    pub fn broadcast(&self, buf: &mut [f64]) {
        #[cfg(feature = "mpi")]
        if self.size() > 1 {
            use mpi::traits::{Communicator, Root};
            self.mpi.world.process_at_rank(0).broadcast_into(buf);
        }
        #[cfg(not(feature = "mpi"))]
        let _ = buf;
    }

    /// Every rank's bytes at rank 0, in rank order (`None` on the other ranks).
    pub fn gather_bytes(&self, mine: Vec<u8>) -> Result<Option<Vec<Vec<u8>>>> {
        if self.size() == 1 {
            return Ok(Some(vec![mine]));
        }
        #[cfg(feature = "mpi")]
        {
            use mpi::point_to_point::{Destination, Source};
            use mpi::traits::Communicator;
            if i32::try_from(mine.len()).is_err() {
                anyhow::bail!("rank {}: {} bytes of results exceed one MPI message (2 GiB)", self.rank(), mine.len());
            }
            if !self.is_root() {
                self.mpi.world.process_at_rank(0).send(&mine[..]);
                return Ok(None);
            }
            let mut all = vec![mine];
            for r in 1..self.size() {
                let (bytes, _status) = self.mpi.world.process_at_rank(r as i32).receive_vec::<u8>();
                all.push(bytes);
            }
            Ok(Some(all))
        }
        #[cfg(not(feature = "mpi"))]
        unreachable!("one rank without MPI")
    }

    /// End of the checking phase: every rank learns whether every rank's
    /// `checked` is Ok. On failure the lowest failing rank returns its error
    /// (to be printed) and every other rank a silent error with its code.
    pub fn agree<T>(&self, checked: Result<T>) -> Result<T> {
        if self.size() == 1 {
            return checked;
        }
        let mut codes = vec![0.0; self.size()];
        if let Err(e) = &checked {
            codes[self.rank()] = f64::from(exit_code(e));
        }
        self.all_reduce_sum(&mut codes);
        match codes.iter().position(|&c| c != 0.0) {
            None => checked,
            Some(r) if r == self.rank() => checked,
            Some(r) => Err(ReportedElsewhere(codes[r] as i32).into()),
        }
    }

    /// In the working phase: an error on this rank stops every rank.
    pub fn or_abort<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(e) if self.size() > 1 => {
                let code = exit_code(&e);
                eprintln!(
                    "edgebench: error (rank {} of {}): {}; stopping every rank",
                    self.rank(),
                    self.size(),
                    format!("{e:#}").replace('\n', " ")
                );
                self.abort(code)
            }
            r => r,
        }
    }

    /// Stop every rank with `code`.
    pub fn abort(&self, code: i32) -> ! {
        #[cfg(feature = "mpi")]
        {
            use mpi::traits::Communicator;
            self.mpi.world.abort(code)
        }
        #[cfg(not(feature = "mpi"))]
        std::process::exit(code)
    }
}

#[cfg(feature = "dppo")]
impl solvers::dppo::ppo::RankComm for Ranks {
    fn rank(&self) -> usize {
        Ranks::rank(self)
    }
    fn ranks(&self) -> usize {
        self.size()
    }
    fn all_reduce_sum(&self, buf: &mut [f64]) {
        Ranks::all_reduce_sum(self, buf);
    }
    fn broadcast(&self, buf: &mut [f64]) {
        Ranks::broadcast(self, buf);
    }
}
