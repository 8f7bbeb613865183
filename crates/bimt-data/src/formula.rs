//! Regression data sampled from formulas the user types, such as
//! `"y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)"`.
//!
//! Expressions are checked here first, so that a mistake is explained in
//! the formula's terms (an unknown name, a missing operator, a parenthesis
//! left open), and then evaluated by the `exmex` crate, with a few small
//! additions: the constant `pi`, numbers in scientific notation (`1e-3`),
//! unary minus binding more loosely than `^` (`-x^2` is `-(x^2)`, as in
//! mathematics; `exmex` alone reads it as `(-x)^2`), and `min(a, b)`,
//! `max(a, b)`, `atan2(y, x)` nested in any argument (`exmex` alone refuses
//! one in the second argument of another).

use std::fmt;
use std::str::FromStr;

use exmex::{Express, FlatEx, FloatOpsFactory, MakeOperators, MatchLiteral, Operator};
use rand::Rng;

use crate::rng::seeded;
use crate::{DataError, Dataset, Split, Targets};

/// `exmex`'s float operators plus the constant `pi`.
#[derive(Debug, Clone)]
struct Ops;

impl MakeOperators<f64> for Ops {
    fn make<'a>() -> Vec<Operator<'a, f64>> {
        let mut ops = FloatOpsFactory::<f64>::make();
        ops.push(Operator::make_constant("pi", std::f64::consts::PI));
        ops
    }
}

/// Decimal numbers with an optional exponent: `2`, `2.5`, `.5`, `1e-3`,
/// `6.02E23` (`exmex`'s own matcher has no exponent).
#[derive(Debug, Clone)]
struct Number;

