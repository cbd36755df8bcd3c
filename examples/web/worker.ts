/**
 * The demo's Web Worker: the whole pipeline (model, decoding, resampling, separation) runs
 * here, so the page stays responsive.
 */
import { serveSeparation } from 'demucs-mobile/web';

serveSeparation();
