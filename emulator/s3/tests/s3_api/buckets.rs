//! CreateBucket, HeadBucket, ListBuckets, DeleteBucket and their errors; credentials policy.

use aws_sdk_s3::primitives::ByteStream;

use crate::common::{client_for, code_of, start, start_in};

#[tokio::test]
async fn bucket_lifecycle_and_us_east_1_recreate() {
    let s3 = start().await;
    let c = &s3.client;
    c.create_bucket().bucket("alpha").send().await.unwrap();
    c.create_bucket().bucket("beta").send().await.unwrap();
    // us-east-1 answers 200 to a re-create by the owner (legacy behaviour).
    c.create_bucket().bucket("alpha").send().await.unwrap();

    let head = c.head_bucket().bucket("alpha").send().await.unwrap();
    assert_eq!(head.bucket_region(), Some("us-east-1"));

    let list = c.list_buckets().send().await.unwrap();
    let names: Vec<_> = list.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert!(list.buckets()[0].creation_date().is_some());
    assert!(list.owner().and_then(|o| o.id()).is_some());

    c.delete_bucket().bucket("alpha").send().await.unwrap();
    let err = c.head_bucket().bucket("alpha").send().await.unwrap_err();
    assert!(
        err.as_service_error().is_some_and(|e| e.is_not_found()),
        "{err:?}"
    );
    assert_eq!(
        code_of(c.delete_bucket().bucket("alpha").send().await),
        "NoSuchBucket"
    );
}

#[tokio::test]
async fn recreate_outside_us_east_1_is_already_owned() {
    let s3 = start_in("eu-west-1").await;
    s3.client
        .create_bucket()
        .bucket("gamma")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(s3.client.create_bucket().bucket("gamma").send().await),
        "BucketAlreadyOwnedByYou"
    );
    let location = s3
        .client
        .get_bucket_location()
        .bucket("gamma")
        .send()
        .await
        .unwrap();
    assert_eq!(
        location.location_constraint().map(|l| l.as_str()),
        Some("eu-west-1")
    );
}

#[tokio::test]
async fn bucket_errors() {
    let s3 = start().await;
    let c = &s3.client;
    assert_eq!(
        code_of(c.create_bucket().bucket("Bad_Name").send().await),
        "InvalidBucketName"
    );
    assert!(
        s3.emulator.create_bucket("x").is_err(),
        "too short for a bucket name"
    );

    c.create_bucket().bucket("full").send().await.unwrap();
    c.put_object()
        .bucket("full")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(c.delete_bucket().bucket("full").send().await),
        "BucketNotEmpty"
    );
    assert_eq!(
        code_of(c.list_objects_v2().bucket("nope").send().await),
        "NoSuchBucket"
    );
    assert_eq!(
        code_of(
            c.put_object()
                .bucket("nope")
                .key("k")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        "NoSuchBucket"
    );
}

#[tokio::test]
async fn any_access_key_with_secret_test_and_registered_pairs_are_accepted() {
    let s3 = start().await;
    s3.emulator.create_bucket("creds").unwrap();
    let other_key = client_for(s3.addr, "us-east-1", "AKIAIOSFODNN7EXAMPLE", "test").await;
    other_key
        .head_bucket()
        .bucket("creds")
        .send()
        .await
        .unwrap();

    let wrong_secret = client_for(s3.addr, "us-east-1", "AKIAREALLOOKING", "wJalrXUtnFEMI").await;
    assert_eq!(
        code_of(wrong_secret.list_objects_v2().bucket("creds").send().await),
        "SignatureDoesNotMatch"
    );
    s3.emulator
        .register_credentials("AKIAREALLOOKING", "wJalrXUtnFEMI");
    wrong_secret
        .list_objects_v2()
        .bucket("creds")
        .send()
        .await
        .unwrap();
}
