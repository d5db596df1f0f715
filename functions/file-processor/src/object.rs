//! The copy of one source object into the analytics bucket, validated on the way and in constant
//! memory whatever the file size: GetObject's body is streamed through the core's push-based
//! `CsvValidator` while the same bytes are cut into parts of `part_size` and uploaded with a
//! multipart upload, at most `parts_in_flight` parts at a time. A file that fits in one part is
//! written with a single PutObject instead. On any error (invalid CSV, read failure, upload
//! failure) the multipart upload is aborted so no partial output exists; the object appears only
//! when CompleteMultipartUpload succeeds, after the validator accepted the whole file.
//!
//! Source integrity: GetObject reads the version the event announced (its ETag is compared with
//! the announced one; a different ETag means the object was overwritten and the newer event
//! handles it). Where the source has a full-object checksum (a single-part upload, or a
//! multipart upload with `ChecksumType=FULL_OBJECT`), it is read with HeadObject and recomputed
//! over the streamed bytes, and a mismatch fails the copy before anything is completed. A
//! multipart object with a COMPOSITE checksum (`<base64>-<parts>`, what the aws CLI and most SDKs
//! create) is a checksum of the parts' checksums; verifying it needs the part boundaries, so it
//! is not checked here, and the SDK's own response validation is turned off for GetObject (it
//! cannot validate such checksums either and would log a warning for every such file)
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).
//!
//! Time: the copy checks the invocation's [`Budget`] between chunks and stops cleanly before
//! the deadline, aborting the upload, with a reason that says how far it got.
//!
//! Parquet entities take the same path with a converter in the middle
//! ([`crate::parquet_output`]): the body goes through the validator into Arrow batches, an
//! encoder thread writes Parquet row groups, and the encoded bytes (not the source's) are cut
//! into the parts of the same [`Upload`], staged in temporary files rather than memory
//! ([`crate::staged_part`]); the output key ends in `.parquet`. The metadata, the
//! conditional write, the checksum, the budget and the abort on any error are shared with the
//! CSV copy.
//!
//! S3 limits: parts are 5 MiB..5 GiB except the last, at most 10,000 per upload
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html>), so the part size grows
//! for files above `part_size * 10,000`. The upload is created with `ChecksumAlgorithm=CRC32`
//! because the SDK sends a CRC32 with every part by default, and S3 rejects part checksums of a
//! type the upload was not created with; each part's checksum is repeated in the completion.

use std::collections::{HashMap, VecDeque};

use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use pipeline_core::config::{Entity, OutputFormat};
use pipeline_core::csv_check::{CsvError, CsvStats, CsvValidator};
use pipeline_core::event::ObjectRef;
use pipeline_core::route::s3_uri;
use tokio::task::JoinHandle;

use crate::budget::{self, Budget, Progress};
use crate::failures::{self, Failure};
use crate::idempotency::{normalize_etag, Existing, SourceMarker, WriteCondition};
use crate::parquet_output::{self, ConvertError, EncodedPart};
use crate::staged_part::{self, StagedPart};

/// The smallest part S3 accepts (all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Largest number of parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// Longest wait for the next bytes of a source object's body.
pub const BODY_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Content type of the copies (RFC 4180).
const CSV_CONTENT_TYPE: &str = "text/csv";

/// How to copy.
#[derive(Debug, Clone)]
pub struct UploadTuning {
    /// Bytes per part (at least [`MIN_PART_SIZE`]).
    pub part_size: usize,
    /// Parts uploading at once while the next one is read: memory (CSV copy) or staged files
    /// (Parquet) of about `part_size * (parts_in_flight + 1)` per file.
    pub parts_in_flight: usize,
    /// Where the Parquet output's parts wait until they are uploaded
    /// ([`staged_part::staging_dir`] by default).
    pub staging_dir: std::path::PathBuf,
}

impl Default for UploadTuning {
    fn default() -> Self {
        UploadTuning {
            part_size: 8 * 1024 * 1024,
            parts_in_flight: 2,
            staging_dir: staged_part::staging_dir(),
        }
    }
}

