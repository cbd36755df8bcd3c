/**
 * The song synthesiser (`scripts/synth/`): determinism, exact stem sums, block-size
 * independence, mastering, and that each stem sounds like its category; the WAV writer; the
 * `make-song` CLI's usage errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../scripts/synth/rng.js';
import {
  measureMasterGain,
  planSong,
  renderSongBlocks,
  STEM_NAMES,
  synthesizeSong,
  TARGET_PEAK,
  type Song,
  type SongOptions,
  type StemSignals,
} from '../../scripts/synth/song.js';
import { wavLayout } from '../../src/io/wav.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The song most tests look at: 10 s, long enough for an intro bar and a sung verse. */
const OPTIONS: SongOptions = { seed: 11, seconds: 10 };
const song = synthesizeSong(OPTIONS);
const SR = song.sampleRate;

function sameSamples(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function rms(x: Float32Array | Float64Array): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i]! * x[i]!;
  return Math.sqrt(e / x.length);
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Concatenates the blocks of {@link renderSongBlocks} into whole signals. */
function collect(options: SongOptions, blockFrames: number, masterGain?: number): { mix: Float32Array[]; stems: StemSignals } {
  const frames = planSong(options).frames;
  const mix = [new Float32Array(frames), new Float32Array(frames)];
  const stems = Object.fromEntries(STEM_NAMES.map((n) => [n, [new Float32Array(frames), new Float32Array(frames)]])) as StemSignals;
  let expectedStart = 0;
  const render = masterGain === undefined ? { stems: true } : { stems: true, masterGain };
  for (const block of renderSongBlocks(options, blockFrames, render)) {
    expect(block.start).toBe(expectedStart);
    expect(block.frames).toBe(Math.min(blockFrames, frames - block.start));
    expectedStart += block.frames;
    for (let c = 0; c < 2; c++) {
      mix[c]!.set(block.mix[c]!, block.start);
      for (const n of STEM_NAMES) stems[n][c]!.set(block.stems![n][c]!, block.start);
    }
  }
  expect(expectedStart).toBe(frames);
  return { mix, stems };
}

function expectSameSong(a: { mix: Float32Array[]; stems: StemSignals }, b: Song): void {
  for (let c = 0; c < 2; c++) {
    expect(sameSamples(a.mix[c]!, b.mix[c]!)).toBe(true);
    for (const n of STEM_NAMES) expect(sameSamples(a.stems[n][c]!, b.stems[n][c]!), `${n}[${c}]`).toBe(true);
  }
}

/** 4th-order Butterworth high-pass (two RBJ biquads) of `x`. */
function highpass(x: Float32Array, cutoffHz: number): Float64Array {
  let y = Float64Array.from(x);
  for (const q of [0.5411961, 1.306563]) {
    const w = (2 * Math.PI * cutoffHz) / SR;
    const alpha = Math.sin(w) / (2 * q);
    const cw = Math.cos(w);
    const a0 = 1 + alpha;
    const b0 = (1 + cw) / 2 / a0, b1 = -(1 + cw) / a0, a1 = (-2 * cw) / a0, a2 = (1 - alpha) / a0;
    const out = new Float64Array(y.length);
    let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (let i = 0; i < y.length; i++) {
      const xi = y[i]!;
      const yi = b0 * xi + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = xi;
      y2 = y1;
      y1 = yi;
      out[i] = yi;
    }
    y = out;
  }
  return y;
}

describe('Rng', () => {
  it('repeats its stream for a seed and differs between seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const da = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(da);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(da);
    // The exact stream, cross-checked against an independent Python implementation.
    expect(da.slice(0, 4)).toEqual([457860189, 2702865992, 1229419746, 1597790838]);
  });

  it('draws integers in the inclusive range, and normals with mean 0 and sd 1', () => {
    const rng = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(rng.int(3, 7));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    let sum = 0, sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(Math.sqrt(sq / n) - 1)).toBeLessThan(0.03);
    expect(['a', 'b']).toContain(rng.choice(['a', 'b']));
    expect(() => rng.int(5, 4)).toThrow(RangeError);
    expect(() => rng.choice([])).toThrow(/non-empty/);
    expect(() => new Rng(1.5)).toThrow(/seed \(1.5\)/);
  });
});

