/**
 * ValidatingAdmissionPolicy (admissionregistration.k8s.io) as the API server runs it, for
 * Cluster.reconcile(): every CREATE / UPDATE / DELETE is matched against the bindings held now
 * (policy matchConstraints, then the binding's matchResources: resourceRules, excludeResourceRules,
 * objectSelector; namespaceSelector matches every namespace), and the policy's matchConditions,
 * variables and validations are evaluated by a real CEL implementation (cel-eval.mjs). A binding
 * whose validationActions contain 'Deny' refuses a request that fails a validation, or whose
 * evaluation errs with failurePolicy Fail (the default).
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { K8sObject, labelSelectorMatches, nameOf, nsOf } from './manifest';
import { TimeoutError, errText } from './util';

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE';

export interface AdmissionRequest {
  operation: AdmissionOperation;
  /** The object after the operation (null on DELETE). */
  object: K8sObject | null;
  /** The object before it (null on CREATE). */
  oldObject: K8sObject | null;
}

export interface AdmissionVerdict {
  /** The API server's refusal for each denied request, e.g. `deployments.apps "x" is forbidden: ...`. */
  denied: string[];
  /** What bindings with 'Warn' (or 'Audit') would have reported. */
  warnings: string[];
}

const CEL_TIMEOUT_MS = 15_000;
const ADMISSION_GROUP = 'admissionregistration.k8s.io';

/** Plural resource names the harness meets; others follow English plural rules, as the API's do. */
const RESOURCES: Record<string, string> = {
  Endpoints: 'endpoints',
  Ingress: 'ingresses',
  NetworkPolicy: 'networkpolicies',
  PodDisruptionBudget: 'poddisruptionbudgets',
};

const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'PriorityClass', 'ClusterRole', 'ClusterRoleBinding',
  'CustomResourceDefinition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
  'MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration',
]);

export function resourceOf(kind: string): string {
  const known = RESOURCES[kind];
  if (known) return known;
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(k)) return `${k}es`;
  return `${k}s`;
}

export function groupVersionOf(o: K8sObject): { group: string; version: string } {
  const av = String(o.apiVersion ?? 'v1');
  const i = av.indexOf('/');
  return i < 0 ? { group: '', version: av } : { group: av.slice(0, i), version: av.slice(i + 1) };
}

/** The object a request is about (object, or oldObject on DELETE). */
function subject(r: AdmissionRequest): K8sObject {
  return (r.object ?? r.oldObject) as K8sObject;
}

/** What a request looks like to matching and to CEL (`request`). */
function requestOf(r: AdmissionRequest): K8sObject {
  const o = subject(r);
  const { group, version } = groupVersionOf(o);
  const namespaced = !CLUSTER_SCOPED.has(o.kind);
  const kind = { group, version, kind: o.kind };
  const resource = { group, version, resource: resourceOf(o.kind) };
  return {
    uid: `e2e-${Date.now().toString(36)}`,
    kind,
    resource,
    subResource: '',
    requestKind: kind,
    requestResource: resource,
    requestSubResource: '',
    name: nameOf(o),
    namespace: namespaced ? nsOf(o) : '',
    operation: r.operation,
    userInfo: { username: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] },
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: `${r.operation[0]}${r.operation.slice(1).toLowerCase()}Options` },
  };
}

/** A NamedRuleWithOperations against a request (no subresources here: objects themselves). */
function ruleMatches(rule: K8sObject, req: K8sObject): boolean {
  const any = (list: unknown, v: string, wild: string[] = ['*']): boolean =>
    Array.isArray(list) && list.some((x) => wild.includes(String(x)) || x === v);
  if (!any(rule.operations, req.operation)) return false;
  if (!any(rule.apiGroups, req.resource.group)) return false;
  if (!any(rule.apiVersions, req.resource.version)) return false;
  if (!any(rule.resources, req.resource.resource, ['*', '*/*'])) return false;
  if (Array.isArray(rule.resourceNames) && rule.resourceNames.length > 0 && !rule.resourceNames.includes(req.name)) return false;
  const scope = rule.scope ?? '*';
  if (scope === 'Cluster' && req.namespace !== '') return false;
  if (scope === 'Namespaced' && req.namespace === '') return false;
  return true;
}

