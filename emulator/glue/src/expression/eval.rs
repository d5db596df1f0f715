//! Binding a parsed expression to a table's partition keys, and evaluating it per partition.
//!
//! Typing rule: a predicate that involves a numeric partition key (int, integer, bigint, long,
//! tinyint, smallint, decimal) compares numerically, so `hour < 10` orders `9` before `10`;
//! otherwise values compare as strings (string, char, varchar, and date/timestamp, whose ISO text
//! order is their time order). Numbers are compared exactly as decimals, never through floats.

use std::cmp::Ordering;

use regex::Regex;

use super::{parser::parse, CompareOp, Expr, ExpressionError, Operand};
use crate::state::PartitionKey;

/// A compiled filter for one table's partitions.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// Flat like [`Expr::Or`], so the depth of this tree is the expression's nesting depth.
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Compare(Slot, CompareOp, Slot),
    In(Slot, Vec<Slot>),
    Between(Slot, Slot, Slot),
    Like(Slot, Regex),
    /// `IS [NOT] NULL`: partition values are never null, so this is a constant.
    Constant(bool),
}

/// Where a predicate gets one of its values from.
#[derive(Debug, Clone)]
enum Slot {
    /// A partition key by index, read as a number or as text per the predicate's mode.
    Column(usize, Mode),
    Literal(Scalar),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scalar {
    Text(String),
    Number(Decimal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Numeric,
    Text,
}

impl Filter {
    /// Parses `text` and binds it to `keys`. Unknown columns, partition keys of a type Glue
    /// cannot filter on, and non-numeric literals compared with numeric keys are errors.
    pub fn compile(text: &str, keys: &[PartitionKey]) -> Result<Filter, ExpressionError> {
        let expr = parse(text)?;
        Ok(Filter {
            root: bind(&expr, keys)?,
        })
    }

    /// Whether the partition with these `values` (in partition-key order) passes the filter.
    pub fn matches(&self, values: &[String]) -> bool {
        eval(&self.root, values).unwrap_or(false)
    }
}

fn column_mode(key: &PartitionKey) -> Result<Mode, ExpressionError> {
    let base = key.type_name.split('(').next().unwrap_or_default().trim();
    match base {
        "int" | "integer" | "bigint" | "long" | "tinyint" | "smallint" | "decimal" => Ok(Mode::Numeric),
        "string" | "char" | "varchar" | "date" | "timestamp" => Ok(Mode::Text),
        other => Err(ExpressionError::new(format!(
            "Unsupported partition key type '{other}' of column '{}' in expression: supported types \
             are string, date, timestamp, int, bigint, long, tinyint, smallint and decimal",
            key.name
        ))),
    }
}

fn find_column(name: &str, keys: &[PartitionKey]) -> Result<(usize, Mode), ExpressionError> {
    let index = keys
        .iter()
        .position(|k| k.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            ExpressionError::new(format!(
                "Unknown column '{name}' in expression: the table's partition keys are {known:?}"
            ))
        })?;
    Ok((index, column_mode(&keys[index])?))
}

/// Binds the operands of one predicate: numeric when any column in it is numeric (or, with no
/// columns at all, when every literal is a number), text otherwise.
fn bind_operands(
    operands: &[&Operand],
    keys: &[PartitionKey],
) -> Result<Vec<Slot>, ExpressionError> {
    let mut columns = Vec::new();
    for operand in operands {
        if let Operand::Column(name) = operand {
            columns.push((name.as_str(), find_column(name, keys)?));
        }
    }
    let any_numeric_column = columns.iter().any(|(_, (_, mode))| *mode == Mode::Numeric);
    let only_number_literals =
        columns.is_empty() && operands.iter().all(|o| matches!(o, Operand::Number(_)));
    let mode = if any_numeric_column || only_number_literals {
        Mode::Numeric
    } else {
        Mode::Text
    };
    let numeric_column = columns
        .iter()
        .find(|(_, (_, m))| *m == Mode::Numeric)
        .map(|(name, _)| *name)
        .unwrap_or_default();
    operands
        .iter()
        .map(|operand| match operand {
            Operand::Column(name) => Ok(Slot::Column(find_column(name, keys)?.0, mode)),
            Operand::Str(text) | Operand::Number(text) => match mode {
                Mode::Text => Ok(Slot::Literal(Scalar::Text(text.clone()))),
                Mode::Numeric => Decimal::parse(text)
                    .map(|n| Slot::Literal(Scalar::Number(n)))
                    .ok_or_else(|| {
                        ExpressionError::new(format!(
                            "'{text}' is not a number, but partition key '{numeric_column}' is numeric"
                        ))
                    }),
            },
        })
        .collect()
}

fn bind(expr: &Expr, keys: &[PartitionKey]) -> Result<Node, ExpressionError> {
    Ok(match expr {
        Expr::Or(terms) => Node::Or(bind_all(terms, keys)?),
        Expr::And(terms) => Node::And(bind_all(terms, keys)?),
        Expr::Not(inner) => Node::Not(Box::new(bind(inner, keys)?)),
        Expr::Compare { left, op, right } => {
            let mut slots = bind_operands(&[left, right], keys)?.into_iter();
            match (slots.next(), slots.next()) {
                (Some(l), Some(r)) => Node::Compare(l, *op, r),
                _ => Node::Constant(false),
            }
        }
        Expr::In {
            operand,
            list,
            negated,
        } => {
            let mut all: Vec<&Operand> = vec![operand];
            all.extend(list.iter());
            let mut slots = bind_operands(&all, keys)?;
            let first = slots.remove(0);
            negate_if(*negated, Node::In(first, slots))
        }
        Expr::Between {
            operand,
            low,
            high,
            negated,
        } => {
            let mut slots = bind_operands(&[operand, low, high], keys)?.into_iter();
            match (slots.next(), slots.next(), slots.next()) {
                (Some(v), Some(lo), Some(hi)) => negate_if(*negated, Node::Between(v, lo, hi)),
                _ => Node::Constant(false),
            }
        }
        Expr::Like {
            operand,
            pattern,
            escape,
            negated,
        } => {
            // LIKE matches the value's text whatever the key type.
            let slot = match operand {
                Operand::Column(name) => Slot::Column(find_column(name, keys)?.0, Mode::Text),
                Operand::Str(text) | Operand::Number(text) => {
                    Slot::Literal(Scalar::Text(text.clone()))
                }
            };
            negate_if(*negated, Node::Like(slot, like_regex(pattern, *escape)?))
        }
        Expr::IsNull { operand, negated } => {
            if let Operand::Column(name) = operand {
                find_column(name, keys)?;
            }
            Node::Constant(*negated)
        }
    })
}

fn bind_all(terms: &[Expr], keys: &[PartitionKey]) -> Result<Vec<Node>, ExpressionError> {
    terms.iter().map(|term| bind(term, keys)).collect()
}

fn negate_if(negated: bool, node: Node) -> Node {
    if negated {
        Node::Not(Box::new(node))
    } else {
        node
    }
}

/// Translates a SQL LIKE pattern (`%` any run, `_` one character, optional escape character)
/// into an anchored regex; the regex crate then does the matching.
fn like_regex(pattern: &str, escape: Option<char>) -> Result<Regex, ExpressionError> {
    let mut source = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(escaped) => source.push_str(&regex::escape(&escaped.to_string())),
                None => {
                    return Err(ExpressionError::new(format!(
                        "LIKE pattern '{pattern}' ends with its escape character"
                    )))
                }
            }
        } else if c == '%' {
            source.push_str(".*");
        } else if c == '_' {
            source.push('.');
        } else {
            source.push_str(&regex::escape(&c.to_string()));
        }
    }
    source.push('$');
    Regex::new(&source)
        .map_err(|e| ExpressionError::new(format!("Invalid LIKE pattern '{pattern}': {e}")))
}

