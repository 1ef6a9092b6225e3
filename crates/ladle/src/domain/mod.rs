//! Domain types: raw strings become these once, at the edge, and are trusted afterwards.

pub mod buildpack_url;
pub mod dialect;
pub mod guid;
pub mod metadata;
pub mod page;
pub mod process;
pub mod roles;
pub mod states;
pub mod unknown_error;

pub use buildpack_url::BuildpackUrl;
pub use dialect::Dialect;
pub use guid::Guid;
pub use metadata::MetadataPatch;
pub use page::{Order, OrderColumn, Page};
pub use roles::RoleType;
pub use states::{BuildState, BuildpackState, DropletState, JobState, PackageState, PackageType};

use std::fmt;

/// A user-chosen name (org, space, app, stack, buildpack): 1–255 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceName(String);

impl ResourceName {
    /// Returns the problem in CC's words ("can't be blank", …) when the name is unusable.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() {
            return Err("can't be blank");
        }
        if raw.chars().count() > 255 {
            return Err("is too long (maximum is 255 characters)");
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(ResourceName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printable_and_bounded() {
        assert!(ResourceName::parse("my-app 2").is_ok());
        assert_eq!(ResourceName::parse(""), Err("can't be blank"));
        assert!(ResourceName::parse("a\nb").is_err());
        assert!(ResourceName::parse(&"x".repeat(256)).is_err());
    }
}