/**
 * MatchResources (a policy's matchConstraints, or a binding's matchResources): excluded first; no
 * resourceRules (a binding's) matches what the policy matches; the objectSelector matches when the
 * new or the old object matches it.
 */
function matchResources(mr: K8sObject | undefined, r: AdmissionRequest, req: K8sObject): boolean {
  if (!mr) return true;
  const sel = mr.objectSelector;
  if (sel && (sel.matchLabels || sel.matchExpressions)) {
    const hit = [r.object, r.oldObject].some((o) => o && labelSelectorMatches(sel, o.metadata?.labels ?? {}));
    if (!hit) return false;
  }
  if ((mr.excludeResourceRules ?? []).some((x: K8sObject) => ruleMatches(x, req))) return false;
  const rules: K8sObject[] = mr.resourceRules ?? [];
  return rules.length === 0 || rules.some((x) => ruleMatches(x, req));
}

interface Job {
  policy: K8sObject;
  binding: K8sObject;
  request: AdmissionRequest;
  req: K8sObject;
  deny: boolean;
  warn: boolean;
  paramsName?: string;
}

/**
 * Checks every request against the ValidatingAdmissionPolicies and bindings among `held` (the
 * objects the API server holds now). Policies and bindings themselves are exempt, as the API
 * server exempts admission configuration.
 */
