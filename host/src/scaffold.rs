//! `berth new`: plugin projects from the templates in `sdk/templates/`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One file of a template: its path in the project and its text.
struct TemplateFile {
    path: &'static str,
    text: &'static str,
}

const RUST: &[TemplateFile] = &[
    TemplateFile { path: "Cargo.toml", text: include_str!("../../sdk/templates/rust/Cargo.toml.tmpl") },
    TemplateFile { path: "src/lib.rs", text: include_str!("../../sdk/templates/rust/src/lib.rs.tmpl") },
    TemplateFile { path: "README.md", text: include_str!("../../sdk/templates/rust/README.md.tmpl") },
    TemplateFile { path: ".gitignore", text: include_str!("../../sdk/templates/rust/gitignore.tmpl") },
];

const TS: &[TemplateFile] = &[
    TemplateFile { path: "app.ts", text: include_str!("../../sdk/templates/ts/app.ts.tmpl") },
    TemplateFile { path: "package.json", text: include_str!("../../sdk/templates/ts/package.json.tmpl") },
    TemplateFile { path: "tsconfig.json", text: include_str!("../../sdk/templates/ts/tsconfig.json.tmpl") },
    TemplateFile { path: "{{name}}.toml", text: include_str!("../../sdk/templates/ts/sidecar.toml.tmpl") },
    TemplateFile { path: "README.md", text: include_str!("../../sdk/templates/ts/README.md.tmpl") },
    TemplateFile { path: ".gitignore", text: include_str!("../../sdk/templates/ts/gitignore.tmpl") },
    TemplateFile { path: "wit/plugin.wit", text: include_str!("../../wit/plugin.wit") },
];

const C: &[TemplateFile] = &[
    TemplateFile { path: "app.c", text: include_str!("../../sdk/templates/c/app.c.tmpl") },
    TemplateFile { path: "Makefile", text: include_str!("../../sdk/templates/c/Makefile.tmpl") },
    TemplateFile { path: "README.md", text: include_str!("../../sdk/templates/c/README.md.tmpl") },
    TemplateFile { path: ".gitignore", text: include_str!("../../sdk/templates/c/gitignore.tmpl") },
    TemplateFile { path: "wit/plugin.wit", text: include_str!("../../wit/plugin.wit") },
];

/// The Rust SDK and the contract it builds against, vendored into every Rust
/// project: `berth-sdk/src` resolves the WIT at `../wit`, as in berth's tree.
const RUST_SDK: &[TemplateFile] = &[
    TemplateFile {
        path: "berth-sdk/Cargo.toml",
        text: include_str!("../../sdk/templates/rust/berth-sdk.Cargo.toml.tmpl"),
    },
    TemplateFile { path: "berth-sdk/src/lib.rs", text: include_str!("../../sdk/src/lib.rs") },
    TemplateFile { path: "berth-sdk/src/content.rs", text: include_str!("../../sdk/src/content.rs") },
    TemplateFile { path: "berth-sdk/src/host.rs", text: include_str!("../../sdk/src/host.rs") },
    TemplateFile { path: "wit/plugin.wit", text: include_str!("../../wit/plugin.wit") },
];

/// berth's workspace manifest: the SDK's dependency versions are read from it,
/// so the vendored SDK asks for exactly what the SDK in berth's tree builds with.
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");

const PYTHON: &[TemplateFile] = &[
    TemplateFile { path: "app.py", text: include_str!("../../sdk/templates/python/app.py.tmpl") },
    TemplateFile { path: "{{name}}.toml", text: include_str!("../../sdk/templates/python/sidecar.toml.tmpl") },
    TemplateFile { path: "build.sh", text: include_str!("../../sdk/templates/python/build.sh.tmpl") },
    TemplateFile { path: "README.md", text: include_str!("../../sdk/templates/python/README.md.tmpl") },
    TemplateFile { path: ".gitignore", text: include_str!("../../sdk/templates/python/gitignore.tmpl") },
    TemplateFile { path: "wit/plugin.wit", text: include_str!("../../wit/plugin.wit") },
];

const JS: &[TemplateFile] = &[
    TemplateFile { path: "app.js", text: include_str!("../../sdk/templates/js/app.js.tmpl") },
    TemplateFile { path: "package.json", text: include_str!("../../sdk/templates/js/package.json.tmpl") },
    TemplateFile { path: "{{name}}.toml", text: include_str!("../../sdk/templates/js/sidecar.toml.tmpl") },
    TemplateFile { path: "README.md", text: include_str!("../../sdk/templates/js/README.md.tmpl") },
    TemplateFile { path: ".gitignore", text: include_str!("../../sdk/templates/js/gitignore.tmpl") },
    TemplateFile { path: "wit/plugin.wit", text: include_str!("../../wit/plugin.wit") },
];

