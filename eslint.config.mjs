// ESLint: typescript-eslint's type-checked recommendations and the few rules the cdk8s projects add.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['lib/', 'dist/', 'dist-jsii/', 'coverage/', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.dev.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // From the cdk8s projects' configuration.
      '@typescript-eslint/member-ordering': ['error', {
        default: ['public-static-field', 'public-static-method', 'protected-static-field', 'protected-static-method',
          'private-static-field', 'private-static-method', 'field', 'constructor', 'method'],
      }],
      'no-shadow': 'off',
      '@typescript-eslint/no-shadow': 'error',
      '@typescript-eslint/no-require-imports': 'error',
      '@typescript-eslint/return-await': 'error',
      'no-duplicate-imports': 'error',
      'dot-notation': 'error',
      'curly': ['error', 'multi-line', 'consistent'],
      // The ES2020 typings the package builds against have no Error `cause`; messages quote the cause instead.
      'preserve-caught-error': 'off',
    },
  },
  {
    // Tests, benchmarks and the e2e harness read synthesized manifests and tools' JSON output,
    // untyped by nature: the checks for `any` apply to the library only.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
