//! The PromQL subset the local time series (no VictoriaMetrics) answers, so the dashboard's
//! charts work on a single binary. Documented in `docs/metrics.md` ("Local query subset"):
//!
//! ```text
//! expr     = aggr | func | selector
//! aggr     = ("sum"|"avg"|"min"|"max"|"count") [by] "(" expr ")" [by]
//! by       = "by" "(" label {"," label} ")"
//! func     = ("rate"|"increase"|"avg_over_time"|"min_over_time"|"max_over_time"
//!             |"sum_over_time"|"count_over_time") "(" selector "[" duration "]" ")"
//! selector = metric_name ["{" matcher {"," matcher} "}"]
//! matcher  = label ("=" | "!=") "string"
//! duration = number ("s"|"m"|"h"|"d"), e.g. 5m
//! ```
//!
//! Semantics follow Prometheus without extrapolation: a plain selector takes the latest sample
//! at most 5 minutes old at each step; `rate` is the increase over the window (counter resets
//! handled) divided by the window's length in seconds.

use std::collections::BTreeMap;
use std::time::Duration;

/// How far back a plain selector looks for a sample.
pub const LOOKBACK: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    pub label: String,
    pub equal: bool,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub name: String,
    pub matchers: Vec<Matcher>,
}

impl Selector {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| {
            let value = labels.get(&m.label).map_or("", String::as_str);
            (value == m.value) == m.equal
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Rate,
    Increase,
    Avg,
    Min,
    Max,
    Sum,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Selector(Selector),
    Func {
        func: Func,
        selector: Selector,
        window: Duration,
    },
    Aggregate {
        op: AggOp,
        by: Vec<String>,
        inner: Box<Expr>,
    },
    /// `histogram_quantile(q, inner)`: `inner` yields cumulative buckets labelled `le`.
    Quantile {
        q: f64,
        inner: Box<Expr>,
    },
}

impl Expr {
    /// The selector at the bottom of the expression.
    pub fn selector(&self) -> &Selector {
        match self {
            Expr::Selector(s) | Expr::Func { selector: s, .. } => s,
            Expr::Aggregate { inner, .. } | Expr::Quantile { inner, .. } => inner.selector(),
        }
    }

