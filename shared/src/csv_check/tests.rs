//! Tests of the streaming CSV validator; every case runs with several chunk sizes, so results do
//! not depend on where the input is split.

use super::*;
use crate::config::Config;

fn entity_with(edit: impl FnOnce(&mut serde_json::Value)) -> Entity {
    let mut value: serde_json::Value =
        serde_json::from_str(crate::config::EMBEDDED_PIPELINE_JSON).unwrap();
    edit(&mut value["entities"]["sales"]);
    let config =
        Config::from_json_str(&value.to_string(), &|_| Some("123456789012".into())).unwrap();
    config.entities["sales"].clone()
}

fn sales() -> Entity {
    entity_with(|_| {})
}

/// Validates `data` fed in chunks of each size; all results must agree.
fn check(entity: &Entity, data: &[u8]) -> Result<CsvStats, CsvError> {
    let mut results = Vec::new();
    for size in [1, 2, 3, 7, 64, usize::MAX] {
        let mut validator = CsvValidator::new(entity);
        let mut outcome = Ok(());
        for chunk in data.chunks(size.min(data.len().max(1))) {
            outcome = validator.feed(chunk);
            if outcome.is_err() {
                break;
            }
        }
        results.push(outcome.and_then(|()| validator.finish()));
    }
    for result in &results[1..] {
        assert_eq!(
            result, &results[0],
            "chunking changed the result for {data:?}"
        );
    }
    results.remove(0)
}

const HEADER: &str = "transaction_id,customer_id,amount,transaction_date\n";

fn with_header(rows: &str) -> Vec<u8> {
    format!("{HEADER}{rows}").into_bytes()
}

#[test]
fn valid_file_counts_rows() {
    let data = with_header("t1,c1,10.50,2024-03-15\nt2,c2,-3,2024-03-16\n");
    let stats = check(&sales(), &data).unwrap();
    assert_eq!(
        stats,
        CsvStats {
            rows: 2,
            bytes: data.len() as u64
        }
    );
}

#[test]
fn quoting_crlf_bom_and_missing_final_newline() {
    let data = b"\xEF\xBB\xBFtransaction_id,customer_id,amount,transaction_date\r\n\
        \"t,1\",\"say \"\"hi\"\"\",\"10.50\",2024-03-15\r\n\
        t2,c2,1,2024-03-16";
    assert_eq!(check(&sales(), data).unwrap().rows, 2);
    let cr_only = b"transaction_id,customer_id,amount,transaction_date\rt1,c1,1,2024-03-15\r";
    assert_eq!(check(&sales(), cr_only).unwrap().rows, 1);
}

#[test]
fn header_only_is_valid_with_zero_rows_and_empty_is_an_error() {
    assert_eq!(check(&sales(), HEADER.as_bytes()).unwrap().rows, 0);
    assert_eq!(
        check(&sales(), HEADER.trim_end().as_bytes()).unwrap().rows,
        0
    );
    assert_eq!(check(&sales(), b""), Err(CsvError::Empty));
    assert_eq!(check(&sales(), UTF8_BOM), Err(CsvError::Empty));
    assert_eq!(check(&sales(), b"\xEF\xBB"), Err(CsvError::Empty));
}

#[test]
fn header_must_match_names_order_and_count() {
    let error = check(
        &sales(),
        b"transaction_id,customer,amount,transaction_date\n",
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("column 2 is \"customer\", the schema expects \"customer_id\""),
        "{error}"
    );
    let error = check(&sales(), b"transaction_id,customer_id,amount\n").unwrap_err();
    assert!(
        error.to_string().contains("3 column(s), the schema has 4"),
        "{error}"
    );
    let error = check(
        &sales(),
        b"transaction_id,customer_id,amount,transaction_date,x\n",
    )
    .unwrap_err();
    assert!(
        matches!(error, CsvError::HeaderMismatch { line: 1, .. }),
        "{error}"
    );
    let error = check(
        &sales(),
        b"customer_id,transaction_id,amount,transaction_date\n",
    )
    .unwrap_err();
    assert!(matches!(error, CsvError::HeaderMismatch { .. }));
}

