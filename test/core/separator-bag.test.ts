/**
 * Bags of models and models with other source counts through the Separator, with linear
 * stand-in models built here (the real I/O signature; source s of member m outputs
 * g[m][s] · input). With the spectral gains at 0 a stem has a closed form, g · (mix − μ) + μ
 * (the spectral branch is not an exact identity: HTDemucs drops the Nyquist bin and the edge
 * frames); with both branches, a bag is checked against its members run one by one.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelSession } from '../../src/backends/backend.js';
import { bagTotal, requiredMembers, validateBag, type ModelBag } from '../../src/core/bag.js';
import { PythonRandom } from '../../src/core/rng.js';
import { Separator, trackStats, type SeparationProgress } from '../../src/index.js';
import { OrtNodeBackend } from '../../src/node.js';
import { maxAbsDiff } from '../helpers/fixtures.js';
import { standinSeparationModel } from '../helpers/onnx-builder.js';

const dir = mkdtempSync(join(tmpdir(), 'bag-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const backend = new OrtNodeBackend({ threads: 1, worker: false });

/** 3 s of a deterministic stereo signal with a non-zero mean. */
const FRAMES = 3 * 44100;
const mix = [0, 1].map((c) => Float32Array.from({ length: FRAMES }, (_, i) => 0.05 + 0.3 * Math.sin(i * (0.013 + 0.004 * c)) * Math.sin(i * 0.0007)));
const audio = { sampleRate: 44100, channels: mix };

function member(name: string, gains: number[][], weights: number[]): { member: ModelBag['members'][number]; loads: () => number } {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, standinSeparationModel({ waveGains: gains[0]!, specGains: gains[1]! }));
  let loads = 0;
  return {
    member: {
      name,
      weights,
      load: () => {
        loads++;
        return backend.load(path);
      },
    },
    loads: () => loads,
  };
}

/** The closed form of a stem whose total gain is g: g · (x − μ) + μ, with the track's μ. */
async function closedForm(g: number): Promise<Float32Array[]> {
  const { mean } = await trackStats({ sampleRate: 44100, channelCount: 2, frames: FRAMES, read: (s, o) => o.forEach((x, c) => x.set(mix[c]!.subarray(s, s + x.length))) });
  return mix.map((x) => x.map((v) => g * (v - mean) + mean));
}

describe('a 6-source model', () => {
  it('separates into drums, bass, other, vocals, guitar, piano, each its closed form', async () => {
    const wave = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    const spec = [0, 0, 0, 0, 0, 0];
    const path = join(dir, 'six.onnx');
    writeFileSync(path, standinSeparationModel({ waveGains: wave, specGains: spec }));
    const session = await backend.load(path);
    expect(session.spec.sources).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
    const result = await new Separator(session, { shifts: 0 }).separate(audio);
    for (const [s, name] of session.spec.sources.entries()) {
      const expected = await closedForm(wave[s]! + spec[s]!);
      for (let c = 0; c < 2; c++) expect(maxAbsDiff(result.stems[name]![c]!, expected[c]!).max, name).toBeLessThan(2e-6);
    }
    // Only some stems: the same samples, less host work.
    const subset = await new Separator(session, { shifts: 0, stems: ['piano', 'bass'] }).separate(audio);
    expect(subset.sources).toEqual(['bass', 'piano']);
    for (const name of ['bass', 'piano']) for (let c = 0; c < 2; c++) expect(maxAbsDiff(subset.stems[name]![c]!, result.stems[name]![c]!).max).toBe(0);
    await session.dispose();
  });
});

