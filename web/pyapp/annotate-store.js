// Annotations kept in this browser (IndexedDB "pyapp-annotations"): per annotated image (its content key, and the
// plane for stacks) the label image, and once the plane the labels were drawn on (for training pairs).
//   await put(record)  record: {key, name, shape, labels: Uint16Array, objects, updated}
//   await putImage(key, {data, shape, dtype, axes});  await getImage(key)
//   await get(key) -> record | undefined;  await all() -> [record];  await remove(key);  await removeAll()

const DB = "pyapp-annotations", LABELS = "labels", IMAGES = "images";
let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(LABELS, { keyPath: "key" });
        request.result.createObjectStore(IMAGES);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new Error(`this browser keeps no annotations (${request.error && request.error.name})`));
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

async function run(store, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = action(tx.objectStore(store));
    tx.oncomplete = () => resolve(request && request.result);
    tx.onerror = tx.onabort = () => reject(new Error(`saving annotations failed (${tx.error && tx.error.name})`));
  });
}

export const put = (record) => run(LABELS, "readwrite", (s) => s.put(record));
export const get = (key) => run(LABELS, "readonly", (s) => s.get(key));
export const all = () => run(LABELS, "readonly", (s) => s.getAll());
export const putImage = (key, image) => run(IMAGES, "readwrite", (s) => s.put(image, key));
export const getImage = (key) => run(IMAGES, "readonly", (s) => s.get(key));
export async function remove(key) {
  await run(LABELS, "readwrite", (s) => s.delete(key));
  await run(IMAGES, "readwrite", (s) => s.delete(key));
}
export async function removeAll() {
  await run(LABELS, "readwrite", (s) => s.clear());
  await run(IMAGES, "readwrite", (s) => s.clear());
}
