//! `emulator query "SELECT ..."`: runs one statement on a running emulator through the Athena
//! API (aws-sdk-athena, as any client would) and prints the result as a table, CSV or JSON.

use std::time::Duration;

use anyhow::{bail, Context};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState};
use aws_sdk_athena::Client;

/// How `emulator query` prints a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The SQL statement (Athena/Trino SQL, or SHOW/DESCRIBE/MSCK REPAIR TABLE).
    pub sql: String,
    /// Default database of the query (`FROM table` without `db.`).
    #[arg(long, env = "ATHENA_DATABASE")]
    pub database: Option<String>,
    /// Workgroup to run in; without it the pipeline config's workgroup.
    #[arg(long)]
    pub workgroup: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// The emulator to talk to.
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4566"
    )]
    pub endpoint_url: String,
}

/// A finished query: column names and rows (`None` is NULL).
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

async fn client(endpoint_url: &str) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(
            std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|_| "us-east-1".into()),
        ));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(aws_sdk_athena::config::Credentials::new(
            "test", "test", None, None, "emulator",
        ));
    }
    Client::new(&loader.load().await)
}

/// Starts the query, waits for it, and reads every page of its result.
pub async fn run_query(args: &QueryArgs, default_workgroup: &str) -> anyhow::Result<QueryResult> {
    let client = client(&args.endpoint_url).await;
    let id = start_query(&client, args, default_workgroup).await?;
    wait_for_success(&client, &id).await?;
    read_results(&client, &id).await
}

async fn start_query(
    client: &Client,
    args: &QueryArgs,
    default_workgroup: &str,
) -> anyhow::Result<String> {
    let mut start = client
        .start_query_execution()
        .query_string(&args.sql)
        .work_group(args.workgroup.as_deref().unwrap_or(default_workgroup));
    if let Some(database) = &args.database {
        start = start
            .query_execution_context(QueryExecutionContext::builder().database(database).build());
    }
    start
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_athena::error::DisplayErrorContext(e)))
        .with_context(|| format!("starting the query on {}", args.endpoint_url))?
        .query_execution_id
        .context("StartQueryExecution returned no id")
}

/// Polls GetQueryExecution until the query ends; a failed or cancelled query is an error with
/// Athena's reason.
async fn wait_for_success(client: &Client, id: &str) -> anyhow::Result<()> {
    loop {
        let execution = client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await?;
        let status = execution
            .query_execution
            .and_then(|e| e.status)
            .context("no status")?;
        match status.state {
            Some(QueryExecutionState::Succeeded) => return Ok(()),
            Some(QueryExecutionState::Failed) | Some(QueryExecutionState::Cancelled) => bail!(
                "query {id} {}: {}",
                status
                    .state
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                status.state_change_reason.unwrap_or_default()
            ),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Every page of GetQueryResults: the column names from the first page's metadata, and the
/// rows without the header row queries carry first.
async fn read_results(client: &Client, id: &str) -> anyhow::Result<QueryResult> {
    let mut pages = client
        .get_query_results()
        .query_execution_id(id)
        .into_paginator()
        .send();
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    let mut first_page = true;
    while let Some(page) = pages.next().await {
        let Some(result_set) = page?.result_set else {
            continue;
        };
        if first_page {
            columns = result_set
                .result_set_metadata
                .and_then(|m| m.column_info)
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.name)
                .collect();
        }
        let mut page_rows: Vec<Vec<Option<String>>> = result_set
            .rows
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                r.data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| d.var_char_value)
                    .collect()
            })
            .collect();
        // Queries return the column names as the first row of the first page.
        if first_page && page_rows.first().is_some_and(|r| is_header(r, &columns)) {
            page_rows.remove(0);
        }
        first_page = false;
        rows.extend(page_rows);
    }
    Ok(QueryResult { columns, rows })
}

fn is_header(row: &[Option<String>], columns: &[String]) -> bool {
    row.iter()
        .map(|v| v.as_deref())
        .eq(columns.iter().map(|c| Some(c.as_str())))
}

pub fn render(result: &QueryResult, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => render_table(result),
        OutputFormat::Csv => render_csv(result),
        OutputFormat::Json => render_json(result),
    }
}

fn render_table(result: &QueryResult) -> String {
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into());
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.chars().count()).collect();
    for row in &result.rows {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell(v).chars().count());
            }
        }
    }
    let line = |values: Vec<String>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let rule = format!(
        "+{}+\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let mut out = rule.clone();
    out.push_str(&line(result.columns.clone()));
    out.push_str(&rule);
    for row in &result.rows {
        out.push_str(&line(row.iter().map(cell).collect()));
    }
    out.push_str(&rule);
    out.push_str(&format!(
        "({} row{})\n",
        result.rows.len(),
        if result.rows.len() == 1 { "" } else { "s" }
    ));
    out
}

fn render_csv(result: &QueryResult) -> String {
    let quote = |v: &str| {
        if v.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_owned()
        }
    };
    let mut out = result
        .columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &result.rows {
        out.push_str(
            &row.iter()
                .map(|v| v.as_deref().map(quote).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

fn render_json(result: &QueryResult) -> String {
    let rows: Vec<serde_json::Value> = result
        .rows
        .iter()
        .map(|row| {
            serde_json::Value::Object(
                result
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| {
                        (
                            c.clone(),
                            v.clone()
                                .map_or(serde_json::Value::Null, serde_json::Value::String),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&rows).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nulls_and_quotes() {
        let result = QueryResult {
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec![Some("x,y".into()), None]],
        };
        assert_eq!(render(&result, OutputFormat::Csv), "a,b\n\"x,y\",\n");
        assert!(render(&result, OutputFormat::Table).contains("| x,y | NULL |"));
        assert!(render(&result, OutputFormat::Json).contains("\"b\": null"));
    }
}
