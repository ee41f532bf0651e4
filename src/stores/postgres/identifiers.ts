import { ValidationError } from "../../core/errors.js";

/**
 * Schema names are plain identifiers: a letter or underscore, then letters,
 * digits or underscores, at most 48 characters so that the derived
 * notification channels (`<schema>_available` …) stay within PostgreSQL's
 * 63-byte identifier limit.
 */
const SCHEMA_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,47}$/;

export function checkSchemaName(schema: unknown): string {
  if (typeof schema !== "string" || !SCHEMA_PATTERN.test(schema)) {
    throw new ValidationError(
      "options.schema",
      "must be an identifier: a letter or _, then letters, digits or _, at most 48 characters",
    );
  }
  return schema;
}

/** Double-quoted identifier; the name is already validated, quoting keeps its case. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A short, stable tag for prepared-statement names (unique per schema, within NAMEDATALEN). */
export function schemaTag(schema: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) {
    h ^= schema.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${schema.slice(0, 24)}_${h.toString(36)}`;
}
