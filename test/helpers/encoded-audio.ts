/**
 * Audio files in many formats, made by independent producers (sox, ffmpeg) from one known
 * synthesised signal, so decoders can be checked against the signal itself.
 *
 * ```ts
 * const dir = mkdtempSync(join(tmpdir(), 'decode-'));
 * const file = encodeTestFile(dir, 'mp3-cbr320', { sampleRate: 44100, channelCount: 2 });
 * file.path; file.signal.channels; // the encoded file and what went in
 * ```
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../../src/io/wav.js';

/** Planar test audio. */
export interface TestSignal {
  /** Samples per second, in Hz. */
  readonly sampleRate: number;
  /** One array per channel. */
  readonly channels: Float32Array[];
}

/**
 * A deterministic test signal: per channel a linear chirp, a tone with vibrato and a steady
 * tone (frequencies differ per channel, so a swap shows), slow amplitude modulation, and
 * seeded white noise, with 10 ms fades. Nothing in it repeats, so cross-correlation has one
 * clear peak and a codec's delay can be measured. Peak about 0.45.
 *
 * @param sampleRate - Hz.
 * @param channelCount - channels.
 * @param seconds - length.
 * @param seed - noise seed.
 */
export function synthSignal(sampleRate: number, channelCount: number, seconds = 2.5, seed = 1): TestSignal {
  const frames = Math.round(seconds * sampleRate);
  const fade = Math.round(0.01 * sampleRate);
  const channels = Array.from({ length: channelCount }, (_, c) => {
    let s = (seed * 7919 + c * 104729) >>> 0;
    const k = 1 + 0.11 * c;
    const [f0, f1] = [150 * k, 2500 * k]; // chirp from f0 to f1 over the signal
    const out = new Float32Array(frames);
    for (let i = 0; i < frames; i++) {
      const t = i / sampleRate;
      const chirp = Math.sin(2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * seconds)));
      const vibrato = Math.sin(2 * Math.PI * 1000 * k * t + 8 * Math.sin(2 * Math.PI * 5.3 * t));
      const steady = Math.sin(2 * Math.PI * 3150 * k * t + c);
      let x = 0.16 * chirp + 0.12 * vibrato + 0.06 * steady;
      x *= 0.75 + 0.25 * Math.sin(2 * Math.PI * (0.7 + 0.3 * c) * t);
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      x += 0.04 * ((s / 2 ** 32) * 2 - 1);
      out[i] = x * Math.min(1, i / fade, (frames - 1 - i) / fade);
    }
    return out;
  });
  return { sampleRate, channels };
}

