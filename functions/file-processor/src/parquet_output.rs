//! Streaming CSV -> typed Parquet conversion of one file, in memory bounded by the row group size
//! whatever the file size, on two cores:
//!
//! - the caller's task feeds the source bytes to the core's `CsvValidator`, which checks the
//!   CSV's structure and hands each record's fields, as text, to a [`TextBatch`]; full batches
//!   go to the encoder thread through a bounded channel;
//! - the encoder thread parses every field as its column's type (`csv_check::parse_field`: the
//!   validator's own parse and error text) into typed Arrow columns ([`BatchBuilder`]) and writes
//!   the record batches with parquet-rs' `ArrowWriter`, which closes a row group at
//!   `row_group_rows` rows or `row_group_bytes` encoded bytes (it holds one row group in
//!   memory), into a [`PartWriter`] that cuts the file into upload parts of `part_size` bytes,
//!   staged in temporary files ([`crate::staged_part`]: no part is held in memory), and hands
//!   each to the caller (bounded channel) as soon as it is complete.
//!
//! The split puts about half the work on each core (splitting + UTF-8 and quoting checks on
//! one; type parsing + encoding + compression on the other): with the typed parse on the feeding
//! thread, that thread was the bottleneck and the encoder idled a third of the time. Errors
//! stay the CSV path's, in file order: the feeding side sends its error after the fields before
//! it, and the encoder reports a type error in those fields first.
//!
//! Types: string/varchar -> Utf8, tinyint/smallint/int/bigint -> Int8/Int16/Int32/Int64,
//! float/double -> Float32/Float64, boolean, date -> Date32, timestamp ->
//! Timestamp(Millisecond, no zone), decimal(p,s) -> Decimal128(p,s).
//!
//! - Timestamps are written in milliseconds because Athena and Glue handle only millisecond
//!   precision; finer fractions are rounded half up to the millisecond, which is what
//!   `CAST(x AS timestamp)` (Trino's timestamp(3)) gives for the same text on the CSV table.
//! - Decimals: parquet-rs stores Decimal128 with precision <= 9 as INT32, <= 18 as INT64, else
//!   FIXED_LEN_BYTE_ARRAY, all annotated DECIMAL(p,s), as the Parquet spec allows
//!   (<https://github.com/apache/parquet-format/blob/master/LogicalTypes.md#decimal>). Athena
//!   engine v3 is Trino, whose Parquet reader reads INT32/INT64-backed decimals
//!   (trinodb/trino#1949, #16938, #22546); Spark and Glue ETL write the same encoding. (Apache Hive
//!   itself reads only the byte-array form, trinodb/trino#12658: irrelevant to Athena.)
//! - Empty fields: the validator's rules hold unchanged: empty is an empty string for
//!   string/varchar and an error for every other type. No NULLs are written: a Parquet reader
//!   would accept them, but keeping the rule identical for both formats means a file is valid
//!   or not whatever the entity's format, and changing an entity's format never turns rejected
//!   files into NULL rows. Columns are still declared nullable (OPTIONAL), as Hive, Spark and
//!   Athena's own CTAS write them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow_array::builder::StringBuilder;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, Int8Array, RecordBatch, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use pipeline_core::config::{Column, Entity, ParquetCompression, ParquetOptions};
use pipeline_core::csv_check::{self, CsvError, CsvStats, CsvValidator, RecordSink};
use pipeline_core::schema::{ColumnType, Value};
use tokio::sync::mpsc;

use crate::staged_part::{PartFile, StagedPart};

