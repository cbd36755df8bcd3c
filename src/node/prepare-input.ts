/**
 * Any audio file on disk made ready for a model: decoded, mapped to stereo, resampled to
 * the model's rate, and kept in a temporary file so the separator can read it at random
 * while memory stays at one block. Node only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioSource } from '../core/source.js';
import { downmixToStereo } from '../io/channels.js';
import type { AudioStreamInfo } from '../io/decode.js';
import { Resampler } from '../io/resample.js';
import { openAudioFile } from './audio-file.js';
import { TempAudioFile } from './temp-audio.js';
import { WavFileSource } from './wav-file.js';

/** Options of {@link prepareInput}. */
export interface PrepareInputOptions {
  /** The model's sample rate, in Hz. @defaultValue 44100 */
  readonly sampleRate?: number;
  /** Where the temporary copy goes. @defaultValue `os.tmpdir()` */
  readonly tempDir?: string;
  /** Cancels decoding. */
  readonly signal?: AbortSignal;
}

/** An input file ready to separate. */
export interface PreparedInput {
  /** The audio at the model's rate, one or two channels. */
  readonly source: AudioSource;
  /** What the file held: container, codec, its own rate and channels. */
  readonly info: AudioStreamInfo;
  /** Frames in the file at its own rate: the length the stems are given back at. */
  readonly frames: number;
  /**
   * How the input got to {@link PreparedInput.source}: `'direct'` when the file is read in
   * place (WAV at the model's rate, mono or stereo), else `'decoded'`.
   */
  readonly path: 'direct' | 'decoded';
  /** Closes the file and deletes any temporary copy. Safe to call more than once. */
  dispose(): Promise<void>;
}

/**
 * Opens an audio file for separation. A WAV file at the model's rate is read in place;
 * anything else (another rate, more than two channels, a compressed codec) is decoded in
 * blocks, downmixed to stereo (see `downmixToStereo`), resampled and appended to a
 * temporary raw file, so a 20-minute MP3 never sits in memory.
 *
 * @param path - the audio file.
 * @param options - model rate, temporary directory, cancellation.
 * @returns the prepared input; call {@link PreparedInput.dispose} when done.
 * @throws A DemucsError from decoding (`ERR_AUDIO_EMPTY`, `ERR_AUDIO_FORMAT`,
 *   `ERR_AUDIO_TRUNCATED`, `ERR_AUDIO_CODEC`, `ERR_NON_FINITE`), nothing left behind.
 */
export async function prepareInput(path: string, options: PrepareInputOptions = {}): Promise<PreparedInput> {
  const rate = options.sampleRate ?? 44100;
  const reader = await openAudioFile(path);
  const { info } = reader;
  if (info.container === 'wav' && info.sampleRate === rate && info.channelCount <= 2 && info.frames !== undefined) {
    await reader.close();
    const source = await WavFileSource.open(path);
    return { source, info, frames: source.frames, path: 'direct', dispose: () => source.close() };
  }
  let dir: string | undefined;
  let temp: TempAudioFile | undefined;
  try {
    dir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'demucs-mobile-'));
    const channels = Math.min(info.channelCount, 2);
    temp = TempAudioFile.create(join(dir, 'input.f32'), rate, channels);
    const resampler = info.sampleRate === rate ? undefined : new Resampler(info.sampleRate, rate, channels);
    let frames = 0;
    for await (const block of reader.blocks()) {
      options.signal?.throwIfAborted();
      const n = block[0]?.length ?? 0;
      if (n === 0) continue;
      frames += n;
      const mapped = block.length > 2 ? downmixToStereo(block) : block;
      const out = resampler === undefined ? mapped : resampler.process(mapped);
      if ((out[0]?.length ?? 0) > 0) temp.append(out);
    }
    if (resampler !== undefined) {
      const tail = resampler.flush();
      if ((tail[0]?.length ?? 0) > 0) temp.append(tail);
    }
    await reader.close();
    const store = temp;
    const folder = dir;
    return {
      source: store.source(),
      info,
      frames,
      path: 'decoded',
      async dispose() {
        store.dispose();
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await reader.close();
    temp?.dispose();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
