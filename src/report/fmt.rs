//! Number and failure wording shared by the text and markdown reports, so both read alike.

use crate::event::Failure;

/// `—` for nothing, milliseconds below 10 s, seconds above.
pub fn ms(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 10_000.0 => format!("{:.1} s", v / 1000.0),
        Some(v) => format!("{v:.1} ms"),
    }
}

/// A fraction 0..1 as a whole percentage, `—` for nothing.
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.0} %", v * 100.0))
}

/// `timeout at tcp [SQLSTATE]: message`.
pub fn failure(f: &Failure) -> String {
    let step = f
        .step
        .map(|s| format!(" at {}", s.as_str()))
        .unwrap_or_default();
    let code = f
        .sqlstate
        .as_deref()
        .map(|c| format!(" [{c}]"))
        .unwrap_or_default();
    format!("{}{step}{code}: {}", f.class, f.message)
}
