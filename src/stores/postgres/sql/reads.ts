/** Read statements: one job by id, and job lists filtered by state, name, group and id cursor. */

import type { SqlContext, Statement } from "./shared.js";

/** Columns of a full job snapshot (get, list); JSON columns as text so JSON null and SQL NULL stay distinct. */
export function jobColumns(alias: string): string {
  const a = `${alias}.`;
  return [
    `${a}id::text AS id`,
    `${a}name`,
    `${a}state`,
    `${a}priority`,
    `${a}input::text AS input`,
    `${a}result::text AS result`,
    `${a}error::text AS error`,
    `${a}errors::text AS errors`,
    `${a}attempt`,
    `${a}max_attempts`,
    `${a}progress::text AS progress`,
    `${a}checkpoint::text AS checkpoint`,
    `${a}key`,
    `${a}group_name`,
    `${a}timeout_ms`,
    `${a}backoff::text AS backoff`,
    `${a}created_at`,
    `${a}run_at`,
    `${a}started_at`,
    `${a}finished_at`,
    `${a}last_progress_at`,
    `${a}lease_owner`,
    `${a}lease_expires_at`,
    `${a}cancel_requested`,
    `${a}cancel_reason`,
  ].join(", ");
}

export function get(ctx: SqlContext): Statement {
  return ctx.named("get", `SELECT ${jobColumns("j")} FROM ${ctx.s}.jobs j WHERE j.id = $1::bigint`);
}

/** Builds a list query with only the filters given (not prepared: the shapes vary). */
export function list(
  ctx: SqlContext,
  filters: { state: boolean; name: boolean; group: boolean; beforeId: boolean },
): { text: string } {
  const where: string[] = [];
  let n = 1;
  if (filters.state) where.push(`j.state = $${++n}`);
  if (filters.name) where.push(`j.name = $${++n}`);
  if (filters.group) where.push(`j.group_name = $${++n}`);
  if (filters.beforeId) where.push(`j.id < $${++n}::bigint`);
  return {
    text: `SELECT ${jobColumns("j")} FROM ${ctx.s}.jobs j
        ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY j.id DESC LIMIT $1::int`,
  };
}
