//! The formula language both dialects share: comparisons, `and`/`or`, and linear arithmetic
//! over the declared variables, read into [`Formula`]s of linear terms (a product of two
//! variables is refused, never approximated).

use super::*;

impl Reader<'_> {
    pub(super) fn formula(&self, e: &Sexpr) -> Result<Formula, PropertyError> {
        let (head, args) = self.list(e, "a formula: (and …), (or …) or a comparison")?;
        let pos = e.pos();
        match head {
            "and" => Ok(Formula::And(
                args.iter()
                    .map(|a| self.formula(a))
                    .collect::<Result<_, _>>()?,
            )),
            "or" => Ok(Formula::Or(
                args.iter()
                    .map(|a| self.formula(a))
                    .collect::<Result<_, _>>()?,
            )),
            "<=" | ">=" | "<" | ">" | "=" | "==" | "!=" => {
                if args.len() < 2 {
                    return Err(self.err(pos, format!("({head} …) compares at least two terms")));
                }
                let terms: Vec<Lin> = args
                    .iter()
                    .map(|a| self.term(a))
                    .collect::<Result<_, _>>()?;
                if head == "!=" && terms.len() != 2 {
                    return Err(self.err(pos, "(!= a b) compares exactly two terms"));
                }
                let atoms: Vec<Formula> = terms
                    .windows(2)
                    .zip(args.windows(2))
                    .map(|(w, src)| {
                        let (a, b) = (&w[0], &w[1]);
                        let (expr, rel) = match head {
                            "<=" => (sub(a, b), Rel::Le),
                            "<" => (sub(a, b), Rel::Lt),
                            ">=" => (sub(b, a), Rel::Le),
                            ">" => (sub(b, a), Rel::Lt),
                            "!=" => (sub(a, b), Rel::Ne),
                            _ => (sub(a, b), Rel::Eq),
                        };
                        Formula::Atom(Atom {
                            expr,
                            rel,
                            line: pos.line,
                            col: pos.col,
                            // This pair only: a chain `(<= a b c …)` becomes one atom per
                            // adjacent pair, and rendering the whole chain for each made
                            // its memory grow with the square of its length.
                            text: if args.len() == 2 {
                                render(e)
                            } else {
                                format!("({head} {} {})", render(&src[0]), render(&src[1]))
                            },
                        })
                    })
                    .collect();
                Ok(if atoms.len() == 1 {
                    atoms.into_iter().next().expect("one atom")
                } else {
                    Formula::And(atoms)
                })
            }
            "not" | "=>" | "xor" | "ite" => Err(self.unsupported(
                pos,
                format!(
                    "'{head}' is not supported: write the formula with and/or over comparisons"
                ),
            )),
            other => Err(self.err(
                pos,
                format!("unknown formula '{other}' (expected and, or, <=, >=, <, >, ==, !=)"),
            )),
        }
    }

    pub(super) fn term(&self, e: &Sexpr) -> Result<Lin, PropertyError> {
        match e {
            Sexpr::Atom(s, p) => {
                if starts_number(s) {
                    return Ok(Lin {
                        terms: Vec::new(),
                        constant: self.number(s, *p)?,
                    });
                }
                let (var, idx) = self.variable(s, *p)?;
                Ok(Lin {
                    terms: vec![(var, idx, 1.0)],
                    constant: 0.0,
                })
            }
            Sexpr::Str(_, p) => {
                Err(self.err(*p, "expected a number or a variable, found a string"))
            }
            Sexpr::List(items, p) => {
                let (head, args) = self.list(e, "an arithmetic term")?;
                let _ = items;
                let parts: Vec<Lin> = args
                    .iter()
                    .map(|a| self.term(a))
                    .collect::<Result<_, _>>()?;
                match (head, parts.len()) {
                    ("+", n) if n >= 1 => Ok(parts.iter().skip(1).fold(parts[0].clone(), |a, b| add(&a, b, 1.0))),
                    ("-", 1) => Ok(scale(&parts[0], -1.0)),
                    ("-", n) if n >= 2 => Ok(parts.iter().skip(1).fold(parts[0].clone(), |a, b| add(&a, b, -1.0))),
                    ("*", n) if n >= 1 => {
                        let mut acc = parts[0].clone();
                        for (b, arg) in parts.iter().skip(1).zip(&args[1..]) {
                            acc = if acc.terms.is_empty() {
                                scale(b, acc.constant)
                            } else if b.terms.is_empty() {
                                scale(&acc, b.constant)
                            } else {
                                return Err(self.unsupported(
                                    arg.pos(),
                                    "a product of two variables is not linear (theory POLY): ppnn decides linear properties exactly and refuses the rest",
                                ));
                            };
                        }
                        Ok(acc)
                    }
                    ("/", 2) if parts[1].terms.is_empty() && parts[1].constant != 0.0 => {
                        Ok(scale(&parts[0], 1.0 / parts[1].constant))
                    }
                    ("/", _) => Err(self.unsupported(*p, "division is supported only by a non-zero constant")),
                    (op @ ("+" | "-" | "*"), _) => Err(self.err(*p, format!("({op} …) needs operands"))),
                    (other, _) => Err(self.err(
                        *p,
                        format!("unknown arithmetic operator '{other}' (expected +, -, *, / or a comparison's operand)"),
                    )),
                }
            }
        }
    }

    pub(super) fn number(&self, s: &str, p: Pos) -> Result<f64, PropertyError> {
        if !is_number(s) {
            return Err(self.err(p, format!("'{s}' is not a number")));
        }
        let v: f64 = s
            .parse()
            .map_err(|_| self.err(p, format!("'{s}' is not a number")))?;
        if !v.is_finite() {
            return Err(self.err(p, format!("'{s}' is outside the range of double precision")));
        }
        Ok(v)
    }

    /// Resolves a variable reference to (variable index, flat element index).
    pub(super) fn variable(&self, s: &str, p: Pos) -> Result<(usize, usize), PropertyError> {
        match self.dialect {
            Dialect::V1 => {
                let (var, rest, list) = if let Some(r) = s.strip_prefix("X_") {
                    (0, r, &self.v1_inputs)
                } else if let Some(r) = s.strip_prefix("Y_") {
                    (1, r, &self.v1_outputs)
                } else {
                    return Err(self.err(
                        p,
                        format!("unknown variable '{s}' (VNN-LIB 1.0 has X_i and Y_j)"),
                    ));
                };
                let i = flat_index(rest)
                    .ok_or_else(|| self.err(p, format!("unknown variable '{s}'")))?;
                if !list.contains_key(&i) {
                    return Err(self.err(
                        p,
                        format!("'{s}' is used but not declared (declare-const {s} Real)"),
                    ));
                }
                Ok((var, i))
            }
            Dialect::V2 => {
                let (name, idx) = match s.find('[') {
                    Some(k) => (&s[..k], Some(&s[k..])),
                    None => (s, None),
                };
                let &v = self.by_name.get(name).ok_or_else(|| {
                    self.err(
                        p,
                        format!("unknown variable '{name}' (declare it in a declare-network)"),
                    )
                })?;
                let var = &self.variables[v];
                let idx: Vec<usize> = match idx {
                    None => Vec::new(),
                    Some(b) => {
                        let inner = b
                            .strip_prefix('[')
                            .and_then(|b| b.strip_suffix(']'))
                            .ok_or_else(|| self.err(p, format!("'{s}': expected NAME[i,j,…]")))?;
                        inner
                            .split(',')
                            .map(|d| {
                                let d = d.trim();
                                d.parse::<usize>()
                                    .ok()
                                    .filter(|_| d.bytes().all(|b| b.is_ascii_digit()))
                                    .ok_or_else(|| {
                                        self.err(p, format!("'{s}': '{d}' is not an index"))
                                    })
                            })
                            .collect::<Result<_, _>>()?
                    }
                };
                let flat = if idx.len() == 1 && var.shape.len() != 1 {
                    // A flat index into a tensor of higher rank (VNN-COMP style).
                    Some(idx[0]).filter(|&i| i < var.numel())
                } else if idx.len() == var.shape.len() {
                    let mut f = 0usize;
                    let mut ok = true;
                    for (&i, &d) in idx.iter().zip(&var.shape) {
                        // Checked before the product: an index past usize would overflow it.
                        if i >= d {
                            ok = false;
                            break;
                        }
                        f = f * d + i;
                    }
                    ok.then_some(f)
                } else {
                    None
                };
                let flat = flat.ok_or_else(|| {
                    self.err(
                        p,
                        format!(
                            "'{s}' is out of range or has the wrong number of indices for shape {:?}",
                            var.shape
                        ),
                    )
                })?;
                Ok((v, flat))
            }
        }
    }
}

