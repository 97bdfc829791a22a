#!/usr/bin/env node
// The fuzz suite: mutated safetensors, config.json, preprocessor_config.json, WAV, FLAC, MP3, Ogg
// Vorbis, Ogg Opus and .npy files, and bad API calls, each mutant run in a worker thread under a
// timeout. Outcomes: ok, typed (an XcodecError), untyped (any other exception), hang (no answer within
// --timeout: the worker is terminated and replaced), crash (the worker died), loaded-different (a
// mutated checkpoint that loaded and gave other results than the original file).
//
//   npm run fuzz -- [--seed 1] [--start 0] [--count 3000] [--timeout 10000] [--workers N] [--state FILE] [--verbose] [--selftest]
//   npm run fuzz -- --surface queue|hub [--seed 1] [--start 0] [--count N]   (queue jobs, Hub responses: fuzz/edges.mjs)
// (--selftest replaces the mutants by one of each outcome, to check the harness itself.)
//
// Mutant i of a seed is a pure function of (seed, i), so a finding replays alone with --start I
// --count 1, and a long pass resumes: --state FILE records the next index and the counts so far.
// Exit code 1 when any mutant was untyped, hung, crashed or loaded different.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
// --surface queue|hub: the network-facing surfaces (fuzz/edges.mjs), run in their own process
if (process.argv.includes('--surface')) {
  const r = spawnSync(process.execPath, [join(here, 'edges.mjs'), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const opt = (name, def) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : def);
const seed = Number(opt('seed', 1));
const statePath = opt('state', null);
const saved = statePath && existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : null;
if (saved && saved.seed !== seed) throw new Error(`${statePath} holds seed ${saved.seed}, not ${seed}`);
let next = saved ? saved.next : Number(opt('start', 0));
const end = (saved ? saved.start : next) + Number(opt('count', 3000));
const timeoutMs = Number(opt('timeout', 10000));
const workers = Number(opt('workers', Math.max(1, Math.min(4, availableParallelism()))));
const verbose = argv.includes('--verbose');
const OUTCOMES = ['ok', 'typed', 'untyped', 'hang', 'crash', 'loaded-different'];
const BAD = ['untyped', 'hang', 'crash', 'loaded-different'];
const counts = saved?.counts ?? {};
const slowest = [];
const findings = saved?.findings ?? [];
const started = performance.now();
let done = 0;
const total = end - next;

function record(target, outcome, index, message) {
  counts[target] ??= Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  counts[target][outcome]++;
  if (BAD.includes(outcome) && findings.length < 200) findings.push({ index, target, outcome, message });
  if (verbose || BAD.includes(outcome))
    console.log(`#${index} ${target}: ${outcome}${message ? `: ${message.split('\n')[0]}` : ''}`);
  done++;
  if (statePath && done % 200 === 0) saveState();
  if (!verbose && done % Math.max(1, Math.floor(total / 10)) === 0) {
    console.log(`  ${done} / ${total} mutants, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

function saveState() {
  const inFlight = slots.filter((s) => s.index !== null).map((s) => s.index);
  const state = {
    seed,
    start: saved?.start ?? Number(opt('start', 0)),
    next: Math.min(next, ...inFlight),
    counts,
    findings,
  };
  writeFileSync(`${statePath}.tmp`, JSON.stringify(state, null, 1));
  renameSync(`${statePath}.tmp`, statePath);
}

const targetOf = (index, targets) => targets[index % targets.length];
const slots = [];

function startSlot(slot) {
  const worker = new Worker(join(here, 'worker.mjs'), {
    workerData: { root, seed, selftest: argv.includes('--selftest') },
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
  });
  slot.worker = worker;
  slot.index = null;
  // Events of a worker this slot has already replaced (its 'exit' after an 'error', after a timeout) are ignored.
  const current = () => slot.worker === worker;
  worker.on('message', (m) => {
    if (!current()) return;
    if (m.ready) {
      slot.targets = m.targets;
      feed(slot);
      return;
    }
    clearTimeout(slot.timer);
    slot.index = null;
    slowest.push({ index: m.index, target: m.target, ms: Math.round(m.ms) });
    slowest.sort((a, b) => b.ms - a.ms).splice(5);
    record(m.target, m.outcome, m.index, m.stack ?? m.message);
    feed(slot);
  });
  const died = (why) => {
    if (!current() || slot.finished) return;
    clearTimeout(slot.timer);
    if (slot.index !== null) record(targetOf(slot.index, slot.targets ?? []) ?? 'unknown', 'crash', slot.index, why);
    retire(slot);
  };
  worker.on('error', (e) => died(String(e?.stack ?? e)));
  worker.on('exit', (code) => died(`worker exited with ${code}`));
}

/** Stops the slot's worker (it may be stuck) and starts a fresh one. */
function retire(slot) {
  const old = slot.worker;
  slot.worker = null;
  old?.terminate();
  startSlot(slot);
}

function feed(slot) {
  if (next >= end) {
    slot.finished = true;
    slot.worker?.terminate();
    if (slots.every((s) => s.finished)) finish();
    return;
  }
  const index = next++;
  slot.index = index;
  slot.timer = setTimeout(() => {
    slot.index = null;
    record(targetOf(index, slot.targets), 'hang', index, `no answer within ${timeoutMs} ms`);
    retire(slot);
  }, timeoutMs);
  slot.worker.postMessage(index);
}

/**
 * Replays one mutant alone in a fresh worker (used for hangs and crashes: on a busy host a slow
 * neighbour can push a fast mutant past the timeout). Resolves to the outcome it gets alone.
 */
function replayAlone(index) {
  return new Promise((resolve) => {
    const w = new Worker(join(here, 'worker.mjs'), {
      workerData: { root, seed, selftest: argv.includes('--selftest') },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    let timer = null;
    const done = (outcome) => {
      clearTimeout(timer);
      w.terminate();
      resolve(outcome);
    };
    w.on('message', (m) => {
      if (m.ready) {
        timer = setTimeout(() => done('hang'), timeoutMs);
        w.postMessage(index);
      } else done(m.outcome);
    });
    w.on('error', () => done('crash'));
    w.on('exit', () => done('crash'));
  });
}

async function finish() {
  if (statePath) {
    next = end;
    saveState();
  }
  // Hangs and crashes are confirmed alone; those that do not recur are listed, not counted.
  const unconfirmed = [];
  for (const f of findings
    .filter((x) => (x.outcome === 'hang' || x.outcome === 'crash') && x.confirmed === undefined)
    .slice(0, 20)) {
    const alone = await replayAlone(f.index);
    f.confirmed = alone === f.outcome;
    if (!f.confirmed) {
      counts[f.target][f.outcome]--;
      counts[f.target][alone] = (counts[f.target][alone] ?? 0) + 1;
      unconfirmed.push(`#${f.index} ${f.target} ${f.outcome} under load, ${alone} alone`);
    }
  }
  if (statePath) saveState();
  const rows = Object.entries(counts).map(([target, c]) => ({ target, ...c }));
  const sum = Object.fromEntries(OUTCOMES.map((o) => [o, rows.reduce((n, r) => n + r[o], 0)]));
  console.log(
    `\nfuzz: seed ${seed}, mutants ${saved?.start ?? Number(opt('start', 0))}..${end - 1}, ${workers} workers, timeout ${timeoutMs} ms, ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  console.table([...rows, { target: 'all', ...sum }]);
  console.log(`slowest mutants: ${slowest.map((x) => `#${x.index} ${x.target} ${x.ms} ms`).join(', ')}`);
  if (unconfirmed.length)
    console.log(`did not recur when replayed alone (counted by their lone outcome): ${unconfirmed.join('; ')}`);
  const bad = BAD.reduce((n, o) => n + sum[o], 0);
  if (bad > 0) {
    console.log(`${bad} bad outcomes; first findings:`);
    for (const f of findings.filter((x) => x.confirmed !== false).slice(0, 10))
      console.log(`  #${f.index} ${f.target} ${f.outcome}: ${String(f.message).split('\n').slice(0, 3).join(' | ')}`);
  }
  console.log(JSON.stringify({ seed, end, counts: sum, bad, unconfirmed }));
  process.exit(bad > 0 ? 1 : 0);
}

for (let w = 0; w < workers; w++) {
  const slot = {};
  slots.push(slot);
  startSlot(slot);
}
