// The Emscripten factories of @echogarden/pffft-wasm, which ships no types. src/core/fft.ts
// describes the functions it calls on the module.
declare module '@echogarden/pffft-wasm' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
declare module '@echogarden/pffft-wasm/simd' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
