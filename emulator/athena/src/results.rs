//! A finished query's result: column descriptions and rows rendered as Athena renders them, and
//! the result files Athena writes next to it (`<id>.csv` for queries, `<id>.txt` for DDL and
//! utility statements), and reading those files back ([`ResultShape::read_back`]) for results
//! no longer held in memory (after a restart of a `--data-dir` emulator, or evicted).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use serde::{Deserialize, Serialize};

use crate::types::{render_column, trino_type};

/// Utility results whose text is at most this long are kept in the log record itself: their
/// `.txt` file does not quote, so a value with a tab or newline would not read back exactly.
const INLINE_TEXT_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnMeta {
    pub name: String,
    pub type_name: String,
    pub precision: i32,
    pub scale: i32,
}

impl ColumnMeta {
    /// A `varchar` column, what SHOW and DESCRIBE return.
    pub fn varchar(name: &str) -> Self {
        ColumnMeta {
            name: name.to_owned(),
            type_name: "varchar".into(),
            precision: 2147483647,
            scale: 0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultTable {
    pub columns: Vec<ColumnMeta>,
    pub rows: Vec<Vec<Option<String>>>,
    /// Queries return the column names as their first row; SHOW/DESCRIBE do not.
    pub header_row: bool,
    /// Rows written by a CTAS (GetQueryResults' UpdateCount).
    pub update_count: i64,
}

impl ResultTable {
    /// A query's result from its Arrow batches.
    pub fn from_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Self, String> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let t = trino_type(f.data_type());
                ColumnMeta {
                    name: f.name().clone(),
                    type_name: t.name.to_owned(),
                    precision: t.precision,
                    scale: t.scale,
                }
            })
            .collect();
        let mut rows = Vec::new();
        for batch in batches {
            let rendered = batch
                .columns()
                .iter()
                .map(render_column)
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                rows.push(rendered.iter().map(|c| c[row].clone()).collect());
            }
        }
        Ok(ResultTable {
            columns,
            rows,
            header_row: true,
            update_count: 0,
        })
    }

    /// A utility statement's result: text rows in one or more varchar columns.
    pub fn utility(columns: &[&str], rows: Vec<Vec<String>>) -> Self {
        ResultTable {
            columns: columns.iter().map(|c| ColumnMeta::varchar(c)).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(Some).collect())
                .collect(),
            header_row: false,
            update_count: 0,
        }
    }

    /// Every row GetQueryResults pages through: the header first when there is one.
    pub fn wire_row_count(&self) -> usize {
        self.rows.len() + usize::from(self.header_row)
    }

    /// Row `i` of what GetQueryResults pages through.
    pub fn wire_row(&self, i: usize) -> Vec<Option<&str>> {
        match (self.header_row, i) {
            (true, 0) => self.columns.iter().map(|c| Some(c.name.as_str())).collect(),
            (true, i) => self.rows[i - 1].iter().map(|v| v.as_deref()).collect(),
            (false, i) => self.rows[i].iter().map(|v| v.as_deref()).collect(),
        }
    }

    /// What reading this result back from its file needs (see [`ResultShape::read_back`]).
    pub fn shape(&self) -> ResultShape {
        let inline = !self.header_row
            && self
                .rows
                .iter()
                .flatten()
                .map(|v| v.as_ref().map_or(1, |v| v.len() + 1))
                .sum::<usize>()
                <= INLINE_TEXT_LIMIT;
        ResultShape {
            columns: self.columns.clone(),
            header_row: self.header_row,
            update_count: self.update_count,
            rows: inline.then(|| self.rows.clone()),
        }
    }

    /// Athena's result CSV: a header line, every non-NULL value double-quoted with `"`
    /// doubled, NULL an empty field, `\n` after every line.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        let quote = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
        let header: Vec<String> = self.columns.iter().map(|c| quote(&c.name)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let fields: Vec<String> = row
                .iter()
                .map(|v| v.as_deref().map(quote).unwrap_or_default())
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        }
        out
    }

    /// The `.txt` of a DDL or utility statement: one line per row, fields tab-separated.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let fields: Vec<&str> = row.iter().map(|v| v.as_deref().unwrap_or("")).collect();
            out.push_str(&fields.join("\t"));
            out.push('\n');
        }
        out
    }
}

