//! The dashboard with remote vantage points attached (`watch --agent`): each vantage's panels
//! (attempts, startup, endpoints, capacity) drawn from its own state and judgement, side by
//! side when the screen is wide enough, one at a time otherwise (`v` switches); the alerts
//! and diagnosis below them are every vantage's together, with the comparison between them.
//! A vantage whose agent is lost is drawn in muted colours under a LOST banner: what it
//! measured then, never as now.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::layout;
use super::panels::{alerts, capacity, db, endpoints, startup};
use super::view::{Panel, View};
use crate::event::LinkStatus;
use crate::state::State;
use crate::state::vantage::{VantageJudgement, has_local};
use crate::state::verdict::Verdict;
use crate::units;

/// One vantage as drawn: its state and a view whose judgement is its own.
struct Shown<'a> {
    state: Cow<'a, State>,
    view: View,
    banner: Vec<Span<'static>>,
}

/// The vantages to draw, in order: this host first when it probes anything itself.
fn all<'a>(state: &'a State, view: &View) -> Vec<Shown<'a>> {
    let mut out = Vec::new();
    let n = state.vantages.list.len() + usize::from(has_local(state));
    if has_local(state) {
        out.push(Shown {
            state: Cow::Borrowed(state),
            view: view.clone(),
            banner: banner_local(view, n),
        });
    }
    for vj in &view.judged.judgement.vantages {
        let sub = state.vantages.get(&vj.name).and_then(|v| v.state.as_ref());
        let (Some(sub), Some(j)) = (sub, vj.judgement.as_ref()) else {
            // Nothing from it yet: its banner says why, its panels wait, empty.
            let empty = State::new(state.cfg.clone());
            out.push(Shown {
                view: waiting_view(view, &empty),
                state: Cow::Owned(empty),
                banner: banner_remote(vj, view, n),
            });
            continue;
        };
        let mut v = view.clone();
        v.judged.judgement = j.clone();
        v.judged.events = sub.events;
        if v.mask {
            v.masker = crate::ui::mask::Masker::new(&sub.cfg);
        }
        if vj.stale {
            v.palette = stale(&v);
        }
        out.push(Shown {
            state: Cow::Borrowed(sub),
            view: v,
            banner: banner_remote(vj, view, n),
        });
    }
    out
}

/// A vantage not heard from yet: an empty state, judged, in muted colours.
fn waiting_view(view: &View, empty: &State) -> View {
    let mut v = view.clone();
    v.judged = crate::ui::judged::Judged::of(empty, None);
    v.palette = stale(&v);
    v
}

/// Every colour that could read as a live result, muted.
fn stale(view: &View) -> crate::ui::theme::Palette {
    let mut p = view.palette;
    for s in [
        &mut p.ok,
        &mut p.warn,
        &mut p.fail,
        &mut p.accent,
        &mut p.bar,
        &mut p.badge_pass,
        &mut p.badge_warn,
        &mut p.badge_fail,
    ] {
        *s = view.palette.muted;
    }
    p
}

fn hint(n: usize, view: &View) -> Span<'static> {
    let text = if n > 1 { "  v: switch vantage" } else { "" };
    Span::styled(text, view.palette.muted)
}

fn banner_local(view: &View, n: usize) -> Vec<Span<'static>> {
    vec![
        Span::styled(" ▌local ", view.palette.title),
        Span::styled("this host's own probes", view.palette.muted),
        hint(n, view),
    ]
}

fn banner_remote(vj: &VantageJudgement, view: &View, n: usize) -> Vec<Span<'static>> {
    let p = &view.palette;
    let url = view.text(&vj.url).into_owned();
    let (status, style): (String, Style) = match vj.link {
        LinkStatus::Live => {
            let v = vj.judgement.as_ref().map(|j| j.verdict);
            let word = match v {
                Some(Verdict::Pass) => "live ✓",
                Some(Verdict::Warn) => "live !",
                Some(Verdict::Fail) => "live ✗",
                None => "live",
            };
            let style = v.map_or(p.text, |v| super::panels::verdict_style(v, view));
            (word.into(), style)
        }
        LinkStatus::Lost => (
            format!(
                "LOST since {} UTC — as measured then, not now",
                units::clock(vj.since)
            ),
            p.marker,
        ),
        LinkStatus::Connecting => ("connecting…".into(), p.muted),
    };
    vec![
        Span::styled(format!(" ▌{} ", vj.name), p.title),
        Span::styled(format!("{status} "), style),
        Span::styled(url, p.muted),
        hint(n, view),
    ]
}

