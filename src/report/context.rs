//! What a report says beyond the state: where its data came from and which window of it was
//! applied. The state knows only events; a post-mortem also needs to say "from recording X,
//! 10:05 to 10:20, 2 damaged lines skipped".

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Plain words: "live check", or "recording incident.jsonl (check, connscope 0.1.0)".
    pub source: String,
    /// Times in the report are relative to this; defaults to the first event.
    pub(crate) origin: Option<DateTime<Utc>>,
    /// The window asked for (`--from` / `--to`); `None` means the recording's own edge.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Recording lines that could not be read and were skipped.
    pub(crate) skipped_lines: u64,
    /// The effective configuration, redacted (a recording's header `config`), for the
    /// configuration checks; `Value::Null` or absent when not known.
    pub settings: Option<serde_json::Value>,
    /// Colours of a document (HTML, chart files): `None` is light — `--theme` picks another.
    pub theme: Option<crate::ui::theme::ThemeName>,
    /// Chart files written beside the markdown (`--assets DIR`), which the markdown links.
    pub assets: Option<Assets>,
}

/// Charts written as SVG files for the markdown to show.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// The directory as given, the links' prefix (relative to where the markdown is read).
    pub dir: String,
    /// Each file's title, name and caption, in reading order.
    pub files: Vec<AssetFile>,
}

#[derive(Debug, Clone)]
pub struct AssetFile {
    pub title: String,
    pub name: String,
    pub(crate) caption: String,
}

impl Context {
    pub fn live(command: &str, settings: serde_json::Value) -> Self {
        Self {
            source: format!("live {command}"),
            settings: Some(settings),
            ..Self::default()
        }
    }

    /// A duration such as the 75 s minimum, read from the settings at a dotted path.
    pub(crate) fn setting_duration(&self, path: &str) -> Option<std::time::Duration> {
        let v = self.setting(path)?;
        crate::config::duration::parse(v.as_str()?).ok()
    }

    pub(crate) fn setting_u64(&self, path: &str) -> Option<u64> {
        self.setting(path)?.as_u64()
    }

    fn setting(&self, path: &str) -> Option<&serde_json::Value> {
        path.split('.')
            .try_fold(self.settings.as_ref()?, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_by_dotted_path() {
        let c = Context {
            settings: Some(serde_json::json!({
                "minimums": {"connection": "25s"},
                "capacity": {"connections": 10},
                "x": null
            })),
            ..Context::default()
        };
        assert_eq!(
            c.setting_duration("minimums.connection"),
            Some(std::time::Duration::from_secs(25))
        );
        assert_eq!(c.setting_u64("capacity.connections"), Some(10));
        assert_eq!(c.setting_u64("x"), None);
        assert_eq!(c.setting_duration("minimums.nope"), None);
        assert_eq!(Context::default().setting_u64("capacity.connections"), None);
    }
}
