// ESLint (flat config) for the page and worker scripts in web/ and the editor bundle's entry in editor/.
// tests/test_eslint.py runs it and fails on any error.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/**", "node_modules/**", "build/**", "wheels/**"] },
  js.configs.recommended,
  {
    files: ["web/**/*.js", "editor/**/*.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      "no-empty": ["error", { allowEmptyCatch: true }],
    },
  },
  {
    // classic worker scripts and the service worker
    files: ["web/sw.js", "web/pyapp/plugin-worker.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.worker, ...globals.serviceworker } },
  },
  {
    files: ["web/pyapp/model-worker.js"],
    languageOptions: { globals: { ...globals.worker } },
  },
];
