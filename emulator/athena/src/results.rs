//! A finished query's result: column descriptions and rows rendered as Athena renders them, and
//! the result files Athena writes next to it (`<id>.csv` for queries, `<id>.txt` for DDL and
//! utility statements).

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::types::{render_column, trino_type};

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[cfg(test)]
mod tests {
    use super::*;

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