/// A result minus its rows (or with them, when small and not quotable in its file): what the
/// data dir's log records for a SUCCEEDED execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultShape {
    pub columns: Vec<ColumnMeta>,
    pub header_row: bool,
    pub update_count: i64,
    /// The rows themselves, for small utility results (see [`INLINE_TEXT_LIMIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Vec<Option<String>>>>,
}

impl ResultShape {
    /// The result table again, from the bytes of its result file (`.csv` for results with a
    /// header row, `.txt` otherwise).
    pub fn read_back(&self, file: &[u8]) -> Result<ResultTable, String> {
        let rows = match &self.rows {
            Some(rows) => rows.clone(),
            None => {
                let text = std::str::from_utf8(file)
                    .map_err(|e| format!("the result file is not UTF-8: {e}"))?;
                if self.header_row {
                    let mut rows = parse_result_csv(text)?;
                    if !rows.is_empty() {
                        rows.remove(0);
                    }
                    rows
                } else {
                    text.lines()
                        .map(|line| line.split('\t').map(|f| Some(f.to_owned())).collect())
                        .collect()
                }
            }
        };
        Ok(ResultTable {
            columns: self.columns.clone(),
            rows,
            header_row: self.header_row,
            update_count: self.update_count,
        })
    }
}

/// Parses Athena's result CSV ([`ResultTable::to_csv`]): every value double-quoted with `"`
/// doubled, NULL an empty unquoted field, `\n` after every line. Hand-written because the
/// `csv` crate does not say whether a field was quoted, which is what tells NULL from `""`.
fn parse_result_csv(text: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let field = if chars.peek() == Some(&'"') {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err("the result CSV ends inside a quoted value".into()),
                }
            }
            Some(value)
        } else {
            None
        };
        row.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\n') | None => rows.push(std::mem::take(&mut row)),
            Some(c) => return Err(format!("unexpected {c:?} after a value in the result CSV")),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_read_back_from_their_files_exactly() {
        let query = ResultTable {
            columns: vec![ColumnMeta::varchar("a"), ColumnMeta::varchar("b")],
            rows: vec![
                vec![Some("x \"y\",\n z".into()), None],
                vec![Some(String::new()), Some("1".into())],
            ],
            header_row: true,
            update_count: 0,
        };
        let shape = query.shape();
        assert_eq!(shape.rows, None, "query rows are read from the CSV");
        let back = shape.read_back(query.to_csv().as_bytes()).unwrap();
        assert_eq!(back, query);
        let empty = ResultTable {
            rows: Vec::new(),
            ..query.clone()
        };
        assert_eq!(
            empty.shape().read_back(empty.to_csv().as_bytes()).unwrap(),
            empty
        );

        let utility = ResultTable::utility(&["tab_name"], vec![vec!["a\tb".into()]]);
        let shape = utility.shape();
        assert!(shape.rows.is_some(), "small utility results are inline");
        assert_eq!(shape.read_back(b"").unwrap(), utility);
        let big = ResultTable::utility(
            &["p"],
            (0..20_000).map(|i| vec![format!("k={i}")]).collect(),
        );
        let shape = big.shape();
        assert_eq!(shape.rows, None);
        assert_eq!(shape.read_back(big.to_text().as_bytes()).unwrap(), big);
    }

    #[test]
    fn csv_quotes_values_and_leaves_nulls_empty() {
        let table = ResultTable {
            columns: vec![ColumnMeta::varchar("a"), ColumnMeta::varchar("b")],
            rows: vec![
                vec![Some("x \"y\", z".into()), None],
                vec![Some(String::new()), Some("1".into())],
            ],
            header_row: true,
            update_count: 0,
        };
        assert_eq!(
            table.to_csv(),
            "\"a\",\"b\"\n\"x \"\"y\"\", z\",\n\"\",\"1\"\n"
        );
        assert_eq!(table.wire_row_count(), 3);
        assert_eq!(table.wire_row(0), vec![Some("a"), Some("b")]);
        assert_eq!(table.wire_row(1)[1], None);
    }
}
