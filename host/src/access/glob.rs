//! Name globs: `*` matches any run of characters (none included), `?` exactly one.

/// Whether `text` matches `pattern` (no allocation: rules are checked on every request).
pub(super) fn matches(pattern: &str, text: &str) -> bool {
    let (pattern, bytes) = (pattern.as_bytes(), text.as_bytes());
    // The length of the character at `at` (`at` is always on a character boundary).
    let char_len = |at: usize| text[at..].chars().next().map_or(1, char::len_utf8);
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it is tried from: on a mismatch the
    // star takes one more character (linear backtracking, no recursion).
    let mut star: Option<(usize, usize)> = None;
    while t < bytes.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') => {
                p += 1;
                t += char_len(t);
            }
            Some(&c) if c == bytes[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((at, from)) => {
                    let next = from + char_len(from);
                    p = at + 1;
                    t = next;
                    star = Some((at, next));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == b'*')
}

/// Whether `pattern` has any glob character (else it names one thing exactly).
pub(super) fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use crate::access::glob::*;

    #[test]
    fn stars_and_marks() {
        assert!(matches("echo", "echo"));
        assert!(!matches("echo", "echoes"));
        assert!(matches("*", ""));
        assert!(matches("fs_*", "fs_read"));
        assert!(!matches("fs_*", "xfs_read"));
        assert!(matches("*_read", "fs_read"));
        assert!(matches("a*b*c", "aXXbYYbc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("ech?", "echo"));
        assert!(!matches("ech?", "ech"));
        assert!(matches("**x", "abx"));
        assert!(matches("?x", "éx"), "? is one character, not one byte");
        assert!(matches("*é*", "aébé"));
        assert!(!matches("a?", "aéb"));
    }
}
