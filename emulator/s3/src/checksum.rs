//! Upload integrity: reads a request body while hashing it, then checks Content-MD5 and the
//! declared `x-amz-checksum-*` value (header, or `aws-chunked` trailer named by `x-amz-trailer`).
//!
//! The digests come from s3s (`s3s::checksum::ChecksumHasher` over `s3s::crypto`, what s3s
//! itself uses); only the bookkeeping of which checksum a request declares is written here.
//! AWS semantics: https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
//! (mismatch -> `BadDigest` "The CRC32 you specified did not match the calculated checksum.";
//! a malformed Content-MD5 -> `InvalidDigest`; objects uploaded without a checksum get a
//! full-object CRC64NVME).

use base64::Engine as _;
use futures::StreamExt as _;
use http::HeaderMap;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::{Checksum, ChecksumAlgorithm, StreamingBlob};
use s3s::{S3Error, S3ErrorCode, S3Result, TrailingHeaders};

use crate::errors::invalid_request;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChecksumAlgo {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgo {
    pub const ALL: [ChecksumAlgo; 5] = [
        ChecksumAlgo::Crc32,
        ChecksumAlgo::Crc32c,
        ChecksumAlgo::Crc64Nvme,
        ChecksumAlgo::Sha1,
        ChecksumAlgo::Sha256,
    ];

    /// The name used in `x-amz-checksum-algorithm` and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "CRC32",
            ChecksumAlgo::Crc32c => "CRC32C",
            ChecksumAlgo::Crc64Nvme => "CRC64NVME",
            ChecksumAlgo::Sha1 => "SHA1",
            ChecksumAlgo::Sha256 => "SHA256",
        }
    }

    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgo::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgo::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgo::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgo::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgo::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name.trim()))
    }

    /// COMPOSITE is the default multipart checksum type except for CRC64NVME (full object only).
    pub fn default_full_object(self) -> bool {
        self == ChecksumAlgo::Crc64Nvme
    }

    /// A hasher (s3s's) computing this algorithm only.
    pub fn hasher(self) -> ChecksumHasher {
        let mut hasher = ChecksumHasher::default();
        match self {
            ChecksumAlgo::Crc32 => hasher.crc32 = Some(Crc32::new()),
            ChecksumAlgo::Crc32c => hasher.crc32c = Some(Crc32c::new()),
            ChecksumAlgo::Crc64Nvme => hasher.crc64nvme = Some(Crc64Nvme::new()),
            ChecksumAlgo::Sha1 => hasher.sha1 = Some(Sha1::new()),
            ChecksumAlgo::Sha256 => hasher.sha256 = Some(Sha256::new()),
        }
        hasher
    }

    /// The one place that maps an algorithm to its `checksum_*` field; every S3 input and
    /// output carrying checksums repeats the fields of `dto::Checksum` (see the `set_checksum`
    /// and `checksum_fields` macros in `objects.rs`).
    pub fn field(self, fields: &mut Checksum) -> &mut Option<String> {
        match self {
            ChecksumAlgo::Crc32 => &mut fields.checksum_crc32,
            ChecksumAlgo::Crc32c => &mut fields.checksum_crc32c,
            ChecksumAlgo::Crc64Nvme => &mut fields.checksum_crc64nvme,
            ChecksumAlgo::Sha1 => &mut fields.checksum_sha1,
            ChecksumAlgo::Sha256 => &mut fields.checksum_sha256,
        }
    }

    /// This algorithm's value among `fields`.
    pub fn value_in(self, mut fields: Checksum) -> Option<String> {
        self.field(&mut fields).take()
    }

    /// `fields` with only this algorithm's value set.
    pub fn fields_with(self, value: String) -> Checksum {
        let mut fields = Checksum::default();
        *self.field(&mut fields) = Some(value);
        fields
    }

    /// Base64 digest of `data`, as S3 shows checksums.
    pub fn digest(self, data: &[u8]) -> String {
        let mut hasher = self.hasher();
        hasher.update(data);
        self.finish(hasher)
    }

    /// The base64 value of a hasher made by [`ChecksumAlgo::hasher`].
    pub fn finish(self, hasher: ChecksumHasher) -> String {
        self.value_in(hasher.finalize())
            .expect("the hasher computes its own algorithm")
    }
}

