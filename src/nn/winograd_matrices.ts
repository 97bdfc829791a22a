// The matrices of Winograd's minimal filtering F(m, r) (Lavin & Gray 2016, from the Toom-Cook
// construction), built in exact rational arithmetic from the interpolation points and rounded to f32
// once: AT [m, alpha] and G [alpha, r] are the Vandermonde forms (the point at infinity last), BT
// [alpha, alpha] solves sum_p AT[i, p] G[p, k] BT[p, l] = [l == i + k] for every i, k, l, so that
//   y_i = sum_p AT[i, p] (G g)_p (BT d)_p = sum_k g_k d_(i + k)      (the convolution's correlation).

/** A rational interpolation point: [numerator, denominator]. */
export type Point = readonly [number, number];

export interface WinogradTile {
  /** outputs per tile */
  m: number;
  /** kernel taps */
  r: number;
  /** m + r - 1 products per channel pair and tile */
  alpha: number;
  /** the finite points (alpha - 1 of them; infinity is the last) */
  points: readonly Point[];
}

export interface WinogradMatrices {
  AT: Float32Array;
  G: Float32Array;
  BT: Float32Array;
}

/**
 * F(4, 7) with the points 0, +-1, +-2, +-1/2, +-3/2 and infinity: 10 products for 4 outputs (28 direct).
 * Chosen by measured fp32 error against float64 on a 128-channel sum of normal inputs (docs/design.md):
 * max error 15.7x the direct conv's, against 37.8x for +-3 in place of +-3/2, 60x for +-1/4; F(2, 7)
 * (8 for 2, 1.75x fewer products) was 9.6x, F(6, 7) (12 for 6) 23x.
 */
export const KERNEL7_TILE: WinogradTile = tile(4, 7, [
  [0, 1],
  [1, 1],
  [-1, 1],
  [2, 1],
  [-2, 1],
  [1, 2],
  [-1, 2],
  [3, 2],
  [-3, 2],
]);

/**
 * A tile of m outputs for r taps. The points must be 0 then pairs +a, -a (conv_winograd computes each
 * pair's rows from one set of even and one of odd products, which is exact only for that structure).
 */
export function tile(m: number, r: number, points: readonly Point[]): WinogradTile {
  if (points.length !== m + r - 2)
    throw new Error(`F(${m}, ${r}) needs ${m + r - 2} finite points, got ${points.length}`);
  const paired =
    points[0][0] === 0 &&
    points.length % 2 === 1 &&
    points
      .slice(1)
      .every((p, i) => i % 2 === 1 || (points[i + 2][0] === -p[0] && points[i + 2][1] === p[1] && p[0] !== 0));
  if (!paired) throw new Error(`F(${m}, ${r}): the points must be 0 followed by pairs +a, -a`);
  return { m, r, alpha: m + r - 1, points };
}

// ---- exact rationals (BigInt), enough for a 16 x 16 solve ----
type Q = readonly [bigint, bigint]; // numerator, denominator > 0, in lowest terms

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
};
function q(n: bigint, d: bigint = 1n): Q {
  if (d === 0n) throw new Error('winograd: division by zero (two points coincide)');
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return [n / g, d / g];
}
const ZERO = q(0n);
const ONE = q(1n);
const _add = (a: Q, b: Q): Q => q(a[0] * b[1] + b[0] * a[1], a[1] * b[1]);
const sub = (a: Q, b: Q): Q => q(a[0] * b[1] - b[0] * a[1], a[1] * b[1]);
const mul = (a: Q, b: Q): Q => q(a[0] * b[0], a[1] * b[1]);
const div = (a: Q, b: Q): Q => q(a[0] * b[1], a[1] * b[0]);
const pow = (a: Q, e: number): Q => {
  let r = ONE;
  for (let i = 0; i < e; i++) r = mul(r, a);
  return r;
};
const isZero = (a: Q): boolean => a[0] === 0n;
const toF32 = (a: Q): number => Math.fround(Number(a[0]) / Number(a[1]));

type Exact = { AT: Q[][]; G: Q[][]; BT: Q[][] };
const exactCache = new Map<WinogradTile, Exact>();