/** The formats {@link encodeTestFile} makes, each with its producer. */
export const ENCODINGS = {
  'wav-u8': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'unsigned-integer', '-b', '8'] },
  'wav-s16': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'signed-integer', '-b', '16'] },
  'wav-s24': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'signed-integer', '-b', '24'] },
  'wav-s32': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'signed-integer', '-b', '32'] },
  'wav-f32': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'floating-point', '-b', '32'] },
  'wav-f64': { ext: 'wav', tool: 'sox', args: ['-t', 'wavpcm', '-e', 'floating-point', '-b', '64'] },
  /** sox writes WAVE_FORMAT_EXTENSIBLE (tag 0xFFFE) for more than 16 bits. */
  'wav-ext-s24': { ext: 'wav', tool: 'sox', args: ['-t', 'wav', '-e', 'signed-integer', '-b', '24'] },
  /** ffmpeg writes WAVE_FORMAT_EXTENSIBLE with the float subformat for pcm_f32le. */
  'wav-ext-f32': { ext: 'wav', tool: 'ffmpeg', args: ['-c:a', 'pcm_f32le'] },
  'flac16': { ext: 'flac', tool: 'sox', args: ['-b', '16'] },
  'flac24': { ext: 'flac', tool: 'sox', args: ['-b', '24'] },
  'ogg-flac': { ext: 'oga', tool: 'ffmpeg', args: ['-c:a', 'flac', '-sample_fmt', 's16', '-f', 'ogg'] },
  'mp3-cbr320': { ext: 'mp3', tool: 'ffmpeg', args: ['-c:a', 'libmp3lame', '-b:a', '320k'] },
  'mp3-vbr': { ext: 'mp3', tool: 'ffmpeg', args: ['-c:a', 'libmp3lame', '-q:a', '2'] },
  /** No Xing/Info (and so no LAME) header: no gapless information at all. */
  'mp3-noxing': { ext: 'mp3', tool: 'ffmpeg', args: ['-c:a', 'libmp3lame', '-b:a', '192k', '-write_xing', '0'] },
  /** An ID3v1 tag at the end as well as the ID3v2 tag at the start. */
  'mp3-id3v1': { ext: 'mp3', tool: 'ffmpeg', args: ['-c:a', 'libmp3lame', '-b:a', '128k', '-write_id3v1', '1', '-metadata', 'title=Test'] },
  'ogg-vorbis': { ext: 'ogg', tool: 'ffmpeg', args: ['-c:a', 'libvorbis', '-q:a', '6'] },
  'ogg-opus': { ext: 'opus', tool: 'ffmpeg', args: ['-c:a', 'libopus', '-b:a', '192k'] },
  'm4a-aac': { ext: 'm4a', tool: 'ffmpeg', args: ['-c:a', 'aac', '-b:a', '256k'] },
  'adts-aac': { ext: 'aac', tool: 'ffmpeg', args: ['-c:a', 'aac', '-b:a', '256k', '-f', 'adts'] },
  'mov-s16': { ext: 'mov', tool: 'ffmpeg', args: ['-c:a', 'pcm_s16le'] },
  // Recognised but unsupported containers.
  'aiff': { ext: 'aiff', tool: 'sox', args: ['-b', '16'] },
  'caf': { ext: 'caf', tool: 'ffmpeg', args: ['-c:a', 'pcm_s16le', '-f', 'caf'] },
  'webm-opus': { ext: 'webm', tool: 'ffmpeg', args: ['-c:a', 'libopus'] },
  'mka-flac': { ext: 'mka', tool: 'ffmpeg', args: ['-c:a', 'flac'] },
  'rf64': { ext: 'wav', tool: 'ffmpeg', args: ['-c:a', 'pcm_s16le', '-rf64', 'always'] },
  'wma': { ext: 'wma', tool: 'ffmpeg', args: ['-c:a', 'wmav2'] },
} as const satisfies Record<string, { ext: string; tool: 'sox' | 'ffmpeg'; args: readonly string[] }>;

/** A format {@link encodeTestFile} makes. */
export type TestEncoding = keyof typeof ENCODINGS;

/** A file made by {@link encodeTestFile}. */
export interface EncodedTestFile {
  /** Where it is. */
  readonly path: string;
  /** What it is. */
  readonly encoding: TestEncoding;
  /** The signal that went in, as float32 (what a perfect decoder returns). */
  readonly signal: TestSignal;
  /** The command that made it. */
  readonly command: string;
}

/** Options of {@link encodeTestFile}. */
export interface EncodeTestFileOptions {
  /** @defaultValue 44100 */
  readonly sampleRate?: number;
  /** @defaultValue 2 */
  readonly channelCount?: number;
  /** @defaultValue 2.5 */
  readonly seconds?: number;
}

/**
 * Writes a signal as a float32 WAV (our own writer; lossless for the float32 samples).
 *
 * @param path - where.
 * @param signal - what.
 */
export function writeFloatWav(path: string, signal: TestSignal): void {
  writeFileSync(path, encodeWav(signal, { bitDepth: 32, clipMode: 'none' }));
}

/**
 * Makes (once per directory) a file of the {@link synthSignal} in an encoding, with sox or
 * ffmpeg from a float32 WAV of it.
 *
 * @param dir - a temporary directory.
 * @param encoding - the format.
 * @param options - rate, channels, length.
 * @returns the file and the signal that went in.
 */
