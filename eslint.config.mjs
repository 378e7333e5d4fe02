// ESLint over the pages' JavaScript (gateway/static): plain ES modules for the browser.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["gateway/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
      eqeqeq: ["error", "smart"],
      "no-implicit-globals": "error",
    },
  },
  {
    files: ["gateway/static/**/sw.js", "gateway/static/**/service-worker.js"],
    languageOptions: { globals: { ...globals.serviceworker } },
  },
];
