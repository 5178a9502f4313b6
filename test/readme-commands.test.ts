/**
 * Every `kubectl` command of the README, checked against the objects the chart synthesizes: the files
 * it applies exist, a `-n` matches where the objects went, each `-l` selects objects of the kind the
 * command reads, `exec` names a container the Deployment has and a program or script its container
 * has, and `apply --prune` has what kubectl requires. So a command that names something the chart
 * does not have fails here, not on an operator's first day.
 */
import { existsSync, readFileSync } from 'fs';
import { basename, dirname, join } from 'path';
import { Chart, Size, Testing } from 'cdk8s';
import { Persistence, RedisCluster, RedisHa } from '../src';
import { buildApp } from '../src/main';
import { ROOT } from './util/consumer-app';
import { ofKind, podLabels } from './util/synth';

interface Command {
  /** The README line it starts on. */
  readonly line: number;
  readonly text: string;
  /** The start line of its ```sh block; undefined for a command in the text. */
  readonly block?: number;
}

/** The kubectl commands of the README: lines of ```sh blocks, and `kubectl …` spans of the text. */
function readmeCommands(): Command[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const found: Command[] = [];
  let block: number | undefined;
  let fence = false;
  const prose: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.trim().startsWith('```')) {
      fence = !fence;
      block = fence && l.trim() === '```sh' ? i + 1 : undefined;
      prose.push('');
      continue;
    }
    if (fence) {
      if (block !== undefined && l.trim().startsWith('kubectl ')) found.push({ line: i + 1, text: l.trim().replace(/\s+#.*$/, ''), block });
      prose.push('');
    } else {
      prose.push(l);
    }
  }
  // Spans may wrap across lines: joined with a space, each found at the line it starts on.
  const text = prose.join('\n');
  for (const m of text.matchAll(/`(kubectl\b[^`]*)`/g)) {
    found.push({ line: text.slice(0, m.index).split('\n').length, text: m[1].replace(/\s+/g, ' ').trim() });
  }
  return found;
}

/** A command's words; a `<placeholder>` is one word, spaces and all. */
const words = (text: string): string[] => text.match(/<[^>]*>|\S+/g) ?? [];
const isPlaceholder = (w: string) => /^<.*>$/.test(w) || /<[^>]*>/.test(w);

interface Parsed {
  readonly verb: string;
  readonly args: string[];
  readonly options: Map<string, string>;
  readonly flags: Set<string>;
  /** After `--`: the program exec runs. */
  readonly argv: string[];
}

const WITH_VALUE = new Set(['-n', '--namespace', '-l', '--selector', '-f', '--filename', '-c', '--container', '-o']);

function parse(text: string): Parsed {
  const w = words(text).slice(1);
  const dash = w.indexOf('--');
  const own = dash >= 0 ? w.slice(0, dash) : w;
  const options = new Map<string, string>();
  const flags = new Set<string>();
  const args: string[] = [];
  for (let i = 0; i < own.length; i++) {
    if (WITH_VALUE.has(own[i])) options.set(own[i].replace(/^--namespace$/, '-n').replace(/^--selector$/, '-l'), own[++i]);
    else if (own[i].startsWith('-')) flags.add(own[i].split('=')[0]);
    else args.push(own[i]);
  }
  return { verb: args[0], args: args.slice(1), options, flags, argv: dash >= 0 ? w.slice(dash + 1) : [] };
}

/** The charts a README command may be about: dist/'s default chart, a RedisCluster, a RedisHa on hostPath volumes. */
const CHARTS: Record<string, any[]> = (() => {
  const cluster = new Chart(Testing.app(), 'sessions', { namespace: 'sessions' });
  new RedisCluster(cluster, 'cache', { shards: 4, drainedShards: 1 });
  const hostPath = Testing.chart();
  new RedisHa(hostPath, 'redis', { redis: { persistence: Persistence.hostPath({ directory: '/srv/redis', size: Size.gibibytes(1) }) } });
  return {
    // What `npm run synth` writes there (test/dist.test.ts keeps the file equal to it).
    'dist/redis-ha.k8s.yaml': Testing.synth(buildApp().charts[0]),
    'a RedisCluster': Testing.synth(cluster),
    'a RedisHa on hostPath volumes': Testing.synth(hostPath),
  };
})();

/** What a selector `k=v,k2` asks of a label set; a placeholder value matches any value. */
function selects(selector: string, labels: Record<string, string> = {}): boolean {
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    if (!(key in labels)) return false;
    return value === undefined || isPlaceholder(value) || labels[key] === value;
  });
}

const KINDS: Record<string, string> = { pods: 'Pod', pod: 'Pod', po: 'Pod', deploy: 'Deployment', deployment: 'Deployment', deployments: 'Deployment', pv: 'PersistentVolume' };

/** The objects a `get KIND -l` reads: pods as their Deployments' templates make them. */
function labelledAs(objects: any[], kind: string): Array<Record<string, string>> {
  if (kind === 'Pod') return ofKind(objects, 'Deployment').map(podLabels);
  return ofKind(objects, kind).map((o) => o.metadata.labels ?? {});
}

/** Why a command fails against one chart's objects, or undefined when it holds. */
function problems(cmd: Parsed, objects: any[], appliedNamespace: string | undefined): string[] {
  const out: string[] = [];
  const ns = cmd.options.get('-n');
  const namespaces = new Set(objects.map((o) => o.metadata?.namespace).filter((n) => n !== undefined));
  if (ns !== undefined && !isPlaceholder(ns)) {
    if (namespaces.size > 0 && !namespaces.has(ns)) out.push(`-n ${ns}, but the objects are in ${[...namespaces].join(', ')}`);
    if (appliedNamespace !== undefined && appliedNamespace !== ns) out.push(`-n ${ns}, but the block applied the chart to ${appliedNamespace}`);
  }
  const file = cmd.options.get('-f');
  if (file !== undefined && !isPlaceholder(file) && !existsSync(join(ROOT, file))) out.push(`-f ${file}: no such file`);
  if (file !== undefined && isPlaceholder(file) && !/^dist\/.*\.k8s\.yaml$/.test(file)) out.push(`-f ${file}: the chart's files are dist/<chart>.k8s.yaml`);
  if (cmd.verb === 'apply' && cmd.flags.has('--prune') && !cmd.options.has('-l') && !cmd.flags.has('--all')) {
    out.push('apply --prune without -l or --all: kubectl refuses ("all resources selected for prune without explicitly passing --all")');
  }
  const selector = cmd.options.get('-l');
  if (selector !== undefined) {
    if (cmd.verb === 'apply') {
      const without = objects.filter((o) => !selects(selector, o.metadata?.labels));
      if (without.length > 0) out.push(`-l ${selector}: ${without.length} objects lack it (${without.map((o) => o.kind).join(', ')}), so a prune by it misses them`);
    } else {
      const kind = KINDS[cmd.args[0]];
      if (kind === undefined) out.push(`get ${cmd.args[0]}: a kind this test does not know`);
      else if (!labelledAs(objects, kind).some((l) => selects(selector, l))) out.push(`-l ${selector} selects no ${kind}`);
    }
  }
  if (cmd.verb === 'exec') out.push(...execProblems(cmd, objects));
  return out;
}

/** An `exec deploy/<…> [-c name] -- program …`: the container, and what it runs. */
function execProblems(cmd: Parsed, objects: any[]): string[] {
  const target = cmd.args[0] ?? '';
  if (!target.startsWith('deploy/')) return [`exec ${target}: expected deploy/<name>`];
  const which = target.toLowerCase();
  const component = which.includes('sentinel') ? 'sentinel' : which.includes('proxy') ? 'proxy' : 'redis';
  const deployments = ofKind(objects, 'Deployment').filter((d) => podLabels(d)['app.kubernetes.io/component'] === component);
  if (deployments.length === 0) return [`exec ${target}: no ${component} Deployment`];
  const out: string[] = [];
  for (const d of deployments) {
    const containers: any[] = d.spec.template.spec.containers;
    const name = cmd.options.get('-c');
    // kubectl's default: the first container.
    const c = name === undefined ? containers[0] : containers.find((x) => x.name === name);
    if (c === undefined) {
      out.push(`-c ${name}: ${d.metadata.name} has containers ${containers.map((x) => x.name).join(', ')}`);
      continue;
    }
    const [program, ...rest] = cmd.argv;
    if (/-cli$/.test(program)) {
      const engine = /(^|\/)valkey[:/]/.test(c.image) || c.image.startsWith('valkey/') ? 'valkey' : 'redis';
      if (program !== `${engine}-cli`) out.push(`${program} in ${c.image}, which has ${engine}-cli`);
      const port = rest[rest.indexOf('-p') + 1];
      if (rest.includes('-p') && !(c.ports ?? []).some((p: any) => String(p.containerPort) === port)) out.push(`-p ${port}: ${c.name} listens on ${(c.ports ?? []).map((p: any) => p.containerPort).join(', ')}`);
    } else if (program === 'sh') {
      out.push(...scriptProblems(objects, d, c, rest[0], rest[1]));
    } else {
      out.push(`${program}: a program this test does not know`);
    }
  }
  return out;
}

/** `sh PATH MODE`: PATH is a file of a ConfigMap mounted in the container, and its script knows MODE. */
function scriptProblems(objects: any[], deployment: any, container: any, path: string, mode: string | undefined): string[] {
  const mount = (container.volumeMounts ?? []).find((m: any) => m.mountPath === dirname(path));
  const volume = mount && deployment.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
  const configMap = volume?.configMap && ofKind(objects, 'ConfigMap').find((cm) => cm.metadata.name === volume.configMap.name);
  const script: string | undefined = configMap?.data?.[basename(path)];
  if (script === undefined) return [`sh ${path}: no ConfigMap file at that path in ${deployment.metadata.name}`];
  if (mode !== undefined && !new RegExp(`^\\s*(\\S+\\|)*${mode}(\\|\\S+)*\\)`, 'm').test(script)) return [`sh ${path} ${mode}: the script has no ${mode} case`];
  return [];
}

/** A command with something to check: not a bare mention such as `kubectl delete`. */
const checkable = (c: Command) => {
  const p = parse(c.text);
  return p.args.length > 0 || p.options.size > 0;
};

describe('README kubectl commands', () => {
  const commands = readmeCommands();

  test('are found: the deploy, check, drain and hostPath commands', () => {
    expect(commands.filter(checkable).length).toBeGreaterThanOrEqual(10);
  });

  test.each(commands.filter(checkable).map((c) => [`line ${c.line}: ${c.text}`, c] as const))('%s', (_name, c) => {
    const cmd = parse(c.text);
    // In a block, the namespace an earlier `apply -f` of it put the objects in.
    let applied: string | undefined;
    let charts = Object.entries(CHARTS);
    if (c.block !== undefined) {
      const before = commands.filter((o) => o.block === c.block && o.line < c.line).map((o) => parse(o.text));
      const apply = before.find((o) => o.verb === 'apply' && o.options.has('-f'));
      const file = (apply ?? cmd).options.get('-f');
      if (file !== undefined && CHARTS[file]) {
        charts = [[file, CHARTS[file]]];
        const own = CHARTS[file].find((o) => o.metadata?.namespace)?.metadata.namespace;
        if (apply) applied = apply.options.get('-n') ?? own ?? "the context's namespace";
      }
    }
    const verdicts = charts.map(([name, objects]) => ({ name, problems: problems(cmd, objects, applied) }));
    // Holds against one of the charts it may be about.
    expect(verdicts.some((v) => v.problems.length === 0) ? [] : verdicts).toEqual([]);
  });

  test('the checks catch what they are for', () => {
    const against = (text: string, chart = 'dist/redis-ha.k8s.yaml', applied?: string) => problems(parse(text), CHARTS[chart], applied);
    expect(against('kubectl -n redis exec deploy/<redis-1 deployment> -c main -- valkey-cli info')).toEqual(expect.arrayContaining([expect.stringMatching(/-c main: .* has containers redis/)]));
    expect(against('kubectl -n redis exec deploy/<redis-1 deployment> -- redis-cli info')[0]).toMatch(/redis-cli in valkey\/valkey:.*, which has valkey-cli/);
    expect(against('kubectl -n redis exec deploy/<sentinel-1 deployment> -- valkey-cli -p 6379 info')[0]).toMatch(/-p 6379: sentinel listens on 26379/);
    expect(against('kubectl apply --prune -f dist/redis-ha.k8s.yaml')[0]).toMatch(/without -l or --all/);
    expect(against('kubectl -n redis get pods -l app.kubernetes.io/name=valkey')[0]).toMatch(/selects no Pod/);
    expect(against('kubectl -n redis get pods', 'dist/redis-ha.k8s.yaml', "the context's namespace")[0]).toMatch(/the block applied the chart to the context's namespace/);
    expect(against('kubectl -n x exec deploy/<a node> -- sh /opt/redis-ha/probe.sh emptied', 'a RedisCluster')).toEqual(expect.arrayContaining([expect.stringMatching(/-n x, but the objects are in sessions/), expect.stringMatching(/no emptied case/)]));
    expect(against('kubectl apply -f dist/missing.k8s.yaml')[0]).toMatch(/no such file/);
  });
});
