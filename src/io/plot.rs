//! Strip plots as PNG: one column per algorithm, one dot per input, with the median marked.
//!
//! Drawn by hand on an RGB canvas with the public-domain 8x8 bitmap font of `font8x8`: plotting
//! crates need system fonts (font-kit/freetype) to draw any text, which a fresh machine may
//! lack, and a plot without labels is not readable.

use super::output::OutputError;

pub(super) const W: usize = 960;
pub(super) const H: usize = 600;
const LEFT: usize = 110;
const RIGHT: usize = 30;
const TOP: usize = 60;
const BOTTOM: usize = 120;

pub(super) struct Canvas {
    px: Vec<[u8; 3]>,
}

impl Canvas {
    pub(super) fn new() -> Self {
        Canvas {
            px: vec![[255, 255, 255]; W * H],
        }
    }
    pub(super) fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            self.px[y as usize * W + x as usize] = c;
        }
    }
    pub(super) fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        for y in y0.min(y1)..=y0.max(y1) {
            for x in x0.min(x1)..=x0.max(x1) {
                self.set(x, y, c);
            }
        }
    }
    pub(super) fn disc(&mut self, cx: i64, cy: i64, r: i64, c: [u8; 3]) {
        for y in -r..=r {
            for x in -r..=r {
                if x * x + y * y <= r * r {
                    self.set(cx + x, cy + y, c);
                }
            }
        }
    }
    /// Text at scale `s` (8·s pixels per character); `vertical` writes bottom-up.
    pub(super) fn text(&mut self, x: i64, y: i64, s: i64, t: &str, c: [u8; 3], vertical: bool) {
        for (k, ch) in t.chars().enumerate() {
            let code = ch as usize;
            let glyph = if code < 128 {
                font8x8::legacy::BASIC_LEGACY[code]
            } else {
                font8x8::legacy::BASIC_LEGACY[b'?' as usize]
            };
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        for dy in 0..s {
                            for dx in 0..s {
                                let (gx, gy) = (col as i64 * s + dx, row as i64 * s + dy);
                                let off = k as i64 * 8 * s;
                                if vertical {
                                    self.set(x + gy, y - off - gx, c);
                                } else {
                                    self.set(x + off + gx, y + gy, c);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    pub(super) fn png(&self, name: &str) -> Result<Vec<u8>, OutputError> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, W as u32, H as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let err = |e: png::EncodingError| OutputError::Png {
                path: name.to_string(),
                message: e.to_string(),
            };
            let mut w = enc.write_header().map_err(err)?;
            let flat: Vec<u8> = self.px.iter().flatten().copied().collect();
            w.write_image_data(&flat).map_err(err)?;
        }
        Ok(out)
    }
}

pub(super) fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        "0".to_string()
    } else if v.abs() >= 1000.0 || v.abs() < 0.01 {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A strip plot of `series` (name, values): linear axis, or log10 when `log` (non-positive
/// values are drawn at the bottom). Returns PNG bytes.
pub fn strip_plot(
    title: &str,
    y_label: &str,
    series: &[(String, Vec<f64>)],
    log: bool,
    name: &str,
) -> Result<Vec<u8>, OutputError> {
    let mut cv = Canvas::new();
    let black = [0, 0, 0];
    let grey = [200, 200, 200];
    let map = |v: f64| if log { v.max(1e-300).log10() } else { v };
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .map(map)
        .collect();
    let (mut lo, mut hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if log {
        lo = lo.floor();
        hi = hi.ceil().max(lo + 1.0);
    } else {
        lo = lo.min(0.0);
        if hi <= lo {
            hi = lo + 1.0;
        }
        hi = lo + nice_step(hi - lo) * ((hi - lo) / nice_step(hi - lo)).ceil();
    }
    let (x0, x1) = (LEFT as i64, (W - RIGHT) as i64);
    let (y0, y1) = ((H - BOTTOM) as i64, TOP as i64);
    let ypix = |v: f64| -> i64 {
        let t = ((map(v) - lo) / (hi - lo)).clamp(0.0, 1.0);
        y0 - (t * (y0 - y1) as f64).round() as i64
    };
    // Grid and ticks.
    let ticks: Vec<f64> = if log {
        (lo as i64..=hi as i64)
            .map(|e| 10f64.powi(e as i32))
            .collect()
    } else {
        let step = nice_step(hi - lo);
        (0..=((hi - lo) / step).round() as i64)
            .map(|k| lo + step * k as f64)
            .collect()
    };
    for t in ticks {
        let y = ypix(t);
        cv.rect(x0, y, x1, y, grey);
        let label = fmt_tick(t);
        cv.text(
            x0 - 10 - 8 * label.len() as i64,
            y - 4,
            1,
            &label,
            black,
            false,
        );
    }
    cv.rect(x0, y1, x0, y0, black);
    cv.rect(x0, y0, x1, y0, black);
    cv.text(x0, 20, 2, title, black, false);
    cv.text(
        12,
        (y0 + y1) / 2 + 4 * y_label.len() as i64,
        1,
        y_label,
        black,
        true,
    );
    // Columns.
    let n = series.len().max(1) as i64;
    let colw = (x1 - x0) / n;
    let palette = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    for (k, (label, v)) in series.iter().enumerate() {
        let cx = x0 + colw * k as i64 + colw / 2;
        let color = palette[k % palette.len()];
        let mut sorted: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        for (m, &x) in sorted.iter().enumerate() {
            // Deterministic jitter spreads equal values.
            let jitter = ((m * 7919) % 41) as i64 - 20;
            cv.disc(cx + jitter * colw / 120, ypix(x), 4, color);
        }
        if let Some(&med) = sorted.get(sorted.len() / 2) {
            let y = ypix(med);
            cv.rect(cx - colw / 4, y - 1, cx + colw / 4, y + 1, black);
        }
        let lines = wrap_label(label, ((colw / 8).max(4)) as usize, 3);
        for (l, line) in lines.iter().enumerate() {
            cv.text(
                cx - 4 * line.chars().count() as i64,
                y0 + 12 + 11 * l as i64,
                1,
                line,
                black,
                false,
            );
        }
        let count = format!("n={}", sorted.len());
        cv.text(
            cx - 4 * count.len() as i64,
            y0 + 16 + 11 * lines.len() as i64,
            1,
            &count,
            grey_dark(),
            false,
        );
    }
    cv.text(
        x0,
        (H - 30) as i64,
        1,
        "dots: one per input; bar: median",
        grey_dark(),
        false,
    );
    cv.png(name)
}

/// A round tick step (1, 2 or 5 times a power of ten) giving about five intervals.
pub(super) fn nice_step(range: f64) -> f64 {
    let raw = range / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// `label` in at most `max_lines` lines of at most `width` characters, broken after a `+`
/// (else a `-`) where possible: column names such as `complete-c-d-bu` and `td+bu-d-dfs` must stay
/// distinguishable under narrow columns, which plain truncation does not ensure.
fn wrap_label(label: &str, width: usize, max_lines: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rest: Vec<char> = label.chars().collect();
    let mut lines = Vec::new();
    while !rest.is_empty() && lines.len() < max_lines {
        if rest.len() <= width || lines.len() + 1 == max_lines {
            lines.push(rest.iter().take(width).collect());
            break;
        }
        // A composition breaks at its `+`, other names at their last `-` that fits.
        let head = &rest[..width];
        let cut = head
            .iter()
            .rposition(|&c| c == '+')
            .or_else(|| head.iter().rposition(|&c| c == '-'))
            .map_or(width, |k| k + 1);
        lines.push(rest[..cut].iter().collect());
        rest.drain(..cut);
    }
    lines
}

fn grey_dark() -> [u8; 3] {
    [90, 90, 90]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_wrap_at_separators_and_stay_distinct() {
        assert_eq!(wrap_label("c-bu-d", 10, 3), vec!["c-bu-d"]);
        assert_eq!(
            wrap_label("complete-c-d-bu", 10, 3),
            vec!["complete-", "c-d-bu"]
        );
        assert_eq!(wrap_label("complete-bu", 10, 3), vec!["complete-", "bu"]);
        assert_eq!(
            wrap_label("c-bu-d+bu-d-dfs", 10, 3),
            vec!["c-bu-d+", "bu-d-dfs"]
        );
        assert_eq!(wrap_label("abcdefghijkl", 5, 2), vec!["abcde", "fghij"]);
    }

    #[test]
    fn draws_a_png() {
        let s = vec![
            ("a".to_string(), vec![0.1, 0.2, 0.3]),
            ("b".to_string(), vec![0.0, 1.0]),
        ];
        let png = strip_plot("t", "y", &s, false, "t.png").unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let png = strip_plot("t", "y", &s, true, "t.png").unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
