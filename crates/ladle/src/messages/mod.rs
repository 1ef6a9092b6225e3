//! Request bodies and query strings → validated input (400/422 are decided here).

pub mod fields;
pub mod list;
pub mod organization_create;