    /// How far before the first step samples are needed.
    pub fn reach(&self) -> Duration {
        match self {
            Expr::Selector(_) => LOOKBACK,
            Expr::Func { window, .. } => *window,
            Expr::Aggregate { inner, .. } | Expr::Quantile { inner, .. } => inner.reach(),
        }
    }
}

const HELP: &str = "the local time series (no VictoriaMetrics configured) supports: \
    name{label=\"v\",label!=\"v\"}, rate|increase|avg_over_time|min_over_time|max_over_time|\
    sum_over_time|count_over_time(selector[5m]), sum|avg|min|max|count [by (labels)] (expr) and \
    histogram_quantile(0.95, expr); \
    see docs/metrics.md";

/// Parses `text`, or says what is unsupported (always naming the supported subset).
pub fn parse(text: &str) -> Result<Expr, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let expr = p.expr().map_err(|e| format!("{e}; {HELP}"))?;
    p.space();
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected '{}' at position {}; {HELP}",
            &text[p.i..],
            p.i
        ));
    }
    Ok(expr)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_name(c: u8) -> bool {
    is_name_start(c) || c.is_ascii_digit()
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.space();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at position {}", c as char, self.i))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        self.space();
        let start = self.i;
        if !self.s.get(self.i).copied().is_some_and(is_name_start) {
            return Err(format!("expected a name at position {}", self.i));
        }
        while self.s.get(self.i).copied().is_some_and(is_name) {
            self.i += 1;
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn peek_word(&mut self) -> Option<String> {
        let save = self.i;
        let word = self.ident().ok();
        self.i = save;
        word
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let word = self.ident()?;
        let agg = match word.as_str() {
            "sum" => Some(AggOp::Sum),
            "avg" => Some(AggOp::Avg),
            "min" => Some(AggOp::Min),
            "max" => Some(AggOp::Max),
            "count" => Some(AggOp::Count),
            _ => None,
        };
        let func = match word.as_str() {
            "rate" => Some(Func::Rate),
            "increase" => Some(Func::Increase),
            "avg_over_time" => Some(Func::Avg),
            "min_over_time" => Some(Func::Min),
            "max_over_time" => Some(Func::Max),
            "sum_over_time" => Some(Func::Sum),
            "count_over_time" => Some(Func::Count),
            _ => None,
        };
        if let Some(op) = agg {
            let mut by = self.by_clause()?;
            self.expect(b'(')?;
            let inner = self.expr()?;
            self.expect(b')')?;
            if by.is_empty() {
                by = self.by_clause()?;
            }
            return Ok(Expr::Aggregate {
                op,
                by,
                inner: Box::new(inner),
            });
        }
        if word == "histogram_quantile" {
            self.expect(b'(')?;
            self.space();
            let start = self.i;
            while self
                .s
                .get(self.i)
                .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
            {
                self.i += 1;
            }
            let q: f64 = std::str::from_utf8(&self.s[start..self.i])
                .ok()
                .and_then(|t| t.parse().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .ok_or_else(|| {
                    format!("expected a quantile between 0 and 1 at position {start}")
                })?;
            self.expect(b',')?;
            let inner = self.expr()?;
            self.expect(b')')?;
            return Ok(Expr::Quantile {
                q,
                inner: Box::new(inner),
            });
        }
        if let Some(func) = func {
            self.expect(b'(')?;
            let name = self.ident()?;
            let selector = self.selector(name)?;
            self.expect(b'[')?;
            let window = self.duration()?;
            self.expect(b']')?;
            self.expect(b')')?;
            return Ok(Expr::Func {
                func,
                selector,
                window,
            });
        }
        self.space();
        if self.s.get(self.i) == Some(&b'(') {
            return Err(format!("function {word}() is not supported"));
        }
        let selector = self.selector(word)?;
        self.space();
        if self.s.get(self.i) == Some(&b'[') {
            return Err("a range selector needs a function such as rate()".into());
        }
        Ok(Expr::Selector(selector))
    }

    fn by_clause(&mut self) -> Result<Vec<String>, String> {
        match self.peek_word().as_deref() {
            Some("by") => {
                self.ident()?;
            }
            Some("without") => return Err("'without' is not supported; use 'by'".into()),
            _ => return Ok(Vec::new()),
        }
        self.expect(b'(')?;
        let mut labels = vec![self.ident()?];
        while self.eat(b',') {
            labels.push(self.ident()?);
        }
        self.expect(b')')?;
        Ok(labels)
    }

    fn selector(&mut self, name: String) -> Result<Selector, String> {
        let mut matchers = Vec::new();
        if self.eat(b'{') {
            loop {
                if self.eat(b'}') {
                    break;
                }
                let label = self.ident()?;
                self.space();
                let equal = match (self.s.get(self.i), self.s.get(self.i + 1)) {
                    (Some(b'!'), Some(b'=')) => {
                        self.i += 2;
                        false
                    }
                    (Some(b'='), Some(b'~')) | (Some(b'!'), Some(b'~')) => {
                        return Err("regular-expression matchers (=~, !~) are not supported".into());
                    }
                    (Some(b'='), _) => {
                        self.i += 1;
                        true
                    }
                    _ => return Err(format!("expected = or != at position {}", self.i)),
                };
                let value = self.string()?;
                matchers.push(Matcher {
                    label,
                    equal,
                    value,
                });
                if !self.eat(b',') {
                    self.expect(b'}')?;
                    break;
                }
            }
        }
        Ok(Selector { name, matchers })
    }

    fn string(&mut self) -> Result<String, String> {
        self.space();
        let quote = match self.s.get(self.i) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => return Err(format!("expected a quoted string at position {}", self.i)),
        };
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'\\' => {
                    let Some(&next) = self.s.get(self.i) else {
                        break;
                    };
                    self.i += 1;
                    out.push(match next {
                        b'n' => b'\n',
                        b't' => b'\t',
                        other => other,
                    });
                }
                c if c == quote => return Ok(String::from_utf8_lossy(&out).into_owned()),
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }

    fn duration(&mut self) -> Result<Duration, String> {
        self.space();
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let n: u64 = std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("expected a duration like 5m at position {start}"))?;
        let unit = match self.s.get(self.i) {
            Some(b's') => 1,
            Some(b'm') => 60,
            Some(b'h') => 3600,
            Some(b'd') => 86_400,
            _ => {
                return Err(format!(
                    "expected a unit s, m, h or d at position {}",
                    self.i
                ));
            }
        };
        self.i += 1;
        if n == 0 {
            return Err("a range must be longer than 0".into());
        }
        Ok(Duration::from_secs(n * unit))
    }
}

