/**
 * Decoding and probing files with ffmpeg, ffprobe and sox: independent decoders for the
 * round-trip tests of our encoders. Guard the tests with `skipWithout` from `tools.ts`.
 */
import { execFileSync } from 'node:child_process';

const MAX_BUFFER = 1 << 30;

/** Splits interleaved samples into planar channels. */
export function deinterleave(data: ArrayLike<number>, channelCount: number): Float32Array[] {
  const frames = data.length / channelCount;
  return Array.from({ length: channelCount }, (_, c) => {
    const out = new Float32Array(frames);
    for (let i = 0; i < frames; i++) out[i] = data[i * channelCount + c]!;
    return out;
  });
}

/**
 * Decodes a file with ffmpeg to planar float32. `exact` asks for signed 32-bit integers,
 * divided by 2^31 here: for 16- and 24-bit sources the result is exactly `int / 2^(bits-1)`,
 * what `decodeWav` gives, with no float conversion inside ffmpeg.
 */
export function ffmpegDecode(path: string, channelCount: number, exact = false): Float32Array[] {
  const raw = execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', exact ? 's32le' : 'f32le', '-'], {
    maxBuffer: MAX_BUFFER,
  });
  if (exact) {
    const ints = new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    return deinterleave(Float32Array.from(ints, (v) => v / 2 ** 31), channelCount);
  }
  return deinterleave(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), channelCount);
}

/** Decodes a file with sox to planar float32, exactly as {@link ffmpegDecode} with `exact`. */
export function soxDecode(path: string, channelCount: number): Float32Array[] {
  const raw = execFileSync('sox', [path, '-t', 'raw', '-e', 'signed-integer', '-b', '32', '-'], { maxBuffer: MAX_BUFFER });
  const ints = new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return deinterleave(Float32Array.from(ints, (v) => v / 2 ** 31), channelCount);
}

/** What ffprobe reports about a file's first audio stream. */
export interface ProbedStream {
  readonly codec_name: string;
  readonly sample_rate: string;
  readonly channels: number;
  readonly duration_ts?: number;
  readonly bits_per_raw_sample?: string;
  readonly bit_rate?: string;
  readonly start_time?: string;
  readonly duration?: string;
  readonly tags?: Record<string, string>;
}

/** Runs ffprobe on a file. */
export function ffprobe(path: string): ProbedStream {
  const json = execFileSync(
    'ffprobe',
    ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream', '-of', 'json', path],
    { encoding: 'utf8' },
  );
  return (JSON.parse(json) as { streams: ProbedStream[] }).streams[0]!;
}

/** Signal-to-noise ratio in dB of `decoded` against `reference`, over all channels. */
export function planarSnrDb(reference: readonly Float32Array[], decoded: readonly Float32Array[]): number {
  let signal = 0;
  let noise = 0;
  for (let c = 0; c < reference.length; c++) {
    const x = reference[c]!;
    const y = decoded[c]!;
    for (let i = 0; i < x.length; i++) {
      signal += x[i]! ** 2;
      noise += (x[i]! - y[i]!) ** 2;
    }
  }
  return 10 * Math.log10(signal / noise);
}

/** Largest absolute sample over all channels. */
export function peakOf(channels: readonly Float32Array[]): number {
  let peak = 0;
  for (const ch of channels) for (const v of ch) peak = Math.max(peak, Math.abs(v));
  return peak;
}

/**
 * A deterministic music-like test signal: eight harmonics of a note per channel, low-passed
 * noise and a slow tremolo, scaled so that its peak over all channels is exactly `amp`.
 */
export function musicLike(sampleRate: number, frames: number, channelCount: number, amp = 0.8): Float32Array[] {
  let s = 12345;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const channels = Array.from({ length: channelCount }, (_, c) => {
    let lp = 0;
    return Float64Array.from({ length: frames }, (_, i) => {
      const t = i / sampleRate;
      lp = 0.9 * lp + 0.1 * rnd();
      let v = 0;
      for (let h = 1; h <= 8; h++) v += Math.sin(2 * Math.PI * (220 + 55 * c) * h * t + h) / h;
      return (0.6 + 0.4 * Math.sin(Math.PI * t)) * (0.25 * v + 0.3 * lp);
    });
  });
  let peak = 0;
  for (const ch of channels) for (const v of ch) peak = Math.max(peak, Math.abs(v));
  const out = channels.map((ch) => Float32Array.from(ch, (v) => (v / peak) * amp));
  // Float32 rounding may move the peak by an ulp; pin it.
  const at = out.map((ch) => ch.reduce((best, v, i) => (Math.abs(v) > Math.abs(ch[best]!) ? i : best), 0));
  for (let c = 0; c < out.length; c++) {
    const i = at[c]!;
    if (Math.abs(out[c]![i]!) > amp) out[c]![i] = Math.sign(out[c]![i]!) * amp;
  }
  return out;
}