/// Which vantages are drawn: all when side by side fits and none is chosen, else one.
fn chosen(view: &View, count: usize) -> Option<usize> {
    view.vantage.map(|i| i.min(count.saturating_sub(1)))
}

/// The body with vantages attached.
pub(crate) fn dashboard(frame: &mut Frame<'_>, body: Rect, state: &State, view: &View) {
    let shown = all(state, view);
    if shown.is_empty() {
        return;
    }
    if chosen(view, shown.len()).is_none() {
        let cfgs: Vec<_> = shown.iter().map(|s| &s.state.cfg).collect();
        if let Some((plans, band)) = layout::plan_vantages(body, &cfgs) {
            for (s, p) in shown.iter().zip(plans) {
                frame.render_widget(Paragraph::new(Line::from(s.banner.clone())), p.banner);
                draw_panels(frame, s, [p.db, p.startup, p.endpoints, p.capacity]);
            }
            alerts::render(frame, band, state, view);
            return;
        }
    }
    let s = &shown[chosen(view, shown.len()).unwrap_or(0)];
    let (banner, rest) = layout::banner_and_rest(body);
    frame.render_widget(Paragraph::new(Line::from(s.banner.clone())), banner);
    let p = layout::plan(rest, &s.state.cfg);
    draw_panels(frame, s, [p.db, p.startup, p.endpoints, p.capacity]);
    // The diagnosis is always every vantage's, with the comparison.
    alerts::render(frame, p.alerts, state, view);
}

fn draw_panels(frame: &mut Frame<'_>, s: &Shown<'_>, [d, st, ep, cap]: [Rect; 4]) {
    db::render(frame, d, &s.state, &s.view);
    startup::render(frame, st, &s.state, &s.view);
    endpoints::render(frame, ep, &s.state, &s.view);
    capacity::render(frame, cap, &s.state, &s.view);
}

/// Zoom: the focused panel of the vantage chosen (or the first).
pub(crate) fn zoomed(frame: &mut Frame<'_>, body: Rect, state: &State, view: &View) {
    if view.focus == Panel::Alerts {
        alerts::render(frame, body, state, view);
        return;
    }
    let shown = all(state, view);
    let Some(s) = shown.get(chosen(view, shown.len()).unwrap_or(0)) else {
        return;
    };
    let (banner, rest) = layout::banner_and_rest(body);
    frame.render_widget(Paragraph::new(Line::from(s.banner.clone())), banner);
    match view.focus {
        Panel::Db => db::render(frame, rest, &s.state, &s.view),
        Panel::Startup => startup::render(frame, rest, &s.state, &s.view),
        Panel::Endpoints => endpoints::render(frame, rest, &s.state, &s.view),
        Panel::Capacity => capacity::render(frame, rest, &s.state, &s.view),
        Panel::Alerts => {}
    }
}

/// How many vantages `v` cycles through.
pub(crate) fn count(state: &State) -> usize {
    state.vantages.list.len() + usize::from(has_local(state))
}

