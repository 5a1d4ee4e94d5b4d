/**
 * Prints a bearer token for local use, signed with JWT_SECRET (or the development default).
 * The service refuses tokens living longer than JWT_MAX_TTL_SECONDS (24 h by default), so this
 * refuses to mint them.
 *   npm run token                         -> an admin token valid for 12 hours
 *   npm run token -- --role rep --email sarah.chen@example.com --hours 1
 */
import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { ROLES } from '../server/auth.js';
import { loadConfig } from '../server/config.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'admin' },
    email: { type: 'string', default: 'dev@example.com' },
    sub: { type: 'string', default: 'dev-user' },
    hours: { type: 'string', default: '12' },
  },
});

if (!ROLES.includes(values.role as (typeof ROLES)[number])) {
  console.error(`--role must be one of ${ROLES.join(', ')}`);
  process.exit(2);
}
const hours = Number(values.hours);
if (!(hours > 0)) {
  console.error('--hours must be a positive number');
  process.exit(2);
}

const { jwtSecret, jwt: limits } = loadConfig();
if (Math.round(hours * 3600) > limits.maxTtlSeconds) {
  console.error(
    `--hours ${values.hours} is longer than the service accepts: JWT_MAX_TTL_SECONDS is ${limits.maxTtlSeconds} s ` +
      `(${limits.maxTtlSeconds / 3600} h). Ask for fewer hours, or raise JWT_MAX_TTL_SECONDS for the service and here alike.`,
  );
  process.exit(2);
}
console.log(
  jwt.sign({ sub: values.sub, email: values.email, role: values.role }, jwtSecret, {
    algorithm: 'HS256',
    expiresIn: Math.round(hours * 3600),
  }),
);
