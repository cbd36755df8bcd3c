/**
 * Convert an audio file to WAV, FLAC or MP3, optionally at another sample rate, with the
 * browser-safe `demucs-mobile/audio` entry only (bytes in, bytes out: the same calls work on
 * a `fetch`ed or `<input type=file>` buffer in a browser).
 *
 *   npx tsx examples/convert.ts <in.mp3|flac|ogg|opus|wav|m4a> <out.wav|flac|mp3> [sample-rate]
 *
 * The input is recognised by its content, not its extension; the output format comes from
 * the output's extension. Prints what was read and what was written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { decodeAudio, encodeAudio, resample, type AudioFileFormat } from 'demucs-mobile/audio';

const [input, output, rateArg] = process.argv.slice(2);
const format = extname(output ?? '').slice(1).toLowerCase();
if (input === undefined || output === undefined || !['wav', 'flac', 'mp3'].includes(format)) {
  console.error('usage: npx tsx examples/convert.ts <in> <out.wav|flac|mp3> [sample-rate]');
  process.exit(2);
}

const decoded = await decodeAudio(new Uint8Array(readFileSync(input)), { name: input });
const { info } = decoded;
console.log(`read ${input}: ${info.container}/${info.codec}, ${info.sampleRate} Hz, ${info.channelCount} ch, ${info.frames} frames`);

// Band-limited resampling (docs/resampler.md has the filter's measured response).
const rate = rateArg === undefined ? decoded.sampleRate : Number(rateArg);
const audio = rate === decoded.sampleRate ? decoded : resample(decoded, rate);

// 'rescale' (the default clip mode) lowers the gain only if a sample would clip.
const bytes = await encodeAudio(audio, { format: format as AudioFileFormat, bitDepth: 16 });
writeFileSync(output, bytes);
console.log(`wrote ${output}: ${format}, ${audio.sampleRate} Hz, ${audio.channels.length} ch, ${audio.channels[0]?.length ?? 0} frames`);
