//! Scenario errors that point at the offending text.

/// Why a scenario could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error (in the message, not a `source()`, so an error
        /// chain does not print it twice).
        error: std::io::Error,
    },
    /// The TOML is malformed or a value has the wrong type or range.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The values parse but do not make a runnable scenario.
    #[error("{path}: `{field}`: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The dotted field path, e.g. `load.page_loads`.
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

impl ScenarioError {
    pub(crate) fn from_toml(path: &str, text: &str, err: &toml::de::Error) -> Self {
        let offset = err.span().map(|s| s.start).unwrap_or(0).min(text.len());
        let (line, column) = line_column(text, offset);
        ScenarioError::Parse {
            path: path.to_string(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    }
}

impl ScenarioError {
    /// An [`Invalid`](Self::Invalid) error at the line and column of its
    /// field's value in `text` (`a.b`, `a[2].b`), when the text writes it;
    /// any other error, or a field left to its default, as it is.
    pub(crate) fn located(self, text: &str) -> Self {
        let ScenarioError::Invalid {
            path,
            field,
            message,
        } = self
        else {
            return self;
        };
        match field_offset(text, &field) {
            Some(offset) => {
                let (line, column) = line_column(text, offset);
                ScenarioError::Parse {
                    path,
                    line,
                    column,
                    message: format!("`{field}`: {message}"),
                }
            }
            None => ScenarioError::Invalid {
                path,
                field,
                message,
            },
        }
    }

    /// A file that is not UTF-8 text: where its first invalid byte is.
    pub(crate) fn not_utf8(path: &str, bytes: &[u8], err: &std::str::Utf8Error) -> Self {
        let good = err.valid_up_to();
        // The valid prefix is text, so it has lines and columns.
        let before = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
        let (line, column) = line_column(before, before.len());
        ScenarioError::Parse {
            path: path.to_string(),
            line,
            column,
            message: format!(
                "byte 0x{:02x} is not UTF-8 text; expected a UTF-8 encoded TOML file",
                bytes.get(good).copied().unwrap_or_default()
            ),
        }
    }
}

/// Byte offset in `text` of the value at dotted `field` (`a.b`, `a[2].b`).
fn field_offset(text: &str, field: &str) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let document = DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut found = None;
    for part in field.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let value = table.get(key)?;
        let value = match (index, value.get_ref()) {
            (Some(i), DeValue::Array(items)) => items.get(i)?,
            (Some(_), _) => return None,
            (None, _) => value,
        };
        found = Some(value.span().start);
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    found
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::{ScenarioError, field_offset, line_column};

    #[test]
    fn a_field_is_found_in_tables_arrays_and_inline_tables() {
        let text = "a = 1\n[b]\nc = { d = 2 }\n[[e]]\nf = 3\n[[e]]\nf = 4\n";
        let at = |f: &str| field_offset(text, f).map(|o| line_column(text, o));
        assert_eq!(at("a"), Some((1, 5)));
        assert_eq!(at("b.c.d"), Some((3, 11)));
        assert_eq!(at("e[1].f"), Some((7, 5)));
        assert_eq!(at("e[2].f"), None);
        assert_eq!(at("b.x"), None);
        let e = ScenarioError::Invalid {
            path: "s.toml".into(),
            field: "b.c".into(),
            message: "no".into(),
        };
        assert_eq!(e.located(text).to_string(), "s.toml:3:5: `b.c`: no");
    }

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes; the column counts characters.
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, text.len()), (3, 1));
    }
}
