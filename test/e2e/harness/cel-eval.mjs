// Evaluates ValidatingAdmissionPolicy CEL for admission.ts, in a process of its own: the evaluator
// (@marcbachmann/cel-js) is an ES module, which Jest's CommonJS runtime cannot load. Reads one JSON
// batch on stdin, writes one JSON answer on stdout, exits.
//
// In:  { jobs: [{ matchConditions: [{name, expression}], variables: [{name, expression}],
//                 validations: [{expression, messageExpression?}], context: {object, oldObject, request, params, namespaceObject} }] }
// Out: { results: [{ skipped?: string, error?: string, validations: [{ ok, message?, error? }] }] }
import { evaluate } from '@marcbachmann/cel-js';

/** JSON numbers without a fraction become CEL ints, as an object's integer fields are under Kubernetes. */
function toCel(v) {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

function errText(e) {
  return String(e && e.message ? e.message : e).split('\n')[0];
}

function runJob(job) {
  const ctx = toCel(job.context);
  // Variables, in order, each seeing those before it (Kubernetes evaluates them lazily; an error in
  // one only matters to the expressions that use it, so a failed one is left out).
  const variables = {};
  ctx.variables = variables;
  for (const c of job.matchConditions ?? []) {
    let r;
    try {
      r = evaluate(c.expression, ctx);
    } catch (e) {
      return { error: `matchCondition '${c.name}' expression '${c.expression}' resulted in error: ${errText(e)}`, validations: [] };
    }
    if (typeof r !== 'boolean') return { error: `matchCondition '${c.name}' must evaluate to bool, got ${typeof r}`, validations: [] };
    if (!r) return { skipped: `matchCondition '${c.name}' is false`, validations: [] };
  }
  for (const v of job.variables ?? []) {
    try {
      variables[v.name] = evaluate(v.expression, ctx);
    } catch {
      /* left undefined: an expression using it errs */
    }
  }
  const validations = (job.validations ?? []).map((val) => {
    let r;
    try {
      r = evaluate(val.expression, ctx);
    } catch (e) {
      return { ok: false, error: `expression '${val.expression}' resulted in error: ${errText(e)}` };
    }
    if (typeof r !== 'boolean') return { ok: false, error: `expression '${val.expression}' must evaluate to bool` };
    if (r) return { ok: true };
    let message;
    if (val.messageExpression) {
      try {
        const m = evaluate(val.messageExpression, ctx);
        if (typeof m === 'string' && m.trim() !== '' && !m.includes('\n')) message = m;
      } catch {
        /* falls back to message, as the API server does */
      }
    }
    return { ok: false, message };
  });
  return { validations };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const { jobs } = JSON.parse(input);
  const results = jobs.map((job) => {
    try {
      return runJob(job);
    } catch (e) {
      return { error: errText(e), validations: [] };
    }
  });
  process.stdout.write(JSON.stringify({ results }));
});