export function encodeTestFile(dir: string, encoding: TestEncoding, options: EncodeTestFileOptions = {}): EncodedTestFile {
  const sampleRate = options.sampleRate ?? 44100;
  const channelCount = options.channelCount ?? 2;
  const seconds = options.seconds ?? 2.5;
  const signal = synthSignal(sampleRate, channelCount, seconds);
  const tag = `${sampleRate}-${channelCount}ch-${seconds}s`;
  const source = join(dir, `source-${tag}.wav`);
  if (!existsSync(source)) writeFloatWav(source, signal);
  const spec = ENCODINGS[encoding];
  const path = join(dir, `${encoding}-${tag}.${spec.ext}`);
  // sox: -D turns dither off, so integer files are the signal rounded to the nearest step.
  const argv =
    spec.tool === 'sox'
      ? ['-D', source, ...spec.args, path]
      : ['-v', 'error', '-y', '-nostdin', '-i', source, ...spec.args, path];
  const command = `${spec.tool} ${argv.join(' ')}`;
  if (!existsSync(path)) {
    const r = spawnSync(spec.tool, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${command} failed (${r.status}): ${r.stderr}`);
  }
  return { path, encoding, signal, command };
}

/** The result of {@link alignAndCompare}. */
export interface Comparison {
  /** Decoded sample `i + lag` matches reference sample `i`: positive when the decoded audio is late. */
  readonly lag: number;
  /** SNR in dB over the overlapping part after alignment, all channels together. */
  readonly snrDb: number;
  /** Largest absolute difference over the overlapping part after alignment. */
  readonly maxAbsError: number;
}

/**
 * Finds the lag between a decoded signal and its reference by cross-correlation of channel 0
 * over a window from the middle, then measures the error with that lag.
 *
 * @param reference - what went into the encoder.
 * @param decoded - what came out of the decoder.
 * @param maxLag - largest lag searched, both ways.
 */
export function alignAndCompare(reference: readonly Float32Array[], decoded: readonly Float32Array[], maxLag = 2400): Comparison {
  const ref = reference[0]!;
  const dec = decoded[0]!;
  const window = 16384;
  const start = Math.max(maxLag, Math.floor(ref.length / 2 - window / 2));
  let best = 0;
  let bestScore = -Infinity;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let s = 0;
    for (let i = start; i < start + window; i++) s += ref[i]! * (dec[i + lag] ?? 0);
    if (s > bestScore) {
      bestScore = s;
      best = lag;
    }
  }
  let signal = 0;
  let noise = 0;
  let maxAbsError = 0;
  for (let c = 0; c < reference.length; c++) {
    const r = reference[c]!;
    const d = decoded[c]!;
    const from = Math.max(0, -best);
    const to = Math.min(r.length, d.length - best);
    for (let i = from; i < to; i++) {
      const e = d[i + best]! - r[i]!;
      signal += r[i]! * r[i]!;
      noise += e * e;
      maxAbsError = Math.max(maxAbsError, Math.abs(e));
    }
  }
  return { lag: best, snrDb: 10 * Math.log10(signal / noise), maxAbsError };
}

/** Kinds of file {@link emptyTestFile} makes. */
export type EmptyTestKind = 'wav' | 'mp3' | 'flac' | 'ogg' | 'opus' | 'm4a';

/**
 * Makes a valid file of a kind that holds no audio frames (ffmpeg with `-frames:a 0`):
 * headers only (an MP3 with an Info frame saying 0 frames, a FLAC with STREAMINFO and no
 * frames, Ogg header pages only, a WAV with an empty data chunk, an M4A with no tracks).
 *
 * @param dir - a temporary directory.
 * @param kind - the extension, which picks ffmpeg's muxer and default codec.
 * @returns the path.
 */
export function emptyTestFile(dir: string, kind: EmptyTestKind): string {
  const path = join(dir, `empty.${kind}`);
  if (!existsSync(path)) {
    const argv = ['-v', 'error', '-y', '-nostdin', '-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo', '-frames:a', '0', path];
    const r = spawnSync('ffmpeg', argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ffmpeg ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return path;
}

/**
 * A copy of `bytes` with `count` seeded random bytes written at `fraction` of its length:
 * damage in the middle of a file.
 *
 * @param bytes - the file.
 * @param fraction - where, 0–1.
 * @param count - how many bytes.
 */
export function damage(bytes: Uint8Array, fraction: number, count: number): Uint8Array {
  const out = bytes.slice();
  let s = 12345;
  const at = Math.floor(bytes.length * fraction);
  for (let i = at; i < Math.min(out.length, at + count); i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/**
 * Decodes a file with ffmpeg to planar float32 at its own rate and channels: an
 * independent decoder to compare against.
 *
 * @param path - the file.
 * @param channelCount - its channels.
 */
export function ffmpegDecode(path: string, channelCount: number): Float32Array[] {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-nostdin', '-i', path, '-f', 'f32le', '-'], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ffmpeg could not decode ${path}: ${r.stderr.toString()}`);
  const bytes = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames = bytes.length / 4 / channelCount;
  return Array.from({ length: channelCount }, (_, c) =>
    Float32Array.from({ length: frames }, (_, f) => view.getFloat32((f * channelCount + c) * 4, true)),
  );
}
