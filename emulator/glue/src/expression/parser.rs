//! Recursive-descent parser for the partition filter language.
//!
//! Grammar (keywords case-insensitive; precedence NOT > AND > OR, as in SQL):
//! ```text
//! expression := or EOF
//! or         := and ( OR and )*
//! and        := not ( AND not )*
//! not        := NOT not | '(' or ')' | predicate
//! predicate  := operand ( cmp operand
//!                       | [NOT] IN '(' operand ( ',' operand )* ')'
//!                       | [NOT] BETWEEN operand AND operand
//!                       | [NOT] LIKE string [ ESCAPE string ]
//!                       | IS [NOT] NULL )
//! operand    := identifier | string | number
//! cmp        := '=' | '<>' | '!=' | '<' | '>' | '<=' | '>='
//! ```

use super::lexer::{tokenize, Keyword, Spanned, Token};
use super::{CompareOp, Expr, ExpressionError, Operand};

/// Parses `text` into an expression tree.
pub fn parse(text: &str) -> Result<Expr, ExpressionError> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ExpressionError::new("Expression is empty"));
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end_position: text.chars().count() + 1,
        depth: 0,
    };
    let expr = parser.or()?;
    if let Some(extra) = parser.peek() {
        return Err(ExpressionError::new(format!(
            "Unexpected {} at position {}: expected AND, OR or the end of the expression",
            describe(&extra.token),
            extra.position
        )));
    }
    Ok(expr)
}

/// One term stays itself; two or more become a `chain` node.
fn flatten(mut terms: Vec<Expr>, chain: fn(Vec<Expr>) -> Expr) -> Expr {
    if terms.len() == 1 {
        terms.remove(0)
    } else {
        chain(terms)
    }
}

