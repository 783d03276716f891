//! The allocator settings every stage starts with (glibc): a large buffer is its own mapping
//! and goes back to the system when freed, the tenth time as the first. (A test binary of
//! its own: the allocator's counters are the whole process's.)

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_freed_large_buffer_goes_back_every_time_not_only_the_first() {
    tickwatch_runtime::memory::tune_allocator();
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let mapped = || unsafe { libc::mallinfo2() }.hblkhd;
    const MIB: usize = 1 << 20;
    for round in 0..10 {
        let before = mapped();
        let buffer = std::hint::black_box(vec![1u8; MIB]);
        assert!(mapped() >= before + MIB, "round {round}: a 1 MiB buffer is a mapping of its own");
        drop(buffer);
        assert!(mapped() < before + MIB, "round {round}: and it is unmapped when freed");
    }
}