/// The raw bytes of a base64 value (checksums travel base64-encoded).
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()
}

/// The checksum a request declares for its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub algo: ChecksumAlgo,
    pub source: DeclaredValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeclaredValue {
    /// Value in a request header.
    Header(String),
    /// Value arrives in the `aws-chunked` trailer.
    Trailer,
    /// Only the algorithm was named: S3 computes and stores the checksum.
    Compute,
}

/// The checks S3 makes on an upload's headers before reading its body: a declared length
/// over `limit` is `EntityTooLarge`; then the checksum the upload declares.
pub fn check_upload_headers(
    headers: &HeaderMap,
    content_length: Option<i64>,
    algorithm: Option<&ChecksumAlgorithm>,
    limit: u64,
) -> S3Result<Option<Declared>> {
    if content_length.is_some_and(|n| n < 0 || n as u64 > limit) {
        return Err(entity_too_large(limit));
    }
    declared(headers, algorithm.map(|a| a.as_str()))
}

/// Works out which checksum the request declares (at most one, as S3 requires).
pub fn declared(headers: &HeaderMap, algorithm: Option<&str>) -> S3Result<Option<Declared>> {
    let mut found = None;
    for algo in ChecksumAlgo::ALL {
        if let Some(value) = headers.get(algo.header_name()) {
            if found.is_some() {
                return Err(invalid_request(
                    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                ));
            }
            let value = value.to_str().map_err(|_| invalid_value(algo))?.to_owned();
            found = Some(Declared {
                algo,
                source: DeclaredValue::Header(value),
            });
        }
    }
    if found.is_some() {
        return Ok(found);
    }
    if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        for name in trailer.split(',') {
            if let Some(algo) = ChecksumAlgo::from_header_name(name) {
                return Ok(Some(Declared {
                    algo,
                    source: DeclaredValue::Trailer,
                }));
            }
        }
    }
    match algorithm {
        Some(name) => match ChecksumAlgo::from_name(name) {
            Some(algo) => Ok(Some(Declared {
                algo,
                source: DeclaredValue::Compute,
            })),
            None => Err(invalid_request(format!(
                "Checksum algorithm provided is unsupported: {name}"
            ))),
        },
        None => Ok(None),
    }
}

fn invalid_value(algo: ChecksumAlgo) -> S3Error {
    invalid_request(format!(
        "Value for {} header is invalid.",
        algo.header_name()
    ))
}

/// A fully received request body and its digests.
pub struct ReadBody {
    /// Where the bytes went (memory, or a file: see `state::body`).
    pub body: crate::state::Body,
    pub md5: [u8; 16],
    /// Base64 digest of the algorithm that was asked for.
    pub checksum: Option<String>,
}

/// Streams the body into `writer` (rejecting more than `limit` bytes with `EntityTooLarge`)
/// while computing its MD5 and the `algo` digest; nothing is held whole in memory unless the
/// writer keeps small bodies there.
pub async fn read_body(
    body: Option<StreamingBlob>,
    limit: u64,
    algo: Option<ChecksumAlgo>,
    mut writer: crate::state::body::BodyWriter,
) -> S3Result<ReadBody> {
    let mut md5 = Md5::new();
    let mut hasher = algo.map(|a| (a, a.hasher()));
    let mut received: u64 = 0;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(body_error)?;
            received += chunk.len() as u64;
            if received > limit {
                return Err(entity_too_large(limit));
            }
            md5.update(&chunk);
            if let Some((_, h)) = hasher.as_mut() {
                h.update(&chunk);
            }
            writer.write(&chunk).map_err(crate::errors::storage_error)?;
        }
    }
    // A thread hop per request cost in-memory PUTs 12-23% of their rate (vs_moto): only
    // file I/O goes to a blocking thread.
    let body = if writer.finish_does_io() {
        tokio::task::spawn_blocking(move || writer.finish())
            .await
            .map_err(|e| crate::errors::storage_error(std::io::Error::other(e)))?
    } else {
        writer.finish()
    }
    .map_err(crate::errors::storage_error)?;
    Ok(ReadBody {
        body,
        md5: md5.finalize(),
        checksum: hasher.map(|(a, h)| a.finish(h)),
    })
}

