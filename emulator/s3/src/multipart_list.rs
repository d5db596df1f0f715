//! ListMultipartUploads: the uploads in progress in a bucket, so uploads abandoned by a crashed
//! writer can be found and aborted.
//!
//! Semantics (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html):
//! uploads sorted by key, and within a key by initiation time (our upload ids sort in creation
//! order, so that is also upload-id order, which `upload-id-marker` compares with); `prefix`;
//! `delimiter` grouping keys into `CommonPrefixes`; `key-marker` alone lists keys after it,
//! with `upload-id-marker` also the later uploads of the marker key (`upload-id-marker` without
//! `key-marker` is ignored); `max-uploads` 0..=1000, default 1000; `IsTruncated`,
//! `NextKeyMarker`/`NextUploadIdMarker`; `encoding-type=url`.

use s3s::dto::{
    ChecksumAlgorithm, ChecksumType, CommonPrefix, EncodingType, Initiator,
    ListMultipartUploadsInput, ListMultipartUploadsOutput, MultipartUpload, StorageClass,
    Timestamp,
};
use s3s::{S3Request, S3Response, S3Result};

use crate::errors::invalid_argument;
use crate::list::{encoder, url_mode};
use crate::objects::bucket_of;
use crate::state::UploadSummary;
use crate::{buckets, Inner};

const MAX_UPLOADS: i32 = 1000;

/// One page of uploads and common prefixes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Page {
    uploads: Vec<UploadSummary>,
    prefixes: Vec<String>,
    truncated: bool,
    /// `(key or common prefix, upload id)` of the last entry, for the next page's markers.
    last: Option<(String, Option<String>)>,
}

/// Where a page starts: after `key`, or after upload `upload_id` of `key`.
struct Marker<'a> {
    key: &'a str,
    upload_id: Option<&'a str>,
}

impl Marker<'_> {
    fn is_before(&self, upload: &UploadSummary) -> bool {
        match self.upload_id {
            Some(id) => (upload.key.as_str(), upload.upload_id.as_str()) > (self.key, id),
            None => upload.key.as_str() > self.key,
        }
    }
}

/// Picks one page from `uploads` (sorted by key, then upload id, all starting with `prefix`).
fn page(
    uploads: Vec<UploadSummary>,
    prefix: &str,
    delimiter: Option<&str>,
    marker: Option<Marker<'_>>,
    max: usize,
) -> Page {
    let mut page = Page::default();
    // Seeded with the key marker so a page that ended on a common prefix does not repeat it.
    let mut last_prefix = marker.as_ref().map(|m| m.key.to_owned());
    for upload in uploads {
        if marker.as_ref().is_some_and(|m| !m.is_before(&upload)) {
            continue;
        }
        let common = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            let rest = &upload.key[prefix.len()..];
            rest.find(d)
                .map(|i| upload.key[..prefix.len() + i + d.len()].to_owned())
        });
        if common.is_some() && common == last_prefix {
            continue;
        }
        if page.uploads.len() + page.prefixes.len() >= max {
            page.truncated = true;
            break;
        }
        match common {
            Some(cp) => {
                page.last = Some((cp.clone(), None));
                last_prefix = Some(cp.clone());
                page.prefixes.push(cp);
            }
            None => {
                page.last = Some((upload.key.clone(), Some(upload.upload_id.clone())));
                page.uploads.push(upload);
            }
        }
    }
    page
}

fn max_uploads(requested: Option<i32>) -> S3Result<usize> {
    match requested {
        Some(n) if n < 0 => Err(invalid_argument("max-uploads cannot be negative")),
        Some(n) => Ok(n.min(MAX_UPLOADS) as usize),
        None => Ok(MAX_UPLOADS as usize),
    }
}

