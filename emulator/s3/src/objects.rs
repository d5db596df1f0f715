//! Object operations: PutObject, GetObject (ranges), HeadObject, DeleteObject, DeleteObjects,
//! CopyObject (metadata directive COPY/REPLACE). Each change is stored first, then announced
//! to the bucket's notification queues.

use std::sync::Arc;
use std::time::SystemTime;

use s3s::crypto::Checksum as _;
use s3s::dto::{
    ChecksumType, CopyObjectInput, CopyObjectOutput, CopyObjectResult, CopySource,
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, DeletedObject,
    ETag, GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, PutObjectInput,
    PutObjectOutput, StreamingBlob, Timestamp,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, ChecksumAlgo};
use crate::errors::{
    invalid_argument, invalid_request, no_such_bucket, no_such_key, storage_error,
};
use crate::notifications::{self, ObjectEvent};
use crate::state::{
    Body, Bucket, ObjectHeaders, Purpose, StoredChecksum, StoredObject, WriteCondition,
    WriteRefused,
};
use crate::Inner;

/// Largest object a single PUT may create: 5 GiB
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html).
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// S3's Content-Type for objects stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// Who made a request, for event records.
pub(crate) struct Requester {
    pub source_ip: String,
    pub principal: String,
}

impl Requester {
    pub fn of<T>(req: &S3Request<T>) -> Self {
        let source_ip = req
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
            .or_else(|| {
                req.extensions
                    .get::<std::net::SocketAddr>()
                    .map(|a| a.ip().to_string())
            })
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let principal = req.credentials.as_ref().map_or_else(
            || "Anonymous".to_owned(),
            |c| format!("AWS:{}", c.access_key),
        );
        Self {
            source_ip,
            principal,
        }
    }
}

pub(crate) fn bucket_of(inner: &Inner, name: &str) -> S3Result<Arc<Bucket>> {
    inner.store.bucket(name).ok_or_else(|| no_such_bucket(name))
}

/// Stores the object (NoSuchBucket if the bucket vanished meanwhile).
pub(crate) async fn store(
    bucket: &Arc<Bucket>,
    key: &str,
    object: Arc<StoredObject>,
) -> S3Result<()> {
    store_if(bucket, key, object, &WriteCondition::Always).await
}

/// Stores the object if the conditional-write precondition holds, atomically with the write.
/// In `--data-dir` mode this commits it to disk (fsyncs), so it runs on a blocking thread.
pub(crate) async fn store_if(
    bucket: &Arc<Bucket>,
    key: &str,
    object: Arc<StoredObject>,
    condition: &WriteCondition,
) -> S3Result<()> {
    if !bucket.on_disk() {
        // In memory the write is a map insert: no blocking thread (see `checksum::read_body`).
        return bucket
            .put_object_if(key, object, condition)
            .map_err(|refused| write_refused(refused, bucket, key));
    }
    let (target, owned_key, condition) = (bucket.clone(), key.to_owned(), condition.clone());
    tokio::task::spawn_blocking(move || target.put_object_if(&owned_key, object, &condition))
        .await
        .map_err(|e| storage_error(std::io::Error::other(e)))?
        .map_err(|refused| write_refused(refused, bucket, key))
}

/// S3's answer to a refused write: 412 PreconditionFailed, or 404 NoSuchKey for `If-Match` on
/// a missing key (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
pub(crate) fn write_refused(refused: WriteRefused, bucket: &Bucket, key: &str) -> s3s::S3Error {
    match refused {
        WriteRefused::BucketGone => no_such_bucket(&bucket.name),
        WriteRefused::Storage => storage_error(std::io::Error::other("see the log above")),
        WriteRefused::NoSuchKey => {
            s3s::s3_error!(NoSuchKey, "The specified key does not exist: {key}")
        }
        WriteRefused::PreconditionFailed => s3s::s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ),
    }
}

/// The precondition of a PutObject/CompleteMultipartUpload from its `If-Match` /
/// `If-None-Match` headers. S3 supports only `*` for `If-None-Match` on writes.
pub(crate) fn write_condition(
    if_match: Option<&s3s::dto::ETagCondition>,
    if_none_match: Option<&s3s::dto::ETagCondition>,
) -> S3Result<WriteCondition> {
    use s3s::dto::ETagCondition;
    match (if_match, if_none_match) {
        (None, None) => Ok(WriteCondition::Always),
        (None, Some(ETagCondition::Any)) => Ok(WriteCondition::IfAbsent),
        (Some(ETagCondition::Any), None) => Ok(WriteCondition::IfPresent),
        (Some(ETagCondition::ETag(etag)), None) => {
            Ok(WriteCondition::IfEtag(etag.value().to_owned()))
        }
        (None, Some(ETagCondition::ETag(_))) => Err(s3s::s3_error!(
            NotImplemented,
            "If-None-Match on a write supports only `*`"
        )),
        (Some(_), Some(_)) => Err(s3s::s3_error!(
            NotImplemented,
            "If-Match and If-None-Match together on a write are not supported"
        )),
    }
}