/// Creates plugin `name` in `dir` from the `lang` template; returns the path of
/// the `.wasm` its build produces (relative to `dir`).
///
/// A Rust project gets a copy of the SDK (and the WIT it builds against) in
/// `berth-sdk/`, so it builds without berth's source tree; `sdk` makes it
/// depend on that SDK folder instead (working on the SDK itself).
pub fn create(name: &str, lang: &str, dir: &Path, sdk: Option<&Path>) -> Result<PathBuf> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(Error::Config(format!(
            "plugin name {name:?}: use lower-case letters, digits, '-' and '_', starting with a letter"
        )));
    }
    let files = match lang {
        "rust" => RUST,
        "python" => PYTHON,
        "js" | "javascript" => JS,
        "ts" | "typescript" => TS,
        "c" => C,
        other => {
            return Err(Error::Config(format!("unknown language {other:?}: use rust, python, js, ts or c")));
        }
    };
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::Config(format!("{} already exists and is not empty", dir.display())));
    }
    let sdk_path = match sdk {
        Some(sdk) => std::fs::canonicalize(sdk)
            .map_err(|source| Error::Io { what: format!("the berth SDK at {} is missing", sdk.display()), source })?
            .display()
            .to_string(),
        None => "berth-sdk".to_owned(),
    };
    let vendored: &[TemplateFile] = if lang == "rust" && sdk.is_none() { RUST_SDK } else { &[] };
    let versions = sdk_versions()?;
    let artifact = name.replace('-', "_");
    let tool = name.replace('-', "_");
    for file in files.iter().chain(vendored) {
        let mut text = file
            .text
            .replace("{{name}}", name)
            .replace("{{artifact}}", &artifact)
            .replace("{{tool}}", &format!("{tool}_greet"))
            .replace("{{sdk}}", &sdk_path)
            .replace("{{version}}", env!("CARGO_PKG_VERSION"));
        for (key, version) in &versions {
            text = text.replace(&format!("{{{{{key}}}}}"), version);
        }
        let path = dir.join(file.path.replace("{{name}}", name));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| Error::Io { what: format!("cannot create {}", parent.display()), source })?;
        }
        std::fs::write(&path, text)
            .map_err(|source| Error::Io { what: format!("cannot write {}", path.display()), source })?;
    }
    if lang != "rust" {
        if lang == "python" {
            make_executable(&dir.join("build.sh"))?;
        }
        return Ok(PathBuf::from(format!("{name}.wasm")));
    }
    Ok(PathBuf::from("target/wasm32-wasip2/release").join(format!("{artifact}.wasm")))
}

/// The versions of the SDK's dependencies in berth's workspace, keyed as the
/// vendored manifest's placeholders name them.
fn sdk_versions() -> Result<Vec<(&'static str, String)>> {
    let manifest: toml::Table = WORKSPACE_MANIFEST
        .parse()
        .map_err(|e| Error::Config(format!("berth's own workspace manifest does not parse: {e}")))?;
    let dependencies = manifest.get("workspace").and_then(|w| w.get("dependencies"));
    [("serde", "serde"), ("serde_json", "serde_json"), ("wit_bindgen", "wit-bindgen")]
        .into_iter()
        .map(|(key, crate_name)| {
            let entry = dependencies.and_then(|d| d.get(crate_name));
            let version = entry.and_then(|e| e.as_str().or_else(|| e.get("version").and_then(|v| v.as_str())));
            version
                .map(|v| (key, v.to_owned()))
                .ok_or_else(|| Error::Config(format!("berth's workspace manifest names no version of {crate_name}")))
        })
        .collect()
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|source| Error::Io { what: format!("cannot make {} executable", path.display()), source })
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::scaffold::*;

    #[test]
    fn a_rust_project_carries_the_sdk_unless_told_where_one_is() {
        let work = tempfile::tempdir().expect("dir");
        let vendored = work.path().join("vendored");
        create("demo", "rust", &vendored, None).expect("scaffold");
        let manifest = std::fs::read_to_string(vendored.join("Cargo.toml")).expect("manifest");
        assert!(manifest.contains(r#"berth-sdk = { path = "berth-sdk" }"#), "{manifest}");
        let sdk_manifest = std::fs::read_to_string(vendored.join("berth-sdk/Cargo.toml")).expect("sdk manifest");
        assert!(!sdk_manifest.contains("{{"), "every placeholder filled: {sdk_manifest}");
        assert!(sdk_manifest.contains(&format!("version = \"{}\"", env!("CARGO_PKG_VERSION"))), "{sdk_manifest}");

        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        let pointed = work.path().join("pointed");
        create("demo", "rust", &pointed, Some(&sdk)).expect("scaffold");
        let manifest = std::fs::read_to_string(pointed.join("Cargo.toml")).expect("manifest");
        let canonical = std::fs::canonicalize(&sdk).expect("sdk");
        assert!(manifest.contains(&format!("path = \"{}\"", canonical.display())), "{manifest}");
        assert!(!pointed.join("berth-sdk").exists(), "no copy when an SDK folder is named");
        assert!(create("demo", "rust", &work.path().join("nowhere"), Some(&work.path().join("no-sdk"))).is_err());
    }
}