/// One series' samples, oldest first: (unix milliseconds, value).
pub type Points = Vec<(i64, f64)>;

/// Evaluates `expr` at every step from `start` to `end` (unix milliseconds) over `series`
/// (labels including `__name__` → points), returning (labels, [(ms, value)]) per output series.
pub fn evaluate(
    expr: &Expr,
    series: &BTreeMap<BTreeMap<String, String>, Points>,
    start: i64,
    end: i64,
    step: i64,
) -> Vec<(BTreeMap<String, String>, Points)> {
    match expr {
        Expr::Selector(sel) => per_series(
            sel,
            series,
            start,
            end,
            step,
            |points, t| {
                let lookback = LOOKBACK.as_millis() as i64;
                window(points, t - lookback, t).last().map(|p| p.1)
            },
            true,
        ),
        Expr::Func {
            func,
            selector,
            window: w,
        } => {
            let width = w.as_millis() as i64;
            per_series(
                selector,
                series,
                start,
                end,
                step,
                |points, t| {
                    let win = window(points, t - width, t);
                    apply(*func, win, w.as_secs_f64())
                },
                false,
            )
        }
        Expr::Aggregate { op, by, inner } => {
            let inner = evaluate(inner, series, start, end, step);
            let mut groups: BTreeMap<BTreeMap<String, String>, BTreeMap<i64, Vec<f64>>> =
                BTreeMap::new();
            for (labels, points) in inner {
                let key: BTreeMap<String, String> =
                    labels.into_iter().filter(|(k, _)| by.contains(k)).collect();
                let group = groups.entry(key).or_default();
                for (t, v) in points {
                    group.entry(t).or_default().push(v);
                }
            }
            groups
                .into_iter()
                .map(|(labels, by_time)| {
                    let points = by_time
                        .into_iter()
                        .map(|(t, vs)| (t, aggregate(*op, &vs)))
                        .collect();
                    (labels, points)
                })
                .collect()
        }
        Expr::Quantile { q, inner } => {
            let inner = evaluate(inner, series, start, end, step);
            // Group the buckets by their other labels, then by time: (le, cumulative count).
            type Buckets = BTreeMap<i64, Vec<(f64, f64)>>;
            let mut groups: BTreeMap<BTreeMap<String, String>, Buckets> = BTreeMap::new();
            for (mut labels, points) in inner {
                let Some(le) = labels.remove("le").and_then(|l| parse_le(&l)) else {
                    continue;
                };
                labels.remove("__name__");
                let group = groups.entry(labels).or_default();
                for (t, v) in points {
                    group.entry(t).or_default().push((le, v));
                }
            }
            groups
                .into_iter()
                .filter_map(|(labels, by_time)| {
                    let points: Points = by_time
                        .into_iter()
                        .filter_map(|(t, buckets)| bucket_quantile(*q, buckets).map(|v| (t, v)))
                        .collect();
                    (!points.is_empty()).then_some((labels, points))
                })
                .collect()
        }
    }
}

fn parse_le(text: &str) -> Option<f64> {
    if text == "+Inf" || text == "Inf" {
        return Some(f64::INFINITY);
    }
    text.parse().ok().filter(|v: &f64| !v.is_nan())
}

/// Prometheus' `histogram_quantile` over one set of cumulative buckets: linear interpolation
/// inside the bucket holding the rank; `None` without a `+Inf` bucket or observations.
pub fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> Option<f64> {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets.dedup_by(|b, a| a.0 == b.0);
    if buckets.len() < 2 || buckets.last()?.0 != f64::INFINITY {
        return None;
    }
    // Counts are cumulative: repair small non-monotonicities (as Prometheus does).
    for i in 1..buckets.len() {
        if buckets[i].1 < buckets[i - 1].1 {
            buckets[i].1 = buckets[i - 1].1;
        }
    }
    let total = buckets.last()?.1;
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let b = buckets.iter().position(|b| b.1 >= rank)?;
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Some(buckets[0].0);
    }
    let (start, count_start) = if b == 0 { (0.0, 0.0) } else { buckets[b - 1] };
    let (end, count) = buckets[b];
    if count == count_start {
        return Some(end);
    }
    Some(start + (end - start) * (rank - count_start) / (count - count_start))
}

