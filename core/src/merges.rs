//! Schema merges: per top-level key, how the SDK says the value is encoded.

use crate::CoreError;

/// The merge rule of one top-level key (`{encoding?, decoded_type?, match_importance?}`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SchemaMerge {
    /// `EncodingType`; `1` (BASE64) makes the core decode a string value.
    pub encoding: Option<i32>,
    /// `DecodedType`; `1` (JSON) makes the core parse the (decoded) string.
    pub decoded_type: Option<i32>,
    /// Copied to the key's schema when finite.
    pub match_importance: Option<f64>,
}

/// Merge rules by top-level key, sorted by key bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaMerges {
    rules: Vec<(String, SchemaMerge)>,
}

impl SchemaMerges {
    /// No merge rules.
    pub const fn new() -> Self {
        SchemaMerges { rules: Vec::new() }
    }

    /// Builds the rules from `(key, rule)` pairs; of duplicate keys the last one wins.
    pub fn from_rules(rules: impl IntoIterator<Item = (String, SchemaMerge)>) -> Self {
        let mut rules: Vec<(String, SchemaMerge)> = rules.into_iter().collect();
        rules.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Stable sort: keep the last rule of each run of equal keys.
        let mut kept: Vec<(String, SchemaMerge)> = Vec::with_capacity(rules.len());
        for rule in rules {
            match kept.last_mut() {
                Some(last) if last.0 == rule.0 => *last = rule,
                _ => kept.push(rule),
            }
        }
        SchemaMerges { rules: kept }
    }

    /// The rule of a top-level key.
    pub fn get(&self, key: &str) -> Option<&SchemaMerge> {
        self.rules
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
            .ok()
            .map(|i| &self.rules[i].1)
    }

    /// `true` when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, sorted by key.
    pub fn rules(&self) -> &[(String, SchemaMerge)] {
        &self.rules
    }
}

/// The published core deserializes merges with serde into a map of `MergeRule`; the name
/// `MergeRule` and the field types appear in its error messages (`expected struct MergeRule`,
/// `expected i32`), so the same derive is used here.
///
/// Every field is `#[serde(default)]` there, which matters for a rule written as a JSON array:
/// serde's derive reads a struct from a sequence positionally, and a field marked `default` that
/// the sequence lacks gets its default instead of an `invalid length` error. So `[]`, `[1]` and
/// `[1, 1]` are rules (`[1, 1]` is `encoding: 1, decoded_type: 1`), `[1, 1, 0.5, 9]` is
/// `trailing characters` (serde_json's end of sequence), and `null` elements are `None`
/// (goldens: `process_export_payload.jsonl`, the merge-shape cases).
#[derive(serde::Deserialize)]
struct MergeRule {
    #[serde(default)]
    encoding: Option<i32>,
    #[serde(default)]
    decoded_type: Option<i32>,
    #[serde(default)]
    match_importance: Option<f64>,
}

/// Parses `schema_merges_json` (`{"key": {"encoding"?, "decoded_type"?, "match_importance"?}}`).
///
/// Errors: [`CoreError::InvalidJson`] with the published messages, e.g. `invalid type: null,
/// expected struct MergeRule at line 1 column 9`.
pub fn parse_schema_merges(json: &str) -> Result<SchemaMerges, CoreError> {
    let map: std::collections::HashMap<String, MergeRule> =
        serde_json::from_str(json).map_err(|e| crate::parse::from_serde_error(&e))?;
    Ok(SchemaMerges::from_rules(map.into_iter().map(|(k, r)| {
        (
            k,
            SchemaMerge {
                encoding: r.encoding,
                decoded_type: r.decoded_type,
                match_importance: r.match_importance,
            },
        )
    })))
}
