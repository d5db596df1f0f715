//! Multipart uploads: a 12 MiB three-part round trip with S3's `-3` ETag, and the validation
//! errors of CompleteMultipartUpload / UploadPart / Abort.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumMode, CompletedMultipartUpload, CompletedPart};

use crate::common::{body_bytes, code_of, md5, start};

const MIB: usize = 1024 * 1024;

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| {
                    CompletedPart::builder()
                        .part_number(*n)
                        .e_tag(*etag)
                        .build()
                })
                .collect(),
        ))
        .build()
}

#[tokio::test]
async fn twelve_mib_in_three_parts_round_trips() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("mpu").unwrap();
    let data: Vec<u8> = (0..12 * MIB).map(|i| (i % 253) as u8).collect();
    let chunks = [
        &data[..5 * MIB],
        &data[5 * MIB..10 * MIB],
        &data[10 * MIB..],
    ];

    let created = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("big/file.bin")
        .content_type("application/octet-stream")
        .metadata("kind", "big")
        .send()
        .await
        .unwrap();
    let upload_id = created.upload_id().unwrap().to_owned();

    let mut etags = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let part = c
            .upload_part()
            .bucket("mpu")
            .key("big/file.bin")
            .upload_id(&upload_id)
            .part_number(i as i32 + 1)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        let etag = part.e_tag().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", hex::encode(md5(chunk))));
        etags.push(etag);
    }
    let listed = c
        .list_parts()
        .bucket("mpu")
        .key("big/file.bin")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 3);
    assert_eq!(listed.parts()[2].size(), Some(2 * MIB as i64));

    let done = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("big/file.bin")
        .upload_id(&upload_id)
        .multipart_upload(completed(&[(1, &etags[0]), (2, &etags[1]), (3, &etags[2])]))
        .send()
        .await
        .unwrap();
    let mut md5s = Vec::new();
    for chunk in chunks {
        md5s.extend_from_slice(&md5(chunk));
    }
    let expected = format!("\"{}-3\"", hex::encode(md5(&md5s)));
    assert_eq!(done.e_tag(), Some(expected.as_str()));

    let got = c
        .get_object()
        .bucket("mpu")
        .key("big/file.bin")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(expected.as_str()));
    assert_eq!(got.parts_count(), Some(3));
    assert_eq!(
        got.metadata().unwrap().get("kind").map(String::as_str),
        Some("big")
    );
    assert_eq!(got.content_length(), Some(12 * MIB as i64));
    assert!(
        body_bytes(got).await == data,
        "multipart object differs from the uploaded bytes"
    );

    // The upload is gone once completed.
    assert_eq!(
        code_of(
            c.complete_multipart_upload()
                .bucket("mpu")
                .key("big/file.bin")
                .upload_id(&upload_id)
                .multipart_upload(completed(&[(1, &etags[0])]))
                .send()
                .await
        ),
        "NoSuchUpload"
    );
}