fn per_series(
    selector: &Selector,
    series: &BTreeMap<BTreeMap<String, String>, Points>,
    start: i64,
    end: i64,
    step: i64,
    at: impl Fn(&[(i64, f64)], i64) -> Option<f64>,
    keep_name: bool,
) -> Vec<(BTreeMap<String, String>, Points)> {
    let mut out = Vec::new();
    for (labels, points) in series {
        if labels.get("__name__") != Some(&selector.name) || !selector.matches(labels) {
            continue;
        }
        let mut values = Vec::new();
        let mut t = start;
        while t <= end {
            if let Some(v) = at(points, t) {
                values.push((t, v));
            }
            t += step;
        }
        if !values.is_empty() {
            let mut labels = labels.clone();
            if !keep_name {
                labels.remove("__name__");
            }
            out.push((labels, values));
        }
    }
    out
}

/// The points with `from < t <= to` (points are sorted by time).
fn window(points: &[(i64, f64)], from: i64, to: i64) -> &[(i64, f64)] {
    let lo = points.partition_point(|p| p.0 <= from);
    let hi = points.partition_point(|p| p.0 <= to);
    &points[lo..hi.max(lo)]
}

fn apply(func: Func, win: &[(i64, f64)], seconds: f64) -> Option<f64> {
    if win.is_empty() {
        return None;
    }
    let values = win.iter().map(|p| p.1);
    Some(match func {
        Func::Rate | Func::Increase => {
            if win.len() < 2 {
                return None;
            }
            let mut increase = 0.0;
            for pair in win.windows(2) {
                let (a, b) = (pair[0].1, pair[1].1);
                // A drop is a counter reset: the counter restarted from 0 and reached b.
                increase += if b >= a { b - a } else { b };
            }
            if func == Func::Rate {
                increase / seconds
            } else {
                increase
            }
        }
        Func::Avg => values.sum::<f64>() / win.len() as f64,
        Func::Min => values.fold(f64::INFINITY, f64::min),
        Func::Max => values.fold(f64::NEG_INFINITY, f64::max),
        Func::Sum => values.sum(),
        Func::Count => win.len() as f64,
    })
}

