/** Loose typing and helpers for the subset of Kubernetes manifests the harness understands. */

// Manifests are plain JSON from cdk8s synth; they are deliberately typed loosely.
export type K8sObject = Record<string, any>;

export interface Secrets {
  [secretName: string]: { [key: string]: string };
}

export function nsOf(o: K8sObject): string {
  return o.metadata?.namespace ?? 'default';
}

export function nameOf(o: K8sObject): string {
  const n = o.metadata?.name;
  if (!n) throw new Error(`manifest object of kind ${o.kind} has no metadata.name`);
  return n;
}

export function labelsMatch(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  const l = labels ?? {};
  return Object.entries(selector).every(([k, v]) => l[k] === v);
}

/** matchLabels + matchExpressions (In, NotIn, Exists, DoesNotExist) of a LabelSelector. */
export function labelSelectorMatches(sel: K8sObject | undefined, labels: Record<string, string> | undefined): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries((sel.matchLabels ?? {}) as Record<string, string>)) if (l[k] !== v) return false;
  for (const e of (sel.matchExpressions ?? []) as K8sObject[]) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(l[e.key])) return false;
        break;
      case 'NotIn':
        if (has && e.values.includes(l[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`unsupported label selector operator ${e.operator}`);
    }
  }
  return true;
}

/**
 * Kubernetes $(VAR) expansion as done for command, args and env values:
 * $(NAME) -> value if NAME is defined, left as-is otherwise; $$ -> $.
 */
export function expandVars(s: string, env: Record<string, string>): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '$' && i + 1 < s.length) {
      const n = s[i + 1];
      if (n === '$') {
        out += '$';
        i++;
        continue;
      }
      if (n === '(') {
        const close = s.indexOf(')', i + 2);
        if (close > 0) {
          const name = s.slice(i + 2, close);
          if (Object.prototype.hasOwnProperty.call(env, name)) {
            out += env[name];
            i = close;
            continue;
          }
        }
      }
    }
    out += c;
  }
  return out;
}

export function b64decode(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}
