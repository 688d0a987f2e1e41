// One eslint run over the whole tree (src, test, bench, scripts): typescript-eslint's recommended type-checked
// rules for TypeScript, the plain recommended rules for the .mjs/.js scripts. `npm test` runs it first.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'lab/', 'inventory/', 'oclif.manifest.json']},
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname}},
    rules: {
      // Terminal escaping, the parsers of untrusted text and the tests of both match control characters on purpose.
      'no-control-regex': 'off',
      // Async methods implement promise-returning interfaces (Transport, RemoteHost) without always awaiting inside.
      '@typescript-eslint/require-await': 'off',
      // node:test's describe/it/before/after return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {allowForKnownSafeCalls: [{from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach']}]}],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests and benches read --json output and TAP through JSON.parse (any); their assertions are the type check.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly'}},
  },
)
