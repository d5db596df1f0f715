//! Unit tests for the partition filter language: parsing, precedence, typing and errors.

use super::{parse, CompareOp, Expr, Filter, Operand};
use crate::state::PartitionKey;

fn keys(spec: &[(&str, &str)]) -> Vec<PartitionKey> {
    spec.iter()
        .map(|(name, type_name)| PartitionKey {
            name: name.to_string(),
            type_name: type_name.to_string(),
        })
        .collect()
}

fn date_keys() -> Vec<PartitionKey> {
    keys(&[("year", "string"), ("month", "string"), ("day", "string")])
}

fn values(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn matches(expr: &str, keys: &[PartitionKey], parts: &[&str]) -> bool {
    Filter::compile(expr, keys)
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
        .matches(&values(parts))
}

fn error_of(expr: &str, keys: &[PartitionKey]) -> String {
    match Filter::compile(expr, keys) {
        Ok(_) => panic!("{expr} should not compile"),
        Err(e) => e.message,
    }
}

#[test]
fn parses_comparison_into_tree() {
    assert_eq!(
        parse("year = '2024'").unwrap(),
        Expr::Compare {
            left: Operand::Column("year".into()),
            op: CompareOp::Eq,
            right: Operand::Str("2024".into()),
        }
    );
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let tree = parse("a = '1' OR b = '2' AND NOT c = '3'").unwrap();
    let Expr::Or(terms) = tree else {
        panic!("OR must be the root: {tree:?}")
    };
    let [left, right] = &terms[..] else {
        panic!("two OR terms: {terms:?}")
    };
    assert!(matches!(left, Expr::Compare { .. }));
    let Expr::And(conjuncts) = right else {
        panic!("AND under OR")
    };
    assert!(matches!(
        conjuncts[..],
        [Expr::Compare { .. }, Expr::Not(_)]
    ));
}

#[test]
fn equality_in_and_keywords_are_case_insensitive() {
    let k = date_keys();
    let e = "year='2024' and Month in ('03','04')";
    assert!(matches(e, &k, &["2024", "03", "15"]));
    assert!(matches(e, &k, &["2024", "04", "01"]));
    assert!(!matches(e, &k, &["2024", "05", "01"]));
    assert!(!matches(e, &k, &["2023", "03", "01"]));
}

#[test]
fn all_comparison_operators_on_strings() {
    let k = date_keys();
    let p = ["2024", "03", "15"];
    for (expr, expected) in [
        ("day = '15'", true),
        ("day <> '15'", false),
        ("day != '14'", true),
        ("day < '16'", true),
        ("day > '15'", false),
        ("day <= '15'", true),
        ("day >= '16'", false),
        // String comparison: '9' sorts after '15'.
        ("day < '9'", true),
    ] {
        assert_eq!(matches(expr, &k, &p), expected, "{expr}");
    }
}

#[test]
fn between_is_inclusive_and_can_be_negated() {
    let k = date_keys();
    assert!(matches(
        "day BETWEEN '01' AND '15'",
        &k,
        &["2024", "03", "01"]
    ));
    assert!(matches(
        "day BETWEEN '01' AND '15'",
        &k,
        &["2024", "03", "15"]
    ));
    assert!(!matches(
        "day BETWEEN '01' AND '15'",
        &k,
        &["2024", "03", "16"]
    ));
    assert!(matches(
        "day NOT BETWEEN '01' AND '15'",
        &k,
        &["2024", "03", "16"]
    ));
}

#[test]
fn like_wildcards_and_escape() {
    let k = keys(&[("name", "string")]);
    assert!(matches("name LIKE 'ab%'", &k, &["abc"]));
    assert!(matches("name LIKE 'a_c'", &k, &["abc"]));
    assert!(!matches("name LIKE 'a_c'", &k, &["abbc"]));
    assert!(matches("name NOT LIKE 'x%'", &k, &["abc"]));
    // Regex metacharacters in the pattern are literal.
    assert!(matches("name LIKE 'a.c'", &k, &["a.c"]));
    assert!(!matches("name LIKE 'a.c'", &k, &["abc"]));
    assert!(matches("name LIKE '100!%' ESCAPE '!'", &k, &["100%"]));
    assert!(!matches("name LIKE '100!%' ESCAPE '!'", &k, &["1000"]));
}

#[test]
fn numeric_keys_compare_numerically() {
    let k = keys(&[("year", "int"), ("hour", "bigint")]);
    assert!(matches("hour < 10", &k, &["2024", "9"]));
    assert!(!matches("hour < 10", &k, &["2024", "10"]));
    assert!(matches("hour = 7", &k, &["2024", "07"]));
    // A quoted number is still compared as a number against a numeric key.
    assert!(matches("hour >= '10'", &k, &["2024", "12"]));
    assert!(matches("year IN (2023, 2024)", &k, &["2024", "1"]));
    assert!(matches("hour BETWEEN 2 AND 10", &k, &["2024", "9"]));
    // Whereas on string keys '9' > '10'.
    let s = keys(&[("hour", "string")]);
    assert!(!matches("hour < '10'", &s, &["9"]));
}

#[test]
fn decimal_keys_compare_exactly() {
    let k = keys(&[("price", "decimal(10,2)")]);
    assert!(matches("price > 1.5", &k, &["1.50001"]));
    assert!(matches("price = 1.5", &k, &["1.50"]));
    assert!(matches("price > -2", &k, &["-1.9"]));
    assert!(!matches("price > -2", &k, &["-2.1"]));
    assert!(matches(
        "price < 12345678901234567890.1",
        &k,
        &["12345678901234567890"]
    ));
}

#[test]
fn non_numeric_value_of_numeric_key_does_not_match() {
    let k = keys(&[("hour", "int")]);
    assert!(!matches("hour > 1", &k, &["abc"]));
    assert!(!matches("NOT hour > 1", &k, &["abc"]));
}

#[test]
fn not_and_or_precedence_with_parentheses() {
    let k = date_keys();
    let p = ["2024", "03", "15"];
    assert!(matches("NOT year = '2023' AND month = '03'", &k, &p));
    assert!(!matches("NOT (year = '2024' OR month = '04')", &k, &p));
    assert!(matches(
        "year = '2023' OR month = '03' AND day = '15'",
        &k,
        &p
    ));
    assert!(!matches(
        "(year = '2023' OR month = '03') AND day = '16'",
        &k,
        &p
    ));
    assert!(matches("NOT NOT day = '15'", &k, &p));
}

#[test]
fn literal_on_the_left_and_quoted_identifiers() {
    let k = date_keys();
    assert!(matches("'2024' = year", &k, &["2024", "03", "15"]));
    assert!(matches(
        "`month` = '03' AND \"DAY\" = '15'",
        &k,
        &["2024", "03", "15"]
    ));
}

#[test]
fn string_literal_escapes_doubled_quotes() {
    let k = keys(&[("name", "string")]);
    assert!(matches("name = 'o''brien'", &k, &["o'brien"]));
}

#[test]
fn is_null_is_constant_for_partition_values() {
    let k = date_keys();
    assert!(!matches("year IS NULL", &k, &["2024", "03", "15"]));
    assert!(matches("year IS NOT NULL", &k, &["2024", "03", "15"]));
}

#[test]
fn parse_errors_say_what_and_where() {
    let k = date_keys();
    for (expr, needle) in [
        ("", "empty"),
        ("year =", "end of expression"),
        ("year = '2024' AND", "end of expression"),
        ("year", "comparison operator"),
        ("year = '2024", "Unterminated string"),
        ("(year = '2024'", "')'"),
        ("year = '2024')", "position 14"),
        ("year IN ()", "partition key name"),
        ("year IN ('1' '2')", "',' or ')'"),
        ("day BETWEEN '01' '15'", "AND in BETWEEN"),
        ("year LIKE 5", "quoted pattern"),
        ("year = 2024 year = 1", "expected AND, OR"),
        ("year ; drop", "Unexpected character ';'"),
        ("year NOT = '1'", "IN, BETWEEN or LIKE after NOT"),
        ("year IS '1'", "NULL"),
        ("year = 12abc", "Malformed number"),
        ("name LIKE 'a' ESCAPE 'xy'", "single character"),
    ] {
        let message = match parse(expr) {
            Ok(tree) => match Filter::compile(expr, &k) {
                Ok(_) => panic!("{expr} parsed to {tree:?}"),
                Err(e) => e.message,
            },
            Err(e) => e.message,
        };
        assert!(message.contains(needle), "{expr}: {message}");
    }
}

#[test]
fn binding_errors() {
    let k = keys(&[("year", "string"), ("hour", "int"), ("flag", "boolean")]);
    assert!(error_of("nope = '1'", &k).contains("Unknown column 'nope'"));
    assert!(error_of("hour = 'abc'", &k).contains("not a number"));
    assert!(error_of("flag = 'true'", &k).contains("Unsupported partition key type 'boolean'"));
    assert!(error_of("year LIKE 'a!' ESCAPE '!'", &k).contains("ends with its escape"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let k = date_keys();
    let deep = format!("{}year = '1'{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(error_of(&deep, &k).contains("deeper than"));
    let nots = format!("{}year = '1'", "NOT ".repeat(10_000));
    assert!(error_of(&nots, &k).contains("deeper than"));
    let fine = format!("{}year = '1'{}", "(".repeat(30), ")".repeat(30));
    assert!(matches(&fine, &k, &["1", "01", "01"]));
}

/// Runs `work` on a thread with a small stack, so a recursion that grows with the input fails
/// here instead of passing on a big default stack.
fn on_small_stack(work: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(work)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn long_flat_chains_parse_evaluate_and_drop_without_deep_recursion() {
    on_small_stack(|| {
        let k = date_keys();
        let ors = vec!["year = '1'"; 100_000].join(" OR ") + " OR day = '15'";
        assert!(matches(&ors, &k, &["2024", "03", "15"]));
        assert!(!matches(&ors, &k, &["2024", "03", "16"]));
        let ands = vec!["year = '2024'"; 100_000].join(" AND ") + " AND day = '15'";
        assert!(matches(&ands, &k, &["2024", "03", "15"]));
        assert!(!matches(&ands, &k, &["2024", "03", "16"]));
        // Parse trees are dropped too (the filter above was dropped inside `matches`).
        drop(parse(&ors).unwrap());
        let mixed = vec!["year = '1' AND day = '2'"; 50_000].join(" OR ");
        assert!(!matches(&mixed, &k, &["1", "01", "01"]));
    });
}

#[test]
fn deepest_allowed_nesting_runs_on_a_small_stack() {
    on_small_stack(|| {
        let k = date_keys();
        let e = format!("{}year = '1'{}", "(NOT (".repeat(21), "))".repeat(21));
        assert!(matches(&e, &k, &["2", "01", "01"]));
    });
}
