/**
 * The whole host pipeline of upstream `Separator.separate_tensor` + `apply_model`
 * (`demucs/api.py`, `demucs/apply.py`) around one model session, streaming: stem samples are
 * handed out as soon as no later window can change them.
 */
import type { ModelSession, WindowInput, WindowOutput } from '../backends/backend.js';
import type { PlanarAudio } from './audio.js';
import { bagTotal, isModelBag, requiredMembers, validateBag, type ModelBag } from './bag.js';
import { Chunker, type ChunkPlan } from './chunker.js';
import { DEFAULT_OVERLAP, DEFAULT_SHIFTS, DEFAULT_TRANSITION_POWER, MAX_SHIFT_SAMPLES, NORM_EPSILON } from './constants.js';
import { DemucsError, describeValue } from './errors.js';
import { loadWasmFft } from './fft.js';
import { Istft } from './istft.js';
import type { ModelSpec } from './model-spec.js';
import { trackStats, type TrackStats } from './normalize.js';
import { OverlapAdd } from './overlap-add.js';
import { PythonRandom } from './rng.js';
import { arraySource, isAudioSource, type AudioSource } from './source.js';
import { Stft } from './stft.js';

/** Options of a {@link Separator}, fixed for its lifetime. */
export interface SeparatorOptions {
  /**
   * Random shifts to average (the "shift trick"); 0 runs the deterministic unshifted pass.
   * Each shift costs a full pass over the track.
   * @defaultValue 1 (as upstream `apply_model` and the `demucs` CLI)
   */
  readonly shifts?: number;
  /**
   * Seed of the shift draws. With a seed, the draws equal upstream's after
   * `random.seed(seed)` in Python, and repeated calls give identical stems.
   * @defaultValue a fresh random seed per call (reported in {@link SeparationResult.seed})
   */
  readonly seed?: number | bigint;
  /**
   * Overlap between chunks as a fraction of the segment, in [0, 1).
   * @defaultValue 0.25
   */
  readonly overlap?: number;
  /**
   * Chunk length in seconds (upstream `--segment`); at most the model's window for a model
   * with a fixed length, where shorter chunks are zero-padded on the right to the window.
   * @defaultValue the model's window (7.8 s for the released models)
   */
  readonly segment?: number;
  /**
   * Exponent of the triangle blend weight.
   * @defaultValue 1
   */
  readonly transitionPower?: number;
  /**
   * The stems to compute, by source name. The output holds only these (in the model's
   * source order). With a {@link ModelBag}, members whose weight for every requested stem is
   * 0 are never loaded or run; with one model the whole model still runs, and only the
   * host-side work for the other stems is skipped.
   * @defaultValue every source of the model
   */
  readonly stems?: readonly string[];
}

/** Progress of one separation, reported after each model window. */
export interface SeparationProgress {
  /** Model windows finished. */
  readonly windowsDone: number;
  /** Model windows in the whole separation (all shifts). */
  readonly windowsTotal: number;
  /** `windowsDone / windowsTotal`, in [0, 1]. */
  readonly fraction: number;
  /** Seconds since the separation started. */
  readonly elapsedSeconds: number;
  /** Estimated seconds left, from the mean window time; `undefined` before the first window. */
  readonly etaSeconds: number | undefined;
  /** With a {@link ModelBag}: the member whose window just finished (`undefined` at the start). */
  readonly member?: string | undefined;
}

/** Per-call options of {@link Separator.separate} and {@link Separator.stream}. */
export interface SeparateOptions {
  /** Cancels the separation; the call then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called after every model window (and once at the start with 0 done). */
  readonly onProgress?: (progress: SeparationProgress) => void;
  /**
   * Explicit shift draws, each in [0, 22050] (upstream's `offset = random.randint(0,
   * max_shift)`), overriding `shifts` and `seed`. `[22050]` equals no shift.
   * @defaultValue drawn from the seed
   */
  readonly shiftOffsets?: readonly number[];
}

