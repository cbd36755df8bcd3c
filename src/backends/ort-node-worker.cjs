'use strict';
/**
 * Hosts one onnxruntime-node InferenceSession on a worker thread.
 *
 * onnxruntime-node runs `session.run` synchronously on the calling thread (a setImmediate
 * around the native call), so on the main thread it blocks the event loop for the whole
 * window and nothing can be prepared or written meanwhile. Here it blocks this worker only.
 *
 * Plain CommonJS on purpose: the file is copied into dist/ as it is, and test runners that
 * transform TypeScript for the main thread do not do so for worker threads.
 *
 * Protocol (all messages are plain objects):
 *   main → worker: { type: 'run', id, feeds: { [name]: { dims, data } }, fetches: [name] }
 *                  { type: 'dispose' }
 *   worker → main: { type: 'ready', inputNames, outputNames, inputMetadata, outputMetadata }
 *                  { type: 'result', id, outputs: { [name]: { type, dims, data } } }  (data transferred)
 *                  { type: 'error', id?, message, stage }
 */
const { parentPort, workerData } = require('node:worker_threads');

/** Metadata as plain data (the native objects do not survive structured cloning). */
function plainMetadata(list) {
  return (list || []).map((m) =>
    m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: Array.from(m.shape) } : { name: m.name, isTensor: false },
  );
}

function errorMessage(e) {
  return e instanceof Error ? e.message : String(e);
}

async function main() {
  let ort;
  try {
    ort = require(workerData.ortPath);
  } catch (e) {
    parentPort.postMessage({ type: 'error', stage: 'import', message: errorMessage(e) });
    return;
  }
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.model, workerData.sessionOptions);
  } catch (e) {
    parentPort.postMessage({ type: 'error', stage: 'load', message: errorMessage(e) });
    return;
  }
  parentPort.postMessage({
    type: 'ready',
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: plainMetadata(session.inputMetadata),
    outputMetadata: plainMetadata(session.outputMetadata),
  });
  parentPort.on('message', async (message) => {
    if (message.type === 'dispose') {
      await session.release();
      parentPort.close();
      return;
    }
    if (message.type !== 'run') return;
    try {
      const feeds = {};
      for (const [name, value] of Object.entries(message.feeds)) feeds[name] = new ort.Tensor('float32', value.data, value.dims);
      const results = await session.run(feeds, message.fetches);
      const outputs = {};
      const transfer = [];
      for (const name of message.fetches) {
        const t = results[name];
        outputs[name] = { type: t.type, dims: Array.from(t.dims), data: t.data };
        // Each output owns its whole buffer (measured with onnxruntime-node 1.30), so moving
        // it costs nothing; anything else is copied by structured cloning.
        if (t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength) transfer.push(t.data.buffer);
      }
      parentPort.postMessage({ type: 'result', id: message.id, outputs }, transfer);
    } catch (e) {
      parentPort.postMessage({ type: 'error', id: message.id, stage: 'run', message: errorMessage(e) });
    }
  });
}

main();