/// Announces a change of `key` to the bucket's matching queue configurations.
pub(crate) fn announce(
    inner: &Inner,
    bucket: &Bucket,
    key: &str,
    event_name: &str,
    object: Option<&StoredObject>,
    request_id: &str,
    who: &Requester,
) {
    let configs = bucket.notifications();
    if configs.is_empty() {
        return;
    }
    let event = ObjectEvent {
        event_name,
        bucket: &bucket.name,
        key,
        size_etag: object.map(|o| (o.size(), o.etag.as_str())),
        request_id,
        source_ip: who.source_ip.clone(),
        principal: who.principal.clone(),
    };
    notifications::publish(inner, &configs, &event);
}

/// Waits until the events `announce` sent are durable (see
/// `NotificationSink::delivered_durably`); a failure is S3's retryable 500.
pub(crate) async fn events_durable(inner: &Inner) -> S3Result<()> {
    inner
        .sink
        .delivered_durably()
        .await
        .map_err(|e| storage_error(std::io::Error::other(e)))
}

/// Fills the `checksum_<algorithm>` field of an output struct from a stored checksum (the
/// field is chosen by `ChecksumAlgo::field`).
macro_rules! set_checksum {
    ($out:expr, $c:expr) => {{
        let c: &crate::state::StoredChecksum = $c;
        let fields = c.algorithm.fields_with(c.value.clone());
        $out.checksum_crc32 = fields.checksum_crc32;
        $out.checksum_crc32c = fields.checksum_crc32c;
        $out.checksum_crc64nvme = fields.checksum_crc64nvme;
        $out.checksum_sha1 = fields.checksum_sha1;
        $out.checksum_sha256 = fields.checksum_sha256;
    }};
}

/// The `checksum_*` fields of an input struct, as one `dto::Checksum`.
macro_rules! checksum_fields {
    ($dto:expr) => {
        s3s::dto::Checksum {
            checksum_crc32: $dto.checksum_crc32.clone(),
            checksum_crc32c: $dto.checksum_crc32c.clone(),
            checksum_crc64nvme: $dto.checksum_crc64nvme.clone(),
            checksum_sha1: $dto.checksum_sha1.clone(),
            checksum_sha256: $dto.checksum_sha256.clone(),
            checksum_type: None,
        }
    };
}
pub(crate) use checksum_fields;
pub(crate) use set_checksum;

pub(crate) fn checksum_type(c: &StoredChecksum) -> ChecksumType {
    ChecksumType::from_static(if c.full_object {
        ChecksumType::FULL_OBJECT
    } else {
        ChecksumType::COMPOSITE
    })
}

pub(crate) async fn put_object(
    inner: &Inner,
    mut req: S3Request<PutObjectInput>,
    request_id: &str,
) -> S3Result<S3Response<PutObjectOutput>> {
    let who = Requester::of(&req);
    let input = &mut req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    let declared = checksum::check_upload_headers(
        &req.headers,
        input.content_length,
        input.checksum_algorithm.as_ref(),
        MAX_PUT_SIZE,
    )?;
    // Without a declared algorithm S3 still stores a full-object CRC64NVME: compute it while
    // the body streams in, as the object is never whole in memory afterwards.
    let algo = declared
        .as_ref()
        .map_or(ChecksumAlgo::Crc64Nvme, |d| d.algo);
    let body = checksum::read_body(
        input.body.take(),
        MAX_PUT_SIZE,
        Some(algo),
        inner.store.bodies().writer(Purpose::Object),
    )
    .await?;
    let verified = checksum::verify(
        &body,
        input.content_md5.as_deref(),
        declared.as_ref(),
        req.trailing_headers.as_ref(),
    )?;
    let stored_checksum = match (&declared, verified) {
        (Some(d), Some(value)) => StoredChecksum {
            algorithm: d.algo,
            value,
            full_object: true,
        },
        _ => StoredChecksum {
            algorithm: ChecksumAlgo::Crc64Nvme,
            value: body.checksum.clone().unwrap_or_default(),
            full_object: true,
        },
    };
    let object = Arc::new(StoredObject {
        etag: hex::encode(body.md5),
        body: body.body,
        last_modified: SystemTime::now(),
        headers: put_headers(input),
        metadata: input.metadata.take().unwrap_or_default(),
        checksum: Some(stored_checksum.clone()),
        parts_count: None,
        from_upload: None,
    });
    store_if(&bucket, &input.key, object.clone(), &condition).await?;

    let mut out = PutObjectOutput {
        e_tag: Some(ETag::Strong(object.etag.clone())),
        size: Some(object.size() as i64),
        ..Default::default()
    };
    if declared.is_some() {
        set_checksum!(out, &stored_checksum);
        out.checksum_type = Some(checksum_type(&stored_checksum));
    }
    announce(
        inner,
        &bucket,
        &input.key,
        "ObjectCreated:Put",
        Some(&object),
        request_id,
        &who,
    );
    events_durable(inner).await?;
    Ok(S3Response::new(out))
}

