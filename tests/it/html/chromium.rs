//! The sample outage's page, and a pool run's, in a real headless Chromium (Debian's
//! `chromium`; `.ci/run` installs it): screenshots of the page as is and with its charts hidden (`visibility:
//! hidden` keeps the layout), so the pixels that differ are exactly where the charts are.
//! Those regions must be there, one per chart, far from blank, and carry the colours the
//! chart means there (the theme's fail red for the outage, the ok green of phases that
//! passed, the plot background).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use connscope::report::charts::colors;
use connscope::ui::theme::ThemeName;

const CHROMIUM: &str = "/usr/bin/chromium";
const W: usize = 1200;
const H: usize = 3000;

/// Runs Chromium on `page` into `png`, in a process group of its own that is killed if it
/// has not finished within two minutes.
fn screenshot(page: &Path, png: &Path, profile: &Path) {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={W},{H}"))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{CHROMIUM} must be installed (.ci/run installs it): {e}"));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if Instant::now() > deadline {
            // SAFETY: a signal to the process group we created for this child.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            panic!("chromium took more than two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium: {status}");
}

struct Image {
    w: usize,
    h: usize,
    rgb: Vec<[u8; 3]>,
}

fn decode(path: &Path) -> Image {
    let file = std::fs::File::open(path).expect("the screenshot exists");
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let rgb = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Image {
        w: info.width as usize,
        h: info.height as usize,
        rgb,
    }
}

fn parse_hex(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("a hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6)
}

/// Rows of pixels that differ between the two shots, grouped into vertical bands (a band
/// ends after 30 unchanged rows), each with the pixels that changed.
fn bands(with: &Image, without: &Image) -> Vec<(usize, usize, Vec<[u8; 3]>)> {
    let mut out: Vec<(usize, usize, Vec<[u8; 3]>)> = Vec::new();
    let mut last_changed: Option<usize> = None;
    for y in 0..with.h {
        let row = y * with.w..(y + 1) * with.w;
        let changed: Vec<[u8; 3]> = with.rgb[row.clone()]
            .iter()
            .zip(&without.rgb[row])
            .filter(|(a, b)| a != b)
            .map(|(a, _)| *a)
            .collect();
        if changed.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(band) if last_changed.is_some_and(|l| y - l <= 30) => {
                band.1 = y;
                band.2.extend(changed);
            }
            _ => out.push((y, y, changed)),
        }
        last_changed = Some(y);
    }
    out
}

/// The page's chart regions: screenshots with and without the charts, and where they differ.
fn chart_bands(page: &str) -> Vec<(usize, usize, Vec<[u8; 3]>)> {
    let dir = tempfile::tempdir().expect("tmp");
    let shown = dir.path().join("report.html");
    let hidden = dir.path().join("hidden.html");
    std::fs::write(&shown, page).expect("write");
    let without = page.replacen(
        "</head>",
        "<style>.chart{visibility:hidden}</style></head>",
        1,
    );
    std::fs::write(&hidden, without).expect("write");
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    screenshot(&shown, &a, &dir.path().join("profile-a"));
    screenshot(&hidden, &b, &dir.path().join("profile-b"));
    let (with, without) = (decode(&a), decode(&b));
    assert_eq!((with.w, with.h), (W, H), "the window's size");
    assert_eq!((without.w, without.h), (W, H));
    bands(&with, &without)
}

fn count(px: &[[u8; 3]], colour: [u8; 3]) -> usize {
    px.iter().filter(|p| near(**p, colour)).count()
}

#[test]
fn chromium_draws_every_chart_of_the_sample_outage() {
    let (code, page) = super::html_of(&super::sample(), &[]);
    assert_eq!(code, Some(2));
    let found = chart_bands(&page);
    let spans: Vec<(usize, usize)> = found.iter().map(|(a, b, _)| (*a, *b)).collect();
    assert_eq!(
        found.len(),
        3,
        "one region per chart (timeline, phases, strips): {spans:?}"
    );
    let c = colors(ThemeName::Light);
    let (fail, ok, plot, warn) = (
        parse_hex(&c.fail),
        parse_hex(&c.ok),
        parse_hex(&c.plot),
        parse_hex(&c.warn),
    );
    for (i, (top, bottom, px)) in found.iter().enumerate() {
        assert!(bottom - top > 80, "chart {i} has height: {spans:?}");
        assert!(
            px.len() > 20_000,
            "chart {i} is not blank: {} pixels",
            px.len()
        );
        assert!(count(px, plot) > 5_000, "chart {i} has its plot area");
        assert!(count(px, fail) > 200, "chart {i} shows the failure in red");
    }
    let [timeline, phases, strips] = [&found[0].2, &found[1].2, &found[2].2];
    assert!(count(timeline, warn) > 200, "the warning alert's band");
    assert!(count(phases, ok) > 50, "phases 1 and 2 passed");
    // The legend's swatch is the only green: no endpoint was ever healthy.
    assert!(
        count(strips, fail) > 10 * count(strips, ok),
        "the strips are red: {} fail, {} ok pixels",
        count(strips, fail),
        count(strips, ok)
    );
}

#[test]
fn chromium_draws_the_pool_chart_of_a_pool_run() {
    let (code, page) = super::html_of(&super::pool_run(), &[]);
    assert_eq!(code, Some(2));
    let found = chart_bands(&page);
    let spans: Vec<(usize, usize)> = found.iter().map(|(a, b, _)| (*a, *b)).collect();
    assert_eq!(
        found.len(),
        2,
        "one region per chart (timeline, pool): {spans:?}"
    );
    let c = colors(ThemeName::Light);
    let (fail, plot, warn, wait) = (
        parse_hex(&c.fail),
        parse_hex(&c.plot),
        parse_hex(&c.warn),
        parse_hex(&c.steps[1]),
    );
    let (top, bottom, pool) = &found[1];
    assert!(bottom - top > 150, "the pool chart has height: {spans:?}");
    assert!(pool.len() > 20_000, "not blank: {} pixels", pool.len());
    assert!(count(pool, plot) > 5_000, "its plot area");
    assert!(count(pool, wait) > 200, "the waits' bars");
    assert!(count(pool, warn) > 100, "the still-waiting bars");
    assert!(
        count(pool, fail) > 200,
        "the timeout mark, the acquire-timeout line, the failing figures"
    );
}
