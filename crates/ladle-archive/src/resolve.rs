//! The tree an archive would unpack to, and where its symlinks lead in it.
//!
//! Each link is resolved once and remembered, so the work stays proportional to the archive's
//! size however its links refer to each other.

use std::collections::HashMap;

use crate::policy::{Problem, MAX_LINK_HOPS};

const ROOT: usize = 0;

#[derive(Debug)]
enum NodeKind {
    /// A folder, named by an entry or only implied by the paths under it.
    Dir,
    File {
        size: u64,
        mode: u32,
    },
    Symlink {
        name: String,
        target: String,
    },
}

#[derive(Debug)]
struct Node {
    parent: usize,
    kind: NodeKind,
    children: HashMap<String, usize>,
}

#[derive(Debug)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
    /// Symlink nodes in archive order, so the first bad link is the one reported.
    links: Vec<usize>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            nodes: vec![Node {
                parent: ROOT,
                kind: NodeKind::Dir,
                children: HashMap::new(),
            }],
            links: Vec::new(),
        }
    }
}

/// What an entry adds to the tree (a hard link adds a file).
pub(crate) enum Added<'a> {
    Dir,
    File { size: u64, mode: u32 },
    Symlink { name: &'a str, target: &'a str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkFailure {
    Escapes,
    TooManyLinks,
}

/// A place in the tree: a node, or `below` levels under it where nothing exists. Nothing can
/// exist under a missing folder, so only the depth matters there.
#[derive(Debug, Clone, Copy)]
struct Location {
    node: usize,
    below: u32,
}

enum Resolution {
    InProgress,
    Done { hops: u32, at: Location },
}

impl Tree {
    /// Adds an entry at `parts` (never empty), refusing paths through a file or a symlink and
    /// paths already taken (a folder may be named again).
    pub(crate) fn insert(&mut self, parts: &[&str], added: Added) -> Result<(), Problem> {
        let (last, ancestors) = parts.split_last().expect("a path below the root");
        let mut at = ROOT;
        for (depth, part) in ancestors.iter().enumerate() {
            at = match self.nodes[at].children.get(*part) {
                Some(&child) => match self.nodes[child].kind {
                    NodeKind::Dir => child,
                    NodeKind::File { .. } => {
                        return Err(Problem::UnderFile(parts[..=depth].join("/")))
                    }
                    NodeKind::Symlink { .. } => {
                        return Err(Problem::UnderSymlink(parts[..=depth].join("/")))
                    }
                },
                None => self.add(at, part, NodeKind::Dir),
            };
        }
        let kind = match added {
            Added::Dir => NodeKind::Dir,
            Added::File { size, mode } => NodeKind::File { size, mode },
            Added::Symlink { name, target } => NodeKind::Symlink {
                name: name.to_string(),
                target: target.to_string(),
            },
        };
        match self.nodes[at].children.get(*last) {
            None => {
                let node = self.add(at, last, kind);
                if let NodeKind::Symlink { .. } = self.nodes[node].kind {
                    self.links.push(node);
                }
                Ok(())
            }
            Some(&existing) => match (&self.nodes[existing].kind, kind) {
                (NodeKind::Dir, NodeKind::Dir) => Ok(()),
                _ => Err(Problem::Duplicate),
            },
        }
    }

    /// The size and mode of the file (or earlier hard link) at `parts`, if that is one.
    pub(crate) fn file(&self, parts: &[&str]) -> Option<(u64, u32)> {
        let mut at = ROOT;
        for part in parts {
            at = *self.nodes[at].children.get(*part)?;
        }
        match self.nodes[at].kind {
            NodeKind::File { size, mode } => Some((size, mode)),
            _ => None,
        }
    }

    fn add(&mut self, parent: usize, name: &str, kind: NodeKind) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            parent,
            kind,
            children: HashMap::new(),
        });
        self.nodes[parent].children.insert(name.to_string(), id);
        id
    }

    /// Every symlink must lead inside the root; the first that does not is returned with its
    /// entry's name and target.
    pub(crate) fn check_links(&self) -> Result<(), (&str, &str, LinkFailure)> {
        let mut resolved = HashMap::new();
        for &link in &self.links {
            if let Err(failure) = self.resolve_link(link, 1, &mut resolved) {
                let NodeKind::Symlink { name, target } = &self.nodes[link].kind else {
                    unreachable!("links holds symlink nodes only")
                };
                return Err((name, target, failure));
            }
        }
        Ok(())
    }

    /// Where `link` leads and how many links that took, itself included. `depth` counts the
    /// links being resolved around this one: each is at least one hop, so past the limit the
    /// lookup has failed already (and the recursion stays shallow).
    fn resolve_link(
        &self,
        link: usize,
        depth: u32,
        resolved: &mut HashMap<usize, Resolution>,
    ) -> Result<(u32, Location), LinkFailure> {
        match resolved.get(&link) {
            Some(Resolution::Done { hops, at }) => return Ok((*hops, *at)),
            Some(Resolution::InProgress) => return Err(LinkFailure::TooManyLinks),
            None if depth > MAX_LINK_HOPS => return Err(LinkFailure::TooManyLinks),
            None => {}
        }
        let NodeKind::Symlink { target, .. } = &self.nodes[link].kind else {
            unreachable!("only symlinks are resolved")
        };
        resolved.insert(link, Resolution::InProgress);
        let start = Location {
            node: self.nodes[link].parent,
            below: 0,
        };
        let (hops, at) = self.walk(start, target, depth, resolved)?;
        let hops = hops + 1;
        if hops > MAX_LINK_HOPS {
            return Err(LinkFailure::TooManyLinks);
        }
        resolved.insert(link, Resolution::Done { hops, at });
        Ok((hops, at))
    }

    /// Follows `path` from `at` as the kernel would, except that a missing folder or a file
    /// is walked through as if it were a folder: the kernel would stop there, so this can only
    /// refuse more, never less.
    fn walk(
        &self,
        mut at: Location,
        path: &str,
        depth: u32,
        resolved: &mut HashMap<usize, Resolution>,
    ) -> Result<(u32, Location), LinkFailure> {
        if path.starts_with('/') {
            return Err(LinkFailure::Escapes);
        }
        let mut hops = 0;
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." if at.below > 0 => at.below -= 1,
                ".." if at.node == ROOT => return Err(LinkFailure::Escapes),
                ".." => at.node = self.nodes[at.node].parent,
                _ if at.below > 0 => at.below += 1,
                name => match self.nodes[at.node].children.get(name) {
                    None => at.below = 1,
                    Some(&child) => match self.nodes[child].kind {
                        NodeKind::Symlink { .. } => {
                            let (taken, to) = self.resolve_link(child, depth + 1, resolved)?;
                            hops += taken;
                            if hops > MAX_LINK_HOPS {
                                return Err(LinkFailure::TooManyLinks);
                            }
                            at = to;
                        }
                        _ => at.node = child,
                    },
                },
            }
        }
        Ok((hops, at))
    }
}
