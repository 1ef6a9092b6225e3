//! The paginated list envelope, with links that echo the client's filters.

use serde_json::{json, Value};

use super::Links;
use crate::messages::list::ListParams;

pub fn present(
    resources: Vec<Value>,
    total: u64,
    params: &ListParams,
    path: &str,
    links: &Links,
) -> Value {
    let total_pages = total.div_ceil(params.per_page).max(1);
    let page_link =
        |page: u64| json!({ "href": links.url(&format!("{path}?{}", query_for(params, page))) });
    json!({
        "pagination": {
            "total_results": total,
            "total_pages": total_pages,
            "first": page_link(1),
            "last": page_link(total_pages),
            "next": if params.page < total_pages { page_link(params.page + 1) } else { Value::Null },
            "previous": if params.page > 1 { page_link(params.page - 1) } else { Value::Null },
        },
        "resources": resources,
    })
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
    use super::*;

    #[test]
    fn links_echo_filters_and_count_pages() {
        let params = ListParams::parse(Some("names=a,b&per_page=2&page=2"), &["names"]).unwrap();
        let body = present(vec![], 5, &params, "/v3/apps", &Links::new("http://x"));
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
        let body = present(vec![], 3, &descending, "/v3/apps", &Links::new("http://x"));
        for link in ["first", "last", "next", "previous"] {
            let href = body["pagination"][link]["href"].as_str().unwrap();
            assert!(href.contains("order_direction=desc"), "{link}: {href}");
        }
        let empty = present(vec![], 0, &params, "/v3/apps", &Links::new("http://x"));
        assert_eq!(empty["pagination"]["total_pages"], 1);
        assert_eq!(empty["pagination"]["next"], Value::Null);
    }
}
