// Serves edge-handler.mjs with Deno.serve on 127.0.0.1 (a free port, printed as "listening PORT"),
// after removing Worker from the global scope as edge platforms do: the package must run on one thread.
delete globalThis.Worker;
const { default: handler } = await import('./edge-handler.mjs');
Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: ({ port }) => console.log(`listening ${port}`) }, (req) =>
  handler.fetch(req),
);
