import type { Database } from '../../db/pool.js';
import { pending } from './pending.js';

export function transcriptHandlers(_db: Database) {
  return { putTranscript: pending, getTranscript: pending, getCallMetrics: pending, searchTranscripts: pending };
}
