//! The password file (~/.pgpass, `passfile`, PGPASSFILE), read the way libpq reads it: a file
//! others can read is ignored with a warning, lines are `host:port:db:user:password` with `*`
//! wildcards and backslash escapes, the first match wins.

use std::path::Path;

/// What looking in a password file found, with enough to explain a missing password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lookup {
    Found(String),
    NoMatch,
    Missing,
    /// The file is there but libpq would not read it (and neither do we): why.
    Ignored(String),
}

/// The key a line is matched against.
pub(super) struct Key<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

pub(super) fn lookup(file: &Path, key: &Key<'_>) -> Lookup {
    let text = match read_private(file) {
        Ok(Some(t)) => t,
        Ok(None) => return Lookup::Missing,
        Err(why) => {
            tracing::warn!("{why}");
            return Lookup::Ignored(why);
        }
    };
    match find(&text, key) {
        Some(pw) => Lookup::Found(pw),
        None => Lookup::NoMatch,
    }
}

/// `Ok(None)` when there is no such file; `Err` when libpq would refuse to read it.
fn read_private(path: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Err(format!(
            "password file \"{}\" is not a plain file",
            path.display()
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            ));
        }
    }
    Ok(std::fs::read_to_string(path).ok())
}

/// Splits at unescaped `:` into at most five fields, removing the escapes.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields
                .last_mut()
                .into_iter()
                .for_each(|f| f.extend(chars.next())),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().into_iter().for_each(|f| f.push(c)),
        }
    }
    fields
}

fn find(text: &str, k: &Key<'_>) -> Option<String> {
    let port = k.port.to_string();
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .find_map(|line| {
            let [h, p, d, u, pw] = <[String; 5]>::try_from(fields(line)).ok()?;
            let ok = |f: &str, v: &str| f == "*" || f == v;
            (ok(&h, k.host) && ok(&p, &port) && ok(&d, k.dbname) && ok(&u, k.user)).then_some(pw)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_escapes_and_first_match() {
        let text = "# c\nother:*:*:*:nope\nh1:5432:*:app:pa\\:ss-word\n*:*:*:*:fallback\n";
        let key = |host| Key {
            host,
            port: 5432,
            dbname: "app",
            user: "app",
        };
        assert_eq!(find(text, &key("h1")).as_deref(), Some("pa:ss-word"));
        assert_eq!(find(text, &key("h2")).as_deref(), Some("fallback"));
    }
}
