//! Write generations: a stamp that tells a reader whether a table can have changed since it
//! last read it, so an answer computed from it may be served again (the projects list cache in
//! `api::projects`).
//!
//! One `AtomicU64` per table: the high 32 bits count the writes that have ended, the low 32
//! bits the writes in progress. A write takes a [`WriteMark`] before its first statement — so
//! before its commit — and finishes it only after its transaction has committed or rolled
//! back; the mark moves the stamp forward at both ends, so the stamp only ever grows. A reader asks
//! [`Generation::stable`] before its query and again after: if both answers are the same
//! `Some(s)`, no write was in progress at either moment and none began or ended in between, so
//! the query saw the table exactly as every write acknowledged before it left it and no
//! other. While [`Generation::stable`] still answers `Some(s)` later, that is still the
//! table's content, and the answer may be served again; once any write begins, it answers
//! something else (or `None` while writes are in progress) and the old answer is never
//! served again.
//!
//! This holds only if every write to the table in the database goes through a mark of this
//! process: so only on SQLite, whose file one server owns (every write already goes through its
//! single writer connection; a restore needs the server stopped), never on PostgreSQL, where
//! other replicas write the same tables.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A table's write stamp (see the module documentation).
#[derive(Debug, Default)]
pub struct Generation {
    stamp: AtomicU64,
    /// Non-zero while a write may still commit although its mark is gone: a write whose
    /// future was dropped (its HTTP request cancelled) after it sent its statements. Holds the
    /// stamp at that moment; a write that began after it and finished clears it, because on the
    /// single writer connection its statements ran after the abandoned ones.
    abandoned: AtomicU64,
}

/// One unit of the "writes ended" half.
const ENDED: u64 = 1 << 32;
/// The "writes in progress" half.
const IN_PROGRESS: u64 = ENDED - 1;

impl Generation {
    /// The stamp while no write is in progress (and none was abandoned); `None` otherwise.
    pub fn stable(&self) -> Option<u64> {
        if self.abandoned.load(Ordering::SeqCst) != 0 {
            return None;
        }
        let s = self.stamp.load(Ordering::SeqCst);
        (s & IN_PROGRESS == 0).then_some(s)
    }

    /// Marks a write as begun. Take it before the write's first statement; call
    /// [`WriteMark::finish`] once its transaction has committed or rolled back. A mark dropped
    /// without `finish` (its future cancelled) leaves the stamp unstable until a later write
    /// finishes.
    pub fn begin(self: &Arc<Self>) -> WriteMark {
        let began = self.stamp.fetch_add(1, Ordering::SeqCst) + 1;
        WriteMark {
            generation: self.clone(),
            began,
            finished: false,
        }
    }
}

/// A write in progress on a table (see [`Generation::begin`]).
#[derive(Debug)]
pub struct WriteMark {
    generation: Arc<Generation>,
    /// The stamp just after this write began.
    began: u64,
    finished: bool,
}

impl WriteMark {
    /// The write's transaction has committed or rolled back: nothing more of it can land.
    pub fn finish(mut self) {
        self.finished = true;
        let g = &self.generation;
        let abandoned = g.abandoned.load(Ordering::SeqCst);
        if abandoned != 0 && self.began > abandoned {
            // Began after the abandoned write's statements were sent, so ran after them.
            let _ = g
                .abandoned
                .compare_exchange(abandoned, 0, Ordering::SeqCst, Ordering::SeqCst);
        }
        // `drop` ends it.
    }
}

impl Drop for WriteMark {
    fn drop(&mut self) {
        let g = &self.generation;
        if !self.finished {
            // Possibly still to commit: unstable until a write begun after now finishes. Set
            // before the stamp moves, so no reader sees the new stamp as stable meanwhile.
            let now = g.stamp.load(Ordering::SeqCst);
            g.abandoned.fetch_max(now, Ordering::SeqCst);
        }
        // One more ended, one fewer in progress: the stamp grows by ENDED - 1.
        g.stamp.fetch_add(IN_PROGRESS, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_in_progress_hides_the_stamp_and_its_end_changes_it() {
        let g = Arc::new(Generation::default());
        let before = g.stable().expect("nothing in progress");
        let a = g.begin();
        assert_eq!(g.stable(), None);
        let b = g.begin();
        a.finish();
        assert_eq!(g.stable(), None, "b is still in progress");
        b.finish();
        let after = g.stable().expect("nothing in progress");
        assert!(after > before);
        g.begin().finish();
        assert!(g.stable().expect("nothing in progress") > after);
    }

    #[test]
    fn an_abandoned_write_hides_the_stamp_until_a_later_write_finishes() {
        let g = Arc::new(Generation::default());
        let earlier = g.begin();
        drop(g.begin()); // cancelled: its commit may still land
        assert_eq!(g.stable(), None);
        earlier.finish(); // began before the abandoned one: proves nothing
        assert_eq!(g.stable(), None);
        g.begin().finish();
        assert!(g.stable().is_some());
    }
}
