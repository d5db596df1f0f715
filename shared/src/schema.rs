//! Column type model of an entity's schema: parsing the config's type names, the Glue/Hive type
//! string of each type, and the validator that checks one CSV field value against its type.
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

    /// Checks one CSV field value (already unquoted) against the type. The error says why, without
    /// the location (the caller adds line and column).
    pub fn validate(&self, value: &str) -> Result<(), String> {
        if value.is_empty() {
            return if self.accepts_empty() {
                Ok(())
            } else {
                Err(format!(
                    "empty value for type {}: Athena's OpenCSVSerDe cannot read an empty field as a \
                     non-string type",
                    self.glue_type()
                ))
            };
        }
        match self {
            ColumnType::String => Ok(()),
            ColumnType::Varchar(n) => {
                let chars = value.chars().count();
                if chars as u64 > u64::from(*n) {
                    Err(format!("{chars} characters, longer than varchar({n})"))
                } else {
                    Ok(())
                }
            }
            ColumnType::Tinyint => {
                check_integer(value, i64::from(i8::MIN), i64::from(i8::MAX), "tinyint")
            }
            ColumnType::Smallint => {
                check_integer(value, i64::from(i16::MIN), i64::from(i16::MAX), "smallint")
            }
            ColumnType::Int => {
                check_integer(value, i64::from(i32::MIN), i64::from(i32::MAX), "int")
            }
            ColumnType::Bigint => check_integer(value, i64::MIN, i64::MAX, "bigint"),
            ColumnType::Double | ColumnType::Float => check_floating(value, &self.glue_type()),
            ColumnType::Boolean => {
                if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
                    Ok(())
                } else {
                    Err(format!(
                        "{value:?} is not a boolean (true or false, any case)"
                    ))
                }
            }
            ColumnType::Date => parse_date(value).map(|_| ()),
            ColumnType::Timestamp => check_timestamp(value),
            ColumnType::Decimal { p, s } => check_decimal(value, *p, *s),
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
fn check_integer(value: &str, min: i64, max: i64, type_name: &str) -> Result<(), String> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{value:?} is not an integer ({type_name})"));
    }
    match value.parse::<i64>() {
        Ok(number) if (min..=max).contains(&number) => Ok(()),
        _ => Err(format!(
            "{value:?} is out of range for {type_name} ({min}..={max})"
        )),
    }
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
    let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(0);
    let year = number(0..4) as i32;
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
        .ok_or_else(|| format!("{value:?} is not a valid calendar date"))
}

/// `YYYY-MM-DD HH:MM:SS` with an optional fraction of 1 to 9 digits.
fn check_timestamp(value: &str) -> Result<(), String> {
    let shape_error =
        || format!("{value:?} is not a timestamp in YYYY-MM-DD HH:MM:SS[.fffffffff] form");
    let (date, time) = value.split_once(' ').ok_or_else(shape_error)?;
    parse_date(date).map_err(|_| shape_error())?;
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
    if let Some(fraction) = fraction {
        if fraction.is_empty()
            || fraction.len() > 9
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(shape_error());
        }
    }
    let number = |range: std::ops::Range<usize>| clock[range].parse::<u32>().unwrap_or(99);
    if number(0..2) > 23 || number(3..5) > 59 || number(6..8) > 59 {
        return Err(format!("{value:?} has an out-of-range time of day"));
    }
    Ok(())
}

/// Optional sign, digits with an optional point; at most `p - s` integer digits (leading zeros
/// do not count) and at most `s` fraction digits. More fraction digits would be rounded silently
/// by Hive, more integer digits read as NULL: both are rejected.
fn check_decimal(value: &str, p: u8, s: u8) -> Result<(), String> {
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(whole.is_empty() && fraction.is_empty());
    if !digits_ok {
        return Err(format!(
            "{value:?} is not a decimal number (decimal({p},{s}))"
        ));
    }
    let integer_digits = whole.trim_start_matches('0').len();
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
    Ok(())
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