/// One copy to make.
pub struct CopyJob<'a> {
    pub entity: &'a Entity,
    pub source: &'a ObjectRef,
    /// The announced source version, written on the output as its metadata.
    pub marker: &'a SourceMarker,
    pub dest_bucket: &'a str,
    pub dest_key: &'a str,
    pub condition: WriteCondition,
    pub tuning: UploadTuning,
    pub budget: Budget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    Written(CsvStats),
    /// The source object is no longer the version the event announced (it was overwritten; the
    /// newer version has its own event). Nothing was written.
    Superseded,
}

/// The output object's state, read with HeadObject (404 = missing).
pub async fn read_existing(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Existing, Failure> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Ok(Existing::Present {
            output_etag: head.e_tag().map(str::to_string),
            marker: head.metadata().and_then(SourceMarker::from_metadata),
        }),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
            Ok(Existing::Missing)
        }
        Err(error) => Err(failures::from_sdk(
            &format!("HeadObject on the output {}", s3_uri(bucket, key)),
            &error,
        )),
    }
}

/// Streams, validates and writes one object.
pub async fn copy_validated(
    s3: &aws_sdk_s3::Client,
    job: CopyJob<'_>,
) -> Result<CopyOutcome, Failure> {
    let source_uri = s3_uri(&job.source.bucket, &job.source.key);
    let checksum = source_checksum(s3, job.source, &source_uri).await?;
    let response = s3
        .get_object()
        .bucket(&job.source.bucket)
        .key(&job.source.key)
        .set_version_id(job.source.version_id.clone())
        .send()
        .await
        .map_err(|error| {
            if error.as_service_error().is_some_and(|e| e.is_no_such_key()) {
                Failure::permanent(format!(
                    "{source_uri}: the object no longer exists (NoSuchKey: deleted before it was processed)"
                ))
            } else {
                failures::from_sdk(&format!("GetObject {source_uri}"), &error)
            }
        })?;

    let current_etag = response.e_tag().map(normalize_etag);
    // Without a version id, GetObject reads the latest version; if that is not the announced
    // one, the event is stale and a newer event for the same key follows.
    if job.source.version_id.is_none() {
        if let (Some(current), Some(announced)) = (&current_etag, &job.marker.etag) {
            if current != announced {
                return Ok(CopyOutcome::Superseded);
            }
        }
    }
    let mut marker = job.marker.clone();
    marker.etag = marker.etag.or(current_etag);
    let size = response
        .content_length()
        .and_then(|n| u64::try_from(n).ok());
    let format = job.entity.format;
    // A Parquet file is usually much smaller than its CSV, but not always (short strings without
    // compression): the part size is chosen for twice the source, so 10,000 parts always do.
    let output_bound = match format {
        OutputFormat::Csv => size,
        OutputFormat::Parquet => size.map(|s| s.saturating_mul(2)),
    };
    let part_size = effective_part_size(job.tuning.part_size, output_bound);
    let mut upload = Upload::new(s3, &job, &marker, content_type(format));
    let source = Source {
        uri: &source_uri,
        size,
        checksum,
        started: Instant::now(),
        bytes_done: 0,
    };
    let result = match format {
        OutputFormat::Csv => stream(response.body, &job, source, part_size, &mut upload).await,
        OutputFormat::Parquet => {
            stream_parquet(response.body, &job, source, part_size, &mut upload).await
        }
    };
    match result {
        Ok(stats) => {
            upload.finish().await?;
            Ok(CopyOutcome::Written(stats))
        }
        Err(failure) => {
            upload.abort().await;
            Err(failure)
        }
    }
}

/// The source as the stream sees it: what was read of it so far, against the invocation's budget
/// and its full-object checksum.
struct Source<'a> {
    uri: &'a str,
    size: Option<u64>,
    checksum: Option<FullObjectChecksum>,
    started: Instant,
    bytes_done: u64,
}

impl Source<'_> {
    /// Accounts one chunk read from the body. A spent budget stops the copy first, with how far
    /// it got; then the chunk goes into the checksum.
    fn take_chunk(&mut self, chunk: &[u8], budget: &Budget) -> Result<(), Failure> {
        if budget.is_spent() {
            let progress = Progress {
                bytes_done: self.bytes_done,
                bytes_total: self.size,
                elapsed: self.started.elapsed(),
            };
            return Err(budget::out_of_time(self.uri, progress, budget.timeout()));
        }
        self.bytes_done += chunk.len() as u64;
        if let Some(checksum) = self.checksum.as_mut() {
            checksum.hasher.update(chunk);
        }
        Ok(())
    }

    /// At the end of the body: the recomputed checksum must match.
    fn verify(&mut self) -> Result<(), Failure> {
        match self.checksum.take() {
            Some(checksum) => checksum.verify(self.uri),
            None => Ok(()),
        }
    }
}

