//! Date-like partition values must name a real time: `sales_data_2024_13_45.csv` must not become
//! `month=13/day=45`, a partition no query would ever look for by date.
//!
//! Which keys are date parts is decided by convention, from the partition key's name (compared
//! ASCII case-insensitively, as Glue lowercases column names): `year`, `month`, `day` and
//! `hour`. These are the names Hive-style date partitioning uses and the ones Athena partition
//! projection's `date` examples use, and every shipped entity already follows them, so no config
//! field is needed (and none can drift from the key list). A key with one of these names must
//! hold digits:
//! - `year`: 1..=9999;
//! - `month`: 1..=12;
//! - `day`: 1..=31, and a real calendar date when `year` and `month` are keys too
//!   (`2023-02-29` is rejected, `2024-02-29` accepted);
//! - `hour`: 0..=23.
//!
//! Leading zeros are allowed (`03`), so the value's width stays the filename pattern's business.
//! An entity whose key named like this is not a date would have to rename that key.

use chrono::NaiveDate;

/// The date parts a partition key name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Year,
    Month,
    Day,
    Hour,
}

impl DatePart {
    /// The date part a partition key names, by convention (see the module doc).
    pub fn of_key(key: &str) -> Option<DatePart> {
        [
            ("year", DatePart::Year),
            ("month", DatePart::Month),
            ("day", DatePart::Day),
            ("hour", DatePart::Hour),
        ]
        .into_iter()
        .find(|(name, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, part)| part)
    }

    fn range(self) -> (u32, u32) {
        match self {
            DatePart::Year => (1, 9999),
            DatePart::Month => (1, 12),
            DatePart::Day => (1, 31),
            DatePart::Hour => (0, 23),
        }
    }
}

/// Checks the date-like values of one partition, given as `(key, value)` pairs in key order.
/// The error names the key(s) and value(s) and why they are not a real date or hour.
pub fn check_date_parts(values: &[(String, String)]) -> Result<(), String> {
    let mut year = None;
    let mut month = None;
    let mut day = None;
    for (key, value) in values {
        let Some(part) = DatePart::of_key(key) else {
            continue;
        };
        let number =
            date_number(part, value).map_err(|reason| format!("{key}={value}: {reason}"))?;
        match part {
            DatePart::Year => year = Some((key, value, number)),
            DatePart::Month => month = Some((key, value, number)),
            DatePart::Day => day = Some((key, value, number)),
            DatePart::Hour => {}
        }
    }
    if let (Some(y), Some(m), Some(d)) = (year, month, day) {
        if NaiveDate::from_ymd_opt(y.2 as i32, m.2, d.2).is_none() {
            return Err(format!(
                "{}={}/{}={}/{}={}: not a calendar date ({} has {} days)",
                y.0,
                y.1,
                m.0,
                m.1,
                d.0,
                d.1,
                month_name(y.2, m.2),
                days_in_month(y.2, m.2)
            ));
        }
    }
    Ok(())
}

/// The value of one date part: ASCII digits within the part's range.
fn date_number(part: DatePart, value: &str) -> Result<u32, String> {
    let (min, max) = part.range();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("a date part must be digits ({min}..={max})"));
    }
    // Digits only, so the sole parse failure is overflow: out of range too.
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("out of range {min}..={max}")),
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    (28..=31)
        .rev()
        .find(|&day| NaiveDate::from_ymd_opt(year as i32, month, day).is_some())
        .unwrap_or(0)
}

fn month_name(year: u32, month: u32) -> String {
    NaiveDate::from_ymd_opt(year as i32, month, 1)
        .map(|date| date.format("%B %Y").to_string())
        .unwrap_or_else(|| format!("month {month} of {year}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_named_like_date_parts_are_date_parts() {
        assert_eq!(DatePart::of_key("year"), Some(DatePart::Year));
        assert_eq!(DatePart::of_key("Month"), Some(DatePart::Month));
        assert_eq!(DatePart::of_key("HOUR"), Some(DatePart::Hour));
        assert_eq!(DatePart::of_key("region"), None);
        assert_eq!(DatePart::of_key("days"), None);
    }

    #[test]
    fn real_dates_and_hours_pass() {
        for ok in [
            &[("year", "2024"), ("month", "03"), ("day", "15")][..],
            &[("year", "2024"), ("month", "02"), ("day", "29")],
            &[("year", "2000"), ("month", "02"), ("day", "29")],
            &[
                ("year", "2024"),
                ("month", "12"),
                ("day", "31"),
                ("hour", "23"),
            ],
            &[
                ("year", "2024"),
                ("month", "01"),
                ("day", "01"),
                ("hour", "00"),
            ],
            &[("region", "eu-west"), ("year", "2024"), ("month", "3")],
            &[("kind", "13")],
        ] {
            assert_eq!(check_date_parts(&pairs(ok)), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn impossible_dates_and_hours_are_named() {
        let error = check_date_parts(&pairs(&[("year", "2024"), ("month", "13"), ("day", "45")]))
            .unwrap_err();
        assert_eq!(error, "month=13: out of range 1..=12");
        let error = check_date_parts(&pairs(&[("year", "2024"), ("month", "02"), ("day", "30")]))
            .unwrap_err();
        assert_eq!(
            error,
            "year=2024/month=02/day=30: not a calendar date (February 2024 has 29 days)"
        );
        let error = check_date_parts(&pairs(&[("year", "2023"), ("month", "02"), ("day", "29")]))
            .unwrap_err();
        assert!(error.contains("February 2023 has 28 days"), "{error}");
        let error = check_date_parts(&pairs(&[("year", "2024"), ("month", "04"), ("day", "31")]))
            .unwrap_err();
        assert!(error.contains("April 2024 has 30 days"), "{error}");
        for (key, bad) in [
            ("hour", "24"),
            ("day", "00"),
            ("day", "32"),
            ("month", "0"),
            ("year", "0000"),
            ("year", "99999999999999999999"),
            ("year", "20x4"),
            ("hour", "-1"),
            ("month", ""),
        ] {
            let error = check_date_parts(&pairs(&[(key, bad)])).unwrap_err();
            assert!(error.starts_with(&format!("{key}={bad}: ")), "{error}");
        }
    }
}
