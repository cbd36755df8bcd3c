/**
 * AI Hub datasets: HDF5 files in the layout of the `qai-hub` client
 * (`qai_hub/util/dataset_entries_converters.py`, docs/qualcomm-ai-hub.md §6), written and read
 * with h5wasm (loaded on first use, in memory: no files on disk).
 *
 * Layout: group `data`; for input number i (in the model's input order) a group `data/<i>`
 * with attributes `name`, `order` (= i) and `batch_count`; inside it one dataset per sample,
 * `batch_0 … batch_<n-1>`, each holding that sample's whole array including its leading batch
 * dimension (e.g. `[1, 2, 44100]`). Output datasets use the same layout, keyed by output name.
 */

/** Element types a dataset array may hold, as typed arrays. */
export type HubArrayData = Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | BigInt64Array;

/** One sample of one input or output: its values (row-major) and its shape. */
export interface HubTensor {
  /** Values, row-major. */
  readonly data: HubArrayData;
  /** Shape, including the leading batch dimension (usually 1). */
  readonly shape: readonly number[];
}

/** One named input (or output) of a dataset with all its samples. */
export interface DatasetEntry {
  /** The model's input (or output) name. */
  readonly name: string;
  /** One array per sample; every entry of a dataset has the same number of samples. */
  readonly samples: readonly HubTensor[];
}

/** Options of {@link writeDataset}. */
export interface WriteDatasetOptions {
  /**
   * gzip level (1–9) of every array, or `false` for none. The Python client always
   * compresses; whether AI Hub accepts uncompressed files is not documented.
   * @defaultValue 1 (fastest; audio tensors barely compress anyway)
   */
  readonly compression?: number | false;
}

/** The part of h5wasm this module uses. */
interface H5Module {
  readonly ready: Promise<{ FS: H5Fs }>;
  readonly File: new (path: string, mode: string, options?: { track_order?: boolean }) => H5File;
}
interface H5Fs {
  writeFile(path: string, data: Uint8Array): void;
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
}
interface H5Attr {
  readonly value: unknown;
}
interface H5Group {
  keys(): string[];
  get(path: string): H5Group | H5Dataset | null;
  create_group(name: string): H5Group;
  create_attribute(name: string, value: unknown, shape?: number[] | null, dtype?: string | null): void;
  create_dataset(args: { name: string; data: HubArrayData; shape: number[]; dtype: string; chunks?: number[] | null; compression?: number }): H5Dataset;
  readonly attrs: Record<string, H5Attr>;
  readonly type?: string;
}
interface H5Dataset {
  readonly shape: number[] | null;
  readonly dtype: string;
  readonly value: unknown;
  readonly type?: string;
}
interface H5File extends H5Group {
  close(): void;
}

let h5Promise: Promise<{ h5: H5Module; fs: H5Fs }> | undefined;
let fileCounter = 0;

/** Loads h5wasm once (about 4 MB of WebAssembly), in memory. */
async function loadH5(): Promise<{ h5: H5Module; fs: H5Fs }> {
  h5Promise ??= (async () => {
    const mod = (await import('h5wasm')) as unknown as { default?: H5Module } & H5Module;
    const h5 = mod.default ?? mod;
    const { FS } = await h5.ready;
    return { h5, fs: FS };
  })();
  h5Promise.catch(() => (h5Promise = undefined));
  return h5Promise;
}

const DTYPES: readonly [string, new (n: number) => HubArrayData][] = [
  ['<f', Float32Array],
  ['<i', Int32Array],
  ['<h', Int16Array],
  ['|b', Int8Array],
  ['|B', Uint8Array],
  ['<H', Uint16Array],
  ['<q', BigInt64Array],
];

function dtypeOf(data: HubArrayData): string {
  for (const [dtype, ctor] of DTYPES) if (data instanceof ctor) return dtype;
  throw new TypeError(`dataset arrays must be Float32Array, Int32Array, Int16Array, Int8Array, Uint8Array, Uint16Array or BigInt64Array, not ${Object.prototype.toString.call(data)}`);
}

