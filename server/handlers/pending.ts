import type { OperationHandler } from '../openapi.js';

/** Scaffolding while an operation is being built on another branch; none may remain on main. */
export const pending: OperationHandler = () => {
  throw new Error('operation not implemented yet');
};
