/**
 * Audio in and out (`demucs-mobile/audio`), for Node and browsers: decoding WAV, MP3, FLAC,
 * Ogg Vorbis/Opus/FLAC (and M4A/AAC where the runtime has a decoder); encoding WAV, FLAC and
 * MP3 (whole or streaming); channel mapping to the two channels the model consumes; and
 * sample-rate conversion to and from the model's 44.1 kHz. The codecs are WebAssembly
 * modules loaded on first use, so WAV-only use never loads them.
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
export { RESAMPLER_DEFAULTS, Resampler, resample, resampledLength, type ResamplerOptions } from './io/resample.js';
export {
  createAudioEncoder,
  encodeAudio,
  ENCODE_AUDIO_DEFAULTS,
  FLAC_SAMPLE_RATES,
  mp3Bitrates,
  MP3_SAMPLE_RATES,
  type AudioEncoder,
  type AudioEncoderOptions,
  type AudioFileFormat,
  type EncodeAudioOptions,
  type EncodedDataSink,
} from './io/encode.js';
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
