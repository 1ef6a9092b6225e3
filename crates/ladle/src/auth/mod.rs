//! Who is calling and what they may do: UAA-style bearer tokens (`token`), the scope gate
//! (`Scopes`) and space/org roles (`permissions`).

pub mod password;
pub mod permissions;
pub mod token;
mod verified_tokens;

pub use token::{Claims, TokenError, TokenKeys};

/// The caller of one request, from a verified token.
#[derive(Debug, Clone)]
pub struct User {
    pub guid: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub scopes: Scopes,
}

/// The CC scopes a token carries, decoded once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    pub read: bool,
    pub write: bool,
    pub admin: bool,
    pub admin_read_only: bool,
    pub global_auditor: bool,
    /// May move a build to a final state (`PATCH /v3/builds/:guid` with `state`).
    pub update_build_state: bool,
    /// UAA's user management: may list users (`GET /Users`).
    pub scim_read: bool,
    /// UAA's user management: may create and delete users and set any user's password.
    pub scim_write: bool,
}

impl Scopes {
    pub fn from_list<S: AsRef<str>>(scopes: &[S]) -> Self {
        let has = |name: &str| scopes.iter().any(|s| s.as_ref() == name);
        Scopes {
            read: has("cloud_controller.read"),
            write: has("cloud_controller.write"),
            admin: has("cloud_controller.admin"),
            admin_read_only: has("cloud_controller.admin_read_only"),
            global_auditor: has("cloud_controller.global_auditor"),
            update_build_state: has("cloud_controller.update_build_state"),
            // `uaa.admin` may do everything in UAA, user management included.
            scim_read: has("scim.read") || has("uaa.admin"),
            scim_write: has("scim.write") || has("uaa.admin"),
        }
    }

    /// May call GET/HEAD endpoints at all (roles still filter what is seen).
    pub fn may_read(&self) -> bool {
        self.read || self.admin || self.admin_read_only || self.global_auditor
    }

    /// May call POST/PUT/PATCH/DELETE endpoints at all.
    pub fn may_write(&self) -> bool {
        self.write || self.admin
    }

    /// Sees every resource without any role.
    pub fn reads_everything(&self) -> bool {
        self.admin || self.admin_read_only || self.global_auditor
    }

    /// Sees secrets (env vars, package bits) of every resource.
    pub fn reads_all_secrets(&self) -> bool {
        self.admin || self.admin_read_only
    }
}

impl User {
    /// The caller a verified token names, as Cloud Controller reads it: `user_id`, else the
    /// `client_id` of a client-credentials token, with the scopes the token carries. A token
    /// naming neither is refused, as CC refuses a token it finds no user for; so is an empty
    /// caller, or one longer than a user guid can be.
    pub fn from_claims(claims: Claims) -> Result<User, TokenError> {
        let guid = claims
            .caller_guid()
            .ok_or(TokenError::NoCaller)?
            .to_string();
        if guid.is_empty() || guid.chars().count() > token::MAX_CALLER_CHARS {
            return Err(TokenError::UnusableCaller);
        }
        Ok(User {
            guid,
            email: claims.email,
            username: claims.user_name,
            scopes: Scopes::from_list(&claims.scope),
        })
    }

    pub fn is_admin(&self) -> bool {
        self.scopes.admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_gate_follows_cc() {
        let reader = Scopes::from_list(&["cloud_controller.read"]);
        assert!(reader.may_read() && !reader.may_write());
        let admin = Scopes::from_list(&["cloud_controller.admin"]);
        assert!(admin.may_read() && admin.may_write() && admin.reads_everything());
        let auditor = Scopes::from_list(&["cloud_controller.global_auditor"]);
        assert!(auditor.may_read() && !auditor.may_write() && !auditor.reads_all_secrets());
        assert!(!Scopes::from_list::<&str>(&[]).may_read());
    }

    fn claims(user_id: Option<&str>, client_id: Option<&str>) -> Claims {
        Claims {
            user_id: user_id.map(str::to_string),
            client_id: client_id.map(str::to_string),
            scope: vec!["cloud_controller.read".into()],
            aud: vec![token::AUDIENCE.into()],
            ..Claims::default()
        }
    }

    #[test]
    fn the_caller_is_the_user_else_the_client() {
        let user = User::from_claims(claims(Some("u1"), Some("cf"))).unwrap();
        assert_eq!(user.guid, "u1");
        let client = User::from_claims(claims(None, Some("robot"))).unwrap();
        assert_eq!(client.guid, "robot");
        assert!(client.scopes.may_read() && !client.scopes.may_write());
        assert!(matches!(
            User::from_claims(claims(None, None)),
            Err(TokenError::NoCaller)
        ));
    }

    #[test]
    fn an_empty_or_overlong_caller_is_refused() {
        // An empty user_id is the caller (CC reads it before client_id), and unusable.
        for unusable in ["", &"u".repeat(256)] {
            assert!(matches!(
                User::from_claims(claims(Some(unusable), Some("cf"))),
                Err(TokenError::UnusableCaller)
            ));
            assert!(matches!(
                User::from_claims(claims(None, Some(unusable))),
                Err(TokenError::UnusableCaller)
            ));
        }
        // 255 characters, counted as characters, fit.
        let longest = "é".repeat(255);
        assert_eq!(
            User::from_claims(claims(Some(&longest), None))
                .unwrap()
                .guid,
            longest
        );
    }
}