fn aggregate(op: AggOp, vs: &[f64]) -> f64 {
    match op {
        AggOp::Sum => vs.iter().sum(),
        AggOp::Avg => vs.iter().sum::<f64>() / vs.len() as f64,
        AggOp::Min => vs.iter().copied().fold(f64::INFINITY, f64::min),
        AggOp::Max => vs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        AggOp::Count => vs.len() as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parses_the_subset() {
        let e = parse(r#"sum by (kind) (rate(events_total{host="a", env!='dev'}[5m]))"#).unwrap();
        let Expr::Aggregate { op, by, inner } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            (*op, by.as_slice()),
            (AggOp::Sum, ["kind".to_owned()].as_slice())
        );
        let Expr::Func {
            func,
            selector,
            window,
        } = inner.as_ref()
        else {
            panic!("{inner:?}")
        };
        assert_eq!((*func, window.as_secs()), (Func::Rate, 300));
        assert_eq!(selector.name, "events_total");
        assert_eq!(selector.matchers.len(), 2);
        assert!(!selector.matchers[1].equal);
        assert_eq!(e.reach(), Duration::from_secs(300));
        // `by` after the parentheses, plain selectors, empty braces.
        assert!(matches!(
            parse("max(cpu) by (host)").unwrap(),
            Expr::Aggregate { by, .. } if by == ["host"]
        ));
        assert!(matches!(parse(" cpu{} ").unwrap(), Expr::Selector(_)));
    }

    #[test]
    fn histogram_quantiles_interpolate_like_prometheus() {
        let inf = f64::INFINITY;
        // 10 observations: 4 up to 0.1, 4 more up to 0.5, 2 above.
        let b = vec![(0.5, 8.0), (0.1, 4.0), (inf, 10.0)];
        assert_eq!(bucket_quantile(0.2, b.clone()), Some(0.05));
        assert!((bucket_quantile(0.6, b.clone()).unwrap() - 0.3).abs() < 1e-12);
        // The rank lands in +Inf: the highest finite bound.
        assert_eq!(bucket_quantile(0.95, b.clone()), Some(0.5));
        assert_eq!(bucket_quantile(0.5, vec![(0.1, 0.0), (inf, 0.0)]), None);
        assert_eq!(bucket_quantile(0.5, vec![(0.1, 1.0), (0.2, 2.0)]), None);

        let e = parse("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))").unwrap();
        assert!(
            matches!(&e, Expr::Quantile { q, .. } if *q == 0.95),
            "{e:?}"
        );
        assert_eq!(e.selector().name, "h_bucket");
        let mut series = BTreeMap::new();
        for (route, le, count) in [
            ("/a", "0.1", 4.0),
            ("/a", "+Inf", 5.0),
            ("/b", "0.1", 0.0),
            ("/b", "+Inf", 5.0),
        ] {
            series.insert(
                labels(&[("__name__", "h_bucket"), ("route", route), ("le", le)]),
                vec![(0, 0.0), (60_000, count)],
            );
        }
        let out = evaluate(&e, &series, 60_000, 60_000, 1_000);
        // 10 observations, 4 up to 0.1: the 95th is in +Inf → 0.1.
        assert_eq!(out, vec![(BTreeMap::new(), vec![(60_000, 0.1)])]);
        let by_route = parse("histogram_quantile(0.5, increase(h_bucket[5m]))").unwrap();
        let out = evaluate(&by_route, &series, 60_000, 60_000, 1_000);
        assert_eq!(out.len(), 2);
        assert!((out[0].1[0].1 - 0.0625).abs() < 1e-12, "{out:?}");
    }

    #[test]
    fn unsupported_queries_say_what_is_supported() {
        for q in [
            "cpu{host=~\"a.*\"}",
            "abs(x)",
            "histogram_quantile(1.5, x)",
            "histogram_quantile(x)",
            "cpu[5m]",
            "sum without (a) (cpu)",
            "cpu + 1",
            "rate(cpu[0s])",
            "rate(cpu[5x])",
            "",
            "cpu{host=\"a}",
        ] {
            let err = parse(q).unwrap_err();
            assert!(err.contains("supports"), "{q}: {err}");
        }
    }

    #[test]
    fn evaluates_selectors_rates_and_aggregations() {
        let mut series = BTreeMap::new();
        // A counter on two hosts, sampled every 10 s; host b resets at 40 s.
        series.insert(
            labels(&[("__name__", "req"), ("host", "a"), ("kind", "x")]),
            (0..=6)
                .map(|i| (i * 10_000, (i * 10) as f64))
                .collect::<Points>(),
        );
        series.insert(
            labels(&[("__name__", "req"), ("host", "b"), ("kind", "x")]),
            vec![(0, 0.0), (20_000, 20.0), (40_000, 5.0), (60_000, 25.0)],
        );
        series.insert(labels(&[("__name__", "other")]), vec![(0, 1.0)]);

        let plain = evaluate(
            &parse(r#"req{host="a"}"#).unwrap(),
            &series,
            0,
            60_000,
            30_000,
        );
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].0["__name__"], "req");
        assert_eq!(plain[0].1, vec![(0, 0.0), (30_000, 30.0), (60_000, 60.0)]);

        let rate = evaluate(
            &parse("rate(req[1m])").unwrap(),
            &series,
            60_000,
            60_000,
            1000,
        );
        assert_eq!(rate.len(), 2);
        assert!(!rate[0].0.contains_key("__name__"));
        // Window (0, 60]: a 10..60 = 50 / 60; b 20 -> 5 (reset: +5) -> 25 (+20) = 25 / 60.
        assert!((rate[0].1[0].1 - 50.0 / 60.0).abs() < 1e-9, "{rate:?}");
        assert!((rate[1].1[0].1 - 25.0 / 60.0).abs() < 1e-9, "{rate:?}");

        let sum = evaluate(
            &parse("sum by (kind) (increase(req[1m]))").unwrap(),
            &series,
            60_000,
            60_000,
            1000,
        );
        assert_eq!(sum, vec![(labels(&[("kind", "x")]), vec![(60_000, 75.0)])]);
        let count = evaluate(&parse("count(req)").unwrap(), &series, 60_000, 60_000, 1000);
        assert_eq!(count, vec![(BTreeMap::new(), vec![(60_000, 2.0)])]);
        let max = evaluate(
            &parse("max_over_time(req{host!=\"a\"}[1m])").unwrap(),
            &series,
            60_000,
            60_000,
            1000,
        );
        assert_eq!(max[0].1, vec![(60_000, 25.0)]);
        // Nothing older than the 5-minute lookback.
        let stale = evaluate(&parse("other").unwrap(), &series, 400_000, 400_000, 1000);
        assert!(stale.is_empty());
    }
}
