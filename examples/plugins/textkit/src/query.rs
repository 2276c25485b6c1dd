//! A small path language for `json_query`: `.key`, `["key"]` and `[index]`
//! steps, chained; `.` alone is the whole document.

use serde_json::Value;

/// One step of a path.
enum Step {
    Key(String),
    Index(usize),
}

/// Follows `path` through `document`; `Ok(None)` when a step finds nothing.
pub fn select<'a>(document: &'a Value, path: &str) -> Result<Option<&'a Value>, String> {
    let mut current = document;
    for step in parse(path)? {
        let next = match step {
            Step::Key(key) => current.get(key.as_str()),
            Step::Index(index) => current.get(index),
        };
        match next {
            Some(value) => current = value,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

fn parse(path: &str) -> Result<Vec<Step>, String> {
    let path = path.trim();
    if path.is_empty() || path == "." {
        return Ok(Vec::new());
    }
    let bytes: Vec<char> = path.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '.' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end] != '.' && bytes[end] != '[' {
                    end += 1;
                }
                if end == start {
                    if end < bytes.len() && bytes[end] == '[' {
                        i = end;
                        continue;
                    }
                    return Err(format!("empty key at position {start} in path {path:?}"));
                }
                steps.push(Step::Key(bytes[start..end].iter().collect()));
                i = end;
            }
            '[' => {
                let close = bytes[i..]
                    .iter()
                    .position(|c| *c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| format!("unclosed [ in path {path:?}"))?;
                let inner: String = bytes[i + 1..close].iter().collect();
                let inner = inner.trim();
                if let Some(quoted) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    steps.push(Step::Key(quoted.to_owned()));
                } else {
                    let index = inner
                        .parse::<usize>()
                        .map_err(|_| format!("[{inner}] is neither an index nor a quoted key"))?;
                    steps.push(Step::Index(index));
                }
                i = close + 1;
            }
            other => {
                return Err(format!("path must start with . or [ (found {other:?}) in {path:?}"));
            }
        }
    }
    Ok(steps)
}
