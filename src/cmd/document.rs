//! What `check` and `report` share for documents: the colours of the HTML page and of chart
//! files (`--theme`, light by default), and markdown's chart files (`--assets DIR`) — checked
//! before anything runs, written before the markdown that links them is printed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::Format;
use crate::error::{AppError, AppResult};
use crate::report::context::{AssetFile, Assets};
use crate::report::{Context, Report};
use crate::ui::theme::ThemeName;

/// The document options of one command line.
#[derive(Debug, Clone, Default)]
pub(super) struct DocOptions {
    pub theme: Option<ThemeName>,
    pub assets: Option<PathBuf>,
}

/// `--theme` and `--assets`, checked against the format: a bad value is a usage error (64).
pub(super) fn options(
    format: Format,
    theme: Option<&str>,
    assets: Option<&Path>,
) -> AppResult<DocOptions> {
    let theme = theme
        .map(|t| {
            ThemeName::parse(t).ok_or_else(|| {
                AppError::usage(format!(
                    "--theme: unknown theme `{t}`; expected dark, light or high-contrast"
                ))
            })
        })
        .transpose()?;
    if assets.is_some() && format != Format::Markdown {
        return Err(AppError::usage(
            "--assets writes the markdown report's charts: use it with --format markdown",
        ));
    }
    Ok(DocOptions {
        theme,
        assets: assets.map(Path::to_path_buf),
    })
}

impl DocOptions {
    /// Sets the context's theme and writes the chart files, if asked, into it.
    pub(super) fn apply(&self, r: &Report, ctx: &mut Context) -> AppResult<()> {
        ctx.theme = self.theme;
        if let Some(dir) = &self.assets {
            ctx.assets = Some(write_assets(dir, r, ctx)?);
        }
        Ok(())
    }
}

/// Each chart as `DIR/ID.svg` (a stylesheet of its own inside), scrubbed like every output.
fn write_assets(dir: &Path, r: &Report, ctx: &Context) -> AppResult<Assets> {
    std::fs::create_dir_all(dir).map_err(|source| AppError::AssetsDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let theme = crate::report::html::theme(ctx);
    let mut files = Vec::new();
    for c in crate::report::charts::all(r, theme, true) {
        let name = format!("{}.svg", c.id);
        let path = dir.join(&name);
        let mut f = std::fs::File::create(&path).map_err(|source| AppError::AssetCreate {
            path: path.clone(),
            source,
        })?;
        f.write_all(crate::secret::scrub(&c.svg).as_bytes())
            .and_then(|()| f.flush())
            .map_err(|source| AppError::AssetWrite {
                path: path.clone(),
                source,
            })?;
        files.push(AssetFile {
            title: c.title.into(),
            name,
            caption: c.caption,
        });
    }
    Ok(Assets {
        dir: link_dir(dir),
        files,
    })
}

/// The directory as a link prefix: forward slashes, spaces encoded, no trailing slash.
fn link_dir(dir: &Path) -> String {
    let s = dir.to_string_lossy().replace('\\', "/").replace(' ', "%20");
    s.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_need_markdown_and_themes_are_known() {
        let dir = Path::new("charts");
        assert!(options(Format::Markdown, None, Some(dir)).is_ok());
        let e = options(Format::Html, None, Some(dir)).expect_err("html has its charts inline");
        assert_eq!(e.exit_code(), crate::exit::ExitCode::Usage);
        let e = options(Format::Html, Some("sepia"), None).expect_err("unknown theme");
        assert!(e.to_string().contains("sepia"), "{e}");
        let o = options(Format::Html, Some("high-contrast"), None).expect("a theme");
        assert_eq!(o.theme, Some(ThemeName::HighContrast));
        assert_eq!(
            link_dir(Path::new("post mortem/charts/")),
            "post%20mortem/charts"
        );
    }
}
