//! AES-128 key schedules (FIPS 197 §5.2) and a small per-thread cache of expanded keys.

use aes::cipher::KeyInit;
pub use aes::Aes128;

use super::Key;

/// Expand `key` into an AES-128 cipher (no cache).
#[inline]
pub fn aes(key: &Key) -> Aes128 {
    Aes128::new(key.into())
}

/// Run `f` with the expanded `key`, taken from a small per-thread cache: bulk decoding
/// meets the same meter keys again and again, and expanding a key costs about as much as
/// decrypting a short telegram. (The expanded keys stay in the cache as they would stay in
/// freed memory: `aes` does not wipe them either.)
pub fn with_aes<R>(key: &Key, f: impl FnOnce(&Aes128) -> R) -> R {
    use std::cell::RefCell;
    const WAYS: usize = 4;
    type Ways = (usize, [Option<(Key, Aes128)>; WAYS]);
    thread_local! {
        static CACHE: RefCell<Ways> = const { RefCell::new((0, [None, None, None, None])) };
    }
    CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            // Re-entered from `f` (not done today): no cache.
            return f(&aes(key));
        };
        let (next, ways) = &mut *cache;
        if let Some((_, cipher)) = ways.iter().flatten().find(|(k, _)| k == key) {
            return f(cipher);
        }
        let slot = *next;
        *next = (slot + 1) % WAYS;
        let (_, cipher) = ways[slot].insert((*key, aes(key)));
        f(cipher)
    })
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    use aes::cipher::array::Array;

    /// FIPS-197 Appendix C.1 (AES-128): key 000102..0F, plaintext 00112233..FF.
    const FIPS_KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const FIPS_PLAIN: [u8; 16] =
        [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF];
    const FIPS_CIPHER: [u8; 16] =
        [0x69, 0xC4, 0xE0, 0xD8, 0x6A, 0x7B, 0x04, 0x30, 0xD8, 0xCD, 0xB7, 0x80, 0x70, 0xB4, 0xC5, 0x5A];

    fn encrypt(c: &Aes128, block: [u8; 16]) -> [u8; 16] {
        use aes::cipher::BlockCipherEncrypt;
        let mut b = Array::from(block);
        c.encrypt_block(&mut b);
        b.into()
    }

    #[test]
    fn cached_keys_are_the_right_keys_across_evictions() {
        // More keys than ways, visited in turn twice: every lookup after an eviction must
        // give that key's schedule, never a neighbour's.
        let keys: Vec<[u8; 16]> = (0u8..7).map(|k| std::array::from_fn(|i| if k == 0 { i as u8 } else { k ^ (i as u8) << 4 })).collect();
        for _ in 0..2 {
            for k in &keys {
                let got = with_aes(k, |c| encrypt(c, FIPS_PLAIN));
                assert_eq!(got, encrypt(&aes(k), FIPS_PLAIN));
            }
        }
        assert_eq!(keys[0], FIPS_KEY);
        assert_eq!(with_aes(&FIPS_KEY, |c| encrypt(c, FIPS_PLAIN)), FIPS_CIPHER);
    }
}
