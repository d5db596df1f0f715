//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload (with S3's
//! part validation), AbortMultipartUpload and ListParts.
//!
//! Rules (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html and
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html):
//! part numbers 1..=10,000; every part but the last at least 5 MiB (`EntityTooSmall`); the
//! list in ascending order (`InvalidPartOrder`); each listed part uploaded with that ETag
//! (`InvalidPart`). The object's ETag is the MD5 of the concatenated binary part MD5s plus
//! `-<part count>`.

use std::sync::Arc;
use std::time::SystemTime;

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, ChecksumAlgorithm,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CompletedPart,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, ETag, ListPartsInput, ListPartsOutput,
    Part as PartDto, Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::checksum::{self, ChecksumAlgo};
use crate::errors::{invalid_argument, invalid_request, no_such_upload, storage_error};
use crate::objects::{
    announce, bucket_of, checksum_fields, checksum_type, set_checksum, store_if, write_condition,
    write_refused, Requester, MAX_PUT_SIZE,
};
use crate::state::{Bucket, ObjectHeaders, Part, Purpose, StoredChecksum, StoredObject, Upload};
use crate::{buckets, Inner};

/// Smallest size of a part that is not the last one: 5 MiB.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i32 = 10_000;

/// A fresh upload id whose text order is creation order: 16 hex digits of a strictly
/// increasing clock (nanoseconds since the epoch, bumped past the previous id), then 16 random
/// hex digits. ListMultipartUploads orders a key's uploads by initiation time and compares
/// `upload-id-marker` as text; with these ids both orders agree, so paging never skips one.
fn new_upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or_default();
    let stamp = now.max(previous + 1);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{stamp:016x}{}", &random[..16])
}

pub(crate) async fn create_multipart_upload(
    inner: &Inner,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let algorithm = checksum::requested(input.checksum_algorithm.as_ref())?;
    let full_object = match input.checksum_type.as_ref().map(|t| t.as_str()) {
        Some(t) => t.eq_ignore_ascii_case("FULL_OBJECT"),
        None => algorithm.is_some_and(ChecksumAlgo::default_full_object),
    };
    let upload_id = new_upload_id();
    let upload = Upload {
        key: input.key.clone(),
        headers: ObjectHeaders {
            content_type: input.content_type,
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
        },
        metadata: input.metadata.unwrap_or_default(),
        checksum_algorithm: algorithm,
        checksum_full_object: full_object,
        parts: Default::default(),
        initiated: SystemTime::now(),
    };
    let (recorded, id) = (upload.clone(), upload_id.clone());
    on_disk(&bucket, move |b| b.persist_upload(&id, &recorded)).await?;
    bucket.insert_upload(&upload_id, upload);
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        checksum_algorithm: algorithm.map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
        ..Default::default()
    }))
}

pub(crate) async fn upload_part(
    inner: &Inner,
    mut req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let input = &mut req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
        return Err(invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
        ));
    }
    let upload_algo = bucket
        .with_upload(&input.upload_id, |u| {
            (u.key == input.key).then_some(u.checksum_algorithm)
        })
        .flatten()
        .ok_or_else(no_such_upload)?;
    let declared = checksum::check_upload_headers(
        &req.headers,
        input.content_length,
        input.checksum_algorithm.as_ref(),
        MAX_PUT_SIZE,
    )?;
    if let (Some(d), Some(expected)) = (&declared, upload_algo) {
        if d.algo != expected {
            return Err(invalid_request(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                expected.name().to_ascii_lowercase(),
                d.algo.name().to_ascii_lowercase()
            )));
        }
    }
    let algo = declared.as_ref().map(|d| d.algo).or(upload_algo);
    let body = checksum::read_body(
        input.body.take(),
        MAX_PUT_SIZE,
        algo,
        inner.store.bodies().writer(Purpose::Part),
    )
    .await?;
    checksum::verify(
        &body,
        input.content_md5.as_deref(),
        declared.as_ref(),
        req.trailing_headers.as_ref(),
    )?;
    let part = Part {
        md5: body.md5,
        checksum: body.checksum.clone(),
        body: body.body,
        last_modified: SystemTime::now(),
    };
    let etag = part.etag();
    let part_number = input.part_number;
    let (recorded, id) = (part.clone(), input.upload_id.clone());
    on_disk(&bucket, move |b| {
        b.persist_part(&id, part_number, &recorded)
    })
    .await?;
    // The upload may have been completed or aborted while the body was streaming (its part
    // files then go, record included).
    let replaced = bucket
        .with_upload(&input.upload_id, |u| {
            u.parts.insert(part_number, part.clone())
        })
        .ok_or_else(|| {
            part.discard();
            no_such_upload()
        })?;
    if let Some(replaced) = replaced {
        replaced.discard();
    }
    let mut out = UploadPartOutput {
        e_tag: Some(ETag::Strong(etag)),
        ..Default::default()
    };
    if let (Some(algo), Some(value)) = (algo, body.checksum) {
        let c = StoredChecksum {
            algorithm: algo,
            value,
            full_object: true,
        };
        set_checksum!(out, &c);
    }
    Ok(S3Response::new(out))
}

