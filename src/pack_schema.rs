//! The JSON Schema of pack files (`beian schema`), for editors.
//!
//! Draft-07, which every common editor understands (the VS Code YAML extension, IntelliJ, the
//! JSON Schema store). Every key has a `description`, shown on hover. The schema describes a
//! pack file that is not a table file: `tables/NAME.yaml` holds any YAML value.
//!
//! The schema checks shapes only; expressions are checked by `beian check`, which also knows
//! the record schema, the tables and types.

use serde_json::{json, Value};

/// The rule-id pattern of SPEC §1.3.
pub const RULE_ID_PATTERN: &str = "^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$";

/// `YYYY-MM-DD`.
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

fn expression(description: &str) -> Value {
    json!({
        "description": description,
        "type": ["string", "boolean", "number"],
    })
}

fn text(description: &str) -> Value {
    json!({
        "description": description,
        "type": ["string", "number"],
    })
}

fn date(description: &str) -> Value {
    json!({
        "description": description,
        "type": "string",
        "pattern": DATE_PATTERN,
    })
}

/// A JSON Schema (draft-07) describing one pack file.
pub fn schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "beian rule pack file",
        "description": "One file of a beian rule pack (ICP备案 compliance rules). A pack is one YAML file or a directory of them; `tables/NAME.yaml` files hold table data and are not described by this schema. Check a pack with `beian check -r PATH`.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "pack": {
                "description": "The pack's name and version. At most one file of a pack has `pack`.",
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "version"],
                "properties": {
                    "name": text("The pack's name, e.g. `icp-beian-default`."),
                    "version": text("The pack's version, e.g. `1.0.0`."),
                    "description": text("What the pack checks, for people."),
                },
            },
            "schema": {
                "description": "The shape of a record. Fields from several files merge; a field declared twice with two types is an error. Input fields that are not declared are ignored.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "key": {
                        "description": "Dotted path of the scalar field that names a record in findings (`website.filing_no`). Without it, a record's key is its line number.",
                        "type": "string",
                    },
                    "fields": {
                        "description": "The record's fields: a nested mapping mirrors a nested object; `[type]` is a list of that type; a one-element list holding a mapping is a list of objects. Every field may be null.",
                        "$ref": "#/definitions/fields",
                    },
                },
            },
            "tables": {
                "description": "Named data that rules read as `tables.NAME`, `tables.NAME[\"k\"]` or `tables.NAME[expr].field`: a list, or a mapping whose values are scalars, lists or mappings. A name defined twice is an error. A file `tables/NAME.yaml` defines table NAME too.",
                "type": "object",
                "additionalProperties": {
                    "description": "A table's data: any YAML value. Types are inferred from the data.",
                },
            },
            "rules": {
                "description": "A list of rules. Rule ids are unique across the pack.",
                "type": ["array", "null"],
                "items": {"$ref": "#/definitions/rule"},
            },
        },
        "definitions": {
            "scalarType": {
                "description": "A scalar field type. Every field may be null.",
                "type": "string",
                "enum": ["bool", "int", "float", "string", "date", "datetime", "domain", "ip"],
            },
            "fieldType": {
                "description": "A field's type: a scalar type name, `[type]` for a list, or a mapping of fields for an object.",
                "anyOf": [
                    {"$ref": "#/definitions/scalarType"},
                    {
                        "description": "A list: exactly one element, the type of the elements (a scalar type or a mapping for a list of objects).",
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": {"$ref": "#/definitions/fieldType"},
                    },
                    {"$ref": "#/definitions/fields"},
                ],
            },
            "fields": {
                "description": "An object's fields: name → type. Names may be Chinese (`主办单位名称`).",
                "type": "object",
                "additionalProperties": {"$ref": "#/definitions/fieldType"},
            },
            "severity": {
                "description": "How serious a finding is: `info`, `warning`, `error` or `critical`. `scan --fail-on` compares with it; SARIF maps info → note, warning → warning, error and critical → error.",
                "type": "string",
                "enum": ["info", "warning", "error", "critical"],
            },
            "rule": {
                "description": "One rule: when `when` is true for a record (or a `for_each` element), a finding with `message` and `deadline`.",
                "type": "object",
                "additionalProperties": false,
                "required": ["id", "title", "category", "severity", "when", "message"],
                "properties": {
                    "id": {
                        "description": "The rule's id: upper-case words and digits joined by `-` (`DV-002`), unique across the pack.",
                        "type": "string",
                        "pattern": RULE_ID_PATTERN,
                    },
                    "title": text("A short title, shown by `beian rules` (`域名未完成实名认证`)."),
                    "category": text("The rule's category (`domain_verification`); `--select` and `--ignore` accept it."),
                    "severity": {"$ref": "#/definitions/severity"},
                    "enabled": {
                        "description": "Whether scans run the rule (default true). Its tests run either way.",
                        "type": "boolean",
                    },
                    "effective": {
                        "description": "The dates the rule is in effect, inclusive, compared with the scan's `as_of`. Outside them a scan skips the rule.",
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "from": date("First day the rule is in effect (`YYYY-MM-DD`)."),
                            "until": date("Last day the rule is in effect (`YYYY-MM-DD`)."),
                        },
                    },
                    "for_each": {
                        "description": "`NAME in LIST`: one evaluation per element of LIST, with NAME bound to it; a finding's `element` is the index. A null or empty list gives no evaluation.",
                        "type": "string",
                    },
                    "let": {
                        "description": "Named values computed in order before `applies_if` and `when`; each may use the ones before it.",
                        "type": "object",
                        "additionalProperties": expression("An expression; its value is bound to the key's name."),
                    },
                    "applies_if": expression("When false, the rule does not apply to the record (not counted); when null, no finding and counted as undetermined."),
                    "when": expression("The condition: true gives a finding, false a pass, null undetermined. Must be a bool."),
                    "message": {
                        "description": "The finding's message; `{expr}` is replaced by the expression's value, `{{` and `}}` are braces.",
                        "type": ["string", "number", "boolean"],
                    },
                    "deadline": {
                        "description": "An expression giving the rectification deadline: must be a date (`as_of + days(15)`, `add_workdays(audit.notice_date, 3)`).",
                        "type": "string",
                    },
                    "remedy": text("What to do about a finding, for people."),
                    "source": text("Where the rule comes from (a regulation, a manual section)."),
                    "tests": {
                        "description": "The rule's tests, run by `beian test` whether or not the rule is enabled.",
                        "type": "array",
                        "items": {"$ref": "#/definitions/test"},
                    },
                },
            },
            "test": {
                "description": "One test: a record, and the findings the rule must give for it.",
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "record", "expect"],
                "properties": {
                    "name": text("The test's name, shown when it fails (`FAIL RULE: name`)."),
                    "as_of": date("The reference date of the test (default 2026-01-01)."),
                    "record": {
                        "description": "The record, as in the input; a field that does not convert to its declared type fails the test.",
                        "type": "object",
                    },
                    "expect": {
                        "description": "The expected findings: a count, or a list of partial findings compared in order on the keys given.",
                        "anyOf": [
                            {
                                "description": "How many findings the rule gives for the record.",
                                "type": "integer",
                                "minimum": 0,
                            },
                            {
                                "description": "The findings, in order; each compared on the keys it gives.",
                                "type": "array",
                                "items": {"$ref": "#/definitions/expectedFinding"},
                            },
                        ],
                    },
                },
            },
            "expectedFinding": {
                "description": "A partial finding: only the keys given are compared.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "element": {
                        "description": "The `for_each` index of the finding (null without `for_each`).",
                        "type": ["integer", "null"],
                        "minimum": 0,
                    },
                    "message": text("The finding's message, exactly."),
                    "deadline": {
                        "description": "The deadline, `YYYY-MM-DD`, or null.",
                        "type": ["string", "null"],
                        "pattern": DATE_PATTERN,
                    },
                    "days_left": {
                        "description": "Deadline minus the test's `as_of`, in days (negative when overdue), or null.",
                        "type": ["integer", "null"],
                    },
                    "overdue": {
                        "description": "Whether `days_left` is below zero, or null.",
                        "type": ["boolean", "null"],
                    },
                },
            },
        },
    })
}

/// The keys of every object in the schema that lack a `description` (empty when all have one).
pub fn undocumented(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema, "#", &mut out);
    out
}

fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
    let Some(m) = v.as_object() else {
        return;
    };
    for section in ["properties", "definitions"] {
        if let Some(props) = m.get(section).and_then(Value::as_object) {
            for (k, p) in props {
                let here = format!("{path}/{section}/{k}");
                let documented = p.get("description").is_some()
                    || p.get("$ref").is_some_and(|r| {
                        // a `$ref` inherits the definition's description
                        r.as_str().is_some_and(|r| r.starts_with("#/definitions/"))
                    });
                if !documented {
                    out.push(here.clone());
                }
                walk(p, &here, out);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(x) = m.get(key) {
            walk(x, &format!("{path}/{key}"), out);
        }
    }
    if let Some(list) = m.get("anyOf").and_then(Value::as_array) {
        for (i, x) in list.iter().enumerate() {
            walk(x, &format!("{path}/anyOf/{i}"), out);
        }
    }
}
