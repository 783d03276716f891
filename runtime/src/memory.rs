//! Giving freed memory back to the system.

/// Hand the allocator's free pages back to the system. glibc keeps in its arenas what a
/// burst allocated and freed (a writer catching up on a backlog fills batches of its largest
/// size), so without this a process stays at the resident size of its largest burst for the
/// rest of its life, whatever it holds afterwards.
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers; it only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often [`release_free_every`] gives memory back: rare enough to cost nothing (one
/// walk of the free lists), often enough that a burst's memory is back within a minute.
pub const RELEASE_PERIOD: std::time::Duration = std::time::Duration::from_secs(30);

/// Give freed memory back every `period`, on a thread of its own, for the life of the
/// process. Any burst (a reconnect's replay, a backlog after a stall, a busy neighbour on the
/// same cores) leaves freed pages in glibc's per-thread arenas, which only a trim returns;
/// the stages cannot tell every burst apart from normal work, so they trim on a clock.
pub fn release_free_every(period: std::time::Duration) {
    let spawned = std::thread::Builder::new().name("memory-release".into()).spawn(move || loop {
        std::thread::sleep(period);
        release_free();
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the memory-release thread; freed memory stays with the allocator");
    }
}
