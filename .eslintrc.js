/* Legacy config on purpose: the repo layout asks for .eslintrc.js (run with ESLINT_USE_FLAT_CONFIG=false). */
const LAYERS =
  'src/common imports nothing from the package; src/core imports only common; src/oauth imports no adapter and no Nest wiring (see README, Development)';
/** The Nest wiring at the top of src: token-refresh.module, .providers, .service and friends. */
const WIRING = [
  '**/token-refresh.module*',
  '**/token-refresh.providers',
  '**/token-refresh.service',
  '**/token-refresh.lookup',
  '**/token-refresh.decorators',
  '**/token-refresh.options',
  '**/scheduler-registry.timers',
  '../index',
  '../../index',
];
const ADAPTERS = ['**/oauth/**', '**/redis/**', '**/postgres/**', '**/http/**', '**/health/**', '**/otel/**'];
const FRAMEWORKS = ['@nestjs/*', 'axios', 'ioredis', 'pg', 'rxjs', '@opentelemetry/*'];

module.exports = {
  root: true,
  parser: '@typescript-eslint/parser',
  // The decorator flags tell consistent-type-imports that a class used only in a constructor
  // signature is still needed at run time (Nest reads it from decorator metadata).
  parserOptions: {
    project: './tsconfig.json',
    tsconfigRootDir: __dirname,
    sourceType: 'module',
    emitDecoratorMetadata: true,
    experimentalDecorators: true,
  },
  plugins: ['@typescript-eslint'],
  extends: ['eslint:recommended', 'plugin:@typescript-eslint/recommended'],
  env: { node: true, es2022: true },
  ignorePatterns: ['dist', 'dist-examples', 'node_modules', '.eslintrc.js', 'vitest.config.mts', 'bench/results.json'],
  rules: {
    'no-console': 'error',
    '@typescript-eslint/no-floating-promises': 'error',
    '@typescript-eslint/no-misused-promises': 'error',
    '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
  },
  overrides: [
    { files: ['examples/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'], rules: { 'no-console': 'off' } },
    // Dependencies point one way: common (the vocabulary) <- core (the engine) <- oauth <- adapters and Nest wiring.
    {
      files: ['src/common/**/*.ts'],
      excludedFiles: ['*.spec.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ group: [...FRAMEWORKS, '**/core/**', ...ADAPTERS, ...WIRING], message: LAYERS }] }] },
    },
    {
      files: ['src/core/**/*.ts'],
      excludedFiles: ['*.spec.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ group: [...FRAMEWORKS, ...ADAPTERS, ...WIRING], message: LAYERS }] }] },
    },
    {
      files: ['src/oauth/**/*.ts'],
      excludedFiles: ['*.spec.ts'],
      rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/redis/**', '**/postgres/**', '**/http/**', '**/health/**', '**/otel/**', ...WIRING], message: LAYERS }] }] },
    },
  ],
};