export async function admit(held: readonly K8sObject[], requests: AdmissionRequest[], log: (m: string) => void): Promise<AdmissionVerdict> {
  const isAdm = (o: K8sObject, kind: string): boolean => o.kind === kind && groupVersionOf(o).group === ADMISSION_GROUP;
  const policies = held.filter((o) => isAdm(o, 'ValidatingAdmissionPolicy'));
  const bindings = held.filter((o) => isAdm(o, 'ValidatingAdmissionPolicyBinding'));
  const verdict: AdmissionVerdict = { denied: [], warnings: [] };
  if (policies.length === 0 || bindings.length === 0 || requests.length === 0) return verdict;

  const jobs: Array<Job & { context: K8sObject }> = [];
  for (const request of requests) {
    const o = subject(request);
    if (groupVersionOf(o).group === ADMISSION_GROUP) continue;
    const req = requestOf(request);
    for (const binding of bindings) {
      const policy = policies.find((p) => nameOf(p) === binding.spec?.policyName);
      if (!policy) continue;
      const actions: string[] = binding.spec?.validationActions ?? [];
      if (!matchResources(policy.spec?.matchConstraints ?? { resourceRules: [] }, request, req)) continue;
      if (!matchResources(binding.spec?.matchResources, request, req)) continue;
      // The request's Namespace as held (a test may hold one being deleted), else a live one.
      const namespaceObject = req.namespace
        ? held.find((n) => n.kind === 'Namespace' && nameOf(n) === req.namespace)
          ?? { apiVersion: 'v1', kind: 'Namespace', metadata: { name: req.namespace, labels: { 'kubernetes.io/metadata.name': req.namespace } } }
        : null;
      const base = { policy, binding, request, req, deny: actions.includes('Deny'), warn: actions.includes('Warn') || actions.includes('Audit') };
      const context = { object: request.object, oldObject: request.oldObject, request: req, namespaceObject, params: null as K8sObject | null };
      const paramKind = policy.spec?.paramKind;
      if (!paramKind) {
        jobs.push({ ...base, context });
        continue;
      }
      // Parameters: the objects of paramKind the binding's paramRef names or selects.
      const ref = binding.spec?.paramRef ?? {};
      const ns = ref.namespace ?? req.namespace;
      const params = held.filter((p) =>
        p.kind === paramKind.kind && (!paramKind.apiVersion || p.apiVersion === paramKind.apiVersion) &&
        (CLUSTER_SCOPED.has(p.kind) || !ns || nsOf(p) === ns) &&
        (ref.name ? nameOf(p) === ref.name : labelSelectorMatches(ref.selector ?? {}, p.metadata?.labels ?? {})));
      if (params.length === 0) {
        if ((ref.parameterNotFoundAction ?? 'Deny') === 'Deny' && base.deny) {
          verdict.denied.push(refusal(base, `failed to configure binding: no params found for policy binding with \`Deny\` parameterNotFoundAction`));
        }
        continue;
      }
      for (const p of params) jobs.push({ ...base, paramsName: nameOf(p), context: { ...context, params: p } });
    }
  }
  if (jobs.length === 0) return verdict;

  const results = await evaluateCel(jobs.map((j) => ({
    matchConditions: j.policy.spec?.matchConditions ?? [],
    variables: j.policy.spec?.variables ?? [],
    validations: j.policy.spec?.validations ?? [],
    context: j.context,
  })));
  results.forEach((res, i) => {
    const j = jobs[i];
    const failClosed = (j.policy.spec?.failurePolicy ?? 'Fail') === 'Fail';
    const failures: string[] = [];
    if (res.skipped) return;
    if (res.error) {
      if (failClosed) failures.push(res.error);
      else log(`admission: policy ${nameOf(j.policy)} ignored an error (failurePolicy Ignore): ${res.error}`);
    }
    res.validations.forEach((v, k) => {
      if (v.ok) return;
      const val = j.policy.spec.validations[k];
      if (v.error) {
        if (failClosed) failures.push(v.error);
        else log(`admission: policy ${nameOf(j.policy)} ignored an error (failurePolicy Ignore): ${v.error}`);
        return;
      }
      failures.push(v.message ?? val.message ?? `failed expression: ${val.expression}`);
    });
    for (const f of failures) {
      const text = refusal(j, f);
      if (j.deny) verdict.denied.push(text);
      if (j.warn) verdict.warnings.push(text);
      log(`admission: ${j.request.operation} ${text}${j.deny ? '' : ' (not enforced: no Deny action)'}`);
    }
  });
  return verdict;
}

/** The API server's wording of a refusal. */
function refusal(j: Pick<Job, 'policy' | 'binding' | 'req' | 'paramsName'>, why: string): string {
  const r = j.req.resource;
  const what = r.group ? `${r.resource}.${r.group}` : r.resource;
  const params = j.paramsName ? ` with params '${j.paramsName}'` : '';
  return `${what} "${j.req.name}" is forbidden: ValidatingAdmissionPolicy '${nameOf(j.policy)}' with binding '${nameOf(j.binding)}'${params} denied request: ${why}`;
}

interface CelResult {
  skipped?: string;
  error?: string;
  validations: Array<{ ok: boolean; message?: string; error?: string }>;
}

/** Runs cel-eval.mjs on a batch, bounded in time. */
export function evaluateCel(jobs: K8sObject[], timeoutMs = CEL_TIMEOUT_MS): Promise<CelResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'cel-eval.mjs')], { stdio: ['pipe', 'pipe', 'pipe'], cwd: __dirname });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`admission: cannot run the CEL evaluator: ${errText(e)}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) return reject(new TimeoutError(`admission: the CEL evaluator did not answer within ${timeoutMs}ms`));
      if (code !== 0) return reject(new Error(`admission: the CEL evaluator failed (exit ${code}): ${err.trim().slice(0, 2000)}`));
      try {
        resolve((JSON.parse(out) as { results: CelResult[] }).results);
      } catch (e) {
        reject(new Error(`admission: unreadable answer from the CEL evaluator: ${errText(e)}`));
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify({ jobs }));
  });
}
