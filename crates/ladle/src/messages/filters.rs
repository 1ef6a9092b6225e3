//! The filters each list accepts: their query names, in the order the refusal of an unknown
//! parameter lists them, and the plain filter the list's fetcher takes. A filter the client did
//! not send is `None`; one sent empty (`names=`) is `Some` of nothing and matches nothing, as in
//! Cloud Controller. `include` is among the names of the lists that take it (see
//! `messages::include`); it is read there, not here.

use super::list::ListParams;
use super::MessageError;

/// `GET /v3/organizations`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrganizationFilter {
    pub names: Option<Vec<String>>,
    pub guids: Option<Vec<String>>,
}

impl OrganizationFilter {
    pub const NAMES: &'static [&'static str] = &["names", "guids"];

    pub fn from_params(params: &ListParams) -> Self {
        OrganizationFilter {
            names: params.values("names"),
            guids: params.values("guids"),
        }
    }
}

/// `GET /v3/spaces`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaceFilter {
    pub names: Option<Vec<String>>,
    pub guids: Option<Vec<String>>,
    pub organization_guids: Option<Vec<String>>,
}

impl SpaceFilter {
    pub const NAMES: &'static [&'static str] = &["names", "guids", "organization_guids", "include"];

    pub fn from_params(params: &ListParams) -> Self {
        SpaceFilter {
            names: params.values("names"),
            guids: params.values("guids"),
            organization_guids: params.values("organization_guids"),
        }
    }
}

/// `GET /v3/roles`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleFilter {
    pub guids: Option<Vec<String>>,
    pub types: Option<Vec<String>>,
    pub user_guids: Option<Vec<String>>,
    pub space_guids: Option<Vec<String>>,
    pub organization_guids: Option<Vec<String>>,
}

impl RoleFilter {
    pub const NAMES: &'static [&'static str] = &[
        "guids",
        "types",
        "user_guids",
        "space_guids",
        "organization_guids",
        "include",
    ];

    pub fn from_params(params: &ListParams) -> Self {
        RoleFilter {
            guids: params.values("guids"),
            types: params.values("types"),
            user_guids: params.values("user_guids"),
            space_guids: params.values("space_guids"),
            organization_guids: params.values("organization_guids"),
        }
    }
}

/// `GET /v3/users`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub guids: Option<Vec<String>>,
    pub usernames: Option<Vec<String>>,
}

impl UserFilter {
    pub const NAMES: &'static [&'static str] = &["guids", "usernames"];

    pub fn from_params(params: &ListParams) -> Self {
        UserFilter {
            guids: params.values("guids"),
            usernames: params.values("usernames"),
        }
    }
}

/// `GET /v3/stacks`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackFilter {
    pub names: Option<Vec<String>>,
    pub guids: Option<Vec<String>>,
}

impl StackFilter {
    pub const NAMES: &'static [&'static str] = &["names", "guids"];

    pub fn from_params(params: &ListParams) -> Self {
        StackFilter {
            names: params.values("names"),
            guids: params.values("guids"),
        }
    }
}

/// `GET /v3/buildpacks`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildpackFilter {
    pub names: Option<Vec<String>>,
    pub stacks: Option<Vec<String>>,
}

impl BuildpackFilter {
    pub const NAMES: &'static [&'static str] = &["names", "stacks"];

    pub fn from_params(params: &ListParams) -> Self {
        BuildpackFilter {
            names: params.values("names"),
            stacks: params.values("stacks"),
        }
    }
}

/// `GET /v3/apps`
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppFilter {
    pub names: Option<Vec<String>>,
    pub guids: Option<Vec<String>>,
    pub space_guids: Option<Vec<String>>,
    pub organization_guids: Option<Vec<String>>,
    pub stacks: Option<Vec<String>>,
}

impl AppFilter {
    pub const NAMES: &'static [&'static str] = &[
        "names",
        "guids",
        "space_guids",
        "organization_guids",
        "stacks",
        "include",
    ];

    pub fn from_params(params: &ListParams) -> Self {
        AppFilter {
            names: params.values("names"),
            guids: params.values("guids"),
            space_guids: params.values("space_guids"),
            organization_guids: params.values("organization_guids"),
            stacks: params.values("stacks"),
        }
    }
}

/// `GET /v3/processes`, and `GET /v3/apps/:guid/processes` with `APP_NAMES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessFilter {
    pub types: Option<Vec<String>>,
    pub app_guids: Option<Vec<String>>,
    pub space_guids: Option<Vec<String>>,
    pub guids: Option<Vec<String>>,
}

