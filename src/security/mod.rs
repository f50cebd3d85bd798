//! EN 13757-7 security services: security modes, key derivation, MACs.
