//! Tables of record batches and their transformations: conformance to a schema, the nested
//! `list<struct>` layout of telegrams with their records, and the split of an input table into
//! its frame column and metadata columns.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, FieldRef, Schema, SchemaRef};

use crate::{telegram_schema, DecodedBatch, Error};

/// A schema and record batches of that schema: one of the tables of a [`DecodedBatch`], or one
/// derived from them.
#[derive(Clone, Debug)]
pub struct Table {
    /// The schema every batch has.
    pub schema: SchemaRef,
    /// The record batches, in row order.
    pub batches: Vec<RecordBatch>,
}

impl Table {
    /// A table of `batches` with `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table { schema, batches }
    }

    /// Rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// This table with the columns of `schema` (see [`conform`]).
    pub fn conform(&self, schema: &SchemaRef) -> Result<Table, Error> {
        let batches = self.batches.iter().map(|b| conform(b, schema)).collect::<Result<Vec<_>, _>>()?;
        Ok(Table { schema: schema.clone(), batches })
    }
}

impl DecodedBatch {
    /// The telegram table.
    pub fn telegram_table(&self) -> Table {
        Table::new(self.telegram_schema.clone(), self.telegrams.clone())
    }

    /// The record table.
    pub fn record_table(&self) -> Table {
        Table::new(self.record_schema.clone(), self.records.clone())
    }
}

/// `b` with the columns of `schema`, by name: missing ones null, others cast where the type
/// differs, extra ones dropped. For writers whose file has one schema while later batches
/// carry other metadata columns.
pub fn conform(b: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, Error> {
    if b.schema().fields() == schema.fields() {
        return Ok(RecordBatch::try_new(schema.clone(), b.columns().to_vec())?);
    }
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match b.column_by_name(f.name()) {
            Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
            Some(c) => arrow_cast::cast(c, f.data_type()),
            None => Ok(arrow_array::new_null_array(f.data_type(), b.num_rows())),
        })
        .collect::<Result<_, _>>()?;
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}

/// The telegram table with a `records` column holding each telegram's records
/// (`list<struct>`, the record columns without `frame_index`), cut by `record_count`.
pub fn nest(b: &DecodedBatch) -> Result<Table, Error> {
    let rec_fields: Vec<FieldRef> = b.record_schema.fields().iter().skip(1).cloned().collect();
    let item = Arc::new(Field::new_struct("item", rec_fields.clone(), true));
    let list_field = Arc::new(Field::new("records", DataType::List(item.clone()), false));
    let mut fields: Vec<FieldRef> = b.telegram_schema.fields().iter().cloned().collect();
    fields.push(list_field);
    let schema = Arc::new(Schema::new(fields));
    let mut out = Vec::with_capacity(b.telegrams.len());
    for (t, r) in b.telegrams.iter().zip(&b.records) {
        let counts = t.column_by_name("record_count").ok_or(Error::MissingColumn("record_count"))?.as_primitive::<UInt32Type>();
        let offsets = OffsetBuffer::<i32>::from_lengths(counts.values().iter().map(|&c| c as usize));
        let values = StructArray::try_new(rec_fields.clone().into(), r.columns()[1..].to_vec(), None)?;
        let list = ListArray::try_new(item.clone(), offsets, Arc::new(values), None)?;
        let mut cols = t.columns().to_vec();
        cols.push(Arc::new(list));
        out.push(RecordBatch::try_new(schema.clone(), cols)?);
    }
    Ok(Table { schema, batches: out })
}

