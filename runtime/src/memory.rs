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
