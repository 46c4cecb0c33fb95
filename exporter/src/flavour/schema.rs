//! The schema the Node SDK's `JsonSchemaHelper.generateSchema` builds, as a typed node rather
//! than a JavaScript object per level.
//!
//! The SDK's node is `{type, properties}` (`{type, items, properties}` for a non-empty array),
//! and a top-level member named in the merges becomes `{...generated, ...merge}`. A typed node
//! holds the generated part and the merge's members, and writes the three forms the span needs
//! straight from it: `JSON.stringify` (the file line), `JSON.stringify` of the sorted copy (the
//! schema hash) and the `JsonSchema` message (the protobuf), each exactly as the SDK would from
//! the JavaScript object. Building an object per level, then converting it again for the
//! protobuf, cost a fifth of the Node flavour's time.

use std::borrow::Cow;

use drift_core_rs::JsonSchema;

use super::js::{self, JsObject, JsValue, Text};

/// `JsonSchemaType` values.
pub(crate) mod schema_type {
    pub const NUMBER: f64 = 1.0;
    pub const STRING: f64 = 2.0;
    pub const BOOLEAN: f64 = 3.0;
    pub const NULL: f64 = 4.0;
    pub const OBJECT: f64 = 6.0;
    pub const ORDERED_LIST: f64 = 7.0;
}

/// One node of a generated schema.
#[derive(Debug)]
pub(crate) struct Schema<'t> {
    schema_type: f64,
    /// The members' schemas in the object's property order (array-index keys first).
    properties: Vec<(Text<'t>, Schema<'t>)>,
    /// How many leading `properties` have array-index keys.
    index_keys: usize,
    /// The first element's schema, for an array that has one.
    items: Option<Box<Schema<'t>>>,
    /// `{...merge}` spread over the generated members (top-level members with a merge only).
    merge: Option<JsObject<'t>>,
}

/// A member of a node as the SDK's object has it: a generated one, or one of the merge's.
#[derive(Clone, Copy)]
enum Member<'s, 't> {
    Type,
    Items,
    Properties,
    Js(&'s JsValue<'t>),
}

impl<'t> Schema<'t> {
    fn leaf(schema_type: f64) -> Self {
        Schema {
            schema_type,
            properties: Vec::new(),
            index_keys: 0,
            items: None,
            merge: None,
        }
    }

    /// `generateSchema(data, schemaMerges)`; merges apply to the top level only.
    pub(crate) fn generate(data: &JsValue<'t>, merges: Option<&JsValue<'t>>) -> Self {
        match data {
            JsValue::Null => Schema::leaf(schema_type::NULL),
            JsValue::Bool(_) => Schema::leaf(schema_type::BOOLEAN),
            JsValue::Number(_) => Schema::leaf(schema_type::NUMBER),
            JsValue::String(_) => Schema::leaf(schema_type::STRING),
            JsValue::Array(items) => Schema {
                items: items
                    .first()
                    .map(|first| Box::new(Schema::generate(first, None))),
                ..Schema::leaf(schema_type::ORDERED_LIST)
            },
            JsValue::Object(object) => {
                let merges = merges.and_then(JsValue::as_object);
                let properties = object
                    .members()
                    .iter()
                    .map(|(key, member)| {
                        let mut schema = Schema::generate(member, None);
                        schema.merge = merges
                            .and_then(|merges| merges.get(key))
                            .filter(|merge| merge.truthy())
                            .map(JsValue::spread);
                        (key.clone(), schema)
                    })
                    .collect();
                Schema {
                    properties,
                    index_keys: object.index_keys(),
                    ..Schema::leaf(schema_type::OBJECT)
                }
            }
        }
    }

