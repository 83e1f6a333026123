// Copy a block of pixels from Python's heap into a JavaScript typed array without an intermediate copy.
// The model worker stitches each output block straight into the typed array the page receives
// (pyapp/runtime/worker_arrays.py): `block` is a numpy array (a PyProxy), `runs` holds byte triples
// (destination offset, block offset, length), one per contiguous run of the block in the destination.
export function stitchRuns(dst, block, runs) {
  const view = block.getBuffer("u8");
  try {
    const bytes = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
    for (let i = 0; i < runs.length; i += 3) {
      bytes.set(view.data.subarray(runs[i + 1], runs[i + 1] + runs[i + 2]), runs[i]);
    }
  } finally {
    view.release();
  }
}
