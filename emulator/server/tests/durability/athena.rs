//! The Athena query history survives `kill -9` in `--data-dir` mode: after a restart on the same
//! dir, GetQueryExecution, GetQueryResults, BatchGetQueryExecution and ListQueryExecutions
//! answer exactly as before, and a ClientRequestToken reused after the restart returns the
//! execution it started (or IDEMPOTENT_PARAMETER_MISMATCH with other parameters). Runs the real
//! binary: only it links the query engine.

use std::time::{Duration, Instant};

use aws_sdk_athena::error::ProvideErrorMetadata;
use aws_sdk_athena::types::{QueryExecution, QueryExecutionState};
use aws_sdk_athena::Client;

use super::kill::spawn;
use crate::common;

const TOKEN: &str = "durable-token-0123456789abcdef-0001";

async fn athena(url: &str) -> Client {
    Client::new(&common::sdk_config(url).await)
}

async fn start(client: &Client, sql: &str, token: Option<&str>) -> String {
    client
        .start_query_execution()
        .query_string(sql)
        .work_group("primary")
        .set_client_request_token(token.map(str::to_owned))
        .send()
        .await
        .unwrap_or_else(|e| panic!("StartQueryExecution {sql}: {e:?}"))
        .query_execution_id()
        .unwrap()
        .to_owned()
}

async fn execution(client: &Client, id: &str) -> QueryExecution {
    let out = client
        .get_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .unwrap();
    out.query_execution().unwrap().clone()
}

async fn wait_final(client: &Client, id: &str) -> QueryExecution {
    let started = Instant::now();
    loop {
        let e = execution(client, id).await;
        let state = e.status().and_then(|s| s.state()).cloned();
        if matches!(
            state,
            Some(QueryExecutionState::Succeeded | QueryExecutionState::Failed)
        ) {
            return e;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{id}: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything a client can read about the history.
#[derive(Debug, PartialEq)]
struct Seen {
    executions: Vec<QueryExecution>,
    results: Vec<aws_sdk_athena::types::ResultSet>,
    listed: Vec<String>,
}

async fn seen(client: &Client, ids: &[String], succeeded: &[String]) -> Seen {
    let mut executions = Vec::new();
    for id in ids {
        executions.push(execution(client, id).await);
    }
    let batch = client
        .batch_get_query_execution()
        .set_query_execution_ids(Some(ids.to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.query_executions(), &executions[..]);
    let mut results = Vec::new();
    for id in succeeded {
        let page = client
            .get_query_results()
            .query_execution_id(id)
            .send()
            .await
            .unwrap();
        results.push(page.result_set().unwrap().clone());
    }
    let listed = client
        .list_query_executions()
        .work_group("primary")
        .send()
        .await
        .unwrap()
        .query_execution_ids()
        .to_vec();
    Seen {
        executions,
        results,
        listed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_history_survives_kill_9_and_tokens_stay_idempotent() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let log = work.path().join("emulator.log");

    let (running, _) = spawn(&dir, &log).await;
    let client = athena(&running.url).await;
    let queries = [
        "SELECT 1 AS one, 'a,\"b' AS quoted, CAST(NULL AS VARCHAR) AS nothing, '' AS empty",
        "SHOW DATABASES",
        "SELECT * FROM no_such_table",
    ];
    let mut ids = Vec::new();
    for (n, sql) in queries.iter().enumerate() {
        let id = start(&client, sql, (n == 0).then_some(TOKEN)).await;
        wait_final(&client, &id).await;
        ids.push(id);
    }
    let succeeded = ids[..2].to_vec();
    let before = seen(&client, &ids, &succeeded).await;
    let failed = before.executions[2].status().unwrap();
    assert_eq!(failed.state(), Some(&QueryExecutionState::Failed));
    drop(running); // SIGKILL

    let (running, _) = spawn(&dir, &log).await;
    let client = athena(&running.url).await;
    let after = seen(&client, &ids, &succeeded).await;
    assert_eq!(after, before, "the history reads the same after kill -9");
    assert_eq!(start(&client, queries[0], Some(TOKEN)).await, ids[0]);
    let mismatch = client
        .start_query_execution()
        .query_string("SELECT 2")
        .work_group("primary")
        .client_request_token(TOKEN)
        .send()
        .await
        .expect_err("other parameters with a used token");
    assert_eq!(mismatch.code(), Some("InvalidRequestException"));
    assert!(
        format!("{mismatch:?}").contains("IDEMPOTENT_PARAMETER_MISMATCH"),
        "{mismatch:?}"
    );
    let listed = client
        .list_query_executions()
        .work_group("primary")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.query_execution_ids().len(),
        ids.len(),
        "no new execution"
    );
}
