//! GetPartitions: the `Expression` filter language over string and numeric partition keys, its
//! errors, and paging, driven with the real aws-sdk-glue client over HTTP.

use std::collections::{BTreeSet, HashSet};

use crate::common::{
    all_partitions, batch_create, create_database, create_table, partition_input, start,
};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::Segment;
use aws_sdk_glue::Client;

/// year ∈ {2023, 2024} × month 01..06 × day ∈ {01, 10, 15, 20}: 48 string-keyed partitions.
async fn date_table(client: &Client) -> Vec<[String; 3]> {
    create_database(client, "lake").await;
    create_table(
        client,
        "lake",
        "events",
        &[("year", "string"), ("month", "string"), ("day", "string")],
    )
    .await;
    let mut all = Vec::new();
    for year in ["2023", "2024"] {
        for month in 1..=6 {
            for day in ["01", "10", "15", "20"] {
                all.push([year.to_string(), format!("{month:02}"), day.to_string()]);
            }
        }
    }
    let inputs = all
        .iter()
        .map(|[y, m, d]| partition_input("events", &[y, m, d]))
        .collect();
    batch_create(client, "lake", "events", inputs).await;
    all
}

#[tokio::test]
async fn get_partitions_expressions_on_string_keys() {
    let h = start().await;
    let all = date_table(&h.client).await;
    type Check = fn(&str, &str, &str) -> bool;
    let cases: [(&str, Check); 7] = [
        ("year='2024' AND month IN ('03','04')", |y, m, _| {
            y == "2024" && (m == "03" || m == "04")
        }),
        ("day BETWEEN '01' AND '15'", |_, _, d| {
            ("01"..="15").contains(&d)
        }),
        ("month LIKE '0_' AND day LIKE '1%'", |_, _, d| {
            d.starts_with('1')
        }),
        (
            "NOT year = '2023' OR month = '01' AND day = '01'",
            |y, m, d| y != "2023" || (m == "01" && d == "01"),
        ),
        (
            "(NOT year = '2023' OR month = '01') AND day = '01'",
            |y, m, d| (y != "2023" || m == "01") && d == "01",
        ),
        ("month >= '05' and day <> '10'", |_, m, d| {
            m >= "05" && d != "10"
        }),
        ("year = '2025'", |_, _, _| false),
    ];
    for (expression, check) in cases {
        let got: BTreeSet<Vec<String>> =
            all_partitions(&h.client, "lake", "events", Some(expression), None)
                .await
                .into_iter()
                .collect();
        let expected: BTreeSet<Vec<String>> = all
            .iter()
            .filter(|[y, m, d]| check(y, m, d))
            .map(|p| p.to_vec())
            .collect();
        assert_eq!(got, expected, "{expression}");
    }
}

#[tokio::test]
async fn get_partitions_compares_numeric_keys_as_numbers() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(
        &h.client,
        "lake",
        "hits",
        &[("year", "int"), ("hour", "bigint")],
    )
    .await;
    let inputs = (0..24)
        .map(|hour| partition_input("hits", &["2024", &hour.to_string()]))
        .collect();
    batch_create(&h.client, "lake", "hits", inputs).await;
    let hours = |expression: &'static str| {
        let client = h.client.clone();
        async move {
            let mut hours: Vec<i32> =
                all_partitions(&client, "lake", "hits", Some(expression), None)
                    .await
                    .iter()
                    .map(|v| v[1].parse().unwrap())
                    .collect();
            hours.sort();
            hours
        }
    };
    // As strings '9' > '10'; as numbers it is below.
    assert_eq!(hours("hour < 10").await, (0..10).collect::<Vec<_>>());
    assert_eq!(
        hours("hour BETWEEN 8 AND 12 AND year = 2024").await,
        (8..=12).collect::<Vec<_>>()
    );
    assert_eq!(hours("hour IN (1, 22) OR hour >= '23'").await, [1, 22, 23]);
    assert!(hours("year > 2024").await.is_empty());
}

#[tokio::test]
async fn get_partitions_rejects_bad_expressions() {
    let h = start().await;
    date_table(&h.client).await;
    for (expression, needle) in [
        ("year = ", "end of expression"),
        ("year = '2024' AND AND", "position"),
        ("colour = 'red'", "Unknown column 'colour'"),
        ("year IN ('2024'", "')'"),
    ] {
        let err = h
            .client
            .get_partitions()
            .database_name("lake")
            .table_name("events")
            .expression(expression)
            .send()
            .await
            .unwrap_err();
        assert!(
            err.as_service_error().unwrap().is_invalid_input_exception(),
            "{expression}"
        );
        assert!(
            err.message().unwrap().contains(needle),
            "{expression}: {:?}",
            err.message()
        );
    }
    let no_table = h
        .client
        .get_partitions()
        .database_name("lake")
        .table_name("ghost")
        .send()
        .await
        .unwrap_err();
    assert!(no_table
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    let bad_page = h
        .client
        .get_partitions()
        .database_name("lake")
        .table_name("events")
        .max_results(1001)
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_page.code(), Some("ValidationException"));
}

