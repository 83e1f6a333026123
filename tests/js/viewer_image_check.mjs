// node viewer_image_check.mjs CASES.json: for each case {name, dtype, shape, axes, data, plane, want, choice}
// print one JSON line {name, layout, channel0, contrast, input: {shape, dtype, data} | error} from viewer-image.js.
import { readFileSync } from "node:fs";
import { autoContrast, channelPlane, layout, modelInput } from "../../web/pyapp/viewer-image.js";

const TYPED = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array };
const strides = (shape) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
for (const c of JSON.parse(readFileSync(process.argv[2], "utf8"))) {
  const image = { name: c.name, data: TYPED[c.dtype].from(c.data), shape: c.shape, dtype: c.dtype, axes: c.axes,
                  strides: strides(c.shape) };
  const out = { name: c.name, layout: layout(image), channel0: Array.from(channelPlane(image, c.plane, 0)),
                contrast: autoContrast(image, c.plane) };
  try {
    const made = modelInput(image, c.plane, { want: c.want, choice: c.choice });
    out.input = { shape: made.input.shape, dtype: made.input.dtype, axes: made.axes, data: Array.from(made.input.data) };
  } catch (err) {
    out.error = err.message;
  }
  console.log(JSON.stringify(out));
}