/** A run of finished stem samples. */
export interface StemBlock {
  /** First frame of the block in the track. */
  readonly start: number;
  /** Frames in the block. */
  readonly frames: number;
  /** `stems[source][channel]`, sources in {@link Separator.sources} order, 2 channels. */
  readonly stems: readonly (readonly Float32Array[])[];
}

/** The stems of a whole track. */
export interface SeparationResult {
  /** Sample rate of the stems, in Hz. */
  readonly sampleRate: number;
  /** Source names, in model output order. */
  readonly sources: readonly string[];
  /** Stereo stems by source name: `[left, right]`, each the track's length. */
  readonly stems: Readonly<Record<string, readonly Float32Array[]>>;
  /** The shift draws used (empty for `shifts: 0`). */
  readonly shiftOffsets: readonly number[];
  /** The seed the draws came from, when shifts were drawn. */
  readonly seed: number | bigint | undefined;
  /** The whole-track normalisation. */
  readonly stats: TrackStats;
}

/** Information available before the first block of a stream. */
export interface StreamInfo {
  /** The whole-track normalisation. */
  readonly stats: TrackStats;
  /** The shift draws used. */
  readonly shiftOffsets: readonly number[];
  /** The seed of the draws, if any. */
  readonly seed: number | bigint | undefined;
  /** Model windows the separation will run. */
  readonly windowsTotal: number;
  /**
   * The bag members that run, by name (one entry, the session, for a single model); members
   * no requested stem needs are absent.
   */
  readonly members: readonly string[];
  /**
   * The shift draws of every member of a bag, in bag order, including members that do not
   * run: upstream draws them all from one random stream, so skipping a member must not
   * change the draws of the next. For a single model, `[shiftOffsets]`.
   */
  readonly memberShiftOffsets: readonly (readonly number[])[];
}

/** One shift pass of one model: its padding, its chunk plan and its weights. */
interface Round {
  /** Zeros prepended to the track: `max_shift − offset`. */
  readonly pad: number;
  readonly plan: Chunker;
  next: number;
  /** The member's session. */
  readonly session: ModelSession;
  /** The member's name, for progress events. */
  readonly member: string;
  /** 1 / the member's number of shift passes. */
  readonly gain: number;
  /** Per overlap-add row (source × channel): the member's weight / the source's total; `undefined` for a single model. */
  readonly rowScales: Float64Array | undefined;
}

/** One model window scheduled for a round. */
interface Job {
  readonly round: Round;
  readonly chunk: ChunkPlan;
}

/** Buffers for one window in flight. */
interface Slot {
  readonly wave: Float32Array;
  readonly spec: Float32Array;
}

const RESOLVED_DEFAULTS = Object.freeze({
  shifts: DEFAULT_SHIFTS,
  overlap: DEFAULT_OVERLAP,
  transitionPower: DEFAULT_TRANSITION_POWER,
});

/**
 * Separates tracks into stems with one model session.
 *
 * @example
 * ```ts
 * import { Separator } from 'demucs-mobile';
 * import { OrtNodeBackend } from 'demucs-mobile/node';
 *
 * const session = await new OrtNodeBackend().load('htdemucs.onnx');
 * const separator = new Separator(session, { shifts: 0 });
 * const { stems } = await separator.separate({ sampleRate: 44100, channels: [left, right] });
 * stems.vocals; // [Float32Array, Float32Array]
 * ```
 */
