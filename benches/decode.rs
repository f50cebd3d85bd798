//! Criterion benchmarks of the frame + record decoder (filled in below).
fn main() {}
