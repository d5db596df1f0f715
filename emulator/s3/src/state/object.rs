//! Stored objects, in-progress multipart uploads and their parts.

use std::collections::{BTreeMap, HashMap};
use std::time::SystemTime;

use std::io;

use s3s::crypto::{Checksum as _, Md5};

use super::body::{Body, BodyWriter};
use crate::checksum::{unb64, ChecksumAlgo};

/// Representation headers S3 stores with an object and returns on GET/HEAD.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
}

/// A checksum kept with an object: base64 value as S3 returns it (composite ones end `-N`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgo,
    pub value: String,
    /// FULL_OBJECT (true) or COMPOSITE (false), the `x-amz-checksum-type`.
    pub full_object: bool,
}

impl StoredChecksum {
    /// The full-object checksum of `data` by `algorithm`.
    pub fn full_object(algorithm: ChecksumAlgo, data: &[u8]) -> Self {
        StoredChecksum {
            algorithm,
            value: algorithm.digest(data),
            full_object: true,
        }
    }

    /// S3's default for uploads that declare no checksum: a full-object CRC64NVME.
    pub fn default_for(data: &[u8]) -> Self {
        Self::full_object(ChecksumAlgo::Crc64Nvme, data)
    }

    /// The full-object checksum of `body` by `algorithm`, reading it in chunks.
    pub fn of_body(algorithm: ChecksumAlgo, body: &Body) -> io::Result<Self> {
        let mut hasher = algorithm.hasher();
        body.for_each_chunk(|chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
        Ok(StoredChecksum {
            algorithm,
            value: algorithm.finish(hasher),
            full_object: true,
        })
    }
}

#[derive(Clone, Debug)]
pub struct StoredObject {
    /// The bytes: in memory, or a file (see [`super::body`]).
    pub body: Body,
    /// Unquoted ETag: hex MD5, or `<hex md5 of part md5s>-<N>` after multipart.
    pub etag: String,
    pub last_modified: SystemTime,
    pub headers: ObjectHeaders,
    /// User metadata (`x-amz-meta-*`), names lower-cased.
    pub metadata: HashMap<String, String>,
    pub checksum: Option<StoredChecksum>,
    /// Number of parts when the object came from a multipart upload.
    pub parts_count: Option<usize>,
    /// The multipart upload this object completed. Its record in the data dir names it, so a
    /// crash between committing the object and removing the upload's record cannot bring the
    /// completed upload back at the next start.
    pub from_upload: Option<String>,
}

impl StoredObject {
    pub fn size(&self) -> u64 {
        self.body.len()
    }
}

#[derive(Clone, Debug)]
pub struct Part {
    pub body: Body,
    pub md5: [u8; 16],
    pub last_modified: SystemTime,
    /// Base64 digest of the upload's checksum algorithm, when the upload has one.
    pub checksum: Option<String>,
}

impl Part {
    pub fn etag(&self) -> String {
        hex::encode(self.md5)
    }

    /// The part is no longer part of its upload (replaced, completed, aborted): its files go
    /// once the last reader lets go (a data-dir part is otherwise kept across restarts).
    pub fn discard(&self) {
        if let Body::File(file) = &self.body {
            file.discard();
        }
    }
}

impl Upload {
    /// The upload ended (completed or aborted): every part's files go.
    pub fn discard_parts(&self) {
        self.parts.values().for_each(Part::discard);
    }
}

/// A multipart upload between CreateMultipartUpload and Complete/Abort.
#[derive(Clone, Debug)]
pub struct Upload {
    pub key: String,
    pub headers: ObjectHeaders,
    pub metadata: HashMap<String, String>,
    /// Algorithm declared at creation (`x-amz-checksum-algorithm`), if any.
    pub checksum_algorithm: Option<ChecksumAlgo>,
    pub checksum_full_object: bool,
    pub parts: BTreeMap<i32, Part>,
    /// When CreateMultipartUpload ran (ListMultipartUploads' `Initiated`).
    pub initiated: SystemTime,
}

/// What ListMultipartUploads shows of one upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadSummary {
    pub upload_id: String,
    pub key: String,
    pub initiated: SystemTime,
    pub checksum_algorithm: Option<ChecksumAlgo>,
    pub checksum_full_object: bool,
}

