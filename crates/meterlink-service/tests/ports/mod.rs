//! Ports for the listeners the tests start (the service's MQTT broker and HTTP intake, brokers).
//!
//! A port found by binding port 0 is an *ephemeral* port: between that probe and the service's
//! own bind, the kernel may hand the same port to any outgoing connection (every MQTT or HTTP
//! client of a test running in parallel takes one), and the service then fails with "address in
//! use" — seen in fresh-clone CI runs. Ports below the ephemeral range (Linux's default is
//! 32768–60999) are never handed out that way, so these come from 20000–31999: a start that
//! depends on the process id (test binaries and pytest run side by side), then a counter, each
//! port checked free when it is taken.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

const LOW: u32 = 20_000;
const SPAN: u32 = 12_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port nobody listens on now, outside the ephemeral range.
pub fn free_port() -> u16 {
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let port = (LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}..{}", LOW + SPAN);
}
