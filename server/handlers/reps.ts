import type { Database } from '../../db/pool.js';
import { pending } from './pending.js';

export function repHandlers(_db: Database) {
  return { listReps: pending, getRep: pending, updateRep: pending, getRepInsights: pending };
}