export class Separator {
  /** The model session windows run on; `undefined` for a {@link ModelBag}. */
  readonly session: ModelSession | undefined;
  /** The stems the output holds, in output order (all of the model's sources by default). */
  readonly sources: readonly string[];
  /** Every source the model (or bag) produces, in its output order. */
  readonly modelSources: readonly string[];
  /** The bag, or a bag of one member wrapping the session. */
  readonly #bag: ModelBag;
  /** Indices into {@link Separator.modelSources} of {@link Separator.sources}. */
  readonly #wanted: readonly number[];
  /** Sessions of bag members, loaded on first use and owned by the separator. */
  readonly #loaded = new Map<number, Promise<ModelSession>>();
  readonly #segmentSeconds: number | undefined;
  readonly #shifts: number;
  readonly #seed: number | bigint | undefined;
  readonly #overlap: number;
  readonly #transitionPower: number;
  /**
   * @param model - a loaded model, or a {@link ModelBag} whose members are loaded when a
   *   separation first needs them.
   * @param options - shifts, seed, overlap, segment, transition power, stems.
   * @throws RangeError or TypeError for an invalid option or bag, naming it and its value.
   */
  constructor(model: ModelSession | ModelBag, options: SeparatorOptions = {}) {
    const o = { ...RESOLVED_DEFAULTS, ...stripUndefined(options) };
    if (!Number.isInteger(o.shifts) || o.shifts < 0) throw new RangeError(`shifts (${o.shifts}) must be an integer ≥ 0`);
    if (!(o.overlap >= 0 && o.overlap < 1)) throw new RangeError(`overlap (${o.overlap}) must be in [0, 1)`);
    if (!(o.transitionPower > 0 && Number.isFinite(o.transitionPower))) {
      throw new RangeError(`transitionPower (${o.transitionPower}) must be a positive number`);
    }
    if (options.seed !== undefined && typeof options.seed !== 'bigint' && !Number.isSafeInteger(options.seed)) {
      throw new TypeError(`seed (${options.seed}) must be an integer or a bigint`);
    }
    if (options.segment !== undefined && !(options.segment > 0 && Number.isFinite(options.segment))) {
      throw new RangeError(`segment (${options.segment}) must be a positive number of seconds`);
    }
    if (isModelBag(model)) {
      validateBag(model);
      this.session = undefined;
      this.#bag = model;
    } else {
      this.session = model;
      const session = model;
      this.#bag = { sources: model.spec.sources, members: [{ name: 'model', weights: model.spec.sources.map(() => 1), load: () => Promise.resolve(session) }] };
      this.#loaded.set(0, Promise.resolve(model));
      windowLengths(model.spec, options.segment); // validates the segment now
    }
    this.modelSources = this.#bag.sources;
    const wanted = options.stems === undefined ? this.modelSources.map((_, i) => i) : options.stems.map((name) => {
      const i = this.modelSources.indexOf(name);
      if (i < 0) throw new RangeError(`stems: unknown stem ${describeValue(name)} (the model has ${this.modelSources.join(', ')})`);
      return i;
    });
    if (wanted.length === 0) throw new RangeError('stems: the list is empty');
    this.#wanted = [...new Set(wanted)].sort((a, b) => a - b);
    this.sources = this.#wanted.map((i) => this.modelSources[i]!);
    this.#shifts = o.shifts;
    this.#seed = options.seed;
    this.#overlap = o.overlap;
    this.#transitionPower = o.transitionPower;
    this.#segmentSeconds = options.segment;
  }

