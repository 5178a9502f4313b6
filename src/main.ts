import { App, Chart } from 'cdk8s';
import { RedisHa } from './sentinel/redis-ha';

/** The default chart written to dist/ by `cdk8s synth`. */
export function buildApp(outdir?: string): App {
  const app = new App({ outdir });
  const chart = new Chart(app, 'redis-ha');
  new RedisHa(chart, 'redis');
  return app;
}

if (require.main === module) buildApp().synth();