/// Content type of the Parquet outputs (IANA: application/vnd.apache.parquet).
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";
/// Rows per Arrow batch handed to the encoder (whichever of this and [`BATCH_TEXT_BYTES`] first).
/// 16 Ki rather than 32 Ki rows keeps more per-batch buffers (values, offsets, levels) under the
/// function's 192 KiB `MALLOC_MMAP_THRESHOLD_` (shared/pipeline.json), where glibc reuses them
/// from its heap instead of mapping and faulting them in per batch: a 64 MiB and a 1 GiB sales
/// CSV peaked at 25.0 and 26.2 MiB at 16 Ki rows, 26.3 and 28.0 MiB at 32 Ki, in 5.70 against
/// 5.80 s for the 1 GiB file (medians of three runs).
const BATCH_ROWS: usize = 16 * 1024;
/// Text bytes per Arrow batch: bounds a batch of long strings.
const BATCH_TEXT_BYTES: usize = 4 * 1024 * 1024;
/// Records per [`TextBatch`] sent from the feeding thread to the encoder (or
/// [`TEXT_BATCH_BYTES`] of text): smaller than an Arrow batch, because up to four are alive at
/// once (filled, queued, parsed) and each holds the text plus one offset per field.
const TEXT_BATCH_ROWS: usize = 8 * 1024;
const TEXT_BATCH_BYTES: usize = 1024 * 1024;
/// Field batches queued for the encoder. Four small ones absorb the encoder's bursts (a row
/// group's close) better than two large ones: 256 MiB of sales rows took 1.42 s with 4 x 8 Ki
/// rows, 1.47 s with 2 x 8 Ki, 1.66 s with 2 x 32 Ki (peak RSS 50, 47, 54 MiB; medians of
/// three runs on this 2-core machine).
const BATCHES_IN_FLIGHT: usize = 4;
/// Encoded parts queued for the uploader.
const PARTS_QUEUED: usize = 1;
/// Largest slice of input fed to the validator at once (batches are sent between slices).
const FEED_BYTES: usize = 64 * 1024;

/// Why a conversion failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// The input is not a valid file of the entity: exactly the CSV path's error.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// Arrow or Parquet refused the data (a bug, not the input's fault).
    #[error("converting to Parquet failed: {0}")]
    Encode(String),
    /// The other side of the pipeline stopped (its own error is the one to report).
    #[error("the Parquet {0} stopped")]
    Stopped(&'static str),
    /// The encoder thread could not be started.
    #[error("cannot start the Parquet encoder thread: {0}")]
    Spawn(String),
    /// A part could not be staged in its temporary file (the disk, not the input).
    #[error("staging a Parquet part in a temporary file failed: {0}")]
    Staging(String),
}

/// One piece of the encoded file, in order, staged in a temporary file.
#[derive(Debug)]
pub enum EncodedPart {
    /// Exactly `part_size` bytes.
    Full(StagedPart),
    /// The rest of the file, footer included (shorter than `part_size`); `None` only if the
    /// file ended exactly on a part boundary.
    Last(Option<StagedPart>),
}

/// The Arrow schema of an entity's Parquet output.
pub fn arrow_schema(entity: &Entity) -> SchemaRef {
    let fields: Vec<Field> = entity
        .schema
        .iter()
        .map(|column| Field::new(&column.name, arrow_type(column.column_type), true))
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Arrow type of a column type (module doc: the mapping).
pub fn arrow_type(column_type: ColumnType) -> DataType {
    match column_type {
        ColumnType::String | ColumnType::Varchar(_) => DataType::Utf8,
        ColumnType::Tinyint => DataType::Int8,
        ColumnType::Smallint => DataType::Int16,
        ColumnType::Int => DataType::Int32,
        ColumnType::Bigint => DataType::Int64,
        ColumnType::Float => DataType::Float32,
        ColumnType::Double => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
        ColumnType::Decimal { p, s } => DataType::Decimal128(p, s as i8),
    }
}

/// The writer settings of an entity's options.
pub fn writer_properties(options: &ParquetOptions) -> WriterProperties {
    let compression = match options.compression {
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        ParquetCompression::None => Compression::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(clamp_usize(options.row_group_rows)))
        .set_max_row_group_bytes(Some(clamp_usize(options.row_group_bytes)))
        .build()
}

fn clamp_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX).max(1)
}

/// Epoch milliseconds of a timestamp value, rounded half up (module doc: why).
pub fn timestamp_millis(seconds: i64, nanos: u32) -> i64 {
    seconds * 1000 + i64::from((nanos + 500_000) / 1_000_000)
}

