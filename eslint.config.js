// ESLint for the page's ES modules (make lint). The recommended rules plus a few that catch
// the mistakes a thin drawing layer makes: unused names, shadowed globals, loose equality.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["build/vendor/**", "dist/**", "node_modules/**", "tests/artifacts/**", ".venv*/**"] },
  js.configs.recommended,
  {
    // bench/ and tests/e2e/ hold browser pages of their own (bench/webgpu.html, the WebGPU harness).
    files: ["assets/**/*.js", "bench/**/*.js", "tests/e2e/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2023, sourceType: "module", globals: { ...globals.browser } },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_" }],
      "no-shadow": "error",
      eqeqeq: ["error", "always"],
      "prefer-const": "error",
      "no-var": "error",
    },
  },
  {
    files: ["build/sw.template.js", "assets/js/sw*.js"],
    // build/site.py replaces the placeholders with the release's file lists.
    languageOptions: {
      sourceType: "script",
      globals: { ...globals.serviceworker, __FILES__: "readonly", __ON_DEMAND__: "readonly" },
    },
  },
];
