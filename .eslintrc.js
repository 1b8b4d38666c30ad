/* Legacy config on purpose: the repo layout asks for .eslintrc.js (run with ESLINT_USE_FLAT_CONFIG=false). */
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
  ],
};
