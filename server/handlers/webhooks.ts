import type { Database } from '../../db/pool.js';
import { pending } from './pending.js';

export function webhookHandlers(_db: Database) {
  return { receiveGongWebhook: pending };
}
