//! Data-parallel training steps on the CPU: a [`Team`] of ranks, one per thread of the rayon
//! pool (`rayon::broadcast`), each running one part of a batch through the ops, and the
//! BatchNorm ops of the ranks reduce their per-channel sums with each other ([`allreduce`]) so
//! that every rank normalises with the statistics of the whole batch. The ops' own parallel
//! loops still split their work into tasks; a rank runs its tasks itself unless the other
//! rank, waiting for one of its own, takes one (a rank waits for the others' reductions by
//! spinning, never inside a rayon wait, and no task of an op reduces, so no rank can wait on
//! itself).
//!
//! Why: at batch 32 on two cores, parallelising inside every op left one core idle through
//! everything between the ops (the head, the loss, the tape's bookkeeping, copies out of dfdx)
//! and woke the other core's thread a dozen times per step; a step on two ranks has a handful of
//! reductions instead, and everything else runs on both cores.
//!
//! A reduction sums the ranks' vectors in rank order (`f64`), so every rank gets the same
//! statistics, bit for bit, and a step's result does not depend on timing. The ranks wait for
//! each other spinning, then yielding: they are each other's only work while a step runs.
//! A panic in one rank ends the others at their next reduction; [`Team::run`] then resumes the
//! first rank's panic.
//!
//! Outside [`Team::run`] (and on any thread that is not a rank) [`allreduce`] does nothing: the
//! ops see the whole batch.

use std::cell::RefCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[cfg(test)]
fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// The threads of the current rayon pool as ranks that run the parts of a batch at once.
#[derive(Debug)]
pub struct Team {
    ranks: usize,
}

impl Team {
    /// A team of the current rayon pool's threads, if it has two or more. Use it inside that
    /// pool.
    pub fn of_current_pool() -> Option<Team> {
        let ranks = rayon::current_num_threads();
        (ranks > 1).then_some(Team { ranks })
    }

    /// Threads in the team.
    pub fn ranks(&self) -> usize {
        self.ranks
    }

    /// Runs `f(r)` for ranks `r < k` (at most [`Team::ranks`]) at once, one per thread of the
    /// current pool (the calling thread is one of them when it belongs to the pool), with
    /// BatchNorm's statistics reduced across the `k` ranks, and returns the results in rank
    /// order. A rank's panic is resumed here once every rank has stopped.
    ///
    /// # Panics
    /// When the current pool has fewer than `k` threads.
    pub fn run<R: Send>(&self, k: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
        let k = k.clamp(1, self.ranks);
        assert!(
            rayon::current_num_threads() >= k,
            "a team of {k} ranks runs in a pool of at least {k} threads"
        );
        let shared = Arc::new(Shared::new(k));
        let results = rayon::broadcast(|ctx| {
            let r = ctx.index();
            (r < k).then(|| {
                let out = catch_unwind(AssertUnwindSafe(|| {
                    let _rank = Enter::new(shared.clone(), r);
                    f(r)
                }));
                if out.is_err() {
                    shared.poisoned.store(true, Ordering::Release);
                }
                out
            })
        });
        let mut out = Vec::with_capacity(k);
        let mut panic = None;
        for result in results.into_iter().flatten() {
            match result {
                Ok(v) => out.push(v),
                Err(p) => {
                    // The first rank that failed on its own, not one ended by another's panic.
                    let ended = p.downcast_ref::<Ended>().is_some();
                    match &panic {
                        None => panic = Some((ended, p)),
                        Some((true, _)) if !ended => panic = Some((false, p)),
                        _ => {}
                    }
                }
            }
        }
        if let Some((_, p)) = panic {
            resume_unwind(p);
        }
        out
    }
}

/// The panic payload of a rank ended because another rank panicked.
struct Ended;

/// What the ranks of one [`Team::run`] share: a barrier and two sets of reduction slots, one
/// per rank, used by turns.
struct Shared {
    ranks: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
    slots: [Vec<Mutex<Vec<f64>>>; 2],
}

impl Shared {
    fn new(ranks: usize) -> Self {
        Shared {
            ranks,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            slots: [0, 1].map(|_| (0..ranks).map(|_| Mutex::new(Vec::new())).collect()),
        }
    }

