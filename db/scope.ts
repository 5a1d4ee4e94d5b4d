import { sql, type FragmentSqlToken } from 'slonik';

/**
 * Whose data a query may return. `repEmail` set: only calls that person spoke on (the `rep`
 * role); null: everything (manager, admin, service). Built by the HTTP layer from the verified
 * token; data functions that read calls take it and apply `visibleCall`.
 */
export type Scope = { repEmail: string | null };

export const UNRESTRICTED: Scope = { repEmail: null };

/** The condition that always holds: one (frozen) token for every query, not one made per query. */
export const TRUE: FragmentSqlToken = sql.fragment`TRUE`;

/**
 * A condition on a row of `analyses` aliased `alias`: a `rep` sees only analyses of themselves
 * (the analysed rep's email, case-insensitively), not a colleague's on a call they shared.
 */
export function visibleAnalysis(scope: Scope, alias: string): FragmentSqlToken {
  if (scope.repEmail === null) return TRUE;
  return sql.fragment`lower(${sql.identifier([alias, 'rep_email'])}) = lower(${scope.repEmail})`;
}

/** A condition on a row of `calls` aliased `alias`: true when the scope may see that call. */
export function visibleCall(scope: Scope, alias: string): FragmentSqlToken {
  if (scope.repEmail === null) return TRUE;
  const call = sql.identifier([alias, 'id']);
  return sql.fragment`EXISTS (
    SELECT 1 FROM speakers own WHERE own.call_id = ${call} AND lower(own.email) = lower(${scope.repEmail}))`;
}