describe('synthesizeSong', () => {
  it('is deterministic: the same seed gives bit-identical stems and mix, another seed does not', () => {
    const again = synthesizeSong(OPTIONS);
    expectSameSong(again, song);
    expect(again.meta).toEqual(song.meta);
    const other = synthesizeSong({ ...OPTIONS, seed: 12 });
    expect(sameSamples(other.mix[0]!, song.mix[0]!)).toBe(false);
  });

  it('makes the mix the float32 sum of the float32 stems, exactly', () => {
    const { drums, bass, other, vocals } = song.stems;
    for (let c = 0; c < 2; c++) {
      const m = song.mix[c]!, d = drums[c]!, b = bass[c]!, o = other[c]!, v = vocals[c]!;
      let mismatches = 0;
      for (let i = 0; i < m.length; i++) if (m[i] !== Math.fround(d[i]! + b[i]! + o[i]! + v[i]!)) mismatches++;
      expect(mismatches).toBe(0);
    }
  });

  it('masters the mix to a peak of about -1 dBFS without clipping', () => {
    const peak = Math.max(maxAbs(song.mix[0]!), maxAbs(song.mix[1]!));
    expect(peak).toBeCloseTo(TARGET_PEAK, 6);
    expect(song.meta.peak).toBe(peak);
    for (const n of STEM_NAMES) for (const ch of song.stems[n]) expect(maxAbs(ch)).toBeLessThan(1);
    expect(song.meta.masterGain).toBeGreaterThan(0);
  });

  it('gives every stem audible content, in stereo with 44.1 kHz float32 channels', () => {
    expect(SR).toBe(44100);
    for (const n of STEM_NAMES) {
      expect(song.stems[n]).toHaveLength(2);
      expect(song.stems[n][0]).toBeInstanceOf(Float32Array);
      expect(song.stems[n][0]!.length).toBe(10 * SR);
      // Above -50 dBFS RMS over the whole song.
      expect(rms(song.stems[n][0]!), n).toBeGreaterThan(0.003);
    }
  });

  it('keeps the bass below ~300 Hz (a high-pass at 300 Hz keeps under 10 % of its energy)', () => {
    const ratio = (x: Float32Array): number => rms(highpass(x, 300)) ** 2 / rms(x) ** 2;
    expect(ratio(song.stems.bass[0]!)).toBeLessThan(0.1);
    // The same measure tells the other stems apart.
    expect(ratio(song.stems.other[0]!)).toBeGreaterThan(0.3);
    expect(ratio(song.stems.drums[0]!)).toBeGreaterThan(0.1);
  });

  it('sings with rests, and the voice is harmonic with a fundamental in 100-1000 Hz', () => {
    const [l, r] = song.stems.vocals as [Float32Array, Float32Array];
    const win = Math.round(0.05 * SR);
    let quiet = 0, loud = 0, windows = 0, loudest = 0, loudestAt = 0;
    for (let a = 0; a + win <= l.length; a += win) {
      let e = 0;
      for (let i = a; i < a + win; i++) e += ((l[i]! + r[i]!) / 2) ** 2;
      const level = Math.sqrt(e / win);
      windows++;
      if (level < 1e-3) quiet++;
      if (level > 1e-2) loud++;
      if (level > loudest) [loudest, loudestAt] = [level, a];
    }
    expect(quiet / windows).toBeGreaterThan(0.15);
    expect(loud / windows).toBeGreaterThan(0.2);
    const sections = song.meta.sections;
    expect(sections[0]!.kind).toBe('intro');
    expect(sections[0]!.vocalBars.every((sung) => !sung)).toBe(true);

    // Normalised autocorrelation over lags of 1000..100 Hz in the loudest window.
    const n = 2048;
    const x = Float64Array.from({ length: n }, (_, i) => l[loudestAt + i]! + r[loudestAt + i]!);
    let best = -1, bestLag = 0;
    for (let lag = Math.floor(SR / 1000); lag <= Math.ceil(SR / 100); lag++) {
      let xy = 0, xx = 0, yy = 0;
      for (let i = 0; i + lag < n; i++) {
        xy += x[i]! * x[i + lag]!;
        xx += x[i]! * x[i]!;
        yy += x[i + lag]! * x[i + lag]!;
      }
      const c = xy / Math.sqrt(xx * yy);
      if (c > best) [best, bestLag] = [c, lag];
    }
    expect(best).toBeGreaterThan(0.8);
    const f0 = SR / bestLag;
    expect(f0).toBeGreaterThanOrEqual(100);
    expect(f0).toBeLessThanOrEqual(1000);
  });

  it('pans: left and right differ in the mix, drums and other', () => {
    const correlation = (a: Float32Array, b: Float32Array): number => {
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) {
        ab += a[i]! * b[i]!;
        aa += a[i]! * a[i]!;
        bb += b[i]! * b[i]!;
      }
      return ab / Math.sqrt(aa * bb);
    };
    expect(correlation(song.mix[0]!, song.mix[1]!)).toBeLessThan(0.995);
    expect(correlation(song.stems.drums[0]!, song.stems.drums[1]!)).toBeLessThan(0.9995);
    expect(correlation(song.stems.other[0]!, song.stems.other[1]!)).toBeLessThan(0.99);
  });

  it('rejects bad options with errors that name the option and value', () => {
    expect(() => synthesizeSong({ seed: 1, seconds: 0 })).toThrow(/seconds \(0\)/);
    expect(() => synthesizeSong({ seed: 1, seconds: Number.NaN })).toThrow(RangeError);
    expect(() => synthesizeSong({ seed: 0.5, seconds: 1 })).toThrow(/seed \(0.5\)/);
    expect(() => synthesizeSong({ seed: 1, seconds: 1, tempoBpm: 500 })).toThrow(/tempoBpm \(500\)/);
    expect(() => synthesizeSong({ seed: 1, seconds: 1, key: 'H major' })).toThrow(/key \('H major'\)/);
    expect(() => synthesizeSong({ seed: 1, seconds: 1, sampleRate: 1000 })).toThrow(/sampleRate \(1000\)/);
  });
});

