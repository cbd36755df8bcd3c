/**
 * WebAssembly SIMD kernels of the host pipeline's data movement around the FFTs (AssemblyScript).
 *
 * Compiled by `npm run gen:kernels` (scripts/build-kernels.ts) into
 * src/core/gen/host-kernels-wasm.ts; `src/core/kernels.ts` loads it. Every argument that ends
 * in a pointer is a byte offset into this module's memory, where the caller has put float32
 * data; nothing here allocates. The JavaScript paths of `Stft` and `Istft` compute the same
 * values (tests compare the two).
 *
 * Layouts, with N = 2F the FFT size, T frames, L samples per channel:
 * - CaC spectrogram: `[4][F][T]`, planes 2c and 2c + 1 the real and imaginary parts of audio
 *   channel c (the model's layout);
 * - ordered spectrum (PFFFT's real layout): N floats `[Re X0, Re X(N/2), Re X1, Im X1, …]`;
 * - frame blocks: frame b of a block at `b · 2N` floats (both audio channels, 2N floats per
 *   frame: channel c's N values at `(2b + c) · N`) for the iSTFT, or `b · N` for the STFT's one
 *   channel.
 */

/**
 * Unpacks frames `t0 … t0 + count − 1` of a CaC spectrogram into ordered spectra for the
 * inverse FFT: frame b's channel c goes to `dst + (2b + c) · N · 4`. The Nyquist slot (index 1)
 * is 0 and bin 0's imaginary part is dropped, as torch's inverse real FFT does.
 *
 * Four bins × four frames of each plane are loaded as four vectors (a frame's bins are T
 * floats apart in the model's layout), transposed in registers and written interleaved.
 *
 * @param spec - CaC spectrogram `[4][F][T]`.
 * @param bins - F.
 * @param frames - T.
 * @param t0 - first frame.
 * @param count - frames to unpack.
 * @param dst - `count · 2N` floats.
 */
export function istftUnpack(spec: usize, bins: i32, frames: i32, t0: i32, count: i32, dst: usize): void {
  const fft: usize = <usize>bins << 1;
  const plane: usize = (<usize>bins * <usize>frames) << 2;
  const row: usize = (<usize>frames) << 2;
  const spectrumBytes: usize = fft << 2;
  const vectorFrames = count & ~3;
  for (let k = 0; k < bins; k += 4) {
    const rowStart: usize = (<usize>k * <usize>frames + <usize>t0) << 2;
    for (let c = 0; c < 2; c++) {
      const re = spec + rowStart + <usize>(2 * c) * plane;
      const im = re + plane;
      const out = dst + <usize>c * spectrumBytes + (<usize>k << 3);
      for (let j = 0; j < vectorFrames; j += 4) {
        const jo: usize = <usize>j << 2;
        const r0 = v128.load(re + jo);
        const r1 = v128.load(re + row + jo);
        const r2 = v128.load(re + 2 * row + jo);
        const r3 = v128.load(re + 3 * row + jo);
        const i0 = v128.load(im + jo);
        const i1 = v128.load(im + row + jo);
        const i2 = v128.load(im + 2 * row + jo);
        const i3 = v128.load(im + 3 * row + jo);
        // 4 × 4 transposes: R_q holds bins k … k + 3 of frame j + q.
        const ra = f32x4.shuffle(r0, r1, 0, 4, 1, 5);
        const rb = f32x4.shuffle(r2, r3, 0, 4, 1, 5);
        const rc = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
        const rd = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
        const ia = f32x4.shuffle(i0, i1, 0, 4, 1, 5);
        const ib = f32x4.shuffle(i2, i3, 0, 4, 1, 5);
        const ic = f32x4.shuffle(i0, i1, 2, 6, 3, 7);
        const id = f32x4.shuffle(i2, i3, 2, 6, 3, 7);
        storeInterleaved(out + <usize>j * 2 * spectrumBytes, f32x4.shuffle(ra, rb, 0, 1, 4, 5), f32x4.shuffle(ia, ib, 0, 1, 4, 5));
        storeInterleaved(out + <usize>(j + 1) * 2 * spectrumBytes, f32x4.shuffle(ra, rb, 2, 3, 6, 7), f32x4.shuffle(ia, ib, 2, 3, 6, 7));
        storeInterleaved(out + <usize>(j + 2) * 2 * spectrumBytes, f32x4.shuffle(rc, rd, 0, 1, 4, 5), f32x4.shuffle(ic, id, 0, 1, 4, 5));
        storeInterleaved(out + <usize>(j + 3) * 2 * spectrumBytes, f32x4.shuffle(rc, rd, 2, 3, 6, 7), f32x4.shuffle(ic, id, 2, 3, 6, 7));
      }
      for (let j = vectorFrames; j < count; j++) {
        const p = out + <usize>j * 2 * spectrumBytes;
        const jo: usize = <usize>j << 2;
        for (let q: usize = 0; q < 4; q++) {
          store<f32>(p + (q << 3), load<f32>(re + q * row + jo));
          store<f32>(p + (q << 3) + 4, load<f32>(im + q * row + jo));
        }
      }
    }
  }
  for (let j = 0; j < count; j++) {
    store<f32>(dst + <usize>(2 * j) * spectrumBytes + 4, 0);
    store<f32>(dst + <usize>(2 * j + 1) * spectrumBytes + 4, 0);
  }
}

