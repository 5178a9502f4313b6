/**
 * The package as a user gets it (built from src, packed by `npm pack`) and a throwaway app
 * as `cdk8s init typescript-app` makes it (the cdk8s-cli template's tsconfig), in the system
 * temp directory. Dependencies are linked from this repository's node_modules: no registry.
 */
import { spawnSync } from 'child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { tempDir } from './temp';

export const ROOT = join(__dirname, '..', '..');
const NODE_MODULES = join(ROOT, 'node_modules');
const TSC = join(NODE_MODULES, 'typescript', 'bin', 'tsc');
const JSII = join(NODE_MODULES, 'jsii', 'bin', 'jsii');
/** jsii's tools run on this machine's Node 20 (past their support window) without a banner on every run. */
export const JSII_ENV = { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '20' };

/** Runs a command to completion (bounded), failing with its output; returns its stdout. */
export function run(argv: string[], cwd: string, timeoutMs = 120_000): string {
  return runBoth(argv, cwd, timeoutMs).stdout;
}

/** As {@link run}, returning stdout and stderr (where npm writes its warnings). */
function runBoth(argv: string[], cwd: string, timeoutMs: number): { stdout: string; stderr: string } {
  // npm keeps its cache and logs in the temp dir, and asks no registry about updates.
  const npm = { npm_config_cache: tempDir('npm-cache'), npm_config_logs_max: '0', npm_config_update_notifier: 'false', npm_config_audit: 'false' };
  const r = spawnSync(argv[0], argv.slice(1), { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...npm, ...JSII_ENV, NO_COLOR: '1' } });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} (in ${cwd}): ${r.error ?? `exit ${r.status}`}\n${r.stdout}${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Type-checks (and emits) a TypeScript project; returns tsc's complaints, empty when it compiles. */
export function tsc(project: string): string {
  const r = spawnSync(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { encoding: 'utf8', timeout: 180_000 });
  if (r.status === 0) return '';
  return `${r.error ?? ''}${r.stdout}${r.stderr}`.trim() || `tsc exited ${r.status}`;
}

export interface PackedPackage {
  /** The tarball `npm pack` wrote. */
  readonly tarball: string;
  /** The paths it holds, relative to the package root. */
  readonly files: string[];
  /** Its package.json. */
  readonly manifest: any;
}

/**
 * A staging copy of the package built by jsii as `npm run build` builds it: `lib/` and the `.jsii`
 * assembly the other languages' packages are generated from. Its node_modules is this repository's.
 */
export function jsiiBuild(): string {
  const stage = tempDir('pkg-stage');
  for (const f of ['package.json', 'README.md', 'LICENSE', 'tsconfig.json']) {
    if (existsSync(join(ROOT, f))) copyFileSync(join(ROOT, f), join(stage, f));
  }
  cpSync(join(ROOT, 'src'), join(stage, 'src'), { recursive: true });
  symlinkSync(NODE_MODULES, join(stage, 'node_modules'), 'dir');
  run([process.execPath, JSII, '--fail-on-warnings'], stage);
  return stage;
}

/** Builds src into a staging copy of the package and packs it as `npm publish` would. */
export function packPackage(): PackedPackage {
  const stage = jsiiBuild();
  const out = tempDir('pkg');
  const [packed] = JSON.parse(run(['npm', 'pack', '--json', '--ignore-scripts', '--pack-destination', out], stage));
  return {
    tarball: join(out, packed.filename),
    files: packed.files.map((f: { path: string }) => f.path).sort(),
    manifest: JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')),
  };
}

function link(app: string, pkg: string): void {
  const target = join(app, 'node_modules', pkg);
  mkdirSync(dirname(target), { recursive: true });
  if (!existsSync(target)) symlinkSync(join(NODE_MODULES, pkg), target, 'dir');
}

/**
 * An app with the cdk8s-cli template's tsconfig, the packed package installed, and these
 * packages (e.g. the app's own cdk8s-plus) linked. Returns its directory.
 */
export function consumerApp(packed: PackedPackage, packages: string[]): string {
  const app = tempDir('app');
  const installed = join(app, 'node_modules', 'cdk8s-redis-ha');
  mkdirSync(installed, { recursive: true });
  run(['tar', '-xzf', packed.tarball, '-C', installed, '--strip-components=1'], app);
  copyFileSync(join(NODE_MODULES, 'cdk8s-cli', 'templates', 'typescript-app', 'tsconfig.json'), join(app, 'tsconfig.json'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // What npm would install: the app's own packages, the peers, and the package's dependencies.
  const deps = [...Object.keys(packed.manifest.peerDependencies ?? {}), ...Object.keys(packed.manifest.dependencies ?? {})];
  for (const pkg of new Set(['@types/node', ...deps, ...packages])) link(app, pkg);
  return app;
}

/** What `cdk8s init typescript-app` puts in an app's `dependencies` (its template's package.json). */
export const INIT_APP_DEPENDENCIES = ['cdk8s', 'cdk8s-plus-33', 'constructs'];

/**
 * An app whose `dependencies` are `cdk8s init typescript-app`'s, installed by npm from tarballs of
 * this repository's copies, offline: no registry is asked, so a later `npm install` into it can add
 * only what it is given (a package that needed anything more from the registry fails with ENOTCACHED).
 */
export function npmInitApp(): string {
  const app = tempDir('npm-app');
  const tarballs = join(app, 'tarballs');
  mkdirSync(tarballs);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  for (const pkg of INIT_APP_DEPENDENCIES) run(['npm', 'pack', '--ignore-scripts', '--pack-destination', tarballs, join(NODE_MODULES, pkg)], app);
  npmInstall(app, readdirSync(tarballs).map((t) => join(tarballs, t)));
  return app;
}

/** `npm install --offline` of these specs (tarballs) into the app; returns what npm printed, warnings included. */
export function npmInstall(app: string, specs: string[]): string {
  const { stdout, stderr } = runBoth(['npm', 'install', '--offline', '--no-audit', '--no-fund', ...specs], app, 300_000);
  return `${stdout}${stderr}`;
}

/** Every package installed in the app, by its path: `node_modules/cdk8s`, `node_modules/cdk8s/node_modules/yaml`, .... */
export function installedPackages(app: string): string[] {
  const found: string[] = [];
  const visit = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        visit(path);
      } else if (existsSync(join(path, 'package.json'))) {
        found.push(path.slice(app.length + 1));
        visit(join(path, 'node_modules'));
      }
    }
  };
  visit(join(app, 'node_modules'));
  return found.sort();
}
