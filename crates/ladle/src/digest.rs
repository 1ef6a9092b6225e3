//! Checksums of streams (CC records sha1 and sha256 of packages and droplets).

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Both digests of a growing stream, for hashing bytes as they arrive (uploads).
#[derive(Default, Clone)]
pub struct Digests {
    sha1: Sha1,
    sha256: Sha256,
}

impl Digests {
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha1.update(bytes);
        self.sha256.update(bytes);
    }

    /// `(sha1, sha256)` as lowercase hex.
    pub fn finish(self) -> (String, String) {
        (
            hex::encode(self.sha1.finalize()),
            hex::encode(self.sha256.finalize()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let mut d = Digests::default();
        d.update(b"ab");
        d.update(b"c");
        let (sha1, sha256) = d.finish();
        assert_eq!(sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
