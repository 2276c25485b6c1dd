//! The Wasm OCI artifact layout: what a pushed manifest holds and what a pulled one must.

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The config media type of a Wasm component artifact (CNCF Wasm OCI artifact layout).
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the component layer.
pub const WASM_LAYER: &str = "application/wasm";
/// Layer media types other tools have used for Wasm; accepted when pulling.
const OTHER_WASM_LAYERS: [&str; 2] =
    ["application/vnd.wasm.content.layer.v1+wasm", "application/vnd.module.wasm.content.layer.v1+wasm"];
/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The largest component berth pulls: far above any real plugin, low enough that a
/// wrong reference cannot fill the disk.
pub const MAX_COMPONENT_BYTES: i64 = 512 * 1024 * 1024;

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Why bytes are not a Wasm component, or `None` when they are one.
///
/// A component starts with `\0asm` and the component layer's version bytes; a core
/// module has the same magic with layer 0, and berth cannot load it.
pub fn check_component(bytes: &[u8]) -> Option<&'static str> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => None,
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => Some(
            "is a core Wasm module, not a component (build for wasm32-wasip2, or wrap it with `wasm-tools component new`)",
        ),
        _ => Some("is not a Wasm component (no \\0asm header)"),
    }
}

/// The config blob of a pushed component: the fields the Wasm OCI layout defines that
/// berth knows without parsing the component. No timestamp, so pushing the same file
/// twice gives the same digest.
pub fn config_blob(layer_digest: &str) -> Vec<u8> {
    let config = json!({ "architecture": "wasm", "os": "wasip2", "layerDigests": [layer_digest] });
    serde_json::to_vec(&config).unwrap_or_default()
}

/// The manifest of a component artifact, serialized (its digest is the artifact's).
pub fn manifest_bytes(component: &[u8], config: &[u8], annotations: BTreeMap<String, String>) -> Vec<u8> {
    let descriptor = |media_type: &str, bytes: &[u8]| OciDescriptor {
        media_type: media_type.to_owned(),
        digest: sha256_digest(bytes),
        size: bytes.len() as i64,
        ..OciDescriptor::default()
    };
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        config: descriptor(WASM_CONFIG, config),
        layers: vec![descriptor(WASM_LAYER, component)],
        artifact_type: None,
        subject: None,
        annotations: (!annotations.is_empty()).then_some(annotations),
    };
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// The component layer of a pulled manifest, or why the artifact is not one berth loads.
pub fn component_layer(manifest: &OciImageManifest) -> Result<&OciDescriptor, String> {
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == WASM_LAYER || OTHER_WASM_LAYERS.contains(&l.media_type.as_str()))
        .collect();
    let layer = match wasm.as_slice() {
        [layer] => *layer,
        [] => {
            let types: Vec<&str> = manifest.layers.iter().map(|l| l.media_type.as_str()).collect();
            return Err(format!(
                "is not a Wasm component artifact: no {WASM_LAYER} layer (config {}, layers [{}])",
                manifest.config.media_type,
                types.join(", ")
            ));
        }
        _ => return Err(format!("has {} Wasm layers; berth loads artifacts with exactly one", wasm.len())),
    };
    if layer.size > MAX_COMPONENT_BYTES || layer.size < 0 {
        return Err(format!("its Wasm layer is {} bytes, more than berth pulls ({MAX_COMPONENT_BYTES})", layer.size));
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_components_from_modules_and_junk() {
        assert_eq!(check_component(b"\0asm\x0d\x00\x01\x00rest"), None);
        assert!(check_component(b"\0asm\x01\x00\x00\x00").is_some_and(|m| m.contains("core Wasm module")));
        assert!(check_component(b"hello").is_some_and(|m| m.contains("not a Wasm component")));
    }

    #[test]
    fn manifest_round_trips_and_is_reproducible() {
        let component = b"\0asm\x0d\x00\x01\x00";
        let config = config_blob(&sha256_digest(component));
        let bytes = manifest_bytes(component, &config, BTreeMap::new());
        assert_eq!(bytes, manifest_bytes(component, &config, BTreeMap::new()));
        let parsed: OciImageManifest = serde_json::from_slice(&bytes).expect("manifest parses");
        assert_eq!(parsed.config.media_type, WASM_CONFIG);
        let layer = component_layer(&parsed).expect("one wasm layer");
        assert_eq!(layer.digest, sha256_digest(component));
    }
}
