//! Tool schemas, compiled once at load: a call's arguments are checked before
//! any instance is leased, and its structured output after it answers.
//!
//! Schemas are JSON Schema draft 2020-12 unless they name another draft in
//! `$schema`. References are resolved within the schema only: berth never
//! fetches a remote (or local-file) `$ref` on a plugin's behalf, so such a
//! schema does not compile and the plugin is refused. A schema that only
//! says "an object" (`{"type":"object"}`, optionally with an empty
//! `properties`) compiles to nothing: arguments are always an object already.

use std::fmt::Write as _;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::Value;

/// Most violations listed in one answer; the rest are counted.
const MAX_LISTED: usize = 20;

/// The compiled schemas of one tool.
#[derive(Default)]
pub(crate) struct ToolSchemas {
    input: Option<Validator>,
    output: Option<Validator>,
}

impl ToolSchemas {
    /// Compiles a tool's input and output schemas (JSON text, checked to be objects).
    pub(crate) fn compile(input: &str, output: Option<&str>) -> Result<Self, String> {
        Ok(Self {
            input: compile(input).map_err(|e| format!("input-schema: {e}"))?,
            output: match output {
                Some(output) => compile(output).map_err(|e| format!("output-schema: {e}"))?,
                None => None,
            },
        })
    }

    /// Whether there is an input schema to check (none when it accepts any object, or when
    /// validation is off), so callers can skip even finding the arguments.
    pub(crate) fn checks_input(&self) -> bool {
        self.input.is_some()
    }

    /// Whether `arguments` fit the input schema; else the violations, one per line.
    pub(crate) fn check_arguments(&self, arguments: &Value) -> Result<(), Violations> {
        check(self.input.as_ref(), arguments)
    }

    /// Whether `structured` (a result's `structuredContent`) fits the output schema.
    pub(crate) fn check_output(&self, structured: &Value) -> Result<(), Violations> {
        check(self.output.as_ref(), structured)
    }
}

/// What a value got wrong, as `<JSON pointer>: <what>` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violations(pub String);

fn compile(schema: &str) -> Result<Option<Validator>, String> {
    let schema: Value = serde_json::from_str(schema).map_err(|e| format!("not JSON: {e}"))?;
    if is_any_object(&schema) {
        return Ok(None);
    }
    let mut options = jsonschema::options();
    if schema.get("$schema").is_none() {
        options = options.with_draft(Draft::Draft202012);
    }
    options.build(&schema).map(Some).map_err(|e| e.to_string())
}

/// Whether `schema` accepts every object (berth has already checked the arguments are one).
fn is_any_object(schema: &Value) -> bool {
    let Some(object) = schema.as_object() else { return false };
    object.iter().all(|(key, value)| match key.as_str() {
        "type" => value == "object",
        "properties" => value.as_object().is_some_and(|p| p.is_empty()),
        "$schema" | "title" | "description" | "$comment" => true,
        _ => false,
    })
}

fn check(validator: Option<&Validator>, value: &Value) -> Result<(), Violations> {
    let Some(validator) = validator else { return Ok(()) };
    if validator.is_valid(value) {
        return Ok(());
    }
    let mut text = String::new();
    let mut count = 0;
    for error in validator.iter_errors(value) {
        count += 1;
        if count <= MAX_LISTED {
            if !text.is_empty() {
                text.push('\n');
            }
            describe(&error, &mut text);
        }
    }
    if count > MAX_LISTED {
        let _ = write!(text, "\n(and {} more)", count - MAX_LISTED);
    }
    Err(Violations(text))
}

