// The shared control block between the calling thread and the kernel workers: one SharedArrayBuffer
// of CONTROL_BYTES, read as Int32 slots, a Float64 argument area and a UTF-8 error message area.
//
// One op at a time. The caller writes the kernel id, its arguments and the chunk ranges, resets DONE,
// publishes NEXT = (chunks << 16) | 0, bumps GEN and notifies it. Every participant (the caller too)
// claims chunks with a compare-exchange on NEXT and reads the arguments only after a successful
// claim, so a worker that wakes late can never run a chunk with another op's arguments: the op it
// claimed from cannot finish (nor the caller write new arguments) until that chunk is counted in DONE.
//
// Slot states and HOLD flags let the caller tell a slow worker from a dead one: a worker raises HOLD
// before it tries to claim and lowers it after it has counted its chunk in DONE; the supervisor sets
// STATE = DEAD when a worker exits or fails, bumps DEATHS and wakes the caller.

export const CONTROL_BYTES = 32768;

/** Int32 indices */
export const GEN = 0;
export const NEXT = 1;
export const DONE = 2;
export const KERNEL = 3;
export const NARGS = 4;
/** index of the range-begin argument (the end follows it) */
export const RPOS = 5;
/** 0, or the 1-based slot of the worker that reported the first error (-1: the supervisor) */
export const ERROR = 6;
export const STOP = 7;
export const DEATHS = 8;
/** test hooks: fault kind and the worker slot it is armed for (-1: any worker) */
export const FAULT_KIND = 9;
export const FAULT_SLOT = 10;
export const ERROR_LEN = 11;
/** busy-wait iterations of a worker on GEN before it blocks in Atomics.wait */
export const SPIN = 12;

/**
 * Byte offset in linear memory of the per-thread scratch, one thread_scratch_bytes() region per thread:
 * the calling thread's first, then worker slot i's at SCRATCH_BASE + (i + 1) * bytes. Right above the
 * kernel module's static page; the runtime's allocator starts after the last region.
 */
export const SCRATCH_BASE = 65536;

export const SLOT_BASE = 16;
export const SLOT_INTS = 4;
export const MAX_WORKERS = 255;
/** per slot: STATE, HOLD, and CHUNKS (chunks this slot's workers have run: statistics and tests) */
export const STATE = 0;
export const HOLD = 1;
export const CHUNKS = 2;

export const STARTING = 0;
export const READY = 1;
export const DEAD = 2;

/** Int32 index of chunk c's begin (end at + 1) */
export const RANGES = 2048;
export const MAX_CHUNKS = 1024;
/** Float64 index of the first argument */
export const ARGS_F64 = 2048;
export const MAX_ARGS = 32;
/** byte offset and size of the error message */
export const ERROR_BYTES = 16384 + 8 * MAX_ARGS;
export const ERROR_MAX = 2048;

export const FAULT_NONE = 0;
/** the worker runs a store far outside linear memory instead of its chunk: a real WebAssembly trap */
export const FAULT_TRAP = 1;
/** the worker ends its own thread mid-chunk (process.exit in Node, close() elsewhere) */
export const FAULT_EXIT = 2;
/** the worker asks the supervisor to terminate it and blocks mid-chunk until it is killed */
export const FAULT_KILL = 3;
/** the worker blocks mid-chunk and says nothing: only the caller's stall watchdog can end it */
export const FAULT_HANG = 4;

export const slot = (i: number, field: number): number => SLOT_BASE + SLOT_INTS * i + field;
