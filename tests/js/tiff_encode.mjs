// node tiff_encode.mjs DIR: for every DIR/<name>.<dtype>.<h>x<w>.raw write DIR/<name>.tif with web/pyapp/tiff.js.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeTiff } from "../../web/pyapp/tiff.js";

const TYPED = { uint8: Uint8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array,
                float32: Float32Array };
const dir = process.argv[2];
for (const file of readdirSync(dir).filter((f) => f.endsWith(".raw"))) {
  const [name, dtype, size] = file.slice(0, -4).split(".");
  const [h, w] = size.split("x").map(Number);
  const raw = readFileSync(join(dir, file));
  const data = new TYPED[dtype](raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  writeFileSync(join(dir, `${name}.tif`), encodeTiff({ data, shape: [h, w], dtype }));
}
