//! Giving freed memory back to the system.

/// Set glibc's allocator up for a process that runs for days; call it first thing in
/// `main`, before any thread starts.
///
/// - At most two arenas (glibc's default is eight per core): every arena keeps its own free
///   pages, and the threads of a stage (tokio's workers, its blocking pool whose threads
///   come and go, librdkafka's) otherwise spread their small allocations over many of
///   them, each holding pages a trim cannot return while one small chunk in them lives.
/// - A fixed mmap threshold of 128 KiB: glibc raises the threshold up to 32 MiB each time a
///   mapped block is freed, so after the first large buffer (a produce wave, a batch of a
///   catch-up) every later one of that size is carved out of the heap, where it fragments
///   it for good. Fixed, a large buffer is its own mapping and goes back when freed.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt takes two integers and changes only the allocator's parameters.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

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
