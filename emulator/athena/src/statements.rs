//! What a query string asks for. Athena accepts Hive-style DDL and utility statements that no
//! SQL parser dialect knows (MSCK REPAIR TABLE, SHOW PARTITIONS, CTAS `WITH (...)` properties),
//! so those are recognised here by their leading keywords; everything else is a query, checked
//! by DataFusion's SQL parser at StartQueryExecution so that syntax errors are rejected there
//! (MALFORMED_QUERY), as Athena does.

use std::sync::LazyLock;

use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use regex::Regex;

/// `[db.]table`, each part optionally quoted with `"` or backticks.
const NAME: &str =
    r#"((?:"[^"]+"|`[^`]+`|[A-Za-z0-9_]+)(?:\s*\.\s*(?:"[^"]+"|`[^`]+`|[A-Za-z0-9_]+))?)"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub database: Option<String>,
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// SELECT, WITH, VALUES, EXPLAIN: run by DataFusion.
    Query(String),
    ShowDatabases {
        like: Option<String>,
    },
    ShowTables {
        database: Option<String>,
        like: Option<String>,
    },
    ShowPartitions(TableName),
    Describe(TableName),
    MsckRepair(TableName),
    DropTable {
        table: TableName,
        if_exists: bool,
    },
    CreateTableAs {
        table: TableName,
        if_not_exists: bool,
        properties: Vec<(String, String)>,
        query: String,
    },
    /// Recognised but not supported here; the query fails naming it.
    Unsupported(String),
}

/// Athena's StatementType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementType {
    Dml,
    Ddl,
    Utility,
}

impl StatementType {
    pub fn as_str(self) -> &'static str {
        match self {
            StatementType::Dml => "DML",
            StatementType::Ddl => "DDL",
            StatementType::Utility => "UTILITY",
        }
    }
}

impl Statement {
    pub fn statement_type(&self) -> StatementType {
        match self {
            Statement::Query(_) => StatementType::Dml,
            Statement::ShowDatabases { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowPartitions(_)
            | Statement::Describe(_) => StatementType::Utility,
            Statement::MsckRepair(_)
            | Statement::DropTable { .. }
            | Statement::CreateTableAs { .. }
            | Statement::Unsupported(_) => StatementType::Ddl,
        }
    }
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("statement patterns are valid")
}

static SHOW_DATABASES: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?is)^SHOW\s+(?:DATABASES|SCHEMAS)(?:\s+(?:LIKE\s+)?'([^']*)')?$"));
static SHOW_TABLES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?is)^SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+("[^"]+"|`[^`]+`|[A-Za-z0-9_]+))?(?:\s+(?:LIKE\s+)?'([^']*)')?$"#,
    )
});
static SHOW_PARTITIONS: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?is)^SHOW\s+PARTITIONS\s+{NAME}$")));
static DESCRIBE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?is)^(?:DESCRIBE|DESC)(?:\s+(?:FORMATTED|EXTENDED))?\s+{NAME}$"
    ))
});
static MSCK: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?is)^MSCK\s+REPAIR\s+TABLE\s+{NAME}$")));
static DROP_TABLE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?is)^DROP\s+TABLE\s+(IF\s+EXISTS\s+)?{NAME}$")));
static CTAS: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?is)^CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?{NAME}\s*(?:WITH\s*\((.*?)\)\s*)?AS\s+(.+)$"
    ))
});
static PROPERTY: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?is)\s*([A-Za-z_]+)\s*=\s*('(?:[^']|'')*'|ARRAY\s*\[[^\]]*\]|[^,]+)\s*(?:,|$)")
});

fn unquote(part: &str) -> String {
    let part = part.trim();
    let inner = part
        .strip_prefix('"')
        .and_then(|p| p.strip_suffix('"'))
        .or_else(|| part.strip_prefix('`').and_then(|p| p.strip_suffix('`')));
    inner.unwrap_or(part).to_lowercase()
}

fn table_name(text: &str) -> TableName {
    // The pattern only allows `.` between the two parts, and quoted parts cannot contain `"`.
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (None, '"' | '`') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                current.push(c);
            }
            (None, '.') => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    match parts.as_slice() {
        [db, table] => TableName {
            database: Some(unquote(db)),
            table: unquote(table),
        },
        _ => TableName {
            database: None,
            table: unquote(&parts.concat()),
        },
    }
}

