//! PutObject, GetObject (ranges), HeadObject, DeleteObject(s), CopyObject, keys.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, MetadataDirective, ObjectIdentifier};

use crate::common::{body_bytes, code_of, md5, start};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz";

#[tokio::test]
async fn put_get_head_round_trip_with_metadata() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("objs").unwrap();
    let put = c
        .put_object()
        .bucket("objs")
        .key("dir/file.csv")
        .content_type("text/csv")
        .metadata("owner", "alice")
        .metadata("Source-System", "erp")
        .body(ByteStream::from_static(ALPHABET))
        .send()
        .await
        .unwrap();
    let expected_etag = format!("\"{}\"", hex::encode(md5(ALPHABET)));
    assert_eq!(put.e_tag(), Some(expected_etag.as_str()));

    let got = c
        .get_object()
        .bucket("objs")
        .key("dir/file.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(got.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(got.content_type(), Some("text/csv"));
    assert_eq!(got.content_length(), Some(26));
    let meta = got.metadata().unwrap();
    assert_eq!(meta.get("owner").map(String::as_str), Some("alice"));
    assert_eq!(meta.get("source-system").map(String::as_str), Some("erp"));
    let modified = SystemTime::try_from(*got.last_modified().unwrap()).unwrap();
    assert!(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default()
            < Duration::from_secs(60)
    );
    assert_eq!(body_bytes(got).await, ALPHABET);

    let head = c
        .head_object()
        .bucket("objs")
        .key("dir/file.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(26));
    assert_eq!(head.e_tag(), Some(expected_etag.as_str()));
    assert_eq!(
        head.metadata().unwrap().get("owner").map(String::as_str),
        Some("alice")
    );

    c.put_object()
        .bucket("objs")
        .key("plain")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket("objs")
        .key("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(0));
}

#[tokio::test]
async fn ranges_and_missing_keys() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("ranges").unwrap();
    c.put_object()
        .bucket("ranges")
        .key("abc")
        .body(ByteStream::from_static(ALPHABET))
        .send()
        .await
        .unwrap();

    let part = c
        .get_object()
        .bucket("ranges")
        .key("abc")
        .range("bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.content_range(), Some("bytes 2-5/26"));
    assert_eq!(part.content_length(), Some(4));
    assert_eq!(body_bytes(part).await, b"cdef");

    let suffix = c
        .get_object()
        .bucket("ranges")
        .key("abc")
        .range("bytes=-3")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.content_range(), Some("bytes 23-25/26"));
    assert_eq!(body_bytes(suffix).await, b"xyz");

    let open = c
        .get_object()
        .bucket("ranges")
        .key("abc")
        .range("bytes=24-")
        .send()
        .await
        .unwrap();
    assert_eq!(body_bytes(open).await, b"yz");

    let err = c
        .get_object()
        .bucket("ranges")
        .key("abc")
        .range("bytes=26-30")
        .send()
        .await;
    let status = err
        .as_ref()
        .err()
        .and_then(|e| e.raw_response())
        .map(|r| r.status().as_u16());
    assert_eq!(status, Some(416));
    assert_eq!(code_of(err), "InvalidRange");

    assert_eq!(
        code_of(c.get_object().bucket("ranges").key("nope").send().await),
        "NoSuchKey"
    );
    let err = c
        .head_object()
        .bucket("ranges")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.as_service_error().is_some_and(|e| e.is_not_found()),
        "{err:?}"
    );
}

