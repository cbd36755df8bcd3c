/**
 * The generated guides (`scripts/gen-docs.ts`) are current: `docs/guides/cli.md` is the
 * built CLI's `--help` of every command, `docs/guides/troubleshooting.md` is `ERROR_CODES`
 * and the exit codes. A change to either source without `npm run docs:gen` fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/errors.js';
import { anchor, cliReference, commandHelps, GENERATED, subcommands, troubleshooting, type CommandHelp } from '../../scripts/gen-docs.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const committed = (path: string): string => readFileSync(join(REPO_ROOT, path), 'utf8');
const STALE = 'stale: run `npm run docs:gen` and commit the result';

/** The built CLI's commands and help texts, read once (one process per command). */
let helps: CommandHelp[] | undefined;
const cliHelps = (): CommandHelp[] => (helps ??= commandHelps());

describe('gen-docs', () => {
  it('reads the subcommands of a commander help text, without help', () => {
    const help = [
      'Usage: x [options] [command]',
      '',
      'Options:',
      '  -h, --help        display help for command',
      '',
      'Commands:',
      '  list [options]    the models',
      '  fetch [model]     download a model, with a description that wraps',
      '                    onto a second line',
      '  help [command]    display help for command',
    ].join('\n');
    expect(subcommands(help)).toEqual(['list', 'fetch']);
    expect(subcommands('Usage: x [options]\n\nOptions:\n  -h, --help  help\n')).toEqual([]);
  });

  it('finds every command of the CLI, nested ones included', () => {
    const paths = cliHelps().map((h) => h.path.join(' '));
    expect(paths[0]).toBe('');
    expect(paths).toEqual(expect.arrayContaining(['separate', 'models', 'models list', 'models fetch', 'models verify', 'models path', 'model', 'model retarget', 'model inspect']));
  });

  it(`keeps ${GENERATED.cli} equal to the CLI's own --help output`, () => {
    expect(committed(GENERATED.cli), STALE).toBe(cliReference(cliHelps()));
  });

  it(`keeps ${GENERATED.troubleshooting} equal to ERROR_CODES`, () => {
    const text = committed(GENERATED.troubleshooting);
    expect(text, STALE).toBe(troubleshooting());
    for (const [code, { cause, fix }] of Object.entries(ERROR_CODES)) {
      expect(text).toContain(`### ${code}\n\n**Cause:** ${cause}\n\n**Fix:** ${fix}\n`);
      expect(text).toContain(`(#${anchor(code)})`);
    }
  });
});
