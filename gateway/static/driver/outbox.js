// The offline queue: every ping and status change goes through IndexedDB first, in the order
// it was made, with the device time it was made at; the socket sends and removes the entries
// in that order once it is live (see link.js). Entries belong to the signed-in user: another
// driver signing in on the same phone never sends them.

const DB_NAME = "movehub-driver";
const STORE = "outbox";
const VERSION = 1;

let opening = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function open() {
  if (!opening) {
    const req = indexedDB.open(DB_NAME, VERSION);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      store.createIndex("owner", "owner");
    };
    opening = request(req);
  }
  return opening;
}

async function store(mode) {
  const db = await open();
  return db.transaction(STORE, mode).objectStore(STORE);
}

// Adds one frame to the end of the queue; resolves with its sequence number.
export async function push(owner, frame) {
  return request((await store("readwrite")).add({ owner, frame, queued_at: Date.now() / 1000 }));
}

// The owner's entries, oldest first.
export async function pending(owner) {
  const all = await request((await store("readonly")).index("owner").getAll(owner));
  return all.sort((a, b) => a.seq - b.seq);
}

export async function remove(seq) {
  return request((await store("readwrite")).delete(seq));
}

export async function count(owner) {
  return request((await store("readonly")).index("owner").count(owner));
}