pub fn entity_too_large(limit: u64) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::EntityTooLarge,
        format!("Your proposed upload exceeds the maximum allowed size ({limit} bytes)."),
    )
}

/// Maps a body stream failure (s3s reports aws-chunked signature problems this way).
fn body_error(e: s3s::StdError) -> S3Error {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        S3Error::with_message(
            S3ErrorCode::SignatureDoesNotMatch,
            "The request signature we calculated does not match the signature you provided.",
        )
    } else {
        S3Error::with_message(
            S3ErrorCode::IncompleteBody,
            format!("The request body could not be read: {text}"),
        )
    }
}

/// Checks Content-MD5 and the declared checksum against what was received; returns the
/// checksum's base64 value to store (if any).
pub fn verify(
    body: &ReadBody,
    content_md5: Option<&str>,
    declared: Option<&Declared>,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Option<String>> {
    if let Some(md5) = content_md5 {
        let expected = unb64(md5).filter(|raw| raw.len() == 16).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidDigest,
                "The Content-MD5 you specified was invalid.",
            )
        })?;
        if expected != body.md5 {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    let Some(declared) = declared else {
        return Ok(None);
    };
    let Some(actual) = body.checksum.as_deref() else {
        return Ok(None);
    };
    let actual_raw = unb64(actual).unwrap_or_default();
    let expected = match &declared.source {
        DeclaredValue::Header(value) => Some(value.clone()),
        DeclaredValue::Compute => None,
        DeclaredValue::Trailer => {
            let name = declared.algo.header_name();
            let value = trailers.and_then(|t| {
                t.read(|h| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))
                    .flatten()
            });
            Some(value.ok_or_else(|| {
                S3Error::with_message(
                    S3ErrorCode::IncompleteBody,
                    format!("The request declared the trailer {name} but did not send it."),
                )
            })?)
        }
    };
    if let Some(expected) = expected {
        let raw = unb64(&expected)
            .filter(|raw| raw.len() == actual_raw.len())
            .ok_or_else(|| invalid_value(declared.algo))?;
        if raw != actual_raw {
            return Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    declared.algo.name()
                ),
            ));
        }
    }
    Ok(Some(actual.to_owned()))
}

