/**
 * Every TypeScript code block of the README and the guides compiles against the current
 * API, with the project's strict settings, so the documentation's code cannot rot. Each
 * block is its own module (`declare const` stands in for values a fragment assumes).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/fixtures.js';

/** The documents whose code blocks are checked. */
const DOCUMENTS = ['README.md', ...(JSON.parse(readFileSync(join(REPO_ROOT, 'typedoc.json'), 'utf8')) as { projectDocuments: string[] }).projectDocuments];

/** The ```ts blocks of a Markdown text, with the line each starts on. */
function tsBlocks(markdown: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = [];
  for (const m of markdown.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```$/gm)) {
    out.push({ line: markdown.slice(0, m.index).split('\n').length + 1, code: m[1]! });
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'doc-snippets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('documentation code blocks', () => {
  it('compile with the project settings (strict, exactOptionalPropertyTypes, paths to src/)', () => {
    const files = new Map<string, string>();
    for (const doc of DOCUMENTS) {
      for (const { line, code } of tsBlocks(readFileSync(join(REPO_ROOT, doc), 'utf8'))) {
        const file = join(dir, `${doc.replace(/[/.]/g, '_')}_${line}.ts`);
        // `export {}` makes a block without imports a module too (top-level await, own scope).
        writeFileSync(file, `${code}\nexport {};\n`);
        files.set(file, `${doc}:${line}`);
      }
    }
    expect(files.size).toBeGreaterThanOrEqual(6);
    const config = ts.getParsedCommandLineOfConfigFile(join(REPO_ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
    const program = ts.createProgram([...files.keys()], { ...config.options, noEmit: true, noUnusedLocals: false });
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || files.has(d.file.fileName))
      .map((d) => {
        const where = d.file === undefined ? '' : `${files.get(d.file.fileName)} (+${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line} lines): `;
        return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
    expect(errors).toEqual([]);
  });
});
