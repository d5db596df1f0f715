//! `${VAR}` / `${VAR:-default}` placeholder resolution over every string value of the raw config
//! JSON, before it is deserialized, so that an unresolved variable is reported with the JSON path
//! of the field that uses it. `$${` writes a literal `${`; a `$` not followed by `{` is literal
//! (regex anchors such as `\.csv$` need no escaping).

use serde_json::Value;

use super::ConfigError;

/// Replaces placeholders in all string values (not object keys) of `value`, in place.
pub(crate) fn resolve_placeholders(
    value: &mut Value,
    path: &mut String,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                *text = expand(text, lookup).map_err(|reason| ConfigError::Invalid {
                    path: display_path(path),
                    message: reason,
                })?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let length = path.len();
                path.push_str(&format!("[{index}]"));
                resolve_placeholders(item, path, lookup)?;
                path.truncate(length);
            }
            Ok(())
        }
        Value::Object(fields) => {
            for (name, item) in fields.iter_mut() {
                let length = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(name);
                resolve_placeholders(item, path, lookup)?;
                path.truncate(length);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(root)".to_string()
    } else {
        path.to_string()
    }
}

/// Expands the placeholders of one string. Hand-written: it is a few lines, and the error needs
/// to say which variable is missing.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_and_rest) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body_and_rest
            .find('}')
            .ok_or_else(|| format!("unterminated placeholder in {text:?} (missing `}}`)"))?;
        let body = &body_and_rest[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        let name_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(format!(
                "invalid placeholder `${{{body}}}` in {text:?}: expected ${{NAME}} or ${{NAME:-default}}"
            ));
        }
        // As in the shell, `:-` also applies when the variable is set but empty.
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable {name} is not set (used as ${{{name}}}; \
                     set it or write ${{{name}:-default}})"
                ))
            }
        }
        rest = &body_and_rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "ACCOUNT" => Some("123456789012".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_defaults_and_escapes() {
        assert_eq!(expand("${ACCOUNT}", &env).unwrap(), "123456789012");
        assert_eq!(expand("a-${MISSING:-x}-b", &env).unwrap(), "a-x-b");
        assert_eq!(expand("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(expand("${MISSING:-}", &env).unwrap(), "");
        assert_eq!(expand("$${ACCOUNT}", &env).unwrap(), "${ACCOUNT}");
        assert_eq!(expand("x\\.csv$", &env).unwrap(), "x\\.csv$");
    }

    #[test]
    fn reports_unresolved_and_malformed_placeholders() {
        assert!(expand("${MISSING}", &env)
            .unwrap_err()
            .contains("MISSING is not set"));
        assert!(expand("${ACCOUNT", &env)
            .unwrap_err()
            .contains("unterminated"));
        assert!(expand("${1X}", &env)
            .unwrap_err()
            .contains("invalid placeholder"));
    }
}
