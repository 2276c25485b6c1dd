//! A call's `params.arguments`: kept as the JSON text the client sent, parsed into a
//! value only where a check needs one, and handed on as that same text unless the
//! text could mean two things.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

/// The arguments of a request: the client's JSON text, `{}` when it sent none (or `null`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arguments<'a> {
    text: &'a str,
}

/// Arguments that are not a JSON object (or `null`): the client's mistake, -32602.
#[derive(Debug, Clone, PartialEq)]
pub struct NotAnObject;

impl<'a> Arguments<'a> {
    /// The arguments in `raw` (absent is `{}`); anything but an object or `null` is refused.
    pub fn new(raw: Option<&'a RawValue>) -> Result<Self, NotAnObject> {
        match raw.map(RawValue::get) {
            None | Some("null") => Ok(Self { text: "{}" }),
            Some(text) if text.starts_with('{') => Ok(Self { text }),
            Some(_) => Err(NotAnObject),
        }
    }

    /// The JSON text as the client sent it.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The arguments as a value for berth's checks, and the text a plugin gets: the
    /// client's own text, or, when an object in it names a member twice, the text written
    /// again from the value that was checked. (A value keeps the last of two members; a
    /// plugin's parser might keep the first, and so run on arguments nobody checked.)
    pub fn checked(&self) -> (Value, Cow<'a, str>) {
        let repeated = Cell::new(false);
        let mut deserializer = serde_json::Deserializer::from_str(self.text);
        // `RawValue` held valid JSON, so this parse cannot fail; were it to, `{}` is checked and passed.
        let Ok(value) = Checking { repeated: &repeated }.deserialize(&mut deserializer) else {
            return (Value::Object(Map::new()), Cow::Borrowed("{}"));
        };
        if repeated.get() {
            let text = serde_json::to_string(&value).unwrap_or_else(|_| "{}".to_owned());
            (value, Cow::Owned(text))
        } else {
            (value, Cow::Borrowed(self.text))
        }
    }
}

/// Builds a `serde_json::Value` exactly as `Value`'s own `Deserialize` does, noting
/// whether any object named a member twice.
#[derive(Clone, Copy)]
struct Checking<'c> {
    repeated: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Checking<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checking<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if members.insert(key, value).is_some() {
                self.repeated.set(true);
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    #[test]
    fn the_clients_text_is_passed_on_and_checked_as_the_value_it_is() {
        let text = r#"{ "text": "h\u00e9", "n": [1, -2, 3.5, true, null, {"k": {}}] }"#;
        let sent = raw(text);
        let arguments = Arguments::new(Some(&sent)).expect("an object");
        let (value, passed) = arguments.checked();
        assert_eq!(value, serde_json::from_str::<Value>(text).expect("valid"));
        assert!(matches!(passed, Cow::Borrowed(t) if t == text), "{passed}");
    }

    #[test]
    fn absent_or_null_is_an_empty_object_and_anything_else_is_refused() {
        assert_eq!(Arguments::new(None).map(|a| a.text()), Ok("{}"));
        assert_eq!(Arguments::new(Some(&raw("null"))).map(|a| a.text()), Ok("{}"));
        for wrong in ["[1]", "\"{}\"", "3", "true"] {
            assert_eq!(Arguments::new(Some(&raw(wrong))), Err(NotAnObject), "{wrong}");
        }
    }

    #[test]
    fn a_member_named_twice_is_passed_as_the_value_that_was_checked() {
        for text in [r#"{"path":"/ok","path":"/etc/passwd"}"#, r#"{"a":{"b":1,"b":2}}"#, r#"{"a":[{"x":1,"x":2}]}"#] {
            let sent = raw(text);
            let (value, passed) = Arguments::new(Some(&sent)).expect("an object").checked();
            assert!(matches!(passed, Cow::Owned(_)), "{text}");
            // The plugin gets exactly what was checked, with one member each.
            assert_eq!(serde_json::from_str::<Value>(&passed).expect("valid"), value, "{text}");
            assert_eq!(serde_json::to_string(&value).expect("writes"), *passed, "{text}");
        }
    }
}
