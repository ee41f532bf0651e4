#!/usr/bin/env node
import { run } from "./program.js";

// a reader that went away (`optiq list | head`) is not an error
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// no process.exit(): stdout may still be flushing into a pipe
process.exitCode = await run(process.argv);
