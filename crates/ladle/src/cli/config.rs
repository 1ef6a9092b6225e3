//! `~/.ladle/config.json`: the API the client talks to, its tokens and the targeted org and
//! space. Readable by its owner only, since it holds tokens.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// The API's root URL, without a trailing slash.
    pub api: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<Named>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<Named>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Named {
    pub guid: String,
    pub name: String,
}

impl Config {
    pub fn path() -> anyhow::Result<PathBuf> {
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .context("HOME is not set: cannot find ~/.ladle/config.json")?;
        Ok(PathBuf::from(home).join(".ladle").join("config.json"))
    }

    /// The saved config, or an empty one when there is none yet.
    pub fn load() -> anyhow::Result<Config> {
        let path = Config::path()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not valid JSON", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the config atomically (a temporary file renamed over it), mode 0600.
    pub fn save(&self) -> anyhow::Result<()> {
        let path = Config::path()?;
        let dir = path.parent().expect("config path has a parent");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let temporary = dir.join(format!(".config.json.{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        // A file left by an older run may have been made with a wider mode.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    pub fn api(&self) -> anyhow::Result<&str> {
        self.api
            .as_deref()
            .context("no API set: run `ladle login --api URL` first")
    }

    pub fn space(&self) -> anyhow::Result<&Named> {
        self.space
            .as_ref()
            .context("no space targeted: run `ladle target -o ORG -s SPACE` first")
    }
}