#[test]
fn first_bad_value_names_line_and_column() {
    let data = with_header("t1,c1,10.50,2024-03-15\nt2,c2,10.505,2024-03-15\nt3,c3,x,y\n");
    let error = check(&sales(), &data).unwrap_err();
    assert_eq!(error.line(), Some(3));
    match &error {
        CsvError::InvalidValue {
            column,
            column_name,
            message,
            ..
        } => {
            assert_eq!((*column, column_name.as_str()), (3, "amount"));
            assert!(message.contains("fraction digits"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        error.to_string().starts_with("line 3, column 3 (amount):"),
        "{error}"
    );
    let error = check(&sales(), &with_header("t1,c1,1,2024-02-30\n")).unwrap_err();
    assert!(
        error.to_string().contains("column 4 (transaction_date)"),
        "{error}"
    );
    let error = check(&sales(), &with_header("t1,c1,,2024-02-01\n")).unwrap_err();
    assert!(error.to_string().contains("empty value"), "{error}");
}

#[test]
fn ragged_rows() {
    let error = check(&sales(), &with_header("t1,c1,1\n")).unwrap_err();
    assert_eq!(
        error,
        CsvError::RaggedRow {
            line: 2,
            found: 3,
            expected: 4
        }
    );
    let error = check(&sales(), &with_header("t1,c1,1,2024-01-01,extra\n")).unwrap_err();
    assert_eq!(
        error,
        CsvError::RaggedRow {
            line: 2,
            found: 5,
            expected: 4
        }
    );
}

#[test]
fn blank_lines_are_errors() {
    let error = check(
        &sales(),
        &with_header("t1,c1,1,2024-01-01\n\nt2,c2,1,2024-01-01\n"),
    )
    .unwrap_err();
    assert_eq!(error, CsvError::BlankLine { line: 3 });
    let error = check(&sales(), &with_header("t1,c1,1,2024-01-01\r\n\r\n")).unwrap_err();
    assert!(matches!(error, CsvError::BlankLine { .. }), "{error}");
    assert!(matches!(
        check(&sales(), b"\n"),
        Err(CsvError::BlankLine { line: 1 })
    ));
}

#[test]
fn non_utf8_and_backslash() {
    let mut data = with_header("t1,c");
    data.extend_from_slice(b"\xFF\xFE,1,2024-01-01\n");
    let error = check(&sales(), &data).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("column 2 (customer_id): not valid UTF-8"),
        "{error}"
    );
    let error = check(&sales(), &with_header("t1,C:\\dir,1,2024-01-01\n")).unwrap_err();
    assert!(error.to_string().contains("backslash"), "{error}");
}

#[test]
fn embedded_line_breaks_are_rejected_unless_allowed() {
    let data = with_header("t1,\"two\nlines\",1,2024-01-01\nt2,c2,x,2024-01-01\n");
    let error = check(&sales(), &data).unwrap_err();
    assert!(error
        .to_string()
        .contains("line 2, column 2 (customer_id): quoted field contains a line break"));
    let relaxed = entity_with(|sales| {
        sales["csv"] = serde_json::json!({ "allow_embedded_newlines": true });
    });
    // The next record starts on physical line 4, which the error reports.
    let error = check(&relaxed, &data).unwrap_err();
    assert_eq!(error.line(), Some(4));
    assert!(error.to_string().contains("column 3 (amount)"), "{error}");
}

#[test]
fn record_size_limit() {
    let small = entity_with(|sales| sales["csv"] = serde_json::json!({ "max_record_bytes": 64 }));
    let long = format!("t1,{},1,2024-01-01\n", "c".repeat(100));
    let error = check(&small, &with_header(&long)).unwrap_err();
    assert_eq!(error, CsvError::RecordTooLarge { line: 2, limit: 64 });
    assert!(check(&small, &with_header("t1,c1,1,2024-01-01\n")).is_ok());
}

/// Found by `csv_any_bytes_any_split_same_result` (shared/tests/properties): a record over the
/// limit with text after a closing quote beyond the limit was reported as the quoting error when
/// fed whole and as too large when split at the limit. The earlier one in the file wins.
#[test]
fn record_size_limit_comes_before_a_later_quoting_error_whatever_the_split() {
    let small = entity_with(|sales| sales["csv"] = serde_json::json!({ "max_record_bytes": 64 }));
    let data = format!("{HEADER}\"{}\"junk,c1,1,2024-01-01\n", "t".repeat(80));
    let error = check(&small, data.as_bytes()).unwrap_err();
    assert_eq!(error, CsvError::RecordTooLarge { line: 2, limit: 64 });
    let mut split = CsvValidator::new(&small);
    let at = HEADER.len() + 65;
    split.feed(&data.as_bytes()[..at]).unwrap_err();
    assert_eq!(split.feed(&data.as_bytes()[at..]), Err(error));
}

/// Found by `csv_any_bytes_any_split_same_result`: only the first BOM is stripped; a second one
/// is data (csv-core stripped it too when it arrived whole in csv-core's first input).
#[test]
fn a_second_bom_is_data_whatever_the_split() {
    let data = b"\xEF\xBB\xBF\xEF\xBB\xBF,";
    let expected = CsvError::HeaderMismatch {
        line: 1,
        message: "column 1 is \"\\u{feff}\", the schema expects \"transaction_id\"".into(),
    };
    assert_eq!(check(&sales(), data), Err(expected));
}

#[test]
fn other_delimiter_and_no_header() {
    let tsv = entity_with(|sales| {
        sales["csv"] = serde_json::json!({ "delimiter": "\t", "quote": "'", "header": false });
    });
    let stats = check(&tsv, b"t1\t'a\tb'\t1\t2024-01-01\nt2\tc\t2\t2024-01-02\n").unwrap();
    assert_eq!(stats.rows, 2);
    let error = check(&tsv, HEADER.replace(',', "\t").as_bytes()).unwrap_err();
    assert!(error.to_string().contains("column 3 (amount)"), "{error}");
}

#[test]
fn errors_are_sticky() {
    let mut validator = CsvValidator::new(&sales());
    assert!(validator.feed(b"bad\n").is_err());
    assert!(validator.feed(HEADER.as_bytes()).is_err());
    assert!(validator.finish().is_err());
}

#[test]
fn read_adapter() {
    let data = with_header("t1,c1,10.50,2024-03-15\n");
    let stats = validate_read(&sales(), &data[..]).unwrap();
    assert_eq!(stats.rows, 1);
    assert_eq!(stats.bytes, data.len() as u64);

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk on fire"))
        }
    }
    assert!(matches!(
        validate_read(&sales(), Failing),
        Err(CsvError::Io(_))
    ));
}

