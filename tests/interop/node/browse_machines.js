// A client that knows only OPC 40001-1: find every machine in the standard Machines folder and
// report, per machine, the type definitions of its AddIns and its MachineryItemState /
// MachineryOperationMode (CurrentState, CurrentState/Id and the Id's browse name and
// StateNumber). Written with node-opcua, an OPC UA stack the twin does not use.
// Usage: node browse_machines.js opc.tcp://HOST:PORT/PATH  -> "RESULT {json}" on stdout (node-opcua logs there too)
"use strict";
const {
  OPCUAClient,
  MessageSecurityMode,
  SecurityPolicy,
  NodeId,
  BrowseDirection,
  NodeClassMask,
  AttributeIds,
  makeBrowsePath,
} = require("node-opcua-client");

const MACHINERY_URI = "http://opcfoundation.org/UA/Machinery/";
const DI_URI = "http://opcfoundation.org/UA/DI/";
const HIERARCHICAL = "i=33";
const HAS_TYPE_DEFINITION = "i=40";

function expanded(nodeId, namespaces) {
  // a NodeId with its namespace URI, so that the test needs no namespace indices
  const id = NodeId.resolveNodeId(nodeId);
  const kind = { 1: "i", 2: "s", 3: "g", 4: "b" }[id.identifierType] || "i";
  return `nsu=${namespaces[id.namespace]};${kind}=${id.value}`;
}

async function browse(session, nodeId, referenceTypeId, nodeClassMask) {
  const result = await session.browse({
    nodeId,
    referenceTypeId,
    includeSubtypes: true,
    browseDirection: BrowseDirection.Forward,
    nodeClassMask: nodeClassMask || 0,
    resultMask: 63,
  });
  if (result.statusCode.value !== 0) throw new Error(`browse ${nodeId}: ${result.statusCode}`);
  return result.references || [];
}

async function typeDefinition(session, nodeId, namespaces) {
  const refs = await browse(session, nodeId, HAS_TYPE_DEFINITION);
  return refs.length ? expanded(refs[0].nodeId, namespaces) : null;
}

async function readValue(session, nodeId) {
  const dv = await session.read({ nodeId, attributeId: AttributeIds.Value });
  return dv.value.value;
}

async function stateMachine(session, machine, m, name, namespaces) {
  const paths = ["CurrentState", "CurrentState.Id", "CurrentState.Number"].map((p) =>
    makeBrowsePath(machine, `/${m}:${name}/` + p.split(".").map((x) => `0:${x}`).join("/")),
  );
  const found = await session.translateBrowsePath(paths);
  const ids = found.map((r) => (r.targets && r.targets.length ? r.targets[0].targetId : null));
  if (!ids[0] || !ids[1]) return null;
  const text = await readValue(session, ids[0]);
  const stateId = await readValue(session, ids[1]);
  const number = ids[2] ? await readValue(session, ids[2]) : null;
  const names = await session.read({ nodeId: stateId, attributeId: AttributeIds.BrowseName });
  const numberPath = makeBrowsePath(stateId, "/0:StateNumber");
  const [numberRef] = await session.translateBrowsePath([numberPath]);
  const stateNumber = numberRef.targets && numberRef.targets.length
    ? await readValue(session, numberRef.targets[0].targetId)
    : null;
  return {
    current: text ? text.text : null,
    id: expanded(stateId, namespaces),
    id_browse_name: names.value.value.name,
    id_state_number: stateNumber,
    number,
  };
}

async function main() {
  const endpoint = process.argv[2];
  const client = OPCUAClient.create({
    applicationName: "node-opcua machinery browser",
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(endpoint);
  const session = await client.createSession();
  try {
    const namespaces = await readValue(session, "i=2255");
    const m = namespaces.indexOf(MACHINERY_URI);
    const di = namespaces.indexOf(DI_URI);
    if (m < 0) throw new Error("no Machinery namespace");
    const machinesId = `ns=${m};i=1001`;
    const machines = [];
    for (const ref of await browse(session, machinesId, "i=35", NodeClassMask.Object)) {
      const children = {};
      for (const child of await browse(session, ref.nodeId, HIERARCHICAL, NodeClassMask.Object)) {
        const key = `${namespaces[child.browseName.namespaceIndex]}:${child.browseName.name}`;
        children[key] = await typeDefinition(session, child.nodeId, namespaces);
      }
      const manufacturerPath = makeBrowsePath(ref.nodeId, `/${di}:Identification/${di}:Manufacturer`);
      const [man] = await session.translateBrowsePath([manufacturerPath]);
      const manufacturer = man.targets && man.targets.length
        ? (await readValue(session, man.targets[0].targetId)).text
        : null;
      machines.push({
        browse_name: ref.browseName.name,
        node_id: expanded(ref.nodeId, namespaces),
        type_definition: await typeDefinition(session, ref.nodeId, namespaces),
        children,
        manufacturer,
        item_state: await stateMachine(session, ref.nodeId, m, "MachineryItemState", namespaces),
        operation_mode: await stateMachine(
          session, ref.nodeId, m, "MachineryOperationMode", namespaces,
        ),
      });
    }
    const folderType = await typeDefinition(session, machinesId, namespaces);
    process.stdout.write("RESULT " + JSON.stringify({ machines_type: folderType, machines }) + "\n");
  } finally {
    await session.close();
    await client.disconnect();
  }
}

main().catch((err) => {
  process.stderr.write(`browse_machines: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