#[tokio::test]
async fn get_partitions_paging_returns_every_partition_once() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(
        &h.client,
        "lake",
        "big",
        &[("day", "int"), ("part", "string")],
    )
    .await;
    let inputs: Vec<_> = (0..1234)
        .map(|i| partition_input("big", &[&(i / 10).to_string(), &format!("p{}", i % 10)]))
        .collect();
    batch_create(&h.client, "lake", "big", inputs).await;

    // Default page size is the maximum, 1000.
    let first = h
        .client
        .get_partitions()
        .database_name("lake")
        .table_name("big")
        .send()
        .await
        .unwrap();
    assert_eq!(first.partitions().len(), 1000);
    assert!(first.next_token().is_some());

    assert_eq!(
        all_partitions(&h.client, "lake", "big", None, None)
            .await
            .len(),
        1234
    );
    assert_eq!(
        all_partitions(&h.client, "lake", "big", None, Some(100))
            .await
            .len(),
        1234
    );
    let filtered = all_partitions(
        &h.client,
        "lake",
        "big",
        Some("day < 50 AND part IN ('p1','p2')"),
        Some(7),
    )
    .await;
    assert_eq!(filtered.len(), 100);

    // The SDK's own paginator follows our tokens too.
    let pages: Vec<_> = h
        .client
        .get_partitions()
        .database_name("lake")
        .table_name("big")
        .max_results(500)
        .into_paginator()
        .send()
        .collect::<Vec<_>>()
        .await;
    let total: usize = pages
        .iter()
        .map(|p| p.as_ref().unwrap().partitions().len())
        .sum();
    assert_eq!((pages.len(), total), (3, 1234));

    // Segments split the table into disjoint parts that together cover it.
    let mut union = HashSet::new();
    for number in 0..3 {
        let out = h
            .client
            .get_partitions()
            .database_name("lake")
            .table_name("big")
            .segment(
                Segment::builder()
                    .segment_number(number)
                    .total_segments(3)
                    .build()
                    .unwrap(),
            )
            .max_results(1000)
            .send()
            .await
            .unwrap();
        assert!(out.next_token().is_none());
        for p in out.partitions() {
            assert!(union.insert(p.values().to_vec()), "segments overlap");
        }
    }
    assert_eq!(union.len(), 1234);

    // ExcludeColumnSchema drops the columns, keeps the location.
    let lean = h
        .client
        .get_partitions()
        .database_name("lake")
        .table_name("big")
        .max_results(1)
        .exclude_column_schema(true)
        .send()
        .await
        .unwrap();
    let sd = lean.partitions()[0].storage_descriptor().unwrap();
    assert!(sd.columns().is_empty());
    assert!(sd.location().is_some());
}

/// `k OP ... OP k` with `count` copies of `term`.
fn chain(term: &str, op: &str, count: usize) -> String {
    vec![term; count].join(op)
}

async fn expression_error(client: &Client, expression: &str) -> (String, String) {
    let err = client
        .get_partitions()
        .database_name("lake")
        .table_name("events")
        .expression(expression)
        .send()
        .await
        .expect_err(&format!("{} chars should be rejected", expression.len()));
    (
        err.code().unwrap_or_default().to_string(),
        err.message().unwrap_or_default().to_string(),
    )
}

/// Issue 11: a flat chain of 1,500 ORs (or 3,000 ANDs) overflowed the stack and killed the
/// emulator. Expression is a `PredicateString`, max length 2,048 (GetPartitions API reference,
/// https://docs.aws.amazon.com/glue/latest/webapi/API_GetPartitions.html, and the service model),
/// so longer expressions are a `ValidationException`; and the server is still up afterwards.
#[tokio::test]
async fn get_partitions_rejects_expressions_over_2048_chars_and_survives_long_chains() {
    let h = start().await;
    date_table(&h.client).await;
    for expression in [
        chain("year='1'", " OR ", 1_500),
        chain("year='1'", " AND ", 3_000),
        format!(
            "year='2024' AND month='01' AND day='01'{}",
            " ".repeat(2_048)
        ),
    ] {
        let (code, message) = expression_error(&h.client, &expression).await;
        assert_eq!(code, "ValidationException", "{message}");
        assert!(message.contains("2048"), "{message}");
    }
    // The worst cases that fit in 2,048 characters: the longest flat chains are served...
    let ors = chain("day='01'", " OR ", 2_048 / 12);
    let ands = chain("year='2024'", " AND ", 2_048 / 16);
    assert!(ors.len() <= 2_048 && ands.len() <= 2_048);
    let got = all_partitions(&h.client, "lake", "events", Some(&ors), None).await;
    assert_eq!(got.len(), 12, "12 months x 2 years with day 01");
    let got = all_partitions(&h.client, "lake", "events", Some(&ands), None).await;
    assert_eq!(got.len(), 24);
    // ...and the deepest nestings are a clear InvalidInputException.
    for deep in [
        format!("{}year='1'{}", "(".repeat(1_019), ")".repeat(1_019)),
        format!("{}year='1'", "NOT ".repeat(509)),
        format!("{}year='1'", "(NOT ".repeat(340)),
    ] {
        assert!(deep.len() <= 2_048);
        let (code, message) = expression_error(&h.client, &deep).await;
        assert_eq!(code, "InvalidInputException", "{message}");
        assert!(message.contains("deeper than"), "{message}");
    }
    let still_up = all_partitions(&h.client, "lake", "events", Some("year='2024'"), None).await;
    assert_eq!(still_up.len(), 24);
}
