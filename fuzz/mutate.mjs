// Deterministic mutants: mutant i of seed s is a pure function of (s, i), so a run resumes at any index
// and any finding replays alone (`npm run fuzz -- --seed S --start I --count 1 --verbose`).

/** sfc32 seeded from (seed, index) through a 32-bit mix. */
export function rngFor(seed, index) {
  const mix = (h) => {
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };
  let a = mix(seed ^ 0x9e3779b9);
  let b = mix(index ^ 0x7f4a7c15);
  let c = mix(a ^ b);
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (list) => list[int(list.length)], chance: (p) => next() < p };
}

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x39, 0x2d, 0x65,
];

/** Byte-level mutations: flips, interesting bytes, inserted/deleted/duplicated ranges, truncation. */
export function mutateBytes(bytes, r, { from = 0, to = bytes.length, ops = 1 + r.int(4) } = {}) {
  let out = bytes.slice();
  for (let k = 0; k < ops; k++) {
    const lo = Math.min(from, out.length);
    const hi = Math.max(lo, Math.min(to, out.length));
    const at = lo + r.int(Math.max(1, hi - lo));
    switch (r.int(8)) {
      case 0:
        if (at < out.length) out[at] ^= 1 << r.int(8);
        break;
      case 1:
        if (at < out.length) out[at] = r.pick(INTERESTING_BYTES);
        break;
      case 2: {
        // little-endian integer field overwritten
        const v = r.pick([0, 1, 2, 7, 8, 0xffff, 0x7fffffff, 0xffffffff, r.int(1 << 20)]);
        for (let j = 0; j < 4 && at + j < out.length; j++) out[at + j] = (v >>> (8 * j)) & 0xff;
        break;
      }
      case 3: {
        // insert random bytes
        const n = 1 + r.int(16);
        const ins = Uint8Array.from({ length: n }, () => r.int(256));
        out = concat(out.subarray(0, at), ins, out.subarray(at));
        break;
      }
      case 4: {
        // delete a range
        const n = 1 + r.int(Math.min(64, Math.max(1, out.length - at)));
        out = concat(out.subarray(0, at), out.subarray(Math.min(out.length, at + n)));
        break;
      }
      case 5: {
        // duplicate a range
        const n = 1 + r.int(64);
        out = concat(out.subarray(0, at), out.subarray(at, at + n), out.subarray(at));
        break;
      }
      case 6:
        out = out.slice(0, r.int(out.length + 1));
        break; // truncate
      default:
        if (at < out.length) out[at] = r.int(256);
    }
  }
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const deepFreeze = (v) => {
  if (v && typeof v === 'object') {
    Object.values(v).forEach(deepFreeze);
    Object.freeze(v);
  }
  return v;
};
// Frozen, so a mutation that reached the list itself would throw (strict mode) instead of spreading.
const WEIRD_VALUES = deepFreeze([
  0,
  -1,
  1,
  2,
  3,
  0.5,
  1e308,
  -1e308,
  2 ** 53,
  2 ** 31,
  1e-300,
  1e7,
  7.5,
  '',
  'x',
  '16000',
  true,
  false,
  null,
  [],
  {},
  [1],
  [0],
  [1e9],
  [[1]],
  { a: 1 },
]);

// A fresh copy of a weird value: the list's own arrays and objects, once inserted, would be mutated by a
// later operation of the same or a later mutant (a push, an element set to the array itself), so
// mutants of one worker grew from one another (a heap that filled over ~10^5 mutants, cycles that
// JSON.stringify refused) and were no longer a function of (seed, index) alone.
const weirdValue = (r) => structuredClone(r.pick(WEIRD_VALUES));

/** Structural JSON mutations: values of other types or extremes, deleted or added keys, deep nesting. */
export function mutateJson(value, r, ops = 1 + r.int(3)) {
  const root = structuredClone(value);
  for (let k = 0; k < ops; k++) {
    const paths = [];
    const walk = (v, path) => {
      paths.push(path);
      if (v && typeof v === 'object') for (const key of Object.keys(v)) walk(v[key], [...path, key]);
    };
    walk(root, []);
    const path = r.pick(paths.slice(1).length ? paths.slice(1) : paths);
    const parent = path.slice(0, -1).reduce((o, key) => o[key], root);
    const key = path[path.length - 1];
    if (parent === undefined || key === undefined) continue;
    const old = parent[key];
    switch (r.int(6)) {
      case 0:
        parent[key] = weirdValue(r);
        break;
      case 1:
        if (Array.isArray(parent)) parent.splice(key, 1);
        else delete parent[key];
        break;
      case 2:
        parent[key] = typeof old === 'number' ? old * r.pick([-1, 0, 2, 10, 1000, 0.5, 1.0000001]) : old;
        break;
      case 3: {
        let deep = structuredClone(old);
        for (let i = 0; i < 1 + r.int(200); i++) deep = [deep];
        parent[key] = deep;
        break;
      }
      // copies, never shared references: a later mutation must not reach two places (or make a cycle)
      case 4:
        if (Array.isArray(old)) old.push(...(old.length ? [structuredClone(old[r.int(old.length)])] : [1]));
        else parent[`${key}_x`] = structuredClone(old);
        break;
      default:
        parent[key] = typeof old === 'string' ? old + r.pick(['x', '\u0000', '"', 'é']) : weirdValue(r);
    }
  }
  return root;
}

/** JSON text with a key written twice, a BOM, or trailing garbage: text-level faults JSON.stringify never makes. */
export function mutateJsonText(text, r) {
  switch (r.int(4)) {
    case 0:
      return text.replace(/"(\w+)":/, (_m, k) => `"${k}": 0, "${k}":`);
    case 1:
      return `\ufeff${text}`;
    case 2:
      return text + r.pick(['x', '}', ' ', ',', '\u0000']);
    default:
      return text.slice(0, r.int(text.length));
  }
}
