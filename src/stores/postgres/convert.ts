const INT_MAX = 2_147_483_647;
const ID_PATTERN = /^[1-9]\d{0,18}$/;
const MAX_ID = 9_223_372_036_854_775_807n;

/** Ids are bigint in the database; anything else cannot name a job. */
export function validId(id: string): boolean {
  return ID_PATTERN.test(id) && BigInt(id) <= MAX_ID;
}

export function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

export function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function clampInt(n: number): number {
  if (!(n > 0)) return 0;
  return n >= INT_MAX ? INT_MAX : Math.floor(n);
}
