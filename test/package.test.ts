import { readFileSync } from 'fs';
import { builtinModules } from 'module';
import { dirname, join, normalize } from 'path';
import { PackedPackage, installedPackages, npmInitApp, npmInstall, packPackage, run } from './util/consumer-app';
import { tempDir } from './util/temp';

/** The modules a TypeScript user's compiler loads from the package: the .d.ts files reachable from its `types`. */
function declarationGraph(root: string, entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    // Imports in doc comments (@example) are not the module's.
    const text = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const specifiers = [...text.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    graph.set(file, specifiers);
    for (const s of specifiers.filter((x) => x.startsWith('.'))) visit(normalize(join(dirname(file), `${s}.d.ts`)));
  };
  visit(entry);
  return graph;
}

describe('the published package', () => {
  let packed: PackedPackage;
  let unpacked: string;
  beforeAll(() => {
    packed = packPackage();
    unpacked = tempDir('unpacked');
    run(['tar', '-xzf', packed.tarball, '-C', unpacked, '--strip-components=1'], unpacked);
  }, 120_000);

  test('its public API names no cdk8s-plus type and none of the chart\'s own Kubernetes API types: only cdk8s, constructs and its own modules', () => {
    const graph = declarationGraph(unpacked, packed.manifest.types);
    expect(graph.size).toBeGreaterThan(5);
    const external = new Set([...graph.values()].flat().filter((s) => !s.startsWith('.')));
    expect([...external].sort()).toEqual(['cdk8s', 'constructs']);
    // lib/k8s-api.d.ts (and the module that builds on it) are shipped, for the code, but no public type leads there.
    expect(packed.files).toContain('lib/k8s-api.d.ts');
    expect([...graph.keys()].filter((f) => /(^|\/)(k8s-api|workload)\.d\.ts$/.test(f))).toEqual([]);
  });

  test('ships the library, its types, its jsii assembly, README and LICENSE; not the app that writes dist/ (lib/main.js)', () => {
    // The library's modules: flat shared parts, and one folder per mode (lib/cluster/).
    const outside = packed.files.filter((f) => !/^lib\/([a-z]+\/)?[-a-z0-9]+\.(js|d\.ts)$/.test(f));
    expect(outside).toEqual(['.jsii', 'LICENSE', 'README.md', 'package.json']);
    expect(packed.files).toContain('lib/index.js');
    expect(packed.files).toContain('lib/index.d.ts');
    expect(packed.files.filter((f) => f.startsWith('lib/main.'))).toEqual([]);
    // Every module the library loads is shipped.
    for (const js of packed.files.filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(unpacked, js), 'utf8');
      for (const [, dep] of text.matchAll(/require\("(\.[^"]+)"\)/g)) expect(packed.files).toContain(normalize(join(dirname(js), `${dep}.js`)));
    }
  });

  test('its jsii assembly names the package and targets Python, Java, .NET and Go', () => {
    const assembly = JSON.parse(readFileSync(join(unpacked, '.jsii'), 'utf8'));
    expect(assembly.name).toBe(packed.manifest.name);
    expect(assembly.version).toBe(packed.manifest.version);
    expect(Object.keys(assembly.targets).sort()).toEqual(['dotnet', 'go', 'java', 'js', 'python']);
  });

  test('its LICENSE is the Apache License 2.0 that package.json names', () => {
    expect(packed.manifest.license).toBe('Apache-2.0');
    const license = readFileSync(join(unpacked, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\//);
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });

  test('the npm page links to the repository, its issues and a homepage, and it is found by its keywords', () => {
    const { repository, homepage, bugs, author, keywords } = packed.manifest;
    expect(repository).toEqual({ type: 'git', url: expect.stringMatching(/^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/) });
    const web = repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
    expect(homepage).toBe(`${web}#readme`);
    expect(bugs).toEqual({ url: `${web}/issues` });
    expect(author).toEqual(expect.any(String));
    expect(keywords).toEqual(expect.arrayContaining(['cdk8s', 'redis', 'valkey', 'sentinel', 'haproxy', 'kubernetes']));
  });

  test('every dependency is used by the shipped code, and everything it requires is a dependency or a peer', () => {
    const required = new Set<string>();
    for (const js of packed.files.filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(join(unpacked, js), 'utf8');
      for (const [, dep] of text.matchAll(/require\("([^".][^"]*)"\)/g)) required.add(dep.startsWith('@') ? dep.split('/').slice(0, 2).join('/') : dep.split('/')[0]);
    }
    const builtin = new Set(builtinModules);
    const external = [...required].filter((d) => !builtin.has(d.replace(/^node:/, ''))).sort();
    const declared = [...Object.keys(packed.manifest.dependencies ?? {}), ...Object.keys(packed.manifest.peerDependencies)].sort();
    expect(external).toEqual(declared);
  });

  test('it has no dependencies of its own: cdk8s and constructs are the app\'s (peers)', () => {
    expect(packed.manifest.dependencies ?? {}).toEqual({});
    expect(packed.manifest.bundleDependencies ?? packed.manifest.bundledDependencies).toBeUndefined();
    expect(Object.keys(packed.manifest.peerDependencies).sort()).toEqual(['cdk8s', 'constructs']);
  });

  // What a user's `npm install cdk8s-redis-ha` does to a `cdk8s init typescript-app` app: it adds the
  // package and nothing else (no second cdk8s-plus, no stranger's install script).
  test('npm installs it into a `cdk8s init` app as one package: nothing else added or removed, no install script', () => {
    const app = npmInitApp();
    const before = installedPackages(app);
    expect(before).toEqual(expect.arrayContaining(['node_modules/cdk8s', 'node_modules/cdk8s-plus-33', 'node_modules/constructs']));
    const printed = npmInstall(app, [packed.tarball]);
    const after = installedPackages(app);
    expect({ added: after.filter((p) => !before.includes(p)), removed: before.filter((p) => !after.includes(p)) })
      .toEqual({ added: ['node_modules/cdk8s-redis-ha'], removed: [] });
    expect(printed).toMatch(/added 1 package/);
    expect(printed).not.toMatch(/install.?script/i);
  }, 300_000);
});
