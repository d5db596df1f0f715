//! aws-sdk-athena (Rust) against data put through the real pipeline.

use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use e2e_tests::Pipeline;

use crate::common::*;

const DAYS: u32 = 10;

fn rows_of(day: u32) -> u32 {
    100 + day
}

async fn ten_days_of_sales(pipeline: &Pipeline) {
    let files: Vec<_> = (1..=DAYS).map(|d| sales_file(d, rows_of(d))).collect();
    drop_files(pipeline, "sales_data", &files).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sales_queries_give_exact_answers_and_prune_partitions() {
    let pipeline = start_with_csv_sales().await;
    ten_days_of_sales(&pipeline).await;
    let client = athena(&pipeline).await;
    let total_rows: u32 = (1..=DAYS).map(rows_of).sum();
    let total_cents: u64 = (1..=DAYS).map(|d| sales_cents(d, rows_of(d))).sum();

    // Count and exact decimal sum; the first row is the header.
    let got = rows(
        &client,
        "SELECT count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total FROM sales_data",
    )
    .await;
    assert_eq!(
        text(&got),
        vec![
            vec!["n".to_owned(), "total".to_owned()],
            vec![total_rows.to_string(), cents(total_cents)]
        ]
    );

    // Per-day groups.
    let got = rows(
        &client,
        "SELECT day, count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total \
         FROM analytics_db.sales_data GROUP BY day ORDER BY day",
    )
    .await;
    let expected: Vec<Vec<String>> =
        std::iter::once(vec!["day".into(), "n".into(), "total".into()])
            .chain((1..=DAYS).map(|d| {
                vec![
                    format!("{d:02}"),
                    rows_of(d).to_string(),
                    cents(sales_cents(d, rows_of(d))),
                ]
            }))
            .collect();
    assert_eq!(text(&got), expected);

    // Pruning: a one-day query reads that day's object only.
    let full = run(&client, "SELECT count(*) FROM sales_data").await;
    let one_day = run(
        &client,
        "SELECT count(*) FROM sales_data WHERE year = '2024' AND month = '03' AND day = '01'",
    )
    .await;
    let day_one_size = sales_file(1, rows_of(1)).1.len() as i64;
    let all_sizes: i64 = (1..=DAYS)
        .map(|d| sales_file(d, rows_of(d)).1.len() as i64)
        .sum();
    assert_eq!(
        scanned(&full),
        all_sizes,
        "a full scan reads every object once"
    );
    assert_eq!(
        scanned(&one_day),
        day_one_size,
        "only the selected partition is read"
    );
    assert!(scanned(&one_day) * 10 < scanned(&full));
    let got = all_rows(&client, one_day.query_execution_id().unwrap()).await;
    assert_eq!(text(&got)[1], vec![rows_of(1).to_string()]);

    // Column types as Trino names them.
    let e = run(
        &client,
        "SELECT count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total, \
         CAST(transaction_date AS date) AS d, avg(1.5e0) AS x FROM sales_data \
         GROUP BY CAST(transaction_date AS date) ORDER BY d LIMIT 1",
    )
    .await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    let page = client
        .get_query_results()
        .query_execution_id(e.query_execution_id().unwrap())
        .send()
        .await
        .unwrap();
    let columns = page
        .result_set
        .unwrap()
        .result_set_metadata
        .unwrap()
        .column_info
        .unwrap();
    let types: Vec<(&str, &str, i32, i32)> = columns
        .iter()
        .map(|c| (c.name(), c.r#type(), c.precision(), c.scale()))
        .collect();
    assert_eq!(types[0], ("n", "bigint", 19, 0));
    assert_eq!(types[1].1, "decimal");
    assert_eq!(types[1].3, 2);
    assert_eq!(types[2], ("d", "date", 0, 0));
    assert_eq!(types[3].1, "double");

    // The result file is where the execution says, in Athena's CSV form.
    let e = run(&client, "SELECT day, count(*) AS n FROM sales_data WHERE day IN ('02', '03') GROUP BY day ORDER BY day").await;
    let location = e
        .result_configuration()
        .unwrap()
        .output_location()
        .unwrap()
        .to_owned();
    assert_eq!(
        location,
        format!(
            "s3://{ANALYTICS}/query-results/{}.csv",
            e.query_execution_id().unwrap()
        )
    );
    assert_eq!(
        read_object(&pipeline, &location).await,
        format!(
            "\"day\",\"n\"\n\"02\",\"{}\"\n\"03\",\"{}\"\n",
            rows_of(2),
            rows_of(3)
        )
    );

    // A window function over the groups.
    let got = rows(
        &client,
        "SELECT day, sum(n) OVER (ORDER BY day) AS running FROM \
         (SELECT day, count(*) AS n FROM sales_data GROUP BY day) ORDER BY day",
    )
    .await;
    let mut running = 0;
    for (i, row) in text(&got).iter().skip(1).enumerate() {
        running += rows_of(i as u32 + 1);
        assert_eq!(row[1], running.to_string());
    }

    // Paging: MaxResults 50 over 111 rows + header.
    let e = run(
        &client,
        "SELECT transaction_id FROM sales_data WHERE day = '10' ORDER BY transaction_id",
    )
    .await;
    let id = e.query_execution_id().unwrap();
    let first = client
        .get_query_results()
        .query_execution_id(id)
        .max_results(50)
        .send()
        .await
        .unwrap();
    let first_rows = first.result_set.unwrap().rows.unwrap();
    assert_eq!(first_rows.len(), 50);
    assert_eq!(
        first_rows[0].data()[0].var_char_value(),
        Some("transaction_id")
    );
    assert!(first.next_token.is_some());
    assert_eq!(all_rows(&client, id).await.len(), rows_of(10) as usize + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn joins_nulls_and_quoting() {
    let pipeline = Pipeline::start().await;
    let sales = "transaction_id,customer_id,amount,transaction_date\n\
                 t1,sku-1,10.50,2024-03-15\n\
                 t2,sku-2,20.25,2024-03-15\n\
                 t3,\"Smith, \"\"Jr\"\"\",5.00,2024-03-15\n\
                 t4,,1.00,2024-03-15\n";
    let inventory = "sku,warehouse,quantity,unit_cost,weight_kg,last_counted\n\
                     sku-1,north,3,1.2500,0.5,2024-03-15\n\
                     sku-2,south,7,2.0000,1.5,2024-03-15\n\
                     sku-3,south,1,9.9900,2.0,2024-03-15\n";
    drop_files(
        &pipeline,
        "sales_data",
        &[(
            "sales_data_2024_03_15.csv".into(),
            sales.into(),
            vec!["2024".into(), "03".into(), "15".into()],
        )],
    )
    .await;
    drop_files(
        &pipeline,
        "inventory_snapshot",
        &[(
            "inventory_eu-west_2024_03_15.csv".into(),
            inventory.into(),
            vec!["eu-west".into(), "2024".into(), "03".into(), "15".into()],
        )],
    )
    .await;
    let client = athena(&pipeline).await;

    let got = rows(
        &client,
        "SELECT s.transaction_id, i.warehouse, i.quantity * CAST(i.unit_cost AS decimal(12,4)) AS value \
         FROM sales_data s JOIN inventory_snapshot i ON s.customer_id = i.sku ORDER BY s.transaction_id",
    )
    .await;
    let got = text(&got);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1][..2], ["t1".to_owned(), "north".to_owned()]);
    assert_eq!(got[2][..2], ["t2".to_owned(), "south".to_owned()]);

    // A left join leaves NULLs; quoted values come back as written; an empty field is ''.
    let e = run(
        &client,
        "SELECT s.transaction_id, s.customer_id, i.warehouse FROM sales_data s \
         LEFT JOIN inventory_snapshot i ON s.customer_id = i.sku ORDER BY s.transaction_id",
    )
    .await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    let got = all_rows(&client, e.query_execution_id().unwrap()).await;
    assert_eq!(
        got[3],
        vec![Some("t3".into()), Some("Smith, \"Jr\"".into()), None]
    );
    assert_eq!(got[4], vec![Some("t4".into()), Some(String::new()), None]);
    let csv = read_object(
        &pipeline,
        e.result_configuration().unwrap().output_location().unwrap(),
    )
    .await;
    assert_eq!(
        csv,
        "\"transaction_id\",\"customer_id\",\"warehouse\"\n\
         \"t1\",\"sku-1\",\"north\"\n\
         \"t2\",\"sku-2\",\"south\"\n\
         \"t3\",\"Smith, \"\"Jr\"\"\",\n\
         \"t4\",\"\",\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn msck_repair_adds_partitions_found_in_s3() {
    let pipeline = start_with_csv_sales().await;
    drop_files(&pipeline, "sales_data", &[sales_file(1, 5)]).await;
    let client = athena(&pipeline).await;
    // An object under a Hive folder that is not a Glue partition is invisible.
    put_object(
        &pipeline,
        ANALYTICS,
        "sales_data/year=2024/month=04/day=01/manual.csv",
        "transaction_id,customer_id,amount,transaction_date\nm1,c1,1.00,2024-04-01\nm2,c1,2.00,2024-04-01\n",
    )
    .await;
    let count = "SELECT count(*) FROM sales_data";
    assert_eq!(text(&rows(&client, count).await)[1], vec!["5"]);
    let shown = text(&rows(&client, "SHOW PARTITIONS sales_data").await);
    assert_eq!(shown, vec![vec!["year=2024/month=03/day=01"]]);

    let e = run(&client, "MSCK REPAIR TABLE sales_data").await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    assert_eq!(e.statement_type().map(|t| t.as_str()), Some("DDL"));
    assert!(e
        .result_configuration()
        .unwrap()
        .output_location()
        .unwrap()
        .ends_with(".txt"));
    assert_eq!(text(&rows(&client, count).await)[1], vec!["7"]);
    let april = text(
        &rows(
            &client,
            "SELECT count(*) FROM sales_data WHERE month = '04'",
        )
        .await,
    );
    assert_eq!(april[1], vec!["2"]);
    // Repair never removes, and a second run adds nothing.
    let again = run(&client, "MSCK REPAIR TABLE sales_data").await;
    assert_eq!(state(&again), QueryExecutionState::Succeeded);
    let shown = text(&rows(&client, "SHOW PARTITIONS sales_data").await);
    assert_eq!(shown.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_name_their_cause_and_the_emulator_stays_up() {
    let pipeline = Pipeline::start().await;
    drop_files(&pipeline, "sales_data", &[sales_file(1, 3)]).await;
    let client = athena(&pipeline).await;

    // Syntax errors are rejected at StartQueryExecution.
    let err = client
        .start_query_execution()
        .query_string("SELEC * FROM sales_data")
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap_err();
    let service = err.into_service_error();
    assert!(service.is_invalid_request_exception(), "{service:?}");
    if let aws_sdk_athena::operation::start_query_execution::StartQueryExecutionError::InvalidRequestException(e) = &service {
        assert_eq!(e.athena_error_code(), Some("MALFORMED_QUERY"));
    }

    // Unknown table and column fail the query, naming them.
    let e = run(&client, "SELECT * FROM no_such_table").await;
    assert_eq!(state(&e), QueryExecutionState::Failed);
    assert!(reason(&e).contains("no_such_table"), "{}", reason(&e));
    assert_eq!(
        e.status().unwrap().athena_error().unwrap().error_category(),
        Some(2)
    );
    let e = run(&client, "SELECT no_such_column FROM sales_data").await;
    assert_eq!(state(&e), QueryExecutionState::Failed);
    assert!(reason(&e).contains("no_such_column"), "{}", reason(&e));
    let e = run(
        &client,
        "INSERT INTO sales_data VALUES ('a','b','c','d','2024','03','01')",
    )
    .await;
    assert_eq!(state(&e), QueryExecutionState::Failed);
    assert!(reason(&e).contains("INSERT"), "{}", reason(&e));

    // A file that cannot be read fails the query with its key.
    drop_files(
        &pipeline,
        "app_events",
        &[(
            "events_20240301T00.csv".into(),
            "event_id,occurred_at,user_id,event_type,is_mobile,duration_ms\ne1,2024-03-01 00:00:01,7,view,true,10\n".into(),
            vec!["2024".into(), "03".into(), "01".into(), "00".into()],
        )],
    )
    .await;
    let bad_key = "app_events/year=2024/month=03/day=01/hour=00/broken.csv";
    put_object(
        &pipeline,
        ANALYTICS,
        bad_key,
        "event_id,occurred_at,user_id,event_type,is_mobile,duration_ms\ne2,2024-03-01 00:00:02,seven,view,true,10\n",
    )
    .await;
    let e = run(&client, "SELECT sum(user_id) FROM app_events").await;
    assert_eq!(state(&e), QueryExecutionState::Failed);
    assert!(reason(&e).contains(bad_key), "{}", reason(&e));

    // Idempotency: the same token gives the same id; other parameters are refused.
    let token = "0123456789abcdef0123456789abcdef";
    let start = |sql: &'static str| {
        client
            .start_query_execution()
            .query_string(sql)
            .client_request_token(token)
            .query_execution_context(QueryExecutionContext::builder().database(DATABASE).build())
            .work_group(WORKGROUP)
            .send()
    };
    let a = start("SELECT 1").await.unwrap().query_execution_id.unwrap();
    let b = start("SELECT 1").await.unwrap().query_execution_id.unwrap();
    assert_eq!(a, b);
    let err = start("SELECT 2").await.unwrap_err().into_service_error();
    match &err {
        aws_sdk_athena::operation::start_query_execution::StartQueryExecutionError::InvalidRequestException(e) => {
            assert_eq!(e.athena_error_code(), Some("IDEMPOTENT_PARAMETER_MISMATCH"))
        }
        other => panic!("expected InvalidRequestException, got {other:?}"),
    }

    // Stop is idempotent on a finished query; results of a failed one are refused.
    let done = wait(&client, &a).await;
    assert_eq!(state(&done), QueryExecutionState::Succeeded);
    client
        .stop_query_execution()
        .query_execution_id(&a)
        .send()
        .await
        .unwrap();
    client
        .stop_query_execution()
        .query_execution_id(&a)
        .send()
        .await
        .unwrap();
    let failed = run(&client, "SELECT * FROM no_such_table").await;
    assert!(client
        .get_query_results()
        .query_execution_id(failed.query_execution_id().unwrap())
        .send()
        .await
        .is_err());

    // Still serving.
    assert_eq!(
        text(&rows(&client, "SELECT count(*) FROM sales_data").await)[1],
        vec!["3"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workgroups_catalogs_and_table_metadata() {
    let pipeline = Pipeline::start().await;
    let client = athena(&pipeline).await;
    let wg = client
        .get_work_group()
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap()
        .work_group
        .unwrap();
    let config = wg.configuration.unwrap();
    assert_eq!(
        config.result_configuration.unwrap().output_location(),
        Some(format!("s3://{ANALYTICS}/query-results/").as_str())
    );
    assert_eq!(config.enforce_work_group_configuration, Some(true));
    assert_eq!(
        config.engine_version.unwrap().effective_engine_version(),
        Some("Athena engine version 3")
    );
    let names: Vec<String> = client
        .list_work_groups()
        .send()
        .await
        .unwrap()
        .work_groups
        .unwrap()
        .into_iter()
        .filter_map(|w| w.name)
        .collect();
    assert!(names.contains(&"primary".to_owned()) && names.contains(&WORKGROUP.to_owned()));
    assert!(client
        .get_work_group()
        .work_group("nope")
        .send()
        .await
        .is_err());

    let catalogs = client
        .list_data_catalogs()
        .send()
        .await
        .unwrap()
        .data_catalogs_summary
        .unwrap();
    assert_eq!(catalogs[0].catalog_name(), Some("AwsDataCatalog"));
    let databases = client
        .list_databases()
        .catalog_name("AwsDataCatalog")
        .send()
        .await
        .unwrap();
    assert!(databases
        .database_list()
        .iter()
        .any(|d| d.name() == DATABASE));
    let tables = client
        .list_table_metadata()
        .catalog_name("AwsDataCatalog")
        .database_name(DATABASE)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = tables
        .table_metadata_list()
        .iter()
        .map(|t| t.name())
        .collect();
    assert!(
        names.contains(&"sales_data") && names.contains(&"app_events"),
        "{names:?}"
    );
    let sales = client
        .get_table_metadata()
        .catalog_name("AwsDataCatalog")
        .database_name(DATABASE)
        .table_name("sales_data")
        .send()
        .await
        .unwrap()
        .table_metadata
        .unwrap();
    let columns: Vec<&str> = sales.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        columns,
        [
            "transaction_id",
            "customer_id",
            "amount",
            "transaction_date"
        ]
    );
    let keys: Vec<&str> = sales.partition_keys().iter().map(|c| c.name()).collect();
    assert_eq!(keys, ["year", "month", "day"]);

    // Executions are listed newest first and fetched in batches.
    let first = run(&client, "SELECT 1").await;
    let second = run(&client, "SHOW TABLES").await;
    let listed = client
        .list_query_executions()
        .work_group(WORKGROUP)
        .send()
        .await
        .unwrap();
    let ids = listed.query_execution_ids();
    assert_eq!(ids[0], second.query_execution_id().unwrap());
    assert_eq!(ids[1], first.query_execution_id().unwrap());
    let batch = client
        .batch_get_query_execution()
        .query_execution_ids(first.query_execution_id().unwrap())
        .query_execution_ids("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(batch.query_executions().len(), 1);
    assert_eq!(batch.unprocessed_query_execution_ids().len(), 1);
    let shown = text(&all_rows(&client, second.query_execution_id().unwrap()).await);
    assert!(shown.contains(&vec!["sales_data".to_owned()]), "{shown:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn trino_functions_ctas_to_parquet_and_drop() {
    let pipeline = Pipeline::start().await;
    drop_files(
        &pipeline,
        "sales_data",
        &[sales_file(14, 12), sales_file(15, 8)],
    )
    .await;
    let client = athena(&pipeline).await;

    let got = text(
        &rows(
            &client,
            "SELECT date_trunc('month', DATE '2024-03-15') AS m, \
             date_add('day', 20, DATE '2024-03-15') AS d, \
             date_add('month', 1, TIMESTAMP '2024-01-31 10:00:00') AS t, \
             date_diff('day', DATE '2024-03-01', DATE '2024-03-15') AS dd, \
             date_format(TIMESTAMP '2024-03-05 14:07:09', '%Y/%m/%d %H:%i') AS f, \
             date_parse('05/03/2024 14:07', '%d/%m/%Y %H:%i') AS p, \
             from_iso8601_date('2024-03-15') AS i, \
             from_iso8601_timestamp('2024-03-15T10:00:00Z') AS it, \
             regexp_like('sales_data_2024', '^sales_\\w+$') AS r, \
             split_part('a,b,c', ',', 2) AS s, \
             TRY_CAST('x' AS integer) AS tc, \
             \"year\"(DATE '2024-03-15') AS y",
        )
        .await,
    );
    assert_eq!(
        got[1],
        [
            "2024-03-01",
            "2024-04-04",
            "2024-02-29 10:00:00.000",
            "14",
            "2024/03/05 14:07",
            "2024-03-05 14:07:00.000",
            "2024-03-15",
            "2024-03-15 10:00:00.000",
            "true",
            "b",
            "NULL",
            "2024"
        ]
    );
    let got = text(
        &rows(
            &client,
            "SELECT approx_distinct(customer_id) AS c, \
             approx_percentile(CAST(amount AS double), 0.5) > 0 AS p FROM sales_data",
        )
        .await,
    );
    assert_eq!(got[1], ["7", "true"]);

    // CTAS writes Parquet and a ParquetHiveSerDe table; reading it back is typed.
    let e = run(
        &client,
        "CREATE TABLE daily WITH (format = 'PARQUET', external_location = 's3://my-company-analytics/ctas/daily/') AS \
         SELECT CAST(transaction_date AS date) AS d, count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total \
         FROM sales_data GROUP BY 1",
    )
    .await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    let manifest = e
        .statistics()
        .unwrap()
        .data_manifest_location()
        .unwrap()
        .to_owned();
    let files = read_object(&pipeline, &manifest).await;
    assert!(
        files.starts_with("s3://my-company-analytics/ctas/daily/"),
        "{files}"
    );
    let described = text(&rows(&client, "DESCRIBE daily").await);
    assert!(
        described[2][0].starts_with("total") && described[2][0].contains("decimal(20,2)"),
        "{described:?}"
    );
    let got = text(&rows(&client, "SELECT d, n, total FROM daily ORDER BY d").await);
    assert_eq!(
        got,
        [
            vec!["d".to_owned(), "n".to_owned(), "total".to_owned()],
            vec![
                "2024-03-14".to_owned(),
                "12".to_owned(),
                cents(sales_cents(14, 12))
            ],
            vec![
                "2024-03-15".to_owned(),
                "8".to_owned(),
                cents(sales_cents(15, 8))
            ],
        ]
    );
    let e = run(&client, "SELECT d FROM daily WHERE d > DATE '2024-03-14'").await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    assert!(scanned(&e) > 0);
    let tables = text(&rows(&client, "SHOW TABLES").await);
    assert!(tables.contains(&vec!["daily".to_owned()]));
    let e = run(&client, "DROP TABLE daily").await;
    assert_eq!(state(&e), QueryExecutionState::Succeeded, "{}", reason(&e));
    let e = run(&client, "SELECT * FROM daily").await;
    assert_eq!(state(&e), QueryExecutionState::Failed);
    assert!(reason(&e).contains("daily"));
    let databases = text(&rows(&client, "SHOW DATABASES").await);
    assert_eq!(databases, [vec![DATABASE.to_owned()]]);
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_query_prints_tables_csv_and_json() {
    let pipeline = Pipeline::start().await;
    drop_files(&pipeline, "sales_data", &[sales_file(15, 2)]).await;
    let query = |output: &str, sql: &str| {
        let out = std::process::Command::new(e2e_tests::emulator_binary())
            .args([
                "query",
                "--endpoint-url",
                &pipeline.url,
                "--database",
                DATABASE,
                "--output",
                output,
                sql,
            ])
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .expect("emulator query runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let sql = "SELECT day, count(*) AS n, sum(CAST(amount AS decimal(10,2))) AS total FROM sales_data GROUP BY day";
    let (ok, table, err) = query("table", sql);
    assert!(ok, "{err}");
    assert_eq!(
        table,
        "+-----+---+-------+\n| day | n | total |\n+-----+---+-------+\n| 15  | 2 | 30.01 |\n+-----+---+-------+\n(1 row)\n"
    );
    let (ok, csv, _) = query("csv", "SELECT 'a,b' AS x, CAST(NULL AS varchar) AS y");
    assert!(ok);
    assert_eq!(csv, "x,y\n\"a,b\",\n");
    let (ok, json, _) = query("json", "SELECT 1 AS one");
    assert!(ok);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).unwrap(),
        serde_json::json!([{"one": "1"}])
    );
    let (ok, _, err) = query("table", "SELECT * FROM nope");
    assert!(!ok);
    assert!(err.contains("nope"), "{err}");
}
