//! The paginated list envelope, with links that echo the client's filters. One presenter for
//! every list: the caller hands it the page of records and how to show one.

use serde::Serialize;

use super::{Link, Links};
use crate::messages::list::ListParams;

/// `{"pagination": {…}, "resources": […]}`
#[derive(Debug, Serialize)]
pub struct ListView<V> {
    pub pagination: Pagination,
    pub resources: Vec<V>,
}

#[derive(Debug, Serialize)]
pub struct Pagination {
    pub total_results: u64,
    pub total_pages: u64,
    pub first: Link,
    pub last: Link,
    pub next: Option<Link>,
    pub previous: Option<Link>,
}

/// One page of a list: `records` (the page's rows) of `total`, each shown by `present`. `path`
/// is the list's own path, which the page links repeat with the client's query.
pub fn present_page<T, V>(
    (records, total): (Vec<T>, u64),
    params: &ListParams,
    path: &str,
    links: &Links,
    present: impl FnMut(&T) -> V,
) -> ListView<V> {
    ListView {
        pagination: pagination(total, params, path, links),
        resources: records.iter().map(present).collect(),
    }
}

fn pagination(total: u64, params: &ListParams, path: &str, links: &Links) -> Pagination {
    let total_pages = total.div_ceil(params.per_page).max(1);
    let page_link = |page: u64| links.href(&format!("{path}?{}", query_for(params, page)));
    Pagination {
        total_results: total,
        total_pages,
        first: page_link(1),
        last: page_link(total_pages),
        next: (params.page < total_pages).then(|| page_link(params.page + 1)),
        previous: (params.page > 1).then(|| page_link(params.page - 1)),
    }
}

fn query_for(params: &ListParams, page: u64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, values) in &params.filters {
        query.append_pair(name, &values.join(","));
    }
    if let Some(order_by) = &params.order_by_raw {
        query.append_pair("order_by", order_by);
    }
    if let Some(direction) = &params.order_direction_raw {
        query.append_pair("order_direction", direction);
    }
    query.append_pair("page", &page.to_string());
    query.append_pair("per_page", &params.per_page.to_string());
    query.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn present(total: u64, params: &ListParams, path: &str, links: &Links) -> Value {
        let view = present_page((Vec::<()>::new(), total), params, path, links, |_| ());
        serde_json::to_value(view).unwrap()
    }

    #[test]
    fn links_echo_filters_and_count_pages() {
        let params = ListParams::parse(Some("names=a,b&per_page=2&page=2"), &["names"]).unwrap();
        let body = present(5, &params, "/v3/apps", &Links::new("http://x"));
        assert_eq!(body["pagination"]["total_pages"], 3);
        assert_eq!(
            body["pagination"]["first"]["href"],
            "http://x/v3/apps?names=a%2Cb&page=1&per_page=2"
        );
        assert_eq!(
            body["pagination"]["next"]["href"],
            "http://x/v3/apps?names=a%2Cb&page=3&per_page=2"
        );
        assert_eq!(
            body["pagination"]["previous"]["href"],
            "http://x/v3/apps?names=a%2Cb&page=1&per_page=2"
        );
        let descending =
            ListParams::parse(Some("order_direction=desc&per_page=1&page=2"), &[]).unwrap();
        let body = present(3, &descending, "/v3/apps", &Links::new("http://x"));
        for link in ["first", "last", "next", "previous"] {
            let href = body["pagination"][link]["href"].as_str().unwrap();
            assert!(href.contains("order_direction=desc"), "{link}: {href}");
        }
        let empty = present(0, &params, "/v3/apps", &Links::new("http://x"));
        assert_eq!(empty["pagination"]["total_pages"], 1);
        assert_eq!(empty["pagination"]["next"], Value::Null);
    }
}
