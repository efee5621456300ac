import { defineConfig } from 'vitest/config';

// The build is embedded in the `taylordash` binary (crates/api/src/ui.rs serves it).
// The output is committed and CI rebuilds it and fails on any difference, so the build must be
// deterministic: content hashes only, no timestamps, no absolute paths, no source maps.
// `npm run dev` proxies the API to a running server on :8000.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
    rolldownOptions: {
      onwarn(warning, warn) {
        // react-query's "use client" directives mean nothing without server components.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    // The unit tests read the server's list of built-in icons from its source.
    fs: { allow: ['.', '../crates/domain/src'] },
    proxy: {
      '/api': { target: 'http://127.0.0.1:8000', ws: true },
      '/health': 'http://127.0.0.1:8000',
      '/openapi.json': 'http://127.0.0.1:8000',
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