/// One column being built.
enum ColumnBuilder {
    Text(StringBuilder),
    Int8(Vec<i8>),
    Int16(Vec<i16>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Boolean(Vec<bool>),
    Date32(Vec<i32>),
    TimestampMillis(Vec<i64>),
    Decimal128 { values: Vec<i128>, p: u8, s: u8 },
}

impl ColumnBuilder {
    fn new(column_type: ColumnType) -> Self {
        let rows = BATCH_ROWS;
        match column_type {
            ColumnType::String | ColumnType::Varchar(_) => {
                ColumnBuilder::Text(StringBuilder::with_capacity(rows, rows * 16))
            }
            ColumnType::Tinyint => ColumnBuilder::Int8(Vec::with_capacity(rows)),
            ColumnType::Smallint => ColumnBuilder::Int16(Vec::with_capacity(rows)),
            ColumnType::Int => ColumnBuilder::Int32(Vec::with_capacity(rows)),
            ColumnType::Bigint => ColumnBuilder::Int64(Vec::with_capacity(rows)),
            ColumnType::Float => ColumnBuilder::Float32(Vec::with_capacity(rows)),
            ColumnType::Double => ColumnBuilder::Float64(Vec::with_capacity(rows)),
            ColumnType::Boolean => ColumnBuilder::Boolean(Vec::with_capacity(rows)),
            ColumnType::Date => ColumnBuilder::Date32(Vec::with_capacity(rows)),
            ColumnType::Timestamp => ColumnBuilder::TimestampMillis(Vec::with_capacity(rows)),
            ColumnType::Decimal { p, s } => ColumnBuilder::Decimal128 {
                values: Vec::with_capacity(rows),
                p,
                s,
            },
        }
    }

    /// Appends a value; `false` if it is not of this column's kind (cannot happen: the validator
    /// parses each field as its column's type; reported as an encode error, never a panic).
    /// Integers are range-checked by the validator, so the narrowing casts are exact.
    fn push(&mut self, value: Value<'_>) -> bool {
        match (self, value) {
            (ColumnBuilder::Text(b), Value::Text(text)) => b.append_value(text),
            (ColumnBuilder::Int8(v), Value::Integer(n)) => v.push(n as i8),
            (ColumnBuilder::Int16(v), Value::Integer(n)) => v.push(n as i16),
            (ColumnBuilder::Int32(v), Value::Integer(n)) => v.push(n as i32),
            (ColumnBuilder::Int64(v), Value::Integer(n)) => v.push(n),
            (ColumnBuilder::Float32(v), Value::Float(x)) => v.push(x),
            (ColumnBuilder::Float64(v), Value::Double(x)) => v.push(x),
            (ColumnBuilder::Boolean(v), Value::Boolean(x)) => v.push(x),
            (ColumnBuilder::Date32(v), Value::Date(days)) => v.push(days),
            (ColumnBuilder::TimestampMillis(v), Value::Timestamp { seconds, nanos }) => {
                v.push(timestamp_millis(seconds, nanos))
            }
            (ColumnBuilder::Decimal128 { values, .. }, Value::Decimal(unscaled)) => {
                values.push(unscaled)
            }
            _ => return false,
        }
        true
    }

    /// The column's array so far; the builder starts over.
    fn finish(&mut self) -> Result<ArrayRef, ConvertError> {
        fn take<T>(values: &mut Vec<T>) -> Vec<T> {
            std::mem::replace(values, Vec::with_capacity(BATCH_ROWS))
        }
        Ok(match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(v) => Arc::new(Int8Array::from(take(v))),
            ColumnBuilder::Int16(v) => Arc::new(Int16Array::from(take(v))),
            ColumnBuilder::Int32(v) => Arc::new(Int32Array::from(take(v))),
            ColumnBuilder::Int64(v) => Arc::new(Int64Array::from(take(v))),
            ColumnBuilder::Float32(v) => Arc::new(Float32Array::from(take(v))),
            ColumnBuilder::Float64(v) => Arc::new(Float64Array::from(take(v))),
            ColumnBuilder::Boolean(v) => Arc::new(BooleanArray::from(take(v))),
            ColumnBuilder::Date32(v) => Arc::new(Date32Array::from(take(v))),
            ColumnBuilder::TimestampMillis(v) => Arc::new(TimestampMillisecondArray::from(take(v))),
            ColumnBuilder::Decimal128 { values, p, s } => Arc::new(
                Decimal128Array::from(take(values))
                    .with_precision_and_scale(*p, *s as i8)
                    .map_err(|e| ConvertError::Encode(e.to_string()))?,
            ),
        })
    }
}

/// The [`RecordSink`] that builds Arrow record batches from the validated fields.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    text_bytes: usize,
    /// Completed batches not yet taken.
    ready: Vec<RecordBatch>,
    error: Option<ConvertError>,
}