impl Upload {
    /// The object `parts` (checked by the caller against the completion request, in order)
    /// make: their bytes copied in order into `writer` (a file in data-dir mode or when big,
    /// so nothing is held whole in memory), the multipart ETag (MD5 of the binary part MD5s,
    /// then `-N`) and the upload's checksum (full-object, computed while copying, or
    /// COMPOSITE: the checksum of the concatenated binary part checksums, then `-N`), per
    /// https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
    /// Blocking file I/O: run it off the async threads.
    pub fn assemble(
        &self,
        parts: &[Part],
        mut writer: BodyWriter,
        now: SystemTime,
    ) -> io::Result<StoredObject> {
        let mut md5_of_md5s = Md5::new();
        let full_algo = match self.checksum_algorithm {
            None => Some(ChecksumAlgo::Crc64Nvme),
            Some(algo) if self.checksum_full_object => Some(algo),
            Some(_) => None,
        };
        let mut hasher = full_algo.map(|algo| (algo, algo.hasher()));
        for part in parts {
            part.body.for_each_chunk(|chunk| {
                if let Some((_, h)) = hasher.as_mut() {
                    h.update(chunk);
                }
                writer.write(chunk)
            })?;
            md5_of_md5s.update(&part.md5);
        }
        let checksum = match hasher {
            Some((algo, h)) => StoredChecksum {
                algorithm: algo,
                value: algo.finish(h),
                full_object: true,
            },
            // No full-object hasher: the upload declared a COMPOSITE algorithm.
            None => composite_checksum(
                self.checksum_algorithm.unwrap_or(ChecksumAlgo::Crc64Nvme),
                parts,
            )?,
        };
        Ok(StoredObject {
            etag: format!("{}-{}", hex::encode(md5_of_md5s.finalize()), parts.len()),
            body: writer.finish()?,
            last_modified: now,
            headers: self.headers.clone(),
            metadata: self.metadata.clone(),
            checksum: Some(checksum),
            parts_count: Some(parts.len()),
            from_upload: None,
        })
    }
}

fn composite_checksum(algo: ChecksumAlgo, parts: &[Part]) -> io::Result<StoredChecksum> {
    let mut concatenated = Vec::new();
    for part in parts {
        let value = match part.checksum.clone() {
            Some(value) => value,
            None => StoredChecksum::of_body(algo, &part.body)?.value,
        };
        concatenated.extend(unb64(&value).unwrap_or_default());
    }
    Ok(StoredChecksum {
        algorithm: algo,
        value: format!("{}-{}", algo.digest(&concatenated), parts.len()),
        full_object: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::body::{Bodies, Purpose};

    fn part(data: &'static [u8], checksum: Option<ChecksumAlgo>) -> Part {
        Part {
            body: Body::Memory(bytes::Bytes::from_static(data)),
            md5: Md5::checksum(data),
            last_modified: SystemTime::UNIX_EPOCH,
            checksum: checksum.map(|a| a.digest(data)),
        }
    }

    fn upload(algo: Option<ChecksumAlgo>, full_object: bool) -> Upload {
        Upload {
            key: "k".into(),
            headers: ObjectHeaders::default(),
            metadata: HashMap::new(),
            checksum_algorithm: algo,
            checksum_full_object: full_object,
            parts: BTreeMap::new(),
            initiated: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn assembled_object_has_multipart_etag_and_data_in_order() {
        let (a, b) = (part(b"hello ", None), part(b"world", None));
        let bodies = Bodies::in_memory().unwrap();
        let object = upload(None, false)
            .assemble(
                &[a.clone(), b.clone()],
                bodies.writer(Purpose::Object),
                SystemTime::UNIX_EPOCH,
            )
            .unwrap();
        assert_eq!(&object.body.read_all().unwrap()[..], b"hello world");
        let mut md5s = Vec::new();
        md5s.extend(a.md5);
        md5s.extend(b.md5);
        let expected = format!("{}-2", hex::encode(Md5::checksum(&md5s)));
        assert_eq!(object.etag, expected);
        assert_eq!(object.parts_count, Some(2));
        assert_eq!(
            object.checksum,
            Some(StoredChecksum::default_for(b"hello world"))
        );
    }

    #[test]
    fn composite_checksum_is_over_the_part_checksums() {
        let algo = ChecksumAlgo::Crc32;
        let (a, b) = (part(b"hello ", Some(algo)), part(b"world", None));
        let bodies = Bodies::in_memory().unwrap();
        let assemble = |upload: Upload| {
            upload
                .assemble(
                    &[a.clone(), b.clone()],
                    bodies.writer(Purpose::Object),
                    SystemTime::UNIX_EPOCH,
                )
                .unwrap()
        };
        let object = assemble(upload(Some(algo), false));
        let mut raw = unb64(&algo.digest(b"hello ")).unwrap();
        raw.extend(unb64(&algo.digest(b"world")).unwrap());
        let checksum = object.checksum.unwrap();
        assert_eq!(checksum.value, format!("{}-2", algo.digest(&raw)));
        assert!(!checksum.full_object);

        let full = assemble(upload(Some(algo), true));
        assert_eq!(
            full.checksum,
            Some(StoredChecksum::full_object(algo, b"hello world"))
        );
    }
}
