/**
 * What a built entry of `dist/` pulls in: every chunk it reaches through relative imports,
 * for tests that keep runtimes and Node built-ins out of browser-safe entries.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The chunks an entry reaches (itself included), following `from './x'`, `require('./x')`
 * and `import('./x')`.
 *
 * @param dist - the build folder.
 * @param entry - the entry file name, e.g. `index.js`.
 */
export function reachableChunks(dist: string, entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const code = readFileSync(join(dist, entry), 'utf8');
  for (const m of code.matchAll(/(?:from\s*|require\(|import\()\s*["']\.\/([^"']+)["']/g)) reachableChunks(dist, m[1]!, seen);
  return seen;
}

/** A quoted Node built-in module name, as an import or require would spell it. */
export const NODE_BUILTIN = /["'](node:)?(fs|path|os|child_process|crypto|worker_threads)["']/;

/**
 * Whether a chunk is PFFFT's Emscripten glue, whose Node-only branch calls a createRequire()'d
 * `require("fs")` that bundlers do not follow (test/web/bundle.test.ts checks a real browser
 * build instead).
 *
 * @param file - a chunk's file name.
 */
export function isPffftGlue(file: string): boolean {
  return /^pffft-[\w-]+\.c?js$/.test(file);
}
