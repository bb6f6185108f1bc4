// Encode Sparkplug B payloads with Eclipse Tahu's JavaScript encoder (npm sparkplug-payload), an
// implementation the twin does not use: the messages of a foreign edge node in the tests.
// Usage: node encode_sparkplug.js messages.json  (a list of {topic, payload: {timestamp, seq,
//        metrics: [{name, alias, type, value, timestamp}]}} as sparkplug-payload takes it)
//        -> "RESULT [{topic, payload: base64}]"
"use strict";
const fs = require("fs");
const { encodePayload } = require("sparkplug-payload").get("spBv1.0");

const messages = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = messages.map(({ topic, payload }) => ({
  topic,
  payload: Buffer.from(encodePayload(payload)).toString("base64"),
}));
console.log("RESULT " + JSON.stringify(out));
