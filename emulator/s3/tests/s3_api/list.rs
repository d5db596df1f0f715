//! ListObjectsV2: prefix, delimiter + CommonPrefixes, max-keys, continuation tokens,
//! start-after, KeyCount, IsTruncated, encoding-type=url; ListObjects (v1) markers.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::EncodingType;

use crate::common::{code_of, start, TestS3};

const KEYS: &[&str] = &[
    "a.txt",
    "logs/2024/01.log",
    "logs/2024/02.log",
    "logs/2025/01.log",
    "logs/readme",
    "m.txt",
    "photos/cat.jpg",
    "photos/dog.jpg",
    "z.txt",
];

async fn seeded() -> TestS3 {
    let s3 = start().await;
    s3.emulator.create_bucket("list").unwrap();
    for key in KEYS {
        s3.client
            .put_object()
            .bucket("list")
            .key(*key)
            .body(ByteStream::from_static(b"0123456789"))
            .send()
            .await
            .unwrap();
    }
    s3
}

#[tokio::test]
async fn prefix_delimiter_and_common_prefixes() {
    let s3 = seeded().await;
    let c = &s3.client;
    let all = c.list_objects_v2().bucket("list").send().await.unwrap();
    let keys: Vec<_> = all.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, KEYS);
    assert_eq!(all.key_count(), Some(9));
    assert_eq!(all.is_truncated(), Some(false));
    assert_eq!(all.contents()[0].size(), Some(10));
    assert!(all.contents()[0]
        .e_tag()
        .is_some_and(|e| e.starts_with('"')));

    let top = c
        .list_objects_v2()
        .bucket("list")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = top.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = top
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a.txt", "m.txt", "z.txt"]);
    assert_eq!(prefixes, ["logs/", "photos/"]);
    assert_eq!(top.key_count(), Some(5));

    let logs = c
        .list_objects_v2()
        .bucket("list")
        .prefix("logs/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = logs.contents().iter().filter_map(|o| o.key()).collect();
    let prefixes: Vec<_> = logs
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["logs/readme"]);
    assert_eq!(prefixes, ["logs/2024/", "logs/2025/"]);
    assert_eq!(logs.prefix(), Some("logs/"));

    let after = c
        .list_objects_v2()
        .bucket("list")
        .start_after("m.txt")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = after.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["photos/cat.jpg", "photos/dog.jpg", "z.txt"]);
}

#[tokio::test]
async fn pages_with_max_keys_and_continuation_tokens() {
    let s3 = seeded().await;
    let c = &s3.client;
    // Pages of 2 over the top level: a.txt logs/ | m.txt photos/ | z.txt
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_objects_v2()
            .bucket("list")
            .delimiter("/")
            .max_keys(2)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(page.max_keys(), Some(2));
        assert!(page.key_count().unwrap() <= 2);
        seen.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
        seen.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
        if page.is_truncated() == Some(true) {
            token = page.next_continuation_token().map(str::to_owned);
            assert!(token.is_some());
        } else {
            assert!(page.next_continuation_token().is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, ["a.txt", "logs/", "m.txt", "photos/", "z.txt"]);

    // The SDK paginator walks every key.
    let keys: Vec<String> = c
        .list_objects_v2()
        .bucket("list")
        .max_keys(4)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|p| {
            p.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
        })
        .collect();
    assert_eq!(keys, KEYS);

    assert_eq!(
        code_of(
            c.list_objects_v2()
                .bucket("list")
                .continuation_token("***not a token***")
                .send()
                .await
        ),
        "InvalidArgument"
    );
}

#[tokio::test]
async fn url_encoding_type_and_v1_markers() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("enc").unwrap();
    for key in ["a b+c.txt", "é/1", "é/2"] {
        c.put_object()
            .bucket("enc")
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let out = c
        .list_objects_v2()
        .bucket("enc")
        .encoding_type(EncodingType::Url)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(out.encoding_type(), Some(&EncodingType::Url));
    let keys: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a%20b%2Bc.txt"]);
    let prefixes: Vec<_> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["%C3%A9/"]);

    let v1 = c
        .list_objects()
        .bucket("enc")
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert_eq!(v1.is_truncated(), Some(true));
    let keys: Vec<_> = v1.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a b+c.txt"]);
    let rest = c
        .list_objects()
        .bucket("enc")
        .marker("a b+c.txt")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = rest.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["é/1", "é/2"]);
}
