//! Turning a TOML parse or type error into a [`ConfigError`] that names the dotted key.

use super::ConfigError;

pub(super) fn to_config_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let msg = e.message().to_string();
    // toml reports the span; turn it into the dotted key the user wrote.
    let key = e
        .span()
        .map(|sp| key_at(text, sp.start))
        .unwrap_or_else(|| "(toml)".into());
    let line = e
        .span()
        .map(|sp| text[..sp.start.min(text.len())].matches('\n').count() + 1);
    let message = match line {
        Some(l) => format!("{msg} (line {l})"),
        None => msg,
    };
    ConfigError::new(key, message)
}

/// The dotted key at byte offset `pos`: the current `[table]` plus the key on that line.
fn key_at(text: &str, pos: usize) -> String {
    let pos = pos.min(text.len());
    let mut table = String::new();
    let mut key = String::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim();
        if trimmed.starts_with('[') && !trimmed.starts_with("[[") {
            table = trimmed
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            key.clear();
        } else if let Some((k, _)) = trimmed.split_once('=') {
            key = k.trim().trim_matches('"').to_string();
        }
        if pos < offset || offset == text.len() {
            let _ = start;
            break;
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, true) => "(toml)".into(),
        (true, false) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}