describe('a bag with a non-identity weight matrix', () => {
  // Rows: members; columns: drums, bass, other, vocals.
  const W = [
    [1, 0.5, 0, 2],
    [0, 1, 1, 1],
    [3, 0, 1, 0],
  ];
  const gains = [
    [
      [0.1, 0.2, 0.3, 0.4],
      [0.4, 0.3, 0.2, 0.1],
    ],
    [
      [0.7, 0.1, 0.05, 0.2],
      [0.1, 0.6, 0.5, 0.3],
    ],
    [
      [0.25, 0.35, 0.45, 0.55],
      [0.05, 0.05, 0.05, 0.05],
    ],
  ];
  let members: ReturnType<typeof member>[] = [];
  let bag: ModelBag;
  beforeAll(() => {
    members = W.map((w, m) => member(`m${m}`, gains[m]!, w));
    bag = { sources: ['drums', 'bass', 'other', 'vocals'], members: members.map((m) => m.member) };
  });

  it('combines the members as upstream: Σ W[m][k]·out_m[k] / Σ W[m][k], against the closed form', async () => {
    // The same members with the time branch only, so the closed form is exact.
    const timeOnly: ModelBag = { sources: bag.sources, members: W.map((w, m) => member(`t${m}`, [gains[m]![0]!, [0, 0, 0, 0]], w).member) };
    const separator = new Separator(timeOnly, { shifts: 0 });
    const result = await separator.separate(audio);
    for (const [k, name] of bag.sources.entries()) {
      const g = W.reduce((t, w, m) => t + w[k]! * gains[m]![0]![k]!, 0) / bagTotal(bag, k);
      const expected = await closedForm(g);
      for (let c = 0; c < 2; c++) expect(maxAbsDiff(result.stems[name]![c]!, expected[c]!).max, name).toBeLessThan(2e-6);
    }
    await separator.dispose();
  });

  it('draws each member its own shifts from one seeded stream, as upstream, and equals the members run one by one', async () => {
    const separator = new Separator(bag, { shifts: 2, seed: 42 });
    const stream = separator.stream(audio);
    const blocks = [];
    for await (const b of stream) blocks.push(b);
    const rng = new PythonRandom(42);
    const draws = W.map(() => [rng.randint(0, 22050), rng.randint(0, 22050)]);
    expect(stream.info!.memberShiftOffsets).toEqual(draws);
    expect(draws[0]).toEqual([20952, 3648]); // CPython: random.seed(42); randint(0, 22050) × 2
    // Each member alone, with its draws, combined by hand in float64.
    const alone = await Promise.all(
      bag.members.map(async (m, i) => {
        const session = await m.load();
        const r = await new Separator(session, { shifts: 2 }).separate(audio, { shiftOffsets: draws[i]! });
        await session.dispose();
        return r;
      }),
    );
    for (const [k, name] of bag.sources.entries()) {
      for (let c = 0; c < 2; c++) {
        const got = new Float32Array(FRAMES);
        for (const b of blocks) got.set(b.stems[k]![c]!, b.start);
        const expected = Float32Array.from({ length: FRAMES }, (_, i) => W.reduce((t, w, m) => t + w[k]! * alone[m]!.stems[name]![c]![i]!, 0) / bagTotal(bag, k));
        expect(maxAbsDiff(got, expected).max, `${name} ch${c}`).toBeLessThan(2e-6);
      }
    }
    await separator.dispose();
  });

  it('loads and runs only the members a requested stem needs, and says so in progress events', async () => {
    const before = members.map((m) => m.loads());
    // Members 0 and 1 have a weight for vocals; member 2 does not.
    expect(requiredMembers(bag, [3])).toEqual([0, 1]);
    const separator = new Separator(bag, { shifts: 0, stems: ['vocals'] });
    expect(separator.members).toEqual(['m0', 'm1']);
    const events: SeparationProgress[] = [];
    const result = await separator.separate(audio, { onProgress: (p) => events.push(p) });
    expect(members.map((m, i) => m.loads() - before[i]!)).toEqual([1, 1, 0]);
    expect(new Set(events.slice(1).map((e) => e.member))).toEqual(new Set(['m0', 'm1']));
    expect(result.sources).toEqual(['vocals']);
    // The same samples as the whole bag's vocals.
    const whole = new Separator(bag, { shifts: 0 });
    const all = await whole.separate(audio);
    await whole.dispose();
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(result.stems.vocals![c]!, all.stems.vocals![c]!).max).toBe(0);
    // A second song reuses the loaded sessions.
    const loadsAfterFirst = members.map((m) => m.loads());
    await separator.separate(audio);
    expect(members.map((m) => m.loads())).toEqual(loadsAfterFirst);
    await separator.dispose();
  });
});

