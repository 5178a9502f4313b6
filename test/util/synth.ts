import { Chart, Testing } from 'cdk8s';
import { RedisHa, RedisHaProps } from '../../src';

/** A test chart holding one RedisHa, and its synthesized objects. */
export function synthRedisHa(props: RedisHaProps = {}): { chart: Chart; ha: RedisHa; objects: any[] } {
  const chart = Testing.chart();
  const ha = new RedisHa(chart, 'redis', props);
  return { chart, ha, objects: Testing.synth(chart) };
}

/** The objects of one kind. */
export function ofKind(objects: any[], kind: string): any[] {
  return objects.filter((o) => o.kind === kind);
}

/** The env of a Deployment's first container as a name -> value map (valueFrom as the object). */
export function envOf(deployment: any): Record<string, any> {
  const env: any[] = deployment.spec.template.spec.containers[0].env ?? [];
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));
}

/** The object with this metadata.name. */
export function named(objects: any[], name: string): any {
  const found = objects.find((o) => o.metadata?.name === name);
  if (!found) throw new Error(`no object named ${name}`);
  return found;
}