/// `aws-chunked` describes the upload framing, not the object: S3 drops it from the stored
/// Content-Encoding and keeps any other codings.
/// The representation headers a PutObject stores.
fn put_headers(input: &mut PutObjectInput) -> ObjectHeaders {
    ObjectHeaders {
        content_type: input.content_type.take(),
        cache_control: input.cache_control.take(),
        content_disposition: input.content_disposition.take(),
        content_encoding: input
            .content_encoding
            .take()
            .and_then(|e| stored_content_encoding(&e)),
        content_language: input.content_language.take(),
    }
}

fn stored_content_encoding(sent: &str) -> Option<String> {
    let kept: Vec<&str> = sent
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

fn lookup(inner: &Inner, bucket: &str, key: &str) -> S3Result<Arc<StoredObject>> {
    bucket_of(inner, bucket)?
        .get_object(key)
        .ok_or_else(no_such_key)
}

/// Fills the representation headers and, when `with_checksum`, the checksum of a GET or HEAD
/// reply (the two output types repeat these fields).
macro_rules! describe_object {
    ($out:expr, $object:expr, $with_checksum:expr) => {{
        let object: &StoredObject = $object;
        let h = &object.headers;
        $out.content_type = Some(
            h.content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
        );
        $out.cache_control = h.cache_control.clone();
        $out.content_disposition = h.content_disposition.clone();
        $out.content_encoding = h.content_encoding.clone();
        $out.content_language = h.content_language.clone();
        if $with_checksum {
            if let Some(c) = &object.checksum {
                set_checksum!($out, c);
                $out.checksum_type = Some(checksum_type(c));
            }
        }
    }};
}

pub(crate) async fn get_object(
    inner: &Inner,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let object = lookup(inner, &input.bucket, &input.key)?;
    let total = object.size();
    let (range, content_range) = match input.range {
        None => (0..total, None),
        Some(range) => {
            let r = range.check(total).map_err(|_| {
                S3Error::with_message(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                )
            })?;
            let content_range = format!("bytes {}-{}/{total}", r.start, r.end - 1);
            (r.start..r.end, Some(content_range))
        }
    };
    let length = range.end - range.start;
    // Streamed from the file as the client reads (never whole in memory).
    let stream = object.body.stream(range).map_err(storage_error)?;
    let mut out = GetObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: Some(length as i64),
        content_range: content_range.clone(),
        e_tag: Some(ETag::Strong(object.etag.clone())),
        last_modified: Some(Timestamp::from(object.last_modified)),
        metadata: Some(object.metadata.clone()),
        parts_count: object.parts_count.map(|n| n as i32),
        body: Some(StreamingBlob::wrap(stream)),
        ..Default::default()
    };
    // A checksum describes the whole object, so S3 returns it only for full reads.
    let with_checksum =
        checksum_mode_enabled(input.checksum_mode.as_ref()) && content_range.is_none();
    describe_object!(out, &object, with_checksum);
    Ok(S3Response::new(out))
}

pub(crate) async fn head_object(
    inner: &Inner,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let object = lookup(inner, &input.bucket, &input.key)?;
    let mut out = HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: Some(object.size() as i64),
        e_tag: Some(ETag::Strong(object.etag.clone())),
        last_modified: Some(Timestamp::from(object.last_modified)),
        metadata: Some(object.metadata.clone()),
        parts_count: object.parts_count.map(|n| n as i32),
        ..Default::default()
    };
    describe_object!(
        out,
        &object,
        checksum_mode_enabled(input.checksum_mode.as_ref())
    );
    Ok(S3Response::new(out))
}

fn checksum_mode_enabled(mode: Option<&s3s::dto::ChecksumMode>) -> bool {
    mode.is_some_and(|m| {
        m.as_str()
            .eq_ignore_ascii_case(s3s::dto::ChecksumMode::ENABLED)
    })
}

