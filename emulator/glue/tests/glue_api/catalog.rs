//! Databases, tables and wire-protocol behaviour, driven with the real aws-sdk-glue client
//! against the emulator served over HTTP.

use crate::common::{create_database, create_table, partition_input, start, table_input, ACCOUNT};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::DatabaseInput;
use bytes::Bytes;
use emulator_glue::{CatalogStats, Glue};
use serde_json::json;

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test]
async fn database_lifecycle_and_errors() {
    let h = start().await;
    h.client
        .create_database()
        .database_input(
            DatabaseInput::builder()
                .name("Sales")
                .description("sales data")
                .location_uri("s3://analytics/")
                .parameters("owner", "team")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // Stored lower-case, looked up case-insensitively, everything sent comes back.
    let db = h.client.get_database().name("SALES").send().await.unwrap();
    let db = db.database().unwrap();
    assert_eq!(db.name(), "sales");
    assert_eq!(db.description(), Some("sales data"));
    assert_eq!(db.location_uri(), Some("s3://analytics/"));
    assert_eq!(
        db.parameters().unwrap().get("owner").map(String::as_str),
        Some("team")
    );
    assert_eq!(db.catalog_id(), Some(ACCOUNT));
    let created = db.create_time().unwrap().as_secs_f64();
    assert!((now_secs() - created).abs() < 60.0, "CreateTime {created}");

    let dup = h
        .client
        .create_database()
        .database_input(DatabaseInput::builder().name("sales").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert!(dup
        .as_service_error()
        .unwrap()
        .is_already_exists_exception());
    assert_eq!(dup.code(), Some("AlreadyExistsException"));

    let missing = h
        .client
        .get_database()
        .name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    assert!(missing.message().unwrap().contains("nope"));

    h.client
        .delete_database()
        .name("Sales")
        .send()
        .await
        .unwrap();
    let gone = h
        .client
        .get_database()
        .name("sales")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("EntityNotFoundException"));
    let again = h
        .client
        .delete_database()
        .name("sales")
        .send()
        .await
        .unwrap_err();
    assert!(again
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    // A name the model forbids (empty) is a ValidationException, not a crash.
    let empty = h
        .client
        .create_database()
        .database_input(DatabaseInput::builder().name("").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Some("ValidationException"));
}

#[tokio::test]
async fn get_databases_pages_through_every_database_once() {
    let h = start().await;
    for i in 0..5 {
        create_database(&h.client, &format!("db{i}")).await;
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = h
            .client
            .get_databases()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.database_list().len() <= 2);
        seen.extend(page.database_list().iter().map(|d| d.name().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["db0", "db1", "db2", "db3", "db4"]);

    for bad in [0, 101] {
        let err = h
            .client
            .get_databases()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationException"), "MaxResults {bad}");
    }
    let err = h
        .client
        .get_databases()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert!(err.as_service_error().unwrap().is_invalid_input_exception());
}

#[tokio::test]
async fn table_lifecycle_and_errors() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(
        &h.client,
        "lake",
        "Orders",
        &[("year", "string"), ("month", "string")],
    )
    .await;

    let got = h
        .client
        .get_table()
        .database_name("LAKE")
        .name("orders")
        .send()
        .await
        .unwrap();
    let table = got.table().unwrap();
    assert_eq!(table.name(), "orders");
    assert_eq!(table.database_name(), Some("lake"));
    assert_eq!(table.catalog_id(), Some(ACCOUNT));
    assert_eq!(table.table_type(), Some("EXTERNAL_TABLE"));
    assert_eq!(table.parameters().unwrap()["classification"], "csv");
    let sd = table.storage_descriptor().unwrap();
    assert_eq!(sd.location(), Some("s3://analytics/Orders/"));
    assert_eq!(sd.columns().len(), 2);
    assert_eq!(sd.columns()[1].r#type(), Some("double"));
    let keys: Vec<_> = table.partition_keys().iter().map(|c| c.name()).collect();
    assert_eq!(keys, ["year", "month"]);
    let created = table.create_time().unwrap().as_secs_f64();
    assert_eq!(table.update_time().unwrap().as_secs_f64(), created);

    let dup = h
        .client
        .create_table()
        .database_name("lake")
        .table_input(table_input("ORDERS", &[]))
        .send()
        .await
        .unwrap_err();
    assert!(dup
        .as_service_error()
        .unwrap()
        .is_already_exists_exception());

    let no_db = h
        .client
        .create_table()
        .database_name("nowhere")
        .table_input(table_input("t", &[]))
        .send()
        .await
        .unwrap_err();
    assert!(no_db
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    // UpdateTable replaces the definition and keeps partitions and CreateTime.
    h.client
        .create_partition()
        .database_name("lake")
        .table_name("orders")
        .partition_input(partition_input("orders", &["2024", "03"]))
        .send()
        .await
        .unwrap();
    let mut updated = table_input("orders", &[("year", "string"), ("month", "string")]);
    updated.description = Some("v2".into());
    h.client
        .update_table()
        .database_name("lake")
        .table_input(updated)
        .send()
        .await
        .unwrap();
    let table = h
        .client
        .get_table()
        .database_name("lake")
        .name("orders")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.description(), Some("v2"));
    assert_eq!(table.create_time().unwrap().as_secs_f64(), created);
    assert!(table.update_time().unwrap().as_secs_f64() >= created);
    assert_eq!(table.version_id(), Some("1"));
    assert_eq!(h.glue.partition_values("lake", "orders").unwrap().len(), 1);

    let missing_update = h
        .client
        .update_table()
        .database_name("lake")
        .table_input(table_input("ghost", &[]))
        .send()
        .await
        .unwrap_err();
    assert!(missing_update
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    h.client
        .delete_table()
        .database_name("lake")
        .name("Orders")
        .send()
        .await
        .unwrap();
    let gone = h
        .client
        .get_table()
        .database_name("lake")
        .name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(gone
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    let again = h
        .client
        .delete_table()
        .database_name("lake")
        .name("orders")
        .send()
        .await
        .unwrap_err();
    assert!(again
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    let in_missing_db = h
        .client
        .get_table()
        .database_name("nowhere")
        .name("orders")
        .send()
        .await
        .unwrap_err();
    assert_eq!(in_missing_db.code(), Some("EntityNotFoundException"));
}

#[tokio::test]
async fn get_tables_filters_by_regex_and_pages() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    for name in ["sales_2023", "sales_2024", "orders", "returns"] {
        create_table(&h.client, "lake", name, &[]).await;
    }
    let names = |expr: &'static str| {
        let client = h.client.clone();
        async move {
            let out = client
                .get_tables()
                .database_name("lake")
                .expression(expr)
                .send()
                .await
                .unwrap();
            out.table_list()
                .iter()
                .map(|t| t.name().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("sales_.*").await, ["sales_2023", "sales_2024"]);
    // The pattern must match the whole name.
    assert!(names("sales").await.is_empty());
    assert_eq!(names("orders|returns").await, ["orders", "returns"]);

    let bad = h
        .client
        .get_tables()
        .database_name("lake")
        .expression("(")
        .send()
        .await
        .unwrap_err();
    assert!(bad.as_service_error().unwrap().is_invalid_input_exception());

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = h
            .client
            .get_tables()
            .database_name("lake")
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(page.table_list().len(), 1);
        seen.push(page.table_list()[0].name().to_string());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["orders", "returns", "sales_2023", "sales_2024"]);

    let no_db = h
        .client
        .get_tables()
        .database_name("nope")
        .send()
        .await
        .unwrap_err();
    assert!(no_db
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

#[tokio::test]
async fn delete_database_deletes_its_tables_and_partitions() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(&h.client, "lake", "t", &[("year", "string")]).await;
    h.client
        .create_partition()
        .database_name("lake")
        .table_name("t")
        .partition_input(partition_input("t", &["2024"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.glue.stats(),
        CatalogStats {
            databases: 1,
            tables: 1,
            partitions: 1
        }
    );
    h.client
        .delete_database()
        .name("lake")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.glue.stats(),
        CatalogStats {
            databases: 0,
            tables: 0,
            partitions: 0
        }
    );
    create_database(&h.client, "lake").await;
    let err = h
        .client
        .get_table()
        .database_name("lake")
        .name("t")
        .send()
        .await
        .unwrap_err();
    assert!(err
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

#[tokio::test]
async fn ensure_database_and_table_are_idempotent_and_keep_partitions() {
    let h = start().await;
    let db = json!({"Name": "Analytics", "Description": "first"});
    h.glue.ensure_database(db.clone()).unwrap();
    let table = json!({
        "Name": "Events",
        "PartitionKeys": [{"Name": "year", "Type": "string"}],
        "StorageDescriptor": {"Location": "s3://analytics/events/", "Columns": [{"Name": "id", "Type": "bigint"}]},
        "TableType": "EXTERNAL_TABLE"
    });
    h.glue.ensure_table("analytics", table.clone()).unwrap();
    h.client
        .create_partition()
        .database_name("analytics")
        .table_name("events")
        .partition_input(partition_input("events", &["2024"]))
        .send()
        .await
        .unwrap();

    // Re-running bootstrap with a changed definition updates it and keeps the partition.
    h.glue
        .ensure_database(json!({"Name": "analytics", "Description": "second"}))
        .unwrap();
    let mut changed = table.clone();
    changed["StorageDescriptor"]["Location"] = json!("s3://analytics/events-v2/");
    h.glue.ensure_table("ANALYTICS", changed).unwrap();
    h.glue.ensure_table("analytics", table).unwrap();

    let db = h
        .client
        .get_database()
        .name("analytics")
        .send()
        .await
        .unwrap();
    assert_eq!(db.database().unwrap().description(), Some("second"));
    let got = h
        .client
        .get_table()
        .database_name("analytics")
        .name("events")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.table()
            .unwrap()
            .storage_descriptor()
            .unwrap()
            .location(),
        Some("s3://analytics/events/")
    );
    assert_eq!(
        h.glue.stats(),
        CatalogStats {
            databases: 1,
            tables: 1,
            partitions: 1
        }
    );

    let no_db = h
        .glue
        .ensure_table("missing", json!({"Name": "x"}))
        .unwrap_err();
    assert_eq!(no_db.code(), "EntityNotFoundException");
    let no_name = h
        .glue
        .ensure_database(json!({"Description": "x"}))
        .unwrap_err();
    assert_eq!(no_name.code(), "ValidationException");
}

async fn raw(
    glue: &Glue,
    target: Option<&str>,
    body: &'static str,
) -> (u16, String, serde_json::Value) {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/x-amz-json-1.1");
    if let Some(target) = target {
        builder = builder.header("x-amz-target", target);
    }
    let response = glue
        .handle(builder.body(Bytes::from_static(body.as_bytes())).unwrap())
        .await;
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(
        response.headers()["content-type"],
        "application/x-amz-json-1.1",
        "content type"
    );
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, error_type, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn wire_errors_carry_type_header_and_message() {
    let glue = Glue::new("us-east-1", ACCOUNT);
    let (status, header, body) = raw(&glue, Some("AWSGlue.GetDatabase"), r#"{"Name":"x"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(header, "EntityNotFoundException");
    assert_eq!(body["__type"], "EntityNotFoundException");
    assert!(body["Message"].as_str().unwrap().contains('x'));

    let (status, header, _) = raw(&glue, Some("AWSGlue.StartCrawler"), "{}").await;
    assert_eq!(
        (status, header.as_str()),
        (400, "UnknownOperationException")
    );
    let (_, header, _) = raw(&glue, None, "{}").await;
    assert_eq!(header, "UnknownOperationException");
    let (status, header, _) = raw(&glue, Some("AWSGlue.CreateDatabase"), "{not json").await;
    assert_eq!((status, header.as_str()), (400, "SerializationException"));
    let (_, header, _) = raw(
        &glue,
        Some("AWSGlue.CreateDatabase"),
        r#"{"DatabaseInput": 5}"#,
    )
    .await;
    assert_eq!(header, "SerializationException");
    let (_, header, body) = raw(&glue, Some("AWSGlue.CreateDatabase"), "{}").await;
    assert_eq!(header, "ValidationException");
    assert!(body["Message"].as_str().unwrap().contains("databaseInput"));

    let (status, header, body) = raw(&glue, Some("AWSGlue.GetDatabases"), "").await;
    assert_eq!((status, header.as_str()), (200, ""));
    assert_eq!(body, json!({"DatabaseList": []}));
}
