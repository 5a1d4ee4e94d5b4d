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
  /** When Gong signed the delivery (the signed JWT's `iat`); null for URL-key deliveries. */
  signedAt: Date | null;
  call: CallFields & { title: string; scheduled_at: string; speakers: SpeakerInput[] };
};

// The CHECK constraint of migration 001.
const deliveryStatus = z.enum(['received', 'processing', 'completed', 'failed']);
export type Receipt = {
  delivery_id: string;
  status: z.infer<typeof deliveryStatus>;
  call_id: string | null;
  replayed: boolean;
  /** Gong signed a newer delivery of the call that is stored already: this one changed nothing. */
  superseded: boolean;
};

/**
 * Records a delivery and ingests its call in one transaction, once per delivery id. A repeat
 * of a completed delivery changes nothing and reports the first outcome. A failed delivery is
 * recorded as failed (outside the rolled-back transaction) and is processed again when Gong
 * retries it.
 */
export async function receiveDelivery(db: Database, delivery: Delivery): Promise<Receipt> {
  try {
    return await db.transaction(async (transaction) => {
      // Deliveries of one call apply one after the other, so the newest-first check below holds.
      await transaction.query(sql.type(row({ locked: z.unknown() }))`
        SELECT pg_advisory_xact_lock(hashtextextended(${`gong-call:${delivery.gongCallId}`}, 0)) AS locked`);
      // A test delivery is no version of a call: it takes no part in the ordering.
      const signedAt = delivery.isTest ? null : (delivery.signedAt?.toISOString() ?? null);
      const claimed = await transaction.maybeOneFirst(sql.type(row({ id: uuid }))`
        INSERT INTO webhook_events (delivery_id, event_type, gong_call_id, payload, signature_verified, signed_at, status)
        VALUES (
          ${delivery.deliveryId}, ${delivery.eventType}, ${delivery.gongCallId},
          ${jsonbValue(delivery.payload)}, ${delivery.signatureVerified}, ${signedAt}::timestamptz, 'processing')
        ON CONFLICT (delivery_id) DO UPDATE
          SET status = 'processing', error = NULL, received_at = now(), payload = EXCLUDED.payload, signed_at = EXCLUDED.signed_at
          WHERE webhook_events.status = 'failed'
        RETURNING id`);
      if (!claimed) {
        const prior = await transaction.one(sql.type(row({ status: deliveryStatus, call_id: uuid.nullable(), superseded: z.boolean() }))`
          SELECT e.status, c.id AS call_id, e.superseded
          FROM webhook_events e LEFT JOIN calls c ON c.gong_call_id = e.gong_call_id AND e.status = 'completed'
          WHERE e.delivery_id = ${delivery.deliveryId}`);
        return { delivery_id: delivery.deliveryId, ...prior, replayed: true };
      }
      const superseded =
        signedAt !== null &&
        (await transaction.exists(sql.type(row({ one: z.number() }))`
          SELECT 1 AS one FROM webhook_events
          WHERE gong_call_id = ${delivery.gongCallId} AND status = 'completed' AND NOT superseded
            AND signed_at > ${signedAt}::timestamptz`));
      let callId: string | null = null;
      if (superseded) {
        // A newer delivery decided the call's state (stored, or removed as private): keep it.
        callId = await transaction.maybeOneFirst(sql.type(row({ id: uuid }))`
          SELECT id FROM calls WHERE gong_call_id = ${delivery.gongCallId}`);
      } else if (delivery.isPrivate && !delivery.isTest) {
        await transaction.query(sql.type(noRows)`DELETE FROM calls WHERE gong_call_id = ${delivery.gongCallId}`);
      } else if (!delivery.isTest) {
        callId = (await upsertCallInTransaction(transaction, delivery.gongCallId, delivery.call)).call.id;
      }
      await transaction.query(sql.type(noRows)`
        UPDATE webhook_events SET status = 'completed', processed_at = now(), superseded = ${superseded} WHERE id = ${claimed}`);
      return { delivery_id: delivery.deliveryId, status: 'completed', call_id: callId, replayed: false, superseded };
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
