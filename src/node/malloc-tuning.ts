/**
 * Allocator settings for processes that run HTDemucs on onnxruntime-node. Node only.
 */

/**
 * glibc malloc settings that keep freed memory for reuse instead of returning every large
 * block to the kernel. onnxruntime frees and reallocates about 2 GB of activations per
 * HTDemucs window; with glibc's defaults every block over 32 MB is a fresh mmap whose pages
 * fault in again on every window (about 25% of the run time). With these set, and
 * onnxruntime's arena off (the {@link OrtNodeBackend} default), windows run as fast as with
 * the arena at half its peak memory (docs/benchmarks.md).
 *
 * `MALLOC_ARENA_MAX=1` keeps every thread on glibc's main arena. Without it a session on a
 * worker thread allocates from a per-thread arena, whose heaps are at most 64 MB, so each
 * larger block is an mmap of its own despite the raised threshold: measured on five windows,
 * 1.65 million page faults against 0.70 million on the main thread, and a 3.1 GB peak against
 * 2.7 GB. With it, a worker-thread session faults and peaks like one on the main thread; on
 * the main thread it changes nothing measurable (docs/benchmarks.md, the session-settings
 * sweep).
 *
 * glibc reads them only when a process starts: the `demucs-mobile` CLI re-executes itself
 * with them on Linux; a host application sets them in its own environment
 * (`MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_ARENA_MAX=1 node app.js`).
 * Other C libraries (musl, macOS, Windows) ignore them.
 */
export const MALLOC_TUNING: Readonly<Record<'MALLOC_MMAP_THRESHOLD_' | 'MALLOC_TRIM_THRESHOLD_' | 'MALLOC_ARENA_MAX', string>> = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: String(4 * 2 ** 30),
  MALLOC_TRIM_THRESHOLD_: String(16 * 2 ** 30),
  MALLOC_ARENA_MAX: '1',
});
