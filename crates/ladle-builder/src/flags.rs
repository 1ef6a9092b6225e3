//! Command-line flags, spelled and parsed the way Cloud Foundry's builder (Go's `flag` package)
//! does: single-dash long names (`-buildDir=/x`, `-buildDir /x`, `--buildDir=/x`), booleans bare
//! or with `=true|false`. clap cannot parse single-dash long names, hence this small parser.

use std::path::{Path, PathBuf};

/// A flag problem, split the way the Go builder splits it: malformed input exits 2 inside
/// `Parse`, empty values are caught afterwards by `Validate` and exit 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("{0}")]
    Usage(String),
    #[error("{}", .0.iter().map(|name| format!("missing flag: -{name}")).collect::<Vec<_>>().join(", "))]
    Missing(Vec<&'static str>),
    /// `-h`/`-help`: print usage and exit 0 like Go's flag package.
    #[error("help requested")]
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub build_dir: PathBuf,
    pub output_droplet: PathBuf,
    pub output_metadata: PathBuf,
    pub output_build_artifacts_cache: PathBuf,
    pub buildpacks_dir: PathBuf,
    pub buildpacks_download_dir: PathBuf,
    pub build_artifacts_cache_dir: PathBuf,
    pub buildpack_order: Vec<String>,
    pub skip_detect: bool,
    pub skip_cert_verify: bool,
    /// ladle extension: lets `file://` git URLs through (tests, air-gapped mirrors).
    pub allow_file_git_urls: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bool,
}

struct FlagSpec {
    name: &'static str,
    kind: Kind,
    default: &'static str,
    help: &'static str,
}

const FLAGS: &[FlagSpec] = &[
    text("buildDir", "/tmp/app", "directory containing raw app bits"),
    text(
        "outputDroplet",
        "/tmp/droplet",
        "file where compressed droplet should be written",
    ),
    text(
        "outputMetadata",
        "/tmp/result.json",
        "file where the staging result JSON is written",
    ),
    text(
        "outputBuildArtifactsCache",
        "/tmp/output-cache",
        "file where compressed contents of new cached build artifacts should be written",
    ),
    text(
        "buildpacksDir",
        "/tmp/buildpacks",
        "directory containing the buildpacks to try",
    ),
    text(
        "buildpacksDownloadDir",
        "/tmp/buildpackdownloads",
        "directory to download buildpacks to",
    ),
    text(
        "buildArtifactsCacheDir",
        "/tmp/cache",
        "directory where previous cached build artifacts should be extracted",
    ),
    text(
        "buildpackOrder",
        "",
        "comma-separated list of buildpacks, to be tried in order",
    ),
    boolean("skipDetect", "skip buildpack detect"),
    boolean("skipCertVerify", "skip SSL certificate verification"),
    boolean(
        "allowFileGitUrls",
        "allow file:// git buildpack URLs (also LADLE_ALLOW_FILE_GIT_URLS=1)",
    ),
];

const fn text(name: &'static str, default: &'static str, help: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        kind: Kind::Text,
        default,
        help,
    }
}

const fn boolean(name: &'static str, help: &'static str) -> FlagSpec {
    FlagSpec {
        name,
        kind: Kind::Bool,
        default: "false",
        help,
    }
}

/// Usage text in the shape Go's flag package prints it.
pub fn usage() -> String {
    let mut out = String::from("Usage of builder:\n");
    for flag in FLAGS {
        let placeholder = if flag.kind == Kind::Text {
            " string"
        } else {
            ""
        };
        out.push_str(&format!(
            "  -{}{}\n    \t{}",
            flag.name, placeholder, flag.help
        ));
        if flag.kind == Kind::Text && !flag.default.is_empty() {
            out.push_str(&format!(" (default \"{}\")", flag.default));
        }
        out.push('\n');
    }
    out
}

