// Validates Kubernetes objects against the OpenAPI schemas of one kubernetes-models release, in a
// Node process of its own (kubernetes-models 5 is ES modules only, which Jest's CommonJS cannot load).
//   node validate-k8s.mjs <package: kubernetes-models or an alias of it>  < objects.json
// Prints a JSON array with one entry per object: its kind and name, and the schema's complaint or null.
import { readFileSync } from 'fs';

const pkg = process.argv[2];
const objects = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const o of objects) {
  const module = await import(`${pkg}/${o.apiVersion}`);
  const Model = module[o.kind];
  let error = null;
  if (typeof Model !== 'function') error = `${pkg} has no model of ${o.apiVersion} ${o.kind}`;
  else {
    try {
      new Model(o).validate();
    } catch (e) {
      error = String(e.message ?? e);
    }
  }
  results.push({ kind: o.kind, name: o.metadata?.name, error });
}
process.stdout.write(JSON.stringify(results));