  /**
   * The bag members the requested stems need, by name, in bag order (for a single model,
   * one entry).
   */
  get members(): readonly string[] {
    return requiredMembers(this.#bag, this.#wanted).map((m) => this.#bag.members[m]!.name);
  }

  /**
   * Loads the members the requested stems need (once; a single model is already loaded) and
   * returns the model description they share: sample rate, window, sources.
   *
   * @returns the spec of the first member that runs.
   * @throws as the members' `load`, or DemucsError `ERR_MODEL_SHAPE` when members disagree.
   */
  async spec(): Promise<ModelSpec> {
    return (await this.#sessions(requiredMembers(this.#bag, this.#wanted)))[0]!.spec;
  }

  /**
   * Disposes the sessions of bag members this separator loaded. A session passed to the
   * constructor belongs to the caller and is left alone. Safe to call more than once.
   */
  async dispose(): Promise<void> {
    if (this.session !== undefined) return;
    const loaded = [...this.#loaded.values()];
    this.#loaded.clear();
    await Promise.all(loaded.map(async (p) => (await p.catch(() => undefined))?.dispose()));
  }

  /** Loads (once) the sessions of the given members, one after another, and checks they agree. */
  async #sessions(members: readonly number[]): Promise<ModelSession[]> {
    const sessions: ModelSession[] = [];
    for (const m of members) {
      let p = this.#loaded.get(m);
      if (p === undefined) {
        p = this.#bag.members[m]!.load();
        this.#loaded.set(m, p);
        p.catch(() => this.#loaded.delete(m));
      }
      const session = await p;
      const first = sessions[0]?.spec ?? session.spec;
      const spec = session.spec;
      if (spec.sources.length !== this.modelSources.length || spec.sampleRate !== first.sampleRate || spec.segmentSamples !== first.segmentSamples || spec.dynamicSegment !== first.dynamicSegment) {
        throw new DemucsError(
          'ERR_MODEL_SHAPE',
          `bag member ${this.#bag.members[m]!.name} does not match the bag: ${spec.sources.length} sources at ${spec.sampleRate} Hz, ` +
            `window ${spec.segmentSamples}; expected ${this.modelSources.length} sources at ${first.sampleRate} Hz, window ${first.segmentSamples}`,
        );
      }
      sessions.push(session);
    }
    return sessions;
  }

  /**
   * Separates a whole track in memory.
   *
   * @param input - planar audio (1 or 2 channels, at the model's sample rate) or an
   *   {@link AudioSource}.
   * @param options - signal, progress callback, explicit shift draws.
   * @returns stereo stems by source name, with the shifts and statistics used.
   * @throws DemucsError `ERR_SAMPLE_RATE`, `ERR_AUDIO_EMPTY`, `ERR_NON_FINITE`, `ERR_INFERENCE`;
   *   RangeError for more than two channels; the signal's reason when aborted.
   */
  async separate(input: PlanarAudio | AudioSource, options: SeparateOptions = {}): Promise<SeparationResult> {
    const source = isAudioSource(input) ? input : arraySource(input);
    const S = this.sources.length;
    const stems = Array.from({ length: S }, () => [new Float32Array(source.frames), new Float32Array(source.frames)]);
    const stream = this.stream(source, options);
    for await (const block of stream) {
      for (let s = 0; s < S; s++) for (let c = 0; c < 2; c++) stems[s]![c]!.set(block.stems[s]![c]!, block.start);
    }
    const info = stream.info!;
    return {
      sampleRate: source.sampleRate,
      sources: this.sources,
      stems: Object.fromEntries(this.sources.map((name, s) => [name, stems[s]!])),
      shiftOffsets: info.shiftOffsets,
      seed: info.seed,
      stats: info.stats,
    };
  }

  /**
   * Separates a track as a stream of finished blocks, in order and without gaps, holding
   * about one model window of state however long the track is.
   *
   * @param input - planar audio or an {@link AudioSource} (read twice: once for the
   *   whole-track statistics, once window by window).
   * @param options - signal, progress callback, explicit shift draws.
   * @returns an async iterable of {@link StemBlock}s; its `info` is set once the first pass
   *   is done (before the first block).
   * @throws as {@link Separator.separate}.
   */
  stream(input: PlanarAudio | AudioSource, options: SeparateOptions = {}): StemStream {
    const source = isAudioSource(input) ? input : arraySource(input);
    const holder: { info?: StreamInfo } = {};
    const generator = this.#run(source, options, holder);
    return Object.defineProperty(generator, 'info', { get: () => holder.info, enumerable: true }) as StemStream;
  }

  /** Shift draws for every member of the bag, in bag order, from one random stream as upstream. */
  #drawShifts(options: SeparateOptions): { offsets: number[][]; seed: number | bigint | undefined } {
    const members = this.#bag.members.length;
    if (options.shiftOffsets !== undefined) {
      options.shiftOffsets.forEach((s, i) => {
        if (!Number.isInteger(s) || s < 0 || s > MAX_SHIFT_SAMPLES) {
          throw new RangeError(`shiftOffsets[${i}] (${s}) must be an integer in [0, ${MAX_SHIFT_SAMPLES}]`);
        }
      });
      return { offsets: Array.from({ length: members }, () => [...options.shiftOffsets!]), seed: undefined };
    }
    if (this.#shifts === 0) return { offsets: Array.from({ length: members }, () => []), seed: undefined };
    const seed = this.#seed ?? randomSeed();
    const rng = new PythonRandom(seed);
    return { offsets: Array.from({ length: members }, () => Array.from({ length: this.#shifts }, () => rng.randint(0, MAX_SHIFT_SAMPLES))), seed };
  }

  async *#run(
    source: AudioSource,
    options: SeparateOptions,
    holder: { info?: StreamInfo },
  ): AsyncGenerator<StemBlock, void, undefined> {
    const self = this as Separator;
    const { signal, onProgress } = options;
    const bag = self.#bag;
    const active = requiredMembers(bag, self.#wanted);
    const sessions = await self.#sessions(active);
    const spec = sessions[0]!.spec;
    const { segment, window: W } = windowLengths(spec, self.#segmentSeconds);
    if (source.sampleRate !== spec.sampleRate) {
      throw new DemucsError(
        'ERR_SAMPLE_RATE',
        `audio sample rate is ${source.sampleRate} Hz; the model runs at ${spec.sampleRate} Hz and this path does not resample`,
      );
    }
    if (source.channelCount !== 1 && source.channelCount !== 2) {
      throw new RangeError(`audio has ${source.channelCount} channels; give 1 or 2 (map more channels to stereo first)`);
    }
    if (source.frames < 1) throw new DemucsError('ERR_AUDIO_EMPTY', 'audio has no frames');
    const { offsets: memberOffsets, seed } = self.#drawShifts(options);
    const [stats] = await Promise.all([trackStats(source, signal === undefined ? {} : { signal }), loadWasmFft()]);
    const L = source.frames;
    const S = self.modelSources.length;
    const wanted = self.#wanted;
    const single = self.session !== undefined;
    const rounds: Round[] = active.flatMap((m, a) => {
      const offsets = memberOffsets[m]!;
      const pads = offsets.length === 0 ? [0] : offsets.map((s) => MAX_SHIFT_SAMPLES - s);
      const member = bag.members[m]!;
      // Upstream: est[k] = Σ_m W[m][k] · out_m[k] / Σ_m W[m][k], each out_m averaged over its shifts.
      const rowScales = single ? undefined : Float64Array.from({ length: S * 2 }, (_, r) => (wanted.includes(r >> 1) ? member.weights[r >> 1]! / bagTotal(bag, r >> 1) : 0));
      return pads.map((pad) => ({
        pad,
        plan: new Chunker(L + pad, { segment, overlap: self.#overlap, transitionPower: self.#transitionPower }),
        next: 0,
        session: sessions[a]!,
        member: member.name,
        gain: 1 / pads.length,
        rowScales,
      }));
    });
    const windowsTotal = rounds.reduce((n, r) => n + r.plan.chunks.length, 0);
    const shiftOffsets = single ? memberOffsets[0]! : memberOffsets.flat();
    holder.info = { stats, shiftOffsets, seed, windowsTotal, members: active.map((m) => bag.members[m]!.name), memberShiftOffsets: memberOffsets };

    const scale = stats.std + NORM_EPSILON;
    const mean = stats.mean;
    const stft = new Stft(W);
    const istft = new Istft(W);
    const ola = new OverlapAdd(S * 2, segment);
    const result = new Float32Array(S * 2 * W);
    const gains = new Float64Array(segment);

    // Track position of each round before which its output is final: once its windows so far
    // are accumulated (`frontier`), and once its windows so far are scheduled (`scheduled`).
    const frontierAfter = (round: Round, chunk: ChunkPlan) =>
      Math.min(L, Math.max(0, round.plan.finalUpTo(chunk.index) - round.pad));
    const frontier = rounds.map(() => 0);
    const scheduled = rounds.map(() => 0);
    // The next window comes from the round that is furthest behind. Windows are accumulated
    // in the order they are scheduled, so when one is accumulated the global frontier is its
    // round's frontier, and its writes stay within one segment of it: the overlap-add buffer
    // needs only `segment` positions whatever the shifts.
    const nextJob = (): Job | undefined => {
      let best = -1;
      rounds.forEach((r, i) => {
        if (r.next < r.plan.chunks.length && (best < 0 || scheduled[i]! < scheduled[best]!)) best = i;
      });
      if (best < 0) return undefined;
      const round = rounds[best]!;
      const chunk = round.plan.chunks[round.next++]!;
      scheduled[best] = frontierAfter(round, chunk);
      return { round, chunk };
    };

    const prepare = async (job: Job, slot: Slot): Promise<WindowInput> => {
      const { chunk, round } = job;
      const wave = slot.wave;
      wave.fill(0);
      // Window sample i holds u[start + i] with u = [pad zeros, track]; zeros outside.
      const trackStart = chunk.start - round.pad;
      const from = Math.max(0, trackStart);
      const to = Math.min(L, trackStart + segment);
      if (to > from) {
        const at = from - trackStart;
        const left = wave.subarray(at, at + (to - from));
        const right = wave.subarray(W + at, W + at + (to - from));
        if (source.channelCount === 2) {
          await source.read(from, [left, right]);
        } else {
          await source.read(from, [left]);
          right.set(left);
        }
        for (const part of [left, right]) {
          for (let i = 0; i < part.length; i++) part[i] = (part[i]! - mean) / scale;
        }
      }
      stft.forward(wave, slot.spec);
      return slot;
    };

    const blocks: StemBlock[] = [];
    // The overlap-add rows of the wanted stems, de-normalised (acc · scale + mean) as they drain.
    const emitRows = wanted.flatMap((s) => [2 * s, 2 * s + 1]);
    const emit = (rows: readonly Float32Array[], start: number, count: number): void => {
      blocks.push({ start, frames: count, stems: wanted.map((_, j) => [rows[2 * j]!.slice(), rows[2 * j + 1]!.slice()]) });
    };

    const finish = (job: Job, output: WindowOutput): void => {
      const { chunk, round } = job;
      const specLength = istft.specLength;
      for (const s of wanted) {
        istft.inverse(
          output.spec.subarray(s * specLength, (s + 1) * specLength),
          result.subarray(s * 2 * W, (s + 1) * 2 * W),
          output.wave.subarray(s * 2 * W, (s + 1) * 2 * W),
        );
      }
      // Keep R[trim + i] for the chunk's samples, dropping those inside the shift padding.
      const skip = Math.max(0, round.pad - chunk.offset);
      const count = chunk.length - skip;
      round.plan.normalizedWeights(chunk.index, gains);
      if (count > 0) {
        ola.add(chunk.offset + skip - round.pad, result, W, chunk.trim + skip, count, gains.subarray(skip), round.gain, round.rowScales);
      }
      frontier[rounds.indexOf(round)] = frontierAfter(round, chunk);
      ola.drainScaled(Math.min(...frontier), scale, mean, emitRows, emit);
    };

    const started = performance.now();
    let done = 0;
    const report = (member?: string) => {
      if (onProgress === undefined) return;
      const elapsedSeconds = (performance.now() - started) / 1000;
      onProgress({
        windowsDone: done,
        windowsTotal,
        fraction: done / windowsTotal,
        elapsedSeconds,
        etaSeconds: done === 0 ? undefined : (elapsedSeconds / done) * (windowsTotal - done),
        ...(single ? {} : { member }),
      });
    };
    report();

    if (rounds.some((r) => batchLimit(r.session) > 1)) {
      // Batching sessions (a cloud device): hand a session up to `maxBatch` consecutive
      // windows in one call, then finish them in scheduling order, as the pipeline below
      // would. Memory grows with the batch: every window's input and output is held at once.
      let carry = nextJob();
      while (carry !== undefined) {
        signal?.throwIfAborted();
        const session = carry.round.session;
        const limit = batchLimit(session);
        const jobs: Job[] = [];
        const inputs: WindowInput[] = [];
        while (carry !== undefined && carry.round.session === session && jobs.length < limit) {
          jobs.push(carry);
          inputs.push(await prepare(carry, { wave: new Float32Array(2 * W), spec: new Float32Array(stft.specLength) }));
          carry = nextJob();
        }
        const outputs = await session.run(inputs, signal);
        if (outputs.length !== jobs.length) {
          throw new DemucsError('ERR_INFERENCE', `the model session returned ${outputs.length} outputs for ${jobs.length} windows`);
        }
        for (let i = 0; i < jobs.length; i++) {
          finish(jobs[i]!, outputs[i]!);
          done++;
          report(jobs[i]!.round.member);
          for (const block of blocks.splice(0)) yield block;
        }
      }
      return;
    }

    // Pipeline: while the runtime runs window k (off the JS thread), finish window k − 1
    // (iSTFT, overlap-add, emit) and prepare window k + 1 (read, normalise, STFT).
    const slots: Slot[] = [0, 1].map(() => ({ wave: new Float32Array(2 * W), spec: new Float32Array(stft.specLength) }));
    let slotIndex = 0;
    let job = nextJob();
    let input = job === undefined ? undefined : await prepare(job, slots[slotIndex]!);
    let pending: Promise<WindowOutput[]> | undefined;
    try {
      while (job !== undefined && input !== undefined) {
        signal?.throwIfAborted();
        const running = job.round.session.run([input], signal);
        pending = running;
        running.catch(() => undefined); // awaited below; avoid an unhandled rejection on early exit
        const nextJobValue = nextJob();
        slotIndex ^= 1;
        const nextInput = nextJobValue === undefined ? undefined : await prepare(nextJobValue, slots[slotIndex]!);
        const [output] = await running;
        pending = undefined;
        if (output === undefined) throw new DemucsError('ERR_INFERENCE', 'the model session returned no output');
        finish(job, output);
        done++;
        report(job.round.member);
        for (const block of blocks.splice(0)) yield block;
        job = nextJobValue;
        input = nextInput;
      }
    } finally {
      // A consumer that stops early must not leave a rejected run unobserved.
      await pending?.catch(() => undefined);
    }
  }
}

/** The async iterable returned by {@link Separator.stream}. */
export interface StemStream extends AsyncGenerator<StemBlock, void, undefined> {
  /** Set once the first pass is done, before the first block is yielded. */
  readonly info: StreamInfo | undefined;
}

/** Windows one `run` call of a session takes: its `maxBatch`, at least 1. */
function batchLimit(session: ModelSession): number {
  const n = Math.floor(session.maxBatch);
  return Number.isNaN(n) || n < 1 ? 1 : n;
}

/**
 * The chunk length and model window for a model and an optional `segment` in seconds.
 *
 * @throws RangeError when the segment exceeds a fixed model window or is under 4096 samples.
 */
function windowLengths(spec: ModelSpec, segmentSeconds: number | undefined): { segment: number; window: number } {
  let segment = spec.segmentSamples;
  if (segmentSeconds !== undefined) {
    // `int(model.samplerate * segment)`; the epsilon keeps 7.8 s at 343980 samples.
    segment = Math.floor(segmentSeconds * spec.sampleRate + 1e-6);
    if (!spec.dynamicSegment && segment > spec.segmentSamples) {
      throw new RangeError(
        `segment (${segmentSeconds} s = ${segment} samples) must not exceed the model's window of ` +
          `${spec.segmentSamples} samples (${(spec.segmentSamples / spec.sampleRate).toFixed(2)} s)`,
      );
    }
    if (segment < 4096) throw new RangeError(`segment (${segmentSeconds} s) must be at least 4096 samples`);
  }
  return { segment, window: spec.dynamicSegment ? segment : spec.segmentSamples };
}

function randomSeed(): number {
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2));
  // 53 random bits: a safe integer.
  return (words[0]! & 0x1fffff) * 2 ** 32 + words[1]!;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
