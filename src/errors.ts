// Typed errors: every message says what was wrong and what is accepted, so a user can fix the call
// without reading the source. Everything is validated before entering WASM, so a bad input can never
// trap the instance.

export class XcodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad call arguments: audio, codes, bandwidth, sampling rate, file formats given to the CLI. */
export class XcodecInputError extends XcodecError {}

/** A config.json / preprocessor_config.json that is missing, unparsable or describes an unsupported model. */
export class XcodecConfigError extends XcodecError {}

/** A checkpoint file that is malformed, truncated, or lacks a tensor the forward needs. */
export class XcodecCheckpointError extends XcodecError {}

/** A failure inside the runtime (a kernel trap, a worker that died); the model stays usable. */
export class XcodecRuntimeError extends XcodecError {}

/** Longest rendering of a value inside an error message. */
const SHOWN_CHARS = 120;

// Values inside arrays and objects that JSON would show as null (or drop) are written as JavaScript
// writes them (4n, NaN, -0, Symbol(s), undefined): JSON.stringify quotes the marked text, which is
// then unquoted. A string's own \u0000 shows as U+2400 (the NUL symbol), so it is never taken for a mark.
const RAW = '\u0000';
const RAW_STRING = /"\\u0000(.*?)\\u0000"/g;

function nestedJs(v: unknown): string | null {
  switch (typeof v) {
    case 'bigint':
      return `${v}n`;
    case 'number':
      return Object.is(v, -0) ? '-0' : Number.isFinite(v) ? null : String(v);
    case 'symbol':
      return String(v);
    case 'function':
      return 'a function';
    case 'undefined':
      return 'undefined';
    default:
      return null;
  }
}

/**
 * A value as an error message shows it: numbers as JavaScript writes them (NaN, Infinity, 4n),
 * strings quoted, arrays and objects as JSON (with JavaScript's numbers, Symbols and undefined
 * inside); never throws (deep nesting, cycles, BigInt inside) and never longer than about 120
 * characters.
 */
export function describe(value: unknown): string {
  let text: string;
  switch (typeof value) {
    case 'bigint':
      text = `${value}n`;
      break;
    case 'number':
      text = Object.is(value, -0) ? '-0' : String(value);
      break;
    case 'string':
      text = JSON.stringify(value);
      break;
    case 'undefined':
      text = 'undefined';
      break;
    case 'function':
      text = 'a function';
      break;
    case 'symbol':
      text = String(value);
      break;
    default:
      if (value === null) text = 'null';
      else if (ArrayBuffer.isView(value))
        text = `a ${value.constructor.name} of ${(value as unknown as { length?: number }).length ?? value.byteLength} elements`;
      else {
        try {
          text = (
            JSON.stringify(value, (_, v) =>
              typeof v === 'string'
                ? v.replaceAll(RAW, '\u2400')
                : nestedJs(v) === null
                  ? v
                  : `${RAW}${nestedJs(v)}${RAW}`,
            ) ?? String(value)
          ).replace(RAW_STRING, '$1');
        } catch {
          text = Array.isArray(value)
            ? `an array of ${value.length} (nested too deep to show)`
            : 'an object (nested too deep or circular to show)';
        }
      }
  }
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}... (${text.length} characters)` : text;
}

/** A caught error as a message shows it: "Name: message" (anything else thrown as a string). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
