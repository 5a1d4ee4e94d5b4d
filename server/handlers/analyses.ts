import type { Database } from '../../db/pool.js';
import { pending } from './pending.js';

export function analysisHandlers(_db: Database) {
  return { createAnalysis: pending, listCallAnalyses: pending, getAnalysis: pending };
}