fn invalid_part() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidPart,
        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not have matched the part's entity tag.",
    )
}

pub(crate) async fn complete_multipart_upload(
    inner: &Inner,
    req: S3Request<CompleteMultipartUploadInput>,
    request_id: &str,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let who = Requester::of(&req);
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref())?;
    // Checked before the upload is consumed so a refused completion can still be aborted; the
    // store below checks again atomically with the write.
    if let Err(refused) = condition.check(
        bucket
            .get_object(&input.key)
            .as_deref()
            .map(|o| o.etag.as_str()),
    ) {
        return Err(write_refused(refused, &bucket, &input.key));
    }
    let upload = bucket
        .with_upload(&input.upload_id, |u| {
            (u.key == input.key).then(|| u.clone())
        })
        .flatten()
        .ok_or_else(no_such_upload)?;
    let listed = input
        .multipart_upload
        .as_ref()
        .and_then(|m| m.parts.as_deref())
        .unwrap_or_default();
    let chosen: Vec<Part> = check_listed_parts(&upload, listed)?
        .into_iter()
        .cloned()
        .collect();
    // The parts are copied into the object's own body (streamed, file to file when big).
    let writer = inner.store.bodies().writer(Purpose::Object);
    let assembling = upload.clone();
    let object = tokio::task::spawn_blocking(move || {
        assembling.assemble(&chosen, writer, SystemTime::now())
    })
    .await
    .map_err(|e| storage_error(std::io::Error::other(e)))?
    .map_err(storage_error)?;
    let object = Arc::new(StoredObject {
        from_upload: Some(input.upload_id.clone()),
        ..object
    });
    check_sent_checksum(&input, &object)?;
    // Completing twice answers NoSuchUpload the second time, like S3 after the upload is gone.
    bucket
        .remove_upload(&input.upload_id)
        .ok_or_else(no_such_upload)?;
    if let Err(e) = store_if(&bucket, &input.key, object.clone(), &condition).await {
        // A writer won the race after the early check: keep the upload so it can be retried
        // or aborted, as when the precondition fails up front.
        bucket.insert_upload(&input.upload_id, upload);
        return Err(e);
    }
    // The object is committed and its record names the upload: a crash before the upload's
    // record is removed here ends the upload at the next start (state::disk::Disk::load).
    let id = input.upload_id.clone();
    on_disk(&bucket, move |b| b.forget_upload(&id)).await?;
    upload.discard_parts();
    let out = completion_output(&input, &object, upload.checksum_algorithm.is_some());
    announce(
        inner,
        &bucket,
        &input.key,
        "ObjectCreated:CompleteMultipartUpload",
        Some(&object),
        request_id,
        &who,
    );
    crate::objects::events_durable(inner).await?;
    Ok(S3Response::new(out))
}

/// The uploaded parts the completion request lists, in its order, after S3's checks: a
/// non-empty list in ascending part order, each part uploaded with the listed ETag (and
/// checksum, when one is listed), every part but the last at least 5 MiB.
fn check_listed_parts<'u>(upload: &'u Upload, listed: &[CompletedPart]) -> S3Result<Vec<&'u Part>> {
    if listed.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        ));
    }
    let mut chosen: Vec<&Part> = Vec::with_capacity(listed.len());
    let mut previous = 0;
    for entry in listed {
        let number = entry.part_number.ok_or_else(invalid_part)?;
        if number <= previous {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
            ));
        }
        previous = number;
        let part = upload.parts.get(&number).ok_or_else(invalid_part)?;
        let etag_matches = entry
            .e_tag
            .as_ref()
            .is_some_and(|e| e.value().trim_matches('"') == part.etag());
        if !etag_matches {
            return Err(invalid_part());
        }
        // A part checksum given in the completion request must be the one the part has.
        if let (Some(algo), Some(value)) = (upload.checksum_algorithm, part.checksum.as_deref()) {
            let listed = algo.value_in(checksum_fields!(entry));
            if listed.is_some_and(|v| v != value) {
                return Err(invalid_part());
            }
        }
        chosen.push(part);
    }
    let last = chosen.len() - 1;
    if chosen[..last]
        .iter()
        .any(|p| p.body.len() < MIN_PART_SIZE as u64)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size.",
        ));
    }
    Ok(chosen)
}