/// Parses the arguments (without the program name). `env_allows_file_urls` is the value of
/// `LADLE_ALLOW_FILE_GIT_URLS == "1"`, passed in so tests need not touch the process env.
pub fn parse<I, S>(args: I, env_allows_file_urls: bool) -> Result<Config, FlagError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut values: Vec<String> = FLAGS.iter().map(|f| f.default.to_string()).collect();
    let mut args = args.into_iter().map(Into::into);
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let (name, inline_value) = split_flag(&arg)?;
        if name == "h" || name == "help" {
            return Err(FlagError::Help);
        }
        let index = FLAGS
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| FlagError::Usage(format!("flag provided but not defined: -{name}")))?;
        values[index] = flag_value(&FLAGS[index], inline_value, &mut args)?;
    }
    if let Some(extra) = args.next() {
        return Err(FlagError::Usage(format!("unexpected argument: {extra}")));
    }
    build_config(values, env_allows_file_urls)
}

/// `-name`, `--name`, `-name=value` → (name, value). Go rejects `---x` and `-=x`.
fn split_flag(arg: &str) -> Result<(&str, Option<&str>), FlagError> {
    let body = arg
        .strip_prefix("--")
        .or_else(|| arg.strip_prefix('-'))
        .filter(|body| !body.is_empty())
        .ok_or_else(|| FlagError::Usage(format!("unexpected argument: {arg}")))?;
    if body.starts_with('-') || body.starts_with('=') {
        return Err(FlagError::Usage(format!("bad flag syntax: {arg}")));
    }
    Ok(match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    })
}

fn flag_value(
    spec: &FlagSpec,
    inline_value: Option<&str>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<String, FlagError> {
    match (spec.kind, inline_value) {
        (Kind::Bool, None) => Ok("true".into()),
        (Kind::Bool, Some(raw)) => parse_bool(raw).map(|b| b.to_string()).ok_or_else(|| {
            FlagError::Usage(format!(
                "invalid boolean value {raw:?} for -{}: parse error",
                spec.name
            ))
        }),
        (Kind::Text, Some(value)) => Ok(value.to_string()),
        (Kind::Text, None) => rest
            .next()
            .ok_or_else(|| FlagError::Usage(format!("flag needs an argument: -{}", spec.name))),
    }
}

/// The spellings Go's `strconv.ParseBool` accepts.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn build_config(values: Vec<String>, env_allows_file_urls: bool) -> Result<Config, FlagError> {
    let missing: Vec<&'static str> = FLAGS
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_empty())
        .map(|(spec, _)| spec.name)
        .collect();
    if !missing.is_empty() {
        return Err(FlagError::Missing(missing));
    }
    let get = |name: &str| -> &str {
        let index = FLAGS
            .iter()
            .position(|f| f.name == name)
            .expect("flag is declared");
        &values[index]
    };
    let order = get("buildpackOrder");
    if order.split(',').any(str::is_empty) {
        return Err(FlagError::Usage(format!(
            "invalid -buildpackOrder {order:?}: empty buildpack key"
        )));
    }
    Ok(Config {
        build_dir: absolute(get("buildDir")),
        output_droplet: absolute(get("outputDroplet")),
        output_metadata: absolute(get("outputMetadata")),
        output_build_artifacts_cache: absolute(get("outputBuildArtifactsCache")),
        buildpacks_dir: absolute(get("buildpacksDir")),
        buildpacks_download_dir: absolute(get("buildpacksDownloadDir")),
        build_artifacts_cache_dir: absolute(get("buildArtifactsCacheDir")),
        buildpack_order: order.split(',').map(str::to_string).collect(),
        skip_detect: get("skipDetect") == "true",
        skip_cert_verify: get("skipCertVerify") == "true",
        allow_file_git_urls: get("allowFileGitUrls") == "true" || env_allows_file_urls,
    })
}

