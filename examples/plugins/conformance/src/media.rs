//! Small media fixtures: a 1x1 PNG, a short WAV, the JSON Schema 2020-12 tool schema.

use base64::Engine as _;
use berth_sdk::{Blob, Content};

/// A 1x1 red pixel, PNG.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";

/// The PNG's bytes.
pub fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(PNG_BASE64).unwrap_or_default()
}

/// The PNG as image content.
pub fn png_content() -> Content {
    Content::Image(Blob { data: png(), mime_type: "image/png".to_owned() })
}

/// 10 ms of silence: 8 kHz, mono, 8-bit PCM in a RIFF/WAVE container.
pub fn wav() -> Vec<u8> {
    let samples = 80u32;
    let mut bytes = Vec::with_capacity(44 + samples as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + samples).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
    bytes.extend_from_slice(&8000u32.to_le_bytes()); // byte rate
    bytes.extend_from_slice(&1u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&samples.to_le_bytes());
    bytes.extend(std::iter::repeat_n(128u8, samples as usize));
    bytes
}

/// The WAV as audio content.
pub fn wav_content() -> Content {
    Content::Audio(Blob { data: wav(), mime_type: "audio/wav".to_owned() })
}

/// The input schema the json-schema-2020-12 scenario looks for, keyword for keyword.
pub fn json_schema_2020_12() -> String {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" }
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": { "properties": { "contactMethod": { "const": "phone" } }, "required": ["contactMethod"] },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false
    })
    .to_string()
}
