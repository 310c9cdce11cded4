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

/// Seconds as written in a configuration: `75 s`, `7.5 s`, `0.1 s` — never rounded to a lie.
pub fn secs(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{r:.0} s")
    } else {
        format!("{r} s")
    }
}
