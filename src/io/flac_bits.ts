// FLAC's bit-level reading: a big-endian bit reader over the whole file, and the CRC-8 of frame
// headers and CRC-16 of frames (RFC 9639).

import { XcodecInputError } from '../errors.js';

export function fail(message: string): never {
  throw new XcodecInputError(`FLAC: ${message}`);
}

/** Big-endian bit reader over the whole file (a byte index plus a bit offset, so files of any size work). */
export class BitReader {
  /** Index of the byte holding the next bit. */
  bytePos = 0;
  /** Bits of that byte already read, 0..7. */
  private bitPos = 0;

  constructor(readonly bytes: Uint8Array) {}

  seekToByte(offset: number): void {
    this.bytePos = offset;
    this.bitPos = 0;
  }

  alignToByte(): void {
    if (this.bitPos > 0) this.seekToByte(this.bytePos + 1);
  }

  /** Unsigned `n`-bit value, 0 <= n <= 53. */
  bits(n: number): number {
    const bytes = this.bytes;
    let value = 0;
    while (n > 0) {
      if (this.bytePos >= bytes.length) fail('unexpected end of stream');
      const left = 8 - this.bitPos; // unread bits in the current byte
      const take = Math.min(left, n);
      value = value * (1 << take) + ((bytes[this.bytePos] >>> (left - take)) & ((1 << take) - 1));
      n -= take;
      if (take === left) this.seekToByte(this.bytePos + 1);
      else this.bitPos += take;
    }
    return value;
  }

  /** Two's complement `n`-bit value. */
  signed(n: number): number {
    if (n === 0) return 0;
    const value = this.bits(n);
    const half = 2 ** (n - 1);
    return value >= half ? value - 2 * half : value;
  }

  /** Number of 0 bits before the next 1 bit (which is consumed too). */
  unary(): number {
    const bytes = this.bytes;
    let count = 0;
    for (;;) {
      if (this.bytePos >= bytes.length) fail('unexpected end of stream in a unary code');
      const rest = (bytes[this.bytePos] << this.bitPos) & 0xff; // unread bits of this byte, moved to the top
      if (rest !== 0) {
        const zeros = Math.clz32(rest) - 24;
        count += zeros;
        this.bitPos += zeros + 1;
        if (this.bitPos === 8) this.seekToByte(this.bytePos + 1);
        return count;
      }
      count += 8 - this.bitPos;
      this.seekToByte(this.bytePos + 1);
    }
  }
}

const CRC8_TABLE = crcTable(0x07, 8);
const CRC16_TABLE = crcTable(0x8005, 16);

/** MSB-first CRC lookup table for a polynomial of `width` bits, as FLAC uses for both its CRCs. */
function crcTable(poly: number, width: number): Uint16Array {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << (width - 8);
    for (let k = 0; k < 8; k++) c = c & top ? ((c << 1) ^ poly) & mask : (c << 1) & mask;
    table[i] = c;
  }
  return table;
}

export function crc8(bytes: Uint8Array, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) c = CRC8_TABLE[c ^ bytes[i]];
  return c;
}

export function crc16(bytes: Uint8Array, from: number, to: number): number {
  let c = 0;
  for (let i = from; i < to; i++) c = ((c << 8) & 0xffff) ^ CRC16_TABLE[(c >>> 8) ^ bytes[i]];
  return c;
}
