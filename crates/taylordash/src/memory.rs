//! How the process uses the C heap.
//!
//! glibc gives every thread that finds the heap busy an arena of its own (up to eight per
//! core), and memory freed into an arena stays with it. The server's threads (the runtime's
//! workers, blocking threads, one thread per SQLite connection) each ended up with one: under
//! ten minutes of mixed load RSS grew by a third after the first minute and peaked at 137 MB,
//! although the live heap never passed 44 MB (`bench/soak.py`, docs/benchmarks.md "Memory
//! soak"). With the arenas capped at the core count RSS stays within 11 % of its first-minute
//! figure and peaks at 74 MB.
//!
//! glibc reads the cap (`MALLOC_ARENA_MAX`) only when the process starts, so the process
//! starts itself once more with it set — before any thread exists — unless the operator set
//! it already. A failed re-execution only loses the cap.
//!
//! Even within the capped arenas glibc keeps what was freed (it returns only the top of the
//! main heap, and only past a threshold), so a start or a burst of load left RSS a fifth above
//! what the live heap needed. [`release_free_memory`] hands free pages back (`malloc_trim`):
//! once when startup is done, after every busy spell once the process has gone quiet, and
//! now and then while it stays quiet ([`trim_after_busy_spells`], which tells busy from quiet
//! by the process's CPU time). It never trims while the process is busy: `malloc_trim` takes
//! each arena's lock in turn.

use std::time::Duration;

const ARENA_MAX: &str = "MALLOC_ARENA_MAX";

/// How often the process's CPU time is sampled to tell busy spells from quiet ones.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// An interval counts as busy when the process used more than this share of one core in it
/// (in per cent). Idle, the server's own timers use well under 1 %.
const BUSY_SHARE_PERCENT: u64 = 5;

/// `/proc` reports CPU time in `USER_HZ` ticks: 100 a second in every Linux ABI.
const TICKS_PER_SECOND: u64 = 100;

/// Re-executes this program with the arena cap set, if glibc is the allocator and the cap is
/// not set yet. Returns only when it did not re-execute. Call first thing in `main`.
pub fn cap_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os(ARENA_MAX).is_some() {
            return;
        }
        let Ok(program) = std::env::current_exe() else {
            return;
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        // `exec` replaces this process (same pid) and returns only on failure.
        let _failed = std::process::Command::new(program)
            .args(std::env::args_os().skip(1))
            .env(ARENA_MAX, arena_cap(cores).to_string())
            .exec();
    }
}

/// One arena per core, at least two and at most eight.
fn arena_cap(cores: usize) -> usize {
    cores.clamp(2, 8)
}

/// Returns the heap's free pages to the operating system. Takes each arena's lock while it
/// walks it (a few milliseconds): call it on a blocking thread, and not while busy.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: `malloc_trim` takes no pointers and touches only glibc's own heap, under the
    // arenas' locks; it is safe to call from any thread at any time. Its result (whether
    // anything was released) is not needed.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return memory on their own terms: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}

/// Decides when to return freed memory: on the first quiet interval after a busy spell, and
/// every [`RETRIM_EVERY`] intervals while it stays quiet (memory freed by housekeeping, such
/// as the database connections the load opened closing at the end of their lifetime). Never
/// while busy. The process's start counts as a busy spell.
#[derive(Debug)]
pub struct TrimPolicy {
    busy_ticks: u64,
    /// Quiet intervals since the last busy one.
    quiet: u32,
}

/// Quiet intervals between trims after the first one. Housekeeping while quiet (database
/// connections reaching their lifetime and reopening, the outbox relay's polls) frees and
/// allocates a megabyte or so between trims; trimming every 5 s keeps RSS near the live heap.
/// Quiet means under 5 % of a core, so little traffic meets a trim holding an arena's lock.
pub const RETRIM_EVERY: u32 = 5;

impl TrimPolicy {
    /// A policy for CPU time sampled every `interval`.
    pub fn new(interval: Duration) -> TrimPolicy {
        let interval_ticks = interval.as_millis() as u64 * TICKS_PER_SECOND / 1000;
        TrimPolicy {
            busy_ticks: interval_ticks * BUSY_SHARE_PERCENT / 100,
            quiet: 0,
        }
    }