    /// Waits until every rank has arrived; panics with [`Ended`] if a rank panicked.
    fn wait(&self) {
        let gen = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.ranks {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == gen {
            if self.poisoned.load(Ordering::Acquire) {
                std::panic::panic_any(Ended);
            }
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// One barrier per reduction: reduction j writes and reads slot set j mod 2, and a rank can
    /// only write set j mod 2 again (reduction j + 2) after everyone arrived at reduction
    /// j + 1, that is, after everyone finished reading reduction j's.
    fn allreduce(&self, rank: usize, turn: usize, v: &mut [f64]) {
        let slots = &self.slots[turn % 2];
        {
            let mut mine = slots[rank].lock().unwrap_or_else(|e| e.into_inner());
            mine.clear();
            mine.extend_from_slice(v);
        }
        self.wait();
        for (r, slot) in slots.iter().enumerate() {
            let s = slot.lock().unwrap_or_else(|e| e.into_inner());
            assert_eq!(s.len(), v.len(), "ranks reduce vectors of one length");
            if r == 0 {
                v.copy_from_slice(&s);
            } else {
                v.iter_mut().zip(s.iter()).for_each(|(a, b)| *a += b);
            }
        }
    }
}

/// Busy-wait rounds before a waiting rank starts yielding its core.
const SPINS: u32 = 20_000;

/// This thread's rank: what it shares with the others, its number, its reductions so far.
struct Rank {
    shared: Arc<Shared>,
    rank: usize,
    turn: usize,
}

thread_local! {
    static RANK: RefCell<Option<Rank>> = const { RefCell::new(None) };
}

/// Marks the current thread as rank `r` while alive.
struct Enter;

impl Enter {
    fn new(shared: Arc<Shared>, r: usize) -> Enter {
        RANK.with(|c| {
            *c.borrow_mut() = Some(Rank {
                shared,
                rank: r,
                turn: 0,
            })
        });
        Enter
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        RANK.with(|c| *c.borrow_mut() = None);
    }
}

/// Whether the current thread is a rank of a team of more than one (its ops see part of the
/// batch).
pub(super) fn active() -> bool {
    RANK.with(|c| c.borrow().as_ref().is_some_and(|r| r.shared.ranks > 1))
}

/// Waits until every rank of the current thread's team got here; nothing outside a team.
pub fn barrier() {
    let current = RANK.with(|c| c.borrow().as_ref().map(|r| r.shared.clone()));
    if let Some(shared) = current {
        shared.wait();
    }
}

/// Replaces `v` by the sum, in rank order, of every rank's `v` (the same length on every rank);
/// nothing outside a team.
pub(super) fn allreduce(v: &mut [f64]) {
    let current = RANK.with(|c| {
        c.borrow_mut().as_mut().map(|r| {
            r.turn += 1;
            (r.shared.clone(), r.rank, r.turn)
        })
    });
    if let Some((shared, rank, turn)) = current {
        if shared.ranks > 1 {
            shared.allreduce(rank, turn, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_reduce_in_rank_order_and_return_in_rank_order() {
        let team = Team { ranks: 3 };
        let out = pool(3).install(|| {
            team.run(3, |r| {
                let mut v = vec![r as f64, 1.0];
                allreduce(&mut v);
                let mut w = vec![10.0 * r as f64];
                allreduce(&mut w);
                (r, v, w, active())
            })
        });
        assert_eq!(out.len(), 3);
        for (i, (r, v, w, act)) in out.into_iter().enumerate() {
            assert_eq!(r, i);
            assert_eq!(v, vec![3.0, 3.0]);
            assert_eq!(w, vec![30.0]);
            assert!(act);
        }
        // Outside a run nothing is reduced.
        let mut v = vec![1.0];
        allreduce(&mut v);
        assert_eq!(v, vec![1.0]);
        assert!(!active());
        // Fewer ranks than the team has.
        let out = pool(3).install(|| {
            team.run(2, |r| {
                let mut v = vec![1.0 + r as f64];
                allreduce(&mut v);
                v[0]
            })
        });
        assert_eq!(out, vec![3.0, 3.0]);
    }

    #[test]
    fn a_panicking_rank_ends_the_others_and_its_panic_comes_back() {
        let team = Team { ranks: 2 };
        let pool = pool(2);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.install(|| {
                team.run(2, |r| {
                    if r == 1 {
                        panic!("rank one failed");
                    }
                    // Rank 0 waits for a reduction rank 1 never reaches.
                    let mut v = vec![1.0];
                    allreduce(&mut v);
                    v[0]
                })
            })
        }));
        let p = caught.expect_err("the panic is resumed");
        let msg = p.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(msg, "rank one failed");
        // The team still works afterwards.
        let out = pool.install(|| {
            team.run(2, |r| {
                let mut v = vec![r as f64];
                allreduce(&mut v);
                v[0]
            })
        });
        assert_eq!(out, vec![1.0, 1.0]);
    }
}
