//! Bar charts and step curves as PNG, on the hand-drawn canvas of [`super::plot`] (same
//! reason: no system fonts needed).

use super::output::OutputError;
use super::plot::{fmt_tick, nice_step, Canvas, H, W};

const LEFT: i64 = 190;
const RIGHT: i64 = 50;
const TOP: i64 = 76;
const BOTTOM: i64 = 90;

/// Colours of successive categories / curves: green, red, grey, blue, orange, purple.
const COLOURS: [[u8; 3]; 6] = [
    [46, 139, 87],
    [200, 30, 30],
    [170, 170, 170],
    [40, 90, 200],
    [230, 140, 20],
    [130, 50, 160],
];

/// Legend entries left to right, wrapping to a second line when the first is full.
fn legend(cv: &mut Canvas, names: &[&str], offset: usize) {
    let (mut x, mut y) = (LEFT, 36);
    for (k, n) in names.iter().enumerate() {
        let width = 40 + 8 * n.len() as i64;
        if x > LEFT && x + width > W as i64 {
            x = LEFT;
            y += 18;
        }
        let c = COLOURS[(k + offset) % COLOURS.len()];
        cv.rect(x, y, x + 14, y + 14, c);
        cv.text(x + 20, y + 3, 1, n, [0, 0, 0], false);
        x += width;
    }
}

/// One horizontal bar per row, split into the counts of `categories` (e.g. right, wrong,
/// unsolved), each bar labelled with its row name and its counts.
pub fn stacked_bars(
    title: &str,
    categories: &[&str],
    rows: &[(String, [usize; 3])],
    name: &str,
) -> Result<Vec<u8>, OutputError> {
    let mut cv = Canvas::new();
    let black = [0, 0, 0];
    let title: String = title.chars().take((W / 16).saturating_sub(2)).collect();
    cv.text(20, 12, 2, &title, black, false);
    legend(&mut cv, categories, 0);
    let total = rows
        .iter()
        .map(|(_, c)| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let n = rows.len().max(1) as i64;
    let plot_w = W as i64 - LEFT - RIGHT;
    let slot = (H as i64 - TOP - BOTTOM) / n;
    let bar_h = (slot * 7 / 10).clamp(4, 60);
    for (k, (label, counts)) in rows.iter().enumerate() {
        let y0 = TOP + 10 + k as i64 * slot;
        let label: String = label.chars().take(22).collect();
        cv.text(10, y0 + bar_h / 2 - 4, 1, &label, black, false);
        let mut x = LEFT;
        for (c, &v) in counts.iter().enumerate() {
            let w = (v as f64 / total as f64 * plot_w as f64).round() as i64;
            if w > 0 {
                cv.rect(x, y0, x + w - 1, y0 + bar_h, COLOURS[c]);
            }
            x += w;
        }
        let text = counts
            .iter()
            .zip(categories)
            .map(|(v, c)| format!("{c} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        cv.text(LEFT, y0 + bar_h + 3, 1, &text, black, false);
    }
    cv.text(
        LEFT,
        H as i64 - 30,
        1,
        &format!("instances (bar = {total})"),
        black,
        false,
    );
    cv.png(name)
}

/// Step curves `y(x)` on shared axes (`x` ascending per curve, `y` in [0, 1]): one line per
/// named curve, with a legend.
pub fn curves(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    name: &str,
) -> Result<Vec<u8>, OutputError> {
    let mut cv = Canvas::new();
    let black = [0, 0, 0];
    let grey = [215, 215, 215];
    let title: String = title.chars().take((W / 16).saturating_sub(2)).collect();
    cv.text(20, 12, 2, &title, black, false);
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    legend(&mut cv, &names, 3);
    let x_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let (x0, x1) = (LEFT, W as i64 - RIGHT);
    let (y0, y1) = (H as i64 - BOTTOM, TOP + 20);
    let px = |x: f64| x0 + ((x / x_max).clamp(0.0, 1.0) * (x1 - x0) as f64).round() as i64;
    let py = |y: f64| y0 - (y.clamp(0.0, 1.0) * (y0 - y1) as f64).round() as i64;
    for k in 0..=5 {
        let y = k as f64 / 5.0;
        cv.rect(x0, py(y), x1, py(y), grey);
        cv.text(x0 - 40, py(y) - 4, 1, &fmt_tick(y), black, false);
    }
    let step = nice_step(x_max);
    let mut t = 0.0;
    while t <= x_max * (1.0 + 1e-9) {
        cv.rect(px(t), y0, px(t), y0 + 5, black);
        cv.text(px(t) - 12, y0 + 10, 1, &fmt_tick(t), black, false);
        t += step;
    }
    cv.rect(x0, y0, x1, y0, black);
    cv.rect(x0, y0, x0, y1, black);
    cv.text(
        x0 + (x1 - x0) / 2 - 4 * x_label.len() as i64,
        y0 + 30,
        1,
        x_label,
        black,
        false,
    );
    cv.text(
        x0 - 70,
        y0 - (y0 - y1) / 2 + 4 * y_label.len() as i64,
        1,
        y_label,
        black,
        true,
    );
    // Each curve thinner than the one before and drawn over it: curves that coincide (a
    // verifier certifying almost the proved radius) show as nested stripes.
    for (k, (_, pts)) in series.iter().enumerate() {
        let c = COLOURS[(k + 3) % COLOURS.len()];
        let t = (7 - 2 * k as i64).max(1);
        // Steps: horizontal to the next x, then vertical.
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            cv.rect(px(a.0), py(a.1), px(b.0), py(a.1) + t, c);
            cv.rect(px(b.0), py(a.1), px(b.0) + t, py(b.1), c);
        }
    }
    cv.png(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_pngs() {
        let b = stacked_bars(
            "t",
            &["right", "wrong", "unsolved"],
            &[("0.5 unsat".to_string(), [3, 1, 2])],
            "t",
        )
        .unwrap();
        assert_eq!(&b[1..4], b"PNG");
        let c = curves(
            "t",
            "eps",
            "fraction",
            &[("a".to_string(), vec![(0.0, 1.0), (0.1, 0.5), (0.2, 0.0)])],
            "t",
        )
        .unwrap();
        assert_eq!(&c[1..4], b"PNG");
    }
}