    /// The members of a merged node in property order (`{...generated, ...merge}`: a merge
    /// member replaces a generated one in place, array-index keys go first), and how many
    /// leading members have array-index keys.
    fn merged_members<'s>(
        &'s self,
        merge: &'s JsObject<'t>,
    ) -> (Vec<(&'s str, Member<'s, 't>)>, usize) {
        let mut members = vec![("type", Member::Type)];
        if self.items.is_some() {
            members.push(("items", Member::Items));
        }
        members.push(("properties", Member::Properties));
        let mut index_keys = 0;
        for (key, value) in merge.members() {
            if let Some(slot) = members.iter_mut().find(|(name, _)| *name == &**key) {
                slot.1 = Member::Js(value);
                continue;
            }
            match js::array_index(key) {
                Some(index) => {
                    let at = members[..index_keys].partition_point(|(name, _)| {
                        js::array_index(name).is_some_and(|other| other < index)
                    });
                    members.insert(at, (key, Member::Js(value)));
                    index_keys += 1;
                }
                None => members.push((key, Member::Js(value))),
            }
        }
        (members, index_keys)
    }

    fn write_member(&self, member: Member<'_, 't>, sorted: bool, out: &mut String) {
        match member {
            Member::Type => js::write_number(self.schema_type, out),
            Member::Items => {
                if let Some(items) = &self.items {
                    items.write_to(sorted, out);
                }
            }
            Member::Properties => self.write_properties(sorted, out),
            Member::Js(value) if sorted => js::stringify_sorted(value, out),
            Member::Js(value) => js::stringify(value, out),
        }
    }

    fn write_properties(&self, sorted: bool, out: &mut String) {
        out.push('{');
        let mut write = |i: usize, (key, schema): &(Text<'t>, Schema<'t>)| {
            if i > 0 {
                out.push(',');
            }
            js::write_string(key, out);
            out.push(':');
            schema.write_to(sorted, out);
        };
        if sorted {
            // Array-index keys are already first, in numeric order: only the rest is sorted,
            // through an order on the stack for the usual small object (no allocation per node).
            let (index, rest) = self.properties.split_at(self.index_keys);
            for (i, member) in index.iter().enumerate() {
                write(i, member);
            }
            const STACK: usize = 32;
            let mut on_stack = [0u32; STACK];
            let mut on_heap = Vec::new();
            let order = if rest.len() <= STACK {
                &mut on_stack[..rest.len()]
            } else {
                on_heap.resize(rest.len(), 0);
                &mut on_heap[..]
            };
            for (i, position) in order.iter_mut().enumerate() {
                *position = i as u32;
            }
            order.sort_unstable_by(|a, b| {
                js::utf16_order(&rest[*a as usize].0, &rest[*b as usize].0)
            });
            for (i, position) in order.iter().enumerate() {
                write(index.len() + i, &rest[*position as usize]);
            }
        } else {
            for (i, member) in self.properties.iter().enumerate() {
                write(i, member);
            }
        }
        out.push('}');
    }

    /// `JSON.stringify(node)`, or with `sorted` `JSON.stringify(sortObjectKeysRecursively(node))`.
    fn write_to(&self, sorted: bool, out: &mut String) {
        let Some(merge) = &self.merge else {
            // The generated keys: `type`, `items`, `properties` in property order, and
            // `items` < `properties` < `type` sorted.
            if sorted {
                out.push('{');
                if self.items.is_some() {
                    out.push_str("\"items\":");
                    self.write_member(Member::Items, true, out);
                    out.push(',');
                }
                out.push_str("\"properties\":");
                self.write_properties(true, out);
                out.push_str(",\"type\":");
                js::write_number(self.schema_type, out);
                out.push('}');
            } else {
                out.push_str("{\"type\":");
                js::write_number(self.schema_type, out);
                if self.items.is_some() {
                    out.push_str(",\"items\":");
                    self.write_member(Member::Items, false, out);
                }
                out.push_str(",\"properties\":");
                self.write_properties(false, out);
                out.push('}');
            }
            return;
        };
        let (mut members, index_keys) = self.merged_members(merge);
        if sorted {
            members[index_keys..].sort_unstable_by(|a, b| js::utf16_order(a.0, b.0));
        }
        out.push('{');
        for (i, (key, member)) in members.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            js::write_string(key, out);
            out.push(':');
            self.write_member(member, sorted, out);
        }
        out.push('}');
    }

    /// `JSON.stringify(node)` (the file line).
    pub(crate) fn write(&self, out: &mut String) {
        self.write_to(false, out);
    }

    /// `JSON.stringify(sortObjectKeysRecursively(node))` (what the schema hash hashes).
    pub(crate) fn write_sorted(&self, out: &mut String) {
        self.write_to(true, out);
    }

    #[cfg(test)]
    pub(crate) fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// The `JsonSchema` message protobuf-ts writes from the node: known fields only, enums and
    /// doubles when they are numbers; a merge member replaces the generated one.
    pub(crate) fn to_core(&self) -> JsonSchema<'_> {
        let Some(merge) = &self.merge else {
            return JsonSchema {
                schema_type: self.schema_type as i32,
                properties: self.core_properties(),
                items: self.items.as_ref().map(|items| Box::new(items.to_core())),
                ..JsonSchema::default()
            };
        };
        let int = |name: &str| {
            merge
                .get(name)
                .and_then(JsValue::as_number)
                .map(|n| n as i32)
        };
        JsonSchema {
            schema_type: match merge.get("type") {
                Some(_) => int("type").unwrap_or(0),
                None => self.schema_type as i32,
            },
            properties: match merge.get("properties") {
                Some(properties) => js_core_properties(properties),
                None => self.core_properties(),
            },
            items: match merge.get("items") {
                Some(items) => items
                    .as_object()
                    .is_some()
                    .then(|| Box::new(js_to_core(items))),
                None => self.items.as_ref().map(|items| Box::new(items.to_core())),
            },
            encoding: int("encoding"),
            decoded_type: int("decodedType"),
            match_importance: merge.get("matchImportance").and_then(JsValue::as_number),
        }
    }

    /// The `properties` map entries, in the byte order the message is written in.
    fn core_properties(&self) -> Vec<(Cow<'_, str>, JsonSchema<'_>)> {
        let mut properties: Vec<_> = self
            .properties
            .iter()
            .map(|(key, schema)| (Cow::Borrowed(&**key), schema.to_core()))
            .collect();
        properties.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        properties
    }
}

