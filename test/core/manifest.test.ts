import { describe, expect, it } from 'vitest';
import { BAG_MANIFEST_FORMAT, parseBagManifest } from '../../src/core/manifest.js';

const good = {
  format: BAG_MANIFEST_FORMAT,
  name: 'ft',
  members: [
    { name: 'drums', model: 'a.onnx', weights: [1, 0, 0, 0] },
    { model: 'b.onnx', sha256: 'ab'.repeat(32), weights: [0, 1, 1, 1] },
  ],
};

describe('parseBagManifest', () => {
  it('fills the defaults: source names by count, member names by position', () => {
    const m = parseBagManifest(JSON.stringify(good), 'ft.json');
    expect(m.sources).toEqual(['drums', 'bass', 'other', 'vocals']);
    expect(m.members.map((x) => x.name)).toEqual(['drums', 'member1']);
    expect(m.members[1]!.sha256).toBe('ab'.repeat(32));
  });

  it('names the field and value that is wrong', () => {
    const bad = (patch: object) => () => parseBagManifest({ ...good, ...patch }, 'ft.json');
    expect(() => parseBagManifest('{', 'ft.json')).toThrow(/ft\.json: not JSON/);
    expect(bad({ format: 'x' })).toThrow(/format must be "demucs-mobile\/bag@1" \(got "x"\)/);
    expect(bad({ members: [] })).toThrow(/members must be a non-empty array/);
    expect(bad({ members: [{ model: 'a.onnx', weights: [1, -2] }] })).toThrow(/members\[0\]\.weights must be an array of finite numbers ≥ 0/);
    expect(bad({ members: [{ model: 'a.onnx', weights: [1, 0] }, { model: 'b.onnx', weights: [1] }] })).toThrow(/members\[1\]\.weights has 1 entries; members\[0\] has 2/);
    expect(bad({ sources: ['a', 'b', 'c'] })).toThrow(/sources has 3 names but the weight rows have 4 entries/);
    expect(bad({ members: [{ model: 'a.onnx', weights: [1, 0, 0, 0] }] })).toThrow(/no member has a positive weight for source "bass"/);
    expect(bad({ members: [{ model: 'a.onnx', sha256: 'xyz', weights: [1, 1, 1, 1] }] })).toThrow(/members\[0\]\.sha256 must be 64 hex digits/);
    expect(bad({ sources: ['a', 'a', 'b', 'c'] })).toThrow(/sources must be an array of distinct names/);
  });
});
