//! Column type model of an entity's schema: parsing the config's type names, the Glue/Hive type
//! string of each type, and the parser that reads one CSV field value as its type
//! ([`ColumnType::parse_value`]). Validation is that parse succeeding ([`ColumnType::validate`]),
//! so the CSV check and the typed (Parquet) conversion can never disagree on what a value means.
//!
//! Empty fields: a `string`/`varchar` column accepts an empty field (an empty string). Every other
//! type rejects it, because Athena's OpenCSVSerDe "does not recognize empty or null values in
//! columns defined as a numeric data type" (the query then fails with HIVE_BAD_DATA), see
//! <https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html>. Rejecting at ingest keeps the
//! table queryable instead of failing at query time.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// Largest precision of a Hive/Athena `DECIMAL`.
pub const MAX_DECIMAL_PRECISION: u8 = 38;
/// Largest length of a Hive `VARCHAR(n)`.
pub const MAX_VARCHAR_LENGTH: u32 = 65_535;

/// The type of one schema column. Names follow Hive/Glue DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    Int,
    Bigint,
    Double,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:MM:SS[.fffffffff]` (java.sql.Timestamp text form).
    Timestamp,
    /// `decimal(p,s)`: `p` = precision (total digits, 1..=38), `s` = scale (fraction digits, 0..=p).
    Decimal {
        p: u8,
        s: u8,
    },
    Smallint,
    Tinyint,
    Float,
    /// `varchar(n)`: at most `n` characters (1..=65535).
    Varchar(u32),
}

/// One field value parsed as its column's type. Borrowed text for string columns; numbers in the
/// representation a columnar writer needs, computed once by the same code that validates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// `string` / `varchar(n)`: the field's text (possibly empty).
    Text(&'a str),
    /// `tinyint`, `smallint`, `int`, `bigint`: already range-checked for the column's type.
    Integer(i64),
    Double(f64),
    Float(f32),
    Boolean(bool),
    /// `date`: days since 1970-01-01.
    Date(i32),
    /// `timestamp` (no time zone): whole seconds since 1970-01-01 00:00:00 and the fraction of
    /// the second in nanoseconds (`0..1_000_000_000`), as written (up to 9 digits).
    Timestamp {
        seconds: i64,
        nanos: u32,
    },
    /// `decimal(p,s)`: the unscaled value, i.e. the number times `10^s` (exact; `p <= 38` fits).
    Decimal(i128),
}

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Every type name the config accepts (for error messages and the docs).
pub const TYPE_NAMES: &[&str] = &[
    "string",
    "int",
    "bigint",
    "smallint",
    "tinyint",
    "double",
    "float",
    "boolean",
    "date",
    "timestamp",
    "decimal(p,s)",
    "varchar(n)",
];

impl ColumnType {
    /// The Glue/Hive type string of the logical type (`decimal(10,2)`, `date`, ...).
    pub fn glue_type(&self) -> String {
        match self {
            ColumnType::String => "string".into(),
            ColumnType::Int => "int".into(),
            ColumnType::Bigint => "bigint".into(),
            ColumnType::Double => "double".into(),
            ColumnType::Boolean => "boolean".into(),
            ColumnType::Date => "date".into(),
            ColumnType::Timestamp => "timestamp".into(),
            ColumnType::Decimal { p, s } => format!("decimal({p},{s})"),
            ColumnType::Smallint => "smallint".into(),
            ColumnType::Tinyint => "tinyint".into(),
            ColumnType::Float => "float".into(),
            ColumnType::Varchar(n) => format!("varchar({n})"),
        }
    }

    /// Whether Athena's OpenCSVSerDe reads this type from its text form. The doc lists only
    /// BOOLEAN, BIGINT, INT and DOUBLE besides STRING; DATE only as days since the epoch and
    /// TIMESTAMP only as epoch milliseconds. Other types are declared `string` in the catalog for
    /// CSV tables (see `catalog`), and the value is `CAST` in queries.
    /// <https://docs.aws.amazon.com/athena/latest/ug/csv-serde.html>
    pub fn open_csv_reads_natively(&self) -> bool {
        matches!(
            self,
            ColumnType::String
                | ColumnType::Int
                | ColumnType::Bigint
                | ColumnType::Double
                | ColumnType::Boolean
        )
    }

    /// Whether an empty field is a valid value (an empty string) for this type.
    pub fn accepts_empty(&self) -> bool {
        matches!(self, ColumnType::String | ColumnType::Varchar(_))
    }

    /// Checks one CSV field value (already unquoted) against the type: [`Self::parse_value`]
    /// succeeding. The error says why, without the location (the caller adds line and column).
    pub fn validate(&self, value: &str) -> Result<(), String> {
        self.parse_value(value).map(|_| ())
    }

    /// Parses one CSV field value (already unquoted) as the type. The error says why, without the
    /// location (the caller adds line and column). Allocates only for an error.
    pub fn parse_value<'a>(&self, value: &'a str) -> Result<Value<'a>, String> {
        if value.is_empty() {
            return if self.accepts_empty() {
                Ok(Value::Text(value))
            } else {
                Err(format!(
                    "empty value for type {}: Athena's OpenCSVSerDe cannot read an empty field as a \
                     non-string type",
                    self.glue_type()
                ))
            };
        }
        match self {
            ColumnType::String => Ok(Value::Text(value)),
            ColumnType::Varchar(n) => {
                // Byte length bounds the character count: count only when it could be too long.
                if value.len() > *n as usize {
                    let chars = value.chars().count();
                    if chars as u64 > u64::from(*n) {
                        return Err(format!("{chars} characters, longer than varchar({n})"));
                    }
                }
                Ok(Value::Text(value))
            }
            ColumnType::Tinyint => {
                parse_integer(value, i64::from(i8::MIN), i64::from(i8::MAX), "tinyint")
            }
            ColumnType::Smallint => {
                parse_integer(value, i64::from(i16::MIN), i64::from(i16::MAX), "smallint")
            }
            ColumnType::Int => {
                parse_integer(value, i64::from(i32::MIN), i64::from(i32::MAX), "int")
            }
            ColumnType::Bigint => parse_integer(value, i64::MIN, i64::MAX, "bigint"),
            ColumnType::Double => parse_floating(value, "double").map(Value::Double),
            ColumnType::Float => parse_floating(value, "float").map(Value::Float),
            ColumnType::Boolean => {
                if value.eq_ignore_ascii_case("true") {
                    Ok(Value::Boolean(true))
                } else if value.eq_ignore_ascii_case("false") {
                    Ok(Value::Boolean(false))
                } else {
                    Err(format!(
                        "{value:?} is not a boolean (true or false, any case)"
                    ))
                }
            }
            ColumnType::Date => parse_date(value).map(|date| Value::Date(epoch_days(date))),
            ColumnType::Timestamp => parse_timestamp(value),
            ColumnType::Decimal { p, s } => parse_decimal(value, *p, *s).map(Value::Decimal),
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.glue_type())
    }
}

impl FromStr for ColumnType {
    type Err = String;

    /// Parses a config type name, case-insensitively, spaces allowed inside the parentheses
    /// (`decimal(10, 2)`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalized: String = text
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        let simple = match normalized.as_str() {
            "string" => Some(ColumnType::String),
            "int" => Some(ColumnType::Int),
            "bigint" => Some(ColumnType::Bigint),
            "smallint" => Some(ColumnType::Smallint),
            "tinyint" => Some(ColumnType::Tinyint),
            "double" => Some(ColumnType::Double),
            "float" => Some(ColumnType::Float),
            "boolean" => Some(ColumnType::Boolean),
            "date" => Some(ColumnType::Date),
            "timestamp" => Some(ColumnType::Timestamp),
            _ => None,
        };
        if let Some(column_type) = simple {
            return Ok(column_type);
        }
        if let Some(args) = parenthesized(&normalized, "decimal") {
            let (p, s) = args.split_once(',').ok_or_else(|| {
                format!("{text:?}: decimal needs precision and scale, e.g. decimal(10,2)")
            })?;
            let p: u8 = p
                .parse()
                .map_err(|_| format!("{text:?}: decimal precision must be a number 1..=38"))?;
            let s: u8 = s
                .parse()
                .map_err(|_| format!("{text:?}: decimal scale must be a number 0..=precision"))?;
            if p == 0 || p > MAX_DECIMAL_PRECISION {
                return Err(format!("{text:?}: decimal precision {p} is outside 1..=38"));
            }
            if s > p {
                return Err(format!(
                    "{text:?}: decimal scale {s} is larger than precision {p}"
                ));
            }
            return Ok(ColumnType::Decimal { p, s });
        }
        if normalized == "decimal" {
            return Err(format!(
                "{text:?}: decimal needs precision and scale, e.g. decimal(10,2)"
            ));
        }
        if let Some(arg) = parenthesized(&normalized, "varchar") {
            let n: u32 = arg
                .parse()
                .map_err(|_| format!("{text:?}: varchar length must be a number 1..=65535"))?;
            if n == 0 || n > MAX_VARCHAR_LENGTH {
                return Err(format!("{text:?}: varchar length {n} is outside 1..=65535"));
            }
            return Ok(ColumnType::Varchar(n));
        }
        Err(format!(
            "unknown type {text:?}; expected one of: {}",
            TYPE_NAMES.join(", ")
        ))
    }
}

/// `name(args)` -> `args`.
fn parenthesized<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// Optional sign then at least one ASCII digit, nothing else; range-checked.
fn parse_integer<'a>(
    value: &str,
    min: i64,
    max: i64,
    type_name: &str,
) -> Result<Value<'a>, String> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value:?} is not an integer ({type_name})"));
    }
    match value.parse::<i64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(Value::Integer(number)),
        _ => Err(format!(
            "{value:?} is out of range for {type_name} ({min}..={max})"
        )),
    }
}

/// A floating-point value in the forms [`check_floating`] accepts, parsed by the standard
/// library (correctly rounded to `T`; `Infinity`/`NaN` are among its accepted spellings).
fn parse_floating<T: FromStr>(value: &str, type_name: &str) -> Result<T, String> {
    check_floating(value, type_name)?;
    value
        .parse::<T>()
        .map_err(|_| format!("{value:?} is not a number ({type_name})"))
}

/// Decimal or scientific notation (`-1.5`, `.5`, `2.`, `1e-3`), or Java's `NaN`/`Infinity`, which
/// Hive's `Double.parseDouble` also reads. Hand-written: a regex would be as long and slower.
fn check_floating(value: &str, type_name: &str) -> Result<(), String> {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    if unsigned == "Infinity" || value == "NaN" {
        return Ok(());
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(whole.is_empty() && fraction.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if digits_ok && exponent_ok {
        Ok(())
    } else {
        Err(format!("{value:?} is not a number ({type_name})"))
    }
}

/// The value of a run of ASCII digits (the caller has checked they are digits; at most 9).
fn digits_value(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// Days since 1970-01-01.
fn epoch_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// `YYYY-MM-DD`, exactly, and a real calendar date.
pub(crate) fn parse_date(value: &str) -> Result<NaiveDate, String> {
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return Err(format!("{value:?} is not a date in YYYY-MM-DD form"));
    }
    let year = digits_value(&bytes[0..4]) as i32;
    NaiveDate::from_ymd_opt(
        year,
        digits_value(&bytes[5..7]),
        digits_value(&bytes[8..10]),
    )
    .ok_or_else(|| format!("{value:?} is not a valid calendar date"))
}

/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of 1 to 9 digits.
fn parse_timestamp<'a>(value: &str) -> Result<Value<'a>, String> {
    let shape_error =
        || format!("{value:?} is not a timestamp in YYYY-MM-DD HH:MM:SS[.fffffffff] form");
    let (date, time) = value.split_once(' ').ok_or_else(shape_error)?;
    let date = parse_date(date).map_err(|_| shape_error())?;
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let bytes = clock.as_bytes();
    let clock_ok = bytes.len() == 8
        && bytes[2] == b':'
        && bytes[5] == b':'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 2 || i == 5 || b.is_ascii_digit());
    if !clock_ok {
        return Err(shape_error());
    }
    let mut nanos = 0;
    if let Some(fraction) = fraction {
        if fraction.is_empty()
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(shape_error());
        }
        nanos = digits_value(fraction.as_bytes()) * 10u32.pow(9 - fraction.len() as u32);
    }
    let (hours, minutes, seconds) = (
        digits_value(&bytes[0..2]),
        digits_value(&bytes[3..5]),
        digits_value(&bytes[6..8]),
    );
    if hours > 23 || minutes > 59 || seconds > 59 {
        return Err(format!("{value:?} has an out-of-range time of day"));
    }
    let seconds =
        i64::from(epoch_days(date)) * 86_400 + i64::from(hours * 3600 + minutes * 60 + seconds);
    Ok(Value::Timestamp { seconds, nanos })
}

/// Optional sign, digits with an optional point; at most `p - s` integer digits (leading zeros
/// do not count) and at most `s` fraction digits. More fraction digits would be rounded silently
/// by Hive, more integer digits read as NULL: both are rejected. Returns the unscaled value
/// (`12.3` as decimal(10,2) is 1230), exact: at most 38 significant digits fit an `i128`.
fn parse_decimal(value: &str, p: u8, s: u8) -> Result<i128, String> {
    let (negative, unsigned) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(whole.is_empty() && fraction.is_empty());
    if !digits_ok {
        return Err(format!(
            "{value:?} is not a decimal number (decimal({p},{s}))"
        ));
    }
    let whole = whole.trim_start_matches('0');
    let integer_digits = whole.len();
    let max_integer_digits = usize::from(p - s);
    if integer_digits > max_integer_digits {
        return Err(format!(
            "{value:?} has {integer_digits} integer digits; decimal({p},{s}) allows {max_integer_digits}"
        ));
    }
    if fraction.len() > usize::from(s) {
        return Err(format!(
            "{value:?} has {} fraction digits; decimal({p},{s}) allows {s}",
            fraction.len()
        ));
    }
    // At most p - s + s = p <= 38 digits: no overflow.
    let mut unscaled: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        unscaled = unscaled * 10 + i128::from(b - b'0');
    }
    unscaled *= 10i128.pow(u32::from(s) - fraction.len() as u32);
    Ok(if negative { -unscaled } else { unscaled })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ColumnType {
        text.parse().unwrap()
    }

    #[test]
    fn parses_every_type_name_and_round_trips_glue_type() {
        for name in [
            "string",
            "int",
            "bigint",
            "smallint",
            "tinyint",
            "double",
            "float",
            "boolean",
            "date",
            "timestamp",
            "decimal(10,2)",
            "varchar(20)",
        ] {
            assert_eq!(parse(name).glue_type(), name);
        }
        assert_eq!(
            parse(" Decimal( 10 , 2 ) "),
            ColumnType::Decimal { p: 10, s: 2 }
        );
        assert_eq!(parse("BIGINT"), ColumnType::Bigint);
    }

    #[test]
    fn rejects_bad_type_names() {
        for (name, fragment) in [
            ("integer", "unknown type"),
            ("decimal", "needs precision and scale"),
            ("decimal(39,2)", "outside 1..=38"),
            ("decimal(0,0)", "outside 1..=38"),
            ("decimal(5,6)", "larger than precision"),
            ("decimal(a,2)", "precision must be"),
            ("varchar(0)", "outside 1..=65535"),
            ("varchar", "unknown type"),
        ] {
            let error = name.parse::<ColumnType>().unwrap_err();
            assert!(error.contains(fragment), "{name}: {error}");
        }
    }

    #[test]
    fn integers_are_range_checked() {
        assert!(ColumnType::Int.validate("2147483647").is_ok());
        assert!(ColumnType::Int.validate("-2147483648").is_ok());
        assert!(ColumnType::Int.validate("+12").is_ok());
        assert!(ColumnType::Int
            .validate("2147483648")
            .unwrap_err()
            .contains("out of range"));
        assert!(ColumnType::Tinyint.validate("128").is_err());
        assert!(ColumnType::Smallint.validate("-32768").is_ok());
        assert!(ColumnType::Bigint.validate("9223372036854775807").is_ok());
        assert!(ColumnType::Bigint.validate("9223372036854775808").is_err());
        for bad in ["1.0", " 1", "1 ", "-", "0x10", "1e3"] {
            assert!(ColumnType::Int.validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn floating_point_forms() {
        for good in [
            "1",
            "-1.5",
            ".5",
            "2.",
            "1e-3",
            "+6.02E23",
            "NaN",
            "-Infinity",
        ] {
            assert!(ColumnType::Double.validate(good).is_ok(), "{good}");
        }
        for bad in [".", "e5", "1e", "1.2.3", "inf", "nan", "1,5"] {
            assert!(ColumnType::Double.validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimal_respects_precision_and_scale() {
        let money = ColumnType::Decimal { p: 10, s: 2 };
        for good in ["0", "12345678.99", "-1.5", "+3", "0012.30", ".5", "7."] {
            assert!(money.validate(good).is_ok(), "{good}");
        }
        assert!(money
            .validate("123456789.00")
            .unwrap_err()
            .contains("integer digits"));
        assert!(money
            .validate("1.234")
            .unwrap_err()
            .contains("fraction digits"));
        for bad in ["1e3", "abc", ".", "-", "1,00"] {
            assert!(money.validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates_and_timestamps() {
        assert!(ColumnType::Date.validate("2024-02-29").is_ok());
        assert!(ColumnType::Date
            .validate("2023-02-29")
            .unwrap_err()
            .contains("calendar"));
        for bad in ["2024-2-01", "2024/02/01", "20240201", "2024-02-01 "] {
            assert!(ColumnType::Date.validate(bad).is_err(), "{bad}");
        }
        for good in [
            "2024-03-15 10:11:12",
            "2024-03-15 23:59:59.123456789",
            "2024-03-15 00:00:00.1",
        ] {
            assert!(ColumnType::Timestamp.validate(good).is_ok(), "{good}");
        }
        for bad in [
            "2024-03-15T10:11:12",
            "2024-03-15 24:00:00",
            "2024-03-15 10:60:00",
            "2024-03-15 10:11:12.",
            "2024-03-15 10:11:12.1234567890",
            "2024-03-15",
        ] {
            assert!(ColumnType::Timestamp.validate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_value_gives_the_typed_value_validate_accepts() {
        let money = ColumnType::Decimal { p: 10, s: 2 };
        for (text, unscaled) in [
            ("12.3", 1230),
            ("-0.05", -5),
            ("+7", 700),
            (".5", 50),
            ("7.", 700),
            ("0012.30", 1230),
            ("-0", 0),
            ("99999999.99", 9_999_999_999),
        ] {
            assert_eq!(
                money.parse_value(text),
                Ok(Value::Decimal(unscaled)),
                "{text}"
            );
        }
        let widest = ColumnType::Decimal { p: 38, s: 0 };
        let nines = "9".repeat(38);
        assert_eq!(
            widest.parse_value(&nines),
            Ok(Value::Decimal(nines.parse::<i128>().unwrap()))
        );
        assert_eq!(
            ColumnType::Date.parse_value("1970-01-01"),
            Ok(Value::Date(0))
        );
        assert_eq!(
            ColumnType::Date.parse_value("2024-03-15"),
            Ok(Value::Date(19797))
        );
        assert_eq!(
            ColumnType::Date.parse_value("1969-12-31"),
            Ok(Value::Date(-1))
        );
        assert_eq!(
            ColumnType::Timestamp.parse_value("2024-03-15 10:11:12.5"),
            Ok(Value::Timestamp {
                seconds: 1_710_497_472,
                nanos: 500_000_000
            })
        );
        assert_eq!(
            ColumnType::Timestamp.parse_value("1969-12-31 23:59:59.000000001"),
            Ok(Value::Timestamp {
                seconds: -1,
                nanos: 1
            })
        );
        assert_eq!(
            ColumnType::Smallint.parse_value("-32768"),
            Ok(Value::Integer(-32768))
        );
        assert_eq!(
            ColumnType::Double.parse_value("-Infinity"),
            Ok(Value::Double(f64::NEG_INFINITY))
        );
        assert_eq!(
            ColumnType::Float.parse_value("0.1"),
            Ok(Value::Float(0.1f32))
        );
        assert_eq!(
            ColumnType::Boolean.parse_value("TRUE"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            ColumnType::Varchar(2).parse_value("äö"),
            Ok(Value::Text("äö"))
        );
        assert!(matches!(
            ColumnType::Double.parse_value("NaN"),
            Ok(Value::Double(x)) if x.is_nan()
        ));
    }

    #[test]
    fn booleans_any_case_and_empty_fields() {
        for good in ["true", "FALSE", "True"] {
            assert!(ColumnType::Boolean.validate(good).is_ok());
        }
        assert!(ColumnType::Boolean.validate("1").is_err());
        assert!(ColumnType::String.validate("").is_ok());
        assert!(ColumnType::Varchar(3).validate("").is_ok());
        assert!(ColumnType::Varchar(3).validate("äöü").is_ok());
        assert!(ColumnType::Varchar(3).validate("abcd").is_err());
        for column_type in [ColumnType::Int, ColumnType::Date, ColumnType::Boolean] {
            assert!(column_type
                .validate("")
                .unwrap_err()
                .contains("empty value"));
        }
    }
}
