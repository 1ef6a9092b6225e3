//! The roles a user holds in an organization or a space, by CC's names.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoleType {
    OrganizationUser,
    OrganizationAuditor,
    OrganizationManager,
    OrganizationBillingManager,
    SpaceDeveloper,
    SpaceManager,
    SpaceAuditor,
    SpaceSupporter,
}

impl RoleType {
    pub const ALL: [RoleType; 8] = [
        RoleType::OrganizationUser,
        RoleType::OrganizationAuditor,
        RoleType::OrganizationManager,
        RoleType::OrganizationBillingManager,
        RoleType::SpaceDeveloper,
        RoleType::SpaceManager,
        RoleType::SpaceAuditor,
        RoleType::SpaceSupporter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleType::OrganizationUser => "organization_user",
            RoleType::OrganizationAuditor => "organization_auditor",
            RoleType::OrganizationManager => "organization_manager",
            RoleType::OrganizationBillingManager => "organization_billing_manager",
            RoleType::SpaceDeveloper => "space_developer",
            RoleType::SpaceManager => "space_manager",
            RoleType::SpaceAuditor => "space_auditor",
            RoleType::SpaceSupporter => "space_supporter",
        }
    }

    /// Opens a space's resources (apps, packages, droplets, builds, processes) to reading: any
    /// space role in the space, or managing its organization. The one rule both the access check
    /// of a single space and the list of readable spaces follow.
    pub fn reads_space(self) -> bool {
        self.is_space_role() || self == RoleType::OrganizationManager
    }

    pub fn is_space_role(self) -> bool {
        matches!(
            self,
            RoleType::SpaceDeveloper
                | RoleType::SpaceManager
                | RoleType::SpaceAuditor
                | RoleType::SpaceSupporter
        )
    }
}

impl fmt::Display for RoleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoleType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        RoleType::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}
