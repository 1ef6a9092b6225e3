//! A resource's guid. Ours are random UUIDs; a guid given by a client or a token (a user's, a
//! path segment) is taken as it is, as Cloud Controller takes it, so reading one never fails:
//! the type says what the string is, and keeps guids apart from names and other text.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(String);

impl Guid {
    /// A fresh random guid (UUID v4), for a resource being created.
    pub fn random() -> Self {
        Guid(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<String> for Guid {
    fn from(value: String) -> Self {
        Guid(value)
    }
}

impl From<&str> for Guid {
    fn from(value: &str) -> Self {
        Guid(value.to_string())
    }
}

impl From<Guid> for String {
    fn from(value: Guid) -> Self {
        value.0
    }
}

impl Deref for Guid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Guid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Guid {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Guid {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Guid {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Guid {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<Guid> for String {
    fn eq(&self, other: &Guid) -> bool {
        *self == other.0
    }
}

impl PartialEq<Guid> for str {
    fn eq(&self, other: &Guid) -> bool {
        self == other.0
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Guid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Guid)
    }
}

impl<DB: sqlx::Database> sqlx::Type<DB> for Guid
where
    String: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as sqlx::Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Guid
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Guid
where
    String: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        <String as sqlx::Decode<'r, DB>>::decode(value).map(Guid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guid_reads_and_writes_as_its_text() {
        let guid = Guid::random();
        assert_eq!(
            uuid::Uuid::parse_str(&guid).unwrap().to_string(),
            guid.as_str()
        );
        assert_eq!(
            serde_json::to_value(&guid).unwrap(),
            serde_json::json!(guid.as_str())
        );
        let given: Guid = serde_json::from_str(r#""user-1""#).unwrap();
        assert_eq!(given, "user-1");
    }
}