pub(crate) async fn delete_object(
    inner: &Inner,
    req: S3Request<DeleteObjectInput>,
    request_id: &str,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let who = Requester::of(&req);
    let bucket = bucket_of(inner, &req.input.bucket)?;
    // Deleting a missing key succeeds with 204, as on an unversioned S3 bucket.
    if bucket.delete_object(&req.input.key).is_some() {
        announce(
            inner,
            &bucket,
            &req.input.key,
            "ObjectRemoved:Delete",
            None,
            request_id,
            &who,
        );
    }
    events_durable(inner).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(crate) async fn delete_objects(
    inner: &Inner,
    req: S3Request<DeleteObjectsInput>,
    request_id: &str,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let who = Requester::of(&req);
    let bucket = bucket_of(inner, &req.input.bucket)?;
    let delete = req.input.delete;
    // "The request can contain a list of up to 1,000 keys"
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
    if delete.objects.len() > 1000 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let quiet = delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    for id in delete.objects {
        if bucket.delete_object(&id.key).is_some() {
            announce(
                inner,
                &bucket,
                &id.key,
                "ObjectRemoved:Delete",
                None,
                request_id,
                &who,
            );
        }
        if !quiet {
            deleted.push(DeletedObject {
                key: Some(id.key),
                ..Default::default()
            });
        }
    }
    events_durable(inner).await?;
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: None,
        request_charged: None,
    }))
}

pub(crate) async fn copy_object(
    inner: &Inner,
    req: S3Request<CopyObjectInput>,
    request_id: &str,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let who = Requester::of(&req);
    let input = req.input;
    let CopySource::Bucket {
        bucket: src_bucket,
        key: src_key,
        ..
    } = &input.copy_source
    else {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Copying from an access point is not supported by this emulator",
        ));
    };
    let source = lookup(inner, src_bucket, src_key)?;
    let dest = bucket_of(inner, &input.bucket)?;
    let replace = replaces_metadata(&input)?;
    if !replace && **src_bucket == *input.bucket && **src_key == *input.key {
        return Err(invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let wanted = checksum::requested(input.checksum_algorithm.as_ref())?;
    let (headers, metadata) = if replace {
        let h = ObjectHeaders {
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
        };
        (h, input.metadata.unwrap_or_default())
    } else {
        (source.headers.clone(), source.metadata.clone())
    };
    let writer = inner.store.bodies().writer(Purpose::Object);
    let copied = tokio::task::spawn_blocking(move || copy_body(&source, wanted, writer))
        .await
        .map_err(|e| storage_error(std::io::Error::other(e)))?
        .map_err(storage_error)?;
    let checksum = copied.checksum;
    let object = Arc::new(StoredObject {
        body: copied.body,
        etag: hex::encode(copied.md5),
        last_modified: SystemTime::now(),
        headers,
        metadata,
        checksum: Some(checksum.clone()),
        parts_count: None,
        from_upload: None,
    });
    store(&dest, &input.key, object.clone()).await?;
    let mut result = CopyObjectResult {
        e_tag: Some(ETag::Strong(object.etag.clone())),
        last_modified: Some(Timestamp::from(object.last_modified)),
        ..Default::default()
    };
    set_checksum!(result, &checksum);
    result.checksum_type = Some(checksum_type(&checksum));
    announce(
        inner,
        &dest,
        &input.key,
        "ObjectCreated:Copy",
        Some(&object),
        request_id,
        &who,
    );
    events_durable(inner).await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(result),
        ..Default::default()
    }))
}

/// Whether `x-amz-metadata-directive` asks for the request's metadata instead of the source's.
fn replaces_metadata(input: &CopyObjectInput) -> S3Result<bool> {
    match input.metadata_directive.as_ref().map(|d| d.as_str()) {
        None | Some("COPY") => Ok(false),
        Some("REPLACE") => Ok(true),
        Some(other) => Err(invalid_argument(format!(
            "Unknown metadata directive: {other}"
        ))),
    }
}

/// A copied body, its MD5 and checksum.
struct Copied {
    body: Body,
    md5: [u8; 16],
    checksum: StoredChecksum,
}

/// Copies the source's bytes into `writer` (blocking: run off the async threads), hashing as
/// it goes. A copy is a new single-part object: it keeps the source's full-object checksum
/// unless another algorithm is asked for, and otherwise gets one computed (CRC64NVME by
/// default).
fn copy_body(
    source: &StoredObject,
    wanted: Option<ChecksumAlgo>,
    mut writer: crate::state::body::BodyWriter,
) -> std::io::Result<Copied> {
    let kept = match (wanted, &source.checksum) {
        (None, Some(c)) if c.full_object => Some(c.clone()),
        _ => None,
    };
    let algo = wanted.unwrap_or(ChecksumAlgo::Crc64Nvme);
    let mut hasher = algo.hasher();
    let mut md5 = s3s::crypto::Md5::new();
    source.body.for_each_chunk(|chunk| {
        md5.update(chunk);
        hasher.update(chunk);
        writer.write(chunk)
    })?;
    let checksum = kept.unwrap_or_else(|| StoredChecksum {
        algorithm: algo,
        value: algo.finish(hasher),
        full_object: true,
    });
    Ok(Copied {
        body: writer.finish()?,
        md5: md5.finalize(),
        checksum,
    })
}
