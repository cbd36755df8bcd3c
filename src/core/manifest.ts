/**
 * A small JSON manifest for models made of several files: a bag of models (upstream
 * `BagOfModels`, e.g. `htdemucs_ft`) with its source names and weight matrix.
 *
 * @example
 * ```json
 * {
 *   "format": "demucs-mobile/bag@1",
 *   "name": "htdemucs_ft",
 *   "sources": ["drums", "bass", "other", "vocals"],
 *   "members": [
 *     { "name": "drums", "model": "htdemucs_ft_drums.onnx", "sha256": "…", "weights": [1, 0, 0, 0] },
 *     { "name": "bass", "model": "htdemucs_ft_bass.onnx", "weights": [0, 1, 0, 0] }
 *   ]
 * }
 * ```
 */
import { DemucsError, describeValue } from './errors.js';
import { defaultSourceNames } from './model-spec.js';

/** The `format` value of a bag manifest this version reads. */
export const BAG_MANIFEST_FORMAT = 'demucs-mobile/bag@1';

/** One member of a {@link BagManifest}. */
export interface BagManifestMember {
  /** Name for progress and errors. @defaultValue `member<i>` */
  readonly name: string;
  /** The member's model file, relative to the manifest (or absolute, or an http(s) URL). */
  readonly model: string;
  /** Pinned sha256 of the model file, hex. */
  readonly sha256?: string | undefined;
  /** Weight per source, in source order. */
  readonly weights: readonly number[];
}

/** A parsed bag manifest. */
export interface BagManifest {
  /** Always {@link BAG_MANIFEST_FORMAT}. */
  readonly format: typeof BAG_MANIFEST_FORMAT;
  /** The bag's name. */
  readonly name: string;
  /** Source names in output order. @defaultValue by count: 4 → drums, bass, other, vocals; 6 → + guitar, piano */
  readonly sources: readonly string[];
  /** The members. */
  readonly members: readonly BagManifestMember[];
}

/**
 * Parses and checks a bag manifest.
 *
 * @param json - the manifest's text or parsed JSON.
 * @param origin - where it came from, for error messages.
 * @returns the manifest with defaults filled in.
 * @throws DemucsError `ERR_MODEL_SHAPE` naming the field and value that is wrong.
 */
export function parseBagManifest(json: string | unknown, origin = 'manifest'): BagManifest {
  const fail = (what: string): never => {
    throw new DemucsError('ERR_MODEL_SHAPE', `${origin}: ${what}`);
  };
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      fail(`not JSON (${(e as Error).message})`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`must be a JSON object (got ${describeValue(value)})`);
  const o = value as Record<string, unknown>;
  if (o.format !== BAG_MANIFEST_FORMAT) fail(`format must be ${JSON.stringify(BAG_MANIFEST_FORMAT)} (got ${describeValue(o.format)})`);
  if (!Array.isArray(o.members) || o.members.length === 0) return fail(`members must be a non-empty array (got ${describeValue(o.members)})`);
  const members = o.members.map((m: unknown, i): BagManifestMember => {
    if (typeof m !== 'object' || m === null) return fail(`members[${i}] must be an object (got ${describeValue(m)})`);
    const r = m as Record<string, unknown>;
    if (typeof r.model !== 'string' || r.model === '') fail(`members[${i}].model must be a file name or URL (got ${describeValue(r.model)})`);
    if (r.sha256 !== undefined && (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(r.sha256))) fail(`members[${i}].sha256 must be 64 hex digits (got ${describeValue(r.sha256)})`);
    if (!Array.isArray(r.weights) || r.weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
      fail(`members[${i}].weights must be an array of finite numbers ≥ 0 (got ${describeValue(r.weights)})`);
    }
    if (r.name !== undefined && typeof r.name !== 'string') fail(`members[${i}].name must be a string (got ${describeValue(r.name)})`);
    return { name: (r.name as string | undefined) ?? `member${i}`, model: r.model as string, sha256: r.sha256 as string | undefined, weights: r.weights as number[] };
  });
  const count = members[0]!.weights.length;
  members.forEach((m, i) => {
    if (m.weights.length !== count) fail(`members[${i}].weights has ${m.weights.length} entries; members[0] has ${count}`);
  });
  let sources: readonly string[];
  if (o.sources === undefined) sources = defaultSourceNames(count);
  else if (!Array.isArray(o.sources) || o.sources.some((s) => typeof s !== 'string' || s === '') || new Set(o.sources).size !== o.sources.length) {
    return fail(`sources must be an array of distinct names (got ${describeValue(o.sources)})`);
  } else sources = o.sources as string[];
  if (sources.length !== count) fail(`sources has ${sources.length} names but the weight rows have ${count} entries`);
  sources.forEach((name, k) => {
    if (!members.some((m) => m.weights[k]! > 0)) fail(`no member has a positive weight for source ${JSON.stringify(name)}`);
  });
  return { format: BAG_MANIFEST_FORMAT, name: typeof o.name === 'string' ? o.name : 'bag', sources, members };
}
