// Lint: typescript-eslint's strict type-checked rules over everything written in TypeScript; formatting is Prettier's.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', '.cache/', 'bench/peers/', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    // The root tsconfig covers every folder (bench/tsconfig.json only tells tsx how bench servers load the build).
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // An async function that does not await still keeps a Promise-returning contract (a Store's methods) and turns
      // a throw into a rejection; writing those as `Promise.resolve(...)` would say less.
      '@typescript-eslint/require-await': 'off',
      // `const { id, ...fields } = row` leaves `id` out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A NestJS module is a class that only carries its decorator.
      '@typescript-eslint/no-extraneous-class': ['error', { allowWithDecorator: true }],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // A test reading `found!` fails right there when the value is missing: the assertion is the check.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
