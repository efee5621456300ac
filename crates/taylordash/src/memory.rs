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

const ARENA_MAX: &str = "MALLOC_ARENA_MAX";

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

#[cfg(test)]
mod tests {
    #[test]
    fn one_arena_per_core_within_bounds() {
        assert_eq!(super::arena_cap(1), 2);
        assert_eq!(super::arena_cap(2), 2);
        assert_eq!(super::arena_cap(6), 6);
        assert_eq!(super::arena_cap(64), 8);
    }
}
