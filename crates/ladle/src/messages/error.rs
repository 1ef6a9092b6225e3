//! Why a body or a query string was refused: the problems in Cloud Controller's words, and
//! which kind of refusal they make. `api` answers `Unprocessable` with 422 and `BadQuery` with
//! 400; messages know nothing of HTTP.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageErrorKind {
    /// A body that is well-formed JSON but not a valid request (CC's UnprocessableEntity).
    Unprocessable,
    /// A query string CC would refuse (CC's BadQueryParameter).
    BadQuery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageError {
    pub kind: MessageErrorKind,
    /// Every problem found, in the order found.
    pub problems: Vec<String>,
}

impl MessageError {
    pub fn unprocessable(problems: Vec<String>) -> Self {
        MessageError {
            kind: MessageErrorKind::Unprocessable,
            problems,
        }
    }

    pub fn bad_query(problems: Vec<String>) -> Self {
        MessageError {
            kind: MessageErrorKind::BadQuery,
            problems,
        }
    }

    /// The problems as one detail, as CC lists them.
    pub fn detail(&self) -> String {
        self.problems.join(", ")
    }
}
