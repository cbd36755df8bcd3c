/**
 * Typed-array brand checks that hold across realms (workers, iframes, test sandboxes),
 * where `instanceof` does not.
 *
 * @internal
 */

/** Whether `value` is a `Float32Array`, from any realm. @internal */
export function isFloat32Array(value: unknown): value is Float32Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Float32Array]';
}

/** Whether `value` is a `Uint8Array`, from any realm. @internal */
export function isUint8Array(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]';
}
