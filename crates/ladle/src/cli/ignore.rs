//! `.cfignore`: which files of an app directory `ladle push` leaves out. The syntax is the CF
//! CLI's, which is gitignore's: `#` comments, `!` to take a path back, a trailing `/` for
//! directories only, a leading or inner `/` to anchor at the app root, `*`, `?`, `[...]` and
//! `**`. An ignored directory leaves out everything under it. Like the CF CLI, some files are
//! always left out, whatever `.cfignore` says.

/// The CF CLI's default ignore list, applied before `.cfignore`.
const DEFAULTS: &[&str] = &[
    ".cfignore",
    "/manifest.yml",
    ".gitignore",
    ".git",
    ".hg",
    ".svn",
    "_darcs",
    ".DS_Store",
];

struct Rule {
    negated: bool,
    directory_only: bool,
    anchored: bool,
    pattern: Vec<char>,
}

pub struct Ignore {
    rules: Vec<Rule>,
}

impl Ignore {
    /// The defaults followed by the lines of a `.cfignore` (later lines win).
    pub fn parse(cfignore: &str) -> Ignore {
        let lines = DEFAULTS.iter().copied().chain(cfignore.lines());
        Ignore {
            rules: lines.filter_map(Rule::parse).collect(),
        }
    }

    /// Whether `path` (relative to the app root, `/`-separated) is left out, looking at its
    /// parent directories first: a file under an ignored directory is ignored.
    pub fn ignores(&self, path: &str, is_dir: bool) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        for end in 1..parts.len() {
            if self.matches(&parts[..end].join("/"), true) {
                return true;
            }
        }
        self.matches(path, is_dir)
    }

    fn matches(&self, path: &str, is_dir: bool) -> bool {
        let mut ignored = false;
        for rule in &self.rules {
            if rule.directory_only && !is_dir {
                continue;
            }
            if rule.matches(path) {
                ignored = !rule.negated;
            }
        }
        ignored
    }
}

impl Rule {
    fn parse(line: &str) -> Option<Rule> {
        let line = line.trim_end_matches(['\r', ' ']);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (negated, line) = match line.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix('\\').unwrap_or(line)),
        };
        let (directory_only, line) = match line.strip_suffix('/') {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let anchored = line.contains('/');
        let line = line.trim_start_matches('/');
        if line.is_empty() {
            return None;
        }
        Some(Rule {
            negated,
            directory_only,
            anchored,
            pattern: line.chars().collect(),
        })
    }

    fn matches(&self, path: &str) -> bool {
        if self.anchored {
            glob(&self.pattern, &path.chars().collect::<Vec<_>>())
        } else {
            let name = path.rsplit('/').next().unwrap_or(path);
            glob(&self.pattern, &name.chars().collect::<Vec<_>>())
        }
    }
}

/// Shell-style matching where `*` and `?` stop at `/` and `**` crosses it.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('*') if pattern.get(1) == Some(&'*') => {
            let rest = &pattern[2..];
            // `**/x` also matches `x` at the top.
            let rest_after_slash = rest.strip_prefix(&['/']).unwrap_or(rest);
            (0..=text.len()).any(|i| glob(rest, &text[i..]))
                || (rest.len() != rest_after_slash.len() && glob(rest_after_slash, text))
        }
        Some('*') => {
            let rest = &pattern[1..];
            for i in 0..=text.len() {
                if glob(rest, &text[i..]) {
                    return true;
                }
                if text.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => {
            matches!(text.first(), Some(c) if *c != '/') && glob(&pattern[1..], &text[1..])
        }
        Some('[') => match (class(&pattern[1..]), text.first()) {
            (Some((matcher, len)), Some(c)) if *c != '/' => {
                matcher(*c) && glob(&pattern[1 + len..], &text[1..])
            }
            (None, Some(c)) => *c == '[' && glob(&pattern[1..], &text[1..]),
            _ => false,
        },
        Some('\\') if pattern.len() > 1 => {
            text.first() == Some(&pattern[1]) && glob(&pattern[2..], &text[1..])
        }
        Some(p) => text.first() == Some(p) && glob(&pattern[1..], &text[1..]),
    }
}

type ClassMatcher = Box<dyn Fn(char) -> bool>;

/// A `[...]` class after its `[`: the matcher and how many pattern chars it used (with `]`).
fn class(pattern: &[char]) -> Option<(ClassMatcher, usize)> {
    let (negated, start) = match pattern.first() {
        Some('!') | Some('^') => (true, 1),
        _ => (false, 0),
    };
    let close = pattern
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, c)| **c == ']')
        .map(|(i, _)| i)?;
    let body: Vec<char> = pattern[start..close].to_vec();
    let matcher = move |c: char| {
        let mut i = 0;
        let mut hit = false;
        while i < body.len() {
            if i + 2 < body.len() && body[i + 1] == '-' {
                hit |= body[i] <= c && c <= body[i + 2];
                i += 3;
            } else {
                hit |= body[i] == c;
                i += 1;
            }
        }
        hit != negated
    };
    Some((Box::new(matcher), close + 1))
}

#[cfg(test)]
mod tests {
    use super::Ignore;

    #[test]
    fn defaults_leave_out_version_control_and_the_ignore_file() {
        let ignore = Ignore::parse("");
        assert!(ignore.ignores(".cfignore", false));
        assert!(ignore.ignores(".git", true));
        assert!(ignore.ignores(".git/config", false));
        assert!(ignore.ignores("sub/.DS_Store", false));
        assert!(ignore.ignores("manifest.yml", false));
        assert!(!ignore.ignores("sub/manifest.yml", false));
        assert!(!ignore.ignores("app.rb", false));
    }

    #[test]
    fn gitignore_syntax() {
        let ignore = Ignore::parse(
            "# comment\n*.log\n!keep.log\n/top.txt\ntmp/\ndocs/*.md\n**/cache/**\nfile[0-9].txt\n",
        );
        assert!(ignore.ignores("a.log", false));
        assert!(ignore.ignores("deep/b.log", false));
        assert!(!ignore.ignores("keep.log", false));
        assert!(ignore.ignores("top.txt", false));
        assert!(!ignore.ignores("sub/top.txt", false));
        assert!(ignore.ignores("tmp", true));
        assert!(ignore.ignores("tmp/x", false));
        assert!(!ignore.ignores("tmp", false));
        assert!(ignore.ignores("docs/a.md", false));
        assert!(!ignore.ignores("docs/sub/a.md", false));
        assert!(ignore.ignores("x/cache/y", false));
        assert!(ignore.ignores("file3.txt", false));
        assert!(!ignore.ignores("filex.txt", false));
        assert!(!ignore.ignores("# comment", false));
    }
}