/// Evaluates a node; `None` means "unknown" (a numeric key holding a non-number), which SQL's
/// three-valued logic treats as not matching.
fn eval(node: &Node, values: &[String]) -> Option<bool> {
    match node {
        Node::Or(terms) => any_or_all(terms, values, true),
        Node::And(terms) => any_or_all(terms, values, false),
        Node::Not(inner) => eval(inner, values).map(|b| !b),
        Node::Constant(b) => Some(*b),
        Node::Compare(left, op, right) => {
            let ordering = compare(&resolve(left, values)?, &resolve(right, values)?)?;
            Some(match op {
                CompareOp::Eq => ordering == Ordering::Equal,
                CompareOp::Ne => ordering != Ordering::Equal,
                CompareOp::Lt => ordering == Ordering::Less,
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Le => ordering != Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
            })
        }
        Node::In(operand, list) => {
            let value = resolve(operand, values)?;
            let mut unknown = false;
            for item in list {
                match resolve(item, values).and_then(|item| compare(&value, &item)) {
                    Some(Ordering::Equal) => return Some(true),
                    Some(_) => {}
                    None => unknown = true,
                }
            }
            if unknown {
                None
            } else {
                Some(false)
            }
        }
        Node::Between(operand, low, high) => {
            let value = resolve(operand, values)?;
            let above_low = compare(&value, &resolve(low, values)?)? != Ordering::Less;
            let below_high = compare(&value, &resolve(high, values)?)? != Ordering::Greater;
            Some(above_low && below_high)
        }
        Node::Like(operand, regex) => {
            let text = match operand {
                Slot::Column(index, _) => values.get(*index)?.clone(),
                Slot::Literal(Scalar::Text(text)) => text.clone(),
                Slot::Literal(Scalar::Number(n)) => n.to_string(),
            };
            Some(regex.is_match(&text))
        }
    }
}

