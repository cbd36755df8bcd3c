/**
 * A ready-made Web Worker script (`demucs-mobile/web-worker`) serving {@link WebSeparator}
 * requests; {@link createSeparationWorker} starts it.
 *
 * @packageDocumentation
 */
import { serveSeparation } from './web/separation-worker.js';

serveSeparation();
