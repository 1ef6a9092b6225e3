use serde_json::{json, Value};

use super::{empty_metadata, timestamp, updated_at, Links};
use crate::db::stacks::StackRecord;

/// CC's stack view plus `rootfs`, a ladle extension (see `messages::stack_create`).
pub fn present(stack: &StackRecord, default_stack: &str, links: &Links) -> Value {
    json!({
        "guid": stack.guid,
        "created_at": timestamp(&stack.created_at),
        "updated_at": updated_at(&stack.created_at, stack.updated_at.as_deref()),
        "name": stack.name,
        "description": stack.description,
        "rootfs": stack.rootfs,
        "build_rootfs_image": stack.name,
        "run_rootfs_image": stack.name,
        "default": stack.name == default_stack,
        "metadata": empty_metadata(),
        "links": {
            "self": links.href(&format!("/v3/stacks/{}", stack.guid)),
        },
    })
}