impl MatchLiteral for Number {
    fn is_literal(text: &str) -> Option<&str> {
        let b = text.as_bytes();
        let digits = |from: usize| {
            b.iter()
                .skip(from)
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let int = digits(0);
        let mut end = int;
        if b.get(end) == Some(&b'.') {
            let frac = digits(end + 1);
            if int == 0 && frac == 0 {
                return None;
            }
            end += 1 + frac;
        } else if int == 0 {
            return None;
        }
        if matches!(b.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
            let exp = digits(end + 1 + sign);
            if exp > 0 {
                end += 1 + sign + exp;
            }
        }
        Some(&text[..end])
    }
}

type Expr = FlatEx<f64, Ops, Number>;

/// One parsed `name = expression`.
#[derive(Debug, Clone)]
struct Parsed {
    /// The formula as written (trimmed).
    text: String,
    expr: Expr,
    /// For each variable of `expr` (in `exmex`'s order), its index in
    /// [`Formulas::inputs`].
    vars: Vec<usize>,
}

/// A parsed set of formulas `name = expression`, one per output.
///
/// Formulas are separated by `;` or new lines. Expressions support `+ - * /`,
/// `^` (power, left-associative: write `x^(2^3)` for a tower), unary minus
/// (binding more loosely than `^`: `-x^2 = -(x^2)`), parentheses, numbers
/// such as `2`, `0.5` or `1e-3`, the constants `pi` and `e` (also `PI`, `E`,
/// `π`, `TAU`, `τ`), and the functions `sin cos tan asin acos atan sinh cosh
/// tanh asinh acosh atanh exp log` (natural) `ln log2 log10 sqrt cbrt abs
/// signum floor ceil round trunc fract`, plus `min(a, b)`, `max(a, b)` and
/// `atan2(y, x)`; a function's argument is always in parentheses, and
/// `sin(x1)^2` is `(sin x1)^2`. Inputs are named `x1`, `x2`, `x3`, … (any of
/// them, without leading zeros); any other name is an error that lists the
/// known ones.
///
/// # Example
///
/// ```
/// use bimt_data::Formulas;
///
/// let f = Formulas::parse("y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)").unwrap();
/// assert_eq!(f.inputs(), ["x1", "x2", "x3", "x4"]);
/// assert_eq!(f.outputs(), ["y1", "y2"]);
/// let y = f.evaluate(&[1.0, 3.0, 1.0, 0.5]).unwrap();
/// assert!((y[0] - 8.0).abs() < 1e-12 && (y[1] - 10.0).abs() < 1e-12);
///
/// let data = f.sample(100, 20, (-1.0, 1.0), 0).unwrap();
/// assert_eq!((data.train.n, data.test.n, data.in_dim(), data.out_dim()), (100, 20, 4, 2));
/// ```
#[derive(Debug, Clone)]
pub struct Formulas {
    formulas: Vec<Parsed>,
    inputs: Vec<String>,
    outputs: Vec<String>,
}

impl Formulas {
    /// Parses formulas `name = expression` separated by `;` or new lines
    /// (empty pieces are skipped).
    ///
    /// # Errors
    ///
    /// A one-line [`DataError`] for empty text, a formula without `=`, an
    /// empty output name, a duplicated output name, an unknown name or
    /// function (listing the known ones), any other mistake in an expression
    /// (quoting the formula and saying what is missing or unexpected, such
    /// as `'2x1': write 2*x1`), an output name used as an input variable, or
    /// formulas without any input variable.
    pub fn parse(text: &str) -> Result<Self, DataError> {
        let mut pieces: Vec<(&str, &str)> = Vec::new();
        let mut outputs: Vec<String> = Vec::new();
        for piece in text.split([';', '\n']).map(str::trim) {
            if piece.is_empty() {
                continue;
            }
            let Some((name, rhs)) = piece.split_once('=') else {
                return Err(DataError::FormulaNoEquals {
                    formula: piece.to_string(),
                });
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(DataError::FormulaEmptyName {
                    formula: piece.to_string(),
                });
            }
            if outputs.iter().any(|o| o == name) {
                return Err(DataError::FormulaDuplicateOutput {
                    name: name.to_string(),
                });
            }
            outputs.push(name.to_string());
            pieces.push((piece, rhs));
        }
        if pieces.is_empty() {
            return Err(DataError::FormulaEmpty);
        }
        let known = Known::new();
        let mut formulas = Vec::with_capacity(pieces.len());
        for (piece, rhs) in pieces {
            let rewritten = known.check(piece, rhs, &outputs)?;
            let expr = Expr::parse(&rewritten).map_err(|e| DataError::FormulaSyntax {
                formula: piece.to_string(),
                message: e.msg().replace('\n', " "),
            })?;
            formulas.push((piece.to_string(), expr));
        }

        let mut inputs: Vec<String> = Vec::new();
        for (_, expr) in &formulas {
            for var in expr.var_names() {
                if !inputs.contains(var) {
                    inputs.push(var.clone());
                }
            }
        }
        inputs.sort_by_key(|name| input_number(name));
        if inputs.is_empty() {
            return Err(DataError::FormulaNoInputs);
        }
        let formulas = formulas
            .into_iter()
            .map(|(text, expr)| {
                let vars = expr
                    .var_names()
                    .iter()
                    .map(|v| inputs.iter().position(|i| i == v).unwrap_or_default())
                    .collect();
                Parsed { text, expr, vars }
            })
            .collect();
        Ok(Formulas {
            formulas,
            inputs,
            outputs,
        })
    }

    /// Input variable names, by number (`x1, x2, …, x10`), found in the
    /// right-hand sides.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// Output names (the left-hand sides) in the order written.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// Evaluates every output at one input point (values in
    /// [`Formulas::inputs`] order). Results may be NaN or infinite (for
    /// example `log` of a negative number).
    ///
    /// # Errors
    ///
    /// [`DataError::FormulaArity`] unless `x` has one value per input, and
    /// [`DataError::FormulaEval`] if the evaluator fails.
    pub fn evaluate(&self, x: &[f64]) -> Result<Vec<f64>, DataError> {
        if x.len() != self.inputs.len() {
            return Err(DataError::FormulaArity {
                expected: self.inputs.len(),
                names: self.inputs.join(", "),
                found: x.len(),
            });
        }
        let mut values = Vec::new();
        self.formulas
            .iter()
            .map(|f| {
                values.clear();
                values.extend(f.vars.iter().map(|&i| x[i]));
                f.expr.eval(&values).map_err(|e| DataError::FormulaEval {
                    formula: f.text.clone(),
                    message: e.msg().replace('\n', " "),
                })
            })
            .collect()
    }