describe('planSong', () => {
  it('draws tempo and key from the seed, honours given ones, and covers the song with sections', () => {
    const meta = planSong({ seed: 5, seconds: 200 });
    expect(meta.tempoBpm).toBeGreaterThanOrEqual(90);
    expect(meta.tempoBpm).toBeLessThanOrEqual(140);
    expect(Number.isInteger(meta.tempoBpm)).toBe(true);
    expect(meta.sections.map((s) => s.kind)).toContain('chorus');
    expect(meta.sections[0]!.startFrame).toBe(0);
    for (let i = 1; i < meta.sections.length; i++) {
      expect(meta.sections[i]!.startFrame).toBe(meta.sections[i - 1]!.endFrame);
    }
    expect(meta.sections[meta.sections.length - 1]!.endFrame).toBe(meta.frames);
    const given = planSong({ seed: 5, seconds: 200, tempoBpm: 100, key: 'F#m' });
    expect(given.tempoBpm).toBe(100);
    expect(given.key).toMatchObject({ tonic: 6, mode: 'minor', name: 'F# minor' });
    // Giving the tempo does not change the other choices (only how many sections fit).
    const common = Math.min(given.sections.length, meta.sections.length);
    const grooves = (m: typeof meta): string[] => m.sections.slice(0, common).map((s) => s.groove);
    expect(grooves(given)).toEqual(grooves(meta));
  });
});

describe('renderSongBlocks', () => {
  it('gives the same samples as synthesizeSong for any block size', () => {
    const gain = song.meta.masterGain;
    for (const blockFrames of [4096, 10007, 1 << 20]) expectSameSong(collect(OPTIONS, blockFrames, gain), song);
  });

  it('measures the same master gain itself, and agrees at tiny blocks', () => {
    const short: SongOptions = { seed: 3, seconds: 2.5 };
    const whole = synthesizeSong(short);
    expect(measureMasterGain(short)).toBe(whole.meta.masterGain);
    expectSameSong(collect(short, 97), whole);
  });

  it('rejects a bad block size or master gain when called', () => {
    expect(() => renderSongBlocks(OPTIONS, 0)).toThrow(/blockFrames \(0\)/);
    expect(() => renderSongBlocks(OPTIONS, 1.5)).toThrow(RangeError);
    expect(() => renderSongBlocks(OPTIONS, 64, { masterGain: -1 })).toThrow(/masterGain \(-1\)/);
  });
});

describe('make-song CLI', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'scripts/make-song.ts', ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

  it('exits with 2 and names the argument and value on bad usage', () => {
    const bad = run(['--seed', 'x7', '--seconds', '1', '-o', join(tmpdir(), 'never.wav')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--seed \('x7'\) must be an integer/);
  });

  it('writes the mix and the four stems', () => {
    const dir = mkdtempSync(join(tmpdir(), 'make-song-'));
    try {
      const out = run(['--seed', '7', '--seconds', '0.5', '-o', join(dir, 'song.wav'), '--stems-dir', join(dir, 'stems')]);
      expect(out.stderr).not.toMatch(/make-song:/);
      expect(out.status).toBe(0);
      const frames = Math.round(0.5 * 44100);
      for (const file of ['song.wav', ...STEM_NAMES.map((n) => join('stems', `${n}.wav`))]) {
        expect(readFileSync(join(dir, file)).length, file).toBe(wavLayout({ channelCount: 2, sampleRate: 44100, bitDepth: 32, frames }).totalBytes);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
