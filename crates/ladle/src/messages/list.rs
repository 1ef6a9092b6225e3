//! List query parameters: paging, ordering and filters, in both dialects (`guids=a,b` today,
//! `guids[]=a&guids[]=b` in 2015). Unknown parameters are refused with BadQueryParameter.

use std::collections::BTreeMap;

use super::MessageError;
use crate::domain::{Order, OrderColumn, Page};

pub const DEFAULT_PER_PAGE: u64 = 50;
pub const MAX_PER_PAGE: u64 = 5000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub page: u64,
    pub per_page: u64,
    pub order: Order,
    /// `order_by` exactly as sent, echoed in pagination links.
    pub order_by_raw: Option<String>,
    /// `order_direction` (`asc` or `desc`) as sent, echoed in pagination links.
    pub order_direction_raw: Option<String>,
    /// Filter name → values, in the order the client sent them.
    pub filters: BTreeMap<String, Vec<String>>,
}

impl ListParams {
    /// Parses a raw query string, allowing `page`, `per_page`, `order_by`, `order_direction`
    /// and the endpoint's `filters`.
    pub fn parse(query: Option<&str>, filters: &[&str]) -> Result<Self, MessageError> {
        let mut params = ListParams {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            order: Order::default(),
            order_by_raw: None,
            order_direction_raw: None,
            filters: BTreeMap::new(),
        };
        let mut unknown = Vec::new();
        let mut problems = Vec::new();
        for (raw_key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let key = raw_key.strip_suffix("[]").unwrap_or(&raw_key);
            match key {
                "page" => match value.parse::<u64>() {
                    Ok(page) if page >= 1 => params.page = page,
                    _ => problems.push("Page must be a positive integer".to_string()),
                },
                "per_page" => match value.parse::<u64>() {
                    Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => params.per_page = n,
                    _ => problems.push(format!("Per page must be between 1 and {MAX_PER_PAGE}")),
                },
                "order_by" => match parse_order(&value) {
                    Some(order) => {
                        params.order = order;
                        params.order_by_raw = Some(value.to_string());
                    }
                    None => problems
                        .push("Order by can only be: 'created_at', 'updated_at'".to_string()),
                },
                "order_direction" => match value.as_ref() {
                    "asc" | "desc" => params.order_direction_raw = Some(value.to_string()),
                    _ => problems.push("Order direction can only be 'asc' or 'desc'".to_string()),
                },
                _ if filters.contains(&key) => {
                    let values = params.filters.entry(key.to_string()).or_default();
                    values.extend(
                        value
                            .split(',')
                            .filter(|v| !v.is_empty())
                            .map(str::to_string),
                    );
                }
                _ => unknown.push(key.to_string()),
            }
        }
        if params.order_direction_raw.as_deref() == Some("desc") {
            params.order.descending = true;
        }
        if !unknown.is_empty() {
            unknown.dedup();
            let valid: Vec<&str> = ["page", "per_page", "order_by", "order_direction"]
                .iter()
                .copied()
                .chain(filters.iter().copied())
                .collect();
            return Err(MessageError::bad_query(vec![format!(
                "Unknown query parameter(s): '{}'. Valid parameters are: '{}'",
                unknown.join("', '"),
                valid.join("', '")
            )]));
        }
        if !problems.is_empty() {
            return Err(MessageError::bad_query(problems));
        }
        Ok(params)
    }

    pub fn filter(&self, name: &str) -> Option<&[String]> {
        self.filters.get(name).map(Vec::as_slice)
    }

    /// The values of a filter the client sent, for a list's filter struct.
    pub fn values(&self, name: &str) -> Option<Vec<String>> {
        self.filters.get(name).cloned()
    }

    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The page to fetch, in plain values.
    pub fn page(&self) -> Page {
        Page {
            limit: self.per_page,
            offset: self.offset(),
            order: self.order,
        }
    }
}

fn parse_order(value: &str) -> Option<Order> {
    let (descending, name) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let column = match name {
        "created_at" => OrderColumn::CreatedAt,
        "updated_at" => OrderColumn::UpdatedAt,
        _ => return None,
    };
    Some(Order {
        by: Some(column),
        descending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::MessageErrorKind;

    #[test]
    fn reads_both_filter_dialects() {
        let today = ListParams::parse(
            Some("guids=a,b&per_page=2&order_by=-created_at"),
            &["guids"],
        )
        .unwrap();
        assert_eq!(today.filter("guids").unwrap(), ["a", "b"]);
        assert_eq!(today.per_page, 2);
        assert!(today.order.descending);
        let old = ListParams::parse(Some("guids%5B%5D=a&guids[]=b"), &["guids"]).unwrap();
        assert_eq!(old.filter("guids").unwrap(), ["a", "b"]);
    }

    #[test]
    fn refuses_unknown_and_out_of_range() {
        let err = ListParams::parse(Some("bogus=1"), &["guids"]).unwrap_err();
        assert_eq!(err.kind, MessageErrorKind::BadQuery);
        assert!(err.detail().contains("'bogus'"));
        assert!(
            err.detail().ends_with(
                "Valid parameters are: 'page', 'per_page', 'order_by', 'order_direction', 'guids'"
            ),
            "{}",
            err.detail()
        );
        for refused in ["per_page=5001", "page=0", "order_by=name"] {
            let err = ListParams::parse(Some(refused), &[]).unwrap_err();
            assert_eq!(err.kind, MessageErrorKind::BadQuery, "{refused}");
        }
        let both = ListParams::parse(Some("page=0&per_page=0"), &[]).unwrap_err();
        assert_eq!(
            both.detail(),
            "Page must be a positive integer, Per page must be between 1 and 5000"
        );
    }
}