/** Stores `[re0, im0, re1, im1]` and `[re2, im2, re3, im3]` at `p`. */
// @ts-expect-error: AssemblyScript decorator
@inline
function storeInterleaved(p: usize, re: v128, im: v128): void {
  v128.store(p, f32x4.shuffle(re, im, 0, 4, 1, 5));
  v128.store(p, f32x4.shuffle(re, im, 2, 6, 3, 7), 16);
}

/**
 * Adds windowed frames into a stereo output: for frame b of the block (track frame t0 + b)
 * and channel c, `out_c[s + n] += window[n] · frame[n]` for every n with `0 ≤ s + n < length`,
 * where `s = (t0 + b) · hop − padLeft`.
 *
 * @param frames - `count` frames of both channels (`(2b + c) · fft` floats in).
 * @param count - frames in the block.
 * @param fft - N.
 * @param hop - samples between frames.
 * @param padLeft - samples frame 0 starts before the output.
 * @param t0 - first frame's index.
 * @param window - N floats.
 * @param outLeft - `length` floats.
 * @param outRight - `length` floats.
 * @param length - samples per output channel.
 */
export function overlapAddFrames(
  frames: usize,
  count: i32,
  fft: i32,
  hop: i32,
  padLeft: i32,
  t0: i32,
  window: usize,
  outLeft: usize,
  outRight: usize,
  length: i32,
): void {
  const spectrumBytes: usize = (<usize>fft) << 2;
  for (let b = 0; b < count; b++) {
    const start = (t0 + b) * hop - padLeft;
    const n0 = max(0, -start);
    const n1 = min(fft, length - start);
    for (let c = 0; c < 2; c++) {
      const src = frames + <usize>(2 * b + c) * spectrumBytes;
      const out = (c == 0 ? outLeft : outRight) + (<usize>start << 2);
      let n = n0;
      for (; n + 4 <= n1; n += 4) {
        const q: usize = <usize>n << 2;
        v128.store(out + q, f32x4.add(v128.load(out + q), f32x4.mul(v128.load(window + q), v128.load(src + q))));
      }
      for (; n < n1; n++) {
        const q: usize = <usize>n << 2;
        store<f32>(out + q, load<f32>(out + q) + load<f32>(window + q) * load<f32>(src + q));
      }
    }
  }
}

/**
 * Cuts `count` windowed frames of one channel for the forward FFT: frame b (track frame
 * t0 + b) is `window[n] · x[s + n]` with `s = (t0 + b) · hop − padLeft`, written to
 * `dst + b · fft · 4`. Indices outside `[0, length)` reflect once without repeating the edge
 * sample (`F.pad(mode='reflect')`); the caller guarantees one reflection reaches.
 *
 * @param x - `length` samples.
 * @param length - samples.
 * @param fft - N.
 * @param hop - samples between frames.
 * @param padLeft - samples frame 0 starts before the signal.
 * @param t0 - first frame's index.
 * @param count - frames.
 * @param window - N floats.
 * @param dst - `count · fft` floats.
 */
