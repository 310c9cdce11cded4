//! Where startup-log lines come from: a file (read once, or followed like `tail -F`), standard
//! input or any byte stream, or a command's standard output. Every source turns bytes into
//! bounded, lossily decoded lines, so binary garbage or a line without end can neither crash
//! the probe nor grow its memory. `Source::next` is cancel-safe (all progress is kept in the
//! struct between awaits), so the probe can `select!` on it against its timers.

mod command;
mod file;
mod stream;

use std::collections::VecDeque;

use crate::event::NoteLevel;

pub(crate) use command::CommandLines;
pub(crate) use file::FileTail;
pub(crate) use stream::StreamLines;
pub use stream::blocking_reader;

/// Longest line kept; the rest of a longer line is read and dropped.
pub const MAX_LINE: usize = 64 * 1024;

/// How much one read asks for.
const CHUNK: usize = 16 * 1024;

/// One line, without its `\n` (and `\r`), invalid UTF-8 replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub text: String,
    /// Longer than `MAX_LINE`: only its beginning is in `text`.
    pub(crate) overlong: bool,
}

/// What a source has to say next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Next {
    Line(Line),
    /// Something the person should know (file missing, rotated, command exited).
    Note(NoteLevel, String),
    /// No more lines will come. `complete`: the log really ended (file read to its end,
    /// stream closed, command exited), as opposed to "could not be read".
    End {
        complete: bool,
    },
}

/// Splits bytes into lines, capping each at `cap` bytes.
#[derive(Debug)]
pub(crate) struct Splitter {
    buf: Vec<u8>,
    overlong: bool,
    ready: VecDeque<Line>,
    cap: usize,
}

impl Splitter {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            overlong: false,
            ready: VecDeque::new(),
            cap,
        }
    }

    pub(crate) fn push(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            self.append(&data[..i]);
            self.emit();
            data = &data[i + 1..];
        }
        self.append(data);
    }

    fn append(&mut self, part: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        if part.len() > room {
            self.overlong = true;
        }
        self.buf.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn emit(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.strip_suffix('\r').unwrap_or(&text).to_string();
        self.ready.push_back(Line {
            text,
            overlong: self.overlong,
        });
        self.buf.clear();
        self.overlong = false;
    }

    /// The log ended: a last line without `\n` still counts.
    pub(crate) fn finish(&mut self) {
        if !self.buf.is_empty() || self.overlong {
            self.emit();
        }
    }

    pub(crate) fn pop(&mut self) -> Option<Line> {
        self.ready.pop_front()
    }
}

/// A source of lines; see the module comment.
pub(crate) enum Source {
    File(FileTail),
    Stream(StreamLines),
    Command(CommandLines),
}

impl Source {
    pub(crate) async fn next(&mut self) -> Next {
        match self {
            Source::File(f) => f.next().await,
            Source::Stream(s) => s.next().await,
            Source::Command(c) => c.next().await,
        }
    }

    /// Stops whatever runs behind the source (a command and its children) and reaps it.
    pub(crate) async fn shutdown(&mut self) {
        if let Source::Command(c) = self {
            c.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(cap: usize, chunks: &[&[u8]]) -> Vec<Line> {
        let mut s = Splitter::new(cap);
        for c in chunks {
            s.push(c);
        }
        s.finish();
        std::iter::from_fn(|| s.pop()).collect()
    }

    #[test]
    fn splits_across_chunks_and_keeps_a_last_partial_line() {
        let got = lines(100, &[b"ab", b"c\r\nde", b"f\n\nxy"]);
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["abc", "def", "", "xy"]);
        assert!(got.iter().all(|l| !l.overlong));
    }

    #[test]
    fn overlong_lines_are_capped_and_flagged() {
        let long = vec![b'x'; 25];
        let got = lines(10, &[&long, &long, b"\nok\n"]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].text, "x".repeat(10));
        assert!(got[0].overlong);
        assert_eq!(got[1].text, "ok");
        assert!(!got[1].overlong);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let got = lines(100, &[b"a\xff\xfeb\n"]);
        assert_eq!(got[0].text, "a\u{fffd}\u{fffd}b");
    }
}