    /// `train` + `test` samples with inputs drawn uniformly from
    /// `[range.0, range.1)` by a `ChaCha8Rng` seeded with `seed` (training
    /// rows first, then test rows, from one stream). Inputs are rounded to
    /// `f32` before the formulas are evaluated, so the stored targets are
    /// exactly the formulas' values (rounded to `f32`) at the stored inputs.
    ///
    /// `input_names` are [`Formulas::inputs`], `output_names`
    /// [`Formulas::outputs`].
    ///
    /// # Errors
    ///
    /// [`DataError::FormulaRange`] unless both ends are finite and
    /// `range.0 < range.1`; [`DataError::FormulaNonFinite`], naming the
    /// formula and the input point, when an output is NaN, infinite or too
    /// large for `f32`.
    pub fn sample(
        &self,
        train: usize,
        test: usize,
        range: (f64, f64),
        seed: u64,
    ) -> Result<Dataset, DataError> {
        let (lo, hi) = range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(DataError::FormulaRange { lo, hi });
        }
        let mut rng = seeded(seed);
        let train = self.sample_split(train, lo, hi, &mut rng)?;
        let test = self.sample_split(test, lo, hi, &mut rng)?;
        Ok(Dataset {
            train,
            test,
            input_names: self.inputs.clone(),
            output_names: self.outputs.clone(),
            rows_per_sample: 1,
        })
    }

