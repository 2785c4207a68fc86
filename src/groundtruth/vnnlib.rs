//! The suite's text formats: VNN-LIB properties (writer only, dialects 1.0 and 2.0) for "an L∞
//! box ∩ D where some other class reaches class c", and VNN-COMP counterexample assignments
//! `((X_0 v) … (Y_0 v) …)` (written for the key, read back when grading another tool).
//!
//! The properties follow the shape of VNN-COMP's `mnist_fc` benchmark, which every VNN-COMP
//! tool reads: one `declare-const` per variable, one bound per assert, and the output as an
//! `or` of single-comparison `and`s. Numbers are written as the shortest decimal that reads
//! back to the same f64, always with a decimal point and never in exponent notation (some
//! parsers take neither `1e-7` nor `0` as a real), so a reader in f64 recovers the exact box
//! the key was proved on.

use std::fmt::Write;

use crate::region::Hyperbox;

/// VNN-LIB dialect of the property files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// VNN-LIB 1.0: flat `X_i` / `Y_j` constants (what VNN-COMP used until 2025).
    V1,
    /// VNN-LIB 2.0: a declared network with typed, shaped input and output tensors.
    V2,
}

impl Dialect {
    /// `1.0` or `2.0`.
    pub fn from_name(name: &str) -> Option<Dialect> {
        match name {
            "1.0" | "1" => Some(Dialect::V1),
            "2.0" | "2" => Some(Dialect::V2),
            _ => None,
        }
    }

    /// The version string.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::V1 => "1.0",
            Dialect::V2 => "2.0",
        }
    }
}

