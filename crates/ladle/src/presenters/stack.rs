use serde::Serialize;
use serde_json::Value;

use super::{empty_metadata, Header, Links, SelfLink};
use crate::db::stacks::StackRecord;

/// CC's stack view plus `rootfs`, a ladle extension (see `messages::stack_create`).
#[derive(Debug, Serialize)]
pub struct StackView {
    #[serde(flatten)]
    pub header: Header,
    pub name: String,
    pub description: Option<String>,
    pub rootfs: Option<String>,
    pub build_rootfs_image: String,
    pub run_rootfs_image: String,
    pub default: bool,
    pub metadata: Value,
    pub links: SelfLink,
}

pub fn present(stack: &StackRecord, default_stack: &str, links: &Links) -> StackView {
    StackView {
        header: Header::new(&stack.guid, &stack.created_at, stack.updated_at.as_deref()),
        name: stack.name.clone(),
        description: stack.description.clone(),
        rootfs: stack.rootfs.clone(),
        build_rootfs_image: stack.name.clone(),
        run_rootfs_image: stack.name.clone(),
        default: stack.name == default_stack,
        metadata: empty_metadata(),
        links: SelfLink {
            this: links.href(&format!("/v3/stacks/{}", stack.guid)),
        },
    }
}
