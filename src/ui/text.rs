//! Text that fits a panel without lying: words wrap at spaces with a hanging indent, a line
//! that must end early ends after a whole word and says so with `…`, and pieces of a one-line
//! summary are dropped whole, least important first — never cut in the middle of a word.
//! Widths count characters: everything connscope draws is single-width.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// What ends a line that had to stop early.
pub(crate) const MORE: &str = "…";

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Display width of a run of spans.
pub(crate) fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| len(&s.content)).sum()
}

/// A word: one or more styled parts with no space between them (`✗` + `503`), and the spaces
/// before it (kept as written, so aligned columns such as `WARNING  ` stay aligned).
#[derive(Debug, Clone)]
struct Word {
    parts: Vec<(String, Style)>,
    spaces: usize,
}

impl Word {
    fn len(&self) -> usize {
        self.parts.iter().map(|(t, _)| len(t)).sum()
    }

    fn ends_with_digit(&self) -> bool {
        self.parts
            .last()
            .is_some_and(|(t, _)| t.ends_with(|c: char| c.is_ascii_digit()))
    }
}

/// The units `crate::units` writes after a space (and their punctuated forms, `s)` / `%,`).
fn is_unit(word: &str) -> bool {
    let bare = word.trim_end_matches([')', ',', ';', '.', ':']);
    matches!(bare, "%" | "ms" | "s" | "min" | "h")
}

fn words(spans: &[Span<'_>]) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    let mut spaces = 0;
    // The last word may still grow: the previous span ended inside it.
    let mut open = false;
    for s in spans {
        for (i, part) in s.content.split(' ').enumerate() {
            if i > 0 {
                spaces += 1;
                open = false;
            }
            if part.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some(w) if open => w.parts.push((part.to_string(), s.style)),
                // A unit stays with its number (`100 %`, `3.5 s`): never broken apart.
                Some(w) if spaces == 1 && is_unit(part) && w.ends_with_digit() => {
                    w.parts.push((format!(" {part}"), s.style));
                }
                _ => out.push(Word {
                    parts: vec![(part.to_string(), s.style)],
                    spaces: if out.is_empty() { 0 } else { spaces },
                }),
            }
            spaces = 0;
            open = true;
        }
    }
    out
}

/// Lines under construction: spans plus their width.
struct Builder {
    lines: Vec<Vec<Span<'static>>>,
    used: usize,
    fresh: bool,
    width: usize,
    indent: usize,
}

impl Builder {
    fn room(&self) -> usize {
        self.width.saturating_sub(self.used)
    }

    fn newline(&mut self) {
        let pad = self.indent.min(self.width.saturating_sub(1));
        self.lines.push(vec![Span::raw(" ".repeat(pad))]);
        self.used = pad;
        self.fresh = true;
    }

    fn push(&mut self, text: String, style: Style) {
        self.used += len(&text);
        self.fresh &= text.trim().is_empty();
        if let Some(l) = self.lines.last_mut() {
            l.push(Span::styled(text, style));
        }
    }

    /// `text` from where the line is; what does not fit goes on the next lines.
    fn push_broken(&mut self, text: &str, style: Style) {
        let mut rest = text;
        while len(rest) > self.room() {
            if self.room() == 0 {
                self.newline();
                continue;
            }
            let cut = rest
                .char_indices()
                .nth(self.room())
                .map_or(rest.len(), |(i, _)| i);
            self.push(rest[..cut].to_string(), style);
            rest = &rest[cut..];
            self.newline();
        }
        if !rest.is_empty() {
            self.push(rest.to_string(), style);
        }
    }

    /// Nothing but indentation on the current line yet.
    fn at_line_start(&self) -> bool {
        self.fresh
    }
}