/// Types a frame column may have: binary (bytes) or string (hex), any offset width or view.
fn is_frames(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// Split a struct (table-like) chunk into the frame column and the metadata columns; any
/// other array is the frame column itself. The frame column is `column`, else the one named
/// `frame`, `telegram`, `hex` or `data`, else the only binary or string column. Metadata columns
/// whose names the telegram table uses already (or `index`) are renamed `input_<name>`.
pub fn split_frames(a: &ArrayRef, column: Option<&str>) -> Result<(ArrayRef, Vec<(FieldRef, ArrayRef)>), Error> {
    let DataType::Struct(fields) = a.data_type() else {
        return Ok((a.clone(), Vec::new()));
    };
    let s = a.as_struct();
    let pos = match column {
        Some(c) => fields.iter().position(|f| f.name() == c).ok_or_else(|| Error::NoSuchColumn(c.to_string()))?,
        None => {
            let named = fields.iter().position(|f| ["frame", "telegram", "hex", "data"].contains(&f.name().as_str()));
            let binary: Vec<usize> =
                fields.iter().enumerate().filter(|(_, f)| is_frames(f.data_type())).map(|(i, _)| i).collect();
            match (named, binary.as_slice()) {
                (Some(p), _) => p,
                (None, [p]) => *p,
                _ => return Err(Error::AmbiguousFrames),
            }
        }
    };
    let meta = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != pos)
        .map(|(i, f)| {
            let name = if f.name() == "index" || telegram_schema().field_with_name(f.name()).is_ok() {
                format!("input_{}", f.name())
            } else {
                f.name().clone()
            };
            (Arc::new(Field::new(name, f.data_type().clone(), true)) as FieldRef, s.column(i).clone())
        })
        .collect();
    Ok((s.column(pos).clone(), meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{hex, GAS, HEAT_20};
    use crate::{decode_batch, BatchOptions, FrameItem};
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::{BinaryArray, Int32Array, StringArray};
    use meterlink::keys::NoKeys;

    fn table(fields: Vec<Field>, cols: Vec<ArrayRef>) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    #[test]
    fn conform_nulls_missing_casts_and_drops() {
        let b = table(
            vec![Field::new("a", DataType::Int32, true), Field::new("extra", DataType::Utf8, true)],
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["x", "y"]))],
        );
        let target: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("b", DataType::Utf8, true),
            Field::new("a", DataType::Int64, true),
        ]));
        let c = conform(&b, &target).unwrap();
        assert_eq!(c.schema(), target);
        assert_eq!(c.column(0).null_count(), 2);
        assert_eq!(c.column(1).as_primitive::<Int64Type>().values().to_vec(), vec![1, 2]);
        // Same fields: the columns are kept as they are.
        let same = conform(&b, &b.schema()).unwrap();
        assert!(Arc::ptr_eq(same.column(1), b.column(1)));
        // A value that does not cast is an Arrow error.
        let bad = table(vec![Field::new("a", DataType::Utf8, true)], vec![Arc::new(StringArray::from(vec!["x"]))]);
        let strict: SchemaRef = Arc::new(Schema::new(vec![Field::new("a", DataType::Struct(arrow_schema::Fields::empty()), true)]));
        assert!(matches!(conform(&bad, &strict), Err(Error::Arrow(_))));
        let t = Table::new(b.schema(), vec![b.clone(), b.clone()]).conform(&target).unwrap();
        assert_eq!((t.num_rows(), t.schema), (4, target));
    }

    #[test]
    fn nest_puts_each_telegrams_records_in_its_row() {
        let gas = hex(GAS);
        let heat = hex(HEAT_20);
        let items = [FrameItem::Bytes(&gas), FrameItem::Bytes(&[1, 2]), FrameItem::Bytes(&heat)];
        let b = decode_batch(&items[..], &NoKeys, &BatchOptions::default(), &[]).unwrap();
        let t = nest(&b).unwrap();
        assert_eq!(t.schema.fields().len(), b.telegram_schema.fields().len() + 1);
        let list = t.batches[0].column_by_name("records").unwrap().as_list::<i32>();
        assert_eq!((list.value_length(0), list.value_length(1), list.value_length(2)), (3, 0, 20));
        let first = list.value(0);
        let rec = first.as_struct();
        assert!(rec.column_by_name("frame_index").is_none());
        let v = rec.column_by_name("value").unwrap().as_primitive::<Float64Type>();
        assert!((v.value(0) - 28504.27).abs() < 1e-9);
        let mut no_count = b.clone();
        no_count.telegrams = vec![table(vec![Field::new("x", DataType::Int32, true)], vec![Arc::new(Int32Array::from(vec![1]))])];
        assert!(matches!(nest(&no_count), Err(Error::MissingColumn("record_count"))));
    }

    #[test]
    fn split_frames_finds_the_frame_column() {
        let s: ArrayRef = Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("status", DataType::Utf8, true)), Arc::new(StringArray::from(vec!["s"])) as ArrayRef),
            (Arc::new(Field::new("raw", DataType::Binary, true)), Arc::new(BinaryArray::from(vec![&[1u8][..]])) as ArrayRef),
            (Arc::new(Field::new("n", DataType::Int32, true)), Arc::new(Int32Array::from(vec![7])) as ArrayRef),
        ]));
        // Two string/binary columns, none named: ambiguous; the only binary one when named.
        assert!(matches!(split_frames(&s, None), Err(Error::AmbiguousFrames)));
        let (frames, meta) = split_frames(&s, Some("raw")).unwrap();
        assert_eq!(frames.data_type(), &DataType::Binary);
        let names: Vec<&str> = meta.iter().map(|(f, _)| f.name().as_str()).collect();
        assert_eq!(names, ["input_status", "n"]);
        assert_eq!(split_frames(&s, Some("nope")).unwrap_err().to_string(), "no column \"nope\" in the input");
        let plain: ArrayRef = Arc::new(BinaryArray::from(vec![&[1u8][..]]));
        let (frames, meta) = split_frames(&plain, None).unwrap();
        assert!(Arc::ptr_eq(&frames, &plain) && meta.is_empty());
    }
}
