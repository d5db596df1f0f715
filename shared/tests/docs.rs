//! Keeps README.md and the loader in step: every field path the serde structs accept has a
//! row in the file's field tables, and every row names a field the loader accepts.

use std::collections::BTreeSet;

use pipeline_core::config::accepted_field_paths;

const README: &str = include_str!("../../README.md");

/// The documented fields: the backticked first cell of each row of the field tables
/// (`| `resources.sqs_queue` | string | ...`).
fn documented_paths() -> BTreeSet<String> {
    README
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(path, _)| path)
        .filter(|path| {
            ["aws", "resources", "entities", "functions", "emulator"]
                .iter()
                .any(|root| path == root || path.starts_with(&format!("{root}.")))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn every_accepted_field_is_documented() {
    let documented = documented_paths();
    let missing: Vec<String> = accepted_field_paths()
        .into_iter()
        .filter(|path| !documented.contains(path))
        .collect();
    assert!(
        missing.is_empty(),
        "fields missing from README.md: {missing:?}"
    );
}

#[test]
fn every_documented_field_exists() {
    let accepted: BTreeSet<String> = accepted_field_paths().into_iter().collect();
    let unknown: Vec<String> = documented_paths()
        .into_iter()
        .filter(|path| !accepted.contains(path))
        .collect();
    assert!(
        unknown.is_empty(),
        "README.md documents unknown fields: {unknown:?}"
    );
}

#[test]
fn the_field_list_covers_every_level() {
    let paths = accepted_field_paths();
    for expected in [
        "aws.account_id",
        "resources.visibility_timeout_seconds",
        "entities.<name>.schema[].type",
        "entities.<name>.csv.allow_embedded_newlines",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} not in {paths:?}"
        );
    }
}