/// Word-wraps `spans` to `width` columns; continuation lines start `indent` columns in (a
/// hanging indent, so a wrapped finding still reads as one item). Leading spaces of the
/// first line are kept. A single word longer than a whole line is broken where the line ends
/// — the only way to show all of it.
pub(crate) fn wrap(spans: &[Span<'_>], width: usize, indent: usize) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let lead: String = spans
        .first()
        .map(|s| s.content.chars().take_while(|c| *c == ' ').collect())
        .unwrap_or_default();
    let first_style = spans.first().map(|s| s.style).unwrap_or_default();
    let mut b = Builder {
        lines: vec![Vec::new()],
        used: 0,
        fresh: true,
        width,
        indent,
    };
    if !lead.is_empty() {
        b.push(lead.chars().take(width).collect(), first_style);
    }
    for w in words(spans) {
        let sep = if b.at_line_start() { 0 } else { w.spaces };
        let style = w.parts[0].1;
        if sep + w.len() > b.room() && !b.at_line_start() {
            b.newline();
        } else if sep > 0 {
            b.push(" ".repeat(sep), style);
        }
        for (text, style) in w.parts {
            b.push_broken(&text, style);
        }
    }
    b.lines.into_iter().map(Line::from).collect()
}

/// [`wrap`], at most `rows` lines: when it would take more, the last line shown ends after a
/// whole word with `…`.
pub(crate) fn wrap_rows(
    spans: &[Span<'_>],
    width: usize,
    indent: usize,
    rows: usize,
) -> Vec<Line<'static>> {
    let mut lines = wrap(spans, width, indent);
    if lines.len() > rows {
        lines.truncate(rows);
        if let Some(last) = lines.pop() {
            lines.push(end_early(last, width));
        }
    }
    lines
}

/// A line that had more after it: whole words only, then `…`.
pub(crate) fn end_early(line: Line<'static>, width: usize) -> Line<'static> {
    let style = line.spans.last().map(|s| s.style).unwrap_or_default();
    let mut spans = line.spans;
    let fits = |spans: &[Span<'_>]| spans_width(spans) + 2 <= width;
    // Drop the last word until " …" fits after what is left.
    while !fits(&spans) || spans.last().is_some_and(|s| s.content.ends_with(' ')) {
        let Some(last) = spans.pop() else { break };
        let t = last.content.trim_end();
        if let Some(i) = t.rfind(' ') {
            spans.push(Span::styled(t[..i].to_string(), last.style));
        } else if t.len() < last.content.len() && !t.is_empty() {
            // The span was a word followed by spaces: the word itself may stay.
            spans.push(Span::styled(t.to_string(), last.style));
        }
        if spans.is_empty() {
            break;
        }
    }
    let sep = if spans.is_empty() || spans_width(&spans) == 0 {
        ""
    } else {
        " "
    };
    spans.push(Span::styled(format!("{sep}{MORE}"), style));
    Line::from(spans)
}

/// One line of at most `width` columns: `s` whole, or as much of it as ends at a space
/// followed by ` …`. A first word longer than the line is shown as far as it goes (a host
/// name, a URL).
pub(crate) fn words_fit(s: &str, width: usize) -> String {
    if len(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let lead = s.len() - s.trim_start().len();
    let cut = s
        .char_indices()
        .filter(|(i, c)| *c == ' ' && *i > lead)
        .map(|(i, _)| s[..i].trim_end())
        .rfind(|head| len(head) > lead && len(head) + 2 <= width);
    match cut {
        Some(head) => format!("{head} {MORE}"),
        None => {
            let mut cut: String = s.chars().take(width - 1).collect();
            cut.push_str(MORE);
            cut
        }
    }
}

/// Part of a one-line summary: shown whole or not at all. Lower `rank` is kept longer.
pub(crate) struct Piece {
    pub(crate) rank: u8,
    pub spans: Vec<Span<'static>>,
}

impl Piece {
    pub(crate) fn new(rank: u8, spans: Vec<Span<'static>>) -> Self {
        Self { rank, spans }
    }

    pub(crate) fn one(rank: u8, text: impl Into<String>, style: Style) -> Self {
        Self::new(rank, vec![Span::styled(text.into(), style)])
    }
}

/// The pieces that fit in `width`, in their order: the least important (highest rank, the
/// later of equals) are left out first.
pub(crate) fn pack(pieces: Vec<Piece>, width: usize) -> Vec<Span<'static>> {
    let mut keep = vec![true; pieces.len()];
    let total = |keep: &[bool]| -> usize {
        pieces
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| spans_width(&p.spans))
            .sum()
    };
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|i| (std::cmp::Reverse(pieces[*i].rank), std::cmp::Reverse(*i)));
    for i in order {
        if total(&keep) <= width {
            break;
        }
        keep[i] = false;
    }
    pieces
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .flat_map(|(p, _)| p.spans)
        .collect()
}

/// Chunks laid out like words: as many per line as fit, joined by `sep`; a chunk wider than
/// a line is word-wrapped on its own lines.
pub(crate) fn flow(
    chunks: Vec<Vec<Span<'static>>>,
    width: usize,
    sep: Span<'static>,
) -> Vec<Line<'static>> {
    let mut lines: Vec<Vec<Span<'static>>> = Vec::new();
    let sep_w = len(&sep.content);
    for chunk in chunks {
        let w = spans_width(&chunk);
        let joined = lines
            .last()
            .map(|l| spans_width(l) + sep_w + w)
            .filter(|n| *n <= width);
        match (joined, lines.last_mut()) {
            (Some(_), Some(line)) => {
                line.push(sep.clone());
                line.extend(chunk);
            }
            _ if w <= width => lines.push(chunk),
            _ => lines.extend(wrap(&chunk, width, 2).into_iter().map(|l| l.spans)),
        }
    }
    lines.into_iter().map(Line::from).collect()
}

