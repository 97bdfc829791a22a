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
