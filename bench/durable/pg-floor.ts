/**
 * What this machine's PostgreSQL allows with raw `pg` and a bare table, no
 * queue library: the floor the PostgreSQL systems are held against.
 *
 * - pickup: a producer pool (10 connections, as optiq's default pool, so
 *   overlapping submits do not queue on one connection) runs one statement,
 *   INSERT + pg_notify (committed durably); a listener connection gets the
 *   notification; a claimer connection runs one UPDATE … FOR UPDATE SKIP
 *   LOCKED … RETURNING, one claim in flight at a time.
 *   Latency = claim returned − submit call.
 * - ceiling: the durable batched claim + complete loop on one connection,
 *   `batch` jobs per statement, until the table is drained.
 *
 * Every statement is prepared (named) and autocommitted with the server's
 * synchronous_commit (on by default).
 */
import pg from "pg";
import { cpuWindow, type CpuUsed } from "../lib/machine.js";
import { PG_URL } from "./cases.js";
import { dropSchema } from "./adapters.js";

function client(name: string): pg.Client {
  const c = new pg.Client({ connectionString: PG_URL, application_name: `optiq-bench-floor-${name}` });
  c.on("error", () => undefined); // a dropped connection fails the pending query instead
  return c;
}

async function createTable(c: pg.Client, ns: string): Promise<void> {
  await c.query(`CREATE SCHEMA "${ns}"`);
  await c.query(
    `CREATE TABLE "${ns}".jobs (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'queued', payload json NOT NULL)`,
  );
  await c.query(`CREATE INDEX ON "${ns}".jobs (id) WHERE state = 'queued'`);
}

export interface FloorPickup {
  /** Submits job `i` (one INSERT + NOTIFY statement); the claimer calls `onClaimed(i)` when its claim returns it. */
  submit(i: number): Promise<void>;
  close(): Promise<void>;
}

export async function openFloorPickup(ns: string, onClaimed: (i: number) => void): Promise<FloorPickup> {
  const producer = new pg.Pool({ connectionString: PG_URL, max: 10, application_name: "optiq-bench-floor-producer" });
  producer.on("error", () => undefined);
  const listener = client("listen");
  const claimer = client("claim");
  await Promise.all([listener.connect(), claimer.connect()]);
  await createTable(claimer, ns);
  const channel = `${ns}_available`;
  const insert = {
    name: "floor_insert",
    text: `WITH ins AS (INSERT INTO "${ns}".jobs (payload) VALUES ($1::json) RETURNING id)
           SELECT pg_notify('${channel}', '') FROM ins`,
  };
  const claim = {
    name: "floor_claim",
    text: `UPDATE "${ns}".jobs j SET state = 'running'
           WHERE j.id IN (SELECT id FROM "${ns}".jobs WHERE state = 'queued' ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED)
           RETURNING j.payload::text AS payload`,
  };
  let claiming = false;
  let again = false;
  const claimLoop = async (): Promise<void> => {
    if (claiming) {
      again = true;
      return;
    }
    claiming = true;
    try {
      do {
        again = false;
        const { rows } = await claimer.query<{ payload: string }>(claim);
        for (const r of rows) onClaimed((JSON.parse(r.payload) as { i: number }).i);
      } while (again);
    } finally {
      claiming = false;
    }
  };
  listener.on("notification", () => void claimLoop());
  await listener.query(`LISTEN "${channel}"`);
  return {
    async submit(i) {
      await producer.query({ ...insert, values: [JSON.stringify({ i })] });
    },
    async close() {
      await Promise.all([producer.end(), listener.end(), claimer.end()].map((p) => p.catch(() => undefined)));
      await dropSchema(ns);
    },
  };
}

/** The batched claim + complete ceiling: ms to drain `jobs` jobs, `batch` per statement. */
export async function floorCeiling(
  ns: string,
  jobs: number,
  batch: number,
): Promise<{ ms: number; statements: number; cpu: CpuUsed }> {
  const c = client("ceiling");
  await c.connect();
  try {
    await createTable(c, ns);
    for (let done = 0; done < jobs; done += 1000) {
      const n = Math.min(1000, jobs - done);
      await c.query(
        `INSERT INTO "${ns}".jobs (payload) SELECT json_build_object('i', g) FROM generate_series(1, $1::int) g`,
        [n],
      );
    }
    await c.query(`VACUUM ANALYZE "${ns}".jobs`);
    const claim = {
      name: "ceiling_claim",
      text: `UPDATE "${ns}".jobs j SET state = 'running'
             WHERE j.id IN (SELECT id FROM "${ns}".jobs WHERE state = 'queued' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING j.id::text AS id, j.payload::text AS payload`,
    };
    const complete = {
      name: "ceiling_complete",
      text: `UPDATE "${ns}".jobs SET state = 'completed' WHERE id = ANY ($1::bigint[]) AND state = 'running'`,
    };
    let statements = 0;
    let processed = 0;
    const cpuUsed = cpuWindow();
    const t0 = performance.now();
    for (;;) {
      const { rows } = await c.query<{ id: string; payload: string }>({ ...claim, values: [batch] });
      statements++;
      if (rows.length === 0) break;
      await c.query({ ...complete, values: [rows.map((r) => r.id)] });
      statements++;
      processed += rows.length;
    }
    const ms = performance.now() - t0;
    const cpu = cpuUsed();
    if (processed !== jobs) throw new Error(`floor processed ${processed} of ${jobs}`);
    return { ms, statements, cpu };
  } finally {
    await c.end().catch(() => undefined);
    await dropSchema(ns);
  }
}
