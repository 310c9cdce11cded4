//! The page's stylesheet: the theme's colours as custom properties (the charts' too), a
//! readable column of text, and print rules — light colours on paper whatever the theme,
//! charts and sections kept whole on a page.

use crate::report::charts::{CSS as CHARTS, variables};
use crate::ui::theme::ThemeName;

const PAGE: &str = "\
*{box-sizing:border-box}\
html{background:var(--bg);color:var(--text)}\
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif;background:var(--bg);color:var(--text)}\
main{max-width:1080px;margin:0 auto;padding:20px 24px 40px}\
h1{font-size:1.6em;margin:.2em 0 .4em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid var(--grid);padding-bottom:.2em}\
.muted,figcaption,.facts dt{color:var(--muted)}\
figure{margin:0}figcaption{font-size:.88em;margin:.3em 0 0}\
.verdict{font-size:1.15em;margin:.4em 0}\
.badge{display:inline-block;padding:.1em .6em;border-radius:4px;font-weight:700;color:var(--bg);margin-right:.4em}\
.v-pass .badge{background:var(--ok)}.v-warn .badge{background:var(--warn)}.v-fail .badge{background:var(--fail)}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.6em 0}.facts dd{margin:0;overflow-wrap:anywhere}\
ul.reasons li{margin:.15em 0}\
.finding{margin:.5em 0}.finding .cause{font-weight:600}.finding.past{color:var(--muted)}\
.tag{font-size:.8em;padding:0 .4em;border:1px solid var(--grid);border-radius:3px;margin-left:.4em;color:var(--muted)}\
table{border-collapse:collapse;width:100%;font-size:.92em;margin:.4em 0}\
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid var(--grid);vertical-align:top;overflow-wrap:anywhere}\
th{color:var(--muted);font-weight:600;overflow-wrap:normal}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--fail);font-weight:600}\
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}\
details summary{cursor:default;color:var(--muted)}\
.chart{display:block;width:100%;height:auto}\
footer{margin-top:2em;font-size:.85em;color:var(--muted)}\
";

/// Paper is white: print with the light palette whatever was chosen on screen, and keep each
/// chart (and a section's heading with it) on one page.
const PRINT: &str = "\
@media print{\
main{max-width:none;padding:0}\
body{font-size:11pt}\
.chart{-webkit-print-color-adjust:exact;print-color-adjust:exact}\
figure,tr,.finding{break-inside:avoid}\
h2{break-after:avoid}\
.chart-section{break-inside:avoid}\
}";

pub(super) fn page(theme: ThemeName) -> String {
    format!(
        ":root{{{}}}{PAGE}{CHARTS}{PRINT}@media print{{:root{{color-scheme:light;{}}}}}",
        variables(theme),
        variables(ThemeName::Light)
    )
}
