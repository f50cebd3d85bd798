//! EN 13757-7 / EN 13757-4 extended link layer (ELL), CI 0x8C-0x8F and 0x86.