impl BatchBuilder {
    pub fn new(entity: &Entity) -> Self {
        BatchBuilder {
            schema: arrow_schema(entity),
            columns: entity
                .schema
                .iter()
                .map(|c| ColumnBuilder::new(c.column_type))
                .collect(),
            rows: 0,
            text_bytes: 0,
            ready: Vec::new(),
            error: None,
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The batches completed so far.
    pub fn take_ready(&mut self) -> Result<Vec<RecordBatch>, ConvertError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        Ok(std::mem::take(&mut self.ready))
    }

    /// Closes the batch in progress (if it has rows) and returns every batch not yet taken.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>, ConvertError> {
        if self.rows > 0 {
            self.close_batch();
        }
        self.take_ready()
    }

    fn close_batch(&mut self) {
        let arrays: Result<Vec<ArrayRef>, ConvertError> =
            self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        let batch = arrays.and_then(|arrays| {
            RecordBatch::try_new(self.schema.clone(), arrays)
                .map_err(|e| ConvertError::Encode(e.to_string()))
        });
        match batch {
            Ok(batch) => self.ready.push(batch),
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self.rows = 0;
        self.text_bytes = 0;
    }
}

impl RecordSink for BatchBuilder {
    #[inline]
    fn field(&mut self, column: usize, value: Value<'_>) {
        if let Value::Text(text) = value {
            self.text_bytes += text.len();
        }
        let pushed = self
            .columns
            .get_mut(column)
            .is_some_and(|builder| builder.push(value));
        if !pushed && self.error.is_none() {
            self.error = Some(ConvertError::Encode(format!(
                "column {} received a value of another type",
                column + 1
            )));
        }
    }

    #[inline]
    fn end_record(&mut self) {
        self.rows += 1;
        if self.rows >= BATCH_ROWS || self.text_bytes >= BATCH_TEXT_BYTES {
            self.close_batch();
        }
    }
}

/// The `Write` the `ArrowWriter` writes into: cuts the byte stream into parts of `part_size`,
/// each written to its own temporary file, and sends each complete part (blocking the encoder
/// thread while the uploader is behind: backpressure). A large write (a row group's column
/// chunk) is cut where the part ends.
struct PartWriter {
    current: Option<PartFile>,
    part_size: usize,
    staging_dir: PathBuf,
    parts: mpsc::Sender<Result<EncodedPart, ConvertError>>,
    /// Set when a part file could not be created or written.
    staging_failed: Arc<OnceLock<String>>,
}

impl PartWriter {
    /// Records a staging failure where the encoder finds it: parquet-rs wraps or stringifies
    /// the `io::Error` on its way out, so its error cannot tell the disk's fault from a bug.
    fn staging_error(&self, error: std::io::Error) -> std::io::Error {
        let _ = self.staging_failed.set(error.to_string());
        error
    }

    fn current(&mut self) -> std::io::Result<&mut PartFile> {
        if self.current.is_none() {
            let file = PartFile::create(&self.staging_dir).map_err(|e| self.staging_error(e))?;
            self.current = Some(file);
        }
        Ok(self.current.as_mut().expect("created above"))
    }