function checkEntries(entries: readonly DatasetEntry[]): number {
  if (entries.length === 0) throw new RangeError('a dataset needs at least one entry');
  const count = entries[0]!.samples.length;
  const names = new Set<string>();
  for (const entry of entries) {
    if (names.has(entry.name)) throw new RangeError(`dataset entry ${JSON.stringify(entry.name)} appears twice`);
    names.add(entry.name);
    if (entry.samples.length !== count) {
      throw new RangeError(`dataset entry ${JSON.stringify(entry.name)} has ${entry.samples.length} samples; ${JSON.stringify(entries[0]!.name)} has ${count} (every entry needs the same count)`);
    }
    entry.samples.forEach((t, i) => {
      const n = t.shape.reduce((a, b) => a * b, 1);
      if (n !== t.data.length) {
        throw new RangeError(`dataset entry ${JSON.stringify(entry.name)} sample ${i} has ${t.data.length} values for shape [${t.shape.join(', ')}] (${n})`);
      }
    });
  }
  if (count === 0) throw new RangeError('a dataset needs at least one sample');
  return count;
}

/**
 * Writes a dataset as AI Hub's HDF5 file.
 *
 * @param entries - the inputs in the model's input order, each with all its samples.
 * @param options - compression.
 * @returns the `.h5` file's bytes.
 * @throws RangeError when entries disagree on the sample count or a shape does not match
 *   its data; TypeError for an unsupported array type.
 */
export async function writeDataset(entries: readonly DatasetEntry[], options: WriteDatasetOptions = {}): Promise<Uint8Array> {
  const count = checkEntries(entries);
  const level = options.compression ?? 1;
  if (level !== false && !(Number.isInteger(level) && level >= 1 && level <= 9)) {
    throw new RangeError(`compression (${String(level)}) must be an integer in [1, 9] or false`);
  }
  const { h5, fs } = await loadH5();
  const path = `/demucs-mobile-${process.pid}-${++fileCounter}.h5`;
  const file = new h5.File(path, 'w', { track_order: true });
  try {
    const data = file.create_group('data');
    entries.forEach((entry, i) => {
      const group = data.create_group(String(i));
      group.create_attribute('name', entry.name);
      group.create_attribute('order', BigInt(i), null, '<q');
      group.create_attribute('batch_count', BigInt(count), null, '<q');
      entry.samples.forEach((t, b) => {
        const shape = [...t.shape];
        group.create_dataset({
          name: `batch_${b}`,
          data: t.data,
          shape,
          dtype: dtypeOf(t.data),
          ...(level === false ? {} : { chunks: shape, compression: level }),
        });
      });
    });
  } finally {
    file.close();
  }
  try {
    return fs.readFile(path); // a copy, not a view of the heap
  } finally {
    fs.unlink(path);
  }
}

/**
 * Reads an AI Hub HDF5 dataset (an input dataset, or an inference job's output).
 *
 * @param bytes - the `.h5` file.
 * @returns the entries, sorted by their `order` attribute when present (else group order),
 *   each with its samples in `batch_<i>` order.
 * @throws Error naming the group when the file is not in AI Hub's layout.
 */
export async function readDataset(bytes: Uint8Array): Promise<DatasetEntry[]> {
  const { h5, fs } = await loadH5();
  const path = `/demucs-mobile-${process.pid}-${++fileCounter}.h5`;
  fs.writeFile(path, bytes);
  let file: H5File | undefined;
  try {
    file = new h5.File(path, 'r');
    const data = file.get('data');
    if (data === null || typeof (data as H5Group).keys !== 'function') throw new Error('not an AI Hub dataset: the file has no group "data"');
    const root = data as H5Group;
    const groups = root.keys().map((key, position) => {
      const group = root.get(key) as H5Group;
      const attrs = group.attrs;
      const order = attrs.order === undefined ? position : Number(attrs.order.value as bigint | number);
      const name = attrs.name === undefined ? key : String(attrs.name.value);
      return { key, group, order, name };
    });
    groups.sort((a, b) => a.order - b.order);
    return groups.map(({ key, group, name }) => {
      const batches = group
        .keys()
        .map((k) => /^batch_(\d+)$/.exec(k))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      batches.forEach((b, i) => {
        if (b !== i) throw new Error(`not an AI Hub dataset: group "data/${key}" has batch_${b} where batch_${i} belongs`);
      });
      const samples = batches.map((b): HubTensor => {
        const ds = group.get(`batch_${b}`) as H5Dataset;
        const value = ds.value;
        if (!ArrayBuffer.isView(value)) throw new Error(`not an AI Hub dataset: "data/${key}/batch_${b}" holds ${ds.dtype}, not a numeric array`);
        // h5wasm copies values out of the WebAssembly heap: the array is ours.
        return { data: value as HubArrayData, shape: ds.shape ?? [] };
      });
      return { name, samples };
    });
  } finally {
    file?.close();
    fs.unlink(path);
  }
}
