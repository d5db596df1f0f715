//! Conditional writes: `If-None-Match: *` and `If-Match: <etag>` on PutObject and
//! CompleteMultipartUpload, as S3 documents them
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::{body_bytes, code_of, start};

#[tokio::test]
async fn put_object_preconditions_hold_or_fail_with_s3_codes() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("cond").unwrap();
    let put = |body: &'static str| {
        c.put_object()
            .bucket("cond")
            .key("k")
            .body(ByteStream::from_static(body.as_bytes()))
    };

    let first = put("one")
        .if_none_match("*")
        .send()
        .await
        .expect("creates when absent");
    let etag = first.e_tag().unwrap().to_owned();
    assert_eq!(
        code_of(put("two").if_none_match("*").send().await),
        "PreconditionFailed"
    );

    assert_eq!(
        code_of(
            put("two")
                .if_match("\"0123456789abcdef0123456789abcdef\"")
                .send()
                .await
        ),
        "PreconditionFailed"
    );
    put("three")
        .if_match(&etag)
        .send()
        .await
        .expect("replaces when the ETag matches");
    assert_eq!(
        code_of(put("four").if_match(&etag).send().await),
        "PreconditionFailed",
        "the ETag moved on"
    );

    assert_eq!(
        code_of(
            c.put_object()
                .bucket("cond")
                .key("missing")
                .body(ByteStream::from_static(b"x"))
                .if_match(&etag)
                .send()
                .await
        ),
        "NoSuchKey"
    );
    let got = c.get_object().bucket("cond").key("k").send().await.unwrap();
    assert_eq!(
        body_bytes(got).await,
        b"three",
        "refused writes changed nothing"
    );
}

#[tokio::test]
async fn refused_completion_keeps_the_upload_for_abort() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("cond").unwrap();
    c.put_object()
        .bucket("cond")
        .key("k")
        .body(ByteStream::from_static(b"existing"))
        .send()
        .await
        .unwrap();

    let upload = c
        .create_multipart_upload()
        .bucket("cond")
        .key("k")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("cond")
        .key("k")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"new"))
        .send()
        .await
        .unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .build(),
        )
        .build();
    let refused = c
        .complete_multipart_upload()
        .bucket("cond")
        .key("k")
        .upload_id(upload_id)
        .multipart_upload(parts)
        .if_none_match("*")
        .send()
        .await;
    assert_eq!(code_of(refused), "PreconditionFailed");
    c.abort_multipart_upload()
        .bucket("cond")
        .key("k")
        .upload_id(upload_id)
        .send()
        .await
        .expect("upload still there");
    let got = c.get_object().bucket("cond").key("k").send().await.unwrap();
    assert_eq!(body_bytes(got).await, b"existing");
}
