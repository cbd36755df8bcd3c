/**
 * Builds `.tgz` archives in tests, written independently of the reader in src/node/tar.ts:
 * ustar headers, with long names stored as a ustar prefix, a pax `path` record or a GNU `L`
 * entry.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/** How a name longer than 100 bytes is stored. */
export type LongNameStyle = 'prefix' | 'pax' | 'gnu';

/** One archive entry. */
export interface TarEntry {
  readonly name: string;
  readonly data?: Uint8Array;
  /** `'0'` file (default), `'5'` directory. */
  readonly type?: '0' | '5';
}

function header(name: string, size: number, type: string, { prefix = '', gnu = false }: { prefix?: string; gnu?: boolean } = {}): Buffer {
  const h = Buffer.alloc(512);
  const put = (text: string, offset: number, length: number) => {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > length) throw new Error(`${JSON.stringify(text)} does not fit ${length} bytes`);
    bytes.copy(h, offset);
  };
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put(`${(1_500_000_000).toString(8).padStart(11, '0')}\0`, 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  if (gnu) put('ustar  \0', 257, 8);
  else put('ustar\x0000', 257, 8);
  put('root', 265, 32);
  put('root', 297, 32);
  if (prefix !== '') put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

function padded(data: Uint8Array): Buffer[] {
  const rest = data.length % 512;
  return rest === 0 ? [Buffer.from(data)] : [Buffer.from(data), Buffer.alloc(512 - rest)];
}

function paxRecord(key: string, value: string): string {
  // The length counts itself: find the fixed point.
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

/**
 * A tar archive of the entries.
 *
 * @param entries - files and directories, in order.
 * @param longNames - how names over 100 bytes are stored.
 */
export function makeTar(entries: readonly TarEntry[], longNames: LongNameStyle = 'pax'): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const type = e.type ?? '0';
    const name = Buffer.byteLength(e.name) <= 100 ? e.name : undefined;
    if (name !== undefined) {
      parts.push(header(name, data.length, type, { gnu: longNames === 'gnu' }));
    } else if (longNames === 'prefix') {
      const cut = e.name.lastIndexOf('/', 155);
      parts.push(header(e.name.slice(cut + 1), data.length, type, { prefix: e.name.slice(0, cut) }));
    } else if (longNames === 'pax') {
      const record = Buffer.from(paxRecord('path', e.name));
      parts.push(header('PaxHeader/long', record.length, 'x'), ...padded(record));
      parts.push(header(e.name.slice(0, 100), data.length, type));
    } else {
      const longName = Buffer.from(`${e.name}\0`);
      parts.push(header('././@LongLink', longName.length, 'L', { gnu: true }), ...padded(longName));
      parts.push(header(e.name.slice(0, 100), data.length, type, { gnu: true }));
    }
    if (data.length > 0) parts.push(...padded(data));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** {@link makeTar}, gzipped. */
export function makeTgz(entries: readonly TarEntry[], longNames: LongNameStyle = 'pax'): Buffer {
  return gzipSync(makeTar(entries, longNames), { level: 1 });
}

/** An npm-like package tarball: `package/package.json`, some padding files, and the model. */
export function makePackageTgz(modelName: string, model: Uint8Array, longNames: LongNameStyle = 'pax'): Buffer {
  return makeTgz(
    [
      { name: 'package', type: '5' },
      { name: 'package/package.json', data: Buffer.from('{"name":"fake-models","version":"1.0.0"}\n') },
      { name: 'package/README.md', data: randomBytes(1234) },
      { name: `package/${modelName}`, data: model },
      { name: 'package/after.txt', data: Buffer.from('trailing entry\n') },
    ],
    longNames,
  );
}
