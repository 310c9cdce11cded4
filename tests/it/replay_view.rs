//! The sample outage recording played the way `connscope replay` plays it — the replay
//! player's feed into the dashboard's `App` — and drawn with the dashboard's own `draw` on a
//! `TestBackend` at fixed points: the start, the first alert, the end. Snapshots live in
//! `tests/it/snapshots/`; review changes with `cargo insta review`.

use std::path::Path;

use crate::common::frames::frame;
use connscope::record;
use connscope::replay::Player;
use connscope::state::State;
use connscope::ui::feed::Feed;
use connscope::ui::{App, UiOptions, ViewMode};

const RECORDING: &str = "tests/fixtures/recordings/outage.jsonl";

/// A replay session without a terminal: the player moves, the app draws.
struct Review {
    player: Player,
    app: App,
}

impl Review {
    fn open() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDING);
        let rec = record::read(&path).expect("the sample recording reads");
        let opts = UiOptions {
            mode: ViewMode::Replay,
            ..UiOptions::default()
        };
        let app = App::new(&opts, State::new(rec.header.state.clone()));
        let mut r = Review {
            player: Player::new(rec, 1.0),
            app,
        };
        r.control(Player::begin);
        r
    }

    /// Runs one player control and hands what it sent to the dashboard, clock last — what
    /// the driver does for a key press.
    fn control(&mut self, f: impl FnOnce(&mut Player, &mut Vec<Feed>)) {
        let mut out = Vec::new();
        f(&mut self.player, &mut out);
        out.push(self.player.clock());
        for item in out {
            self.app.apply_feed(item);
        }
    }

    fn pause(&mut self) {
        self.control(|p, _| p.toggle_pause());
    }

    fn frame(&mut self, w: u16, h: u16) -> String {
        frame(&mut self.app, w, h)
    }
}

fn header(frame: &str) -> &str {
    let end = frame
        .match_indices('\n')
        .nth(1)
        .map_or(frame.len(), |(i, _)| i);
    &frame[..end]
}

#[test]
fn replay_at_the_start() {
    let mut r = Review::open();
    let f = r.frame(100, 30);
    let head = header(&f);
    assert!(head.contains("REPLAY"), "{head}");
    assert!(head.contains("▶ playing ×1.0"), "{head}");
    insta::assert_snapshot!(f);
}

#[test]
fn replay_at_the_first_alert() {
    let mut r = Review::open();
    r.pause();
    r.control(Player::next_alert);
    let f = r.frame(160, 50);
    let head = header(&f);
    assert!(
        head.contains("REPLAY") && head.contains("‖ paused"),
        "{head}"
    );
    // The recording's first alert: one attempt in three timed out (> 30 %).
    assert!(
        f.contains("INFRA    timeout-violation rate 33 %"),
        "the alert that stopped the cursor is shown:\n{f}"
    );
    insta::assert_snapshot!(f);
}

#[test]
fn replay_at_the_end() {
    let mut r = Review::open();
    r.control(Player::to_end);
    let f = r.frame(100, 30);
    let head = header(&f);
    assert!(
        head.contains("REPLAY") && head.contains("‖ paused"),
        "{head}"
    );
    assert!(
        !head.contains("PROBES ENDED"),
        "a replay never says probes ended: {head}"
    );
    insta::assert_snapshot!(f);
}

/// Going back starts the state over and replays up to the cursor: what is drawn must not
/// depend on the way the cursor got there.
#[test]
fn the_same_moment_draws_the_same_whichever_way_it_was_reached() {
    let mut fresh = Review::open();
    fresh.pause();
    fresh.control(Player::next_alert);

    let mut back = Review::open();
    back.control(Player::to_end);
    back.control(Player::to_start);
    back.control(Player::next_alert);

    assert_eq!(back.frame(160, 50), fresh.frame(160, 50));
}