/// A full-object checksum of the source, recomputed over the streamed bytes.
struct FullObjectChecksum {
    algorithm: &'static str,
    expected_base64: String,
    hasher: Box<dyn aws_smithy_checksums::http::HttpChecksum>,
}

impl FullObjectChecksum {
    fn verify(self, source_uri: &str) -> Result<(), Failure> {
        let computed = aws_smithy_types::base64::encode(self.hasher.finalize());
        if computed == self.expected_base64 {
            return Ok(());
        }
        // The bytes read are not the bytes stored: a transfer fault, so retry.
        Err(Failure::transient(format!(
            "{source_uri}: the bytes read do not match the object's {} checksum \
             (expected {}, computed {computed}); nothing was written",
            self.algorithm, self.expected_base64
        )))
    }
}

/// Reads the source's full-object checksum, if it has one (HeadObject with checksum mode).
/// Composite checksums (`...-<parts>`) cannot be recomputed without the part boundaries.
async fn source_checksum(
    s3: &aws_sdk_s3::Client,
    source: &ObjectRef,
    source_uri: &str,
) -> Result<Option<FullObjectChecksum>, Failure> {
    let head = match s3
        .head_object()
        .bucket(&source.bucket)
        .key(&source.key)
        .set_version_id(source.version_id.clone())
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(head) => head,
        // GetObject right after reports a missing object with its own, clearer error.
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => {
            return Ok(None)
        }
        Err(error) => {
            return Err(failures::from_sdk(
                &format!("HeadObject {source_uri}"),
                &error,
            ))
        }
    };
    let candidates = [
        ("crc64nvme", head.checksum_crc64_nvme()),
        ("crc32c", head.checksum_crc32_c()),
        ("crc32", head.checksum_crc32()),
        ("sha1", head.checksum_sha1()),
        ("sha256", head.checksum_sha256()),
    ];
    let found = candidates.into_iter().find_map(|(algorithm, value)| {
        let value = value.filter(|v| !v.contains('-'))?;
        let hasher = algorithm
            .parse::<aws_smithy_checksums::ChecksumAlgorithm>()
            .ok()?
            .into_impl();
        Some(FullObjectChecksum {
            algorithm,
            expected_base64: value.to_string(),
            hasher,
        })
    });
    Ok(found)
}

/// `part_size`, at least 5 MiB, grown so a file of `size` bytes needs at most 10,000 parts.
pub fn effective_part_size(part_size: usize, size: Option<u64>) -> usize {
    let floor = part_size.max(MIN_PART_SIZE) as u64;
    let needed = size.map(|s| s.div_ceil(MAX_PARTS)).unwrap_or(0);
    floor.max(needed) as usize
}

/// Feeds every chunk to the validator (and the checksum), then hands full parts to the upload.
/// Stops with a transient failure when the invocation's budget is spent.
async fn stream(
    mut body: ByteStream,
    job: &CopyJob<'_>,
    mut source: Source<'_>,
    part_size: usize,
    upload: &mut Upload<'_>,
) -> Result<CsvStats, Failure> {
    let mut validator = CsvValidator::new(job.entity);
    let mut buffer = BytesMut::with_capacity(part_size);
    let source_uri = source.uri;
    let csv_failure = |error: CsvError| Failure {
        class: error.class(),
        reason: format!("{source_uri}: {error}"),
    };
    while let Some(chunk) = next_chunk(&mut body, source_uri).await? {
        source.take_chunk(&chunk, &job.budget)?;
        validator.feed(&chunk).map_err(csv_failure)?;
        buffer.extend_from_slice(&chunk);
        while buffer.len() >= part_size {
            let part = buffer.split_to(part_size).freeze();
            upload.push_part(PartBody::Memory(part)).await?;
        }
    }
    let stats = validator.finish().map_err(csv_failure)?;
    source.verify()?;
    upload.set_tail(PartBody::Memory(buffer.freeze()));
    Ok(stats)
}

