//! The JSON schema of a value, as `Span.input_schema`/`output_schema` carry it.

use std::borrow::Cow;

use crate::value::Value;

/// `JsonSchemaType` values of `tusk.drift.core.v1` used by the schema of a value.
pub mod schema_type {
    /// A number.
    pub const NUMBER: i32 = 1;
    /// A string.
    pub const STRING: i32 = 2;
    /// `true`/`false`.
    pub const BOOLEAN: i32 = 3;
    /// `null`.
    pub const NULL: i32 = 4;
    /// An object.
    pub const OBJECT: i32 = 6;
    /// An array.
    pub const ORDERED_LIST: i32 = 7;
}

/// A typed `tusk.drift.core.v1.JsonSchema`, with `properties` sorted by key bytes so that its
/// protobuf bytes and its canonical JSON text are deterministic.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonSchema<'a> {
    /// `JsonSchemaType` (see [`schema_type`]); kept as `i32` because the published builder accepts
    /// any value here and writes it through.
    pub schema_type: i32,
    /// Schemas of an object's members, sorted by key bytes, unique.
    pub properties: Vec<(Cow<'a, str>, JsonSchema<'a>)>,
    /// Schema of the first element of a non-empty array.
    pub items: Option<Box<JsonSchema<'a>>>,
    /// `EncodingType` from a schema merge.
    pub encoding: Option<i32>,
    /// `DecodedType` from a schema merge.
    pub decoded_type: Option<i32>,
    /// Match importance from a schema merge (finite values only).
    pub match_importance: Option<f64>,
}

impl<'a> JsonSchema<'a> {
    /// A schema node of the given type with nothing else set.
    pub fn of_type(schema_type: i32) -> Self {
        JsonSchema {
            schema_type,
            ..JsonSchema::default()
        }
    }

