//! Printing reports: JSON (the report as serialized, for scripts and tests) or text tables for
//! people (comfy-table).

use comfy_table::{presets::ASCII_MARKDOWN, Table};
use serde::Serialize;

use crate::backfill::BackfillReport;
use crate::cli::OutputFormat;
use crate::dlq::{ListReport, RedriveReport};
use crate::repair::RepairReport;

/// Prints the report as JSON, or the given table text.
pub fn print(format: OutputFormat, report: &impl Serialize, table: String) {
    match format {
        OutputFormat::Json => match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("error: the report cannot be written as JSON: {e}"),
        },
        OutputFormat::Table => print!("{table}"),
    }
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(ASCII_MARKDOWN)
        .set_header(header.to_vec());
    table
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

pub fn dlq_table(report: &ListReport) -> String {
    let mut rows = table(&[
        "message id",
        "class",
        "reason",
        "objects",
        "receives",
        "note",
    ]);
    for m in &report.messages {
        let note = match (&m.stored_body, &m.body_note) {
            (Some(stored), _) => format!("body kept at {}", stored.s3_uri),
            (None, Some(note)) => note.clone(),
            (None, None) if m.error_reason.is_none() => {
                "no reason: moved by the queue's redrive policy".to_string()
            }
            (None, None) => String::new(),
        };
        rows.add_row(vec![
            m.message_id.clone(),
            or_dash(m.error_class.as_deref()),
            or_dash(m.error_reason.as_deref()),
            m.objects.join("\n"),
            m.receive_count.map(|c| c.to_string()).unwrap_or_default(),
            note,
        ]);
    }
    format!(
        "{}\n{rows}\n{} message(s)\n",
        report.queue_url,
        report.messages.len()
    )
}

pub fn redrive_table(report: &RedriveReport) -> String {
    let verb = if report.dry_run {
        "would move"
    } else {
        "moved"
    };
    let count = if report.dry_run {
        report.selected
    } else {
        report.moved
    };
    let mut text = format!(
        "{} {verb} {count} of {} message(s) from {} to {} ({} selected)\n",
        report.method,
        report.scanned,
        report.source_queue_url,
        report.destination_queue_url,
        report.selected
    );
    if let Some(status) = &report.task_status {
        text.push_str(&format!("move task {status}\n"));
    }
    for failure in &report.failed {
        text.push_str(&format!(
            "FAILED {}: {}\n",
            failure.message_id, failure.reason
        ));
    }
    text
}

pub fn backfill_table(report: &BackfillReport) -> String {
    let verb = if report.dry_run {
        "would enqueue"
    } else {
        "enqueued"
    };
    let count = if report.dry_run {
        report.matched.len() as u64
    } else {
        report.enqueued
    };
    let mut text = String::new();
    for key in &report.matched {
        text.push_str(&format!("s3://{}/{key}\n", report.bucket));
    }
    text.push_str(&format!(
        "{verb} {count} event(s) for entity {} ({} object(s) listed, {} matching) to {}\n",
        report.entity,
        report.listed,
        report.matched.len(),
        report.queue_url
    ));
    for failure in &report.failed {
        text.push_str(&format!("FAILED {}: {}\n", failure.key, failure.reason));
    }
    text
}

pub fn repair_table(report: &RepairReport) -> String {
    let mut rows = table(&["table", "partition", "state", "action", "location"]);
    let action = |done: &str, dry: &str| if report.dry_run { dry } else { done }.to_string();
    for t in &report.tables {
        for values in &t.plan.missing {
            rows.add_row(vec![
                t.plan.table.clone(),
                values.join("/"),
                "missing".into(),
                action("created (unless FAILED below)", "would create"),
                String::new(),
            ]);
        }
        for wrong in &t.plan.wrong_location {
            rows.add_row(vec![
                t.plan.table.clone(),
                wrong.values.join("/"),
                format!("wrong location {}", or_dash(wrong.location.as_deref())),
                action("updated (unless FAILED below)", "would update"),
                wrong.expected.clone(),
            ]);
        }
        for empty in &t.plan.empty {
            rows.add_row(vec![
                t.plan.table.clone(),
                empty.values.join("/"),
                "no objects".into(),
                match (report.delete_empty, report.dry_run) {
                    (true, false) => "deleted (unless FAILED below)",
                    (true, true) => "would delete",
                    (false, _) => "reported (--delete-empty deletes)",
                }
                .into(),
                or_dash(empty.location.as_deref()),
            ]);
        }
        for key in &t.plan.unrecognized_keys {
            rows.add_row(vec![
                t.plan.table.clone(),
                String::new(),
                "object outside the partition layout".into(),
                "reported".into(),
                key.clone(),
            ]);
        }
    }
    let mut text = format!("{rows}\n");
    for t in &report.tables {
        text.push_str(&format!(
            "{}: {} object(s), {} partition(s); created {}, updated {}, deleted {}\n",
            t.plan.table, t.plan.objects, t.plan.partitions, t.created, t.updated, t.deleted
        ));
    }
    for failure in &report.failures {
        text.push_str(&format!("FAILED {failure}\n"));
    }
    text
}
