import type { Context, Middleware } from 'koa';
import { credentialsMissing, requirePrincipal, requireRole, type Realm } from './auth.js';
import { routeOf } from './routes.js';

/** What a scheme found when it held; `verifyBody` runs on the body's text once it is read. */
export type SecurityVerdict = { verifyBody?: (text: string) => void } & Record<string, unknown>;

/**
 * One security scheme of the contract. `check` answers false when the scheme's credential is
 * absent (another alternative may carry the request), a verdict when it holds, and throws a 401
 * that says what is wrong when the credential is there but does not hold.
 */
export type SecurityScheme = {
  realm: Realm;
  check: (ctx: Context) => false | SecurityVerdict;
};

/** The service's own bearer tokens (verified beforehand by verifyBearer, which leaves the claims on ctx.state). */
export const bearerAuth: SecurityScheme = {
  realm: 'call-coach',
  check: (ctx) => {
    if (!ctx.get('Authorization')) return false;
    ctx.state.principal = requirePrincipal(ctx);
    return { principal: ctx.state.principal };
  },
};

/**
 * 3. authenticate: the operation's `security` alternatives, in the contract's order; the first
 * whose every scheme holds admits the request. No alternative held: the first refusal explains
 * the 401, or, when no credential was sent, the first scheme's realm asks for one. Public
 * operations (`security: []`) pass. Nothing of the body has been read yet.
 */
export function authenticate(schemes: Record<string, SecurityScheme>): Middleware {
  // Not async: every scheme decides from what is already here (verifyBearer verified the token).
  return (ctx, next) => {
    const { security } = routeOf(ctx);
    ctx.state.security = {};
    if (security.length === 0) return next();
    let refusal: unknown;
    for (const alternative of security) {
      const verdicts: Record<string, SecurityVerdict> = {};
      let held = 0;
      for (const name of alternative) {
        let verdict: false | SecurityVerdict;
        try {
          verdict = schemes[name]!.check(ctx);
        } catch (error) {
          refusal ??= error;
          verdict = false;
        }
        if (!verdict) break;
        verdicts[name] = verdict;
        held++;
      }
      if (held === alternative.length) {
        ctx.state.security = verdicts;
        return next();
      }
    }
    throw refusal ?? credentialsMissing(schemes[security[0]![0]!]!.realm);
  };
}

/** 4. authorise: the roles the operation states (`x-roles`), when the role alone decides (403). */
export const authorise: Middleware = (ctx, next) => {
  const { roles } = routeOf(ctx);
  if (roles) requireRole(ctx, roles);
  return next();
};