/// Which columns of a table to show in `width`: by rank (lower kept longer), each with its
/// width and one space between neighbours. A column that does not fit ends the choice, so a
/// narrow column of less importance never takes the place of a wider, more important one.
pub(crate) fn columns(cols: &[(u8, usize)], width: usize) -> Vec<bool> {
    let mut keep = vec![false; cols.len()];
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|i| (cols[*i].0, *i));
    let mut used = 0;
    for i in order {
        let gap = usize::from(used > 0);
        if used + gap + cols[i].1 > width {
            break;
        }
        used += gap + cols[i].1;
        keep[i] = true;
    }
    keep
}

/// Something a panel lists (an alert, a finding, a target), already wrapped; `kind` names it
/// in the summary of what did not fit ("finding" → "+2 findings").
pub(crate) struct Item {
    pub kind: &'static str,
    pub lines: Vec<Line<'static>>,
}

/// Items top to bottom in `rows`. When they do not all fit, the last row says what is left
/// out (`+2 findings, 4 targets — Enter zooms`) and nothing is cut in the middle of a word: an
/// item is shown whole, or — the first one that does not fit, given two rows or more — its
/// leading lines with `…`.
pub(crate) fn fill(
    items: Vec<Item>,
    rows: usize,
    width: usize,
    hint: &str,
    style: Style,
) -> Vec<Line<'static>> {
    let total: usize = items.iter().map(|i| i.lines.len()).sum();
    if total <= rows {
        return items.into_iter().flat_map(|i| i.lines).collect();
    }
    let room = rows.saturating_sub(1);
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut left: Vec<(&'static str, usize)> = Vec::new();
    let mut stopped = false;
    for item in items {
        let free = room.saturating_sub(out.len());
        if !stopped && item.lines.len() <= free {
            out.extend(item.lines);
            continue;
        }
        // The head of the first item that does not fit, when it gets two rows (one would
        // often be a heading alone).
        if !stopped && free >= 2 {
            let mut lines = item.lines;
            lines.truncate(free);
            if let Some(last) = lines.pop() {
                lines.push(end_early(last, width));
            }
            out.extend(lines);
            // Begun on screen (its `…` says there is more): not counted again below.
            stopped = true;
            continue;
        }
        stopped = true;
        match left.iter_mut().find(|(k, _)| *k == item.kind) {
            Some((_, n)) => *n += 1,
            None => left.push((item.kind, 1)),
        }
    }
    let what: Vec<String> = left
        .iter()
        .map(|(k, n)| format!("{n} {k}{}", if *n == 1 { "" } else { "s" }))
        .collect();
    let more = if what.is_empty() {
        // Only the item begun above is left out: its `…` says so, this row how to see it.
        if hint.is_empty() {
            return out;
        }
        format!("the rest{hint}")
    } else {
        format!("+{}{hint}", what.join(", "))
    };
    out.push(Line::from(Span::styled(words_fit(&more, width), style)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_at_spaces_with_a_hanging_indent() {
        let spans = [
            Span::raw("CRITICAL "),
            Span::raw("database connection success rate 0 % is below 50 %"),
        ];
        let lines = text(&wrap(&spans, 30, 9));
        assert_eq!(
            lines,
            vec![
                "CRITICAL database connection",
                "         success rate 0 % is",
                "         below 50 %",
            ]
        );
        for l in &lines {
            assert!(l.chars().count() <= 30, "{l}");
        }
    }

    #[test]
    fn a_word_longer_than_the_line_is_broken_not_lost() {
        let lines = text(&wrap(
            &[Span::raw("see http://example.com/very/long/path")],
            12,
            2,
        ));
        let joined: String = lines.iter().map(|l| l.trim()).collect();
        assert_eq!(joined, "seehttp://example.com/very/long/path");
        assert!(lines.iter().all(|l| l.chars().count() <= 12), "{lines:?}");
    }

    #[test]
    fn a_number_keeps_its_unit() {
        let spans = [Span::raw("capacity errors (100 %, above 30 %) after 3.5 s")];
        let lines = text(&wrap(&spans, 24, 0));
        assert_eq!(
            lines,
            vec!["capacity errors (100 %,", "above 30 %) after 3.5 s"]
        );
    }

    #[test]
    fn runs_of_spaces_inside_a_line_are_kept() {
        let spans = [Span::raw("WARNING  "), Span::raw("slow")];
        assert_eq!(text(&wrap(&spans, 40, 9)), vec!["WARNING  slow"]);
    }

    #[test]
    fn leading_spaces_and_styled_word_prefixes_are_kept() {
        let spans = [Span::raw("    – "), Span::raw("phase 3 failed")];
        assert_eq!(text(&wrap(&spans, 40, 6)), vec!["    – phase 3 failed"]);
        let glued = [Span::raw("✗ "), Span::raw("503"), Span::raw("!")];
        assert_eq!(text(&wrap(&glued, 40, 0)), vec!["✗ 503!"]);
    }

    #[test]
    fn rows_beyond_the_limit_end_after_a_whole_word() {
        let spans = [Span::raw("one two three four five six seven eight")];
        let lines = text(&wrap_rows(&spans, 12, 0, 2));
        assert_eq!(lines, vec!["one two", "three four …"]);
        assert_eq!(words_fit("run #19 (18 restarts)", 14), "run #19 (18 …");
        assert_eq!(words_fit("abcdefghij", 5), "abcd…");
        assert_eq!(words_fit("fits", 5), "fits");
        assert_eq!(
            words_fit("  · scenario: Phase-3 startup", 20),
            "  · scenario: …"
        );
    }

    #[test]
    fn pieces_are_dropped_whole_least_important_first() {
        let p = |rank, t: &str| Piece::one(rank, t.to_string(), Style::new());
        let out = |w| -> String {
            pack(vec![p(0, "aaaa"), p(2, " bbbb"), p(1, " cccc")], w)
                .iter()
                .map(|s| s.content.to_string())
                .collect()
        };
        assert_eq!(out(14), "aaaa bbbb cccc");
        assert_eq!(out(13), "aaaa cccc");
        assert_eq!(out(5), "aaaa");
        assert_eq!(out(2), "");
    }

    #[test]
    fn flow_packs_chunks_and_wraps_oversized_ones() {
        let c = |t: &str| vec![Span::raw(t.to_string())];
        let lines = text(&flow(
            vec![c("server max 20"), c("in use 3"), c("reserved 3")],
            26,
            Span::raw(" · "),
        ));
        assert_eq!(lines, vec!["server max 20 · in use 3", "reserved 3"]);
    }

    #[test]
    fn items_that_do_not_fit_are_counted_on_the_last_row() {
        let item = |kind, n: usize| Item {
            kind,
            lines: (0..n)
                .map(|i| Line::from(format!("{kind} line {i}")))
                .collect(),
        };
        let all = || {
            vec![
                item("alert", 1),
                item("finding", 3),
                item("finding", 3),
                item("target", 1),
            ]
        };
        assert_eq!(fill(all(), 8, 40, " — Enter", Style::new()).len(), 8);
        let lines = text(&fill(all(), 6, 40, " — Enter", Style::new()));
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(lines[4], "+1 finding, 1 target — Enter");
        // Two rows left: the head of the first that does not fit, ended with …
        let lines = text(&fill(all(), 4, 40, "", Style::new()));
        assert_eq!(
            lines,
            vec![
                "alert line 0",
                "finding line 0",
                "finding line 1 …",
                "+1 finding, 1 target"
            ]
        );
        // One row left: a lone head would say little; the count says it.
        let lines = text(&fill(all(), 3, 40, "", Style::new()));
        assert_eq!(lines, vec!["alert line 0", "+2 findings, 1 target"]);
        // Only the item begun on screen is left out: no empty count ("+ — Enter").
        let two = || vec![item("alert", 1), item("finding", 5)];
        let lines = text(&fill(two(), 4, 40, " — Enter", Style::new()));
        assert_eq!(
            lines,
            vec![
                "alert line 0",
                "finding line 0",
                "finding line 1 …",
                "the rest — Enter"
            ]
        );
        let lines = text(&fill(two(), 4, 40, "", Style::new()));
        assert_eq!(lines.len(), 3, "{lines:?}");
    }

    #[test]
    fn columns_by_rank_within_the_width() {
        // time, result, total, dns, error
        let cols = [(1, 8), (0, 6), (3, 7), (4, 4), (2, 14)];
        assert_eq!(columns(&cols, 80), vec![true; 5]);
        assert_eq!(columns(&cols, 31), vec![true, true, false, false, true]);
        assert_eq!(columns(&cols, 21), vec![true, true, false, false, false]);
        assert_eq!(columns(&cols, 5), vec![false; 5]);
    }
}