fn content_type(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Csv => CSV_CONTENT_TYPE,
        OutputFormat::Parquet => parquet_output::PARQUET_CONTENT_TYPE,
    }
}

/// Why the feeding side of a conversion stopped.
enum FeedError {
    /// Its own failure (invalid file, body read, checksum, budget): the one to report.
    Failed(Failure),
    /// The encoder went away; the output side holds the reason.
    EncoderStopped,
}

/// Converts the body to Parquet while uploading the encoded parts: the feeding side (body ->
/// checksum, budget -> validator -> Arrow batches) and the output side (encoded parts ->
/// `upload`) run concurrently in this task, the encoder on its own thread. Each side owns its
/// channel end, so when one side fails and returns, the other sees its channel close and stops
/// too: nothing waits forever. CSV errors are worded exactly as in [`stream`].
async fn stream_parquet(
    mut body: ByteStream,
    job: &CopyJob<'_>,
    mut source: Source<'_>,
    part_size: usize,
    upload: &mut Upload<'_>,
) -> Result<CsvStats, Failure> {
    let source_uri = source.uri;
    let convert_failure = |error: ConvertError| match error {
        ConvertError::Csv(error) => Failure {
            class: error.class(),
            reason: format!("{source_uri}: {error}"),
        },
        ConvertError::Encode(_) => Failure::permanent(format!("{source_uri}: {error}")),
        // Not the file's fault: the environment (threads, /tmp) may be fine on a retry.
        ConvertError::Stopped(_) | ConvertError::Spawn(_) | ConvertError::Staging(_) => {
            Failure::transient(format!("{source_uri}: {error}"))
        }
    };
    let (mut input, mut output) =
        parquet_output::start(job.entity, part_size, &job.tuning.staging_dir)
            .map_err(convert_failure)?;
    let feed = async move {
        let fail = |error: ConvertError| match error {
            ConvertError::Stopped(_) => FeedError::EncoderStopped,
            other => FeedError::Failed(convert_failure(other)),
        };
        while let Some(chunk) = next_chunk(&mut body, source_uri)
            .await
            .map_err(FeedError::Failed)?
        {
            source
                .take_chunk(&chunk, &job.budget)
                .map_err(FeedError::Failed)?;
            input.feed(&chunk).await.map_err(fail)?;
        }
        source.verify().map_err(FeedError::Failed)?;
        input.finish().await.map_err(fail)
    };
    let drain = async move {
        while let Some(part) = output.next().await {
            match part.map_err(convert_failure)? {
                EncodedPart::Full(part) => upload.push_part(PartBody::Staged(part)).await?,
                EncodedPart::Last(part) => {
                    upload.set_tail(part.map(PartBody::Staged).unwrap_or_default());
                    return Ok(true);
                }
            }
        }
        Ok::<bool, Failure>(false)
    };
    let (fed, drained) = tokio::join!(feed, drain);
    match (fed, drained) {
        (Err(FeedError::Failed(failure)), _) => Err(failure),
        (Err(FeedError::EncoderStopped), Err(failure)) => Err(failure),
        (Ok(_), Err(failure)) => Err(failure),
        (Ok(stats), Ok(true)) => Ok(stats),
        (Err(FeedError::EncoderStopped), Ok(_)) | (Ok(_), Ok(false)) => Err(Failure::transient(
            format!("{source_uri}: the Parquet encoder stopped before the end of the file"),
        )),
    }
}

/// The next chunk of the body; `None` at its end. No SDK timeout covers the body once GetObject
/// has returned its headers, so a stalled read is bounded here.
async fn next_chunk(body: &mut ByteStream, source_uri: &str) -> Result<Option<Bytes>, Failure> {
    let next = tokio::time::timeout(BODY_STALL_TIMEOUT, body.try_next())
        .await
        .map_err(|_| {
            Failure::transient(format!(
                "{source_uri}: reading the object stalled for {} s",
                BODY_STALL_TIMEOUT.as_secs()
            ))
        })?;
    next.map_err(|error| {
        Failure::transient(format!(
            "{source_uri}: reading the object failed: {}",
            failures::describe(&error)
        ))
    })
}

