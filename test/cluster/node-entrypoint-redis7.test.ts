import { describeEntrypointScenarios } from './entrypoint-scenarios';

// The scenarios of node-entrypoint-valkey.test.ts again on Debian's Redis 7.0 (no build): a repetition
// on another engine line, run by `npm run test:matrix` (test/run-matrix.sh), not by `npm test`.
describeEntrypointScenarios('redis 7.0', { name: 'redis 7.0', server: 'redis-server', cli: 'redis-cli' });
