//! Lifecycle states as enums with named transitions; nobody compares state strings. Each is
//! stored as its wire name in a TEXT column and read back through `sqlx`: a row whose state is
//! none of the names fails to load (a database error), rather than passing for some state.

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

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                Ok(text.parse::<$name>()?)
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

string_enum!(PackageType {
    Bits => "bits",
    Docker => "docker",
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

string_enum!(BuildpackState {
    AwaitingUpload => "AWAITING_UPLOAD",
    Ready => "READY",
});

// A job's state: the staging queue's jobs go QUEUED → RUNNING → COMPLETE | FAILED; the jobs a
// user follows (`/v3/jobs`) go PROCESSING → COMPLETE | FAILED.
string_enum!(JobState {
    Queued => "QUEUED",
    Running => "RUNNING",
    Processing => "PROCESSING",
    Complete => "COMPLETE",
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
