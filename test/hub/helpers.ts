/**
 * Shared set-up of the hub tests: an emulator, a client and backend tuned for fast, bounded
 * tests (millisecond back-offs and polls, second-scale timeouts), and stand-in windows.
 */
import { inspect } from 'node:util';
import { Stft } from '../../src/core/stft.js';
import type { WindowInput } from '../../src/backends/backend.js';
import { QaiHubClient, type QaiHubClientOptions } from '../../src/backends/qualcomm-hub/client.js';
import { QualcommHubBackend, type HubEvent, type QualcommHubBackendOptions } from '../../src/backends/qualcomm-hub/backend.js';
import { MemoryHubCache } from '../../src/backends/qualcomm-hub/cache.js';
import { noise } from '../helpers/noise.js';
import { HubEmulator, type EmulatorOptions } from './emulator/emulator.js';

/** Client options for tests against an emulator: fast retries and polls, bounded waits. */
export function fastOptions(emu: HubEmulator, logs: string[] = [], extra: Partial<QaiHubClientOptions> = {}): QaiHubClientOptions {
  return {
    token: emu.token,
    apiUrl: emu.url,
    configFile: '/nonexistent/client.ini',
    env: {},
    timeoutMs: 2_000,
    storageTimeoutMs: 2_000,
    retry: { retries: 4, backoffMs: 5, maxBackoffMs: 40 },
    rateLimit: { delaysMs: [30, 60], timeoutMs: 5_000 },
    poll: { intervalMs: 5, backoff: 1.5, maxIntervalMs: 40, timeoutMs: 60_000 },
    onLog: (line) => logs.push(line),
    ...extra,
  };
}

/** A started emulator with a client and a backend factory (fresh in-memory cache per backend unless given). */
export async function startHub(options: EmulatorOptions = {}): Promise<{
  emu: HubEmulator;
  logs: string[];
  events: HubEvent[];
  client: QaiHubClient;
  backend: (extra?: Partial<QualcommHubBackendOptions>) => QualcommHubBackend;
}> {
  const emu = await HubEmulator.start(options);
  const logs: string[] = [];
  const events: HubEvent[] = [];
  const client = new QaiHubClient(fastOptions(emu, logs));
  const backend = (extra: Partial<QualcommHubBackendOptions> = {}) =>
    new QualcommHubBackend({ client, cache: new MemoryHubCache(), onEvent: (e) => events.push(e), ...extra });
  return { emu, logs, events, client, backend };
}

/** `count` model windows of `L` samples from noise: planar wave and its CaC spectrogram. */
export function noiseWindows(count: number, L = 44100, seed = 1): WindowInput[] {
  const stft = new Stft(L);
  return Array.from({ length: count }, (_, i) => {
    const wave = noise(2 * L, seed + i);
    const spec = new Float32Array(stft.specLength);
    stft.forward(wave, spec);
    return { wave, spec };
  });
}

/** Everything an error exposes when printed or serialised, causes included. */
export function everythingIn(e: unknown): string {
  return `${inspect(e, { depth: 20, showHidden: true })}\n${(e as Error)?.stack ?? ''}\n${JSON.stringify(e)}`;
}