/// Deepest nesting of parentheses/NOT accepted; bounds the recursion (here, and in binding,
/// evaluating and dropping the tree, whose depth is at most about twice this because AND/OR
/// chains are flat) so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Spanned>,
    next: usize,
    end_position: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.next)
    }

    fn peek_token(&self) -> Option<&Token> {
        self.peek().map(|s| &s.token)
    }

    fn advance(&mut self) -> Option<Spanned> {
        let token = self.tokens.get(self.next).cloned();
        if token.is_some() {
            self.next += 1;
        }
        token
    }

    fn eat(&mut self, expected: &Token) -> bool {
        if self.peek_token() == Some(expected) {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        self.eat(&Token::Keyword(keyword))
    }

    /// An error saying what was found at the current position and what was `expected`.
    fn unexpected(&self, expected: &str) -> ExpressionError {
        match self.peek() {
            Some(found) => ExpressionError::new(format!(
                "Unexpected {} at position {}: expected {expected}",
                describe(&found.token),
                found.position
            )),
            None => ExpressionError::new(format!(
                "Unexpected end of expression at position {}: expected {expected}",
                self.end_position
            )),
        }
    }

    fn expect(&mut self, token: &Token, expected: &str) -> Result<(), ExpressionError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// A chain of ORs becomes one flat node (see [`Expr::Or`]): a long chain loops here instead
    /// of nesting, so no chain length can overflow the stack anywhere downstream.
    fn or(&mut self) -> Result<Expr, ExpressionError> {
        let mut terms = vec![self.and()?];
        while self.eat_keyword(Keyword::Or) {
            terms.push(self.and()?);
        }
        Ok(flatten(terms, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, ExpressionError> {
        let mut terms = vec![self.not()?];
        while self.eat_keyword(Keyword::And) {
            terms.push(self.not()?);
        }
        Ok(flatten(terms, Expr::And))
    }

    fn not(&mut self) -> Result<Expr, ExpressionError> {
        self.depth += 1;
        let result = self.not_inner();
        self.depth -= 1;
        result
    }

    fn not_inner(&mut self) -> Result<Expr, ExpressionError> {
        if self.depth > MAX_DEPTH {
            return Err(ExpressionError::new(format!(
                "Expression nests parentheses or NOT deeper than {MAX_DEPTH} levels"
            )));
        }
        if self.eat_keyword(Keyword::Not) {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.eat(&Token::LParen) {
            let inner = self.or()?;
            self.expect(&Token::RParen, "')'")?;
            return Ok(inner);
        }
        self.predicate()
    }

    fn operand(&mut self) -> Result<Operand, ExpressionError> {
        let operand = match self.peek_token() {
            Some(Token::Ident(name)) | Some(Token::QuotedIdent(name)) => {
                Operand::Column(name.clone())
            }
            Some(Token::Str(value)) => Operand::Str(value.clone()),
            Some(Token::Number(value)) => Operand::Number(value.clone()),
            _ => return Err(self.unexpected("a partition key name, a quoted string or a number")),
        };
        self.next += 1;
        Ok(operand)
    }

    fn predicate(&mut self) -> Result<Expr, ExpressionError> {
        let operand = self.operand()?;
        let compare = match self.peek_token() {
            Some(Token::Eq) => Some(CompareOp::Eq),
            Some(Token::Ne) => Some(CompareOp::Ne),
            Some(Token::Lt) => Some(CompareOp::Lt),
            Some(Token::Gt) => Some(CompareOp::Gt),
            Some(Token::Le) => Some(CompareOp::Le),
            Some(Token::Ge) => Some(CompareOp::Ge),
            _ => None,
        };
        if let Some(op) = compare {
            self.next += 1;
            let right = self.operand()?;
            return Ok(Expr::Compare {
                left: operand,
                op,
                right,
            });
        }
        if self.eat_keyword(Keyword::Is) {
            let negated = self.eat_keyword(Keyword::Not);
            self.expect(&Token::Keyword(Keyword::Null), "NULL")?;
            return Ok(Expr::IsNull { operand, negated });
        }
        let negated = self.eat_keyword(Keyword::Not);
        if self.eat_keyword(Keyword::In) {
            self.expect(&Token::LParen, "'(' after IN")?;
            let mut list = vec![self.operand()?];
            while self.eat(&Token::Comma) {
                list.push(self.operand()?);
            }
            self.expect(&Token::RParen, "',' or ')' in the IN list")?;
            return Ok(Expr::In {
                operand,
                list,
                negated,
            });
        }
        if self.eat_keyword(Keyword::Between) {
            let low = self.operand()?;
            self.expect(&Token::Keyword(Keyword::And), "AND in BETWEEN ... AND ...")?;
            let high = self.operand()?;
            return Ok(Expr::Between {
                operand,
                low,
                high,
                negated,
            });
        }
        if self.eat_keyword(Keyword::Like) {
            let pattern = self.string("a quoted pattern after LIKE")?;
            let escape = if self.eat_keyword(Keyword::Escape) {
                let escape = self.string("a quoted escape character after ESCAPE")?;
                let mut chars = escape.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Some(c),
                    _ => {
                        return Err(ExpressionError::new(format!(
                            "ESCAPE must be a single character, got '{escape}'"
                        )))
                    }
                }
            } else {
                None
            };
            return Ok(Expr::Like {
                operand,
                pattern,
                escape,
                negated,
            });
        }
        Err(self.unexpected(if negated {
            "IN, BETWEEN or LIKE after NOT"
        } else {
            "a comparison operator, IN, BETWEEN, LIKE or IS"
        }))
    }

    fn string(&mut self, expected: &str) -> Result<String, ExpressionError> {
        match self.peek_token() {
            Some(Token::Str(value)) => {
                let value = value.clone();
                self.advance();
                Ok(value)
            }
            _ => Err(self.unexpected(expected)),
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Ident(name) => format!("identifier '{name}'"),
        Token::QuotedIdent(name) => format!("identifier '{name}'"),
        Token::Str(value) => format!("string '{value}'"),
        Token::Number(value) => format!("number {value}"),
        Token::Keyword(keyword) => format!("keyword {}", format!("{keyword:?}").to_uppercase()),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
        Token::Eq => "'='".into(),
        Token::Ne => "'<>'".into(),
        Token::Lt => "'<'".into(),
        Token::Gt => "'>'".into(),
        Token::Le => "'<='".into(),
        Token::Ge => "'>='".into(),
    }
}
