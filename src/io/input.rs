//! Input vectors: numbers separated by whitespace and/or commas, any number of rows, flattened
//! row-major. The authors' inputs are 28 rows of 28 values; the row layout is kept so that
//! outputs (lb/ub files) can be written back in the same shape.

use std::path::Path;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read input file '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A token is not a number.
    #[error("input file '{path}', line {line}: '{token}' is not a number")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The offending token.
        token: String,
    },
    /// A value is NaN or infinite.
    #[error("input file '{path}', line {line}: value {value} is not finite")]
    NonFinite {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The value.
        value: String,
    },
    /// The file has the wrong number of values.
    #[error("input file '{path}' has {found} values but the model takes {expected}")]
    Count {
        /// The file.
        path: String,
        /// Values found.
        found: usize,
        /// Values expected.
        expected: usize,
    },
}

/// An input vector and the row layout it was written in.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    /// The values, row-major.
    pub values: Vec<f64>,
    /// Number of values on each non-empty line.
    pub rows: Vec<usize>,
}

/// Parses input text; `name` is used in messages.
pub fn parse_input(text: &str, name: &str) -> Result<InputFile, InputError> {
    let mut values = Vec::new();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut count = 0;
        for token in line
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            let v: f64 = token.parse().map_err(|_| InputError::Parse {
                path: name.to_string(),
                line: i + 1,
                token: token.chars().take(40).collect(),
            })?;
            if !v.is_finite() {
                return Err(InputError::NonFinite {
                    path: name.to_string(),
                    line: i + 1,
                    value: token.to_string(),
                });
            }
            values.push(v);
            count += 1;
        }
        if count > 0 {
            rows.push(count);
        }
    }
    Ok(InputFile { values, rows })
}

/// Reads an input file, keeping its layout.
pub fn read_input_file(path: impl AsRef<Path>) -> Result<InputFile, InputError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| InputError::Io {
        path: name.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_input(&text, &name)
}

/// Reads an input vector of exactly `expected` values.
pub fn read_input(path: impl AsRef<Path>, expected: usize) -> Result<Vec<f64>, InputError> {
    let path = path.as_ref();
    let file = read_input_file(path)?;
    if file.values.len() != expected {
        return Err(InputError::Count {
            path: path.display().to_string(),
            found: file.values.len(),
            expected,
        });
    }
    Ok(file.values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_layout() {
        let f = parse_input("0.1 0.2,0.3\n\n0.4\t0.5 , 0.6\n", "t").unwrap();
        assert_eq!(f.values, vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6]);
        assert_eq!(f.rows, vec![3, 3]);
    }

    #[test]
    fn bad_values() {
        assert!(matches!(
            parse_input("0.1 abc", "t"),
            Err(InputError::Parse { line: 1, .. })
        ));
        assert!(matches!(
            parse_input("0.1\nNaN", "t"),
            Err(InputError::NonFinite { line: 2, .. })
        ));
        assert!(matches!(
            parse_input("inf", "t"),
            Err(InputError::NonFinite { .. })
        ));
    }
}
