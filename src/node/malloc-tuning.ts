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
 * glibc reads them only when a process starts: the `demucs-mobile` CLI re-executes itself
 * with them on Linux; a host application sets them in its own environment
 * (`MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184 node app.js`).
 * Other C libraries (musl, macOS, Windows) ignore them.
 */
export const MALLOC_TUNING: Readonly<Record<'MALLOC_MMAP_THRESHOLD_' | 'MALLOC_TRIM_THRESHOLD_', string>> = Object.freeze({
  MALLOC_MMAP_THRESHOLD_: String(4 * 2 ** 30),
  MALLOC_TRIM_THRESHOLD_: String(16 * 2 ** 30),
});
