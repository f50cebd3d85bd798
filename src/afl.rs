//! EN 13757-7 clause 6: authentication and fragmentation layer (AFL), CI 0x90.
