// Applies a panel's transformations with Grafana's own code (@grafana/data 11.6, the package
// Grafana's frontend runs them with). Reads {frames, transformations} as JSON on stdin, where
// each frame is {name, refId, fields: [{name, type, values, config}]}; prints the frames that
// come out on one line: RESULT {"frames": [{name, fields: [{name, values}]}]}.
globalThis.window = globalThis; // @grafana/data reads window.grafanaBootData when it loads
const { standardTransformers, standardTransformersRegistry, transformDataFrame, toDataFrame } =
  require('@grafana/data');
const { firstValueFrom } = require('rxjs');

// What Grafana's app registers at start-up: every standard transformer, once per id (the
// legacy seriesToColumns shares joinByField's id).
standardTransformersRegistry.setInit(() =>
  [...new Map(Object.values(standardTransformers).map((t) => [t.id, t])).values()].map((t) => ({
    id: t.id,
    name: t.name,
    transformation: t,
    editor: () => null,
  }))
);

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const frames = input.frames.map((f) => toDataFrame(f));
firstValueFrom(transformDataFrame(input.transformations, frames, { interpolate: (s) => s }))
  .then((out) => {
    const result = out.map((f) => ({
      name: f.name,
      fields: f.fields.map((x) => ({ name: x.name, values: Array.from(x.values) })),
    }));
    console.log('RESULT ' + JSON.stringify({ frames: result }));
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
