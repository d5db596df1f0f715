//! Stored objects, in-progress multipart uploads and their parts.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use bytes::Bytes;

use crate::checksum::ChecksumAlgo;

/// Representation headers S3 stores with an object and returns on GET/HEAD.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
}

/// A checksum kept with an object: base64 value as S3 returns it (composite ones end `-N`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgo,
    pub value: String,
    /// FULL_OBJECT (true) or COMPOSITE (false), the `x-amz-checksum-type`.
    pub full_object: bool,
}

#[derive(Clone, Debug)]
pub struct StoredObject {
    pub data: Bytes,
    /// Unquoted ETag: hex MD5, or `<hex md5 of part md5s>-<N>` after multipart.
    pub etag: String,
    pub last_modified: SystemTime,
    pub headers: ObjectHeaders,
    /// User metadata (`x-amz-meta-*`), names lower-cased.
    pub metadata: HashMap<String, String>,
    pub checksum: Option<StoredChecksum>,
    /// Number of parts when the object came from a multipart upload.
    pub parts_count: Option<usize>,
}

impl StoredObject {
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }
}

#[derive(Clone, Debug)]
pub struct Part {
    pub data: Bytes,
    pub md5: [u8; 16],
    pub last_modified: SystemTime,
    /// Raw digest of the upload's checksum algorithm, when the upload has one.
    pub checksum: Option<Vec<u8>>,
}

impl Part {
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }
}

/// A multipart upload between CreateMultipartUpload and Complete/Abort.
#[derive(Clone, Debug)]
pub struct Upload {
    pub key: String,
    pub initiated: SystemTime,
    pub headers: ObjectHeaders,
    pub metadata: HashMap<String, String>,
    /// Algorithm declared at creation (`x-amz-checksum-algorithm`), if any.
    pub checksum_algorithm: Option<ChecksumAlgo>,
    pub checksum_full_object: bool,
    pub parts: BTreeMap<i32, Part>,
}
