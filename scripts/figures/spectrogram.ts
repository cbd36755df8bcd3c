/**
 * The spectrogram figure of the docs: a mix and its four stems, one panel each, on a
 * logarithmic frequency axis and one shared decibel scale, drawn as indexed PNGs inside an SVG
 * (text, axes and the colour bar stay vector).
 *
 * @packageDocumentation
 */
import { createRealFft } from '../../src/core/fft.js';
import { encodeIndexedPng } from './png.js';

/** Sample rate of the model's audio, in Hz. */
const RATE_HZ = 44100;
/** FFT size of the display spectrogram, in samples (46 ms at 44.1 kHz). */
export const DISPLAY_FFT = 2048;
/** Hop between display frames, in samples (11.6 ms at 44.1 kHz). */
export const DISPLAY_HOP = 512;
/** Lowest and highest frequency drawn, in Hz. */
export const F_MIN_HZ = 30;
export const F_MAX_HZ = 16000;
/** Dynamic range drawn below the loudest bin of the mix, in dB. */
export const RANGE_DB = 80;

/** A spectrogram resampled for display: `rows × cols` levels in dB, row 0 at the top (highest frequency). */
export interface DisplaySpectrogram {
  readonly rows: number;
  readonly cols: number;
  readonly db: Float32Array;
}

/**
 * Power spectrogram of a mono signal in dB (`10·log10(|X|²)`, Hann window), resampled to
 * `rows` log-spaced frequencies from {@link F_MIN_HZ} to {@link F_MAX_HZ} (each row the
 * loudest bin of its band, or linear interpolation between bins where a band is narrower than
 * a bin) and `cols` columns (the loudest frame in each column's span, so short hits stay
 * visible).
 */
export function displaySpectrogram(mono: Float32Array, rows: number, cols: number): DisplaySpectrogram {
  const fft = createRealFft(DISPLAY_FFT, 0);
  try {
    const frames = Math.max(1, Math.floor((mono.length - DISPLAY_FFT) / DISPLAY_HOP) + 1);
    const window = Float32Array.from({ length: DISPLAY_FFT }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / DISPLAY_FFT));
    const bins = DISPLAY_FFT / 2 + 1;
    // Each display row covers the band between the geometric midpoints to its neighbours:
    // fractional bins [lo, hi], top row = highest frequency.
    const binOf = (r: number): number => (F_MIN_HZ * (F_MAX_HZ / F_MIN_HZ) ** ((rows - 1 - r) / Math.max(1, rows - 1)) * DISPLAY_FFT) / RATE_HZ;
    const band = Array.from({ length: rows }, (_, r) => {
      const centre = binOf(r);
      return { centre, lo: Math.sqrt(centre * binOf(r + 1)), hi: Math.sqrt(centre * binOf(r - 1)) };
    });
    const power = new Float64Array(bins);
    const db = new Float32Array(rows * cols).fill(-Infinity);
    for (let t = 0; t < frames; t++) {
      const at = t * DISPLAY_HOP;
      for (let n = 0; n < DISPLAY_FFT; n++) fft.signal[n] = (mono[at + n] ?? 0) * window[n]!;
      fft.forward();
      const s = fft.spectrum; // ordered layout: [Re X0, Re X_{N/2}, Re X1, Im X1, …]
      power[0] = s[0]! * s[0]!;
      power[bins - 1] = s[1]! * s[1]!;
      for (let k = 1; k < bins - 1; k++) power[k] = s[2 * k]! * s[2 * k]! + s[2 * k + 1]! * s[2 * k + 1]!;
      const c = Math.min(cols - 1, Math.floor((t * cols) / frames));
      for (let r = 0; r < rows; r++) {
        const { centre, lo, hi } = band[r]!;
        let p = 0;
        if (Math.floor(hi) >= Math.ceil(lo)) {
          // A band of one bin or more: its loudest bin, so no partial is skipped.
          for (let k = Math.ceil(lo); k <= Math.min(bins - 1, Math.floor(hi)); k++) p = Math.max(p, power[k]!);
        } else {
          // Narrower than a bin (low frequencies): linear interpolation at the centre.
          const k = Math.floor(centre);
          p = power[k]! + (centre - k) * (power[Math.min(bins - 1, k + 1)]! - power[k]!);
        }
        const v = 10 * Math.log10(p + 1e-20);
        if (v > db[r * cols + c]!) db[r * cols + c] = v;
      }
    }
    return { rows, cols, db };
  } finally {
    fft.dispose();
  }
}

/**
 * The colour map, dark to bright: anchors at equal spacing (near-black, violet, magenta,
 * coral, orange, pale yellow), interpolated linearly in RGB to 256 entries.
 */
const ANCHORS: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [59, 15, 112],
  [140, 41, 129],
  [222, 73, 104],
  [254, 159, 109],
  [252, 253, 191],
];
/** The 256-colour palette of the panels. */
export const PALETTE: readonly (readonly [number, number, number])[] = Array.from({ length: 256 }, (_, i) => {
  const x = (i / 255) * (ANCHORS.length - 1);
  const a = Math.min(ANCHORS.length - 2, Math.floor(x));
  const f = x - a;
  return ANCHORS[a]!.map((v, j) => Math.round(v + f * (ANCHORS[a + 1]![j]! - v))) as unknown as readonly [number, number, number];
});

