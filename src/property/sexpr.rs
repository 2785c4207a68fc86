//! S-expressions with positions: the lexical layer shared by both VNN-LIB dialects.
//!
//! The reader is iterative (an explicit stack, no recursion) and refuses nesting deeper than
//! [`MAX_DEPTH`], so that a hostile file (100,000 open parentheses) is a clear error rather
//! than a stack overflow in the recursive passes that follow.

/// Deepest nesting accepted. Real properties nest a handful of levels (`assert`/`or`/`and`/
/// an atom/an arithmetic term); a few hundred covers any generated formula.
pub const MAX_DEPTH: usize = 512;

/// A position in the source (1-based line and column, in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Sexpr {
    /// A symbol or number lexeme, kept exactly as written (`X[0,1]`, `1e-3`, `<2.0>`).
    Atom(String, Pos),
    /// A double-quoted string (quotes removed).
    Str(String, Pos),
    /// `( … )`.
    List(Vec<Sexpr>, Pos),
}

impl Sexpr {
    /// Where the node starts.
    pub fn pos(&self) -> Pos {
        match self {
            Sexpr::Atom(_, p) | Sexpr::Str(_, p) | Sexpr::List(_, p) => *p,
        }
    }

    /// The lexeme of an atom.
    pub fn atom(&self) -> Option<&str> {
        match self {
            Sexpr::Atom(s, _) => Some(s),
            _ => None,
        }
    }
}

/// A lexical error: where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    /// Where.
    pub pos: Pos,
    /// What was expected or found.
    pub message: String,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == ';' || c == '"'
}

/// Reads every top-level expression of `text`.
pub fn parse(text: &str) -> Result<Vec<Sexpr>, LexError> {
    let mut cur = Cursor {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, col: 1 },
    };
    let mut top = Vec::new();
    // Open lists: their start and their items so far.
    let mut stack: Vec<(Pos, Vec<Sexpr>)> = Vec::new();
    while let Some(c) = cur.peek() {
        let start = cur.pos;
        let node = if c.is_whitespace() {
            cur.bump();
            continue;
        } else if c == ';' {
            while cur.peek().is_some_and(|c| c != '\n') {
                cur.bump();
            }
            continue;
        } else if c == '(' {
            cur.bump();
            if stack.len() >= MAX_DEPTH {
                return Err(LexError {
                    pos: start,
                    message: format!("expressions nested deeper than {MAX_DEPTH} levels"),
                });
            }
            stack.push((start, Vec::new()));
            continue;
        } else if c == ')' {
            cur.bump();
            let Some((p, items)) = stack.pop() else {
                return Err(LexError {
                    pos: start,
                    message: "')' without a matching '('".to_string(),
                });
            };
            Sexpr::List(items, p)
        } else if c == '"' {
            cur.bump();
            let mut s = String::new();
            loop {
                match cur.bump() {
                    None => {
                        return Err(LexError {
                            pos: start,
                            message: "unterminated string (expected a closing '\"')".to_string(),
                        })
                    }
                    Some('"') => break,
                    Some(ch) => s.push(ch),
                }
            }
            Sexpr::Str(s, start)
        } else {
            // A symbol; a bracketed part (`X[0, 1]`, `[2, 3]`) may contain spaces.
            let mut s = String::new();
            while let Some(ch) = cur.peek() {
                if ch == '[' {
                    while let Some(ch) = cur.bump() {
                        s.push(ch);
                        if ch == ']' {
                            break;
                        }
                        if ch == '(' || ch == ')' || ch == '\n' {
                            return Err(LexError {
                                pos: start,
                                message: "unterminated '[' (expected ']')".to_string(),
                            });
                        }
                    }
                    if !s.ends_with(']') {
                        return Err(LexError {
                            pos: start,
                            message: "unterminated '[' (expected ']')".to_string(),
                        });
                    }
                    continue;
                }
                if is_delimiter(ch) {
                    break;
                }
                s.push(ch);
                cur.bump();
            }
            Sexpr::Atom(s, start)
        };
        match stack.last_mut() {
            Some((_, items)) => items.push(node),
            None => top.push(node),
        }
    }
    if let Some((p, _)) = stack.pop() {
        return Err(LexError {
            pos: p,
            message: "'(' is never closed (the file ends first)".to_string(),
        });
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_comments_brackets_and_strings() {
        let t = parse("; c\n(a (b X[0, 1]) \"h i\")\n[2, 3]").unwrap();
        assert_eq!(t.len(), 2);
        let Sexpr::List(items, p) = &t[0] else {
            panic!()
        };
        assert_eq!(*p, Pos { line: 2, col: 1 });
        assert_eq!(items[0].atom(), Some("a"));
        let Sexpr::List(inner, _) = &items[1] else {
            panic!()
        };
        assert_eq!(inner[1].atom(), Some("X[0, 1]"));
        assert_eq!(items[2], Sexpr::Str("h i".into(), Pos { line: 2, col: 16 }));
        assert_eq!(t[1].atom(), Some("[2, 3]"));
    }

    #[test]
    fn unbalanced_and_deep_input_is_an_error() {
        let e = parse("(a (b)").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 1 });
        assert!(parse("a)").unwrap_err().message.contains("')'"));
        assert!(parse("\"abc").unwrap_err().message.contains("string"));
        assert!(parse("X[0").unwrap_err().message.contains("'['"));
        let deep = "(".repeat(100_000);
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
    }
}
