//! A request's result as it goes out: a JSON value, or JSON text written from its
//! parts (a tool's text result, the hot path) with no value tree built for it.

use serde_json::{Value, json};

/// A request's result: a JSON value, or an object's JSON text written already.
///
/// The written form is the hot path's: a tool's text result goes from the plugin's
/// strings into the answer's bytes without a value tree built and walked for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Value(Value),
    Written(Written),
}

/// A result object's JSON text, kept as its members (without braces) so the
/// era's decoration can be put in front of them without parsing anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Members put first, each followed by a comma (`""` or `"resultType":"complete",`).
    decoration: &'static str,
    /// The object's own members, comma-separated, valid JSON once in braces.
    members: String,
    /// Whether the result is a tool result marked `isError`.
    tool_error: bool,
}

impl Written {
    /// A result object of `members`: JSON object members, comma-separated, without
    /// braces, naming none of the members a decoration adds (`resultType`, `ttlMs`,
    /// `cacheScope`, `_meta`). The writer vouches for the text; nothing parses it here.
    pub fn new(members: String, tool_error: bool) -> Self {
        Self { decoration: "", members, tool_error }
    }

    /// The same result with `decoration` (members, each followed by a comma) put first.
    pub fn decorated(mut self, decoration: &'static str) -> Self {
        self.decoration = decoration;
        self
    }

    /// The length of its JSON text, in bytes.
    pub fn len(&self) -> usize {
        let decoration = if self.members.is_empty() { self.decoration.trim_end_matches(',') } else { self.decoration };
        decoration.len() + self.members.len() + 2
    }

    /// Whether it is `{}`.
    pub fn is_empty(&self) -> bool {
        self.decoration.is_empty() && self.members.is_empty()
    }

    /// Appends the object's JSON text to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if self.members.is_empty() {
            out.extend_from_slice(self.decoration.trim_end_matches(',').as_bytes());
        } else {
            out.extend_from_slice(self.decoration.as_bytes());
            out.extend_from_slice(self.members.as_bytes());
        }
        out.push(b'}');
    }
}

impl Payload {
    /// Whether this is a tool result marked `isError`.
    pub fn is_tool_error(&self) -> bool {
        match self {
            Payload::Value(value) => value.get("isError").and_then(Value::as_bool) == Some(true),
            Payload::Written(written) => written.tool_error,
        }
    }

    /// The result as a value (parsing written text: for the paths that store or
    /// inspect a result, not for answering it).
    pub fn into_value(self) -> Value {
        match self {
            Payload::Value(value) => value,
            Payload::Written(written) => {
                let mut text = Vec::with_capacity(written.len());
                written.write(&mut text);
                // The writer vouched for valid JSON; were it not, the answer says so rather than panicking.
                serde_json::from_slice(&text).unwrap_or_else(|e| json!({ "invalidResult": e.to_string() }))
            }
        }
    }

    /// Appends the result's JSON text to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            // Writing a `Value` into a `Vec` cannot fail: its map keys are strings and a `Vec` takes any write.
            Payload::Value(value) => {
                let _ = serde_json::to_writer(out, value);
            }
            Payload::Written(written) => written.write(out),
        }
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Self {
        Payload::Value(value)
    }
}

/// A tool result of text blocks only (`content` of `{"type":"text"}` items and
/// `isError`), written straight from the strings: the JSON a `CallToolResult`
/// with that content serializes to.
pub fn text_tool_result<'a>(texts: impl Iterator<Item = &'a str> + Clone, is_error: bool) -> Written {
    let length = texts.clone().map(|text| text.len() + 28).sum::<usize>() + 40;
    let mut members = Vec::with_capacity(length);
    members.extend_from_slice(br#""content":["#);
    for (n, text) in texts.enumerate() {
        if n > 0 {
            members.push(b',');
        }
        members.extend_from_slice(br#"{"type":"text","text":"#);
        write_string(&mut members, text);
        members.push(b'}');
    }
    members.extend_from_slice(if is_error { br#"],"isError":true"# } else { br#"],"isError":false"# });
    // serde_json writes UTF-8 and the rest is ASCII, so this never fails; were it
    // to, the result would say so rather than carry invalid text.
    let members =
        String::from_utf8(members).unwrap_or_else(|_| r#""content":[],"isError":true,"invalidText":true"#.to_owned());
    Written::new(members, is_error)
}

/// Appends `text` as a JSON string, exactly as serde_json writes it (which escapes
/// control characters, `"` and `\`, and nothing else).
///
/// Most tool text needs no escape: it is then copied whole, after a check the compiler
/// turns into a vector loop, where serde_json would look at it byte by byte (BENCHMARKS.md,
/// "Fewer copies and layers on the way to a call").
fn write_string(out: &mut Vec<u8>, text: &str) {
    // No early exit, so the check vectorizes; a text that needs escapes pays it once more.
    let plain = !text.bytes().fold(false, |escape, b| escape | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if plain {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // A string into a `Vec` cannot fail to serialize.
        let _ = serde_json::to_writer(out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::{success, success_bytes, success_text};

    #[test]
    fn a_written_result_is_the_object_its_members_and_decoration_make() {
        let members = r#""content":[{"type":"text","text":"hi"}],"isError":true"#.to_owned();
        let written = Written::new(members, true).decorated(r#""resultType":"complete","#);
        let payload = Payload::Written(written.clone());
        assert!(payload.is_tool_error());
        let expected =
            json!({ "resultType": "complete", "content": [{ "type": "text", "text": "hi" }], "isError": true });
        assert_eq!(payload.clone().into_value(), expected);
        let reply: Value = serde_json::from_slice(&success_bytes(&json!(4), &payload)).expect("valid JSON");
        assert_eq!(reply, success(&json!(4), expected));
        assert_eq!(success_text(&json!(4), &payload).into_bytes(), success_bytes(&json!(4), &payload));
        // No members of its own: the decoration alone, its trailing comma dropped.
        let bare = Payload::Written(Written::new(String::new(), false).decorated(r#""resultType":"complete","#));
        if let Payload::Written(written) = &bare {
            let mut text = Vec::new();
            written.write(&mut text);
            assert_eq!(written.len(), text.len());
        }
        assert_eq!(bare.into_value(), json!({ "resultType": "complete" }));
        assert_eq!(Payload::Written(Written::new(String::new(), false)).into_value(), json!({}));
    }

    #[test]
    fn text_results_written_are_the_values_they_stand_for() {
        for (texts, is_error) in
            [(vec!["hi"], false), (vec!["a", "b\n\"quoted\" \u{e9}\u{1F600}"], true), (vec![], false)]
        {
            let written = Payload::Written(text_tool_result(texts.iter().copied(), is_error));
            let content: Vec<Value> = texts.iter().map(|t| json!({ "type": "text", "text": t })).collect();
            assert_eq!(written.is_tool_error(), is_error);
            assert_eq!(written.into_value(), json!({ "content": content, "isError": is_error }));
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = (0u8..=0x7f).map(|b| format!("a{}z", b as char)).collect();
        texts.extend(["", "plain text", "\u{e9}\u{1F600} \u{7f}", "\"", "\\", "tab\there", "\u{0}"].map(str::to_owned));
        texts.push("x".repeat(1000) + "\n");
        for text in texts {
            let mut written = Vec::new();
            write_string(&mut written, &text);
            assert_eq!(written, serde_json::to_vec(&text).expect("a string"), "{text:?}");
        }
    }
}