    fn sample_split(
        &self,
        n: usize,
        lo: f64,
        hi: f64,
        rng: &mut impl Rng,
    ) -> Result<Split, DataError> {
        let d = self.inputs.len();
        let k = self.outputs.len();
        let mut inputs = Vec::with_capacity(n * d);
        let mut values = Vec::with_capacity(n * k);
        let mut x = vec![0.0f64; d];
        for _ in 0..n {
            for xi in x.iter_mut() {
                let v = (lo + (hi - lo) * rng.random::<f64>()) as f32;
                inputs.push(v);
                *xi = f64::from(v);
            }
            for (y, f) in self.evaluate(&x)?.into_iter().zip(&self.formulas) {
                if !y.is_finite() || !(y as f32).is_finite() {
                    return Err(DataError::FormulaNonFinite {
                        formula: f.text.clone(),
                        value: y,
                        point: self
                            .inputs
                            .iter()
                            .zip(&x)
                            .map(|(name, v)| format!("{name} = {v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                }
                values.push(y as f32);
            }
        }
        Ok(Split {
            inputs,
            n,
            in_dim: d,
            targets: Targets::Regression { values, dim: k },
        })
    }
}

impl FromStr for Formulas {
    type Err = DataError;

    /// Same as [`Formulas::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Formulas::parse(s)
    }
}

impl fmt::Display for Formulas {
    /// The formulas as written, joined by `"; "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let texts: Vec<&str> = self.formulas.iter().map(|p| p.text.as_str()).collect();
        f.write_str(&texts.join("; "))
    }
}

/// The number of an input name `x1`, `x2`, … (no leading zeros).
fn input_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('x')?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `c` may be part of a name, as `exmex` reads names (Latin or Greek
/// letters, `_`, and digits after the first character).
fn is_name_char(c: char, first: bool) -> bool {
    c.is_ascii_alphabetic()
        || c == '_'
        || ('α'..='ω').contains(&c)
        || ('Α'..='Ω').contains(&c)
        || (!first && c.is_ascii_digit())
}

/// What a piece of an expression is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A number, a constant or an input.
    Value,
    /// A function of one argument (`sin`).
    Function,
    /// A function of two arguments (`min`), written `min(a, b)`.
    Pair,
    /// `+ - * / ^`.
    Op(char),
    Open,
    Close,
    Comma,
}

/// One piece of an expression and where it starts in the right-hand side.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    at: usize,
}

/// An open parenthesis, and the function it belongs to.
enum Frame<'a> {
    Group,
    Function,
    Pair { name: &'a str, commas: usize },
}

/// The names an expression may use besides inputs, read from [`Ops`] so
/// that they are the evaluator's own.
struct Known {
    /// Functions of one argument.
    functions: Vec<&'static str>,
    /// Functions of two arguments, written `min(a, b)`.
    pairs: Vec<&'static str>,
    constants: Vec<&'static str>,
}

impl Known {
    fn new() -> Self {
        let ops = <Ops as MakeOperators<f64>>::make();
        let named = |op: &Operator<'static, f64>| op.repr().chars().all(|c| is_name_char(c, false));
        let mut constants: Vec<&str> = ops
            .iter()
            .filter(|op| op.constant().is_some())
            .map(Operator::repr)
            .collect();
        // `pi` and `e` first: the spellings a user most likely means.
        constants.sort_by_key(|c| !c.bytes().all(|b| b.is_ascii_lowercase()));
        Known {
            functions: ops
                .iter()
                .filter(|op| named(op) && op.has_unary() && !op.has_bin())
                .map(Operator::repr)
                .collect(),
            pairs: ops
                .iter()
                .filter(|op| named(op) && op.has_bin())
                .map(Operator::repr)
                .collect(),
            constants,
        }
    }

    /// Every function, as the user writes it: `sin, …, min(a, b)`.
    fn function_list(&self) -> String {
        let pairs = self.pairs.iter().map(|p| format!("{p}(a, b)"));
        let all: Vec<String> = self
            .functions
            .iter()
            .map(|f| f.to_string())
            .chain(pairs)
            .collect();
        all.join(", ")
    }

    /// ` (did you mean 'sin'?)` when a known name is at most one edit per
    /// three characters away from `name`, or `name` is an input in capitals
    /// (`X1`); else empty.
    fn suggestion(&self, name: &str, functions_only: bool) -> String {
        let lower = name.to_lowercase();
        if !functions_only && input_number(&lower).is_some() {
            return format!(" (did you mean '{lower}'?)");
        }
        let mut candidates: Vec<&str> = self.functions.iter().chain(&self.pairs).copied().collect();
        if !functions_only {
            candidates.extend(&self.constants);
        }
        candidates
            .into_iter()
            .map(|c| (edit_distance(name, c), c))
            .filter(|&(d, _)| 3 * d <= name.chars().count())
            .min_by_key(|&(d, _)| d)
            .map_or_else(String::new, |(_, c)| format!(" (did you mean '{c}'?)"))
    }

    /// The tokens of `rhs`, each name checked: an input, a constant or a
    /// function, else an error naming it.
    fn tokens<'a>(
        &self,
        formula: &str,
        rhs: &'a str,
        outputs: &[String],
    ) -> Result<Vec<Token<'a>>, DataError> {
        let syntax = |message: String| DataError::FormulaSyntax {
            formula: formula.to_string(),
            message,
        };
        let mut tokens = Vec::new();
        let mut at = 0;
        while let Some(c) = rhs[at..].chars().next() {
            let rest = &rhs[at..];
            if c.is_whitespace() {
                at += c.len_utf8();
                continue;
            }
            let (kind, len) = if let Some(number) = Number::is_literal(rest) {
                (Kind::Value, number.len())
            } else if is_name_char(c, true) {
                let len = rest
                    .char_indices()
                    .find(|&(_, c)| !is_name_char(c, false))
                    .map_or(rest.len(), |(i, _)| i);
                let name = &rest[..len];
                let called = rest[len..].trim_start().starts_with('(');
                let kind = if self.functions.contains(&name) {
                    Kind::Function
                } else if self.pairs.contains(&name) {
                    Kind::Pair
                } else if outputs.iter().any(|o| o == name) {
                    return Err(DataError::FormulaOutputAsInput {
                        name: name.to_string(),
                    });
                } else if self.constants.contains(&name) || input_number(name).is_some() {
                    Kind::Value
                } else if called {
                    return Err(DataError::FormulaUnknownFunction {
                        formula: formula.to_string(),
                        name: name.to_string(),
                        hint: self.suggestion(name, true),
                        functions: self.function_list(),
                    });
                } else {
                    return Err(DataError::FormulaUnknownName {
                        formula: formula.to_string(),
                        name: name.to_string(),
                        hint: self.suggestion(name, false),
                        constants: self.constants.join(", "),
                        functions: self.function_list(),
                    });
                };
                (kind, len)
            } else {
                let kind = match c {
                    '+' | '-' | '*' | '/' | '^' => Kind::Op(c),
                    '(' => Kind::Open,
                    ')' => Kind::Close,
                    ',' => Kind::Comma,
                    '=' => {
                        return Err(syntax(
                            "unexpected character '=': a formula has one `=`, with its output \
                             name on the left"
                                .into(),
                        ));
                    }
                    _ => return Err(syntax(format!("unexpected character '{c}'"))),
                };
                (kind, c.len_utf8())
            };
            tokens.push(Token {
                kind,
                text: &rest[..len],
                at,
            });
            at += len;
        }
        Ok(tokens)
    }

