// The kernel builds: the four WebAssembly modules (plain or relaxed SIMD, each with a private or a
// shared memory), inlined as base64 and compiled once, or given precompiled by hosts that forbid
// compiling from bytes; and the shared memory a threaded runtime runs on.

import { XcodecInputError, XcodecRuntimeError, describe } from '../errors.js';
import { wasmBase64 as relaxedThreadsBase64 } from './generated/wasm-relaxed-threads.js';
import { wasmBase64 as relaxedBase64 } from './generated/wasm-relaxed.js';
import { wasmBase64 as simdThreadsBase64 } from './generated/wasm-simd-threads.js';
import { wasmBase64 as simdBase64 } from './generated/wasm-simd.js';

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const g = globalThis as { Buffer?: { from(s: string, e: string): Uint8Array } };
  if (g.Buffer) return new Uint8Array(g.Buffer.from(b64, 'base64'));
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const cachedModules: { simd?: WebAssembly.Module; relaxed?: WebAssembly.Module } = {};

/** The relaxed-SIMD build where the runtime validates it, else plain SIMD. */
export function kernelModule(flavour: 'auto' | 'simd' | 'relaxed' = 'auto'): {
  module: WebAssembly.Module;
  flavour: 'simd' | 'relaxed';
} {
  const { bytes, flavour: f } = kernelBytes(flavour, false);
  cachedModules[f] ??= new WebAssembly.Module(bytes);
  return { module: cachedModules[f]!, flavour: f };
}

export type Flavour = 'simd' | 'relaxed';
const BASE64: Record<`${Flavour}${'' | '-threads'}`, string> = {
  simd: simdBase64,
  relaxed: relaxedBase64,
  'simd-threads': simdThreadsBase64,
  'relaxed-threads': relaxedThreadsBase64,
};

/** The bytes of the build to use: relaxed SIMD where it validates (for 'auto'), shared memory or not. */
function kernelBytes(flavour: 'auto' | Flavour, shared: boolean): { bytes: Uint8Array<ArrayBuffer>; flavour: Flavour } {
  if (flavour !== 'auto' && flavour !== 'simd' && flavour !== 'relaxed') {
    throw new XcodecInputError(
      `simd option ${describe(flavour)} is not supported; accepted: "auto", "simd", "relaxed"`,
    );
  }
  const suffix = shared ? '-threads' : '';
  if (flavour !== 'simd') {
    const bytes = decodeBase64(BASE64[`relaxed${suffix}`]);
    if (WebAssembly.validate(bytes)) return { bytes, flavour: 'relaxed' };
    if (flavour === 'relaxed')
      throw new XcodecRuntimeError(
        'this runtime does not support WebAssembly relaxed SIMD; use flavour "simd" or "auto"',
      );
  }
  const bytes = decodeBase64(BASE64[`simd${suffix}`]);
  if (!WebAssembly.validate(bytes)) {
    throw new XcodecRuntimeError(
      `this runtime does not support WebAssembly SIMD (128-bit)${shared ? ' with threads' : ''}, which xcodec-wasm requires`,
    );
  }
  return { bytes, flavour: 'simd' };
}

const compiled = new Map<string, Promise<WebAssembly.Module>>();

/**
 * Kernel builds compiled by the host, for runtimes that forbid compiling WebAssembly from bytes
 * (Cloudflare Workers, workerd): the package's `xcodec-wasm/wasm/<name>.wasm` files imported as
 * modules. 'auto' takes relaxed where given, else simd; threads need a '-threads' build.
 */
export type WasmModules = Partial<Record<'simd' | 'relaxed' | 'simd-threads' | 'relaxed-threads', WebAssembly.Module>>;
export const WASM_MODULE_NAMES = ['simd', 'relaxed', 'simd-threads', 'relaxed-threads'];

export function checkWasmModules(modules: unknown): WasmModules {
  if (typeof modules !== 'object' || modules === null)
    throw new XcodecInputError(
      `wasmModules ${describe(modules)} is not accepted; accepted: { simd?, relaxed?, 'simd-threads'?, 'relaxed-threads'? } of WebAssembly.Module`,
    );
  for (const [k, v] of Object.entries(modules)) {
    if (!WASM_MODULE_NAMES.includes(k))
      throw new XcodecInputError(
        `wasmModules has "${k}"; accepted keys: ${WASM_MODULE_NAMES.map((n) => `"${n}"`).join(', ')}`,
      );
    if (!(v instanceof WebAssembly.Module)) {
      throw new XcodecInputError(
        `wasmModules["${k}"] is ${describe(v)}, not a WebAssembly.Module (import xcodec-wasm/wasm/${k}.wasm as a WebAssembly module, or compile it)`,
      );
    }
  }
  return modules as WasmModules;
}

/** The given module for this flavour and memory kind, or null when none was given. */
export function givenModule(
  modules: WasmModules,
  flavour: 'auto' | Flavour,
  shared: boolean,
): { module: WebAssembly.Module; bytes: Uint8Array; flavour: Flavour } | null {
  const suffix = shared ? '-threads' : '';
  for (const f of (flavour === 'auto' ? ['relaxed', 'simd'] : [flavour]) as Flavour[]) {
    const module = modules[`${f}${suffix}` as keyof WasmModules];
    if (module) return { module, bytes: new Uint8Array(0), flavour: f };
  }
  return null;
}

/** Compiles asynchronously (browsers refuse synchronous compilation of modules over 4 KB on the main thread). */
export async function compileKernels(
  flavour: 'auto' | Flavour,
  shared: boolean,
): Promise<{ module: WebAssembly.Module; bytes: Uint8Array; flavour: Flavour }> {
  const { bytes, flavour: f } = kernelBytes(flavour, shared);
  const key = `${f}${shared ? '-threads' : ''}`;
  let p = compiled.get(key);
  if (!p) {
    p = WebAssembly.compile(bytes).catch((e: Error) => {
      compiled.delete(key);
      // Workers and workerd refuse code generation from bytes: say what to pass instead of a raw CompileError.
      if (/disallowed|not allowed|code generation/i.test(e.message)) {
        throw new XcodecRuntimeError(
          `this runtime does not allow compiling WebAssembly from bytes (${e.name}: ${e.message}); ` +
            "pass the kernels precompiled: load with { wasmModules: { simd, relaxed } }, each a WebAssembly.Module of the package's " +
            'xcodec-wasm/wasm/simd.wasm and xcodec-wasm/wasm/relaxed.wasm (import them as wasm modules in workerd, wrangler or a bundler)',
        );
      }
      throw e;
    });
    compiled.set(key, p);
  }
  return { module: await p, bytes, flavour: f };
}

/** A shared memory with the largest maximum this runtime reserves (4 GiB on 64-bit hosts). */
export function sharedMemory(): { memory: WebAssembly.Memory; maximum: number } | null {
  for (const maximum of [65536, 32768, 16384]) {
    try {
      return {
        memory: new WebAssembly.Memory({ initial: 2, maximum, shared: true } as WebAssembly.MemoryDescriptor),
        maximum,
      };
    } catch {
      /* try a smaller reservation */
    }
  }
  return null;
}
