//! A generator of realistic DSMR P2 traffic (issue 14 §5): many E-meters with up to four
//! M-Bus devices each, hourly values that increase plausibly, encrypted with per-device keys.
//! (Implemented by the simulator worker.)