/// `v` as a VNN-LIB real: shortest round-trip decimal, with a decimal point, no exponent.
pub fn real(v: f64) -> String {
    // Rust's `Display` for f64 prints the shortest digits that read back exactly, and never
    // uses an exponent.
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The property "some point of `region` is classified as another class than `class`, or ties
/// with it": `∃x ∈ region: ∃j ≠ class: y_j ≥ y_class`. `sat` means not robust.
/// `input_shape` is the model's input shape (used by the 2.0 dialect's tensor indices);
/// `outputs` the number of classes. `comment` goes on the first line (no answers in it: the
/// files are what the verifier under test reads).
pub fn property(
    dialect: Dialect,
    region: &Hyperbox,
    class: usize,
    outputs: usize,
    input_shape: &[usize],
    comment: &str,
) -> String {
    let d = region.dim();
    let mut s = String::with_capacity(80 * d);
    for line in comment.lines() {
        let _ = writeln!(s, "; {line}");
    }
    let others: Vec<usize> = (0..outputs).filter(|&j| j != class).collect();
    match dialect {
        Dialect::V1 => {
            s.push('\n');
            for i in 0..d {
                let _ = writeln!(s, "(declare-const X_{i} Real)");
            }
            s.push('\n');
            for j in 0..outputs {
                let _ = writeln!(s, "(declare-const Y_{j} Real)");
            }
            s.push_str("\n; Input constraints: the box\n");
            for i in 0..d {
                let _ = writeln!(s, "(assert (<= X_{i} {}))", real(region.ub()[i]));
                let _ = writeln!(s, "(assert (>= X_{i} {}))", real(region.lb()[i]));
            }
            let _ = writeln!(
                s,
                "\n; Output constraints: some other class reaches class {class}"
            );
            if let [j] = others.as_slice() {
                let _ = writeln!(s, "(assert (>= Y_{j} Y_{class}))");
            } else {
                s.push_str("(assert (or\n");
                for j in &others {
                    let _ = writeln!(s, "    (and (>= Y_{j} Y_{class}))");
                }
                s.push_str("))\n");
            }
        }
        Dialect::V2 => {
            let shape = if input_shape.iter().product::<usize>() == d && !input_shape.is_empty() {
                input_shape.to_vec()
            } else {
                vec![d]
            };
            // The output keeps the input's leading batch dimension, as exporters write it.
            let out_shape = if shape.len() >= 2 && shape[0] == 1 {
                vec![1, outputs]
            } else {
                vec![outputs]
            };
            let dims = |sh: &[usize]| {
                sh.iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(s, "(vnnlib-version <2.0>)");
            let _ = writeln!(s, "(declare-network N");
            let _ = writeln!(s, "    (declare-input X float32 [{}])", dims(&shape));
            let _ = writeln!(s, "    (declare-output Y float32 [{}])", dims(&out_shape));
            s.push_str(")\n\n; Input constraints: the box\n");
            for i in 0..d {
                let idx = index(&shape, i);
                let _ = writeln!(s, "(assert (<= X[{idx}] {}))", real(region.ub()[i]));
                let _ = writeln!(s, "(assert (>= X[{idx}] {}))", real(region.lb()[i]));
            }
            let _ = writeln!(
                s,
                "\n; Output constraints: some other class reaches class {class}"
            );
            let y = |j: usize| format!("Y[{}]", index(&out_shape, j));
            if let [j] = others.as_slice() {
                let _ = writeln!(s, "(assert (>= {} {}))", y(*j), y(class));
            } else {
                s.push_str("(assert (or\n");
                for &j in &others {
                    let _ = writeln!(s, "    (>= {} {})", y(j), y(class));
                }
                s.push_str("))\n");
            }
        }
    }
    s
}

/// The multi-index of flat position `flat` in a row-major tensor of `shape`, comma-separated.
fn index(shape: &[usize], mut flat: usize) -> String {
    let mut idx = vec![0; shape.len()];
    for (k, &n) in shape.iter().enumerate().rev() {
        idx[k] = flat % n.max(1);
        flat /= n.max(1);
    }
    idx.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// A VNN-COMP counterexample assignment: `((X_0 v)\n (X_1 v)\n … (Y_0 v) …)`.
pub fn assignment(x: &[f64], y: &[f64]) -> String {
    let mut s = String::with_capacity(28 * (x.len() + y.len()));
    let pairs = x
        .iter()
        .enumerate()
        .map(|(i, v)| format!("(X_{i} {})", real(*v)))
        .chain(
            y.iter()
                .enumerate()
                .map(|(j, v)| format!("(Y_{j} {})", real(*v))),
        );
    for (k, p) in pairs.enumerate() {
        s.push_str(if k == 0 { "(" } else { " " });
        s.push_str(&p);
        s.push('\n');
    }
    if s.is_empty() {
        s.push('(');
    }
    // Close the outer list on the last line.
    if s.ends_with('\n') {
        s.pop();
    }
    s.push_str(")\n");
    s
}

/// What a counterexample assignment assigns: the `X_i` and `Y_j` values, by index.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// `X_i` values; `None` for an index the text does not assign.
    pub x: Vec<Option<f64>>,
    /// `Y_j` values, likewise.
    pub y: Vec<Option<f64>>,
}

/// Reads `((X_0 v) … (Y_0 v) …)`. Other tools write it with any whitespace, one or several
/// pairs per line, and sometimes without the outer parentheses; all are accepted. Errors
/// name the first problem (a malformed pair, a value that is not a finite number).
pub fn parse_assignment(text: &str) -> Result<Assignment, String> {
    let mut x: Vec<Option<f64>> = Vec::new();
    let mut y: Vec<Option<f64>> = Vec::new();
    // Tokens: parentheses, and runs of anything else.
    let mut tokens = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if ch == '(' || ch == ')' || ch.is_whitespace() {
            if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
            if ch == '(' || ch == ')' {
                tokens.push(ch.to_string());
            }
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        tokens.push(cur);
    }
    let mut k = 0;
    let mut pairs = 0;
    while k < tokens.len() {
        if tokens[k] == "(" && k + 3 < tokens.len() && tokens[k + 3] == ")" {
            let (name, value) = (&tokens[k + 1], &tokens[k + 2]);
            let v: f64 = value
                .parse()
                .map_err(|_| format!("'{value}' (the value of {name}) is not a number"))?;
            if !v.is_finite() {
                return Err(format!("{name} is {value}, not a finite number"));
            }
            let (vec, idx) = if let Some(i) = name.strip_prefix("X_") {
                (&mut x, i)
            } else if let Some(j) = name.strip_prefix("Y_") {
                (&mut y, j)
            } else {
                return Err(format!("'{name}' is neither X_i nor Y_j"));
            };
            let i: usize = idx
                .parse()
                .map_err(|_| format!("'{name}' has no index after its '_'"))?;
            if i > 10_000_000 {
                return Err(format!("index of '{name}' is implausibly large"));
            }
            if vec.len() <= i {
                vec.resize(i + 1, None);
            }
            vec[i] = Some(v);
            pairs += 1;
            k += 4;
        } else if tokens[k] == "(" || tokens[k] == ")" {
            k += 1;
        } else {
            return Err(format!(
                "unexpected '{}' outside a (NAME VALUE) pair",
                tokens[k]
            ));
        }
    }
    if pairs == 0 {
        return Err("no (X_i value) pairs".to_string());
    }
    Ok(Assignment { x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_read_back_exactly_and_look_like_reals() {
        for v in [0.0, 1.0, 0.1, 1e-7, 0.3 - 1e-17, -0.5, 123456.789, 5e-324] {
            let s = real(v);
            assert!(s.contains('.') && !s.contains('e'), "{s}");
            assert_eq!(s.parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn v1_property_has_the_mnist_fc_shape() {
        let b = Hyperbox::new(vec![0.0, 0.25], vec![0.5, 1.0]).unwrap();
        let p = property(Dialect::V1, &b, 1, 3, &[2], "test");
        assert!(p.starts_with("; test\n"));
        assert!(p.contains("(declare-const X_1 Real)"));
        assert!(p.contains("(declare-const Y_2 Real)"));
        assert!(p.contains("(assert (>= X_1 0.25))"));
        assert!(p.contains("(assert (<= X_0 0.5))"));
        assert!(p.contains("(assert (or\n    (and (>= Y_0 Y_1))\n    (and (>= Y_2 Y_1))\n))"));
        let two = property(Dialect::V1, &b, 0, 2, &[2], "t");
        assert!(two.contains("(assert (>= Y_1 Y_0))"));
    }

    #[test]
    fn v2_property_indexes_tensors_row_major() {
        let b = Hyperbox::new(vec![0.0; 6], vec![1.0; 6]).unwrap();
        let p = property(Dialect::V2, &b, 2, 3, &[1, 2, 3], "t");
        assert!(p.contains("(vnnlib-version <2.0>)"));
        assert!(p.contains("(declare-input X float32 [1, 2, 3])"));
        assert!(p.contains("(declare-output Y float32 [1, 3])"));
        assert!(p.contains("(assert (<= X[0,1,2] 1.0))"));
        assert!(p.contains("(>= Y[0,0] Y[0,2])"));
    }

    #[test]
    fn assignments_round_trip_and_tolerate_layouts() {
        let text = assignment(&[0.1, 1.0 / 3.0], &[2.5, -1.0]);
        assert!(text.starts_with("((X_0 0.1)\n (X_1 "));
        assert!(text.trim_end().ends_with("(Y_1 -1.0))"));
        let a = parse_assignment(&text).unwrap();
        assert_eq!(a.x, vec![Some(0.1), Some(1.0 / 3.0)]);
        assert_eq!(a.y, vec![Some(2.5), Some(-1.0)]);
        let loose = parse_assignment("(X_1 2) (X_0 1e-3)").unwrap();
        assert_eq!(loose.x, vec![Some(1e-3), Some(2.0)]);
        assert!(parse_assignment("((X_0 abc))").unwrap_err().contains("abc"));
        assert!(parse_assignment("((Z_0 1))").unwrap_err().contains("Z_0"));
        assert!(parse_assignment("").is_err());
        assert!(parse_assignment("((X_0 NaN))").is_err());
    }
}
