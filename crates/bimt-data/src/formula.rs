//! Regression data sampled from formulas the user types, such as
//! `"y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)"`.
//!
//! Expressions are parsed and evaluated by the `exmex` crate, with three
//! small additions: the constant `pi`, numbers in scientific notation
//! (`1e-3`), and unary minus binding more loosely than `^` (`-x^2` is
//! `-(x^2)`, as in mathematics; `exmex` alone reads it as `(-x)^2`).

use std::cmp::Ordering;
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
/// `atan2(y, x)`. Functions are applied to their argument before any binary
/// operator: write `sin(x)`, and `sin(x)^2` is `(sin x)^2`. Any other
/// identifier is an input variable.
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
    /// empty output name, a duplicated output name, a syntax error in an
    /// expression (quoting the formula and the parser's message), an output
    /// name used as an input variable, or formulas without any input
    /// variable.
    pub fn parse(text: &str) -> Result<Self, DataError> {
        let mut formulas = Vec::new();
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
            let syntax = |message: String| DataError::FormulaSyntax {
                formula: piece.to_string(),
                message: message.replace('\n', " "),
            };
            let rhs = rewrite_unary_minus(rhs).map_err(syntax)?;
            let expr = Expr::parse(&rhs).map_err(|e| syntax(e.msg().to_string()))?;
            outputs.push(name.to_string());
            formulas.push((piece.to_string(), expr));
        }
        if formulas.is_empty() {
            return Err(DataError::FormulaEmpty);
        }

        let mut inputs: Vec<String> = Vec::new();
        for (_, expr) in &formulas {
            for var in expr.var_names() {
                if !inputs.contains(var) {
                    inputs.push(var.clone());
                }
            }
        }
        inputs.sort_by(|a, b| natural_cmp(a, b));
        if let Some(name) = outputs.iter().find(|o| inputs.contains(o)) {
            return Err(DataError::FormulaOutputAsInput { name: name.clone() });
        }
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

    /// Input variable names, sorted naturally (`x1, x2, …, x10`), found in
    /// the right-hand sides.
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

/// Rewrites every unary minus (one at the start, after `(`, `,` or a binary
/// operator) so that it binds more loosely than `^`, as in mathematics:
/// `-x^2` becomes `(-1)*x^2` and `a/-x^2` becomes `a/(-1)/x^2`. A minus
/// right after `^` is left alone (`2^-x` stays `2^(-x)`). `exmex` would
/// otherwise read `-x^2` as `(-x)^2`. Tabs become spaces (`exmex` only
/// skips spaces); braces (`exmex`'s quoted variable names) are refused.
fn rewrite_unary_minus(rhs: &str) -> Result<String, String> {
    if rhs.contains(['{', '}']) {
        return Err("braces are not supported".to_string());
    }
    let mut out = String::with_capacity(rhs.len() + 8);
    let mut prev: Option<char> = None;
    for c in rhs.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if c == '-' {
            match prev {
                None | Some('(' | ',' | '+' | '-' | '*') => out.push_str("(-1)*"),
                Some('/') => out.push_str("(-1)/"),
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
        if c != ' ' {
            prev = Some(c);
        }
    }
    Ok(out)
}

/// Natural order: runs of ASCII digits compare as numbers, so `x2 < x10`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(ca), Some(cb)) if ca.is_ascii_digit() && cb.is_ascii_digit() => {
                let na = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let nb = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (da, db) = (&a[..na], &b[..nb]);
                let (ta, tb) = (da.trim_start_matches('0'), db.trim_start_matches('0'));
                let ord = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| da.len().cmp(&db.len()));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(ca), Some(cb)) => {
                if ca != cb {
                    return ca.cmp(&cb);
                }
                (a, b) = (&a[ca.len_utf8()..], &b[cb.len_utf8()..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{E, PI};

    fn eval1(rhs: &str, x: &[f64]) -> f64 {
        let f = Formulas::parse(&format!("y = {rhs}")).unwrap();
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
    fn inputs_are_sorted_naturally() {
        let f = Formulas::parse("y = x10 + x2").unwrap();
        assert_eq!(f.inputs(), ["x2", "x10"]);
        assert_eq!(f.evaluate(&[1.0, 10.0]).unwrap(), [11.0]);
        let f: Formulas = "a = x10*b + x9 - x1\nc = b2 * x09".parse().unwrap();
        assert_eq!(f.inputs(), ["b", "b2", "x1", "x9", "x09", "x10"]);
        assert_eq!(f.outputs(), ["a", "c"]);
        assert_eq!(natural_cmp("x2", "x10"), Ordering::Less);
        assert_eq!(natural_cmp("x10", "x10"), Ordering::Equal);
        assert_eq!(natural_cmp("y1", "x2"), Ordering::Greater);
    }

    #[test]
    fn operators_constants_and_functions() {
        let x = 0.7;
        let cases: [(&str, f64); 21] = [
            ("x^2", x * x),
            ("-x^2", -x * x),
            ("2*-x^2", -2.0 * x * x),
            ("1/-x^2", -1.0 / (x * x)),
            ("1 - -x", 1.0 + x),
            ("(-x)^2", x * x),
            ("exp(-x^2/2)", (-x * x / 2.0).exp()),
            ("2^-x", 2f64.powf(-x)),
            ("1e-3 * x + 2.5E2", 1e-3 * x + 250.0),
            (".5*x", 0.5 * x),
            ("1.e1 * x", 10.0 * x),
            ("pi + e + 0*x", PI + E),
            ("e*x - 1", E * x - 1.0),
            ("sin(x) + cos(x) + tan(x)", x.sin() + x.cos() + x.tan()),
            ("exp(x) * log(x)", x.exp() * x.ln()),
            ("sqrt(x) - abs(-x) + tanh(x)", x.sqrt() - x + x.tanh()),
            ("x / 2 * 3", x / 2.0 * 3.0),
            ("x - 1 - 2 + 3", x - 1.0 - 2.0 + 3.0),
            ("(x + 1) * (x - 1)", (x + 1.0) * (x - 1.0)),
            ("max(x, 0.5) + min(x, 0.5)", 1.2),
            ("\tx\t* 3", 3.0 * x),
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
        let msg = err("y1 = x; x2 + 1");
        assert!(msg.contains("\"x2 + 1\" has no `=`"), "{msg}");
        let msg = err(" = x1");
        assert!(msg.contains("no output name"), "{msg}");
        let msg = err("y = x1; y = x2");
        assert!(msg.contains("\"y\" is defined twice"), "{msg}");
        for bad in [
            "y = x1 +",
            "y = (x1",
            "y = 2 x",
            "y =",
            "y = x == 1",
            "y = {x}",
        ] {
            let msg = err(bad);
            assert!(msg.contains("syntax error in formula"), "{bad}: {msg}");
            assert!(msg.contains(&format!("{bad:?}")), "{bad}: {msg}");
        }
        let msg = err("y1 = x1; y2 = y1^2");
        assert!(msg.contains("\"y1\" is both an output"), "{msg}");
        let msg = err("y = 2 * pi");
        assert!(msg.contains("no input variable"), "{msg}");
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
        let f = Formulas::parse("y = log(x)").unwrap();
        let msg = f.sample(100, 0, (-1.0, 1.0), 0).unwrap_err().to_string();
        assert!(
            msg.contains("formula \"y = log(x)\" gives NaN at x = -"),
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
        let big = Formulas::parse("y = exp(x)").unwrap();
        let msg = big
            .sample(10, 0, (100.0, 200.0), 0)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("not a finite 32-bit float"), "{msg}");
    }
}
