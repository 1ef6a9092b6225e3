//! Phase announcements. Before each phase the builder prints one marker line
//! (`::ladle-phase::<name>`) on stdout and on stderr; the stager strips these lines and tags
//! every following line of the same stream with that phase before handing it to the log sink.

use std::fmt;
use std::str::FromStr;

pub const MARKER_PREFIX: &str = "::ladle-phase::";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Host-side work: preparing the workspace, starting the container, collecting outputs.
    Setup,
    Download,
    Detect,
    Supply,
    Finalize,
    Compile,
    Release,
    Package,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Setup,
        Phase::Download,
        Phase::Detect,
        Phase::Supply,
        Phase::Finalize,
        Phase::Compile,
        Phase::Release,
        Phase::Package,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Download => "download",
            Phase::Detect => "detect",
            Phase::Supply => "supply",
            Phase::Finalize => "finalize",
            Phase::Compile => "compile",
            Phase::Release => "release",
            Phase::Package => "package",
        }
    }

    /// The marker line (without newline) that announces this phase.
    pub fn marker(self) -> String {
        format!("{MARKER_PREFIX}{}", self.as_str())
    }

    /// Reads a marker line; `None` for ordinary output.
    pub fn from_marker(line: &str) -> Option<Phase> {
        line.trim_end().strip_prefix(MARKER_PREFIX)?.parse().ok()
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::from_marker(&phase.marker()), Some(phase));
        }
        assert_eq!(Phase::from_marker("-----> compiling"), None);
        assert_eq!(Phase::from_marker("::ladle-phase::nonsense"), None);
    }
}