export function stftFrames(x: usize, length: i32, fft: i32, hop: i32, padLeft: i32, t0: i32, count: i32, window: usize, dst: usize): void {
  const last = length - 1;
  for (let b = 0; b < count; b++) {
    const start = (t0 + b) * hop - padLeft;
    const out = dst + <usize>b * (<usize>fft << 2);
    if (start >= 0 && start + fft <= length) {
      const src = x + (<usize>start << 2);
      for (let n = 0; n < fft; n += 4) {
        const q: usize = <usize>n << 2;
        v128.store(out + q, f32x4.mul(v128.load(window + q), v128.load(src + q)));
      }
    } else {
      for (let n = 0; n < fft; n++) {
        let i = start + n;
        if (i < 0) i = -i;
        else if (i > last) i = 2 * last - i;
        store<f32>(out + (<usize>n << 2), load<f32>(window + (<usize>n << 2)) * load<f32>(x + (<usize>i << 2)));
      }
    }
  }
}

/**
 * Writes `count` ordered spectra (frames t0 … t0 + count − 1 of one channel, each `2 · bins`
 * floats at `spectra + b · 2 · bins · 4`) into the real and imaginary planes of a CaC
 * spectrogram, transposed to `[F][T]` and multiplied by `scale`. Bin 0's imaginary part is 0;
 * the Nyquist bin is dropped.
 *
 * @param spectra - `count` ordered spectra.
 * @param count - frames.
 * @param bins - F.
 * @param frames - T.
 * @param t0 - first frame.
 * @param scale - factor applied to every value.
 * @param re - real plane `[F][T]`.
 * @param im - imaginary plane `[F][T]`.
 */
export function stftPack(spectra: usize, count: i32, bins: i32, frames: i32, t0: i32, scale: f32, re: usize, im: usize): void {
  const spectrumBytes: usize = (<usize>bins) << 3;
  const row: usize = (<usize>frames) << 2;
  const s = f32x4.splat(scale);
  const vectorFrames = count & ~3;
  for (let k = 0; k < bins; k += 4) {
    const rowStart: usize = (<usize>k * <usize>frames + <usize>t0) << 2;
    const reRow = re + rowStart;
    const imRow = im + rowStart;
    const from = spectra + (<usize>k << 3);
    for (let j = 0; j < vectorFrames; j += 4) {
      // Frame j + q's bins k … k + 3, deinterleaved into real and imaginary vectors.
      const p0 = from + <usize>j * spectrumBytes;
      const p1 = p0 + spectrumBytes;
      const p2 = p1 + spectrumBytes;
      const p3 = p2 + spectrumBytes;
      const a0 = v128.load(p0);
      const b0 = v128.load(p0, 16);
      const a1 = v128.load(p1);
      const b1 = v128.load(p1, 16);
      const a2 = v128.load(p2);
      const b2 = v128.load(p2, 16);
      const a3 = v128.load(p3);
      const b3 = v128.load(p3, 16);
      const R0 = f32x4.shuffle(a0, b0, 0, 2, 4, 6);
      const I0 = f32x4.shuffle(a0, b0, 1, 3, 5, 7);
      const R1 = f32x4.shuffle(a1, b1, 0, 2, 4, 6);
      const I1 = f32x4.shuffle(a1, b1, 1, 3, 5, 7);
      const R2 = f32x4.shuffle(a2, b2, 0, 2, 4, 6);
      const I2 = f32x4.shuffle(a2, b2, 1, 3, 5, 7);
      const R3 = f32x4.shuffle(a3, b3, 0, 2, 4, 6);
      const I3 = f32x4.shuffle(a3, b3, 1, 3, 5, 7);
      const jo: usize = <usize>j << 2;
      storeTransposed(reRow + jo, row, R0, R1, R2, R3, s);
      storeTransposed(imRow + jo, row, I0, I1, I2, I3, s);
    }
    for (let j = vectorFrames; j < count; j++) {
      const p = from + <usize>j * spectrumBytes;
      const jo: usize = <usize>j << 2;
      for (let q: usize = 0; q < 4; q++) {
        store<f32>(reRow + q * row + jo, load<f32>(p + (q << 3)) * scale);
        store<f32>(imRow + q * row + jo, load<f32>(p + (q << 3) + 4) * scale);
      }
    }
  }
  // Bin 0 is real: the ordered layout keeps Re X(N/2) where its imaginary part would be.
  for (let j = 0; j < count; j++) store<f32>(im + (<usize>(t0 + j) << 2), 0);
}

