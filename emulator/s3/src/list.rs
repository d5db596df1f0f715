//! Listing: ListObjectsV2 (prefix, delimiter + CommonPrefixes, max-keys, continuation-token,
//! start-after, KeyCount, IsTruncated, encoding-type=url) and the older ListObjects.
//!
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html: results are in
//! UTF-8 binary key order; a common prefix counts as one entry toward max-keys (default and
//! maximum 1,000); the continuation token is opaque (here: base64 of the last entry returned).

use std::ops::Bound;

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3s::dto::{
    ChecksumAlgorithm, CommonPrefix, ETag, EncodingType, ListObjectsInput, ListObjectsOutput,
    ListObjectsV2Input, ListObjectsV2Output, Object, ObjectStorageClass, Timestamp,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::errors::invalid_argument;
use crate::objects::{bucket_of, checksum_type};
use crate::state::Bucket;
use crate::{buckets, Inner};

const MAX_KEYS: i32 = 1000;

/// What `encoding-type=url` leaves unescaped (the aws CLI asks for it and url-decodes keys).
const URL_ENCODE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

struct Listing {
    objects: Vec<Object>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or common prefix returned (the next page starts after it).
    last: Option<String>,
}

/// Walks the sorted keys after `after` that start with `prefix`, grouping by `delimiter`.
fn walk(
    bucket: &Bucket,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
    fetch_owner: bool,
) -> Listing {
    bucket.with_objects(|map| {
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
            _ => Bound::Included(prefix.to_owned()),
        };
        let mut listing = Listing {
            objects: Vec::new(),
            prefixes: Vec::new(),
            truncated: false,
            last: None,
        };
        // Seeded with the marker so a page that ended on a common prefix does not repeat it.
        let mut last_prefix = after.map(str::to_owned);
        for (key, object) in map.range((start, Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break; // keys with the prefix are contiguous in sorted order
            }
            let common = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
                key[prefix.len()..]
                    .find(d)
                    .map(|i| key[..prefix.len() + i + d.len()].to_owned())
            });
            if let Some(cp) = &common {
                if last_prefix.as_deref() == Some(cp.as_str()) {
                    continue;
                }
            }
            if listing.objects.len() + listing.prefixes.len() >= max {
                listing.truncated = true;
                break;
            }
            match common {
                Some(cp) => {
                    listing.last = Some(cp.clone());
                    last_prefix = Some(cp.clone());
                    listing.prefixes.push(cp);
                }
                None => {
                    listing.last = Some(key.clone());
                    listing.objects.push(Object {
                        key: Some(key.clone()),
                        size: Some(object.size() as i64),
                        e_tag: Some(ETag::Strong(object.etag.clone())),
                        last_modified: Some(Timestamp::from(object.last_modified)),
                        storage_class: Some(ObjectStorageClass::from_static(
                            ObjectStorageClass::STANDARD,
                        )),
                        owner: fetch_owner.then(buckets::owner),
                        checksum_algorithm: object
                            .checksum
                            .as_ref()
                            .map(|c| vec![ChecksumAlgorithm::from(c.algorithm.name().to_owned())]),
                        checksum_type: object.checksum.as_ref().map(checksum_type),
                        ..Default::default()
                    });
                }
            }
        }
        listing
    })
}

fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        Some(n) if n < 0 => Err(invalid_argument("max-keys cannot be negative")),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
        None => Ok(MAX_KEYS as usize),
    }
}

pub(crate) fn url_mode(encoding: Option<&EncodingType>) -> S3Result<bool> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(false),
        Some(e) if e.eq_ignore_ascii_case(EncodingType::URL) => Ok(true),
        Some(e) => Err(invalid_argument(format!(
            "Invalid Encoding Method specified in Request: {e}"
        ))),
    }
}

pub(crate) fn encoder(url: bool) -> impl Fn(String) -> String {
    move |s| {
        if url {
            utf8_percent_encode(&s, URL_ENCODE_SET).to_string()
        } else {
            s
        }
    }
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .ok_or_else(|| invalid_argument("The continuation token provided is incorrect"))
}

fn finish(listing: Listing, enc: &impl Fn(String) -> String) -> (Vec<Object>, Vec<CommonPrefix>) {
    let objects = listing
        .objects
        .into_iter()
        .map(|mut o| {
            o.key = o.key.map(enc);
            o
        })
        .collect();
    let prefixes = listing
        .prefixes
        .into_iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc(p)),
        })
        .collect();
    (objects, prefixes)
}

pub(crate) async fn list_objects_v2(
    inner: &Inner,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let max = max_keys(input.max_keys)?;
    let url = url_mode(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = match &input.continuation_token {
        Some(token) => Some(decode_token(token)?),
        None => input.start_after.clone(),
    };
    let listing = walk(
        &bucket,
        &prefix,
        input.delimiter.as_deref(),
        after.as_deref(),
        max,
        input.fetch_owner.unwrap_or(false),
    );
    let truncated = listing.truncated;
    let next = truncated
        .then(|| listing.last.as_deref().map(encode_token))
        .flatten();
    let enc = encoder(url);
    let (contents, common_prefixes) = finish(listing, &enc);
    let key_count = (contents.len() + common_prefixes.len()) as i32;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(enc(prefix)),
        delimiter: input.delimiter.map(&enc),
        max_keys: Some(max as i32),
        key_count: Some(key_count),
        is_truncated: Some(truncated),
        continuation_token: input.continuation_token,
        next_continuation_token: next,
        start_after: input.start_after.map(&enc),
        encoding_type: url.then(|| EncodingType::from_static(EncodingType::URL)),
        contents: Some(contents),
        common_prefixes: Some(common_prefixes),
        request_charged: None,
    }))
}

pub(crate) async fn list_objects(
    inner: &Inner,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let max = max_keys(input.max_keys)?;
    let url = url_mode(input.encoding_type.as_ref())?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let listing = walk(
        &bucket,
        &prefix,
        input.delimiter.as_deref(),
        input.marker.as_deref(),
        max,
        true,
    );
    let truncated = listing.truncated;
    // NextMarker is returned only when a delimiter was given; otherwise clients use the last key.
    let next_marker = (truncated && input.delimiter.is_some())
        .then(|| listing.last.clone())
        .flatten();
    let enc = encoder(url);
    let (contents, common_prefixes) = finish(listing, &enc);
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(enc(prefix)),
        marker: Some(input.marker.map(&enc).unwrap_or_default()),
        next_marker: next_marker.map(&enc),
        delimiter: input.delimiter.map(&enc),
        max_keys: Some(max as i32),
        is_truncated: Some(truncated),
        encoding_type: url.then(|| EncodingType::from_static(EncodingType::URL)),
        contents: Some(contents),
        common_prefixes: Some(common_prefixes),
        request_charged: None,
    }))
}
