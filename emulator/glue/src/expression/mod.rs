//! The partition filter language of `GetPartitions.Expression`.
//!
//! Glue documents it as "SQL syntax similar to the SQL WHERE filter clause", parsed by
//! JSQLParser, with `=`, `<>`, `>`, `<`, `>=`, `<=`, `AND`, `OR`, `IN`, `BETWEEN`, `LIKE`, `NOT`,
//! `IS NULL`, over partition keys of types string, date, timestamp, int, bigint, long, tinyint,
//! smallint and decimal; "if a type is encountered that is not valid, an exception is thrown"
//! (https://docs.aws.amazon.com/glue/latest/webapi/API_GetPartitions.html).
//!
//! Hand-written (lexer + recursive-descent parser + evaluator) because no Rust crate implements
//! this dialect: general SQL parsers (sqlparser-rs) accept far more than Glue does, know nothing
//! of Glue's typing rule (numeric comparison for numeric keys, string comparison otherwise), and
//! would still need this evaluator; the grammar is a dozen productions.
//!
//! Use: [`Filter::compile`] parses and binds an expression to a table's partition keys (unknown
//! columns and unsupported key types are errors then), and [`Filter::matches`] tests one
//! partition's values.

mod eval;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use eval::Filter;
pub use parser::parse;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Two or more alternatives. A chain `a OR b OR c` is one flat node, never a nested one, so
    /// the tree's depth grows only with parentheses and NOT (bounded by the parser), not with
    /// the chain's length: binding, evaluating and dropping recurse no deeper than that.
    Or(Vec<Expr>),
    /// Two or more conjuncts, flat like [`Expr::Or`].
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        left: Operand,
        op: CompareOp,
        right: Operand,
    },
    In {
        operand: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Between {
        operand: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    Like {
        operand: Operand,
        pattern: String,
        escape: Option<char>,
        negated: bool,
    },
    IsNull {
        operand: Operand,
        negated: bool,
    },
}

/// A value position in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A partition key column (bare, `backticked` or "double-quoted" identifier).
    Column(String),
    /// A single-quoted string literal, quotes removed and `''` unescaped.
    Str(String),
    /// A numeric literal as written, e.g. `2024`, `-1.5`.
    Number(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// Why an expression was rejected; the catalog reports it as `InvalidInputException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpressionError {
    pub message: String,
}

impl ExpressionError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExpressionError {
            message: message.into(),
        }
    }
}
