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
pub fn create(name: &str, lang: &str, dir: &Path, sdk: &Path) -> Result<PathBuf> {
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
        other => {
            return Err(Error::Config(format!("unknown language {other:?}: use rust, python or js")));
        }
    };
    if dir.exists() && dir.read_dir().map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(Error::Config(format!("{} already exists and is not empty", dir.display())));
    }
    let sdk = std::fs::canonicalize(sdk)
        .map_err(|source| Error::Io { what: format!("the berth SDK at {} is missing", sdk.display()), source })?;
    let artifact = name.replace('-', "_");
    let tool = name.replace('-', "_");
    for file in files {
        let text = file
            .text
            .replace("{{name}}", name)
            .replace("{{artifact}}", &artifact)
            .replace("{{tool}}", &format!("{tool}_greet"))
            .replace("{{sdk}}", &sdk.display().to_string());
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