/// The algorithm named by `x-amz-checksum-algorithm` on a request that does not send a body
/// checksum (CreateMultipartUpload, CopyObject).
pub fn requested(algorithm: Option<&ChecksumAlgorithm>) -> S3Result<Option<ChecksumAlgo>> {
    algorithm
        .map(|a| {
            ChecksumAlgo::from_name(a.as_str()).ok_or_else(|| {
                invalid_request(format!(
                    "Checksum algorithm provided is unsupported: {}",
                    a.as_str()
                ))
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn crc32_of_known_input() {
        // CRC-32/ISO-HDLC("123456789") = 0xCBF43926.
        assert_eq!(
            unb64(&ChecksumAlgo::Crc32.digest(b"123456789")).unwrap(),
            vec![0xCB, 0xF4, 0x39, 0x26]
        );
    }

    #[test]
    fn each_algorithm_has_its_own_field() {
        for algo in ChecksumAlgo::ALL {
            let fields = algo.fields_with(algo.digest(b"abc"));
            let set = [
                &fields.checksum_crc32,
                &fields.checksum_crc32c,
                &fields.checksum_crc64nvme,
                &fields.checksum_sha1,
                &fields.checksum_sha256,
            ];
            assert_eq!(set.iter().filter(|f| f.is_some()).count(), 1, "{algo:?}");
            assert_eq!(algo.value_in(fields), Some(algo.digest(b"abc")));
        }
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            hex::encode(unb64(&ChecksumAlgo::Sha256.digest(b"abc")).unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn unknown_requested_algorithm_is_invalid_request() {
        let md5 = ChecksumAlgorithm::from("MD5".to_owned());
        let err = requested(Some(&md5)).unwrap_err();
        assert_eq!(err.code(), &S3ErrorCode::InvalidRequest);
        let sha1 = ChecksumAlgorithm::from("sha1".to_owned());
        assert_eq!(requested(Some(&sha1)).unwrap(), Some(ChecksumAlgo::Sha1));
        assert_eq!(requested(None).unwrap(), None);
    }

    #[test]
    fn two_checksum_headers_are_rejected() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "AAAAAA==".parse().unwrap());
        h.insert("x-amz-checksum-sha1", "AAAAAA==".parse().unwrap());
        assert!(declared(&h, None).is_err());
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_entity_too_large() {
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..3)
            .map(|_| Ok(Bytes::from_static(b"0123456789")))
            .collect();
        let bodies = crate::state::Bodies::in_memory().unwrap();
        let writer = || bodies.writer(crate::state::Purpose::Object);
        let body = StreamingBlob::wrap(futures::stream::iter(chunks));
        let err = read_body(Some(body), 25, None, writer())
            .await
            .err()
            .expect("over the limit");
        assert_eq!(err.code(), &S3ErrorCode::EntityTooLarge);

        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..2)
            .map(|_| Ok(Bytes::from_static(b"0123456789")))
            .collect();
        let body = StreamingBlob::wrap(futures::stream::iter(chunks));
        let read = read_body(Some(body), 25, Some(ChecksumAlgo::Crc32), writer())
            .await
            .unwrap();
        let data = read.body.read_all().unwrap();
        assert_eq!(data.len(), 20);
        assert_eq!(read.checksum, Some(ChecksumAlgo::Crc32.digest(&data)));
    }

    #[test]
    fn mismatching_and_malformed_values() {
        let body = ReadBody {
            body: crate::state::Body::Memory(Bytes::from_static(b"abc")),
            md5: Md5::checksum(b"abc"),
            checksum: Some(ChecksumAlgo::Crc32.digest(b"abc")),
        };
        let declared = |v: &str| Declared {
            algo: ChecksumAlgo::Crc32,
            source: DeclaredValue::Header(v.to_owned()),
        };
        let good = ChecksumAlgo::Crc32.digest(b"abc");
        assert_eq!(
            verify(&body, None, Some(&declared(&good)), None).unwrap(),
            Some(good.clone())
        );
        let wrong = verify(&body, None, Some(&declared("AAAAAA==")), None).unwrap_err();
        assert_eq!(wrong.code(), &S3ErrorCode::BadDigest);
        let malformed = verify(&body, None, Some(&declared("???")), None).unwrap_err();
        assert_eq!(malformed.code(), &S3ErrorCode::InvalidRequest);
        let trailer = Declared {
            algo: ChecksumAlgo::Crc32,
            source: DeclaredValue::Trailer,
        };
        let missing = verify(&body, None, Some(&trailer), None).unwrap_err();
        assert_eq!(missing.code(), &S3ErrorCode::IncompleteBody);
        let bad_md5 = verify(&body, Some("AAAA"), None, None).unwrap_err();
        assert_eq!(bad_md5.code(), &S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn trailer_declaration_is_found() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-trailer", "x-amz-checksum-crc32c".parse().unwrap());
        let d = declared(&h, Some("CRC32C")).unwrap().unwrap();
        assert_eq!(d.algo, ChecksumAlgo::Crc32c);
        assert_eq!(d.source, DeclaredValue::Trailer);
    }
}
