//! Screen-only number shapes: unitless table cells and bars. Units and times in words are
//! `crate::units`, shared with every report.

use crate::units::NONE;

/// Compact for table columns: `0.4`, `12`, `1.2k`, `35k` milliseconds without the unit.
pub fn ms_short(v: Option<f64>) -> String {
    match v {
        None => NONE.into(),
        Some(v) if !v.is_finite() => NONE.into(),
        Some(v) if v < 10.0 => format!("{v:.1}"),
        Some(v) if v < 1000.0 => format!("{v:.0}"),
        Some(v) if v < 10_000.0 => format!("{:.1}s", v / 1000.0),
        Some(v) => format!("{:.0}s", v / 1000.0),
    }
}

/// A bar of `width` cells filled to `fraction` (clamped), in eighths for a smooth edge.
pub fn bar(fraction: f64, width: usize) -> (String, String) {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let f = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (f * (width * 8) as f64).round() as usize;
    let full = eighths / 8;
    let rest = eighths % 8;
    let mut filled: String = "█".repeat(full);
    let mut used = full;
    if rest > 0 && used < width {
        filled.push(PARTS[rest]);
        used += 1;
    }
    (filled, "░".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_never_exceed_width() {
        for f in [-1.0, 0.0, 0.33, 0.999, 1.0, 7.0, f64::NAN] {
            let (a, b) = bar(f, 10);
            assert_eq!(a.chars().count() + b.chars().count(), 10, "{f}");
        }
        assert_eq!(bar(0.0, 0), (String::new(), String::new()));
    }
}