#[tokio::test]
async fn any_string_is_a_key() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("keys").unwrap();
    let keys = [
        "../../etc/passwd".to_owned(),
        "a b/ü+%?#&=.txt".to_owned(),
        "日本/データ.csv".to_owned(),
        "k".repeat(1024),
    ];
    for key in &keys {
        c.put_object()
            .bucket("keys")
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
    for key in &keys {
        let got = c.get_object().bucket("keys").key(key).send().await.unwrap();
        assert_eq!(body_bytes(got).await, key.as_bytes());
    }
    let listed = c.list_objects_v2().bucket("keys").send().await.unwrap();
    assert_eq!(listed.key_count(), Some(4));
    assert_eq!(
        code_of(
            c.put_object()
                .bucket("keys")
                .key("k".repeat(1025))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "KeyTooLongError"
    );
}

#[tokio::test]
async fn delete_object_and_delete_objects() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("del").unwrap();
    for key in ["a", "b", "c", "d"] {
        c.put_object()
            .bucket("del")
            .key(key)
            .body(ByteStream::from_static(b"1"))
            .send()
            .await
            .unwrap();
    }
    c.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .unwrap();
    // Deleting a missing key is not an error on an unversioned bucket.
    c.delete_object()
        .bucket("del")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(c.get_object().bucket("del").key("a").send().await),
        "NoSuchKey"
    );

    let delete = Delete::builder()
        .objects(ObjectIdentifier::builder().key("b").build().unwrap())
        .objects(ObjectIdentifier::builder().key("c").build().unwrap())
        .objects(
            ObjectIdentifier::builder()
                .key("zz-missing")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let out = c
        .delete_objects()
        .bucket("del")
        .delete(delete)
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["b", "c", "zz-missing"]);
    assert!(out.errors().is_empty());
    let left = c.list_objects_v2().bucket("del").send().await.unwrap();
    let keys: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["d"]);
}

#[tokio::test]
async fn copy_object_with_copy_and_replace_directives() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("src").unwrap();
    s3.emulator.create_bucket("dst").unwrap();
    c.put_object()
        .bucket("src")
        .key("in dir/orig.csv")
        .content_type("text/csv")
        .metadata("color", "red")
        .body(ByteStream::from_static(ALPHABET))
        .send()
        .await
        .unwrap();

    let copied = c
        .copy_object()
        .bucket("dst")
        .key("copy.csv")
        .copy_source("src/in%20dir/orig.csv")
        .send()
        .await
        .unwrap();
    let etag = format!("\"{}\"", hex::encode(md5(ALPHABET)));
    assert_eq!(
        copied.copy_object_result().and_then(|r| r.e_tag()),
        Some(etag.as_str())
    );
    let head = c
        .head_object()
        .bucket("dst")
        .key("copy.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    assert_eq!(
        head.metadata().unwrap().get("color").map(String::as_str),
        Some("red")
    );

    c.copy_object()
        .bucket("dst")
        .key("replaced.csv")
        .copy_source("src/in%20dir/orig.csv")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("shape", "square")
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("dst")
        .key("replaced.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/json"));
    let meta = got.metadata().unwrap();
    assert_eq!(meta.get("shape").map(String::as_str), Some("square"));
    assert!(!meta.contains_key("color"));
    assert_eq!(body_bytes(got).await, ALPHABET);

    assert_eq!(
        code_of(
            c.copy_object()
                .bucket("src")
                .key("in dir/orig.csv")
                .copy_source("src/in%20dir/orig.csv")
                .send()
                .await
        ),
        "InvalidRequest"
    );
    assert_eq!(
        code_of(
            c.copy_object()
                .bucket("dst")
                .key("x")
                .copy_source("src/missing")
                .send()
                .await
        ),
        "NoSuchKey"
    );
}

#[tokio::test]
async fn many_clients_at_once() {
    let s3 = start().await;
    s3.emulator.create_bucket("busy").unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = s3.client.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!("object number {i}");
            c.put_object()
                .bucket("busy")
                .key(format!("k/{i:03}"))
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
                .await
                .unwrap();
            let got = c
                .get_object()
                .bucket("busy")
                .key(format!("k/{i:03}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                got.body.collect().await.unwrap().into_bytes(),
                body.as_bytes()
            );
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let listed = s3
        .client
        .list_objects_v2()
        .bucket("busy")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(40));
}
