//! Matching URIs against RFC 6570 level-1 templates such as `notes://{id}/text`.

/// A parsed URI template: literal text and `{variable}` holes.
#[derive(Debug, Clone)]
pub(crate) struct UriTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Variable,
}

impl UriTemplate {
    /// Parses `template`; an unclosed `{` is treated as literal text.
    pub(crate) fn new(template: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            parts.push(Part::Variable);
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Self { source: template.to_owned(), parts }
    }

    /// The template text.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Whether `uri` fits: each variable matches one or more characters
    /// other than `/`, literals match exactly.
    pub(crate) fn matches(&self, uri: &str) -> bool {
        matches_from(&self.parts, uri)
    }
}

fn matches_from(parts: &[Part], uri: &str) -> bool {
    match parts.split_first() {
        None => uri.is_empty(),
        Some((Part::Literal(text), rest)) => {
            uri.strip_prefix(text.as_str()).is_some_and(|tail| matches_from(rest, tail))
        }
        Some((Part::Variable, rest)) => {
            let segment_end = uri.find('/').unwrap_or(uri.len());
            (1..=segment_end).any(|end| matches_from(rest, &uri[end..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::UriTemplate;

    #[test]
    fn variables_match_one_segment() {
        let t = UriTemplate::new("test://template/{id}/data");
        assert!(t.matches("test://template/42/data"));
        assert!(!t.matches("test://template//data"));
        assert!(!t.matches("test://template/4/2/data"));
        assert!(!t.matches("test://template/42/data/more"));
        let tail = UriTemplate::new("textkit://sha256/{text}");
        assert!(tail.matches("textkit://sha256/hello"));
        assert!(!tail.matches("textkit://sha256/"));
    }
}
