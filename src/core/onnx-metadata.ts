/**
 * The `metadata_props` of an ONNX file, read without decoding the graph: the top-level
 * fields of `ModelProto` are walked and every field but metadata is skipped by its length,
 * so a 174 MB model costs a few small reads.
 */

/**
 * Reads up to `length` bytes at `offset` (fewer only at the end of the data).
 */
export type AsyncByteReader = (offset: number, length: number) => Promise<Uint8Array> | Uint8Array;

/** `ModelProto.metadata_props` (onnx.proto field 14). */
const METADATA_PROPS_FIELD = 14;
/** Protobuf wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
/** Bytes read per step when walking the top level: enough for a tag and a length. */
const HEAD_BYTES = 20;

/**
 * Reads an ONNX model's metadata entries (key → value).
 *
 * @param read - reads the model's bytes.
 * @param totalBytes - the model's size in bytes.
 * @returns the entries, in file order (a repeated key keeps the last value); empty when the
 *   bytes are not a well-formed `ModelProto` top level.
 */
export async function readOnnxMetadata(read: AsyncByteReader, totalBytes: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < totalBytes) {
    const head = await read(pos, HEAD_BYTES);
    const key = varint(head, 0);
    if (key === undefined) return out;
    const field = Math.floor(key.value / 8);
    const wire = key.value & 7;
    let at = key.next;
    if (wire === VARINT) {
      const v = varint(head, at);
      if (v === undefined) return out;
      at = v.next;
    } else if (wire === I64) at += 8;
    else if (wire === I32) at += 4;
    else if (wire === LEN) {
      const len = varint(head, at);
      if (len === undefined) return out;
      at = len.next;
      if (field === METADATA_PROPS_FIELD) {
        const entry = await read(pos + at, len.value);
        const kv = stringEntry(entry);
        if (kv !== undefined) out.set(kv[0], kv[1]);
      }
      at += len.value;
    } else return out;
    pos += at;
  }
  return out;
}

/**
 * Source names from a model's metadata: the key `sources` (or `demucs.sources`), holding a
 * JSON array of names or a comma-separated list.
 *
 * @param metadata - entries from {@link readOnnxMetadata}.
 * @returns the names, or `undefined` when the model does not say.
 */
export function sourcesFromMetadata(metadata: ReadonlyMap<string, string>): string[] | undefined {
  const text = metadata.get('sources') ?? metadata.get('demucs.sources');
  if (text === undefined) return undefined;
  let names: unknown;
  try {
    names = JSON.parse(text);
  } catch {
    names = text.split(',').map((s) => s.trim());
  }
  if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) return undefined;
  return names as string[];
}

function varint(bytes: Uint8Array, start: number): { value: number; next: number } | undefined {
  let value = 0;
  let scale = 1;
  for (let i = start; i < bytes.length && i < start + 8; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    scale *= 128;
  }
  return undefined;
}

/** `StringStringEntryProto { key = 1; value = 2; }`. */
function stringEntry(bytes: Uint8Array): [string, string] | undefined {
  const text = new TextDecoder();
  let key = '';
  let value = '';
  let i = 0;
  while (i < bytes.length) {
    const tag = varint(bytes, i);
    if (tag === undefined || (tag.value & 7) !== LEN) return undefined;
    const len = varint(bytes, tag.next);
    if (len === undefined) return undefined;
    const s = text.decode(bytes.subarray(len.next, len.next + len.value));
    if (tag.value >> 3 === 1) key = s;
    else if (tag.value >> 3 === 2) value = s;
    i = len.next + len.value;
  }
  return [key, value];
}
