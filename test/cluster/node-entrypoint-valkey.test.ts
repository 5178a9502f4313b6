import { join } from 'path';
import { cachedBuild } from '../e2e/harness/images';
import { describeEntrypointScenarios } from './entrypoint-scenarios';

// The default engine line, from the engine cache (scripts/ensure-engines.sh valkey-9.1).
const valkey = cachedBuild('valkey', '9.1');
describeEntrypointScenarios('valkey 9.1', valkey ? { name: 'valkey 9.1', server: join(valkey, 'valkey-server'), cli: join(valkey, 'valkey-cli') } : undefined);
