/**
 * Gong's side of the webhook: proving a delivery came from Gong, and reading the call in it.
 * Gong authenticates automation-rule webhooks either with a signed JWT header (RS256, with
 * `body_sha256` and `webhook_url` claims) or with a secret key in the URL.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import jwt from 'jsonwebtoken';
import type { CallFields, SpeakerInput } from '../db/calls.js';
import { unauthorized } from './auth.js';
import type { Config } from './config.js';
import type { RequestBody } from './openapi.js';
import type { SecurityScheme } from './security.js';

type GongPayload = RequestBody<'receiveGongWebhook'>;

const refused = (detail: string) => unauthorized(detail, { realm: 'gong-webhook' });

/** How far Gong's signing time (`iat`) may be from ours: a captured delivery replays for no longer. */
export const SIGNATURE_MAX_AGE_SECONDS = 300;

/** What a verified Gong signature proves, kept on `ctx.state.gongSignature` for the handler. */
export type GongSignature = { signedAt: Date };

function rawBody(ctx: Context): string {
  return (ctx.request as { rawBody?: string }).rawBody ?? '';
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The two schemes the contract declares for Gong. Each answers false when its credential is
 * absent (the other scheme may carry the request) and throws a 401 that says what is wrong when
 * the credential is there but does not hold. The signed JWT is verified before the body is read;
 * its `body_sha256` is checked against the body once read (verifyBody), before it is parsed.
 */
export function gongSecurity(settings: Config['gongWebhook']): Record<'gongSignedJwt' | 'gongUrlKey', SecurityScheme> {
  return {
    gongSignedJwt: {
      realm: 'gong-webhook',
      check: (ctx: Context) => {
        const header = ctx.get('Authorization');
        if (!header) return false;
        if (!settings.publicKey) throw refused('Signed-JWT webhooks are not configured here (GONG_WEBHOOK_PUBLIC_KEY).');
        const token = header.replace(/^Bearer\s+/i, '');
        let claims: jwt.JwtPayload;
        try {
          claims = jwt.verify(token, settings.publicKey, { algorithms: ['RS256'] }) as jwt.JwtPayload;
        } catch (error) {
          throw refused(`The Gong signature does not verify: ${(error as Error).message}.`);
        }
        if (settings.url && claims.webhook_url !== undefined && claims.webhook_url !== settings.url) {
          throw refused('The Gong signature was made for another webhook URL.');
        }
        // A signature without a lifetime, or made long ago, would let a captured delivery be replayed.
        if (typeof claims.exp !== 'number') throw refused('The Gong signature carries no expiry (exp); Gong signs with one.');
        if (typeof claims.iat !== 'number') throw refused('The Gong signature carries no signing time (iat); Gong signs with one.');
        if (Math.abs(Date.now() / 1000 - claims.iat) > SIGNATURE_MAX_AGE_SECONDS) {
          throw refused(
            `The Gong signature was not made within the last ${SIGNATURE_MAX_AGE_SECONDS / 60} minutes (iat); a delivery cannot be replayed later.`,
          );
        }
        ctx.state.gongSignature = { signedAt: new Date(claims.iat * 1000) } satisfies GongSignature;
        return {
          scheme: 'gongSignedJwt',
          verifyBody: (text: string) => {
            const digest = createHash('sha256').update(text).digest();
            const claimed = String(claims.body_sha256 ?? '');
            if (claimed !== digest.toString('hex') && claimed !== digest.toString('base64')) {
              throw refused('The Gong signature does not cover this body (body_sha256 differs).');
            }
          },
        };
      },
    },
    gongUrlKey: {
      realm: 'gong-webhook',
      check: (ctx: Context) => {
        const given = ctx.query.key;
        if (typeof given !== 'string' || given === '') return false;
        if (!settings.urlKey) throw refused('URL-key webhooks are not configured here (GONG_WEBHOOK_KEY).');
        if (!sameSecret(given, settings.urlKey)) throw refused('The webhook key in the URL is wrong.');
        return { scheme: 'gongUrlKey' };
      },
    },
  };
}

/**
 * Which delivery this is. Signed: the SHA-256 of the body, which the signature covers (the
 * X-Gong-Delivery-Id header is not signed, so a replay could change it). URL key: the header when
 * sent, else the same bytes are the same delivery.
 */
export function deliveryId(ctx: Context): string {
  const bodyHash = () => createHash('sha256').update(rawBody(ctx)).digest('hex');
  if (ctx.state.gongSignature) return bodyHash();
  return ctx.get('X-Gong-Delivery-Id') || bodyHash();
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The call in a Gong delivery, as an upsert: Gong's fields only, so ours (call_type, product) stay. */
export function callFromGong(payload: GongPayload): { gongCallId: string; call: CallFields & { title: string; scheduled_at: string; speakers: SpeakerInput[] } } {
  const meta = payload.callData.metaData;
  const seen = new Set<string>();
  const speakers: SpeakerInput[] = [];
  for (const party of payload.callData.parties ?? []) {
    const email = party.emailAddress && EMAIL.test(party.emailAddress) ? party.emailAddress.toLowerCase() : null;
    const key = email ?? (party.speakerId ? `speaker:${party.speakerId}` : `name:${party.name ?? party.id}`);
    if (seen.has(key)) continue; // Gong lists a person once per method (invitee, attendee)
    seen.add(key);
    const internal = party.affiliation === 'Internal';
    speakers.push({
      name: party.name?.trim() || email || `Gong speaker ${party.speakerId ?? party.id ?? speakers.length + 1}`,
      email,
      company_side: internal,
      gong_speaker_id: party.speakerId ?? null,
      // Gong does not know our roles: set one only for people new to the call.
      default_role: internal ? 'other' : party.affiliation === 'External' ? 'prospect' : 'other',
    });
  }
  return {
    gongCallId: meta.id,
    call: {
      title: meta.title?.trim() || `Gong call ${meta.id}`,
      scheduled_at: meta.scheduled,
      duration_seconds: meta.duration ?? null,
      metadata: meta as Record<string, unknown>,
      speakers,
    },
  };
}
