/**
 * The built binary's allocator re-exec (src/cli/bin.ts): on Linux it starts itself once more
 * with {@link MALLOC_TUNING} in the environment, unless the user opts out or already has it.
 * A module preloaded through NODE_OPTIONS (which the re-exec inherits) records each process's
 * pid, parent and allocator variables.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MALLOC_TUNING } from '../../src/node/malloc-tuning.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cli-bin-'));
const probe = join(dir, 'probe.mjs');
writeFileSync(
  probe,
  `import { appendFileSync } from 'node:fs';
appendFileSync(process.env.PROBE_FILE, JSON.stringify({ pid: process.pid, ppid: process.ppid, env: {
  ${Object.keys(MALLOC_TUNING).map((k) => `${k}: process.env.${k}`).join(', ')} } }) + '\\n');
`,
);
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  pid: number;
  ppid: number;
  env: Record<string, string | undefined>;
}

/** Runs `demucs-mobile --version` with the probe and returns the processes it saw. */
async function processes(env: NodeJS.ProcessEnv): Promise<Seen[]> {
  const file = join(dir, `seen-${n++}.jsonl`);
  const run = await runCli(['--version'], { env: { NODE_OPTIONS: `--import=${pathToFileURL(probe).href}`, PROBE_FILE: file, ...env } });
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^\d+\.\d+\.\d+/);
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Seen);
}

const cleared = Object.fromEntries(Object.keys(MALLOC_TUNING).map((k) => [k, undefined]));

describe.runIf(process.platform === 'linux')('demucs-mobile allocator re-exec', () => {
  it('starts one child with every MALLOC_TUNING variable, MALLOC_ARENA_MAX=1 among them', async () => {
    expect(MALLOC_TUNING.MALLOC_ARENA_MAX).toBe('1');
    const seen = await processes(cleared);
    expect(seen).toHaveLength(2);
    const [parent, child] = seen as [Seen, Seen];
    expect(child.ppid).toBe(parent.pid);
    expect(Object.values(parent.env).every((v) => v === undefined)).toBe(true);
    expect(child.env).toEqual({ ...MALLOC_TUNING });
  });

  it('runs in one process when the environment already has the tuning', async () => {
    const seen = await processes({ ...MALLOC_TUNING });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.env).toEqual({ ...MALLOC_TUNING });
  });

  it('runs in one process, untuned, with DEMUCS_MOBILE_MALLOC_TUNING=0', async () => {
    const seen = await processes({ ...cleared, DEMUCS_MOBILE_MALLOC_TUNING: '0' });
    expect(seen).toHaveLength(1);
    expect(Object.values(seen[0]!.env).every((v) => v === undefined)).toBe(true);
  });
});