/// Records what a sink receives, as text.
#[derive(Default)]
struct Recorder {
    records: Vec<Vec<String>>,
    current: Vec<String>,
}

impl RecordSink for Recorder {
    fn field(&mut self, column: usize, value: Value<'_>) {
        assert_eq!(column, self.current.len(), "fields arrive in column order");
        self.current.push(format!("{value:?}"));
    }
    fn end_record(&mut self) {
        self.records.push(std::mem::take(&mut self.current));
    }
}

#[test]
fn the_sink_receives_each_valid_record_parsed_whatever_the_chunking() {
    let data = b"\xEF\xBB\xBFtransaction_id,customer_id,amount,transaction_date\r\n\"a,\"\"b\",c,1.5,2024-03-15\r\nx,,-2,1970-01-02";
    let mut seen = Vec::new();
    for size in [1, 2, 5, 64, data.len()] {
        let mut validator = CsvValidator::new(&sales());
        let mut recorder = Recorder::default();
        for chunk in data.chunks(size) {
            validator.feed_into(chunk, &mut recorder).unwrap();
        }
        let stats = validator.finish_into(&mut recorder).unwrap();
        assert_eq!(stats.rows, 2);
        seen.push(recorder.records);
    }
    assert_eq!(
        seen[0],
        vec![
            vec![
                "Text(\"a,\\\"b\")",
                "Text(\"c\")",
                "Decimal(150)",
                "Date(19797)"
            ],
            vec!["Text(\"x\")", "Text(\"\")", "Decimal(-200)", "Date(1)"],
        ]
    );
    assert!(seen.iter().all(|s| s == &seen[0]));
}

