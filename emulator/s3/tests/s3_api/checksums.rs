//! SDK default CRC32 checksums, aws-chunked streaming uploads with a trailer, Content-MD5, and
//! rejection of wrong checksums.

use std::io::Write as _;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};
use base64::Engine as _;
use s3s::crypto::{Checksum as _, Crc32, Sha256};

use crate::common::{body_bytes, code_of, md5, start};

fn b64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

#[tokio::test]
async fn streamed_file_upload_round_trips_and_keeps_its_crc32() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("stream").unwrap();
    // 300 KiB: several 64 KiB aws-chunked chunks plus the CRC32 trailer.
    let data: Vec<u8> = (0..300 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&data).unwrap();
    file.flush().unwrap();

    let put = c
        .put_object()
        .bucket("stream")
        .key("big.bin")
        .body(ByteStream::from_path(file.path()).await.unwrap())
        .send()
        .await
        .unwrap();
    let crc = b64(&Crc32::checksum(&data));
    assert_eq!(put.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{}\"", hex::encode(md5(&data))).as_str())
    );

    let got = c
        .get_object()
        .bucket("stream")
        .key("big.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(body_bytes(got).await, data);

    // A ranged read carries no whole-object checksum (the SDK would fail to validate it).
    let ranged = c
        .get_object()
        .bucket("stream")
        .key("big.bin")
        .range("bytes=0-9")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.checksum_crc32(), None);
    assert_eq!(body_bytes(ranged).await, &data[..10]);
}

#[tokio::test]
async fn other_algorithms_and_default_checksum() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("algos").unwrap();
    let put = c
        .put_object()
        .bucket("algos")
        .key("sha")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from_static(b"hello sha"))
        .send()
        .await
        .unwrap();
    let sha = b64(Sha256::checksum(b"hello sha").as_ref());
    assert_eq!(put.checksum_sha256(), Some(sha.as_str()));
    let head = c
        .head_object()
        .bucket("algos")
        .key("sha")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(sha.as_str()));

    c.put_object()
        .bucket("algos")
        .key("crc32c")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from_static(b"hello crc32c"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("algos")
        .key("crc32c")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert!(got.checksum_crc32_c().is_some());
    assert_eq!(body_bytes(got).await, b"hello crc32c");
}

#[tokio::test]
async fn wrong_checksums_are_rejected_and_nothing_is_stored() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("bad").unwrap();
    let wrong_crc = c
        .put_object()
        .bucket("bad")
        .key("k")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"some data"))
        .send()
        .await;
    assert_eq!(code_of(wrong_crc), "BadDigest");

    let wrong_md5 = c
        .put_object()
        .bucket("bad")
        .key("k")
        .content_md5(b64(&md5(b"other data")))
        .body(ByteStream::from_static(b"some data"))
        .send()
        .await;
    assert_eq!(code_of(wrong_md5), "BadDigest");

    let malformed_md5 = c
        .put_object()
        .bucket("bad")
        .key("k")
        .content_md5("not-base64!")
        .body(ByteStream::from_static(b"some data"))
        .send()
        .await;
    assert_eq!(code_of(malformed_md5), "InvalidDigest");

    let malformed_crc = c
        .put_object()
        .bucket("bad")
        .key("k")
        .checksum_crc32("definitely not a crc")
        .body(ByteStream::from_static(b"some data"))
        .send()
        .await;
    assert_eq!(code_of(malformed_crc), "InvalidRequest");

    assert_eq!(
        code_of(c.head_object().bucket("bad").key("k").send().await),
        "NotFound"
    );

    let right_md5 = c
        .put_object()
        .bucket("bad")
        .key("k")
        .content_md5(b64(&md5(b"some data")))
        .body(ByteStream::from_static(b"some data"))
        .send()
        .await;
    assert!(right_md5.is_ok(), "{right_md5:?}");
}
