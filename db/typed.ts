import { z } from 'zod';

/**
 * States a query's row type for `sql.type`. Rows are shaped by the SQL itself and typed from the
 * zapatos types generated off the live schema. Slonik 47 does not parse rows unless a
 * result-parser interceptor is installed (we install none), and the contract tests validate every
 * response, so a runtime check per row would cost without catching anything new.
 */
export function rowsOf<T>() {
  return z.custom<T>();
}
