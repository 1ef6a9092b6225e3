//! An error with every cause beneath it, for logs: `outer: cause: root cause`.

use std::error::Error;
use std::fmt;

/// Displays an error followed by each of its `source()`s. A cause whose text is already in the
/// message is not repeated: many errors (sqlx's, object_store's, `#[error("blobstore: {0}")]`)
/// print their source inside their own text, and a line that says everything twice hides the
/// point.
pub struct CauseChain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(err) = cause {
            let message = err.to_string();
            if !text.contains(&message) {
                text.push_str(": ");
                text.push_str(&message);
            }
            cause = err.source();
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("saving the droplet")]
        Save(#[source] Middle),
        #[error("blobstore: {0}")]
        Store(#[from] std::io::Error),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("writing the blob")]
    struct Middle(#[source] std::io::Error);

    fn disk_full() -> std::io::Error {
        std::io::Error::other("no space left on device")
    }

    #[test]
    fn every_cause_is_shown_from_the_top_down() {
        let err = Outer::Save(Middle(disk_full()));
        assert_eq!(
            CauseChain(&err).to_string(),
            "saving the droplet: writing the blob: no space left on device"
        );
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = Outer::Store(disk_full());
        assert_eq!(
            CauseChain(&err).to_string(),
            "blobstore: no space left on device"
        );
        let db = sqlx::Error::Io(disk_full());
        assert_eq!(
            CauseChain(&db).to_string(),
            "error communicating with database: no space left on device"
        );
    }
}
