import { readFileSync } from 'fs';
import { dirname, join, normalize } from 'path';
import { PackedPackage, packPackage, run } from './util/consumer-app';
import { tempDir } from './util/temp';

/** The modules a TypeScript user's compiler loads from the package: the .d.ts files reachable from its `types`. */
function declarationGraph(root: string, entry: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const visit = (file: string) => {
    if (graph.has(file)) return;
    const text = readFileSync(join(root, file), 'utf8');
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

  test('its public API names no cdk8s-plus type: only cdk8s, constructs and its own modules', () => {
    const graph = declarationGraph(unpacked, packed.manifest.types);
    expect(graph.size).toBeGreaterThan(5);
    const external = new Set([...graph.values()].flat().filter((s) => !s.startsWith('.')));
    expect([...external].sort()).toEqual(['cdk8s', 'constructs']);
  });

  test('cdk8s-plus-27 is a dependency, installed with it; cdk8s and constructs are the app\'s own (peers)', () => {
    expect(Object.keys(packed.manifest.dependencies)).toEqual(['cdk8s-plus-27']);
    expect(Object.keys(packed.manifest.peerDependencies).sort()).toEqual(['cdk8s', 'constructs']);
  });
});