describe('an identity bag (htdemucs_ft-like)', () => {
  it('asking for one stem loads one member, and its stem equals the whole bag’s bit for bit', async () => {
    const names = ['drums', 'bass', 'other', 'vocals'];
    const members = names.map((n, m) =>
      member(
        `ft_${n}`,
        [names.map((_, s) => 0.1 * (m + 1) + 0.01 * s), names.map((_, s) => 0.2 - 0.01 * s)],
        names.map((_, s) => (s === m ? 1 : 0)),
      ),
    );
    const bag: ModelBag = { sources: names, members: members.map((m) => m.member) };
    validateBag(bag);
    const all = new Separator(bag, { shifts: 0 });
    const whole = await all.separate(audio);
    await all.dispose();
    const before = members.map((m) => m.loads());
    const one = new Separator(bag, { shifts: 0, stems: ['bass'] });
    const bass = await one.separate(audio);
    expect(members.map((m, i) => m.loads() - before[i]!)).toEqual([0, 1, 0, 0]);
    for (let c = 0; c < 2; c++) expect(maxAbsDiff(bass.stems.bass![c]!, whole.stems.bass![c]!).max).toBe(0);
    await one.dispose();
  });
});

describe('bag checks', () => {
  const fake = (weights: number[]) => ({ name: 'x', weights, load: () => Promise.reject(new Error('never')) as Promise<ModelSession> });
  it('names what is wrong', () => {
    expect(() => validateBag({ sources: ['a', 'b'], members: [] })).toThrow(/bag.members is empty/);
    expect(() => validateBag({ sources: ['a', 'b'], members: [fake([1])] })).toThrow(/has 1 weights; the bag has 2 sources/);
    expect(() => validateBag({ sources: ['a', 'b'], members: [fake([1, -1])] })).toThrow(/weight for b must be a finite number ≥ 0 \(got -1\)/);
    expect(() => validateBag({ sources: ['a', 'b'], members: [fake([1, 0])] })).toThrow(/no member of the bag has a positive weight for "b"/);
    expect(() => new Separator({ sources: ['a', 'b'], members: [fake([1, 1])] }, { stems: ['c'] })).toThrow(/stems: unknown stem "c" \(the model has a, b\)/);
  });

  it('a member that fails to load fails the separation with its error, and members that disagree are refused', async () => {
    const broken = new Separator({ sources: ['a', 'b'], members: [fake([1, 1])] });
    await expect(broken.separate(audio)).rejects.toThrow(/never/);
    const six = join(dir, 'six-b.onnx');
    writeFileSync(six, standinSeparationModel({ waveGains: [1, 1, 1, 1, 1, 1], specGains: [0, 0, 0, 0, 0, 0] }));
    const four = join(dir, 'four-b.onnx');
    writeFileSync(four, standinSeparationModel({ waveGains: [1, 1, 1, 1], specGains: [0, 0, 0, 0] }));
    const mixed = new Separator({
      sources: ['drums', 'bass', 'other', 'vocals'],
      members: [
        { name: 'four', weights: [1, 1, 1, 1], load: () => backend.load(four) },
        { name: 'six', weights: [1, 1, 1, 1], load: () => backend.load(six) },
      ],
    });
    await expect(mixed.separate(audio)).rejects.toThrow(/bag member six does not match the bag: 6 sources .* expected 4 sources/);
    await mixed.dispose();
  });
});
