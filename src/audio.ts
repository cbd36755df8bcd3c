/**
 * Audio in and out (`demucs-mobile/audio`), for Node and browsers: decoding WAV, MP3, FLAC,
 * Ogg Vorbis/Opus/FLAC (and M4A/AAC where the runtime has a decoder), WAV encoding, and
 * channel mapping to the two channels the model consumes. The compressed-audio decoders are
 * WebAssembly modules loaded on first use, so WAV-only use never loads them.
 *
 * @packageDocumentation
 */
export {
  computeClipGain,
  decodeWav,
  decodeWavFrames,
  encodeWav,
  encodeWavSamples,
  findNonFinite,
  parseWavHeader,
  peakAmplitude,
  WAV_ENCODE_DEFAULTS,
  wavHeader,
  wavLayout,
  type ByteReader,
  type ClipGain,
  type ClipMode,
  type DecodedWav,
  type DecodeWavOptions,
  type EncodeWavOptions,
  type NonFiniteSample,
  type WavBitDepth,
  type WavEncoding,
  type WavFormat,
  type WavHeaderFormat,
  type WavInfo,
  type WavLayout,
} from './io/wav.js';
export { toStereo } from './io/channels.js';
export { AUDIO_CONTAINER_NAMES, SNIFF_BYTES, sniffAudioFormat, type AudioContainer } from './io/sniff.js';
export {
  createStreamingDecoder,
  decodeAudio,
  type AudioStreamInfo,
  type DecodeAudioOptions,
  type DecodedAudio,
  type DecodedBlock,
  type StreamingAudioDecoder,
  type StreamingDecoderOptions,
} from './io/decode.js';