/// Three-valued OR (`decisive` = true) or AND (`decisive` = false) over `terms`: the first term
/// equal to `decisive` decides; otherwise any unknown term makes the result unknown.
fn any_or_all(terms: &[Node], values: &[String], decisive: bool) -> Option<bool> {
    let mut unknown = false;
    for term in terms {
        match eval(term, values) {
            Some(b) if b == decisive => return Some(decisive),
            Some(_) => {}
            None => unknown = true,
        }
    }
    if unknown {
        None
    } else {
        Some(!decisive)
    }
}

/// The value of a slot for one partition. A column resolves to a number when the predicate is
/// numeric (its literals were bound as numbers), else to text.
fn resolve(slot: &Slot, values: &[String]) -> Option<Scalar> {
    match slot {
        Slot::Literal(scalar) => Some(scalar.clone()),
        Slot::Column(index, Mode::Text) => Some(Scalar::Text(values.get(*index)?.clone())),
        Slot::Column(index, Mode::Numeric) => {
            Some(Scalar::Number(Decimal::parse(values.get(*index)?)?))
        }
    }
}

/// Compares two scalars. Binding gives both sides of a predicate the same kind; a mixed pair
/// compares numerically when the text is a number and is unknown otherwise.
fn compare(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Number(x), Scalar::Number(y)) => Some(x.cmp(y)),
        (Scalar::Text(x), Scalar::Number(y)) => Some(Decimal::parse(x)?.cmp(y)),
        (Scalar::Number(x), Scalar::Text(y)) => Some(x.cmp(&Decimal::parse(y)?)),
        (Scalar::Text(x), Scalar::Text(y)) => Some(x.cmp(y)),
    }
}

/// An exact decimal number for comparisons: sign, integer digits without leading zeros and
/// fraction digits without trailing zeros (zero is never negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    integer: String,
    fraction: String,
}

impl Decimal {
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (integer.is_empty() && fraction.is_empty())
            || !all_digits(integer)
            || !all_digits(fraction)
        {
            return None;
        }
        let integer = integer.trim_start_matches('0').to_owned();
        let fraction = fraction.trim_end_matches('0').to_owned();
        let zero = integer.is_empty() && fraction.is_empty();
        Some(Decimal {
            negative: negative && !zero,
            integer,
            fraction,
        })
    }

    fn cmp_magnitude(&self, other: &Decimal) -> Ordering {
        self.integer
            .len()
            .cmp(&other.integer.len())
            .then_with(|| self.integer.cmp(&other.integer))
            .then_with(|| self.fraction.cmp(&other.fraction))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.negative { "-" } else { "" };
        let integer = if self.integer.is_empty() {
            "0"
        } else {
            &self.integer
        };
        if self.fraction.is_empty() {
            write!(f, "{sign}{integer}")
        } else {
            write!(f, "{sign}{integer}.{}", self.fraction)
        }
    }
}