    /// Takes the CPU ticks the process used in the last interval; says whether to trim now.
    pub fn observe(&mut self, ticks: u64) -> bool {
        if ticks > self.busy_ticks {
            self.quiet = 0;
            return false;
        }
        self.quiet = self.quiet.saturating_add(1);
        (self.quiet - 1).is_multiple_of(RETRIM_EVERY)
    }
}

/// User plus system CPU time of the whole process, in ticks, from the text of
/// `/proc/self/stat` (fields 14 and 15, counted after the command name, which may hold
/// spaces and parentheses).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

fn process_cpu_ticks() -> Option<u64> {
    cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Watches the process's CPU time and returns freed memory after busy spells (see
/// [`TrimPolicy`]); the trim runs on a blocking thread of `tracker`, so shutdown waits for
/// it. Returns at once where there is nothing to trim or no `/proc` to watch.
pub async fn trim_after_busy_spells(tracker: tokio_util::task::TaskTracker) {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let Some(mut last) = process_cpu_ticks() else {
        return;
    };
    let mut policy = TrimPolicy::new(SAMPLE_INTERVAL);
    let mut ticker = tokio::time::interval(SAMPLE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(now) = process_cpu_ticks() else {
            return;
        };
        let used = now.saturating_sub(last);
        last = now;
        if policy.observe(used) {
            let _ = tracker.spawn_blocking(release_free_memory).await;
            tracing::debug!("returned freed memory to the operating system");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second at 10 % of a core, at 5 %, at 0.
    const BUSY: u64 = 10;
    const EDGE: u64 = 5;
    const QUIET: u64 = 0;

    /// How many of the next `n` observations of `ticks` trim.
    fn trims(policy: &mut TrimPolicy, ticks: u64, n: u32) -> Vec<bool> {
        (0..n).map(|_| policy.observe(ticks)).collect()
    }

    #[test]
    fn trims_on_the_first_quiet_interval_after_a_busy_spell_then_now_and_then() {
        let mut policy = TrimPolicy::new(Duration::from_secs(1));
        // The start is a busy spell: the first quiet second trims, then every 5th.
        let quiet = trims(&mut policy, QUIET, 11);
        let at: Vec<usize> = (0..11).filter(|&i| quiet[i]).collect();
        assert_eq!(at, [0, 5, 10]);
        // Never while busy, however long it lasts.
        assert!(trims(&mut policy, BUSY, 40).iter().all(|t| !t));
        assert!(policy.observe(EDGE), "5 % of a core is still quiet");
        assert_eq!(trims(&mut policy, EDGE, 4), [false; 4]);
        assert!(policy.observe(QUIET));
        // A busy second restarts the count: the next quiet one trims at once.
        assert!(!policy.observe(QUIET));
        assert!(!policy.observe(EDGE + 1));
        assert!(policy.observe(QUIET));
    }

    #[test]
    fn the_busy_threshold_scales_with_the_interval() {
        let mut policy = TrimPolicy::new(Duration::from_secs(2));
        assert!(policy.observe(QUIET));
        assert!(
            !policy.observe(BUSY),
            "10 ticks in 2 s is 5 %: quiet, not yet due"
        );
        assert!(!policy.observe(BUSY + 1));
        assert!(policy.observe(BUSY));
    }

    #[test]
    fn reads_user_and_system_time_after_the_command_name() {
        // A command name with spaces and a parenthesis, as `/proc/self/stat` may show it.
        let stat = "4242 (tay (lor) dash) S 1 4242 4242 0 -1 4194560 1545 0 0 0 \
                    731 129 0 0 20 0 9 0 12345 1000000 4000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(731 + 129));
        assert_eq!(cpu_ticks("4242 (taylordash) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis at all"), None);
    }

    #[test]
    fn this_process_has_a_cpu_time() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_ticks().is_some());
        }
    }

    #[test]
    fn one_arena_per_core_within_bounds() {
        assert_eq!(arena_cap(1), 2);
        assert_eq!(arena_cap(2), 2);
        assert_eq!(arena_cap(6), 6);
        assert_eq!(arena_cap(64), 8);
    }
}
