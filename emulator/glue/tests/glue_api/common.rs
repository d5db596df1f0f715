//! Test harness: a real axum server on 127.0.0.1:0 routing `POST /` to `Glue::handle`, and a
//! real aws-sdk-glue client pointed at it.

use std::collections::HashSet;

use aws_sdk_glue::types::{Column, DatabaseInput, PartitionInput, StorageDescriptor, TableInput};
use aws_sdk_glue::Client;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::routing::post;
use axum::Router;
use emulator_glue::Glue;

pub const ACCOUNT: &str = "123456789012";

/// A running emulator and a client for it.
pub struct Harness {
    pub glue: Glue,
    pub client: Client,
}

async fn serve(State(glue): State<Glue>, request: Request) -> http::Response<Body> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(bytes) => glue.handle(http::Request::from_parts(parts, bytes)).await,
        Err(_) => http::Response::builder()
            .status(413)
            .body(Body::empty())
            .unwrap_or_default(),
    }
}

pub async fn start() -> Harness {
    let glue = Glue::new("us-east-1", ACCOUNT);
    let app = Router::new()
        .route("/", post(serve))
        .with_state(glue.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_glue::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await;
    Harness {
        glue,
        client: Client::new(&config),
    }
}

pub fn column(name: &str, type_name: &str) -> Column {
    Column::builder()
        .name(name)
        .r#type(type_name)
        .build()
        .unwrap()
}

/// A CSV table partitioned by the given `(name, type)` keys.
pub fn table_input(name: &str, keys: &[(&str, &str)]) -> TableInput {
    let mut builder = TableInput::builder()
        .name(name)
        .table_type("EXTERNAL_TABLE")
        .parameters("classification", "csv")
        .storage_descriptor(
            StorageDescriptor::builder()
                .location(format!("s3://analytics/{name}/"))
                .columns(column("id", "bigint"))
                .columns(column("amount", "double"))
                .input_format("org.apache.hadoop.mapred.TextInputFormat")
                .build(),
        );
    for (key, type_name) in keys {
        builder = builder.partition_keys(column(key, type_name));
    }
    builder.build().unwrap()
}

pub fn partition_input(table: &str, values: &[&str]) -> PartitionInput {
    PartitionInput::builder()
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .storage_descriptor(
            StorageDescriptor::builder()
                .location(format!("s3://analytics/{table}/{}/", values.join("/")))
                .columns(column("id", "bigint"))
                .build(),
        )
        .parameters("source", "test")
        .build()
}

pub async fn create_database(client: &Client, name: &str) {
    client
        .create_database()
        .database_input(DatabaseInput::builder().name(name).build().unwrap())
        .send()
        .await
        .unwrap();
}

pub async fn create_table(client: &Client, db: &str, table: &str, keys: &[(&str, &str)]) {
    client
        .create_table()
        .database_name(db)
        .table_input(table_input(table, keys))
        .send()
        .await
        .unwrap();
}

/// Creates `inputs` in batches of 100 and asserts none failed.
pub async fn batch_create(client: &Client, db: &str, table: &str, inputs: Vec<PartitionInput>) {
    for chunk in inputs.chunks(100) {
        let out = client
            .batch_create_partition()
            .database_name(db)
            .table_name(table)
            .set_partition_input_list(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        assert!(out.errors().is_empty(), "{:?}", out.errors());
    }
}

/// Every partition matching `expression`, following NextToken; asserts no partition repeats.
pub async fn all_partitions(
    client: &Client,
    db: &str,
    table: &str,
    expression: Option<&str>,
    page: Option<i32>,
) -> Vec<Vec<String>> {
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .get_partitions()
            .database_name(db)
            .table_name(table)
            .set_expression(expression.map(str::to_string))
            .set_max_results(page)
            .set_next_token(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{expression:?}: {:?}", e.into_service_error()));
        if let Some(limit) = page {
            assert!(out.partitions().len() <= limit as usize);
        }
        seen.extend(out.partitions().iter().map(|p| p.values().to_vec()));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a partition came back twice");
    seen
}
