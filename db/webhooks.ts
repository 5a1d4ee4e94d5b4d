import { sql } from 'slonik';
import { z } from 'zod';
import { upsertCallInTransaction, type CallFields, type SpeakerInput } from './calls.js';
import type { Database } from './pool.js';
import { jsonbValue, noRows, row, uuid } from './rows.js';

export type Delivery = {
  deliveryId: string;
  eventType: string;
  gongCallId: string;
  payload: Record<string, unknown>;
  signatureVerified: boolean;
  /** Gong's "send test" deliveries are recorded, not ingested. */
  isTest: boolean;
  /** A private call (Gong's isPrivate) is never ingested: recorded, and a stored copy removed. */
  isPrivate: boolean;
  call: CallFields & { title: string; scheduled_at: string; speakers: SpeakerInput[] };
};

// The CHECK constraint of migration 001.
const deliveryStatus = z.enum(['received', 'processing', 'completed', 'failed']);
export type Receipt = { delivery_id: string; status: z.infer<typeof deliveryStatus>; call_id: string | null; replayed: boolean };

/**
 * Records a delivery and ingests its call in one transaction, once per delivery id. A repeat
 * of a completed delivery changes nothing and reports the first outcome. A failed delivery is
 * recorded as failed (outside the rolled-back transaction) and is processed again when Gong
 * retries it.
 */
export async function receiveDelivery(db: Database, delivery: Delivery): Promise<Receipt> {
  try {
    return await db.transaction(async (transaction) => {
      const claimed = await transaction.maybeOneFirst(sql.type(row({ id: uuid }))`
        INSERT INTO webhook_events (delivery_id, event_type, gong_call_id, payload, signature_verified, status)
        VALUES (
          ${delivery.deliveryId}, ${delivery.eventType}, ${delivery.gongCallId},
          ${jsonbValue(delivery.payload)}, ${delivery.signatureVerified}, 'processing')
        ON CONFLICT (delivery_id) DO UPDATE
          SET status = 'processing', error = NULL, received_at = now(), payload = EXCLUDED.payload
          WHERE webhook_events.status = 'failed'
        RETURNING id`);
      if (!claimed) {
        const prior = await transaction.one(sql.type(row({ status: deliveryStatus, call_id: uuid.nullable() }))`
          SELECT e.status, c.id AS call_id
          FROM webhook_events e LEFT JOIN calls c ON c.gong_call_id = e.gong_call_id AND e.status = 'completed'
          WHERE e.delivery_id = ${delivery.deliveryId}`);
        return { delivery_id: delivery.deliveryId, ...prior, replayed: true };
      }
      if (delivery.isPrivate && !delivery.isTest) {
        await transaction.query(sql.type(noRows)`DELETE FROM calls WHERE gong_call_id = ${delivery.gongCallId}`);
      }
      const callId = delivery.isTest || delivery.isPrivate
        ? null
        : (await upsertCallInTransaction(transaction, delivery.gongCallId, delivery.call)).call.id;
      await transaction.query(sql.type(noRows)`
        UPDATE webhook_events SET status = 'completed', processed_at = now() WHERE id = ${claimed}`);
      return { delivery_id: delivery.deliveryId, status: 'completed', call_id: callId, replayed: false };
    });
  } catch (error) {
    await db
      .transaction((transaction) =>
        transaction.query(sql.type(noRows)`
          INSERT INTO webhook_events (delivery_id, event_type, gong_call_id, payload, signature_verified, status, error)
          VALUES (
            ${delivery.deliveryId}, ${delivery.eventType}, ${delivery.gongCallId},
            ${jsonbValue(delivery.payload)}, ${delivery.signatureVerified}, 'failed',
            ${(error as Error).message.slice(0, 1000)})
          ON CONFLICT (delivery_id) DO UPDATE SET status = 'failed', error = EXCLUDED.error
            WHERE webhook_events.status <> 'completed'`),
      )
      .catch(() => {}); // the database may be what failed; the original error is what the caller needs
    throw error;
  }
}
