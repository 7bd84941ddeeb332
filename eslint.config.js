// ESLint: typescript-eslint's type-checked recommended rules over every TypeScript file, react-hooks over the
// page, and Node's and the browser's globals for the plain JavaScript the exports ship. Formatting is Prettier's.
import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'test-results/', 'playwright-report/', '.bench/', 'node_modules/', 'scratch/'] },
  js.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring a field away, a required callback argument)
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // shapes print as `[4,128,768]` in error messages on purpose (allowArray); a stored record's version checked
      // at run time has a literal type, so the impossible branch's value types as never (allowNever)
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowAny: true,
          allowBoolean: true,
          allowNullish: true,
          allowNumber: true,
          allowRegExp: true,
          allowArray: true,
          allowNever: true,
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'e2e/**/*.ts'],
    rules: {
      // vitest's and Playwright's asymmetric matchers (expect.stringContaining, expect.any) are typed `any`, so
      // every toMatchObject({ message: expect.stringContaining(...) }) would read as an unsafe assignment
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['src/app/**/*.tsx', 'src/main.tsx'],
    extends: [reactHooks.configs.flat.recommended],
  },
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
);