/// The bytes of one part: in memory (the CSV copy, whose parts are the source's chunks) or
/// staged in a temporary file (the Parquet output).
#[derive(Debug)]
enum PartBody {
    Memory(Bytes),
    Staged(StagedPart),
}

impl Default for PartBody {
    fn default() -> Self {
        PartBody::Memory(Bytes::new())
    }
}

impl PartBody {
    fn is_empty(&self) -> bool {
        match self {
            PartBody::Memory(bytes) => bytes.is_empty(),
            PartBody::Staged(part) => part.is_empty(),
        }
    }

    /// The request body, and the staged file it reads (to keep until the request is done).
    async fn into_stream(self, what: &str) -> Result<(ByteStream, Option<StagedPart>), Failure> {
        match self {
            PartBody::Memory(bytes) => Ok((ByteStream::from(bytes), None)),
            PartBody::Staged(part) => {
                let body = part.body().await.map_err(|e| {
                    Failure::transient(format!("{what}: reading the staged part failed: {e}"))
                })?;
                Ok((body, Some(part)))
            }
        }
    }
}

/// The output side: nothing until the first full part; then a multipart upload.
struct Upload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: &'a str,
    metadata: HashMap<String, String>,
    condition: WriteCondition,
    parts_in_flight: usize,
    upload_id: Option<String>,
    next_part_number: i32,
    in_flight: VecDeque<JoinHandle<Result<CompletedPart, Failure>>>,
    completed: Vec<CompletedPart>,
    tail: PartBody,
    content_type: &'static str,
}

impl<'a> Upload<'a> {
    fn new(
        s3: &'a aws_sdk_s3::Client,
        job: &'a CopyJob<'a>,
        marker: &SourceMarker,
        content_type: &'static str,
    ) -> Self {
        Upload {
            s3,
            bucket: job.dest_bucket,
            key: job.dest_key,
            metadata: marker.to_metadata(),
            condition: job.condition.clone(),
            parts_in_flight: job.tuning.parts_in_flight.max(1),
            upload_id: None,
            next_part_number: 1,
            in_flight: VecDeque::new(),
            completed: Vec::new(),
            tail: PartBody::default(),
            content_type,
        }
    }

    fn output_uri(&self) -> String {
        s3_uri(self.bucket, self.key)
    }

