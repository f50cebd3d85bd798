//! Key derivation function A (EN 13757-7 §9.6.2) for the TPL modes 7–10: the primitive is
//! [`crate::crypto::kdf`]; this path is kept for the encoder and the pipeline.

pub use crate::crypto::kdf::{kdf_a, kdf_a_pair, DerivationConstant};
