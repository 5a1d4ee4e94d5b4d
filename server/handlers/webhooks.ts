import type { Database } from '../../db/pool.js';
import { receiveDelivery } from '../../db/webhooks.js';
import { callFromGong, deliveryId, type GongSignature } from '../gong.js';
import type { OperationHandler, RequestBody, ResponseBody } from '../openapi.js';

export function webhookHandlers(db: Database) {
  return {
    receiveGongWebhook: (async (c, ctx) => {
      const payload = c.request.requestBody as RequestBody<'receiveGongWebhook'>;
      const { gongCallId, call } = callFromGong(payload);
      const receipt = await receiveDelivery(db, {
        deliveryId: deliveryId(ctx),
        eventType: 'gong.automation_rule',
        gongCallId,
        payload: payload as Record<string, unknown>,
        signatureVerified: c.security?.gongSignedJwt !== undefined && Boolean(c.security.gongSignedJwt),
        isTest: payload.isTest === true,
        isPrivate: payload.callData.metaData.isPrivate === true,
        signedAt: (ctx.state.gongSignature as GongSignature | undefined)?.signedAt ?? null,
        call,
      });
      ctx.body = receipt satisfies ResponseBody<'receiveGongWebhook', 200>;
    }) satisfies OperationHandler,
  };
}