/// `properties` given by a merge as a JavaScript value (an object's members; else none).
fn js_core_properties<'b>(value: &'b JsValue<'_>) -> Vec<(Cow<'b, str>, JsonSchema<'b>)> {
    let mut properties: Vec<_> = value
        .as_object()
        .map(|object| {
            object
                .members()
                .iter()
                .map(|(key, value)| (Cow::Borrowed(&**key), js_to_core(value)))
                .collect()
        })
        .unwrap_or_default();
    properties.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    properties
}

/// A schema given by a merge as a JavaScript value, as protobuf-ts writes it.
fn js_to_core<'b>(schema: &'b JsValue<'_>) -> JsonSchema<'b> {
    let Some(object) = schema.as_object() else {
        return JsonSchema::default();
    };
    let int = |name: &str| {
        object
            .get(name)
            .and_then(JsValue::as_number)
            .map(|n| n as i32)
    };
    JsonSchema {
        schema_type: int("type").unwrap_or(0),
        properties: object
            .get("properties")
            .map(js_core_properties)
            .unwrap_or_default(),
        items: object
            .get("items")
            .filter(|items| items.as_object().is_some())
            .map(|items| Box::new(js_to_core(items))),
        encoding: int("encoding"),
        decoded_type: int("decodedType"),
        match_importance: object.get("matchImportance").and_then(JsValue::as_number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merges that replace generated members, add array-index keys and other members: the node
    /// is written as the SDK's `{...generated, ...merge}` object would be.
    #[test]
    fn merged_nodes_follow_javascript_spread() {
        let data = js::parse(r#"{"b":[1],"a":"x","3":{}}"#).unwrap();
        let merges = js::parse(
            r#"{"a":{"type":9,"10":1,"matchImportance":0.5,"z":null},"b":{"items":{"type":4},"properties":5}}"#,
        )
        .unwrap();
        let schema = Schema::generate(&data, Some(&merges));
        assert_eq!(
            schema.to_json(),
            r#"{"type":6,"properties":{"3":{"type":6,"properties":{}},"b":{"type":7,"items":{"type":4},"properties":5},"a":{"10":1,"type":9,"properties":{},"matchImportance":0.5,"z":null}}}"#
        );
        let mut sorted = String::new();
        schema.write_sorted(&mut sorted);
        assert_eq!(
            sorted,
            r#"{"properties":{"3":{"properties":{},"type":6},"a":{"10":1,"matchImportance":0.5,"properties":{},"type":9,"z":null},"b":{"items":{"type":4},"properties":5,"type":7}},"type":6}"#
        );
        let core = schema.to_core();
        let names: Vec<&str> = core.properties.iter().map(|(key, _)| &**key).collect();
        assert_eq!(names, ["3", "a", "b"]);
        let a = &core.properties[1].1;
        assert_eq!((a.schema_type, a.match_importance), (9, Some(0.5)));
        let b = &core.properties[2].1;
        assert_eq!(b.schema_type, 7);
        assert_eq!(b.items.as_ref().map(|items| items.schema_type), Some(4));
        assert!(b.properties.is_empty());
    }
}
