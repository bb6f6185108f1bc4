// Decode captured Sparkplug B messages with Eclipse Tahu's JavaScript decoder (npm
// sparkplug-payload), a Sparkplug implementation the twin does not use.
// Usage: node decode_sparkplug.js messages.json  (a list of {topic, payload: base64})
//        -> "RESULT [{topic, payload: {timestamp, seq, metrics: [{name, alias, type, value,
//            raw_field, raw_value, properties: {engUnit: {type, value}} or null}]}}]"
"use strict";
const fs = require("fs");
const { decodePayload } = require("sparkplug-payload").get("spBv1.0");
const proto = require("sparkplug-payload/lib/sparkplugPayloadProto");

const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;
const VALUE_FIELDS = [
  "intValue", "longValue", "floatValue", "doubleValue", "booleanValue", "stringValue", "bytesValue",
];

function rawValue(metric) {
  // the value field that is set: a DATA metric has no datatype, so decodePayload gives null and
  // a host reads the field by the datatype it learned from the birth (as a Tahu host does)
  for (const name of VALUE_FIELDS) {
    if (metric[name] !== undefined && metric[name] !== null) return { field: name, value: metric[name] };
  }
  return { field: null, value: null };
}

function plain(value) {
  // Long (64-bit) values as decimal strings; everything else as JSON has it
  if (value && typeof value === "object" && "low" in value && "high" in value) {
    return value.toString();
  }
  return value;
}

const messages = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = messages.map(({ topic, payload }) => {
  const bytes = Buffer.from(payload, "base64");
  const decoded = decodePayload(bytes);
  const raw = RawPayload.toObject(RawPayload.decode(bytes), { oneofs: true });
  return {
    topic,
    payload: {
      timestamp: plain(decoded.timestamp),
      seq: decoded.seq === undefined || decoded.seq === null ? null : plain(decoded.seq),
      metrics: (decoded.metrics || []).map((m, i) => {
        const { field, value } = rawValue(raw.metrics[i]);
        return {
          name: m.name === undefined ? null : m.name,
          alias: m.alias === undefined || m.alias === null ? null : plain(m.alias),
          type: m.type === undefined ? null : m.type,
          value: plain(m.value),
          raw_field: field,
          raw_value: plain(value),
          properties: m.properties
            ? Object.fromEntries(
                Object.entries(m.properties).map(([k, v]) => [k, { type: v.type, value: plain(v.value) }]),
              )
            : null,
        };
      }),
    },
  };
});
process.stdout.write("RESULT " + JSON.stringify(out) + "\n");