    async fn push_part(&mut self, part: PartBody) -> Result<(), Failure> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => self.create().await?,
        };
        while self.in_flight.len() >= self.parts_in_flight {
            self.collect_oldest().await?;
        }
        let part_number = self.next_part_number;
        self.next_part_number += 1;
        let s3 = self.s3.clone();
        let (bucket, key) = (self.bucket.to_string(), self.key.to_string());
        let what = format!("UploadPart {part_number} of {}", self.output_uri());
        self.in_flight.push_back(tokio::spawn(async move {
            // `_staged` keeps the part's file until the request is done (retries re-read it).
            let (body, _staged) = part.into_stream(&what).await?;
            let uploaded = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(part_number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(body)
                .send()
                .await
                .map_err(|e| failures::from_sdk(&what, &e))?;
            Ok(CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(uploaded.e_tag().map(str::to_string))
                .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_string))
                .build())
        }));
        Ok(())
    }

    async fn collect_oldest(&mut self) -> Result<(), Failure> {
        if let Some(handle) = self.in_flight.pop_front() {
            let part = handle.await.map_err(|e| {
                Failure::transient(format!("uploading a part of {}: {e}", self.output_uri()))
            })??;
            self.completed.push(part);
        }
        Ok(())
    }

    async fn create(&mut self) -> Result<String, Failure> {
        let created = self
            .s3
            .create_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .set_metadata(Some(self.metadata.clone()))
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(|e| {
                failures::from_sdk(&format!("CreateMultipartUpload {}", self.output_uri()), &e)
            })?;
        let id = created
            .upload_id()
            .ok_or_else(|| Failure::transient("CreateMultipartUpload returned no UploadId"))?
            .to_string();
        self.upload_id = Some(id.clone());
        Ok(id)
    }

    fn set_tail(&mut self, tail: PartBody) {
        self.tail = tail;
    }

    /// Writes what is left: one PutObject if no part was started, else the last part and the
    /// completion.
    async fn finish(mut self) -> Result<(), Failure> {
        let result = self.finish_inner().await;
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn finish_inner(&mut self) -> Result<(), Failure> {
        if self.upload_id.is_none() {
            return self.put_single().await;
        }
        let tail = std::mem::take(&mut self.tail);
        if !tail.is_empty() {
            self.push_part(tail).await?;
        }
        while !self.in_flight.is_empty() {
            self.collect_oldest().await?;
        }
        let upload_id = self.upload_id.clone().unwrap_or_default();
        let parts = std::mem::take(&mut self.completed);
        let request = self
            .s3
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        let request = match &self.condition {
            WriteCondition::MustNotExist => request.if_none_match("*"),
            WriteCondition::MustMatch(etag) => request.if_match(etag),
            WriteCondition::None => request,
        };
        request.send().await.map_err(|e| {
            write_failure(
                &format!("CompleteMultipartUpload {}", self.output_uri()),
                &e,
            )
        })?;
        self.upload_id = None;
        Ok(())
    }

    async fn put_single(&mut self) -> Result<(), Failure> {
        let what = format!("PutObject {}", self.output_uri());
        let (body, _staged) = std::mem::take(&mut self.tail).into_stream(&what).await?;
        let request = self
            .s3
            .put_object()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .set_metadata(Some(self.metadata.clone()))
            .body(body);
        let request = match &self.condition {
            WriteCondition::MustNotExist => request.if_none_match("*"),
            WriteCondition::MustMatch(etag) => request.if_match(etag),
            WriteCondition::None => request,
        };
        request.send().await.map_err(|e| write_failure(&what, &e))?;
        Ok(())
    }

    /// Stops the parts in flight and aborts the multipart upload, if one was started. A failed
    /// abort is logged: the analytics bucket's lifecycle rule (AbortIncompleteMultipartUpload)
    /// removes the parts later, and no object exists either way.
    async fn abort(&mut self) {
        for handle in self.in_flight.drain(..) {
            handle.abort();
            // Cancelled tasks are dropped on the runtime's time; waiting for them means their
            // staged part files are gone when the failure is reported.
            let _ = handle.await;
        }
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(&upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => tracing::info!(
                output = %self.output_uri(),
                upload_id = %upload_id,
                "multipart upload aborted; no partial output exists"
            ),
            Err(error) => tracing::warn!(
                output = %self.output_uri(),
                upload_id = %upload_id,
                error = %failures::describe(&error),
                "AbortMultipartUpload failed; the bucket lifecycle rule will clean the parts up"
            ),
        }
    }
}

/// The backstop: an upload dropped before it finished or aborted (its record was dropped at the
/// invocation's backstop, or panicked) is aborted in the background, so no orphaned multipart
/// upload stays behind when the handler is still running.
impl Drop for Upload<'_> {
    fn drop(&mut self) {
        for handle in self.in_flight.drain(..) {
            handle.abort();
        }
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let request = self
            .s3
            .abort_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id);
        let output = self.output_uri();
        runtime.spawn(async move {
            if let Err(error) = request.send().await {
                tracing::warn!(
                    output = %output,
                    error = %failures::describe(&error),
                    "AbortMultipartUpload of a dropped upload failed; the bucket lifecycle rule will clean the parts up"
                );
            }
        });
    }
}

/// A conditional write that lost a race (412 PreconditionFailed, 409 ConditionalRequestConflict)
/// means another invocation wrote the output since HeadObject: retrying re-reads and re-decides,
/// so it is transient although the status is 4xx.
fn write_failure<E>(
    what: &str,
    error: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Failure
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let facts = failures::error_facts(error);
    let lost_race = matches!(facts.status, Some(412) | Some(409))
        || matches!(
            facts.code.as_deref(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        );
    if lost_race {
        return Failure::transient(format!(
            "{what}: the output changed while it was being written (conditional write failed); it is re-checked on retry"
        ));
    }
    failures::from_facts(what, &facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_has_a_floor_and_grows_for_huge_files() {
        assert_eq!(effective_part_size(8 << 20, Some(100)), 8 << 20);
        assert_eq!(effective_part_size(1, None), MIN_PART_SIZE);
        let huge = 200u64 << 30; // 200 GiB
        let grown = effective_part_size(8 << 20, Some(huge));
        assert!(grown as u64 * MAX_PARTS >= huge);
        assert!(grown > 8 << 20);
    }
}