/** Palette index of each level: `top − RANGE_DB` → 0, `top` → 255. */
export function toIndices(s: DisplaySpectrogram, topDb: number): Uint8Array {
  const out = new Uint8Array(s.db.length);
  for (let i = 0; i < out.length; i++) {
    const x = (s.db[i]! - (topDb - RANGE_DB)) / RANGE_DB;
    out[i] = Math.round(255 * Math.min(1, Math.max(0, x)));
  }
  return out;
}

/** One panel of the figure. */
export interface Panel {
  readonly label: string;
  /** Planar audio at 44.1 kHz, 1 or 2 channels (drawn as their mean). */
  readonly channels: readonly Float32Array[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The figure as SVG text: one panel per entry, stacked, sharing the time axis and the dB
 * scale (0 dB = the loudest bin of the first panel, normally the mix).
 *
 * @param panels - mix first, then the stems.
 * @param title - the caption line above the panels.
 */
export function spectrogramFigure(panels: readonly Panel[], title: string, size = { width: 720, height: 110 }): string {
  const { width: W, height: H } = size;
  const left = 112;
  const top = 34;
  const gap = 14;
  const barW = 12;
  const right = 70;
  const bottom = 40;
  const specs = panels.map((p) => {
    const mono = new Float32Array(p.channels[0]!.length);
    for (const ch of p.channels) for (let i = 0; i < mono.length; i++) mono[i] = mono[i]! + ch[i]! / p.channels.length;
    return { label: p.label, seconds: mono.length / RATE_HZ, s: displaySpectrogram(mono, H, W) };
  });
  let topDb = -Infinity;
  for (const v of specs[0]!.s.db) if (v > topDb) topDb = v;
  const totalW = left + W + 16 + barW + right;
  const totalH = top + specs.length * (H + gap) - gap + bottom;
  const seconds = specs[0]!.seconds;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${totalW} ${totalH}" width="${totalW}" height="${totalH}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="20" font-size="13" font-weight="600">${esc(title)}</text>`,
  ];
  const freqTicks = [100, 1000, 10000];
  specs.forEach(({ label, s }, i) => {
    const y = top + i * (H + gap);
    const png = encodeIndexedPng({ width: W, height: H, pixels: toIndices(s, topDb), palette: PALETTE });
    out.push(`<text x="${left - 40}" y="${y + H / 2 + 4}" text-anchor="end" font-size="12" font-weight="600">${esc(label)}</text>`);
    out.push(`<image x="${left}" y="${y}" width="${W}" height="${H}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${png.toString('base64')}"/>`);
    for (const f of freqTicks) {
      const fy = y + (H - 1) * (1 - Math.log(f / F_MIN_HZ) / Math.log(F_MAX_HZ / F_MIN_HZ));
      out.push(`<line x1="${left - 4}" x2="${left}" y1="${fy.toFixed(1)}" y2="${fy.toFixed(1)}" stroke="#333"/>`);
      out.push(`<text x="${left - 6}" y="${(fy + 3.5).toFixed(1)}" text-anchor="end" fill="#333">${f >= 1000 ? `${f / 1000}k` : f}</text>`);
    }
    out.push(`<rect x="${left}" y="${y}" width="${W}" height="${H}" fill="none" stroke="#333" stroke-width="0.5"/>`);
  });
  const axisY = top + specs.length * (H + gap) - gap;
  for (let t = 0; t <= Math.floor(seconds); t++) {
    const x = left + (t / seconds) * W;
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${axisY}" y2="${axisY + 4}" stroke="#333"/>`);
    out.push(`<text x="${x.toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#333">${t}</text>`);
  }
  out.push(`<text x="${left + W / 2}" y="${axisY + 32}" text-anchor="middle" fill="#333">time (s); frequency (Hz) on a log scale, ${F_MIN_HZ} Hz to ${F_MAX_HZ / 1000} kHz</text>`);
  // Colour bar: 0 dB at the top, −RANGE_DB at the bottom.
  const barX = left + W + 16;
  const barH = specs.length * (H + gap) - gap;
  const bar = encodeIndexedPng({ width: 1, height: 256, pixels: Uint8Array.from({ length: 256 }, (_, i) => 255 - i), palette: PALETTE });
  out.push(`<image x="${barX}" y="${top}" width="${barW}" height="${barH}" preserveAspectRatio="none" href="data:image/png;base64,${bar.toString('base64')}"/>`);
  out.push(`<rect x="${barX}" y="${top}" width="${barW}" height="${barH}" fill="none" stroke="#333" stroke-width="0.5"/>`);
  for (let d = 0; d <= RANGE_DB; d += 20) {
    const by = top + (d / RANGE_DB) * barH;
    out.push(`<text x="${barX + barW + 4}" y="${(by + 3.5).toFixed(1)}" fill="#333">${d === 0 ? '0 dB' : `−${d}`}</text>`);
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