    /// Checks the right-hand side `rhs` of `formula` and returns it as
    /// `exmex` should read it: unary minus as a factor `(-1)*` (so that it
    /// binds more loosely than `^`, but not after `^`: `2^-x1`), unary plus
    /// dropped, and `min(a, b)` as `((a)min(b))`.
    fn check(&self, formula: &str, rhs: &str, outputs: &[String]) -> Result<String, DataError> {
        let syntax = |message: String| DataError::FormulaSyntax {
            formula: formula.to_string(),
            message,
        };
        let tokens = self.tokens(formula, rhs, outputs)?;
        let mut out = String::with_capacity(rhs.len() + 8);
        let mut frames: Vec<Frame> = Vec::new();
        let mut expect_value = true;
        let mut prev: Option<Token> = None;
        let mut i = 0;
        while i <= tokens.len() {
            let token = tokens.get(i).copied();
            i += 1;
            let Some(token) = token else {
                if expect_value {
                    return Err(syntax(missing_value(prev, None)));
                }
                if !frames.is_empty() {
                    return Err(syntax(format!(
                        "a ')' is missing ({} '(' not closed)",
                        frames.len()
                    )));
                }
                break;
            };
            let starts_value = matches!(
                token.kind,
                Kind::Value | Kind::Function | Kind::Pair | Kind::Open
            );
            if starts_value && !expect_value {
                let prev = prev.expect("a value came before");
                let excerpt = &rhs[prev.at..token.at + token.text.len()];
                return Err(syntax(format!(
                    "'{excerpt}': write {}*{}",
                    prev.text, token.text
                )));
            }
            match token.kind {
                Kind::Value => {
                    out.push_str(token.text);
                    expect_value = false;
                }
                Kind::Function | Kind::Pair => {
                    if tokens.get(i).map(|t| t.kind) != Some(Kind::Open) {
                        return Err(syntax(format!(
                            "'{0}' needs parentheses: write {0}(...)",
                            token.text
                        )));
                    }
                    i += 1;
                    if token.kind == Kind::Function {
                        out.push_str(token.text);
                        out.push('(');
                        frames.push(Frame::Function);
                    } else {
                        out.push_str("((");
                        frames.push(Frame::Pair {
                            name: token.text,
                            commas: 0,
                        });
                    }
                    // What follows comes after the parenthesis.
                    prev = tokens.get(i - 1).copied();
                    continue;
                }
                Kind::Open => {
                    out.push('(');
                    frames.push(Frame::Group);
                }
                Kind::Op(c) if expect_value => match (c, prev.map(|p| p.kind)) {
                    ('-', Some(Kind::Op('^'))) => out.push('-'),
                    ('-', Some(Kind::Op('/'))) => out.push_str("(-1)/"),
                    ('-', _) => out.push_str("(-1)*"),
                    ('+', _) => {}
                    _ => return Err(syntax(missing_value(prev, Some(token)))),
                },
                Kind::Op(c) => {
                    out.push(c);
                    expect_value = true;
                }
                Kind::Close | Kind::Comma if expect_value => {
                    return Err(syntax(missing_value(prev, Some(token))));
                }
                Kind::Close => match frames.pop() {
                    None => return Err(syntax("')' has no matching '('".into())),
                    Some(Frame::Pair { name, commas }) if commas != 1 => {
                        return Err(syntax(pair_arity(name)));
                    }
                    Some(Frame::Pair { .. }) => out.push_str("))"),
                    Some(Frame::Group | Frame::Function) => out.push(')'),
                },
                Kind::Comma => match frames.last_mut() {
                    Some(Frame::Pair { name, commas }) => {
                        if *commas > 0 {
                            return Err(syntax(pair_arity(name)));
                        }
                        *commas = 1;
                        out.push(')');
                        out.push_str(name);
                        out.push('(');
                        expect_value = true;
                    }
                    _ => {
                        let pairs: Vec<String> =
                            self.pairs.iter().map(|p| format!("{p}(a, b)")).collect();
                        return Err(syntax(format!(
                            "',' only separates the two values of {}",
                            pairs.join(", ")
                        )));
                    }
                },
            }
            prev = Some(token);
        }
        Ok(out)
    }
}

