//! A JSON column: TEXT in both databases, parsed once when the row is read and written back as
//! compact JSON. (`sqlx::types::Json` is not available through the `Any` driver.) A row whose
//! text does not parse as the column's type fails to load, rather than reading as empty.

use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonText<T>(pub T);

impl<T> JsonText<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonText<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for JsonText<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T> From<T> for JsonText<T> {
    fn from(value: T) -> Self {
        JsonText(value)
    }
}

impl<T, DB: sqlx::Database> sqlx::Type<DB> for JsonText<T>
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

impl<'q, T: Serialize, DB: sqlx::Database> sqlx::Encode<'q, DB> for JsonText<T>
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let text = serde_json::to_string(&self.0)?;
        <String as sqlx::Encode<'q, DB>>::encode(text, buf)
    }
}

impl<'r, T: DeserializeOwned, DB: sqlx::Database> sqlx::Decode<'r, DB> for JsonText<T>
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(JsonText(serde_json::from_str(text)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_column_reads_as_its_type_and_garbage_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let written = JsonText(vec!["ruby".to_string(), "go".to_string()]);
        let (text,): (String,) = sqlx::query_as("SELECT $1")
            .bind(&written)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(text, r#"["ruby","go"]"#);
        let (read,): (JsonText<Vec<String>>,) = sqlx::query_as("SELECT $1")
            .bind(text)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(read, written);
        let garbage: Result<(JsonText<Vec<String>>,), _> =
            sqlx::query_as("SELECT 'not json'").fetch_one(&db).await;
        assert!(matches!(garbage, Err(sqlx::Error::ColumnDecode { .. })));
    }
}
