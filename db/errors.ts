/** Errors the data layer raises on its own; Slonik's own error classes are re-exported too. */
export {
  BackendTerminatedError,
  CheckIntegrityConstraintViolationError,
  ConnectionError,
  ForeignKeyIntegrityConstraintViolationError,
  NotNullIntegrityConstraintViolationError,
  StatementCancelledError,
  StatementTimeoutError,
  UniqueIntegrityConstraintViolationError,
} from 'slonik';

/** Every pool connection stayed busy for longer than the acquisition timeout. */
export class PoolTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`No database connection became free within ${timeoutMs} ms`);
    this.name = 'PoolTimeoutError';
  }
}