/// The message for a value missing between `prev` and `next` (`None`: the
/// start or the end of the expression).
fn missing_value(prev: Option<Token>, next: Option<Token>) -> String {
    match (prev.map(|p| p.kind), next.map(|n| n.kind)) {
        (Some(Kind::Op('*')), Some(Kind::Op('*'))) => {
            "'**' is not an operator: write x1^2 for a power".into()
        }
        (Some(Kind::Op(c)), _) => format!("a value is missing after '{c}'"),
        (Some(Kind::Open), Some(Kind::Close)) => "empty parentheses '()'".into(),
        (_, Some(_)) => format!(
            "a value is missing before '{}'",
            next.map_or("", |n| n.text)
        ),
        (Some(_), None) => format!("a value is missing after '{}'", prev.map_or("", |p| p.text)),
        (None, None) => "nothing right of `=`".into(),
    }
}

/// The message for a two-argument function given another number of values.
fn pair_arity(name: &str) -> String {
    format!("'{name}' takes two values: write {name}(a, b)")
}

/// Levenshtein distance between two names, counted in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{E, PI};

    fn eval1(rhs: &str, x: &[f64]) -> f64 {
        let f = Formulas::parse(&format!("y = {rhs}")).unwrap_or_else(|e| panic!("{rhs}: {e}"));
        f.evaluate(x).unwrap()[0]
    }

    fn err(text: &str) -> String {
        let msg = Formulas::parse(text).unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");
        msg
    }

    #[test]
    fn paper_formula_inputs_outputs_and_values() {
        let f = Formulas::parse("y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)").unwrap();
        assert_eq!(f.inputs(), ["x1", "x2", "x3", "x4"]);
        assert_eq!(f.outputs(), ["y1", "y2"]);
        let x = [0.3, -0.7, 0.45, 0.2];
        let y = f.evaluate(&x).unwrap();
        let want = [(x[0] + x[2]).powi(3), x[1] * x[1] + (PI * x[3]).sin()];
        assert!((y[0] - want[0]).abs() < 1e-12, "{y:?} vs {want:?}");
        assert!((y[1] - want[1]).abs() < 1e-12, "{y:?} vs {want:?}");
        assert_eq!(f.to_string(), "y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)");
        let err = f.evaluate(&[1.0]).unwrap_err().to_string();
        assert!(
            err.contains("expected 4 input values (x1, x2, x3, x4), found 1"),
            "{err}"
        );
    }

    #[test]
    fn inputs_are_sorted_by_number() {
        let f = Formulas::parse("y = x10 + x2").unwrap();
        assert_eq!(f.inputs(), ["x2", "x10"]);
        assert_eq!(f.evaluate(&[1.0, 10.0]).unwrap(), [11.0]);
        let f: Formulas = "a = x10*x3 + x9 - x1\nc = x3 * x100".parse().unwrap();
        assert_eq!(f.inputs(), ["x1", "x3", "x9", "x10", "x100"]);
        assert_eq!(f.outputs(), ["a", "c"]);
        assert_eq!(
            f.evaluate(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap(),
            [10.0, 10.0]
        );
    }

    #[test]
    fn operators_constants_and_functions() {
        let x = 0.7;
        let cases: [(&str, f64); 25] = [
            ("x1^2", x * x),
            ("-x1^2", -x * x),
            ("2*-x1^2", -2.0 * x * x),
            ("1/-x1^2", -1.0 / (x * x)),
            ("1 - -x1", 1.0 + x),
            ("1 - +x1", 1.0 - x),
            ("(-x1)^2", x * x),
            ("exp(-x1^2/2)", (-x * x / 2.0).exp()),
            ("2^-x1", 2f64.powf(-x)),
            ("1e-3 * x1 + 2.5E2", 1e-3 * x + 250.0),
            (".5*x1", 0.5 * x),
            ("1.e1 * x1", 10.0 * x),
            ("pi + e + 0*x1", PI + E),
            ("e*x1 - 1", E * x - 1.0),
            ("sin(x1) + cos(x1) + tan(x1)", x.sin() + x.cos() + x.tan()),
            ("exp(x1) * log(x1)", x.exp() * x.ln()),
            ("sqrt(x1) - abs(-x1) + tanh(x1)", x.sqrt() - x + x.tanh()),
            ("x1 / 2 * 3", x / 2.0 * 3.0),
            ("x1 - 1 - 2 + 3", x - 1.0 - 2.0 + 3.0),
            ("(x1 + 1) * (x1 - 1)", (x + 1.0) * (x - 1.0)),
            ("max(x1, 0.5) + min(x1, 0.5)", 1.2),
            ("\tx1\t* 3", 3.0 * x),
            ("max(0.1, min(x1, -x1 + 2))", x),
            ("min(max(x1, 0), max(1, x1)) * 2", 2.0 * x),
            ("atan2(-x1, min(1, 2)) + 1", (-x).atan2(1.0) + 1.0),
        ];
        for (rhs, want) in cases {
            let got = eval1(rhs, &[x]);
            assert!((got - want).abs() < 1e-12, "{rhs}: got {got}, want {want}");
        }
    }

    #[test]
    fn number_literals() {
        let m = |t| Number::is_literal(t);
        assert_eq!(m("12+x"), Some("12"));
        assert_eq!(m("2.5*x"), Some("2.5"));
        assert_eq!(m(".5)"), Some(".5"));
        assert_eq!(m("1.e3"), Some("1.e3"));
        assert_eq!(m("1e-3*x"), Some("1e-3"));
        assert_eq!(m("6.02E+23"), Some("6.02E+23"));
        assert_eq!(m("2e"), Some("2"));
        assert_eq!(m("2ex"), Some("2"));
        assert_eq!(m("."), None);
        assert_eq!(m("x1"), None);
    }

    #[test]
    fn parse_errors_are_one_line_and_specific() {
        assert!(err("").contains("no formula given"));
        assert!(err(" ; \n ;").contains("no formula given"));
        let msg = err("y1 = x1; x2 + 1");
        assert!(msg.contains("\"x2 + 1\" has no `=`"), "{msg}");
        let msg = err(" = x1");
        assert!(msg.contains("no output name"), "{msg}");
        let msg = err("y = x1; y = x2");
        assert!(msg.contains("\"y\" is defined twice"), "{msg}");
        let msg = err("y1 = x1; y2 = y1^2");
        assert!(msg.contains("\"y1\" is both an output"), "{msg}");
        let msg = err("x1 = x1^2");
        assert!(msg.contains("\"x1\" is both an output"), "{msg}");
        let msg = err("y = 2 * pi");
        assert!(msg.contains("no input variable"), "{msg}");
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_known_ones() {
        for (text, name) in [
            ("y1 = x1 + z + x2", "z"),
            ("y = x0 + x1", "x0"),
            ("y = x01", "x01"),
            ("y = X1", "X1"),
            ("y = x_1 + x2", "x_1"),
            ("y = pix1", "pix1"),
        ] {
            let msg = err(text);
            assert!(msg.contains(&format!("{text:?}")), "{text}: {msg}");
            assert!(msg.contains(&format!("unknown name '{name}'")), "{msg}");
            assert!(msg.contains("inputs are named x1, x2, x3"), "{msg}");
            assert!(
                msg.contains("pi") && msg.contains("sqrt") && msg.contains("min(a, b)"),
                "{msg}"
            );
        }
        let msg = err("y = X1");
        assert!(msg.contains("did you mean 'x1'"), "{msg}");
        let msg = err("y = pii*x1");
        assert!(msg.contains("did you mean 'pi'"), "{msg}");
        let msg = err("y = z");
        assert!(!msg.contains("did you mean"), "{msg}");
    }

    #[test]
    fn typos_are_explained_in_the_formula_s_terms() {
        let cases: [(&str, &[&str]); 22] = [
            (
                "y = sinn(x1)",
                &[
                    "unknown function 'sinn'",
                    "did you mean 'sin'",
                    "sqrt, cbrt",
                ],
            ),
            (
                "y = sqr(x1) + 1",
                &["unknown function 'sqr'", "did you mean 'sqrt'"],
            ),
            ("y = 2x1", &["'2x1': write 2*x1"]),
            ("y = 3 x1 + 1", &["'3 x1': write 3*x1"]),
            ("y = 2sin(x1)", &["'2sin': write 2*sin"]),
            ("y = x1 x2", &["'x1 x2': write x1*x2"]),
            ("y = 2(x1 + 1)", &["'2(': write 2*("]),
            ("y = (x1 + 1)(x2 - 1)", &["')(': write )*("]),
            ("y = sin x1", &["'sin' needs parentheses: write sin(...)"]),
            ("y = x1**2", &["'**'", "write x1^2"]),
            ("y = x1 +", &["a value is missing after '+'"]),
            ("y = x1 + * x2", &["a value is missing after '+'"]),
            ("y = * x1", &["a value is missing before '*'"]),
            ("y = (x1", &["a ')' is missing"]),
            ("y = sin(x1 + (x2)", &["a ')' is missing"]),
            ("y = x1)", &["')' has no matching '('"]),
            ("y = ()", &["empty parentheses"]),
            ("y = min(x1)", &["'min' takes two values: write min(a, b)"]),
            ("y = max(x1, x2, x3)", &["'max' takes two values"]),
            (
                "y = (x1, x2)",
                &["',' only separates the two values of", "min(a, b)"],
            ),
            ("y = x1 % 2", &["unexpected character '%'"]),
            ("y = x1 == 1", &["unexpected character '='", "one `=`"]),
        ];
        for (text, wanted) in cases {
            let msg = err(text);
            assert!(msg.contains(&format!("{text:?}")), "{text}: {msg}");
            for want in wanted {
                assert!(msg.contains(want), "{text}: {msg} (wanted {want:?})");
            }
            for internal in ["wlog", "node", "mismatch", "Operator", "Paren", "we have"] {
                assert!(!msg.contains(internal), "{text}: {msg}");
            }
        }
        for (text, want) in [("y =", "nothing right of `=`"), ("y = {x1}", "'{'")] {
            let msg = err(text);
            assert!(msg.contains(want), "{text}: {msg}");
        }
    }

    #[test]
    fn sample_is_seeded_and_in_range() {
        let f = Formulas::parse("y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)").unwrap();
        let a = f.sample(50, 10, (-2.0, 3.0), 5).unwrap();
        assert_eq!(a, f.sample(50, 10, (-2.0, 3.0), 5).unwrap());
        let b = f.sample(50, 10, (-2.0, 3.0), 6).unwrap();
        assert_ne!(a.train.inputs, b.train.inputs);
        assert_eq!(a.input_names, ["x1", "x2", "x3", "x4"]);
        assert_eq!(a.output_names, ["y1", "y2"]);
        assert_eq!(
            (a.train.n, a.test.n, a.in_dim(), a.out_dim()),
            (50, 10, 4, 2)
        );
        assert_eq!(a.train.inputs.len(), 200);
        for split in [&a.train, &a.test] {
            assert!(split.inputs.iter().all(|&v| (-2.0..3.0).contains(&v)));
            for i in 0..split.n {
                let x: Vec<f64> = split.row(i).iter().map(|&v| f64::from(v)).collect();
                let want = f.evaluate(&x).unwrap();
                let got = split.target_row(i).unwrap();
                assert_eq!(got, [want[0] as f32, want[1] as f32]);
            }
        }
        // The test split differs from the training split (one stream).
        assert_ne!(a.train.row(0), a.test.row(0));
    }

    #[test]
    fn sample_errors() {
        let f = Formulas::parse("y = log(x1)").unwrap();
        let msg = f.sample(100, 0, (-1.0, 1.0), 0).unwrap_err().to_string();
        assert!(
            msg.contains("formula \"y = log(x1)\" gives NaN at x1 = -"),
            "{msg}"
        );
        assert!(f.sample(100, 10, (0.5, 2.0), 0).is_ok());
        for range in [
            (1.0, 1.0),
            (2.0, 1.0),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ] {
            let msg = f.sample(1, 1, range, 0).unwrap_err().to_string();
            assert!(msg.contains("bad input range"), "{msg}");
        }
        let big = Formulas::parse("y = exp(x1)").unwrap();
        let msg = big
            .sample(10, 0, (100.0, 200.0), 0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a finite 32-bit float"), "{msg}");
    }
}