/// One violation as `<pointer>: <what>`, worded for a model to correct itself from.
fn describe(error: &ValidationError<'_>, text: &mut String) {
    let pointer = error.instance_path().to_string();
    let pointer = if pointer.is_empty() { "/" } else { pointer.as_str() };
    let _ = match error.kind() {
        ValidationErrorKind::Type { kind: TypeKind::Single(expected) } => {
            write!(text, "{pointer}: expected {expected}, got {}", type_of(error.instance()))
        }
        ValidationErrorKind::Required { property } => write!(text, "{pointer}: missing required property {property}"),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names: Vec<String> = unexpected.iter().map(|name| format!("{name:?}")).collect();
            let noun = if names.len() == 1 { "property" } else { "properties" };
            write!(text, "{pointer}: unexpected {noun} {} (not allowed by the schema)", names.join(", "))
        }
        ValidationErrorKind::Enum { options } => {
            write!(text, "{pointer}: expected one of {options}, got {}", error.instance())
        }
        ValidationErrorKind::MaxItems { limit } => {
            let items = error.instance().as_array().map_or(0, Vec::len);
            write!(text, "{pointer}: {items} items, more than the {limit} allowed")
        }
        // The rest in the validator's words, with the offending value masked:
        // it may be large, and the model has it already.
        _ => write!(text, "{pointer}: {}", error.masked()),
    };
}

/// The JSON Schema type name of `value` (`integer` for whole numbers).
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::runtime::schema::*;

    fn schemas(input: Value) -> ToolSchemas {
        ToolSchemas::compile(&input.to_string(), None).expect("compiles")
    }

    #[test]
    fn violations_name_the_pointer_and_the_fix() {
        let strict = schemas(json!({
            "type": "object",
            "properties": {
                "json": {},
                "text": { "type": "string" },
                "mode": { "enum": ["fast", "slow"] },
                "point": { "type": "object", "properties": { "x": { "type": "integer" } }, "required": ["x"] }
            },
            "required": ["json"],
            "additionalProperties": false
        }));
        let Err(Violations(text)) =
            strict.check_arguments(&json!({ "text": 5, "mode": "medium", "point": { "x": 1.5 }, "extra": 1 }))
        else {
            panic!("invalid arguments pass");
        };
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"/text: expected string, got integer"), "{text}");
        assert!(lines.contains(&"/: missing required property \"json\""), "{text}");
        assert!(lines.contains(&"/mode: expected one of [\"fast\",\"slow\"], got \"medium\""), "{text}");
        assert!(lines.contains(&"/point/x: expected integer, got number"), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("/: unexpected property \"extra\"")), "{text}");
        assert!(strict.check_arguments(&json!({ "json": 1, "text": "ok" })).is_ok());
    }

    #[test]
    fn long_lists_are_cut() {
        let numbers = schemas(
            json!({ "type": "object", "properties": { "n": { "type": "array", "items": { "type": "integer" } } } }),
        );
        let Err(Violations(text)) = numbers.check_arguments(&json!({ "n": vec!["x"; 100] })) else { panic!("invalid") };
        assert_eq!(text.lines().count(), MAX_LISTED + 1);
        assert!(text.ends_with("(and 80 more)"), "{text}");
    }

    #[test]
    fn trivial_schemas_cost_nothing_and_bad_ones_are_refused() {
        assert!(schemas(json!({ "type": "object" })).input.is_none());
        assert!(schemas(json!({ "type": "object", "properties": {} })).input.is_none());
        assert!(schemas(json!({ "type": "object", "properties": { "a": {} } })).input.is_some());
        let bad = ToolSchemas::compile(r#"{"type":"object","properties":{"a":{"type":"strnig"}}}"#, None);
        assert!(bad.is_err_and(|e| e.starts_with("input-schema:")));
        let remote = ToolSchemas::compile(r#"{"$ref":"https://example.com/schema.json"}"#, None);
        assert!(remote.is_err(), "remote references are never fetched");
    }

    #[test]
    fn a_declared_draft_is_honoured() {
        // Draft 4's boolean exclusiveMaximum would not compile as 2020-12.
        let draft4 = json!({ "$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
            "properties": { "n": { "type": "number", "maximum": 5, "exclusiveMaximum": true } } });
        let compiled = schemas(draft4);
        assert!(compiled.check_arguments(&json!({ "n": 5 })).is_err());
        assert!(compiled.check_arguments(&json!({ "n": 4 })).is_ok());
    }
}