    /// The rest of the file once the footer is written.
    fn into_last(self) -> Option<StagedPart> {
        self.current.map(PartFile::finish)
    }
}

impl Write for PartWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let part_size = self.part_size as u64;
        let mut rest = bytes;
        while !rest.is_empty() {
            let current = self.current()?;
            let room = usize::try_from(part_size - current.len()).unwrap_or(usize::MAX);
            let (now, later) = rest.split_at(room.min(rest.len()));
            let written = current.write_all(now);
            written.map_err(|e| self.staging_error(e))?;
            rest = later;
            if self.current.as_ref().is_some_and(|c| c.len() == part_size) {
                let part = self.current.take().expect("written above").finish();
                self.parts
                    .blocking_send(Ok(EncodedPart::Full(part)))
                    .map_err(|_| std::io::Error::other("the uploader stopped"))?;
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fields of up to [`TEXT_BATCH_ROWS`] records as the validator split them, types not yet
/// parsed: the feeding thread only splits and checks the CSV's structure, the encoder thread
/// parses the types (see [`RecordSink::TAKES_TEXT`]), so the two halves of the work run on two
/// cores.
#[derive(Default)]
struct TextBatch {
    /// Every field's text, one after the other (each a whole `str`, so every end is a char
    /// boundary).
    text: String,
    /// Where each field ends in `text`.
    ends: Vec<usize>,
    /// The line each record starts on (for the error texts).
    lines: Vec<u64>,
    /// Complete records; fields after them belong to a record the validator rejected.
    records: usize,
}

impl TextBatch {
    fn with_capacity(rows: usize, columns: usize) -> Self {
        TextBatch {
            text: String::with_capacity(rows * 16 * columns),
            ends: Vec::with_capacity(rows * columns),
            lines: Vec::with_capacity(rows),
            records: 0,
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.lines.clear();
        self.records = 0;
    }

    fn is_full(&self) -> bool {
        self.records >= TEXT_BATCH_ROWS || self.text.len() >= TEXT_BATCH_BYTES
    }

    /// Cuts the batch after its last complete record: the fields of the record in progress (a
    /// chunk can end in the middle of one) move to the returned batch, so every batch starts
    /// at a record's first field.
    fn cut(&mut self, mut next: TextBatch, columns: usize) -> TextBatch {
        next.clear();
        let complete_fields = self.records * columns;
        if self.ends.len() > complete_fields {
            let text_start = match complete_fields {
                0 => 0,
                n => self.ends[n - 1],
            };
            next.text.push_str(&self.text[text_start..]);
            next.ends.extend(
                self.ends[complete_fields..]
                    .iter()
                    .map(|end| end - text_start),
            );
            next.lines.extend_from_slice(&self.lines[self.records..]);
            self.text.truncate(text_start);
            self.ends.truncate(complete_fields);
            self.lines.truncate(self.records);
        }
        next
    }

    /// Parses every field as its column's type into `builder`, ending each complete record: the
    /// validator's error for the first field that does not parse.
    fn parse_into(
        &self,
        columns: &[Column],
        builder: &mut BatchBuilder,
    ) -> Result<(), ConvertError> {
        let inconsistent = || ConvertError::Encode("inconsistent field batch".into());
        let (mut start, mut record, mut index) = (0, 0, 0);
        for &end in &self.ends {
            let text = self.text.get(start..end).ok_or_else(inconsistent)?;
            let column = columns.get(index).ok_or_else(inconsistent)?;
            let line = *self.lines.get(record).ok_or_else(inconsistent)?;
            builder.field(index, csv_check::parse_field(column, line, index, text)?);
            start = end;
            index += 1;
            if index == columns.len() {
                index = 0;
                if record < self.records {
                    builder.end_record();
                }
                record += 1;
            }
        }
        Ok(())
    }
}

impl RecordSink for TextBatch {
    const TAKES_TEXT: bool = true;

    fn field(&mut self, _column: usize, _value: Value<'_>) {}

    #[inline]
    fn text_field(&mut self, line: u64, column: usize, text: &str) {
        if column == 0 {
            self.lines.push(line);
        }
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    #[inline]
    fn end_record(&mut self) {
        self.records += 1;
    }
}

/// What the feeding side sends to the encoder.
enum ToEncoder {
    Fields(TextBatch),
    /// The input is complete and valid so far: parse the last fields, then write the footer.
    Finish(TextBatch),
    /// The validator rejected the file after these fields: the encoder parses them first (a
    /// type error in them comes earlier in the file) and reports the first error.
    Rejected(TextBatch, CsvError),
}

/// The feeding half of a conversion: splits and validates the CSV structure of the source.
pub struct ConvertInput {
    validator: CsvValidator,
    fields: TextBatch,
    columns: usize,
    batches: mpsc::Sender<ToEncoder>,
    /// Batches the encoder is done with, to fill again: no allocation per batch, and no memory
    /// allocated on one thread and freed on the other (which made glibc's arenas grow).
    recycled: std::sync::mpsc::Receiver<TextBatch>,
}

/// The output half: the encoded parts, in order, ending with [`EncodedPart::Last`]. Every CSV
/// error of the file arrives here (the input half then reports [`ConvertError::Stopped`]),
/// because only the encoder, which parses the types, knows which error comes first.
pub struct ConvertOutput {
    parts: mpsc::Receiver<Result<EncodedPart, ConvertError>>,
}

/// Starts a conversion of one file of `entity` (which must have Parquet options) and its
/// encoder thread. Feed the input half and drain the output half concurrently; dropping the
/// input half without [`ConvertInput::finish`] abandons the file (no footer is written).
pub fn start(
    entity: &Entity,
    part_size: usize,
    staging_dir: &Path,
) -> Result<(ConvertInput, ConvertOutput), ConvertError> {
    let options = entity.parquet.clone().unwrap_or_default();
    // A part holds at least one byte, or PartWriter could never finish one.
    let part_size = part_size.max(1);
    let encoder = Encoder {
        columns: entity.schema.clone(),
        builder: BatchBuilder::new(entity),
        properties: writer_properties(&options),
        part_size,
        staging_dir: staging_dir.to_path_buf(),
    };
    let (batch_tx, batch_rx) = mpsc::channel(BATCHES_IN_FLIGHT);
    let (recycle_tx, recycled) = std::sync::mpsc::sync_channel(BATCHES_IN_FLIGHT + 1);
    let (part_tx, part_rx) = mpsc::channel(PARTS_QUEUED);
    std::thread::Builder::new()
        .name("parquet-encoder".into())
        .spawn(move || encoder.run(batch_rx, part_tx, recycle_tx))
        .map_err(|e| ConvertError::Spawn(e.to_string()))?;
    let columns = entity.schema.len();
    Ok((
        ConvertInput {
            validator: CsvValidator::new(entity),
            fields: TextBatch::with_capacity(TEXT_BATCH_ROWS, columns),
            columns,
            batches: batch_tx,
            recycled,
        },
        ConvertOutput { parts: part_rx },
    ))
}

/// The encoder thread's work: field batches in, typed Arrow batches, Parquet parts out.
struct Encoder {
    columns: Vec<Column>,
    builder: BatchBuilder,
    properties: WriterProperties,
    part_size: usize,
    staging_dir: PathBuf,
}

impl Encoder {
    /// Runs until the input finishes, fails or is abandoned; errors are sent as the last item.
    fn run(
        mut self,
        mut batches: mpsc::Receiver<ToEncoder>,
        parts: mpsc::Sender<Result<EncodedPart, ConvertError>>,
        recycle: std::sync::mpsc::SyncSender<TextBatch>,
    ) {
        let staging_failed = Arc::new(OnceLock::new());
        let sink = PartWriter {
            current: None,
            part_size: self.part_size,
            staging_dir: self.staging_dir.clone(),
            parts: parts.clone(),
            staging_failed: staging_failed.clone(),
        };
        let encode_error = |error: parquet::errors::ParquetError| match staging_failed.get() {
            Some(reason) => ConvertError::Staging(reason.clone()),
            None => ConvertError::Encode(error.to_string()),
        };
        let result = (|| -> Result<Option<Option<StagedPart>>, ConvertError> {
            let mut writer =
                ArrowWriter::try_new(sink, self.builder.schema(), Some(self.properties.clone()))
                    .map_err(encode_error)?;
            loop {
                let fields = match batches.blocking_recv() {
                    Some(ToEncoder::Fields(fields)) => fields,
                    Some(ToEncoder::Finish(fields)) => {
                        fields.parse_into(&self.columns, &mut self.builder)?;
                        for batch in self.builder.finish()? {
                            writer.write(&batch).map_err(encode_error)?;
                        }
                        break;
                    }
                    Some(ToEncoder::Rejected(fields, error)) => {
                        fields.parse_into(&self.columns, &mut self.builder)?;
                        return Err(ConvertError::Csv(error));
                    }
                    // Abandoned: the input side failed (not on the CSV) and reports why.
                    None => return Ok(None),
                };
                fields.parse_into(&self.columns, &mut self.builder)?;
                // Back to the feeding side; dropped if it has enough (or is gone).
                let _ = recycle.try_send(fields);
                for batch in self.builder.take_ready()? {
                    writer.write(&batch).map_err(encode_error)?;
                }
            }
            let sink = writer.into_inner().map_err(encode_error)?;
            Ok(Some(sink.into_last()))
        })();
        let last = match result {
            Ok(Some(tail)) => Ok(EncodedPart::Last(tail)),
            Ok(None) => return,
            Err(error) => Err(error),
        };
        // The receiver may be gone (the upload failed); nothing is left to tell then.
        let _ = parts.blocking_send(last);
    }
}

impl ConvertInput {
    /// Splits and validates the next chunk of the source, handing full field batches to the
    /// encoder. A CSV error goes to the encoder (see [`ConvertOutput`]); this half then returns
    /// [`ConvertError::Stopped`].
    pub async fn feed(&mut self, chunk: &[u8]) -> Result<(), ConvertError> {
        for slice in chunk.chunks(FEED_BYTES) {
            if let Err(error) = self.validator.feed_into(slice, &mut self.fields) {
                let fields = std::mem::take(&mut self.fields);
                send(&self.batches, ToEncoder::Rejected(fields, error)).await?;
                return Err(ConvertError::Stopped("encoder"));
            }
            if self.fields.is_full() {
                let next = self.recycled.try_recv().unwrap_or_default();
                let next = self.fields.cut(next, self.columns);
                let full = std::mem::replace(&mut self.fields, next);
                send(&self.batches, ToEncoder::Fields(full)).await?;
            }
        }
        Ok(())
    }

    /// Ends the input: the last record, then the footer. Returns the CSV counts; a CSV error
    /// goes to the encoder as in [`ConvertInput::feed`].
    pub async fn finish(self) -> Result<CsvStats, ConvertError> {
        let ConvertInput {
            validator,
            mut fields,
            batches,
            ..
        } = self;
        match validator.finish_into(&mut fields) {
            Ok(stats) => {
                send(&batches, ToEncoder::Finish(fields)).await?;
                Ok(stats)
            }
            Err(error) => {
                send(&batches, ToEncoder::Rejected(fields, error)).await?;
                Err(ConvertError::Stopped("encoder"))
            }
        }
    }
}

async fn send(batches: &mpsc::Sender<ToEncoder>, message: ToEncoder) -> Result<(), ConvertError> {
    batches
        .send(message)
        .await
        .map_err(|_| ConvertError::Stopped("encoder"))
}

impl ConvertOutput {
    /// The next encoded part; `None` once the file is complete or abandoned.
    pub async fn next(&mut self) -> Option<Result<EncodedPart, ConvertError>> {
        self.parts.recv().await
    }
}

/// Converts everything `reader` yields, writing the Parquet file to `out` (the bench and tests
/// use it; the handler streams parts to S3 instead). Three threads, as in the handler: the
/// caller's reads and splits, the encoder parses and encodes, and a writer thread writes the
/// parts (on the caller's thread, the encoder would wait for the next part to be taken while the
/// caller is busy splitting, as an uploader on the handler's worker threads never makes it).
pub fn convert_read<R: std::io::Read, W: Write + Send>(
    entity: &Entity,
    mut reader: R,
    mut out: W,
    part_size: usize,
    staging_dir: &Path,
) -> Result<CsvStats, ConvertError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| ConvertError::Spawn(e.to_string()))?;
    let (mut input, mut output) = start(entity, part_size, staging_dir)?;
    std::thread::scope(|scope| {
        let writer = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn_scoped(scope, move || write_parts(&mut output, &mut out))
            .map_err(|e| ConvertError::Spawn(e.to_string()))?;
        let produced = runtime.block_on(async move {
            let mut buffer = vec![0; FEED_BYTES];
            loop {
                let read = match reader.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(ConvertError::Csv(CsvError::Io(e.to_string()))),
                };
                input.feed(&buffer[..read]).await?;
            }
            input.finish().await
        });
        let consumed = writer
            .join()
            .unwrap_or(Err(ConvertError::Stopped("writer")));
        settle(produced, consumed)
    })
}

/// The writer thread of [`convert_read`]: `Ok(true)` once the last part is written.
fn write_parts<W: Write>(output: &mut ConvertOutput, out: &mut W) -> Result<bool, ConvertError> {
    let write_error = |e: std::io::Error| ConvertError::Encode(format!("writing the output: {e}"));
    while let Some(part) = output.parts.blocking_recv() {
        match part? {
            EncodedPart::Full(part) => {
                part.copy_to(out).map_err(write_error)?;
            }
            EncodedPart::Last(part) => {
                if let Some(part) = part {
                    part.copy_to(out).map_err(write_error)?;
                }
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The outcome of a conversion from its two halves: the input's error first (reading the source),
/// then the output's (a CSV error, the encoder's or the writer's); a half that only saw the other
/// stop yields to the other's error. `consumed` is `Ok(true)` once the last part was written.
pub fn settle<E: From<ConvertError>>(
    produced: Result<CsvStats, ConvertError>,
    consumed: Result<bool, E>,
) -> Result<CsvStats, E> {
    match (produced, consumed) {
        (Err(ConvertError::Stopped(_)), Err(error)) => Err(error),
        (Err(error), _) => Err(error.into()),
        (Ok(_), Err(error)) => Err(error),
        (Ok(_), Ok(false)) => Err(ConvertError::Stopped("encoder").into()),
        (Ok(stats), Ok(true)) => Ok(stats),
    }
}

#[cfg(test)]
mod tests;
