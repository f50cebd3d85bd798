//! The DSMR family: the Dutch smart-meter requirements, P2 port (DSMR P2 v4.2.2, the M-Bus
//! companion standard between the E-meter and gas/water/heat meters).
//!
//! - [`mode15`]: "encryption method code 15" (DSMR P2 §5): AES-128-CBC with the frame-counter
//!   IV, and the user-key transport of Appendix B.1.1.
//!
//! Later, in their own issue: the P2 commands, key exchange and installation procedures.
//! The family depends on [`crate::crypto`] and the meter address type
//! ([`crate::mbus::tpl::Address`]) only, never on the M-Bus decode; the M-Bus security layer
//! calls [`mode15`] for TPL security mode 15.

pub mod mode15;

#[cfg(test)]
mod tests;