/// An expression as text, lexemes exactly as written.
pub(super) fn render(e: &Sexpr) -> String {
    match e {
        Sexpr::Atom(s, _) => s.clone(),
        Sexpr::Str(s, _) => format!("\"{s}\""),
        Sexpr::List(items, _) => {
            let parts: Vec<String> = items.iter().map(render).collect();
            format!("({})", parts.join(" "))
        }
    }
}

pub(super) fn show(e: &Sexpr) -> String {
    match e {
        Sexpr::Atom(s, _) => s.clone(),
        Sexpr::Str(s, _) => format!("\"{s}\""),
        Sexpr::List(..) => "(…)".to_string(),
    }
}

pub(super) fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-')
        && !starts_number(s)
}

pub(super) fn starts_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
pub(super) fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let d0 = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - d0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f0;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e0 {
            return false;
        }
    }
    i == b.len()
}

pub(super) fn scale(a: &Lin, k: f64) -> Lin {
    Lin {
        terms: a.terms.iter().map(|&(v, i, c)| (v, i, c * k)).collect(),
        constant: a.constant * k,
    }
}

pub(super) fn add(a: &Lin, b: &Lin, k: f64) -> Lin {
    let mut out = a.clone();
    out.terms
        .extend(b.terms.iter().map(|&(v, i, c)| (v, i, c * k)));
    out.constant += k * b.constant;
    out
}

pub(super) fn sub(a: &Lin, b: &Lin) -> Lin {
    add(a, b, -1.0)
}