#[test]
fn field_text_accepts_only_what_opencsvserde_reads_unchanged() {
    assert_eq!(
        field_text("café, \"x\"".as_bytes(), false),
        Ok("café, \"x\"")
    );
    assert_eq!(field_text(b"a\nb", true), Ok("a\nb"));
    assert!(field_text(b"a\nb", false)
        .unwrap_err()
        .contains("line break"));
    assert!(field_text(b"a\rb", false)
        .unwrap_err()
        .contains("line break"));
    assert!(field_text(b"a\\b", true).unwrap_err().contains("backslash"));
    assert_eq!(
        field_text(b"ab\xFF", true),
        Err("not valid UTF-8 (byte 2 of the field)".to_string())
    );
}

#[test]
fn a_quoted_field_never_closed_is_an_error_at_its_line_and_column() {
    // The last field opens a quote that the file never closes: csv-core reads the rest of the
    // file as its value, Athena's OpenCSVSerDe leaves the field pending and drops it.
    let data = with_header("t1,c1,1,2024-01-01\nt2,\"c2,2,2024-01-02\n");
    let error = check(&sales(), &data).unwrap_err();
    assert_eq!(error.line(), Some(3));
    assert!(
        error
            .to_string()
            .contains("line 3, column 2 (customer_id): quoted field is never closed"),
        "{error}"
    );
    // Without a final line break, and in the last column.
    let error = check(&sales(), &with_header("t1,c1,1,\"2024-01-01")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("line 2, column 4 (transaction_date): quoted field is never closed"),
        "{error}"
    );
    // Even when embedded line breaks are allowed.
    let relaxed = entity_with(|sales| {
        sales["csv"] = serde_json::json!({ "allow_embedded_newlines": true });
    });
    let error = check(&relaxed, &data).unwrap_err();
    assert!(error.to_string().contains("never closed"), "{error}");
}

#[test]
fn text_after_a_closing_quote_is_an_error_at_its_line_and_column() {
    let error = check(&sales(), &with_header("t1,\"c1\"junk,1,2024-01-01\n")).unwrap_err();
    assert_eq!(error.line(), Some(2));
    assert!(
        error
            .to_string()
            .contains("line 2, column 2 (customer_id): text after the closing quote"),
        "{error}"
    );
    // In the header, in the first column, before CRLF and at the very end of the file.
    let error = check(
        &sales(),
        b"\"transaction_id\"x,customer_id,amount,transaction_date\n",
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("line 1, column 1 (transaction_id)"),
        "{error}"
    );
    let error = check(&sales(), &with_header("t1,c1,1,\"2024-01-01\" ")).unwrap_err();
    assert!(error.to_string().contains("column 4"), "{error}");
    // Still fine: doubled quotes, a quote closing right before a delimiter or line end, and
    // an empty quoted field.
    let fine = with_header("\"t\"\"1\",\"\",\"1\",2024-01-01\r\nt2,\"c\"\"\",2,\"2024-01-02\"");
    assert_eq!(check(&sales(), &fine).unwrap().rows, 2);
}
