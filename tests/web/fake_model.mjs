// A second model for the map page's tests: the fixtures ship trained weights for
// musicnn-mtat only, and switching models needs two. This writes a musicnn-msd `.tmw`
// (docs/weights-format.md) from the converted musicnn-mtat file: tensors whose shape
// musicnn-msd shares are kept, the others (the wider back end and dense layers) are
// deterministic pseudo-random (He-scaled weights, zero biases, identity batch norm).
// Its outputs mean nothing; they are real model outputs of a real second model id.
import fs from 'node:fs';

const MAGIC = Buffer.from([0x89, 0x54, 0x4d, 0x57, 0x0d, 0x0a, 0x1a, 0x0a]);
const DTYPE_SIZE = { 1: 4, 2: 8, 3: 2, 4: 8 };

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; ++n) {
    let c = n;
    for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; ++i) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function readTmw(buf) {
  if (!buf.subarray(0, 8).equals(MAGIC)) throw new Error('not a .tmw file');
  const count = buf.readUInt32LE(12);
  let off = Number(buf.readBigUInt64LE(16));
  const tensors = [];
  for (let i = 0; i < count; ++i) {
    const len = buf.readUInt32LE(off); off += 4;
    const name = buf.toString('utf8', off, off + len); off += len;
    const dtype = buf.readUInt32LE(off); off += 4;
    const rank = buf.readUInt32LE(off); off += 4;
    const dims = [];
    for (let r = 0; r < rank; ++r) { dims.push(Number(buf.readBigInt64LE(off))); off += 8; }
    const at = Number(buf.readBigUInt64LE(off)); off += 8;
    const size = Number(buf.readBigUInt64LE(off)); off += 8;
    tensors.push({ name, dtype, dims, data: Buffer.from(buf.subarray(at, at + size)) });
  }
  return tensors;
}

const align64 = (n) => Math.ceil(n / 64) * 64;

export function writeTmw(tensors) {
  let tableSize = 0;
  for (const t of tensors) tableSize += 4 + Buffer.byteLength(t.name) + 4 + 4 + 8 * t.dims.length + 16;
  const dataOffset = align64(64 + tableSize);
  let at = dataOffset;
  const offsets = tensors.map((t) => { const o = at; at = align64(at + t.data.length); return o; });
  const fileSize = tensors.length ? offsets[offsets.length - 1] + tensors[tensors.length - 1].data.length : dataOffset;
  const out = Buffer.alloc(fileSize);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(tensors.length, 12);
  out.writeBigUInt64LE(64n, 16);
  out.writeBigUInt64LE(BigInt(tableSize), 24);
  out.writeBigUInt64LE(BigInt(dataOffset), 32);
  out.writeBigUInt64LE(BigInt(fileSize - dataOffset), 40);
  out.writeBigUInt64LE(BigInt(fileSize), 48);
  let off = 64;
  tensors.forEach((t, i) => {
    const name = Buffer.from(t.name);
    out.writeUInt32LE(name.length, off); off += 4;
    name.copy(out, off); off += name.length;
    out.writeUInt32LE(t.dtype, off); off += 4;
    out.writeUInt32LE(t.dims.length, off); off += 4;
    for (const d of t.dims) { out.writeBigInt64LE(BigInt(d), off); off += 8; }
    out.writeBigUInt64LE(BigInt(offsets[i]), off); off += 8;
    out.writeBigUInt64LE(BigInt(t.data.length), off); off += 8;
    t.data.copy(out, offsets[i]);
  });
  out.writeUInt32LE(crc32(out), 56);
  return out;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32 values of a tensor named `name` with shape `dims`, deterministic in `seed`. */
function synthetic(name, dims, rand) {
  const n = dims.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  if (/running_var$/.test(name) || /bn\.weight$/.test(name) || /^bn\.weight$/.test(name)) v.fill(1);
  else if (/weight$/.test(name)) {
    const fanIn = dims.slice(1).reduce((a, b) => a * b, 1) || 1;
    const s = Math.sqrt(2 / fanIn) * Math.sqrt(3);   // uniform with He variance
    for (let i = 0; i < n; ++i) v[i] = (rand() * 2 - 1) * s;
  }
  return Buffer.from(v.buffer);
}

/**
 * Writes `out`: the tensors of `mtatTmw`, with those listed in `expected` (name -> dims,
 * from `tagmap-convert --list --model musicnn-msd`'s problem lines) replaced.
 */
export function writeFakeModel(mtatTmw, expected, out, seed = 7) {
  const rand = mulberry32(seed);
  const tensors = readTmw(fs.readFileSync(mtatTmw)).map((t) => {
    const dims = expected.get(t.name);
    return dims ? { name: t.name, dtype: 1, dims, data: synthetic(t.name, dims, rand) } : t;
  });
  fs.writeFileSync(out, writeTmw(tensors));
}

/** Parses "tensor 'X' has shape [..], the model expects [a, b]" lines into name -> dims. */
export function expectedShapes(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    const r = /tensor '([^']+)' has shape \[[^\]]*\], the model expects \[([^\]]*)\]/.exec(line);
    if (r) m.set(r[1], r[2].split(',').map((s) => Number(s.trim())).filter((x) => Number.isFinite(x)));
  }
  return m;
}
