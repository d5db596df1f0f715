//! Tokenizer for the partition filter language.

use super::ExpressionError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Ident(String),
    /// A `backticked` or "double-quoted" identifier; never a keyword.
    QuotedIdent(String),
    Str(String),
    Number(String),
    Keyword(Keyword),
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    In,
    Between,
    Like,
    Is,
    Null,
    Escape,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word.to_ascii_uppercase().as_str() {
            "AND" => Keyword::And,
            "OR" => Keyword::Or,
            "NOT" => Keyword::Not,
            "IN" => Keyword::In,
            "BETWEEN" => Keyword::Between,
            "LIKE" => Keyword::Like,
            "IS" => Keyword::Is,
            "NULL" => Keyword::Null,
            "ESCAPE" => Keyword::Escape,
            _ => return None,
        })
    }
}

/// A token and the 1-based character position where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spanned {
    pub token: Token,
    pub position: usize,
}

pub(crate) fn tokenize(text: &str) -> Result<Vec<Spanned>, ExpressionError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let starts_number = c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && chars
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_digit() || *n == '.'));
        let token = if c == '\'' {
            let (value, next) = quoted(&chars, i, '\'').ok_or_else(|| {
                ExpressionError::new(format!(
                    "Unterminated string literal starting at position {position}"
                ))
            })?;
            i = next;
            Token::Str(value)
        } else if c == '`' || c == '"' {
            let (value, next) = quoted(&chars, i, c).ok_or_else(|| {
                ExpressionError::new(format!(
                    "Unterminated quoted identifier starting at position {position}"
                ))
            })?;
            i = next;
            Token::QuotedIdent(value)
        } else if starts_number {
            let (value, next) = number(&chars, i).ok_or_else(|| {
                ExpressionError::new(format!("Malformed number at position {position}"))
            })?;
            i = next;
            Token::Number(value)
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match Keyword::from_word(&word) {
                Some(keyword) => Token::Keyword(keyword),
                None => Token::Ident(word),
            }
        } else {
            let next = chars.get(i + 1).copied();
            let (token, width) = match (c, next) {
                ('(', _) => (Token::LParen, 1),
                (')', _) => (Token::RParen, 1),
                (',', _) => (Token::Comma, 1),
                ('=', _) => (Token::Eq, 1),
                ('<', Some('>')) => (Token::Ne, 2),
                ('!', Some('=')) => (Token::Ne, 2),
                ('<', Some('=')) => (Token::Le, 2),
                ('>', Some('=')) => (Token::Ge, 2),
                ('<', _) => (Token::Lt, 1),
                ('>', _) => (Token::Gt, 1),
                _ => {
                    return Err(ExpressionError::new(format!(
                        "Unexpected character '{c}' at position {position}"
                    )))
                }
            };
            i += width;
            token
        };
        tokens.push(Spanned { token, position });
    }
    Ok(tokens)
}

/// Reads a `quote`-delimited run starting at `start`; a doubled quote stands for one.
/// Returns the content and the index after the closing quote.
fn quoted(chars: &[char], start: usize, quote: char) -> Option<(String, usize)> {
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                value.push(quote);
                i += 2;
                continue;
            }
            return Some((value, i + 1));
        }
        value.push(chars[i]);
        i += 1;
    }
    None
}

/// Reads `[+-]digits[.digits]` (either side of the point may be empty, not both).
fn number(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start;
    if chars[i] == '-' || chars[i] == '+' {
        i += 1;
    }
    let digits_start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    let mut digit_count = i - digits_start;
    if i < chars.len() && chars[i] == '.' {
        i += 1;
        let fraction_start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        digit_count += i - fraction_start;
    }
    // A number glued to letters (`12abc`) is not a number.
    let glued = chars
        .get(i)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '.');
    if digit_count == 0 || glued {
        return None;
    }
    Some((chars[start..i].iter().collect(), i))
}
