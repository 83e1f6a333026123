// A baseline TIFF writer: one 2D grey image, uncompressed, little-endian, one strip (what the annotation export
// and label downloads need; every TIFF reader opens it).
//   encodeTiff({data, shape: [h, w], dtype}) -> Uint8Array   (dtype uint8, uint16, int16, uint32, int32, float32)
//   saveFile(bytes, name, type)              -> the browser's download of bytes as `name`

const FORMATS = {  // dtype -> [bytes per sample, SampleFormat (1 uint, 2 int, 3 float), typed array]
  uint8: [1, 1, Uint8Array], uint16: [2, 1, Uint16Array], int16: [2, 2, Int16Array],
  uint32: [4, 1, Uint32Array], int32: [4, 2, Int32Array], float32: [4, 3, Float32Array],
};

export function encodeTiff({ data, shape, dtype }) {
  const format = FORMATS[dtype];
  if (!format) throw new Error(`a TIFF of ${dtype} pixels: use ${Object.keys(FORMATS).join(", ")}`);
  if (shape.length !== 2) throw new Error(`a TIFF of one 2D image, not ${shape.join("×")}`);
  const [h, w] = shape.map(Number), [size, sampleFormat, Typed] = format;
  if (data.length !== h * w) throw new Error(`${data.length} pixels for a ${h}×${w} image`);
  const pixels = new Typed(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const tags = [  // [tag, type (3 SHORT, 4 LONG), value], in ascending tag order
    [256, 4, w], [257, 4, h], [258, 3, 8 * size], [259, 3, 1], [262, 3, 1], [273, 4, 0],
    [277, 3, 1], [278, 4, h], [279, 4, h * w * size], [284, 3, 1], [339, 3, sampleFormat],
  ];
  const ifdOffset = 8, ifdSize = 2 + 12 * tags.length + 4;
  const dataOffset = ifdOffset + ifdSize + ((ifdOffset + ifdSize) % 2);  // the strip starts on a word
  tags.find((t) => t[0] === 273)[2] = dataOffset;
  const out = new Uint8Array(dataOffset + h * w * size);
  const view = new DataView(out.buffer);
  view.setUint16(0, 0x4949, true);  // "II": little-endian
  view.setUint16(2, 42, true);
  view.setUint32(4, ifdOffset, true);
  view.setUint16(ifdOffset, tags.length, true);
  tags.forEach(([tag, type, value], i) => {
    const at = ifdOffset + 2 + 12 * i;
    view.setUint16(at, tag, true);
    view.setUint16(at + 2, type, true);
    view.setUint32(at + 4, 1, true);
    if (type === 3) view.setUint16(at + 8, value, true);
    else view.setUint32(at + 8, value, true);
  });
  view.setUint32(ifdOffset + 2 + 12 * tags.length, 0, true);  // no next IFD
  const setters = { 1: "setUint8", 2: "setUint16", 4: "setUint32" };
  const setter = sampleFormat === 3 ? "setFloat32" : sampleFormat === 2 ? setters[size].replace("Uint", "Int") : setters[size];
  for (let i = 0; i < pixels.length; i++) view[setter](dataOffset + i * size, pixels[i], true);
  return out;
}

export function saveFile(bytes, name, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
