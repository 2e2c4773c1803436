//! The JSON Schema of pack files (`beian schema`).

/// A JSON Schema (draft 2020-12) describing one pack file.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "beian rule pack file",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "pack": {"type": "object"},
            "schema": {"type": "object"},
            "tables": {"type": "object"},
            "rules": {"type": "array"}
        }
    })
}
