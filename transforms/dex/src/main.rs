//! `raw.dex` → `dex.swaps` (output 0), refused records → `raw.dex.quarantine` (output 1).

#[cfg(target_arch = "wasm32")]
fn main() {
    tickwatch_transform_shell::run(tickwatch_transform_core::dex::DexNormalizer::new);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("tw-dex is a Redpanda data transform: build it with `make transforms` (target wasm32-wasip1)");
    std::process::exit(2);
}
