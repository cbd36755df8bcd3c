/**
 * The audio track of an MP4/M4A/MOV or ADTS file through mediabunny: its format from the
 * container, and its samples where mediabunny can decode them (PCM anywhere; AAC and the
 * rest through the WebCodecs `AudioDecoder`, which browsers have and Node has not).
 * mediabunny is imported on first use.
 */
import type * as Mediabunny from 'mediabunny';
import { DemucsError } from '../core/errors.js';
import type { AudioStreamInfo, DecodedBlock } from './decode.js';
import { findNonFinite } from './wav.js';

/** An opened audio track. */
export interface ContainerTrack {
  /** The track's format (`frames` is not given: container durations are not sample-exact). */
  readonly info: AudioStreamInfo;
  /** Whether mediabunny can decode the track in this runtime. */
  readonly decodable: boolean;
  /**
   * Decodes the track from the start, one block per decoded packet group.
   *
   * @throws A {@link DemucsError} `ERR_AUDIO_FORMAT` when decoding fails, `ERR_NON_FINITE` for
   *   a NaN or infinite sample.
   */
  blocks(): AsyncGenerator<DecodedBlock>;
  /** Releases the input (and the source). */
  dispose(): void;
}

/** `"name: "` or nothing. */
function prefix(name: string | undefined): string {
  return name === undefined || name === '' ? '' : `${name}: `;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Opens the primary audio track of an MP4/M4A/MOV or ADTS file.
 *
 * @param container - what the file was sniffed as.
 * @param makeSource - builds the mediabunny source over the file (a `BufferSource` over bytes
 *   in memory, a `CustomSource` over a file handle).
 * @param name - the file's name, for messages.
 * @returns the track; {@link ContainerTrack.dispose} it when done.
 * @throws A {@link DemucsError} `ERR_AUDIO_FORMAT` when the file cannot be read or has no
 *   audio track, `ERR_AUDIO_EMPTY` when the track holds no samples.
 *
 * @internal
 */
export async function openContainerTrack(
  container: 'mp4' | 'adts',
  makeSource: (mb: typeof Mediabunny) => Mediabunny.Source,
  name: string | undefined,
): Promise<ContainerTrack> {
  const mb = await import('mediabunny');
  const at = prefix(name);
  const what = container === 'mp4' ? 'MP4/M4A' : 'AAC (ADTS)';
  const input = new mb.Input({ source: makeSource(mb), formats: mb.ALL_FORMATS });
  try {
    let track: Mediabunny.InputAudioTrack | null;
    try {
      track = await input.getPrimaryAudioTrack();
    } catch (e) {
      throw new DemucsError('ERR_AUDIO_FORMAT', `${at}cannot read the ${what} file: ${messageOf(e)}`, { cause: e });
    }
    if (track === null) {
      if ((await input.getTracks()).length === 0) {
        throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the ${what} file holds no tracks (no audio)`);
      }
      throw new DemucsError('ERR_AUDIO_FORMAT', `${at}the ${what} file has no audio track`);
    }
    const audio = track;
    const [codec, sampleRate, channelCount, decodable] = await Promise.all([
      audio.getCodec(),
      audio.getSampleRate(),
      audio.getNumberOfChannels(),
      audio.canDecode(),
    ]);
    if ((await input.computeDuration([audio])) <= 0) {
      throw new DemucsError('ERR_AUDIO_EMPTY', `${at}the ${what} audio track holds no samples`);
    }
    const info: AudioStreamInfo = { container, codec: codec ?? 'unknown', sampleRate, channelCount };
    return {
      info,
      decodable,
      blocks: () => trackBlocks(mb, audio, info, at),
      dispose: () => input.dispose(),
    };
  } catch (e) {
    input.dispose();
    throw e;
  }
}

async function* trackBlocks(
  mb: typeof Mediabunny,
  track: Mediabunny.InputAudioTrack,
  info: AudioStreamInfo,
  at: string,
): AsyncGenerator<DecodedBlock> {
  const sink = new mb.AudioSampleSink(track);
  const samples = sink.samples();
  try {
    yield* decodeSamples(samples, info, at);
  } finally {
    // Stops mediabunny's decoding ahead when the consumer stops early.
    await samples.return(undefined);
  }
}

async function* decodeSamples(
  samples: AsyncGenerator<Mediabunny.AudioSample, void, unknown>,
  info: AudioStreamInfo,
  at: string,
): AsyncGenerator<DecodedBlock> {
  let done = 0;
  for (;;) {
    let next: IteratorResult<Mediabunny.AudioSample>;
    try {
      next = await samples.next();
    } catch (e) {
      throw new DemucsError('ERR_AUDIO_FORMAT', `${at}decoding failed after ${done} frames: ${messageOf(e)}`, { cause: e });
    }
    if (next.done) return;
    const sample = next.value;
    try {
      if (sample.sampleRate !== info.sampleRate || sample.numberOfChannels !== info.channelCount) {
        throw new DemucsError(
          'ERR_AUDIO_FORMAT',
          `${at}decoded audio is ${sample.numberOfChannels} channels at ${sample.sampleRate} Hz, ` +
            `but the track declares ${info.channelCount} at ${info.sampleRate} Hz`,
        );
      }
      // Samples before time 0 are encoder priming that an edit list hides: drop them.
      const skip = sample.timestamp < 0 ? Math.min(sample.numberOfFrames, Math.round(-sample.timestamp * info.sampleRate)) : 0;
      const frames = sample.numberOfFrames - skip;
      if (frames <= 0) continue;
      const block = Array.from({ length: info.channelCount }, (_, c) => {
        const out = new Float32Array(frames);
        sample.copyTo(out, { planeIndex: c, format: 'f32-planar', frameOffset: skip, frameCount: frames });
        return out;
      });
      const bad = findNonFinite(block);
      if (bad !== null) {
        throw new DemucsError(
          'ERR_NON_FINITE',
          `${at}sample ${done + bad.index} of channel ${bad.channel} is ${bad.value}; every sample must be finite`,
        );
      }
      done += frames;
      yield block;
    } finally {
      sample.close();
    }
  }
}

/** A top-level MP4 box that runs past the end of the file. */
export interface TruncatedBox {
  /** The box type, such as `"mdat"`. */
  readonly type: string;
  /** Where the box starts. */
  readonly offset: number;
  /** The size its header declares. */
  readonly size: number;
}

/**
 * Walks the top-level boxes of an MP4/M4A/MOV file and reports the first one that runs
 * past the end of the file: a cut-off file (whose `moov` box, at the end unless the file was
 * written for streaming, is then often missing altogether).
 *
 * @param read - reads bytes of the file (`(offset, length) => bytes`, fewer at the end).
 * @param size - the file's size in bytes.
 * @returns the box cut short, or `undefined` when every box fits.
 *
 * @internal
 */
export function findTruncatedBox(read: (offset: number, length: number) => Uint8Array, size: number): TruncatedBox | undefined {
  let offset = 0;
  while (offset < size) {
    const header = read(offset, 16);
    const type = String.fromCharCode(...header.subarray(4, 8));
    if (header.length < 8) return { type, offset, size: 8 };
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    let boxSize = view.getUint32(0);
    if (boxSize === 1) {
      if (header.length < 16) return { type, offset, size: 16 };
      boxSize = Number(view.getBigUint64(8));
    } else if (boxSize === 0) {
      return undefined; // the box runs to the end of the file
    }
    if (boxSize < 8) return undefined; // not a box structure we can follow; let the demuxer judge
    if (offset + boxSize > size) return { type, offset, size: boxSize };
    offset += boxSize;
  }
  return undefined;
}
