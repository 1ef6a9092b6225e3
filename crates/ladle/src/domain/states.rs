//! Lifecycle states as enums with named transitions; nobody compares state strings.

use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} '{other}'", stringify!($name))),
                }
            }
        }
    };
}

string_enum!(PackageState {
    AwaitingUpload => "AWAITING_UPLOAD",
    ProcessingUpload => "PROCESSING_UPLOAD",
    Ready => "READY",
    Failed => "FAILED",
    Copying => "COPYING",
    Expired => "EXPIRED",
});

string_enum!(DropletState {
    AwaitingUpload => "AWAITING_UPLOAD",
    ProcessingUpload => "PROCESSING_UPLOAD",
    Pending => "PENDING",
    Staging => "STAGING",
    Staged => "STAGED",
    Failed => "FAILED",
    Copying => "COPYING",
    Expired => "EXPIRED",
});

string_enum!(BuildState {
    Staging => "STAGING",
    Staged => "STAGED",
    Failed => "FAILED",
});

impl DropletState {
    /// Staging may still change this droplet (2015: PENDING → STAGING → STAGED | FAILED).
    pub fn is_in_flight(self) -> bool {
        matches!(self, DropletState::Pending | DropletState::Staging)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            DropletState::Staged | DropletState::Failed | DropletState::Expired
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_their_wire_names() {
        for state in DropletState::ALL {
            assert_eq!(state.as_str().parse::<DropletState>().unwrap(), *state);
        }
        assert!("staged".parse::<DropletState>().is_err());
        assert!(DropletState::Pending.is_in_flight() && !DropletState::Staged.is_in_flight());
    }
}
