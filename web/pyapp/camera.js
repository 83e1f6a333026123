// The camera: getUserMedia -> <video> -> a centre crop at the classifier's input size -> top-5 [{label, p}].
//   await pyapp.camera.start()      -> the <video> element (created hidden when the page has none)
//   await pyapp.camera.classify()   -> [{label, p}] (starts the camera when needed)
//   pyapp.camera.stop()
import { pixels, topK } from "./imaging.js";

let stream = null;
let video = null;

export async function classifierId(pyapp) {
  const models = await pyapp.models();
  const found = models.find((m) => m.kind === "classifier");
  if (!found) throw new Error("no bundled classifier: models/index.json lists none with kind \"classifier\"");
  return found.id;
}

// Fixed y/x input size and the output's class names, from the model description.
export async function classifierInfo(pyapp, model) {
  const d = await pyapp.describe(model);
  const size = (id) => d.inputs[0].axes.find((a) => a.id === id)?.size;
  const h = Number.isInteger(size("y")) ? size("y") : 224, w = Number.isInteger(size("x")) ? size("x") : h;
  const channel = d.outputs[0].axes.find((a) => a.type === "channel");
  return { size: Math.min(h, w), names: (channel && channel.channel_names) || null };
}

export function makeCamera(pyapp) {
  async function start(element = null) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser gives no camera access here (it needs https or localhost)");
    }
    if (element && video !== element) { video = element; if (stream) video.srcObject = stream; }
    if (!video) {
      video = document.querySelector("#camera-video") || document.createElement("video");
    }
    if (!stream) {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = stream;
    }
    video.muted = true; video.playsInline = true;
    await video.play();
    if (!video.videoWidth) await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
    return video;
  }

  function stop() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    if (video) video.srcObject = null;
  }

  // The current frame as {data, shape, dtype} RGB uint8 (centre square at `size`, or the full frame).
  function frame(size = null) {
    if (!video || !video.videoWidth) throw new Error("the camera is not running: call pyapp.camera.start() first");
    return pixels(video, video.videoWidth, video.videoHeight, { size });
  }

  async function classify({ model = null, k = 5, ep } = {}) {
    await start();
    const id = model || await classifierId(pyapp);
    const info = await classifierInfo(pyapp, id);
    const result = await pyapp.predict(id, frame(info.size), { axes: "yxc", ...(ep ? { ep } : {}) });
    const top = topK(result.outputs[0], info.names, k);
    return top.map(({ label, p }) => ({ label, p }));
  }

  return { start, stop, frame, classify, get running() { return !!stream; } };
}
