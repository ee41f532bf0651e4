/**
 * Transactional enqueue through the facade: jobs submitted inside the
 * caller's pg transaction exist exactly when it commits.
 */
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemoryStore, Optiq, ValidationError } from "../../src/index.js";
import { PostgresStore } from "../../src/postgres.js";
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from "../support/pg.js";

describe("submitWith (PostgreSQL)", () => {
  let schema: TestSchema;
  let q: Optiq;
  let client: pg.Client;

  beforeEach(async () => {
    schema = await createTestSchema();
    q = new Optiq({ store: new PostgresStore({ connectionString: TEST_DATABASE_URL, schema: schema.schema }) });
    q.define("email", async (job) => `sent to ${(job.input as { to: string }).to}`);
    client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`CREATE TABLE "${schema.schema}_orders" (id int primary key)`);
  });

  afterEach(async () => {
    await q.stop();
    await client.query(`DROP TABLE IF EXISTS "${schema.schema}_orders"`);
    await client.end();
    await schema.drop();
  });

  it("a rolled-back transaction leaves no job; a committed one leaves exactly its jobs", async () => {
    await q.start(); // creates the schema
    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema.schema}_orders" VALUES (1)`);
    const [rolledBack] = await q.submitWith(client, [{ name: "email", input: { to: "a@example.com" } }]);
    await client.query("ROLLBACK");
    expect(await q.get(rolledBack!.id)).toBeNull();

    await client.query("BEGIN");
    await client.query(`INSERT INTO "${schema.schema}_orders" VALUES (2)`);
    const [committed] = await q.submitWith(client, [{ name: "email", input: { to: "b@example.com" } }]);
    expect(await q.get(committed!.id)).toBeNull(); // not visible before the commit
    await client.query("COMMIT");
    expect(await q.result(committed!.id, { timeoutMs: 10_000 })).toBe("sent to b@example.com");
    expect((await q.store.counts()).completed).toBe(1);
  });

  it("validates like submit, and is refused by stores without transactions", async () => {
    await expect(q.submitWith(client, [{ name: "nope" }])).rejects.toMatchObject({ code: "OPTIQ_UNKNOWN_JOB_NAME" });
    const memory = new Optiq({ store: new MemoryStore() });
    memory.define("email", async () => null);
    await expect(memory.submitWith(client, [{ name: "email" }])).rejects.toBeInstanceOf(ValidationError);
  });
});
