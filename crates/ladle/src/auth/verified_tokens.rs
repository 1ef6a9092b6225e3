//! Access tokens whose signature, algorithm, key and audience were already checked, by their
//! exact text, so that a client sending the same token on every request pays for the signature
//! check once. Only what the token itself says is kept: a different text (another signature, one
//! changed character) is another key and is verified from scratch; the times (`exp`, `nbf`) are
//! checked again on every request by the caller; roles, users and records are never here, so
//! nothing another node changes can be served stale from this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many tokens are remembered at most: a few MiB at UAA's token sizes, and more callers than
/// one node sees within a token's lifetime.
pub const CAPACITY: usize = 4096;

/// What each token said (`T`, its claims), with its `exp`.
pub struct VerifiedTokens<T> {
    entries: Mutex<HashMap<Box<str>, Verified<T>>>,
    capacity: usize,
}

struct Verified<T> {
    expires_at: i64,
    claims: Arc<T>,
}

impl<T> Default for VerifiedTokens<T> {
    fn default() -> Self {
        VerifiedTokens::with_capacity(CAPACITY)
    }
}

impl<T> VerifiedTokens<T> {
    pub fn with_capacity(capacity: usize) -> Self {
        VerifiedTokens {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The claims of `token`, if exactly this text was verified before.
    pub fn get(&self, token: &str) -> Option<Arc<T>> {
        self.lock()
            .get(token)
            .map(|verified| verified.claims.clone())
    }

    /// Remembers a token that passed verification. When full, tokens expired by `now` go first;
    /// if that frees nothing, everything goes (each is verified again on its next use), which
    /// keeps the bound without keeping an order of use.
    pub fn insert(&self, token: &str, claims: Arc<T>, expires_at: i64, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            entries.retain(|_, verified| verified.expires_at >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), Verified { expires_at, claims });
    }

    /// Forgets every token (the keys they were verified with changed).
    pub fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Verified<T>>> {
        // A panic while holding the lock cannot leave a half-written entry: HashMap's own
        // operations do not unwind midway, so the map is usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(tokens: &VerifiedTokens<&'static str>, token: &str, exp: i64, now: i64) {
        tokens.insert(token, Arc::new("u1"), exp, now);
    }

    #[test]
    fn only_the_exact_text_is_found() {
        let tokens = VerifiedTokens::default();
        insert(&tokens, "a.b.c", 100, 0);
        assert!(tokens.get("a.b.c").is_some());
        assert!(tokens.get("a.b.C").is_none());
        assert!(tokens.get("a.b.c ").is_none());
        assert!(tokens.get("a.b").is_none());
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let tokens = VerifiedTokens::with_capacity(3);
        for n in 0..3 {
            insert(&tokens, &format!("live-{n}"), 100, 0);
        }
        // Full of live tokens: everything goes, the newcomer stays.
        insert(&tokens, "newcomer", 100, 0);
        assert_eq!(tokens.len(), 1);
        assert!(tokens.get("newcomer").is_some());
        // Expired ones go first and the live ones stay.
        insert(&tokens, "old-1", 10, 0);
        insert(&tokens, "old-2", 10, 0);
        insert(&tokens, "fresh", 100, 50);
        assert_eq!(tokens.len(), 2);
        assert!(tokens.get("newcomer").is_some() && tokens.get("fresh").is_some());
        for n in 0..100 {
            insert(&tokens, &format!("many-{n}"), 100, 0);
            assert!(tokens.len() <= 3);
        }
    }
}