/**
 * Transposes four vectors (frames j … j + 3, each bins k … k + 3) and stores row q (bin
 * k + q, frames j … j + 3) at `p + q · row`, scaled.
 */
// @ts-expect-error: AssemblyScript decorator
@inline
function storeTransposed(p: usize, row: usize, v0: v128, v1: v128, v2: v128, v3: v128, s: v128): void {
  const a = f32x4.shuffle(v0, v1, 0, 4, 1, 5);
  const b = f32x4.shuffle(v2, v3, 0, 4, 1, 5);
  const c = f32x4.shuffle(v0, v1, 2, 6, 3, 7);
  const d = f32x4.shuffle(v2, v3, 2, 6, 3, 7);
  v128.store(p, f32x4.mul(f32x4.shuffle(a, b, 0, 1, 4, 5), s));
  v128.store(p + row, f32x4.mul(f32x4.shuffle(a, b, 2, 3, 6, 7), s));
  v128.store(p + 2 * row, f32x4.mul(f32x4.shuffle(c, d, 0, 1, 4, 5), s));
  v128.store(p + 3 * row, f32x4.mul(f32x4.shuffle(c, d, 2, 3, 6, 7), s));
}

/**
 * Overlap-add of one row in float64: `acc[i] += (factor · gains[i]) · src[i]` for i in
 * [0, count), the same operations in the same order as `OverlapAdd.add`'s JavaScript loop.
 *
 * @param acc - float64 accumulator (the row at its first position).
 * @param src - `count` float32 samples.
 * @param gains - `count` float64 per-sample gains.
 * @param count - samples.
 * @param factor - the row's common factor (scale × row scale).
 */
export function overlapAddRow(acc: usize, src: usize, gains: usize, count: i32, factor: f64): void {
  const f = f64x2.splat(factor);
  let i = 0;
  for (; i + 2 <= count; i += 2) {
    const a = acc + (<usize>i << 3);
    const g = f64x2.mul(f, v128.load(gains + (<usize>i << 3)));
    const s = f64x2.promote_low_f32x4(v128.load64_zero(src + (<usize>i << 2)));
    v128.store(a, f64x2.add(v128.load(a), f64x2.mul(g, s)));
  }
  for (; i < count; i++) {
    const a = acc + (<usize>i << 3);
    store<f64>(a, load<f64>(a) + factor * load<f64>(gains + (<usize>i << 3)) * <f64>load<f32>(src + (<usize>i << 2)));
  }
}

/**
 * `dst[i] = float32(src[i] · scale + offset)` for i in [0, count): a float64 row to float32
 * samples, as the separator's de-normalisation does it.
 *
 * @param src - `count` float64 values.
 * @param count - values.
 * @param scale - factor.
 * @param offset - addend.
 * @param dst - `count` float32 values.
 */
export function scaleToFloat32(src: usize, count: i32, scale: f64, offset: f64, dst: usize): void {
  const s = f64x2.splat(scale);
  const o = f64x2.splat(offset);
  let i = 0;
  for (; i + 2 <= count; i += 2) {
    const v = f64x2.add(f64x2.mul(v128.load(src + (<usize>i << 3)), s), o);
    v128.store64_lane(dst + (<usize>i << 2), f32x4.demote_f64x2_zero(v), 0);
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), <f32>(load<f64>(src + (<usize>i << 3)) * scale + offset));
}
