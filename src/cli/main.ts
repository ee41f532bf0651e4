#!/usr/bin/env node
import { run } from "./program.js";

// a reader that went away (`optiq list | head`) is not an error
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// nor is one of stderr (`optiq submit --wait 2>&1 | head -1`, a closed terminal): stderr only carries
// progress and messages, so the command goes on without them and still prints its result on stdout
process.stderr.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
  throw err;
});

// no process.exit(): stdout may still be flushing into a pipe
process.exitCode = await run(process.argv);