    /// The canonical JSON text of the schema, as the published core hashes it:
    /// `{"decoded_type":..,"encoding":..,"items":..,"match_importance":..,"properties":{..},"type":..}`
    /// with absent options left out (`properties` is always written).
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out);
        crate::canonical::into_string(out)
    }

    /// Appends the canonical JSON text of the schema to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        if let Some(decoded_type) = self.decoded_type {
            out.extend_from_slice(b"\"decoded_type\":");
            out.extend_from_slice(itoa::Buffer::new().format(decoded_type).as_bytes());
            out.push(b',');
        }
        if let Some(encoding) = self.encoding {
            out.extend_from_slice(b"\"encoding\":");
            out.extend_from_slice(itoa::Buffer::new().format(encoding).as_bytes());
            out.push(b',');
        }
        if let Some(items) = &self.items {
            out.extend_from_slice(b"\"items\":");
            items.write_json(out);
            out.push(b',');
        }
        if let Some(importance) = self.match_importance.filter(|m| m.is_finite()) {
            out.extend_from_slice(b"\"match_importance\":");
            crate::number::write_f64(importance, out);
            out.push(b',');
        }
        out.extend_from_slice(b"\"properties\":{");
        for (i, (key, child)) in self.properties.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            crate::canonical::write_str(key, out);
            out.push(b':');
            child.write_json(out);
        }
        out.extend_from_slice(b"},\"type\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.schema_type).as_bytes());
        out.push(b'}');
    }

    /// SHA-256 (lowercase hex) of [`JsonSchema::to_json`].
    pub fn hash(&self) -> String {
        let mut out = Vec::with_capacity(128);
        self.write_json(&mut out);
        crate::hash::sha256_hex(&out)
    }

    /// Converts to the `tusk-drift-schemas` message (its `properties` is a `HashMap`, so encode
    /// ours with [`JsonSchema::encode_proto`] when the bytes must be deterministic).
    pub fn to_proto(&self) -> tusk_drift_schemas::tusk::drift::core::v1::JsonSchema {
        tusk_drift_schemas::tusk::drift::core::v1::JsonSchema {
            r#type: self.schema_type,
            properties: self
                .properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_proto()))
                .collect(),
            items: self.items.as_ref().map(|i| Box::new(i.to_proto())),
            encoding: self.encoding,
            decoded_type: self.decoded_type,
            match_importance: self.match_importance.filter(|m| m.is_finite()),
        }
    }

    /// Converts a `tusk-drift-schemas` message (properties get sorted).
    pub fn from_proto(
        proto: &tusk_drift_schemas::tusk::drift::core::v1::JsonSchema,
    ) -> JsonSchema<'static> {
        let mut properties: Vec<(Cow<'static, str>, JsonSchema<'static>)> = proto
            .properties
            .iter()
            .map(|(k, v)| (Cow::Owned(k.clone()), JsonSchema::from_proto(v)))
            .collect();
        properties.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        JsonSchema {
            schema_type: proto.r#type,
            properties,
            items: proto
                .items
                .as_ref()
                .map(|i| Box::new(JsonSchema::from_proto(i))),
            encoding: proto.encoding,
            decoded_type: proto.decoded_type,
            match_importance: proto.match_importance,
        }
    }

    /// Encoded length of the message (what [`JsonSchema::encode_proto`] writes).
    pub fn encoded_len(&self) -> usize {
        use prost::encoding::encoded_len_varint as vl;
        let mut len = 0;
        if self.schema_type != 0 {
            len += 1 + vl(self.schema_type as i64 as u64);
        }
        for (key, child) in &self.properties {
            let entry = crate::pb_struct::key_field_len(key) + child.entry_value_len();
            len += 1 + vl(entry as u64) + entry;
        }
        if let Some(items) = &self.items {
            let l = items.encoded_len();
            len += 1 + vl(l as u64) + l;
        }
        if let Some(e) = self.encoding {
            len += 1 + vl(e as i64 as u64);
        }
        if let Some(d) = self.decoded_type {
            len += 1 + vl(d as i64 as u64);
        }
        if self.match_importance.is_some_and(f64::is_finite) {
            len += 9;
        }
        len
    }

    /// `true` when the message equals the default one (encodes to nothing).
    fn is_empty_message(&self) -> bool {
        self.encoded_len() == 0
    }

    /// Bytes this schema takes as the value of a `properties` map entry (nothing when default).
    fn entry_value_len(&self) -> usize {
        let len = self.encoded_len();
        if len == 0 {
            0
        } else {
            1 + prost::encoding::encoded_len_varint(len as u64) + len
        }
    }

    /// Appends the protobuf message content (no length prefix), `properties` in key order:
    /// field for field what prost writes, so it decodes to the same message.
    pub fn encode_proto(&self, out: &mut Vec<u8>) {
        use prost::encoding::encode_varint;
        if self.schema_type != 0 {
            out.push(0x08);
            encode_varint(self.schema_type as i64 as u64, out);
        }
        for (key, child) in &self.properties {
            let entry = crate::pb_struct::key_field_len(key) + child.entry_value_len();
            out.push(0x12);
            encode_varint(entry as u64, out);
            crate::pb_struct::write_key_field(key, out);
            // prost leaves a default (empty) value out of a map entry.
            if !child.is_empty_message() {
                out.push(0x12);
                encode_varint(child.encoded_len() as u64, out);
                child.encode_proto(out);
            }
        }
        if let Some(items) = &self.items {
            out.push(0x1a);
            encode_varint(items.encoded_len() as u64, out);
            items.encode_proto(out);
        }
        if let Some(e) = self.encoding {
            out.push(0x20);
            encode_varint(e as i64 as u64, out);
        }
        if let Some(d) = self.decoded_type {
            out.push(0x28);
            encode_varint(d as i64 as u64, out);
        }
        if let Some(m) = self.match_importance.filter(|m| m.is_finite()) {
            out.push(0x31);
            out.extend_from_slice(&m.to_le_bytes());
        }
    }

    /// Reads a schema given as a JSON value (as the bindings receive `input_schema`), with the
    /// published Python binding's leniency: a missing or non-integer `type` is 0, `properties`
    /// that is not an object is empty, `items` present (even `null`) gives an item schema,
    /// `encoding`/`decoded_type` must be integers, a non-finite `match_importance` is dropped, and
    /// a non-object is the empty schema. Integers outside `i32` (and booleans) are ignored like
    /// any other non-integer, as the published binding does.
    pub fn from_value(value: &Value<'a>) -> JsonSchema<'a> {
        let Some(object) = value.as_object() else {
            return JsonSchema::default();
        };
        let int = |key: &str| -> Option<i32> {
            match object.get(key)? {
                Value::Int(i) => i32::try_from(*i).ok(),
                Value::UInt(u) => i32::try_from(*u).ok(),
                _ => None,
            }
        };
        let properties = match object.get("properties") {
            Some(Value::Object(props)) => props
                .members()
                .iter()
                .map(|(k, v)| (k.clone(), JsonSchema::from_value(v)))
                .collect(),
            _ => Vec::new(),
        };
        JsonSchema {
            schema_type: int("type").unwrap_or(0),
            properties,
            items: object
                .get("items")
                .map(|i| Box::new(JsonSchema::from_value(i))),
            encoding: int("encoding"),
            decoded_type: int("decoded_type"),
            match_importance: object
                .get("match_importance")
                .and_then(Value::as_f64)
                .filter(|m| m.is_finite()),
        }
    }

    /// Detaches the schema from the text its keys borrow from.
    pub fn into_owned(self) -> JsonSchema<'static> {
        JsonSchema {
            schema_type: self.schema_type,
            properties: self
                .properties
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
            items: self.items.map(|i| Box::new(i.into_owned())),
            encoding: self.encoding,
            decoded_type: self.decoded_type,
            match_importance: self.match_importance,
        }
    }
}
