//! The errors of bulk decoding and of the writers: typed, each wrapping the library error it
//! comes from. Their `Display` texts are the messages users see (the Python binding adds the
//! operation's context, e.g. "cannot write Parquet: ").

use std::fmt;

use arrow_schema::{ArrowError, DataType};
use parquet::errors::ParquetError;

/// What went wrong while decoding into, transforming or writing Arrow tables.
#[derive(Debug)]
pub enum Error {
    /// An Arrow operation failed (cast, JSON encoding, assembling a record batch).
    Arrow(ArrowError),
    /// Parquet encoding failed (never an I/O failure: those are [`Error::Io`]).
    Parquet(ParquetError),
    /// The output could not be created or written.
    Io(Box<dyn std::error::Error + Send + Sync>),
    /// A rayon thread pool could not be built.
    ThreadPool(rayon::ThreadPoolBuildError),
    /// A metadata column whose length differs from the number of frames.
    MetadataLength {
        /// The column's name.
        name: String,
        /// Its number of rows.
        rows: usize,
        /// The number of frames.
        frames: usize,
    },
    /// A metadata column that ends before the frames of a stream do.
    MetadataShort {
        /// The column's name.
        name: String,
    },
    /// Two decoded batches carry different telegram schemas (metadata columns).
    SchemaMismatch,
    /// A column the operation needs is not in the table.
    MissingColumn(&'static str),
    /// The input has no column of the requested name.
    NoSuchColumn(String),
    /// No column was named and none is recognisably the frame column.
    AmbiguousFrames,
    /// The frame column has a type that holds no frames.
    FrameType(DataType),
    /// The leaf columns of a batch do not match the Parquet schema.
    LeafMismatch,
    /// The Parquet writer was closed already.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arrow(e) => e.fmt(f),
            Error::Parquet(e) => e.fmt(f),
            Error::Io(e) => e.fmt(f),
            Error::ThreadPool(e) => e.fmt(f),
            Error::MetadataLength { name, rows, frames } => {
                write!(f, "metadata column {name:?} has {rows} rows, the frames {frames}")
            }
            Error::MetadataShort { name } => write!(f, "metadata column {name:?} is shorter than the frames"),
            Error::SchemaMismatch => f.write_str("the batches carry different metadata columns"),
            Error::MissingColumn(name) => write!(f, "no {name} column"),
            Error::NoSuchColumn(name) => write!(f, "no column {name:?} in the input"),
            Error::AmbiguousFrames => f.write_str(
                "cannot tell which column holds the frames: pass column=... (a column named 'frame' is used by default)",
            ),
            Error::FrameType(t) => {
                write!(f, "frames must be an Arrow binary, large_binary, binary_view or (hex) string array, not {t}")
            }
            Error::LeafMismatch => f.write_str("leaf columns do not match the schema"),
            Error::Closed => f.write_str("the Parquet writer is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Arrow(e) => Some(e),
            Error::Parquet(e) => Some(e),
            Error::Io(e) => Some(e.as_ref()),
            Error::ThreadPool(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Self {
        Error::Arrow(e)
    }
}

impl From<ParquetError> for Error {
    /// I/O failures reported through the parquet crate (`External`) become [`Error::Io`].
    fn from(e: ParquetError) -> Self {
        match e {
            ParquetError::External(e) => Error::Io(e),
            e => Error::Parquet(e),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Box::new(e))
    }
}

impl From<rayon::ThreadPoolBuildError> for Error {
    fn from(e: rayon::ThreadPoolBuildError) -> Self {
        Error::ThreadPool(e)
    }
}
