//! `raw.reference` → `reference` (output 0), refused records → `raw.reference.quarantine` (output 1).

#[cfg(target_arch = "wasm32")]
fn main() {
    tickwatch_transform_shell::run(tickwatch_transform_core::reference::ReferenceNormalizer::new);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("tw-reference is a Redpanda data transform: build it with `make transforms` (target wasm32-wasip1)");
    std::process::exit(2);
}