impl ProcessFilter {
    pub const NAMES: &'static [&'static str] = &["types", "app_guids", "space_guids", "guids"];
    pub const APP_NAMES: &'static [&'static str] = &["types", "guids"];

    pub fn from_params(params: &ListParams) -> Self {
        ProcessFilter {
            types: params.values("types"),
            app_guids: params.values("app_guids"),
            space_guids: params.values("space_guids"),
            guids: params.values("guids"),
        }
    }
}

/// `GET /v3/packages`, and `GET /v3/apps/:guid/packages` with `APP_NAMES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFilter {
    pub guids: Option<Vec<String>>,
    pub states: Option<Vec<String>>,
    pub types: Option<Vec<String>>,
    pub app_guids: Option<Vec<String>>,
    pub space_guids: Option<Vec<String>>,
    pub organization_guids: Option<Vec<String>>,
}

impl PackageFilter {
    pub const NAMES: &'static [&'static str] = &[
        "guids",
        "states",
        "types",
        "app_guids",
        "space_guids",
        "organization_guids",
    ];
    pub const APP_NAMES: &'static [&'static str] = &["guids", "states", "types"];

    pub fn from_params(params: &ListParams) -> Self {
        PackageFilter {
            guids: params.values("guids"),
            states: params.values("states"),
            types: params.values("types"),
            app_guids: params.values("app_guids"),
            space_guids: params.values("space_guids"),
            organization_guids: params.values("organization_guids"),
        }
    }
}

/// `GET /v3/builds`, and `GET /v3/apps/:guid/builds` with `APP_NAMES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFilter {
    pub guids: Option<Vec<String>>,
    pub states: Option<Vec<String>>,
    pub app_guids: Option<Vec<String>>,
    pub package_guids: Option<Vec<String>>,
}

impl BuildFilter {
    pub const NAMES: &'static [&'static str] = &["guids", "states", "app_guids", "package_guids"];
    pub const APP_NAMES: &'static [&'static str] = &["states"];

    pub fn from_params(params: &ListParams) -> Self {
        BuildFilter {
            guids: params.values("guids"),
            states: params.values("states"),
            app_guids: params.values("app_guids"),
            package_guids: params.values("package_guids"),
        }
    }
}

/// `GET /v3/droplets`; `GET /v3/apps/:guid/droplets` with `APP_NAMES` and
/// `GET /v3/packages/:guid/droplets` with `PACKAGE_NAMES`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropletFilter {
    pub guids: Option<Vec<String>>,
    pub states: Option<Vec<String>>,
    pub app_guids: Option<Vec<String>>,
    pub space_guids: Option<Vec<String>>,
    pub organization_guids: Option<Vec<String>>,
    pub package_guids: Option<Vec<String>>,
    /// `current=true`: only the app's current droplet.
    pub current: bool,
}

impl DropletFilter {
    pub const NAMES: &'static [&'static str] = &[
        "guids",
        "states",
        "app_guids",
        "space_guids",
        "organization_guids",
    ];
    pub const APP_NAMES: &'static [&'static str] = &["states", "current"];
    pub const PACKAGE_NAMES: &'static [&'static str] = &["states"];

    pub fn from_params(params: &ListParams) -> Result<Self, MessageError> {
        let current = match params.filter("current") {
            None => false,
            Some(values) if values.iter().all(|v| v == "true") => true,
            Some(_) => {
                return Err(MessageError::bad_query(vec![
                    "Current only accepts the value 'true'".to_string(),
                ]))
            }
        };
        Ok(DropletFilter {
            guids: params.values("guids"),
            states: params.values("states"),
            app_guids: params.values("app_guids"),
            space_guids: params.values("space_guids"),
            organization_guids: params.values("organization_guids"),
            package_guids: None,
            current,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MessageErrorKind;

    #[test]
    fn a_filter_sent_empty_matches_nothing_and_one_not_sent_everything() {
        let params = ListParams::parse(Some("names=&guids=a,b"), AppFilter::NAMES).unwrap();
        let filter = AppFilter::from_params(&params);
        assert_eq!(filter.names, Some(vec![]));
        assert_eq!(filter.guids, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(filter.stacks, None);
    }

    #[test]
    fn current_accepts_only_true() {
        let parse = |query| {
            let params = ListParams::parse(Some(query), DropletFilter::APP_NAMES).unwrap();
            DropletFilter::from_params(&params)
        };
        assert!(parse("current=true").unwrap().current);
        assert!(!parse("states=STAGED").unwrap().current);
        let refused = parse("current=false").unwrap_err();
        assert_eq!(refused.kind, MessageErrorKind::BadQuery);
        assert_eq!(refused.detail(), "Current only accepts the value 'true'");
    }
}
