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
    use super::line_column;

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