fn upload_dto(upload: UploadSummary, enc: &impl Fn(String) -> String) -> MultipartUpload {
    let owner = buckets::owner();
    MultipartUpload {
        upload_id: Some(upload.upload_id),
        key: Some(enc(upload.key)),
        initiated: Some(Timestamp::from(upload.initiated)),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        initiator: Some(Initiator {
            display_name: owner.display_name.clone(),
            id: owner.id.clone(),
        }),
        owner: Some(owner),
        checksum_algorithm: upload
            .checksum_algorithm
            .map(|a| ChecksumAlgorithm::from(a.name().to_owned())),
        checksum_type: upload.checksum_algorithm.map(|_| {
            ChecksumType::from_static(if upload.checksum_full_object {
                ChecksumType::FULL_OBJECT
            } else {
                ChecksumType::COMPOSITE
            })
        }),
    }
}

pub(crate) async fn list_multipart_uploads(
    inner: &Inner,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    let bucket = bucket_of(inner, &input.bucket)?;
    let url = url_mode(input.encoding_type.as_ref())?;
    let enc = encoder(url);
    let max = max_uploads(input.max_uploads)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let marker = input.key_marker.as_deref().map(|key| Marker {
        key,
        upload_id: input.upload_id_marker.as_deref(),
    });
    let page = page(
        bucket.uploads_with_prefix(&prefix),
        &prefix,
        input.delimiter.as_deref(),
        marker,
        max,
    );
    let (next_key, next_upload_id) = page.last.clone().unzip();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix.map(&enc),
        delimiter: input.delimiter.map(&enc),
        key_marker: input.key_marker.map(&enc),
        upload_id_marker: input.upload_id_marker,
        next_key_marker: next_key.map(&enc),
        next_upload_id_marker: next_upload_id.flatten(),
        max_uploads: Some(max as i32),
        is_truncated: Some(page.truncated),
        uploads: Some(
            page.uploads
                .into_iter()
                .map(|u| upload_dto(u, &enc))
                .collect(),
        ),
        common_prefixes: (!page.prefixes.is_empty()).then(|| {
            page.prefixes
                .into_iter()
                .map(|p| CommonPrefix {
                    prefix: Some(enc(p)),
                })
                .collect()
        }),
        encoding_type: url.then(|| EncodingType::from_static(EncodingType::URL)),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::{page, Marker, UploadSummary};

    fn uploads(entries: &[(&str, &str)]) -> Vec<UploadSummary> {
        entries
            .iter()
            .map(|(key, id)| UploadSummary {
                upload_id: id.to_string(),
                key: key.to_string(),
                initiated: SystemTime::UNIX_EPOCH,
                checksum_algorithm: None,
                checksum_full_object: false,
            })
            .collect()
    }

    fn ids(p: &super::Page) -> Vec<&str> {
        p.uploads.iter().map(|u| u.upload_id.as_str()).collect()
    }

    #[test]
    fn markers_page_through_every_upload_once() {
        let all = uploads(&[("a", "1"), ("a", "2"), ("b", "3"), ("c", "4")]);
        let first = page(all.clone(), "", None, None, 2);
        assert_eq!(ids(&first), ["1", "2"]);
        assert!(first.truncated);
        let marker = Marker {
            key: "a",
            upload_id: Some("1"),
        };
        assert_eq!(
            ids(&page(all.clone(), "", None, Some(marker), 2)),
            ["2", "3"]
        );
        let key_only = Marker {
            key: "a",
            upload_id: None,
        };
        let rest = page(all, "", None, Some(key_only), 10);
        assert_eq!(ids(&rest), ["3", "4"]);
        assert!(!rest.truncated);
    }

    #[test]
    fn delimiter_groups_keys_once_across_pages() {
        let all = uploads(&[
            ("in/x/1", "1"),
            ("in/x/2", "2"),
            ("in/y", "3"),
            ("in/z/1", "4"),
        ]);
        let first = page(all.clone(), "in/", Some("/"), None, 2);
        assert_eq!(first.prefixes, ["in/x/"]);
        assert_eq!(ids(&first), ["3"]);
        let marker = Marker {
            key: "in/y",
            upload_id: Some("3"),
        };
        let second = page(all, "in/", Some("/"), Some(marker), 2);
        assert_eq!(second.prefixes, ["in/z/"]);
        assert!(!second.truncated);
    }
}