/// Buildpack scripts get these paths as arguments and run from the builder's cwd, so relative
/// flag values are anchored to it once, like the Go builder does.
fn absolute(value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Config {
        parse(args.iter().copied(), false).expect("flags parse")
    }

    #[test]
    fn accepts_all_three_spellings() {
        let config = parse_ok(&[
            "-buildDir=/a",
            "--outputDroplet=/d.tgz",
            "-outputMetadata",
            "/r.json",
            "-buildpackOrder=x,https://example.com/bp.git#main",
        ]);
        assert_eq!(config.build_dir, PathBuf::from("/a"));
        assert_eq!(config.output_droplet, PathBuf::from("/d.tgz"));
        assert_eq!(config.output_metadata, PathBuf::from("/r.json"));
        assert_eq!(
            config.buildpack_order,
            vec!["x", "https://example.com/bp.git#main"]
        );
    }

    #[test]
    fn uses_cf_defaults() {
        let config = parse_ok(&["-buildpackOrder=x"]);
        assert_eq!(config.build_dir, PathBuf::from("/tmp/app"));
        assert_eq!(config.output_droplet, PathBuf::from("/tmp/droplet"));
        assert_eq!(config.output_metadata, PathBuf::from("/tmp/result.json"));
        assert_eq!(
            config.output_build_artifacts_cache,
            PathBuf::from("/tmp/output-cache")
        );
        assert_eq!(config.buildpacks_dir, PathBuf::from("/tmp/buildpacks"));
        assert_eq!(
            config.buildpacks_download_dir,
            PathBuf::from("/tmp/buildpackdownloads")
        );
        assert_eq!(
            config.build_artifacts_cache_dir,
            PathBuf::from("/tmp/cache")
        );
        assert!(!config.skip_detect && !config.skip_cert_verify && !config.allow_file_git_urls);
    }

    #[test]
    fn booleans_bare_or_with_value() {
        let config = parse_ok(&["-buildpackOrder=x", "-skipDetect", "--skipCertVerify=true"]);
        assert!(config.skip_detect && config.skip_cert_verify);
        let config = parse_ok(&[
            "-buildpackOrder=x",
            "-skipDetect=false",
            "-skipCertVerify=F",
        ]);
        assert!(!config.skip_detect && !config.skip_cert_verify);
        let err = parse(["-buildpackOrder=x", "-skipDetect=yes"], false).unwrap_err();
        assert_eq!(
            err,
            FlagError::Usage("invalid boolean value \"yes\" for -skipDetect: parse error".into())
        );
    }

    #[test]
    fn bool_does_not_swallow_next_argument() {
        let err = parse(["-skipDetect", "false", "-buildpackOrder=x"], false).unwrap_err();
        assert_eq!(err, FlagError::Usage("unexpected argument: false".into()));
    }

    #[test]
    fn file_git_urls_from_flag_or_env() {
        assert!(parse_ok(&["-buildpackOrder=x", "-allowFileGitUrls"]).allow_file_git_urls);
        assert!(
            parse(["-buildpackOrder=x"], true)
                .unwrap()
                .allow_file_git_urls
        );
    }

    #[test]
    fn unknown_and_malformed_flags_are_usage_errors() {
        let unknown = parse(["-buildpackOrder=x", "-nope=1"], false).unwrap_err();
        assert_eq!(
            unknown,
            FlagError::Usage("flag provided but not defined: -nope".into())
        );
        let bad = parse(["---buildDir=/x"], false).unwrap_err();
        assert_eq!(
            bad,
            FlagError::Usage("bad flag syntax: ---buildDir=/x".into())
        );
        let dangling = parse(["-buildDir"], false).unwrap_err();
        assert_eq!(
            dangling,
            FlagError::Usage("flag needs an argument: -buildDir".into())
        );
    }

    #[test]
    fn empty_values_are_reported_together() {
        let err = parse(["-buildDir="], false).unwrap_err();
        assert_eq!(err, FlagError::Missing(vec!["buildDir", "buildpackOrder"]));
        assert_eq!(
            err.to_string(),
            "missing flag: -buildDir, missing flag: -buildpackOrder"
        );
    }

    #[test]
    fn empty_key_inside_order_is_refused() {
        let err = parse(["-buildpackOrder=a,,b"], false).unwrap_err();
        assert!(
            matches!(err, FlagError::Usage(message) if message.contains("empty buildpack key"))
        );
    }

    #[test]
    fn double_dash_ends_flags_and_help_is_recognised() {
        let config = parse_ok(&["-buildpackOrder=x", "--"]);
        assert_eq!(config.buildpack_order, vec!["x"]);
        assert_eq!(parse(["-h"], false).unwrap_err(), FlagError::Help);
        assert_eq!(parse(["--help"], false).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn relative_paths_are_anchored_to_cwd() {
        let config = parse_ok(&["-buildpackOrder=x", "-buildDir=app"]);
        assert!(config.build_dir.is_absolute());
        assert!(config.build_dir.ends_with("app"));
    }
}
