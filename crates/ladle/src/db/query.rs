//! A small builder for WHERE clauses with `$N` placeholders, which both SQLite and PostgreSQL
//! accept. (sqlx's QueryBuilder writes `?` for the Any driver, which PostgreSQL refuses.)

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::QueryAs;
use sqlx::{Any, FromRow};

use super::{DbPool, DbResult};
use crate::domain::{Order, OrderColumn, Page};

#[derive(Debug, Clone)]
pub enum Param {
    Text(String),
    Int(i64),
}

#[derive(Debug, Clone, Default)]
pub struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    pub fn new() -> Self {
        Self::default()
    }

    fn placeholder(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    /// `column = value`
    pub fn eq(&mut self, column: &str, value: impl Into<String>) -> &mut Self {
        let p = self.placeholder(Param::Text(value.into()));
        self.clauses.push(format!("{column} = {p}"));
        self
    }

    pub fn eq_int(&mut self, column: &str, value: i64) -> &mut Self {
        let p = self.placeholder(Param::Int(value));
        self.clauses.push(format!("{column} = {p}"));
        self
    }

    pub fn eq_bool(&mut self, column: &str, value: bool) -> &mut Self {
        // Booleans are stored as 0/1 (see the migration).
        let p = self.placeholder(Param::Int(i64::from(value)));
        self.clauses.push(format!("{column} = {p}"));
        self
    }

    /// `column IN (values…)`; an empty list matches nothing.
    pub fn any_of(&mut self, column: &str, values: &[String]) -> &mut Self {
        self.in_subquery(column, None, values)
    }

    /// `column IN (SELECT … WHERE key IN (values…))`, e.g. apps by organization:
    /// `in_subquery("space_guid", Some("SELECT guid FROM spaces WHERE organization_guid"), orgs)`.
    pub fn in_subquery(
        &mut self,
        column: &str,
        subquery: Option<&str>,
        values: &[String],
    ) -> &mut Self {
        if values.is_empty() {
            self.clauses.push("1 = 0".to_string());
            return self;
        }
        let placeholders: Vec<String> = values
            .iter()
            .map(|v| self.placeholder(Param::Text(v.clone())))
            .collect();
        let list = placeholders.join(", ");
        self.clauses.push(match subquery {
            Some(select) => format!("{column} IN ({select} IN ({list}))"),
            None => format!("{column} IN ({list})"),
        });
        self
    }

    /// Applies an optional filter from the query string.
    pub fn filter(&mut self, column: &str, values: Option<&[String]>) -> &mut Self {
        if let Some(values) = values {
            self.any_of(column, values);
        }
        self
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    pub fn bind_all<'q, T>(
        &self,
        mut query: QueryAs<'q, Any, T, AnyArguments<'q>>,
    ) -> QueryAs<'q, Any, T, AnyArguments<'q>> {
        for param in &self.params {
            query = match param {
                Param::Text(v) => query.bind(v.clone()),
                Param::Int(v) => query.bind(*v),
            };
        }
        query
    }
}

/// `ORDER BY` for the client's order (`created_at` unless it asked for another column); guid
/// breaks ties so pages never overlap.
pub fn order_by(order: &Order) -> String {
    let column = match order.by.unwrap_or(OrderColumn::CreatedAt) {
        OrderColumn::CreatedAt => "created_at",
        OrderColumn::UpdatedAt => "updated_at",
    };
    let direction = if order.descending { "DESC" } else { "ASC" };
    format!("ORDER BY {column} {direction}, guid {direction}")
}

/// One page of `SELECT * FROM table WHERE …` in the client's order, plus the total count.
pub async fn fetch_page<T>(
    db: &DbPool,
    table: &str,
    filter: &Where,
    page: &Page,
) -> DbResult<(Vec<T>, u64)>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    fetch_page_ordered(db, table, filter, page, &order_by(&page.order)).await
}

/// `fetch_page` with an `ORDER BY …` clause of the caller's own, for tables whose default
/// order is not the client's `order_by`.
pub async fn fetch_page_ordered<T>(
    db: &DbPool,
    table: &str,
    filter: &Where,
    page: &Page,
    order_sql: &str,
) -> DbResult<(Vec<T>, u64)>
where
    T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let where_sql = filter.sql();
    let count_sql = format!("SELECT COUNT(*) FROM {table}{where_sql}");
    let (total,): (i64,) = filter
        .bind_all(sqlx::query_as(&count_sql))
        .fetch_one(db)
        .await?;
    let page_sql = format!(
        "SELECT * FROM {table}{where_sql} {order_sql} LIMIT {} OFFSET {}",
        page.limit, page.offset
    );
    let rows = filter
        .bind_all(sqlx::query_as(&page_sql))
        .fetch_all(db)
        .await?;
    Ok((rows, total.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_the_clients_column_with_guid_breaking_ties() {
        assert_eq!(
            order_by(&Order::default()),
            "ORDER BY created_at ASC, guid ASC"
        );
        let newest_change_first = Order {
            by: Some(OrderColumn::UpdatedAt),
            descending: true,
        };
        assert_eq!(
            order_by(&newest_change_first),
            "ORDER BY updated_at DESC, guid DESC"
        );
    }
}