/// The header's piece for each remote vantage: its name and how its link stands.
pub(crate) fn marker(vj: &VantageJudgement) -> String {
    match vj.link {
        LinkStatus::Live => {
            let v = vj.judgement.as_ref().map_or("", |j| match j.verdict {
                Verdict::Pass => " ✓",
                Verdict::Warn => " !",
                Verdict::Fail => " ✗",
            });
            format!(" {}{v} ", vj.name)
        }
        LinkStatus::Lost => format!(" {} LOST {} ", vj.name, units::clock(vj.since)),
        LinkStatus::Connecting => format!(" {} … ", vj.name),
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use crate::event::{Event, LinkStatus};
    use crate::state::fixtures::t;
    use crate::state::fixtures::vantages::{attached, link};
    use crate::ui::{Action, App, UiOptions};

    fn text(app: &mut App, w: u16, h: u16) -> String {
        let (state, view) = app.frame_parts();
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
        term.draw(|f| crate::ui::draw::draw(f, state, view))
            .expect("draws");
        crate::ui::tests::buffer_text(term.backend().buffer())
    }

    #[test]
    fn side_by_side_when_wide_one_at_a_time_when_not_and_v_switches() {
        let mut app = App::new(&UiOptions::default(), attached(5));
        let wide = text(&mut app, 170, 50);
        assert!(
            wide.contains("▌vpc live ✗") && wide.contains("▌bastion live ✓"),
            "{wide}"
        );
        assert!(wide.contains("The path from vpc is at fault"), "{wide}");
        assert!(
            wide.contains("vpc ✗") && wide.contains("bastion ✓"),
            "header:\n{wide}"
        );
        let narrow = text(&mut app, 120, 40);
        assert!(
            narrow.contains("▌vpc") && !narrow.contains("▌bastion"),
            "{narrow}"
        );
        app.act(Action::Vantage);
        let one = text(&mut app, 170, 50);
        assert!(one.contains("▌vpc") && !one.contains("▌bastion"), "{one}");
        app.act(Action::Vantage);
        let other = text(&mut app, 170, 50);
        assert!(
            other.contains("▌bastion") && !other.contains("▌vpc"),
            "{other}"
        );
        app.act(Action::Vantage);
        let all = text(&mut app, 170, 50);
        assert!(all.contains("▌vpc") && all.contains("▌bastion"), "{all}");
    }

    #[test]
    fn with_only_agents_the_targets_are_each_vantage_s_and_a_lost_one_s_go() {
        let mut app = App::new(&UiOptions::default(), attached(5));
        let screen = text(&mut app, 170, 50);
        assert!(
            screen.contains("✓ bastion: > 90 % connection success rate — 100 %"),
            "{screen}"
        );
        assert!(
            screen.contains("✗ vpc: > 90 % connection success rate — 0 %"),
            "{screen}"
        );
        assert!(!screen.contains("— no data"), "{screen}");
        let mut s = attached(5);
        s.apply(&Event::at(t(10.0), link(LinkStatus::Lost, false)).with_vantage("vpc"));
        let mut app = App::new(&UiOptions::default(), s);
        let screen = text(&mut app, 170, 50);
        assert!(!screen.contains("vpc: > 90 %"), "{screen}");
        assert!(screen.contains("bastion: > 90 %"), "{screen}");
    }

    #[test]
    fn a_lost_vantage_says_so_in_its_banner_and_the_header() {
        let mut s = attached(5);
        s.apply(&Event::at(t(10.0), link(LinkStatus::Lost, false)).with_vantage("vpc"));
        let mut app = App::new(&UiOptions::default(), s);
        let screen = text(&mut app, 170, 50);
        assert!(
            screen.contains("▌vpc LOST since 10:00:10 UTC — as measured then, not now"),
            "{screen}"
        );
        assert!(screen.contains("vpc LOST 10:00:10"), "{screen}");
        assert!(
            screen.contains("vpc: agent lost since 10:00:10 UTC"),
            "{screen}"
        );
    }

    #[test]
    fn without_vantages_v_says_how_to_attach_one() {
        let mut app = App::new(
            &UiOptions::default(),
            crate::state::fixtures::build(
                crate::state::fixtures::staging_config(),
                &crate::state::fixtures::healthy(),
            ),
        );
        app.act(Action::Vantage);
        assert!(
            app.view
                .status
                .as_ref()
                .is_some_and(|(_, s)| s.contains("--agent NAME=URL"))
        );
    }
}