/** The exact matrices of `t` (rows of rationals), solved once per tile: every conv of a load asks. */
export function exactMatrices(t: WinogradTile): Exact {
  let hit = exactCache.get(t);
  if (!hit) {
    hit = solveMatrices(t);
    exactCache.set(t, hit);
  }
  return hit;
}

function solveMatrices(t: WinogradTile): Exact {
  const { m, r, alpha } = t;
  const f = t.points.map(([n, d]) => q(BigInt(n), BigInt(d)));
  const AT: Q[][] = [];
  for (let i = 0; i < m; i++) AT.push([...f.map((fj) => pow(fj, i)), i === m - 1 ? ONE : ZERO]);
  const G: Q[][] = f.map((fj, j) => {
    let den = ONE;
    f.forEach((fl, l) => {
      if (l !== j) den = mul(den, sub(fj, fl));
    });
    return Array.from({ length: r }, (_, k) => div(pow(fj, k), den));
  });
  G.push(Array.from({ length: r }, (_, k) => (k === r - 1 ? ONE : ZERO)));
  // Column l of BT: m r equations in alpha unknowns, consistent for distinct points.
  const BT: Q[][] = Array.from({ length: alpha }, () => new Array<Q>(alpha).fill(ZERO));
  for (let l = 0; l < alpha; l++) {
    const rows: Q[][] = [];
    for (let i = 0; i < m; i++) {
      for (let k = 0; k < r; k++) rows.push([...AT[i].map((a, p) => mul(a, G[p][k])), l === i + k ? ONE : ZERO]);
    }
    const pivots: number[] = [];
    let at = 0;
    for (let c = 0; c < alpha; c++) {
      const pr = rows.findIndex((row, x) => x >= at && !isZero(row[c]));
      if (pr < 0) continue;
      [rows[at], rows[pr]] = [rows[pr], rows[at]];
      const pv = rows[at][c];
      rows[at] = rows[at].map((v) => div(v, pv));
      for (let x = 0; x < rows.length; x++) {
        if (x !== at && !isZero(rows[x][c])) {
          const fac = rows[x][c];
          rows[x] = rows[x].map((v, y) => sub(v, mul(fac, rows[at][y])));
        }
      }
      pivots.push(c);
      at++;
    }
    if (pivots.length !== alpha || rows.slice(at).some((row) => !isZero(row[alpha]))) {
      throw new Error(`winograd: the points of F(${m}, ${r}) give no transform`);
    }
    pivots.forEach((c, x) => {
      BT[c][l] = rows[x][alpha];
    });
  }
  return { AT, G, BT };
}

/**
 * Whether conv_winograd runs `t`: F(4, 7) with BT's and AT's zeros exactly where the kernel skips terms
 * (BT row 0: odd taps, its last row: even taps, the pair rows: taps 0 and 9; AT[i, 0] for i > 0 and
 * AT[i, infinity] for i < 3), so that its straight-line sums are those over the nonzero terms.
 */
export function kernelRuns(t: WinogradTile): boolean {
  if (t.m !== 4 || t.r !== 7) return false;
  const { AT, BT } = exactMatrices(t);
  const zeroBT = (p: number, k: number) => (p === 0 ? k % 2 === 1 : p === 9 ? k % 2 === 0 : k === 0 || k === 9);
  const zeroAT = (i: number, p: number) => (p === 0 ? i > 0 : p === 9 ? i < 3 : false);
  return (
    BT.every((row, p) => row.every((v, k) => isZero(v) === zeroBT(p, k))) &&
    AT.every((row, i) => row.every((v, p) => isZero(v) === zeroAT(i, p)))
  );
}

const cache = new Map<WinogradTile, WinogradMatrices>();

/** The f32 matrices of `t`, row-major (computed once per tile). */
export function winogradMatrices(t: WinogradTile): WinogradMatrices {
  let hit = cache.get(t);
  if (!hit) {
    const e = exactMatrices(t);
    const flat = (rows: Q[][]) => Float32Array.from(rows.flat().map(toF32));
    hit = { AT: flat(e.AT), G: flat(e.G), BT: flat(e.BT) };
    cache.set(t, hit);
  }
  return hit;
}