#[tokio::test]
async fn completion_is_validated() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("mpv").unwrap();
    let upload_id = c
        .create_multipart_upload()
        .bucket("mpv")
        .key("k")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let mut etags = Vec::new();
    for (n, body) in [(1, vec![1u8; 1024]), (2, vec![2u8; 1024])] {
        let part = c
            .upload_part()
            .bucket("mpv")
            .key("k")
            .upload_id(&upload_id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        etags.push(part.e_tag().unwrap().to_owned());
    }
    let complete = |parts: CompletedMultipartUpload| {
        c.complete_multipart_upload()
            .bucket("mpv")
            .key("k")
            .upload_id(&upload_id)
            .multipart_upload(parts)
            .send()
    };
    assert_eq!(
        code_of(complete(completed(&[(2, &etags[1]), (1, &etags[0])])).await),
        "InvalidPartOrder"
    );
    assert_eq!(
        code_of(complete(completed(&[(1, "\"00000000000000000000000000000000\"")])).await),
        "InvalidPart"
    );
    assert_eq!(
        code_of(complete(completed(&[(1, &etags[0]), (3, &etags[1])])).await),
        "InvalidPart"
    );
    assert_eq!(
        code_of(complete(completed(&[(1, &etags[0]), (2, &etags[1])])).await),
        "EntityTooSmall"
    );
    // A single small part is fine: only non-last parts have a minimum.
    let single = complete(completed(&[(2, &etags[1])])).await.unwrap();
    assert!(single.e_tag().unwrap().ends_with("-1\""));

    assert_eq!(
        code_of(
            c.upload_part()
                .bucket("mpv")
                .key("k")
                .upload_id("no-such-upload")
                .part_number(1)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "NoSuchUpload"
    );
    let second = c
        .create_multipart_upload()
        .bucket("mpv")
        .key("k2")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    c.abort_multipart_upload()
        .bucket("mpv")
        .key("k2")
        .upload_id(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(
            c.abort_multipart_upload()
                .bucket("mpv")
                .key("k2")
                .upload_id(&second)
                .send()
                .await
        ),
        "NoSuchUpload"
    );
    assert_eq!(
        code_of(
            c.upload_part()
                .bucket("mpv")
                .key("k2")
                .upload_id(&second)
                .part_number(10_001)
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "InvalidArgument"
    );
}

#[tokio::test]
async fn composite_crc32_checksum_over_parts() {
    use aws_sdk_s3::types::ChecksumAlgorithm;
    use base64::Engine as _;
    use s3s::crypto::{Checksum as _, Crc32};

    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("mpc").unwrap();
    let upload_id = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let parts = [vec![7u8; 5 * MIB], vec![9u8; 1000]];
    let mut completed_parts = Vec::new();
    let mut raw_crcs = Vec::new();
    for (i, data) in parts.iter().enumerate() {
        let out = c
            .upload_part()
            .bucket("mpc")
            .key("k")
            .upload_id(&upload_id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        let crc = Crc32::checksum(data);
        let b64 = base64::engine::general_purpose::STANDARD.encode(crc);
        assert_eq!(out.checksum_crc32(), Some(b64.as_str()));
        raw_crcs.extend_from_slice(&crc);
        completed_parts.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(b64)
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("k")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed_parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let composite = format!(
        "{}-2",
        base64::engine::general_purpose::STANDARD.encode(Crc32::checksum(&raw_crcs))
    );
    assert_eq!(done.checksum_crc32(), Some(composite.as_str()));
    let got = c
        .get_object()
        .bucket("mpc")
        .key("k")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(got.checksum_crc32(), Some(composite.as_str()));
    assert_eq!(body_bytes(got).await.len(), 5 * MIB + 1000);
}

/// Issue 11: uploads abandoned by a killed writer were invisible. ListMultipartUploads shows
/// them (prefix, delimiter, key-marker/upload-id-marker paging, max-uploads), so they can be
/// aborted; completed and aborted uploads leave the list.
#[tokio::test]
async fn list_multipart_uploads_finds_abandoned_uploads_and_pages() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("mpu").unwrap();
    let empty = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert!(empty.uploads().is_empty());
    assert_eq!(empty.is_truncated(), Some(false));
    let mut started = Vec::new();
    for key in [
        "in/a.csv",
        "in/a.csv",
        "in/b.csv",
        "in/sub/c.csv",
        "out/d.parquet",
    ] {
        let out = c
            .create_multipart_upload()
            .bucket("mpu")
            .key(key)
            .send()
            .await
            .unwrap();
        started.push((key.to_owned(), out.upload_id().unwrap().to_owned()));
    }
    // Page through `in/` two at a time with the SDK's own markers.
    let mut seen = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    let mut pages = 0;
    loop {
        let page = c
            .list_multipart_uploads()
            .bucket("mpu")
            .prefix("in/")
            .max_uploads(2)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.max_uploads(), Some(2));
        assert!(page.uploads().len() <= 2);
        for upload in page.uploads() {
            assert!(upload.initiated().is_some());
            assert!(upload.initiator().and_then(|i| i.id()).is_some());
            seen.push((
                upload.key().unwrap().to_owned(),
                upload.upload_id().unwrap().to_owned(),
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        id_marker = page.next_upload_id_marker().map(str::to_owned);
    }
    assert_eq!(pages, 2);
    // Sorted by key, and a key's uploads in the order they were started.
    assert_eq!(seen, started[..4].to_vec());
    // The delimiter groups `in/sub/` into one common prefix.
    let grouped = c
        .list_multipart_uploads()
        .bucket("mpu")
        .prefix("in/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(grouped.uploads().len(), 3);
    let prefixes: Vec<_> = grouped
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["in/sub/"]);
    // Aborting every listed upload leaves none.
    for (key, id) in &started {
        c.abort_multipart_upload()
            .bucket("mpu")
            .key(key)
            .upload_id(id)
            .send()
            .await
            .unwrap();
    }
    let after = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .unwrap();
    assert!(after.uploads().is_empty());
    assert_eq!(
        code_of(c.list_multipart_uploads().bucket("ghost").send().await),
        "NoSuchBucket"
    );
}
