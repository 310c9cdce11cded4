//! Whole frames and single panels rendered to a `TestBackend` and compared as text snapshots
//! (`src/ui/snapshots/`). "Now" comes from the state's event times (the view's wall clock is
//! left unset), so snapshots do not depend on when they run.

use std::collections::BTreeMap;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;

use super::app::App;
use super::draw::{MIN_HEIGHT, MIN_WIDTH, draw};
use super::fixtures::busy;
use super::options::{UiOptions, ViewMode};
use super::panels;
use super::theme::ThemeName;
use super::view::{Overlay, Panel, View};
use crate::state::State;
use crate::state::fixtures::{self, build, capacity_exhausted, healthy, outage, staging_config, t};
use crate::ui::feed::ReplayClock;

pub(crate) fn buffer_text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in a.y..a.y + a.height {
        let mut line = String::new();
        for x in a.x..a.x + a.width {
            if let Some(c) = buf.cell((x, y)) {
                line.push_str(c.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn frame(state: &State, view: &View, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| draw(f, state, view)).expect("draws");
    t.backend().buffer().clone()
}

type PanelFn = fn(&mut ratatui::Frame<'_>, Rect, &State, &View);

fn panel(render: PanelFn, a: &mut App, w: u16, h: u16) -> String {
    let (state, view) = a.frame_parts();
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| render(f, f.area(), state, view)).expect("draws");
    buffer_text(t.backend().buffer())
}

fn app_with(state: State, opts: UiOptions) -> App {
    App::new(&opts, state)
}

fn app(state: State) -> App {
    app_with(state, UiOptions::default())
}

fn healthy_state() -> State {
    build(staging_config(), &healthy())
}

fn outage_state() -> State {
    build(staging_config(), &outage())
}

fn capacity_state() -> State {
    build(staging_config(), &capacity_exhausted())
}

fn fixtures() -> Vec<(&'static str, State)> {
    vec![
        ("healthy", healthy_state()),
        ("outage", outage_state()),
        ("capacity", capacity_state()),
        ("empty", State::new(staging_config())),
        ("busy", busy(600)),
    ]
}

fn frame_of(a: &mut App, w: u16, h: u16) -> Buffer {
    let (state, view) = a.frame_parts();
    frame(state, view, w, h)
}

fn snap(a: &mut App, w: u16, h: u16) -> String {
    buffer_text(&frame_of(a, w, h))
}

// ---- whole screen -------------------------------------------------------------------------

#[test]
fn screen_healthy() {
    insta::assert_snapshot!(snap(&mut app(healthy_state()), 100, 30));
}

#[test]
fn screen_outage() {
    insta::assert_snapshot!(snap(&mut app(outage_state()), 100, 30));
}

#[test]
fn screen_outage_wide() {
    insta::assert_snapshot!(snap(&mut app(outage_state()), 160, 50));
}

#[test]
fn screen_capacity_exhausted() {
    insta::assert_snapshot!(snap(&mut app(capacity_state()), 100, 30));
}

#[test]
fn screen_busy_wide() {
    insta::assert_snapshot!(snap(&mut app(busy(600)), 160, 50));
}

#[test]
fn screen_smallest_full_layout() {
    insta::assert_snapshot!(snap(&mut app(outage_state()), 80, 24));
}

#[test]
fn screen_no_data_yet() {
    insta::assert_snapshot!(snap(&mut app(State::new(staging_config())), 100, 30));
}

#[test]
fn screen_too_small() {
    insta::assert_snapshot!(snap(&mut app(outage_state()), 40, 10));
}

#[test]
fn no_panic_at_any_size() {
    let widths = [
        0, 1, 2, 3, 5, 10, 20, 39, 40, 60, 79, 80, 81, 99, 100, 101, 130, 200, 300,
    ];
    let heights = [0, 1, 2, 3, 4, 5, 9, 10, 23, 24, 25, 29, 30, 31, 50, 80];
    let few = [
        (0, 0),
        (1, 1),
        (40, 10),
        (79, 23),
        (80, 24),
        (100, 30),
        (101, 31),
    ];
    for (name, s) in fixtures() {
        let mut a = app(s);
        for w in widths {
            for h in heights {
                let text = buffer_text(&frame_of(&mut a, w, h));
                // Whatever fits is drawn: the dashboard, or the too-small message once its
                // first line (31 cells) fits.
                let says = if w >= MIN_WIDTH && h >= MIN_HEIGHT {
                    "connscope"
                } else if w >= 31 && h >= 1 {
                    "terminal too small"
                } else {
                    continue;
                };
                assert!(text.contains(says), "{name} {w}x{h}: no `{says}`:\n{text}");
            }
        }
        for overlay in [
            Overlay::None,
            Overlay::Help,
            Overlay::Log,
            Overlay::ConfirmCapacity,
            Overlay::ConfirmPool,
        ] {
            a.view.overlay = overlay;
            // An overlay is drawn over a zoomed panel; the zoom shows when there is none.
            let shown = match overlay {
                Overlay::None => "Esc back",
                Overlay::Help => "Keys",
                Overlay::Log => "Event log",
                Overlay::ConfirmCapacity | Overlay::ConfirmPool => "confirm",
            };
            for p in Panel::ORDER {
                a.view.zoom = true;
                a.view.focus = p;
                for (w, h) in few {
                    let text = buffer_text(&frame_of(&mut a, w, h));
                    assert!(
                        w < MIN_WIDTH || h < MIN_HEIGHT || text.contains(shown),
                        "{name} {p:?} {w}x{h}: no `{shown}`:\n{text}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_panel_alone_at_odd_sizes() {
    let renders: [PanelFn; 7] = [
        panels::header::render,
        panels::footer::render,
        panels::db::render,
        panels::startup::render,
        panels::endpoints::render,
        panels::capacity::render,
        panels::alerts::render,
    ];
    for (_, s) in fixtures() {
        let mut a = app(s);
        for r in renders {
            for (w, h) in [
                (0, 0),
                (1, 1),
                (2, 2),
                (3, 7),
                (7, 3),
                (12, 4),
                (30, 6),
                (200, 3),
            ] {
                panel(r, &mut a, w, h);
            }
        }
    }
}

// ---- panels -------------------------------------------------------------------------------

#[test]
fn panel_attempts_healthy() {
    let mut a = app(healthy_state());
    insta::assert_snapshot!(panel(panels::db::render, &mut a, 60, 18));
}

#[test]
fn panel_attempts_outage() {
    let mut a = app(outage_state());
    insta::assert_snapshot!(panel(panels::db::render, &mut a, 60, 18));
}

#[test]
fn panel_attempts_busy_side_by_side() {
    let mut a = app(busy(600));
    insta::assert_snapshot!(panel(panels::db::render, &mut a, 110, 24));
}

#[test]
fn panel_attempts_busy_full_scale() {
    let mut a = app(busy(600));
    a.act(super::keys::Action::Scale);
    insta::assert_snapshot!(panel(panels::db::render, &mut a, 110, 24));
}

#[test]
fn panel_startup_healthy() {
    let mut a = app(healthy_state());
    insta::assert_snapshot!(panel(panels::startup::render, &mut a, 50, 12));
}

#[test]
fn panel_startup_outage() {
    let mut a = app(outage_state());
    insta::assert_snapshot!(panel(panels::startup::render, &mut a, 50, 13));
}

#[test]
fn panel_startup_restart_loop() {
    let mut a = app(busy(600));
    insta::assert_snapshot!(panel(panels::startup::render, &mut a, 66, 13));
}

#[test]
fn panel_endpoints_healthy() {
    let mut a = app(healthy_state());
    insta::assert_snapshot!(panel(panels::endpoints::render, &mut a, 66, 11));
}

#[test]
fn panel_endpoints_outage() {
    let mut a = app(outage_state());
    insta::assert_snapshot!(panel(panels::endpoints::render, &mut a, 66, 8));
}

#[test]
fn panel_endpoints_consistency() {
    let mut a = app(busy(600));
    insta::assert_snapshot!(panel(panels::endpoints::render, &mut a, 66, 11));
}

#[test]
fn panel_capacity_exhausted() {
    let mut a = app(capacity_state());
    insta::assert_snapshot!(panel(panels::capacity::render, &mut a, 50, 10));
}

#[test]
fn panel_capacity_running() {
    let mut a = app(busy(600));
    insta::assert_snapshot!(panel(panels::capacity::render, &mut a, 50, 10));
}

#[test]
fn panel_capacity_with_the_pool_probe_beneath() {
    let mut ev = fixtures::capacity_exhausted();
    let shift = ev.last().map_or(0.0, |(t, _)| *t) + 1.0;
    ev.extend(
        fixtures::pool_timeouts_beneath_capacity()
            .into_iter()
            .map(|(t, b)| (t + shift, b)),
    );
    let mut a = app(build(staging_config(), &ev));
    let text = panel(panels::capacity::render, &mut a, 64, 14);
    // The judge's weight, the figures, the chart with its timeouts marked, what lay beneath.
    assert!(text.contains("Capacity · Pool"), "{text}");
    assert!(text.contains("✗ 40 acquired · T 7 timeouts"), "{text}");
    assert!(text.contains("waits ") && text.contains('T'), "{text}");
    assert!(
        text.contains("beneath: too_many_connections (53300) ×12"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn overlay_confirm_pool_in_production() {
    let mut cfg = staging_config();
    cfg.environment = "production".into();
    let opts = UiOptions {
        pool_connections: Some(25),
        ..UiOptions::default()
    };
    let mut a = app_with(build(cfg, &healthy()), opts);
    a.act(super::keys::Action::PoolProbe);
    assert_eq!(a.view.overlay, Overlay::ConfirmPool);
    let text = snap(&mut a, 100, 30);
    assert!(
        text.contains("Start the pool probe against PRODUCTION?"),
        "{text}"
    );
    assert!(text.contains("up to 25 connections"), "{text}");
}

#[test]
fn panel_capacity_pool_running_with_borrowers_waiting() {
    let mut ev = fixtures::pool_timeouts_beneath_capacity();
    ev.pop(); // still running
    let mut a = app(build(staging_config(), &ev));
    let text = panel(panels::capacity::render, &mut a, 56, 9);
    assert!(text.contains("pool #1 running"), "{text}");
    assert!(text.contains("5 waiting"), "{text}");
    insta::assert_snapshot!(text);
}

/// A full server refused the headroom check: the pool opened nothing, and the section says
/// why in the judge's words — not "0 acquired" and "no database attempts during the run".
#[test]
fn panel_capacity_pool_that_opened_nothing_says_why() {
    let mut started = fixtures::pool_started(1);
    if let crate::event::EventBody::PoolStarted(s) = &mut started {
        s.max_connections = 0;
        s.capped = true;
    }
    let ev = vec![
        (0.0, started),
        (
            0.1,
            crate::event::EventBody::PoolFinished(crate::event::PoolFinished {
                run: 1,
                elapsed_ms: 21.9,
                totals: Default::default(),
                aborted: true,
                reason: Some(
                    "nothing opened: the server refused the headroom check \
                     (too_many_connections: sorry, too many clients already): nothing more \
                     is opened"
                        .into(),
                ),
            }),
        ),
    ];
    let mut a = app(build(staging_config(), &ev));
    let text = panel(panels::capacity::render, &mut a, 64, 8);
    assert!(
        text.contains("! pool: nothing opened: the server refused"),
        "{text}"
    );
    assert!(text.contains("too many clients already"), "{text}");
    assert!(!text.contains("0 acquired"), "{text}");
    assert!(!text.contains("beneath"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn panel_capacity_none_yet() {
    let mut a = app(healthy_state());
    insta::assert_snapshot!(panel(panels::capacity::render, &mut a, 50, 5));
}

#[test]
fn panel_alerts_outage() {
    let mut a = app(outage_state());
    insta::assert_snapshot!(panel(panels::alerts::render, &mut a, 100, 24));
}

#[test]
fn panel_alerts_capacity_narrow() {
    let mut a = app(capacity_state());
    insta::assert_snapshot!(panel(panels::alerts::render, &mut a, 60, 12));
}

// ---- overlays, zoom, modes ----------------------------------------------------------------

#[test]
fn overlay_help_live() {
    let mut a = app(healthy_state());
    a.act(super::keys::Action::Help);
    insta::assert_snapshot!(snap(&mut a, 100, 30));
}

#[test]
fn overlay_help_replay() {
    let mut a = app_with(
        healthy_state(),
        UiOptions {
            mode: ViewMode::Replay,
            ..UiOptions::default()
        },
    );
    a.act(super::keys::Action::Help);
    insta::assert_snapshot!(snap(&mut a, 100, 30));
}

#[test]
fn overlay_log_outage() {
    let mut a = app(outage_state());
    a.act(super::keys::Action::Log);
    insta::assert_snapshot!(snap(&mut a, 100, 30));
}

#[test]
fn overlay_confirm_capacity_in_production() {
    let mut cfg = staging_config();
    cfg.environment = "production".into();
    let opts = UiOptions {
        capacity_connections: Some(10),
        ..UiOptions::default()
    };
    let mut a = app_with(build(cfg, &healthy()), opts);
    a.act(super::keys::Action::CapacityTest);
    assert_eq!(a.view.overlay, Overlay::ConfirmCapacity);
    let text = snap(&mut a, 100, 30);
    // The real size of the test, not the cap (35) it stays under.
    assert!(text.contains("It opens 10 connections at once"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn zoom_alerts_outage() {
    let mut a = app(outage_state());
    a.act(super::keys::Action::FocusNext);
    a.act(super::keys::Action::Zoom);
    insta::assert_snapshot!(snap(&mut a, 120, 36));
}

#[test]
fn header_markers_paused_lab_and_replay() {
    let lab = ViewMode::Lab {
        scenarios: vec![("healthy".into(), "all fine".into())],
    };
    let mut a = app_with(
        outage_state(),
        UiOptions {
            mode: lab,
            ..UiOptions::default()
        },
    );
    a.act(super::keys::Action::TogglePause);
    a.act(super::keys::Action::Scenario(0));
    let lab_header = panel(panels::header::render, &mut a, 120, 2);

    let mut r = app_with(
        outage_state(),
        UiOptions {
            mode: ViewMode::Replay,
            ..UiOptions::default()
        },
    );
    r.apply_feed(crate::ui::feed::Feed::Clock(ReplayClock {
        at: t(80.0),
        start: t(0.0),
        end: t(185.0),
        speed: 4.0,
        paused: false,
    }));
    let replay_header = panel(panels::header::render, &mut r, 120, 2);
    insta::assert_snapshot!(format!("{lab_header}---\n{replay_header}"));
}

#[test]
fn lab_header_says_what_is_wrong_before_the_scenario() {
    let mut state = outage_state();
    state.apply(&crate::event::Event::at(
        t(200.0),
        crate::event::EventBody::LabScenario(crate::event::LabScenario {
            name: "startup-timeout".into(),
            description: "Phase-3 startup timeout (the outage): the connector black-holes \
                          every database connection"
                .into(),
        }),
    ));
    let lab = ViewMode::Lab {
        scenarios: vec![("startup-timeout".into(), "the outage".into())],
    };
    let mut a = app_with(
        state,
        UiOptions {
            mode: lab,
            ..UiOptions::default()
        },
    );
    let wide = panel(panels::header::render, &mut a, 160, 2);
    let line2 = wide.lines().nth(1).unwrap_or_default();
    assert!(
        line2.starts_with(" database down since 10:00:37 UTC"),
        "{line2}"
    );
    assert!(
        line2.contains("· scenario: Phase-3 startup timeout"),
        "{line2}"
    );
    // Narrow: the reason keeps the line; no stub of a scenario is left dangling.
    let narrow = panel(panels::header::render, &mut a, 80, 2);
    let line2 = narrow.lines().nth(1).unwrap_or_default();
    assert!(line2.starts_with(" database down since"), "{line2}");
    assert!(!line2.contains("scen"), "{line2}");
}

#[test]
fn the_header_drops_whole_pieces_never_a_stub_of_the_target() {
    let mut a = app(outage_state());
    for w in [60u16, 70, 80, 90, 100, 120] {
        let h = panel(panels::header::render, &mut a, w, 2);
        let line1 = h.lines().next().unwrap_or_default();
        assert!(line1.starts_with(" connscope staging"), "{w}: {line1}");
        // Either a useful part of the URL or none of it.
        if let Some(i) = line1.find("postgres") {
            assert!(line1[i..].chars().count() >= 20, "{w}: {line1}");
        }
        assert!(!line1.contains(" el "), "{w}: a cut word: {line1}");
    }
}

#[test]
fn tall_screens_give_the_diagnosis_a_full_width_band_and_capacity_only_what_it_needs() {
    let mut a = app(outage_state());
    let tall = buffer_text(&frame_of(&mut a, 160, 50));
    let alerts_row = tall
        .lines()
        .find(|l| l.contains("Alerts and diagnosis"))
        .unwrap_or_default();
    assert!(
        alerts_row.starts_with("╭ Alerts and diagnosis"),
        "{alerts_row}"
    );
    assert_eq!(alerts_row.chars().count(), 160, "full width: {alerts_row}");
    // An idle capacity panel: its line, its key hint and not a tall empty column.
    let cap_top = tall.lines().position(|l| l.contains("╭ Capacity"));
    let cap_bottom = tall
        .lines()
        .enumerate()
        .skip(cap_top.unwrap_or(0))
        .find(|(_, l)| l.ends_with('╯'))
        .map(|(i, _)| i);
    let height = cap_bottom.zip(cap_top).map(|(b, t)| b - t + 1);
    assert!(
        height.is_some_and(|h| h <= 6),
        "capacity height {height:?}:\n{tall}"
    );
    // Short screens keep the two columns: the alerts panel closes in the left one.
    let short = buffer_text(&frame_of(&mut a, 100, 30));
    let row = short
        .lines()
        .find(|l| l.starts_with("╭ Alerts and diagnosis"))
        .unwrap_or_default();
    let left_width = row.find('╮').map(|i| row[..i].chars().count() + 1);
    assert!(left_width.is_some_and(|w| w < 70), "{short}");
}

#[test]
fn evidence_is_capped_per_finding_unless_zoomed() {
    let mut ev = outage();
    // Distinct bodies, so the diagnosis keeps them as separate pieces of evidence.
    for name in ["backend", "api", "auth"] {
        let body = format!("startup failed: database initialization timeout ({name})");
        ev.push((
            185.5,
            crate::state::fixtures::http(name, "/health/database", 503, 90.0, &body),
        ));
    }
    let mut a = app(build(staging_config(), &ev));
    a.view.focus = Panel::Alerts;
    let flat = panel(panels::alerts::render, &mut a, 140, 40);
    assert!(flat.contains("– and 2 more (Enter zooms)"), "{flat}");
    a.view.zoom = true;
    let zoomed = panel(panels::alerts::render, &mut a, 140, 40);
    assert!(!zoomed.contains("more (Enter zooms)"), "{zoomed}");
    assert!(
        zoomed.contains("auth /health/database answered 503"),
        "{zoomed}"
    );
}

// ---- privacy mask -------------------------------------------------------------------------

/// What the staging fixture would reveal: the database host, user and name, endpoint hosts.
fn assert_nothing_locating(text: &str, what: &str) {
    for needle in [
        "10.20.0.3",
        "example.com",
        "staging.example",
        "://app",
        "app@",
        "/app",
    ] {
        assert!(
            !text.contains(needle),
            "{what}: {needle:?} visible:\n{text}"
        );
    }
    let word = regex::Regex::new(r"\bapp\b").expect("valid");
    assert!(
        !word.is_match(text),
        "{what}: user/db name visible:\n{text}"
    );
}

#[test]
fn mask_hides_hosts_users_databases_and_urls_everywhere() {
    for (name, s) in fixtures() {
        let mut a = app_with(
            s,
            UiOptions {
                mask: true,
                ..UiOptions::default()
            },
        );
        for (w, h) in [(100, 30), (160, 50), (80, 24), (40, 10)] {
            assert_nothing_locating(&snap(&mut a, w, h), &format!("{name} {w}x{h}"));
        }
        a.act(super::keys::Action::Log);
        assert_nothing_locating(&snap(&mut a, 160, 50), &format!("{name} log"));
        a.act(super::keys::Action::Close);
        for p in Panel::ORDER {
            a.view.focus = p;
            a.view.zoom = true;
            assert_nothing_locating(&snap(&mut a, 200, 60), &format!("{name} zoom {p:?}"));
        }
    }
}

#[test]
fn mask_off_shows_the_target_and_m_toggles_it() {
    let mut a = app(outage_state());
    assert!(snap(&mut a, 160, 50).contains("10.20.0.3"));
    a.act(super::keys::Action::Mask);
    assert!(!snap(&mut a, 160, 50).contains("10.20.0.3"));
}

#[test]
fn screen_outage_masked() {
    let mut a = app_with(
        outage_state(),
        UiOptions {
            mask: true,
            ..UiOptions::default()
        },
    );
    insta::assert_snapshot!(snap(&mut a, 100, 30));
}

// ---- colour -------------------------------------------------------------------------------

#[test]
fn no_color_means_no_colour_anywhere() {
    for (name, s) in fixtures() {
        let mut a = app_with(
            s,
            UiOptions {
                no_color: true,
                ..UiOptions::default()
            },
        );
        for overlay in [
            Overlay::None,
            Overlay::Help,
            Overlay::Log,
            Overlay::ConfirmCapacity,
        ] {
            a.view.overlay = overlay;
            // Cycling themes must not bring colour back.
            for _ in 0..3 {
                a.act(super::keys::Action::Theme);
                let buf = frame_of(&mut a, 120, 40);
                for c in buf.content() {
                    assert_eq!(
                        (c.fg, c.bg, c.underline_color),
                        (Color::Reset, Color::Reset, Color::Reset),
                        "{name} {overlay:?} {:?}: colour in {:?}",
                        a.view.theme,
                        c.symbol()
                    );
                }
            }
        }
    }
}

/// Which styles a frame uses and how often: reviewable proof of a theme in a text snapshot.
fn style_census(buf: &Buffer) -> String {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for c in buf.content() {
        let key = format!("fg={:?} bg={:?} mod={:?}", c.fg, c.bg, c.modifier);
        *m.entry(key).or_default() += 1;
    }
    m.iter().map(|(k, n)| format!("{n:>5}  {k}\n")).collect()
}

fn themed(theme: ThemeName) -> Buffer {
    let mut a = app_with(
        outage_state(),
        UiOptions {
            theme,
            ..UiOptions::default()
        },
    );
    frame_of(&mut a, 100, 30)
}

#[test]
fn theme_dark() {
    insta::assert_snapshot!(style_census(&themed(ThemeName::Dark)));
}

#[test]
fn theme_light() {
    insta::assert_snapshot!(style_census(&themed(ThemeName::Light)));
}

/// Every character drawn, in every theme, fixture, overlay and zoom, on its own background
/// (never the terminal's, never ANSI colour 0) at WCAG contrast ≥ 4.5:1 (trippy #411: a
/// light theme unreadable on a dark terminal).
#[test]
fn every_drawn_character_meets_contrast_in_every_theme() {
    use super::theme::contrast;
    for theme in ThemeName::ALL {
        for (name, s) in fixtures() {
            let mut a = app_with(
                s,
                UiOptions {
                    theme,
                    ..UiOptions::default()
                },
            );
            for overlay in [
                Overlay::None,
                Overlay::Help,
                Overlay::Log,
                Overlay::ConfirmCapacity,
            ] {
                a.view.overlay = overlay;
                for zoom in [false, true] {
                    a.view.zoom = zoom;
                    let buf = frame_of(&mut a, 120, 40);
                    for c in buf.content() {
                        let what =
                            format!("{theme:?} {name} {overlay:?} zoom {zoom}: {:?}", c.symbol());
                        assert!(
                            !matches!(c.bg, Color::Reset) && !matches!(c.fg, Color::Reset),
                            "{what} on the terminal's own colours"
                        );
                        if c.symbol().trim().is_empty() {
                            continue;
                        }
                        let ratio = contrast(c.fg, c.bg);
                        assert!(
                            ratio.is_some_and(|r| r >= 4.5),
                            "{what}: {:?} on {:?} = {ratio:?}",
                            c.fg,
                            c.bg
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn theme_high_contrast() {
    let buf = themed(ThemeName::HighContrast);
    assert!(
        buf.content().iter().all(|c| c.bg != Color::Reset),
        "paints its own background"
    );
    insta::assert_snapshot!(style_census(&buf));
}

#[test]
fn the_header_names_the_theme_and_the_mask() {
    let mut a = app(outage_state());
    let head = panel(panels::header::render, &mut a, 160, 2);
    assert!(
        head.contains("dark theme") && !head.contains("MASKED"),
        "{head}"
    );
    a.act(super::keys::Action::Mask);
    a.act(super::keys::Action::Theme);
    let head = panel(panels::header::render, &mut a, 160, 2);
    assert!(
        head.contains("light theme") && head.contains("MASKED"),
        "{head}"
    );
    // Narrow: the theme goes before the mask, the verdict stays.
    let narrow = panel(panels::header::render, &mut a, 80, 2);
    assert!(
        narrow.contains("MASKED") && narrow.contains("FAIL"),
        "{narrow}"
    );
}

#[test]
fn t_cycles_through_the_three_themes() {
    let mut a = app(healthy_state());
    let mut seen = vec![a.view.theme];
    for _ in 0..3 {
        a.act(super::keys::Action::Theme);
        seen.push(a.view.theme);
    }
    assert_eq!(
        seen,
        vec![
            ThemeName::Dark,
            ThemeName::Light,
            ThemeName::HighContrast,
            ThemeName::Dark
        ]
    );
}

// ---- layout and words -------------------------------------------------------------------

/// Where each panel's top-left corner is: the layout's fingerprint.
fn corners(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (y, line) in text.lines().enumerate() {
        for (x, ch) in line.chars().enumerate() {
            if matches!(ch, '╭' | '┏') {
                out.push((x, y));
            }
        }
    }
    out
}

#[test]
fn panels_keep_their_place_whatever_has_been_measured() {
    for (w, h) in [(80, 24), (100, 30), (120, 35), (160, 50), (200, 60)] {
        let mut empty = app(State::new(staging_config()));
        let want = corners(&snap(&mut empty, w, h));
        assert_eq!(want.len(), 5, "{w}x{h}: five panels");
        for (name, s) in fixtures() {
            let got = corners(&snap(&mut app(s), w, h));
            assert_eq!(got, want, "{name} at {w}x{h} moved a panel");
        }
    }
}

#[test]
fn the_attempts_title_says_connector_only_when_there_is_one() {
    let mut cfg = staging_config();
    assert!(
        snap(&mut app(build(cfg.clone(), &outage())), 160, 50)
            .contains("Database attempts via VPC connector")
    );
    cfg.cloud_sql = false;
    let direct = snap(&mut app(build(cfg, &outage())), 160, 50);
    assert!(
        direct.contains("Database attempts") && !direct.contains("Database attempts via"),
        "{direct}"
    );
}

#[test]
fn lab_keys_are_listed_from_the_real_set() {
    let five: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("s{i}"), format!("scenario {i}")))
        .collect();
    let mut a = app_with(
        healthy_state(),
        UiOptions {
            mode: ViewMode::Lab { scenarios: five },
            ..UiOptions::default()
        },
    );
    let foot = panel(panels::footer::render, &mut a, 160, 1);
    assert!(
        foot.contains("1–5 scenario") && !foot.contains("9"),
        "{foot}"
    );
    a.act(super::keys::Action::Help);
    let help = snap(&mut a, 160, 50);
    assert!(help.contains("1–5") && !help.contains("1–9"), "{help}");
}

#[test]
fn the_initialization_row_says_whether_the_timeout_fired_near_its_value() {
    use crate::event::{DbSteps, ErrorClass, EventBody, InitResult, Step};
    let init = |elapsed_ms: f64| {
        EventBody::Init(InitResult {
            ok: false,
            elapsed_ms,
            timeout_ms: 75_000.0,
            steps_ms: DbSteps::default(),
            warmup_ms: None,
            server_version: None,
            server_max_connections: None,
            error: Some(crate::state::fixtures::failure(
                ErrorClass::Timeout,
                Step::Tcp,
                None,
                "no TCP connection within 75 s",
            )),
        })
    };
    let mut ev = outage();
    ev.push((186.0, init(75_004.0)));
    let near = panel(
        panels::db::render,
        &mut app(build(staging_config(), &ev)),
        120,
        30,
    );
    assert!(
        near.contains(
            "init ✗ timeout@tcp after 75.0 s (limit 75 s) · fired near the configured timeout"
        ),
        "{near}"
    );
    ev.push((187.0, init(12_000.0)));
    let far = panel(
        panels::db::render,
        &mut app(build(staging_config(), &ev)),
        120,
        30,
    );
    assert!(
        far.contains("fired far from the configured timeout"),
        "{far}"
    );
    let none = panel(panels::db::render, &mut app(outage_state()), 120, 30);
    assert!(none.contains("init — no result yet (limit 75 s)"), "{none}");
}

#[test]
fn a_startup_source_that_fails_is_said_in_the_startup_panel() {
    use crate::event::{EventBody, Note, NoteLevel};
    let ev = vec![(
        1.0,
        EventBody::Note(Note {
            probe: "startup".into(),
            level: NoteLevel::Error,
            message: "cannot start the startup log command (svc --boot): No such file or directory"
                .into(),
        }),
    )];
    let mut a = app(build(staging_config(), &ev));
    let text = panel(panels::startup::render, &mut a, 50, 14);
    assert!(
        text.contains("✗ cannot start the startup log command"),
        "{text}"
    );
    assert!(
        text.contains("No such file or"),
        "wrapped, not cut:\n{text}"
    );
}

#[test]
fn a_long_log_line_wraps_under_its_text_and_is_read_whole() {
    use crate::event::{EventBody, Note, NoteLevel};
    let long = "the quick brown fox ".repeat(12);
    let ev = vec![(
        1.0,
        EventBody::Note(Note {
            probe: "db".into(),
            level: NoteLevel::Warn,
            message: long.trim().into(),
        }),
    )];
    let mut a = app(build(staging_config(), &ev));
    a.act(super::keys::Action::Log);
    let text = snap(&mut a, 80, 24);
    let words: usize = text.matches("fox").count();
    assert_eq!(words, 12, "every word of the entry is on screen:\n{text}");
    // Continuation lines start under the text column (after time, level and source).
    let cont = text
        .lines()
        .find(|l| l.starts_with("║ ") && l.contains("fox") && !l.contains("WARN"))
        .unwrap_or_default();
    assert!(cont.starts_with(&format!("║{}", " ".repeat(25))), "{text}");
}

// ---- meaning without colour ---------------------------------------------------------------

#[test]
fn failures_are_marks_on_the_chart_not_a_line() {
    let mut a = app(outage_state());
    let text = panel(panels::db::render, &mut a, 60, 18);
    let lane = text
        .lines()
        .find(|l| l.contains("fail ┼"))
        .expect("failure lane");
    assert_eq!(
        lane.matches('T').count(),
        5,
        "one timeout mark per attempt:\n{text}"
    );
    assert!(text.contains("no successful connection in view"));
    assert!(
        !text.contains('█'),
        "no latency bar drawn for a failure:\n{text}"
    );
}

#[test]
fn a_spike_is_an_outlier_mark_on_the_robust_scale() {
    let mut a = app(busy(600));
    let text = panel(panels::db::render, &mut a, 110, 24);
    assert!(text.contains('▲'), "{text}");
}

#[test]
fn verdicts_are_words_and_symbols() {
    let mut a = app(outage_state());
    let text = snap(&mut a, 100, 30);
    for needle in [
        "✗ FAIL",
        "✗ FAILED",
        "✓ pass",
        "· not yet",
        "exit 3",
        "CRITICAL",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{text}");
    }
}
