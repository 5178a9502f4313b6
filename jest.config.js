/** Two projects: fast unit/synth tests, and end-to-end tests that run real processes. */
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.dev.json' }] };
module.exports = {
  // Above every bounded wait inside a unit test (a real process's start: 10 s; a tool run: 15 s).
  // Jest reads it from here only (in a project it is ignored, leaving 5 s); e2e files set their own.
  testTimeout: 30_000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: tsJest,
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: tsJest,
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
    },
  ],
};
