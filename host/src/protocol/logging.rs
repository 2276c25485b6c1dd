//! MCP log levels (RFC 5424 severities) and their order.

/// Every level, least severe first.
pub(crate) const LEVELS: [&str; 8] = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];

/// The rank of a level name (debug = 0 ... emergency = 7), or `None` for an unknown name.
pub(crate) fn level_rank(name: &str) -> Option<u8> {
    LEVELS.iter().position(|l| *l == name).and_then(|p| u8::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::level_rank;

    #[test]
    fn levels_are_ordered() {
        assert_eq!(level_rank("debug"), Some(0));
        assert_eq!(level_rank("emergency"), Some(7));
        assert!(level_rank("warning") > level_rank("info"));
        assert_eq!(level_rank("verbose"), None);
    }
}
