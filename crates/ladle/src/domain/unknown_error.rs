//! Cloud Controller's answer to a failure that is not the caller's: the cause is logged, the
//! caller gets these. HTTP answers (`ApiError`) and the errors of failed jobs both carry them.

pub const CODE: u32 = 10001;
/// CC sends this name bare, without `CF-` (`UNKNOWN_ERROR_HASH` in its error hashers).
pub const NAME: &str = "UnknownError";
pub const DETAIL: &str = "An unknown error occurred.";