/// A full-object checksum sent with the completion request must match the assembled object.
fn check_sent_checksum(
    input: &CompleteMultipartUploadInput,
    object: &StoredObject,
) -> S3Result<()> {
    let Some(checksum) = object.checksum.as_ref().filter(|c| c.full_object) else {
        return Ok(());
    };
    let sent = checksum.algorithm.value_in(checksum_fields!(input));
    if sent.is_some_and(|v| v != checksum.value) {
        return Err(S3Error::with_message(
            S3ErrorCode::BadDigest,
            format!(
                "The {} you specified did not match the calculated checksum.",
                checksum.algorithm.name()
            ),
        ));
    }
    Ok(())
}

fn completion_output(
    input: &CompleteMultipartUploadInput,
    object: &StoredObject,
    show_checksum: bool,
) -> CompleteMultipartUploadOutput {
    let mut out = CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(ETag::Strong(object.etag.clone())),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        ..Default::default()
    };
    if let Some(checksum) = object.checksum.as_ref().filter(|_| show_checksum) {
        set_checksum!(out, checksum);
        out.checksum_type = Some(checksum_type(checksum));
    }
    out
}

pub(crate) async fn abort_multipart_upload(
    inner: &Inner,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let bucket = bucket_of(inner, &req.input.bucket)?;
    let aborted = bucket
        .remove_upload(&req.input.upload_id)
        .ok_or_else(no_such_upload)?;
    let id = req.input.upload_id.clone();
    on_disk(&bucket, move |b| b.forget_upload(&id)).await?;
    // Its part files go now (or with their last reader), records included.
    aborted.discard_parts();
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// Runs a data-dir write of `bucket` on a blocking thread (fsyncs); nothing in memory mode.
async fn on_disk(
    bucket: &Arc<Bucket>,
    write: impl FnOnce(&Bucket) -> std::io::Result<()> + Send + 'static,
) -> S3Result<()> {
    if !bucket.on_disk() {
        return Ok(());
    }
    let bucket = bucket.clone();
    tokio::task::spawn_blocking(move || write(&bucket))
        .await
        .map_err(|e| storage_error(std::io::Error::other(e)))?
        .map_err(storage_error)
}

pub(crate) async fn list_parts(
    inner: &Inner,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let upload = bucket
        .with_upload(&input.upload_id, |u| {
            (u.key == input.key).then(|| u.clone())
        })
        .flatten()
        .ok_or_else(no_such_upload)?;
    let max_parts = input.max_parts.unwrap_or(1000).clamp(0, 1000);
    let marker = input.part_number_marker.unwrap_or(0);
    let mut parts = Vec::new();
    let mut truncated = false;
    for (number, part) in upload.parts.range(marker.saturating_add(1)..) {
        if parts.len() as i32 >= max_parts {
            truncated = true;
            break;
        }
        let mut dto = PartDto {
            e_tag: Some(ETag::Strong(part.etag())),
            last_modified: Some(Timestamp::from(part.last_modified)),
            part_number: Some(*number),
            size: Some(part.body.len() as i64),
            ..Default::default()
        };
        if let (Some(algo), Some(value)) = (upload.checksum_algorithm, part.checksum.clone()) {
            let c = StoredChecksum {
                algorithm: algo,
                value,
                full_object: true,
            };
            set_checksum!(dto, &c);
        }
        parts.push(dto);
    }
    let next_marker = parts.last().and_then(|p| p.part_number);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        is_truncated: Some(truncated),
        max_parts: Some(max_parts),
        part_number_marker: Some(marker),
        next_part_number_marker: next_marker,
        owner: Some(buckets::owner()),
        parts: Some(parts),
        checksum_algorithm: upload
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
        ..Default::default()
    }))
}