/// Classifies `sql` and checks its syntax. `Err` is the MALFORMED_QUERY message.
pub fn parse(sql: &str) -> Result<Statement, String> {
    let text = sql.trim().trim_end_matches(';').trim();
    if text.is_empty() {
        return Err("line 1:1: mismatched input '<EOF>'. Expecting a statement".into());
    }
    if let Some(c) = SHOW_DATABASES.captures(text) {
        let like = c.get(1).map(|m| m.as_str().to_owned());
        return Ok(Statement::ShowDatabases { like });
    }
    if let Some(c) = SHOW_TABLES.captures(text) {
        return Ok(Statement::ShowTables {
            database: c.get(1).map(|m| unquote(m.as_str())),
            like: c.get(2).map(|m| m.as_str().to_owned()),
        });
    }
    if let Some(c) = SHOW_PARTITIONS.captures(text) {
        return Ok(Statement::ShowPartitions(table_name(&c[1])));
    }
    if let Some(c) = DESCRIBE.captures(text) {
        return Ok(Statement::Describe(table_name(&c[1])));
    }
    if let Some(c) = MSCK.captures(text) {
        return Ok(Statement::MsckRepair(table_name(&c[1])));
    }
    if let Some(c) = DROP_TABLE.captures(text) {
        return Ok(Statement::DropTable {
            table: table_name(&c[2]),
            if_exists: c.get(1).is_some(),
        });
    }
    if let Some(c) = CTAS.captures(text) {
        let query = c[4].to_owned();
        check_query_syntax(&query)?;
        return Ok(Statement::CreateTableAs {
            table: table_name(&c[2]),
            if_not_exists: c.get(1).is_some(),
            properties: properties(c.get(3).map_or("", |m| m.as_str()))?,
            query,
        });
    }
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match first.as_str() {
        "SELECT" | "WITH" | "VALUES" | "EXPLAIN" | "(" | "TABLE" => {
            check_query_syntax(text)?;
            Ok(Statement::Query(text.to_owned()))
        }
        _ if first.starts_with('(') => {
            check_query_syntax(text)?;
            Ok(Statement::Query(text.to_owned()))
        }
        "CREATE" | "ALTER" | "INSERT" | "DELETE" | "UPDATE" | "MERGE" | "SHOW" | "DROP"
        | "UNLOAD" | "PREPARE" | "EXECUTE" | "DEALLOCATE" | "OPTIMIZE" | "VACUUM" | "USE" => {
            let words: Vec<&str> = text.split_whitespace().take(3).collect();
            Ok(Statement::Unsupported(words.join(" ").to_ascii_uppercase()))
        }
        _ => Err(format!(
            "line 1:1: mismatched input '{}'. Expecting: 'ALTER', 'CREATE', 'DESCRIBE', \
             'DROP', 'EXPLAIN', 'MSCK', 'SELECT', 'SHOW', 'VALUES', 'WITH'",
            text.split_whitespace().next().unwrap_or_default()
        )),
    }
}

fn check_query_syntax(sql: &str) -> Result<(), String> {
    let statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).map_err(|e| {
        e.strip_backtrace()
            .replace("SQL error: ParserError(\"", "")
            .replace("\")", "")
    })?;
    if statements.len() != 1 {
        return Err(format!(
            "only one statement per query is allowed, got {}",
            statements.len()
        ));
    }
    Ok(())
}

/// `format='PARQUET', external_location='s3://...'` -> lower-case names, unquoted values.
fn properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(c) = PROPERTY.captures(rest) else {
            return Err(format!("cannot read the table properties near '{rest}'"));
        };
        let whole = c.get(0).map_or(0, |m| m.end());
        let value = c[2].trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .map(|v| v.replace("''", "'"))
            .unwrap_or_else(|| value.to_owned());
        out.push((c[1].to_ascii_lowercase(), value));
        rest = rest[whole..].trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn athena_statements_are_recognised() {
        assert_eq!(
            parse("SHOW TABLES IN analytics_db").unwrap(),
            Statement::ShowTables {
                database: Some("analytics_db".into()),
                like: None
            }
        );
        assert_eq!(
            parse("msck repair table \"db\".\"Sales\";").unwrap(),
            Statement::MsckRepair(TableName {
                database: Some("db".into()),
                table: "sales".into()
            })
        );
        assert!(matches!(
            parse("DESCRIBE sales_data").unwrap(),
            Statement::Describe(_)
        ));
        assert!(matches!(
            parse("SHOW PARTITIONS analytics_db.sales_data").unwrap(),
            Statement::ShowPartitions(_)
        ));
    }

    #[test]
    fn ctas_properties_are_read() {
        let s = parse(
            "CREATE TABLE \"temp_table_1\" WITH (format='Parquet', parquet_compression='SNAPPY', \
             external_location='s3://b/p/') AS SELECT 1 AS x",
        )
        .unwrap();
        let Statement::CreateTableAs {
            table,
            properties,
            query,
            ..
        } = s
        else {
            panic!("not a CTAS: {s:?}");
        };
        assert_eq!(table.table, "temp_table_1");
        assert_eq!(properties[0], ("format".into(), "Parquet".into()));
        assert_eq!(
            properties[2],
            ("external_location".into(), "s3://b/p/".into())
        );
        assert_eq!(query, "SELECT 1 AS x");
    }

    #[test]
    fn syntax_errors_are_rejected() {
        assert!(parse("SELEC 1").is_err());
        assert!(parse("SELECT * FROM").is_err());
        assert!(parse("").is_err());
        assert!(matches!(parse("SELECT 1").unwrap(), Statement::Query(_)));
        assert!(matches!(
            parse("INSERT INTO t VALUES (1)").unwrap(),
            Statement::Unsupported(_)
        ));
    }
}
