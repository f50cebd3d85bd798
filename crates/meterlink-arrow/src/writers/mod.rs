//! File writers of decoded tables: Parquet ([`ParquetWriter`]) and JSON lines ([`write_jsonl`]).
//! Both encode in parallel on rayon; neither needs Python.

mod jsonl;
mod parquet;

pub use self::jsonl::{encode_jsonl, write_jsonl};
pub use self::parquet::ParquetWriter;
